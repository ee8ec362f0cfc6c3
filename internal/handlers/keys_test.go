package handlers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetReturnsJSONValuesAsTheyWentIn(t *testing.T) {
	tests := []struct {
		name  string
		value string // JSON text as sent
		want  string // compact JSON as returned
	}{
		{"a string stays a string", `"10"`, `"10"`},
		{"a number stays a number", `10`, `10`},
		{"a 64-bit integer keeps every digit", `18446744073709551615`, `18446744073709551615`},
		{"an object is compacted and keeps key order", `{ "b": 1, "a": [1, 2] }`, `{"b":1,"a":[1,2]}`},
		{"null is a value", `null`, `null`},
		{"a boolean stays a boolean", `true`, `true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: http.MethodPut, path: keyPath("k"), body: `{"value": ` + tt.value + `, "flags": 7}`})
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

			res = e.do(request{method: http.MethodGet, path: keyPath("k")})
			require.Equal(t, http.StatusOK, res.status)
			var item struct {
				Key      string          `json:"key"`
				Value    json.RawMessage `json:"value"`
				Encoding *string         `json:"encoding"`
				Flags    uint32          `json:"flags"`
				Expires  *int64          `json:"expires"`
			}
			require.NoError(t, json.Unmarshal(res.body, &item))
			assert.Equal(t, "k", item.Key)
			assert.JSONEq(t, tt.want, string(item.Value))
			assert.Nil(t, item.Encoding, "JSON values carry no encoding")
			assert.Equal(t, uint32(7), item.Flags)
			assert.Nil(t, item.Expires, "no time means never expires")

			raw := e.do(request{method: http.MethodGet, path: keyPath("k"), header: map[string]string{"Accept": "application/octet-stream"}})
			require.Equal(t, http.StatusOK, raw.status)
			assert.Equal(t, tt.want, string(raw.body), "raw read of a JSON value is its compact encoding")
			assert.Equal(t, "application/octet-stream", raw.header.Get("Content-Type"))
		})
	}
}

func TestGetHeaders(t *testing.T) {
	e := newEnv(t)
	cas := e.put("k", "v")
	tests := []struct {
		name   string
		accept string
	}{
		{"a JSON read", "application/json"},
		{"a raw read", "application/octet-stream, application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(request{method: http.MethodGet, path: keyPath("k"), header: map[string]string{"Accept": tt.accept}})
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, `"`+cas+`"`, res.header.Get("ETag"), "the ETag is the strong, quoted CAS token")
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
			assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "0", res.header.Get("Memcache-Flags"))
		})
	}
}

func TestGetMissIsNotFound(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodGet, path: keyPath("absent")})
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "not_found", res.code(t))
}

func TestBytesRoundTrip(t *testing.T) {
	data := []byte{0, 1, 2, 0xff, '<', 'h', 't', 'm', 'l', '>'}
	tests := []struct {
		name  string
		write request
	}{
		{"base64 in JSON", request{method: http.MethodPut, path: keyPath("b"),
			body: map[string]any{"value": base64.StdEncoding.EncodeToString(data), "encoding": "base64", "flags": 3}}},
		{"a raw body with flags in the query", request{method: http.MethodPut, path: keyPath("b") + "?flags=3",
			body: data, header: map[string]string{"Content-Type": "application/octet-stream"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(tt.write)
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

			res = e.do(request{method: http.MethodGet, path: keyPath("b")})
			require.Equal(t, http.StatusOK, res.status)
			item := res.json(t)
			assert.Equal(t, "base64", item["encoding"])
			assert.Equal(t, base64.StdEncoding.EncodeToString(data), item["value"])
			assert.InDelta(t, 3, item["flags"], 0)

			raw := e.do(request{method: http.MethodGet, path: keyPath("b"), header: map[string]string{"Accept": "application/octet-stream"}})
			require.Equal(t, http.StatusOK, raw.status)
			assert.Equal(t, data, raw.body)
			assert.Equal(t, "nosniff", raw.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "3", raw.header.Get("Memcache-Flags"))
		})
	}
}

func TestIfNoneMatchOnGet(t *testing.T) {
	tests := []struct {
		name   string
		header func(cas string) string
		want   int
	}{
		{"the current tag is not modified", func(cas string) string { return `"` + cas + `"` }, http.StatusNotModified},
		{"a weak current tag is not modified", func(cas string) string { return `W/"` + cas + `"` }, http.StatusNotModified},
		{"a list holding the current tag is not modified", func(cas string) string { return `"1", "` + cas + `"` }, http.StatusNotModified},
		{"a star is not modified", func(string) string { return "*" }, http.StatusNotModified},
		{"a stale tag returns the item", func(cas string) string { return `"` + cas + `0"` }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cas := e.put("k", 1)
			res := e.do(request{method: http.MethodGet, path: keyPath("k"), header: map[string]string{"If-None-Match": tt.header(cas)}})
			assert.Equal(t, tt.want, res.status)
			assert.Equal(t, `"`+cas+`"`, res.header.Get("ETag"))
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
		})
	}
}

func TestSetModesAndConditions(t *testing.T) {
	type setup func(e *env) (cas string)
	existing := func(e *env) string { return e.put("k", "old") }
	missing := func(*env) string { return "12345" }
	locked := func(e *env) string {
		cas := e.put("k", "old")
		res := e.do(request{method: http.MethodDelete, path: keyPath("k") + "?seconds=60"})
		require.Equal(e.t, http.StatusOK, res.status)
		return cas
	}
	tests := []struct {
		name     string
		setup    setup
		query    string
		body     func(cas string) string
		header   func(cas string) map[string]string
		want     int
		wantCode string
		stored   bool // whether "new" is then under the key
	}{
		{name: "set overwrites", setup: existing, want: 200, stored: true},
		{name: "set stores over a delete lock", setup: locked, want: 200, stored: true},
		{name: "add stores a missing key", setup: missing, query: "?mode=add", want: 200, stored: true},
		{name: "add refuses a live key", setup: existing, query: "?mode=add", want: 409, wantCode: "exists"},
		{name: "add refuses a locked key", setup: locked, query: "?mode=add", want: 409, wantCode: "exists"},
		{name: "replace stores over a live key", setup: existing, query: "?mode=replace", want: 200, stored: true},
		{name: "replace refuses a missing key", setup: missing, query: "?mode=replace", want: 404, wantCode: "not_found"},
		{name: "replace refuses a locked key", setup: locked, query: "?mode=replace", want: 404, wantCode: "not_found"},
		{name: "cas with the current token stores", setup: existing, query: "?mode=cas",
			body: func(cas string) string { return `{"value": "new", "cas": "` + cas + `"}` }, want: 200, stored: true},
		{name: "cas with a stale token is a mismatch", setup: existing, query: "?mode=cas",
			body: func(cas string) string { return `{"value": "new", "cas": "` + cas + `9"}` }, want: 412, wantCode: "cas_mismatch"},
		{name: "cas on a missing key is a mismatch", setup: missing, query: "?mode=cas",
			body: func(cas string) string { return `{"value": "new", "cas": "` + cas + `"}` }, want: 412, wantCode: "cas_mismatch"},
		{name: "cas without a token is a bad request", setup: existing, query: "?mode=cas", want: 400, wantCode: "invalid_argument"},
		{name: "a token without mode cas is a bad request", setup: existing,
			body: func(cas string) string { return `{"value": "new", "cas": "` + cas + `"}` }, want: 400, wantCode: "invalid_argument"},
		{name: "an unknown mode is a bad request", setup: existing, query: "?mode=upsert", want: 400, wantCode: "invalid_argument"},
		{name: "If-Match with the current tag stores", setup: existing,
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `"` + cas + `"`} }, want: 200, stored: true},
		{name: "If-Match with mode cas stores", setup: existing, query: "?mode=cas",
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `"` + cas + `"`} }, want: 200, stored: true},
		{name: "If-Match with a stale tag fails the precondition", setup: existing,
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `"` + cas + `9"`} }, want: 412, wantCode: "precondition_failed"},
		{name: "If-Match with a weak tag fails the precondition", setup: existing,
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `W/"` + cas + `"`} }, want: 412, wantCode: "precondition_failed"},
		{name: "If-Match with an unquoted tag is a bad request", setup: existing,
			header: func(cas string) map[string]string { return map[string]string{"If-Match": cas} }, want: 400, wantCode: "invalid_argument"},
		{name: "If-Match with a list is a bad request", setup: existing,
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `"1", "` + cas + `"`} }, want: 400, wantCode: "invalid_argument"},
		{name: "If-Match star replaces a live key", setup: existing,
			header: func(string) map[string]string { return map[string]string{"If-Match": "*"} }, want: 200, stored: true},
		{name: "If-Match star on a missing key fails the precondition", setup: missing,
			header: func(string) map[string]string { return map[string]string{"If-Match": "*"} }, want: 412, wantCode: "precondition_failed"},
		{name: "If-None-Match star adds a missing key", setup: missing,
			header: func(string) map[string]string { return map[string]string{"If-None-Match": "*"} }, want: 200, stored: true},
		{name: "If-None-Match star on a live key fails the precondition", setup: existing,
			header: func(string) map[string]string { return map[string]string{"If-None-Match": "*"} }, want: 412, wantCode: "precondition_failed"},
		{name: "If-None-Match with a tag is a bad request", setup: existing,
			header: func(cas string) map[string]string { return map[string]string{"If-None-Match": `"` + cas + `"`} }, want: 400, wantCode: "invalid_argument"},
		{name: "a mode contradicting If-Match is a bad request", setup: existing, query: "?mode=add",
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `"` + cas + `"`} }, want: 400, wantCode: "invalid_argument"},
		{name: "a mode contradicting If-None-Match is a bad request", setup: missing, query: "?mode=set",
			header: func(string) map[string]string { return map[string]string{"If-None-Match": "*"} }, want: 400, wantCode: "invalid_argument"},
		{name: "a body cas contradicting If-Match is a bad request", setup: existing,
			body:   func(cas string) string { return `{"value": "new", "cas": "1` + cas + `"}` },
			header: func(cas string) map[string]string { return map[string]string{"If-Match": `"` + cas + `"`} }, want: 400, wantCode: "invalid_argument"},
		{name: "both conditional headers are a bad request", setup: existing,
			header: func(cas string) map[string]string {
				return map[string]string{"If-Match": `"` + cas + `"`, "If-None-Match": "*"}
			}, want: 400, wantCode: "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cas := tt.setup(e)
			body := `{"value": "new"}`
			if tt.body != nil {
				body = tt.body(cas)
			}
			var header map[string]string
			if tt.header != nil {
				header = tt.header(cas)
			}
			res := e.do(request{method: http.MethodPut, path: keyPath("k") + tt.query, body: body, header: header})
			require.Equal(t, tt.want, res.status, "body: %s", res.body)
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, res.code(t))
			} else {
				got := res.json(t)
				assert.Equal(t, true, got["stored"])
				assert.Equal(t, `"`+got["cas"].(string)+`"`, res.header.Get("ETag"))
				assert.NotEqual(t, cas, got["cas"], "every write gets a new CAS id")
			}
			read := e.do(request{method: http.MethodGet, path: keyPath("k")})
			if tt.stored {
				require.Equal(t, http.StatusOK, read.status)
				assert.Equal(t, "new", read.json(t)["value"])
			} else if read.status == http.StatusOK {
				assert.Equal(t, "old", read.json(t)["value"], "a refused write leaves the old value")
			}
		})
	}
}

func TestSetRejectsBadInput(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		body     string
		header   map[string]string
		want     int
		wantCode string
	}{
		{name: "a missing value", body: `{"flags": 1}`, want: 400, wantCode: "invalid_argument"},
		{name: "malformed JSON", body: `{"value": `, want: 400, wantCode: "invalid_argument"},
		{name: "an empty body", body: ``, want: 400, wantCode: "invalid_argument"},
		{name: "a negative time", body: `{"value": 1, "time": -1}`, want: 400, wantCode: "invalid_argument"},
		{name: "flags beyond uint32", body: `{"value": 1, "flags": 4294967296}`, want: 400, wantCode: "invalid_argument"},
		{name: "an unknown encoding", body: `{"value": "x", "encoding": "hex"}`, want: 400, wantCode: "invalid_argument"},
		{name: "base64 that is not a string", body: `{"value": 5, "encoding": "base64"}`, want: 400, wantCode: "invalid_argument"},
		{name: "bad base64", body: `{"value": "***", "encoding": "base64"}`, want: 400, wantCode: "invalid_argument"},
		{name: "a malformed cas", query: "?mode=cas", body: `{"value": 1, "cas": "-1"}`, want: 400, wantCode: "invalid_argument"},
		{name: "time in the query beside a JSON body", query: "?time=5", body: `{"value": 1}`, want: 400, wantCode: "invalid_argument"},
		{name: "a query time that is not a number", query: "?time=soon", body: `x`,
			header: map[string]string{"Content-Type": "application/octet-stream"}, want: 400, wantCode: "invalid_argument"},
		{name: "an unsupported media type", body: `v`, header: map[string]string{"Content-Type": "text/plain"}, want: 415, wantCode: "unsupported_media_type"},
		{name: "a malformed media type", body: `v`, header: map[string]string{"Content-Type": "/;"}, want: 415, wantCode: "unsupported_media_type"},
		{name: "a value over the limit", body: `{"value": "` + strings.Repeat("x", 100) + `"}`, want: 413, wantCode: "value_too_large"},
		{name: "a raw value over the limit", body: strings.Repeat("x", 101),
			header: map[string]string{"Content-Type": "application/octet-stream"}, want: 413, wantCode: "value_too_large"},
		{name: "an invalid namespace", body: `{"value": 1}`, want: 400, wantCode: "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withMaxValueSize(100))
			e.put("k", "old")
			path := keyPath("k")
			if tt.name == "an invalid namespace" {
				path = "/v1/ns/no%20spaces/keys/k"
			}
			header := map[string]string{"Content-Type": "application/json"}
			for k, v := range tt.header {
				header[k] = v
			}
			res := e.do(request{method: http.MethodPut, path: path + tt.query, body: tt.body, header: header})
			assert.Equal(t, tt.want, res.status, "body: %s", res.body)
			assert.Equal(t, tt.wantCode, res.code(t))

			read := e.do(request{method: http.MethodGet, path: keyPath("k")})
			require.Equal(t, http.StatusOK, read.status)
			assert.Equal(t, "old", read.json(t)["value"], "a rejected write leaves the old value")
		})
	}
}

func TestSetWithoutContentTypeIsJSON(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPut, path: keyPath("k"), body: `{"value": [1]}`, header: map[string]string{"Content-Type": ""}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	read := e.do(request{method: http.MethodGet, path: keyPath("k")})
	assert.Equal(t, []any{1.0}, read.json(t)["value"])
}

func TestExpiration(t *testing.T) {
	tests := []struct {
		name        string
		time        string
		wantExpires int64 // ceil(now + time) for relative times; now is 1_700_000_000.25
	}{
		{"a relative time lives at least that long", "10", 1_700_000_011},
		{"a fractional time rounds up", "0.5", 1_700_000_001},
		{"an absolute time expires at that second", "1700000100", 1_700_000_100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: http.MethodPut, path: keyPath("k"), body: `{"value": 1, "time": ` + tt.time + `}`})
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

			read := e.do(request{method: http.MethodGet, path: keyPath("k")})
			require.Equal(t, http.StatusOK, read.status)
			assert.InDelta(t, tt.wantExpires, read.json(t)["expires"], 0)

			e.clock.Advance(time.Unix(tt.wantExpires, 0).Sub(e.clock.Now()) - time.Millisecond)
			assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: keyPath("k")}).status, "still live just before expiry")
			e.clock.Advance(time.Millisecond)
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("k")}).status, "expired at the expiry second")
		})
	}
}

func TestRawTimeInQuery(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPut, path: keyPath("k") + "?time=5", body: []byte("abc"),
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	e.clock.Advance(5 * time.Second)
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: keyPath("k")}).status)
	e.clock.Advance(time.Second)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("k")}).status)
}

func TestAbsoluteTimeInThePastStoresAnExpiredItem(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPut, path: keyPath("k"), body: `{"value": 1, "time": 1600000000}`})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("k")}).status)
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	e.put("k", 1)

	res := e.do(request{method: http.MethodDelete, path: keyPath("k")})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "DELETE_SUCCESSFUL", res.json(t)["status"])

	res = e.do(request{method: http.MethodDelete, path: keyPath("k")})
	require.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, "DELETE_ITEM_MISSING", res.json(t)["status"])
	assert.Equal(t, "not_found", res.code(t))

	res = e.do(request{method: http.MethodDelete, path: keyPath("k") + "?seconds=-1"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "invalid_argument", res.code(t))
}

func TestDeleteLock(t *testing.T) {
	e := newEnv(t)
	e.put("k", 1)
	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: keyPath("k") + "?seconds=10"}).status)

	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("k")}).status, "a locked key reads as a miss")
	assert.Equal(t, http.StatusConflict, e.do(request{method: http.MethodPut, path: keyPath("k") + "?mode=add", body: `{"value": 2}`}).status)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodPost, path: keyPath("k") + ":incr"}).status, "incr misses on a lock")
	res := e.do(request{method: http.MethodDelete, path: keyPath("k")})
	assert.Equal(t, http.StatusOK, res.status, "deleting a locked key succeeds and clears the lock")
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: keyPath("k") + "?mode=add", body: `{"value": 2}`}).status)

	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: keyPath("k") + "?seconds=10"}).status)
	e.clock.Advance(9 * time.Second)
	assert.Equal(t, http.StatusConflict, e.do(request{method: http.MethodPut, path: keyPath("k") + "?mode=add", body: `{"value": 3}`}).status,
		"the lock lasts its period")
	e.clock.Advance(2 * time.Second)
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: keyPath("k") + "?mode=add", body: `{"value": 3}`}).status,
		"the lock ends after its period")

	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: keyPath("k") + "?seconds=10"}).status)
	res = e.do(request{method: http.MethodPost, path: keyPath("k") + ":incr", body: `{"delta": 2, "initial_value": 5}`})
	require.Equal(t, http.StatusOK, res.status, "incr with initial_value creates a fresh item over a lock")
	assert.InDelta(t, 7, res.json(t)["value"], 0)
}

func TestIncrDecr(t *testing.T) {
	const maxU64 = "18446744073709551615"
	tests := []struct {
		name      string
		initial   string // JSON value stored first; "" for none
		verb      string
		body      string
		want      int
		wantValue string // JSON of the result value
		wantCode  string
		wantRead  string // JSON value read back afterwards
	}{
		{name: "incr defaults to a delta of one", initial: `5`, verb: ":incr", want: 200, wantValue: `6`, wantRead: `6`},
		{name: "incr adds delta", initial: `5`, verb: ":incr", body: `{"delta": 10}`, want: 200, wantValue: `15`, wantRead: `15`},
		{name: "incr wraps at 2^64", initial: maxU64, verb: ":incr", body: `{"delta": 2}`, want: 200, wantValue: `1`, wantRead: `1`},
		{name: "decr floors at zero", initial: `5`, verb: ":decr", body: `{"delta": 10}`, want: 200, wantValue: `0`, wantRead: `0`},
		{name: "a digit string stays a string", initial: `"0099"`, verb: ":incr", want: 200, wantValue: `100`, wantRead: `"100"`},
		{name: "a missing key without initial_value misses", verb: ":incr", want: 404, wantCode: "not_found"},
		{name: "a missing key with initial_value is created", verb: ":decr", body: `{"delta": 1, "initial_value": 10}`,
			want: 200, wantValue: `9`, wantRead: `9`},
		{name: "a null initial_value creates nothing", verb: ":incr", body: `{"initial_value": null}`, want: 404, wantCode: "not_found"},
		{name: "text is not a number", initial: `"ten"`, verb: ":incr", want: 409, wantCode: "not_a_number", wantRead: `"ten"`},
		{name: "a negative value is not a number", initial: `-1`, verb: ":decr", want: 409, wantCode: "not_a_number", wantRead: `-1`},
		{name: "a negative delta is a bad request", initial: `5`, verb: ":incr", body: `{"delta": -1}`, want: 400, wantCode: "invalid_argument", wantRead: `5`},
		{name: "an unsupported media type", initial: `5`, verb: ":incr", body: `x`, want: 415, wantCode: "unsupported_media_type", wantRead: `5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.initial != "" {
				res := e.do(request{method: http.MethodPut, path: keyPath("n"), body: `{"value": ` + tt.initial + `, "flags": 9}`})
				require.Equal(t, http.StatusOK, res.status)
			}
			req := request{method: http.MethodPost, path: keyPath("n") + tt.verb}
			if tt.body != "" {
				req.body = tt.body
			}
			if tt.wantCode == "unsupported_media_type" {
				req.header = map[string]string{"Content-Type": "text/plain"}
			}
			res := e.do(req)
			require.Equal(t, tt.want, res.status, "body: %s", res.body)
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, res.code(t))
			} else {
				var got struct {
					Value json.RawMessage `json:"value"`
				}
				require.NoError(t, json.Unmarshal(res.body, &got))
				assert.Equal(t, tt.wantValue, string(got.Value))
				assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
			}
			if tt.wantRead != "" {
				read := e.do(request{method: http.MethodGet, path: keyPath("n")})
				require.Equal(t, http.StatusOK, read.status)
				var item struct {
					Value json.RawMessage `json:"value"`
					Flags uint32          `json:"flags"`
				}
				require.NoError(t, json.Unmarshal(read.body, &item))
				assert.Equal(t, tt.wantRead, string(item.Value))
				if tt.initial != "" {
					assert.Equal(t, uint32(9), item.Flags, "incr keeps the item's flags")
				}
			}
		})
	}
}

