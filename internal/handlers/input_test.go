package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParameterErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name      string
		req       request
		wantField string
	}{
		{"a for_cas that is not a boolean", request{method: http.MethodGet, path: keyPath("k") + "?for_cas=maybe"}, "for_cas"},
		{"seconds that are not a number", request{method: http.MethodDelete, path: keyPath("k") + "?seconds=soon"}, "seconds"},
		{"flags beyond uint32 in the query", request{method: http.MethodPut, path: keyPath("k") + "?flags=4294967296",
			body: []byte("x"), header: map[string]string{"Content-Type": "application/octet-stream"}}, "flags"},
		{"an empty key", request{method: http.MethodGet, path: "/v1/ns/default/keys/"}, "key"},
		{"a flags field of the wrong type", request{method: http.MethodPut, path: keyPath("k"), body: `{"value": 1, "flags": "one"}`}, "flags"},
		{"a missing value", request{method: http.MethodPut, path: keyPath("k"), body: `{"flags": 1}`}, "value"},
		{"a bad item in a batch", request{method: http.MethodPost, path: batchSet,
			body: `{"items": [{"key": "a", "value": 1}, {"key": "b", "value": 1, "encoding": "hex"}]}`}, "items[1].encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t).do(tt.req)
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			e := res.json(t)["error"].(map[string]any)
			assert.Equal(t, "invalid_argument", e["code"])
			assert.Equal(t, tt.wantField, e["field"])
			assert.NotEmpty(t, e["message"])
		})
	}
}

// FuzzBadInputNeverYields500 throws arbitrary methods, paths, headers and
// bodies at the router: every answer must be a client error or success, and
// every error must come in the one error shape.
func FuzzBadInputNeverYields500(f *testing.F) {
	seeds := []struct {
		method, target, contentType, body string
	}{
		{"PUT", "/v1/ns/default/keys/k", "application/json", `{"value": 1}`},
		{"PUT", "/v1/ns/default/keys/k?mode=cas", "application/json", `{"value": 1, "cas": "99999999999999999999"}`},
		{"PUT", "/v1/ns/default/keys/k?time=1e400", "application/octet-stream", "x"},
		{"PUT", "/v1/ns/default/keys/k", "application/json", `{"value": 1, "time": 1e300}`},
		{"PUT", "/v1/ns/default/keys/k", "application/json; charset=\"", `{"value": 1}`},
		{"PUT", "/v1/ns/default/keys/k", "", `[1, 2]`},
		{"POST", "/v1/ns/default/keys/k:incr", "application/json", `{"delta": 18446744073709551616}`},
		{"POST", "/v1/ns/default/keys/:incr", "", ``},
		{"POST", "/v1/ns/default/keys:batchOffset", "application/json", `{"offsets": {"": 1}}`},
		{"POST", "/v1/ns/default/keys:batchSet", "application/json", `{"items": [null]}`},
		{"POST", "/v1/ns/default/keys:batchGet", "application/json", `{"keys": null}`},
		{"POST", "/v1/ns/%FF/keys:batchGet", "application/json", `{"keys": ["a"]}`},
		{"GET", "/v1/ns/default/keys/%ff%fe", "", ""},
		{"DELETE", "/v1/ns/default/keys/k?seconds=NaN", "", ""},
		{"OPTIONS", "/v1/stats", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.contentType, s.body)
	}
	f.Fuzz(func(t *testing.T, method, target, contentType, body string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return // not an HTTP request a server could receive
		}
		e := newEnv(t)
		r := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader([]byte(body)))
		r.Method, r.URL, r.RequestURI = method, u, target
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		assert.Less(t, rec.Code, http.StatusInternalServerError, "%s %s: %s", method, target, rec.Body.Bytes())
		if rec.Code >= http.StatusBadRequest {
			var shape struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &shape), "body: %s", rec.Body.Bytes())
			assert.NotEmpty(t, shape.Error.Code)
			assert.NotEmpty(t, shape.Error.Message)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c < '!' || c > '~' || bytes.IndexByte([]byte(`()<>@,;:\"/[]?={}`), c) >= 0 {
			return false
		}
	}
	return true
}
