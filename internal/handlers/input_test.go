package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
// bodies at the router, with and without authentication: every answer must
// be a client error or success, every error must come in the one error
// shape, and every response must carry a sane request id.
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
	headers := []string{
		"",
		"Authorization: Bearer " + adminToken,
		"Authorization: Bearer " + readerToken + "\nX-Request-Id: a b",
		"Authorization: bearer\nAccept: application/octet-stream, application/json",
		"If-Match: *\nIf-None-Match: *",
		"If-None-Match: \"1\", W/\"2\"\nX-Request-Id: " + strings.Repeat("x", 200),
	}
	for i, s := range seeds {
		f.Add(s.method, s.target, s.contentType, headers[i%len(headers)], s.body)
	}
	f.Fuzz(func(t *testing.T, method, target, contentType, header, body string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return // not an HTTP request a server could receive
		}
		h, ok := parseHeaders(header)
		if !ok {
			return // not headers a server could receive
		}
		for _, e := range []*env{newEnv(t), newEnv(t, withTokens(t, testTokens))} {
			r := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader([]byte(body)))
			r.Method, r.URL, r.RequestURI = method, u, target
			for k, v := range h {
				r.Header[k] = v
			}
			if contentType != "" {
				r.Header.Set("Content-Type", contentType)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, r)
			checkFuzzAnswer(t, method, target, rec)
		}
	})
}

// checkFuzzAnswer asserts what every answer to arbitrary input must be.
func checkFuzzAnswer(t *testing.T, method, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	assert.Regexp(t, requestIDPattern, rec.Header().Get("X-Request-Id"))
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
}

// parseHeaders reads "Name: value" lines into a header, refusing what a
// server would never pass on: names that are not tokens, and values with
// control characters.
func parseHeaders(text string) (http.Header, bool) {
	h := http.Header{}
	if text == "" {
		return h, true
	}
	for _, line := range strings.Split(text, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validMethod(name) {
			return nil, false
		}
		value = strings.TrimSpace(value)
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
				return nil, false
			}
		}
		h.Add(name, value)
	}
	return h, true
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