func TestIncrChangesTheCASToken(t *testing.T) {
	e := newEnv(t)
	cas := e.put("n", 1)
	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPost, path: keyPath("n") + ":incr"}).status)
	res := e.do(request{method: http.MethodPut, path: keyPath("n"), body: `{"value": 5}`, header: map[string]string{"If-Match": `"` + cas + `"`}})
	assert.Equal(t, http.StatusPreconditionFailed, res.status, "gets → incr → cas must not overwrite the increment")
}

// awkwardKeys are keys that break naive routing: reserved URL characters,
// the method separator, non-ASCII and the longest allowed key.
var awkwardKeys = []struct {
	name string
	key  string
}{
	{"a slash", "dir/sub/file"},
	{"colons", "user:42:name"},
	{"a percent sign", "100%"},
	{"a question mark", "why?"},
	{"a hash", "#tag"},
	{"a space", "two words"},
	{"a key ending in :incr", "counter:incr"},
	{"non-ASCII", "ключ-🔑"},
	{"a 250-byte key", strings.Repeat("k", 250)},
	{"a 250-byte key of multi-byte runes", strings.Repeat("é", 125)},
}

// escapeKey percent-encodes every byte outside the unreserved set, colons
// included, so a key ending in :incr stays a key.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c), 16)))
	}
	return b.String()
}

