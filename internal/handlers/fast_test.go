package handlers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// TestGetFastPathAnswersAsTheGeneratedPath reads tricky items through the
// key router's fast path (a plain GET) and through the generated strict
// server (for_cas=true takes it), checks both against the contract, and
// wants the same status, headers and bytes, and the value that was stored.
func TestGetFastPathAnswersAsTheGeneratedPath(t *testing.T) {
	for _, tt := range []struct {
		name  string
		key   string
		body  string
		value any // the stored value as decoded JSON; for bytes, the base64 text
		bytes bool
	}{
		{name: "a string needing escapes", key: `quote"back\slash`, body: `{"value": "a\"b\\c\n\u0001\t"}`, value: "a\"b\\c\n\u0001\t"},
		{name: "HTML and line separators", key: "<html>&", body: `{"value": {"h": "<b>&amp;</b>", "s": "\u2028\u2029"}}`,
			value: map[string]any{"h": "<b>&amp;</b>", "s": "\u2028\u2029"}},
		{name: "unicode in key and value", key: "日本 🙂 é", body: `{"value": ["é", "🙂"], "flags": 7}`, value: []any{"é", "🙂"}},
		{name: "nulls nested in an array and an object", key: "nested:null", body: `{"value": {"a": [true, null], "b": {"c": null}}}`,
			value: map[string]any{"a": []any{true, nil}, "b": map[string]any{"c": nil}}},
		{name: "null inside an array value", key: "array", body: `{"value": [true, null]}`, value: []any{true, nil}},
		{name: "a top-level null", key: "null", body: `{"value": null}`, value: nil},
		{name: "a number with an exponent", key: "number", body: `{"value": -1.5e300}`, value: -1.5e300},
		{name: "bytes as base64", key: "bytes", body: `{"value": "AP/+PA==", "encoding": "base64"}`, value: "AP/+PA==", bytes: true},
		{name: "an expiry and the largest flags", key: "expires", body: `{"value": 1, "time": 3600, "flags": 4294967295}`, value: float64(1)},
		{name: "a key with reserved characters", key: "a/b:c%d?e#f g", body: `{"value": "x"}`, value: "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			path := "/v1/ns/~/keys/" + url.PathEscape(tt.key)
			put := e.do(request{method: http.MethodPut, path: path, body: tt.body})
			require.Equal(t, http.StatusOK, put.status, "body: %s", put.body)

			for _, accept := range []string{"", "application/octet-stream"} {
				fast := e.do(request{method: http.MethodGet, path: path, header: map[string]string{"Accept": accept}})
				slow := e.do(request{method: http.MethodGet, path: path + "?for_cas=true", header: map[string]string{"Accept": accept}})
				require.Equal(t, http.StatusOK, fast.status, "body: %s", fast.body)
				assert.Equal(t, slow.status, fast.status)
				fast.header.Del("X-Request-Id")
				slow.header.Del("X-Request-Id")
				assert.Equal(t, slow.header, fast.header, "Accept %q", accept)
				assert.Equal(t, string(slow.body), string(fast.body), "Accept %q", accept)
				assert.Equal(t, `"`+put.json(t)["cas"].(string)+`"`, fast.header.Get("ETag"))
				assert.Equal(t, "no-store", fast.header.Get("Cache-Control"))
				assert.Equal(t, "nosniff", fast.header.Get("X-Content-Type-Options"))
			}

			fast := e.do(request{method: http.MethodGet, path: path})
			item := fast.json(t)
			assert.Equal(t, tt.key, item["key"])
			assert.Equal(t, tt.value, item["value"])
			assert.Equal(t, put.json(t)["cas"], item["cas"])
			var stored struct {
				Time  *float64 `json:"time"`
				Flags *float64 `json:"flags"`
			}
			require.NoError(t, json.Unmarshal([]byte(tt.body), &stored))
			assert.Equal(t, deref(stored.Flags), item["flags"])
			assert.Equal(t, fast.header.Get("Memcache-Flags"), jsonNumber(t, item["flags"]))
			if stored.Time != nil {
				assert.InDelta(t, float64(1_700_000_000+3601), item["expires"], 0, "ceil(now + time)")
			} else {
				assert.Nil(t, item["expires"])
			}
			if tt.bytes {
				assert.Equal(t, "base64", item["encoding"])
				raw := e.do(request{method: http.MethodGet, path: path, header: map[string]string{"Accept": "application/octet-stream"}})
				want, err := base64.StdEncoding.DecodeString(tt.value.(string))
				require.NoError(t, err)
				assert.Equal(t, want, raw.body)
				assert.Equal(t, "application/octet-stream", raw.header.Get("Content-Type"))
			} else {
				assert.NotContains(t, item, "encoding")
			}

			batch := e.do(request{method: http.MethodPost, path: "/v1/ns/~/keys:batchGet", body: map[string]any{"keys": []string{tt.key, tt.key, "missing"}}})
			require.Equal(t, http.StatusOK, batch.status, "body: %s", batch.body)
			assert.Equal(t, map[string]any{tt.key: item}, batch.json(t)["items"])
		})
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func jsonNumber(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}

// TestBatchGetAnswersPlainAndEscapedBodiesAlike sends the same batchGet as a
// plain body (the hand decoder's) and in forms only encoding/json decodes,
// and bodies that fail, checking each against the contract.
func TestBatchGetAnswersPlainAndEscapedBodiesAlike(t *testing.T) {
	e := newEnv(t, withMaxBodyBytes(64), withMaxResponseBytes(1<<20))
	e.put("p:a", "first")
	e.put("p:é", []any{true, nil})
	want := e.do(request{method: http.MethodPost, path: "/v1/ns/~/keys:batchGet", body: `{"keys":["a","é","missing"],"key_prefix":"p:"}`})
	require.Equal(t, http.StatusOK, want.status, "body: %s", want.body)
	require.Len(t, want.json(t)["items"], 2)

	for _, tt := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{name: "escaped strings", body: `{"keys":["\u0061","\u00e9","missing"],"key_prefix":"p\u003a"}`, status: http.StatusOK},
		{name: "an unknown member", body: `{"keys":["a","é","missing"],"key_prefix":"p:","x":[1]}`, status: http.StatusBadRequest, code: "invalid_argument"},
		{name: "trailing data after the object", body: `{"keys":["a","é","missing"],"key_prefix":"p:"} x`, status: http.StatusBadRequest, code: "invalid_argument"},
		{name: "keys null", body: `{"keys":null}`, status: http.StatusBadRequest, code: "invalid_argument"},
		{name: "a number among the keys", body: `{"keys":["a",1]}`, status: http.StatusBadRequest, code: "invalid_argument"},
		{name: "a body over the limit", body: `{"keys":["` + strings.Repeat("k", 64) + `"]}`, status: http.StatusRequestEntityTooLarge, code: "batch_too_large"},
		{name: "a complete object with whitespace past the limit", body: `{"keys":["a","é","missing"],"key_prefix":"p:"}` + strings.Repeat(" ", 64), status: http.StatusRequestEntityTooLarge, code: "batch_too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// An unknown length, as with chunked bodies, so the limit is met
			// while reading rather than refused up front.
			r := httptest.NewRequest(http.MethodPost, "/v1/ns/~/keys:batchGet", strings.NewReader(tt.body))
			r.ContentLength = -1
			rec := e.raw(r)
			res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			contracttest.Check(t, r, res.status, res.header, res.body)
			require.Equal(t, tt.status, res.status, "body: %s", res.body)
			if tt.status != http.StatusOK {
				assert.Equal(t, tt.code, res.code(t))
				return
			}
			assert.Equal(t, want.json(t), res.json(t))
		})
	}
}
