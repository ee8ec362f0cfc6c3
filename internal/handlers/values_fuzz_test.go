package handlers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeNumbers decodes JSON keeping numbers exact, so two encodings of the
// same value compare equal and no precision hides a difference.
func decodeNumbers(t *testing.T, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v), "%s", data)
	return v
}

// get reads path without the contract check. The spec describes nulls in
// an array value's elements (ValueElement), but not deeper: an array inside
// an array is any array, whose `items: {}` kin-openapi holds to exclude
// null, so a fuzzed value like [[null]] would fail the check while being
// exactly right; values are compared here, not schemas.
func (e *env) get(path, accept string) response {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	rec := e.raw(r)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// repeatsAMember reports whether some object in the JSON text names a member
// twice (which the server refuses: parsers disagree on which one counts),
// read with encoding/json's tokenizer rather than the server's walker.
func repeatsAMember(text string) bool {
	dec := json.NewDecoder(strings.NewReader(text))
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // the next string token is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return true
			}
			top.names[name] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the object around it expects a name next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// FuzzValueRoundTrip writes arbitrary JSON text and arbitrary bytes as values
// and checks that what is accepted reads back the same (as JSON, and raw as
// the exact compact JSON or the exact bytes), and that what is refused is a
// 4xx, never a 5xx.
func FuzzValueRoundTrip(f *testing.F) {
	seeds := []struct {
		value string
		data  []byte
		flags uint32
	}{
		{`1`, []byte("x"), 0},
		{`{"a": [1, 2.50, -0, 1e400]}`, []byte{0, 0xff, 0xfe}, 7},
		{`"<script>\u2028"`, nil, 4294967295},
		{`"\ud800"`, []byte("hello, world"), 1},
		{`  [ true , null ]  `, []byte{}, 2},
		{`18446744073709551616`, []byte("\xff"), 3},
		{`{"a":1,"a":2}`, []byte("{}"), 0},
		{`nul`, []byte("a"), 0},
		{"\"\xff\"", []byte("b"), 0},
	}
	for _, s := range seeds {
		f.Add(s.value, s.data, s.flags)
	}
	f.Fuzz(func(t *testing.T, value string, data []byte, flags uint32) {
		e := newEnv(t)
		flagText := strconv.FormatUint(uint64(flags), 10)

		body := `{"value": ` + value + `, "flags": ` + flagText + `}`
		res := e.do(request{method: http.MethodPut, path: keyPath("json"), body: body})
		// Invalid UTF-8 would not read back as written (JSON text is UTF-8).
		if !json.Valid([]byte(value)) || !utf8.ValidString(value) || bytes.TrimSpace([]byte(value)) == nil || repeatsAMember(value) {
			assert.Equal(t, http.StatusBadRequest, res.status, "body %q: %s", body, res.body)
		} else {
			require.Equal(t, http.StatusOK, res.status, "body %q: %s", body, res.body)
			var compact bytes.Buffer
			require.NoError(t, json.Compact(&compact, []byte(value)))

			got := e.get(keyPath("json"), "")
			require.Equal(t, http.StatusOK, got.status)
			var item struct {
				Value    json.RawMessage `json:"value"`
				Encoding *string         `json:"encoding"`
				Flags    uint32          `json:"flags"`
			}
			require.NoError(t, json.Unmarshal(got.body, &item))
			assert.Equal(t, decodeNumbers(t, compact.Bytes()), decodeNumbers(t, item.Value), "value %q", value)
			assert.Nil(t, item.Encoding, "a JSON value reads back as JSON")
			assert.Equal(t, flags, item.Flags)

			raw := e.get(keyPath("json"), "application/octet-stream")
			require.Equal(t, http.StatusOK, raw.status)
			assert.Equal(t, compact.Bytes(), raw.body, "raw reads give the compact encoding")
			assert.Equal(t, flagText, raw.header.Get("Memcache-Flags"))

			// The same value through the parameter binding and in a batch.
			res = e.do(request{method: http.MethodPut, path: keyPath("query") + "?mode=set", body: `{"value": ` + value + `}`})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			res = e.do(request{method: http.MethodPost, path: "/v1/ns/fuzz/keys:batchSet",
				body: `{"items": [{"key": "batch", "value": ` + value + `}]}`})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			for _, path := range []string{keyPath("query"), "/v1/ns/fuzz/keys/batch"} {
				raw := e.get(path, "application/octet-stream")
				require.Equal(t, http.StatusOK, raw.status, path)
				assert.Equal(t, compact.Bytes(), raw.body, "%s reads back the compact encoding", path)
			}
		}

		encoded := base64.StdEncoding.EncodeToString(data)
		// Escaped slashes, as PHP's json_encode writes them, mean the same.
		res = e.do(request{method: http.MethodPut, path: keyPath("bytes"),
			body: `{"value": "` + strings.ReplaceAll(encoded, "/", `\/`) + `", "encoding": "base64", "flags": ` + flagText + `}`})
		require.Equal(t, http.StatusOK, res.status, "data %q: %s", data, res.body)
		got := e.do(request{method: http.MethodGet, path: keyPath("bytes")})
		require.Equal(t, http.StatusOK, got.status)
		assert.Equal(t, map[string]any{"value": encoded, "encoding": "base64", "flags": float64(flags)},
			map[string]any{"value": got.json(t)["value"], "encoding": got.json(t)["encoding"], "flags": got.json(t)["flags"]})
		raw := e.do(request{method: http.MethodGet, path: keyPath("bytes"), header: map[string]string{"Accept": "application/octet-stream"}})
		require.Equal(t, http.StatusOK, raw.status)
		assert.Equal(t, string(data), string(raw.body), "bytes read back exactly")

		rawPut := e.do(request{method: http.MethodPut, path: keyPath("raw") + "?flags=" + flagText, body: data,
			header: map[string]string{"Content-Type": "application/octet-stream"}})
		require.Equal(t, http.StatusOK, rawPut.status, "%s", rawPut.body)
		raw = e.do(request{method: http.MethodGet, path: keyPath("raw"), header: map[string]string{"Accept": "application/octet-stream"}})
		assert.Equal(t, string(data), string(raw.body), "a raw body reads back exactly")
	})
}