func TestAwkwardKeysRoundTripThroughEveryOperation(t *testing.T) {
	for _, tt := range awkwardKeys {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			path := "/v1/ns/default/keys/" + escapeKey(tt.key)

			res := e.do(request{method: http.MethodPut, path: path, body: `{"value": 1}`})
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			res = e.do(request{method: http.MethodGet, path: path})
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, tt.key, res.json(t)["key"])

			res = e.do(request{method: http.MethodPost, path: path + ":incr", body: `{"delta": 2}`})
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			assert.InDelta(t, 3, res.json(t)["value"], 0)
			res = e.do(request{method: http.MethodPost, path: path + ":decr"})
			require.Equal(t, http.StatusOK, res.status)
			assert.InDelta(t, 2, res.json(t)["value"], 0)

			res = e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys:batchGet", body: map[string]any{"keys": []string{tt.key}}})
			require.Equal(t, http.StatusOK, res.status)
			assert.Contains(t, res.json(t)["items"], tt.key)
			res = e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys:batchOffset", body: map[string]any{"offsets": map[string]int{tt.key: 5}}})
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, map[string]any{tt.key: 7.0}, res.json(t)["values"])

			res = e.do(request{method: http.MethodDelete, path: path})
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: path}).status)

			res = e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys:batchSet", body: map[string]any{
				"items": []map[string]any{{"key": tt.key, "value": "again"}}}})
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, "again", e.do(request{method: http.MethodGet, path: path}).json(t)["value"])
			res = e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys:batchDelete", body: map[string]any{"keys": []string{tt.key}}})
			require.Equal(t, http.StatusOK, res.status)
			assert.Equal(t, map[string]any{tt.key: "DELETE_SUCCESSFUL"}, res.json(t)["statuses"])
		})
	}
}

