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
