package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// TestWritesThatEvaluateNoConditionRefuseOne: every operation of the spec
// other than a GET that lists neither If-Match nor If-None-Match (the writes
// and batchGet) refuses them with 400 naming the header, and changes
// nothing; ignored, a stale ETag would still delete. The operations come
// from the spec, so a new one is covered or fails here.
func TestWritesThatEvaluateNoConditionRefuseOne(t *testing.T) {
	bodies := map[string]any{
		"getMulti":    map[string]any{"keys": []string{"k"}},
		"delete":      nil,
		"incr":        map[string]any{"delta": 1},
		"decr":        map[string]any{"delta": 1},
		"setMulti":    map[string]any{"items": []any{map[string]any{"key": "k", "value": 9}}},
		"deleteMulti": map[string]any{"keys": []string{"k"}},
		"offsetMulti": map[string]any{"offsets": map[string]any{"k": 1}},
		"flushAll":    nil,
	}
	doc := contracttest.Spec(t)
	covered := 0
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			if method == http.MethodGet || method == http.MethodHead || hasConditionParam(o.Parameters) {
				continue
			}
			body, ok := bodies[o.OperationID]
			require.True(t, ok, "a sample body for %s", o.OperationID)
			covered++
			for _, header := range []string{"If-Match", "If-None-Match"} {
				t.Run(o.OperationID+" "+header, func(t *testing.T) {
					e := newEnv(t)
					cas := e.put("k", 5)
					p := strings.NewReplacer("{namespace}", "~", "{key}", "k").Replace(path)
					res := e.do(request{method: method, path: p, body: body,
						header: map[string]string{header: `"` + cas + `"`}})
					assert.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
					assert.Equal(t, "invalid_argument", res.code(t))
					assert.Equal(t, header, res.fieldOf(t))
					assert.Contains(t, res.messageOf(t), "send it without "+header)
					got := e.do(request{method: http.MethodGet, path: keyPath("k")})
					require.Equal(t, http.StatusOK, got.status, "the item is still there")
					assert.Equal(t, float64(5), got.json(t)["value"])
					assert.Equal(t, cas, got.json(t)["cas"], "and unchanged")
				})
			}
		}
	}
	assert.Len(t, bodies, covered, "every sample body is for an operation the spec has")
}

// hasConditionParam reports whether an operation lists If-Match or
// If-None-Match among its header parameters.
func hasConditionParam(params openapi3.Parameters) bool {
	for _, p := range params {
		if p.Value.In == "header" && (p.Value.Name == "If-Match" || p.Value.Name == "If-None-Match") {
			return true
		}
	}
	return false
}

// TestUnknownQueryParametersAreRefused: a /v1 request with a query parameter
// its operation does not take is refused naming it, and changes nothing; a
// typo must not turn a locked delete into a plain one.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	tests := []struct {
		name, method, path, field, msg string
		body                           any
	}{
		{"a typo in delete's lock", http.MethodDelete, keyPath("k") + "?secs=5", "secs",
			`unknown query parameter "secs": DELETE /v1/ns/{namespace}/keys/{key} takes only seconds`, nil},
		{"a query on an operation without any", http.MethodPost, "/v1/ns/~/keys:batchDelete?seconds=5", "seconds",
			`unknown query parameter "seconds": POST /v1/ns/{namespace}/keys:batchDelete takes no query parameters`, map[string]any{"keys": []string{"k"}}},
		{"a put with a misspelt mode", http.MethodPut, keyPath("k") + "?mdoe=add", "mdoe",
			`unknown query parameter "mdoe": PUT /v1/ns/{namespace}/keys/{key} takes only mode, time, flags, cas`, map[string]any{"value": 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cas := e.put("k", 5)
			res := e.do(request{method: tt.method, path: tt.path, body: tt.body})
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			assert.Equal(t, tt.field, res.fieldOf(t))
			assert.Equal(t, tt.msg, res.messageOf(t))
			got := e.do(request{method: http.MethodGet, path: keyPath("k")})
			require.Equal(t, http.StatusOK, got.status, "the item is still there")
			assert.Equal(t, cas, got.json(t)["cas"], "and unchanged")
		})
	}
	// Known parameters still work, and pages outside /v1 take any query.
	e := newEnv(t)
	e.put("k", 5)
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: keyPath("k") + "?for_cas=true"}).status)
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: "/openapi.yaml?v=2"}).status)
}

// TestADeleteWithABodyIsRefused: the lock of a delete goes in the query; a
// body that looks like it carries one is refused, not ignored.
func TestADeleteWithABodyIsRefused(t *testing.T) {
	e := newEnv(t)
	e.put("k", 5)
	res := e.do(request{method: http.MethodDelete, path: keyPath("k"), body: map[string]any{"seconds": 5}})
	require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
	assert.Equal(t, "DELETE takes no request body: a delete lock goes in the query, as ?seconds=5", res.messageOf(t))
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: keyPath("k")}).status, "not deleted")
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: keyPath("k")}).status, "without a body it deletes")
}