func TestKeyOver250BytesIsRejected(t *testing.T) {
	long := strings.Repeat("k", 251)
	tests := []struct {
		name string
		req  request
	}{
		{"get", request{method: http.MethodGet, path: keyPath(long)}},
		{"set", request{method: http.MethodPut, path: keyPath(long), body: `{"value": 1}`}},
		{"delete", request{method: http.MethodDelete, path: keyPath(long)}},
		{"incr", request{method: http.MethodPost, path: keyPath(long) + ":incr"}},
		{"a multi-byte key", request{method: http.MethodGet, path: keyPath(strings.Repeat("é", 125) + "k")}},
		{"a prefix that makes the key too long", request{method: http.MethodPost, path: "/v1/ns/default/keys:batchGet",
			body: map[string]any{"keys": []string{strings.Repeat("k", 200)}, "key_prefix": strings.Repeat("p", 51)}}},
		{"set_multi", request{method: http.MethodPost, path: "/v1/ns/default/keys:batchSet",
			body: map[string]any{"items": []map[string]any{{"key": long, "value": 1}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t).do(tt.req)
			assert.Equal(t, http.StatusBadRequest, res.status)
			assert.Equal(t, "key_too_long", res.code(t))
		})
	}
}

func TestUnencodedMethodSuffixAndEncodedColon(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys/user:42:incr", body: `{"initial_value": 41}`})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.InDelta(t, 42, res.json(t)["value"], 0)
	res = e.do(request{method: http.MethodGet, path: "/v1/ns/default/keys/user:42"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "user:42", res.json(t)["key"])

	// %3A is part of the key: this stores a key that itself ends in ":incr".
	res = e.do(request{method: http.MethodPut, path: "/v1/ns/default/keys/user%3A42%3Aincr", body: `{"value": 7}`})
	require.Equal(t, http.StatusOK, res.status)
	res = e.do(request{method: http.MethodGet, path: "/v1/ns/default/keys/user:42:incr"})
	require.Equal(t, http.StatusOK, res.status, "GET takes no method suffix")
	assert.Equal(t, "user:42:incr", res.json(t)["key"])
	res = e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys/user%3A42%3Aincr"})
	assert.Equal(t, http.StatusMethodNotAllowed, res.status, "an encoded :incr is no method")
	res = e.do(request{method: http.MethodPost, path: "/v1/ns/default/keys/user%3A42%3Aincr:decr"})
	require.Equal(t, http.StatusOK, res.status)
	assert.InDelta(t, 6, res.json(t)["value"], 0)
}

func TestNamespacesAreIsolated(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPut, path: "/v1/ns/a/keys/k", body: `{"value": "in a"}`})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: "/v1/ns/b/keys/k"}).status)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: "/v1/ns/default/keys/k"}).status)
	assert.Equal(t, "in a", e.do(request{method: http.MethodGet, path: "/v1/ns/a/keys/k"}).json(t)["value"])

	res = e.do(request{method: http.MethodGet, path: "/v1/ns/" + strings.Repeat("n", 101) + "/keys/k"})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "invalid_argument", res.code(t))
	assert.Equal(t, "namespace", res.json(t)["error"].(map[string]any)["field"])
}
