package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// fieldOf is the field of an error body, or "" when it names none.
func (r response) fieldOf(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	field, _ := e["field"].(string)
	return field
}

// messageOf is the message of an error body.
func (r response) messageOf(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// countingStore records the byte budget of each GetMulti asked of the store.
type countingStore struct {
	cache.Store
	mu      sync.Mutex // guards budgets
	budgets []int
}

func (s *countingStore) GetMulti(ctx context.Context, keys []cache.Key, maxBytes int) (map[cache.Key]cache.Item, error) {
	s.mu.Lock()
	s.budgets = append(s.budgets, maxBytes)
	s.mu.Unlock()
	return s.Store.GetMulti(ctx, keys, maxBytes)
}

func TestBatchGetResponseStaysWithinItsByteLimit(t *testing.T) {
	const (
		valueSize = 1000
		budget    = 8000
		stored    = 40
	)
	mem, err := cache.NewMemory(cache.Options{MaxValueSize: valueSize})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, mem.Close()) })
	store := &countingStore{Store: mem}
	e := &env{t: t, h: handlers.NewRouter(store, handlers.Config{MaxValueSize: valueSize, MaxResponseBytes: budget})}
	keys := make([]string, stored)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
		e.put(keys[i], strings.Repeat("x", valueSize-2))
	}

	tests := []struct {
		name   string
		keys   []string
		status int
	}{
		{"a response under the limit is answered", keys[:5], http.StatusOK},
		{"a response over the limit is refused", keys, http.StatusRequestEntityTooLarge},
		{"misses cost nothing against the limit", append(keys[:5:5], strings.Split(strings.Repeat("miss,", 100), ",")[:100]...), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.mu.Lock()
			store.budgets = nil
			store.mu.Unlock()
			before, err := mem.Stats(context.Background())
			require.NoError(t, err)
			res := e.do(request{method: http.MethodPost, path: batchGet, body: map[string]any{"keys": tt.keys}})
			require.Equal(t, tt.status, res.status, "body: %.200s", res.body)
			if tt.status != http.StatusOK {
				assert.Equal(t, "batch_too_large", res.code(t))
				assert.Equal(t, "keys", res.fieldOf(t))
				assert.Contains(t, res.messageOf(t), fmt.Sprint(budget), "the message says the limit")
			} else {
				assert.LessOrEqual(t, len(res.body), budget)
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			// One store call, whose values alone never pass the response limit.
			require.Len(t, store.budgets, 1, "byte budgets of the store calls: %v", store.budgets)
			assert.Positive(t, store.budgets[0])
			assert.LessOrEqual(t, store.budgets[0], budget)
			after, err := mem.Stats(context.Background())
			require.NoError(t, err)
			if tt.status != http.StatusOK {
				assert.Less(t, after.Hits-before.Hits, uint64(len(tt.keys)), "fetching stops once over the limit")
			}
		})
	}
}

func TestBatchGetResponseOverItsLimitOnlyOnceEncodedIsRefused(t *testing.T) {
	const (
		valueSize = 1000
		budget    = 8000
	)
	mem, err := cache.NewMemory(cache.Options{MaxValueSize: valueSize})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, mem.Close()) })
	e := &env{t: t, h: handlers.NewRouter(mem, handlers.Config{MaxValueSize: valueSize, MaxResponseBytes: budget})}
	// 7,000 value bytes pass the store's budget; each 240-byte name, written
	// twice per item, takes the encoding past the response limit.
	keys := make([]string, 7)
	for i := range keys {
		keys[i] = fmt.Sprintf("%03d", i) + strings.Repeat("k", 237)
		e.put(keys[i], strings.Repeat("x", valueSize-2))
	}
	res := e.do(request{method: http.MethodPost, path: batchGet, body: map[string]any{"keys": keys}})
	require.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %.200s", res.body)
	assert.Equal(t, "batch_too_large", res.code(t))
	assert.Equal(t, "keys", res.fieldOf(t))
	assert.Contains(t, res.messageOf(t), fmt.Sprint(budget), "the message says the limit")
	st, err := mem.Stats(t.Context())
	require.NoError(t, err)
	// Five items fit in the limit; reading stops at the sixth, whose
	// encoding passes it.
	assert.Equal(t, uint64(6), st.Hits, "the store returned the values read until the encoding passed the limit")
}

func TestBatchGetResponseLimitDefaultsToTheBodyLimit(t *testing.T) {
	e := newEnv(t, withMaxBodyBytes(2000))
	e.put("a", strings.Repeat("x", 1500))
	e.put("b", strings.Repeat("y", 1500))
	res := e.do(request{method: http.MethodPost, path: batchGet, body: `{"keys":["a","b"]}`})
	require.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %.200s", res.body)
	assert.Equal(t, "batch_too_large", res.code(t))
}

func TestJSONBodiesAreOneValidValueOfKnownFields(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		wantField string
	}{
		{"invalid UTF-8 in a value", http.MethodPut, keyPath("k"), "{\"value\":\"\xff\"}", ""},
		{"invalid UTF-8 in a batchSet key", http.MethodPost, batchSet, "{\"items\":[{\"key\":\"\xff\",\"value\":1}]}", ""},
		{"invalid UTF-8 in a batchGet key", http.MethodPost, batchGet, "{\"keys\":[\"\xff\"]}", ""},
		{"invalid UTF-8 in a batchDelete key", http.MethodPost, batchDelete, "{\"keys\":[\"a\xc3\"]}", ""},
		{"garbage after a value", http.MethodPut, keyPath("k"), `{"value":1} garbage`, ""},
		{"a second object after a value", http.MethodPut, keyPath("k"), `{"value":1}{"value":2}`, ""},
		{"garbage after an incr body", http.MethodPost, keyPath("k") + ":incr", `{"delta":1} x`, ""},
		{"garbage after a batchSet body", http.MethodPost, batchSet, `{"items":[]} []`, ""},
		{"garbage after a batchOffset body", http.MethodPost, batchOffset, `{"offsets":{}}]`, ""},
		{"an unknown member of a value body", http.MethodPut, keyPath("k"), `{"value":1,"ttl":60}`, "ttl"},
		{"a misspelled item time in batchSet", http.MethodPost, batchSet, `{"items":[{"key":"a","value":1},{"key":"b","value":1,"time":60}]}`, "items[1].time"},
		{"an unknown member of batchGet", http.MethodPost, batchGet, `{"keys":["a"],"prefix":"p:"}`, "prefix"},
		{"an unknown member of batchDelete", http.MethodPost, batchDelete, `{"keys":["a"],"time":5}`, "time"},
		{"an unknown member of batchOffset", http.MethodPost, batchOffset, `{"offsets":{"a":1},"intial_value":0}`, "intial_value"},
		{"an unknown member of incr", http.MethodPost, keyPath("k") + ":decr", `{"delta":1,"initial":0}`, "initial"},
		{"an escaped unknown member", http.MethodPut, keyPath("k"), `{"value":1,"\u0074tl":60}`, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: tt.method, path: tt.path, body: tt.body})
			require.Equal(t, http.StatusBadRequest, res.status, "body %q: %s", tt.body, res.body)
			assert.Equal(t, "invalid_argument", res.code(t))
			assert.Equal(t, tt.wantField, res.fieldOf(t))
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("k")}).status, "nothing was stored")
		})
	}
}

func TestJSONBodyChecksLeaveValidBodiesAlone(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		body   string
	}{
		{"a value holds any members", http.MethodPut, keyPath("k"), `{"value":{"ttl":1,"items":[{"x":1}]},"flags":1}`},
		{"an escaped known member", http.MethodPut, keyPath("k"), `{"\u0076alue":"\u00e9"}`},
		{"whitespace after the value", http.MethodPut, keyPath("k"), "{\"value\":1}\r\n\t "},
		{"offsets take any names", http.MethodPost, batchOffset, `{"offsets":{"time":1,"items":2}}`},
		{"batchSet items with every member", http.MethodPost, batchSet, `{"items":[{"key":"a","value":"aGk=","encoding":"base64","flags":2}],"time":60,"mode":"set","key_prefix":"p"}`},
		{"an empty incr body", http.MethodPost, keyPath("n") + ":incr", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.put("n", 1)
			res := e.do(request{method: tt.method, path: tt.path, body: tt.body})
			assert.Equal(t, http.StatusOK, res.status, "body %q: %s", tt.body, res.body)
		})
	}
}

func TestBatchDeleteDeletesARepeatedKeyOnce(t *testing.T) {
	e := newEnv(t)
	e.put("p:a", 1)
	res := e.do(request{method: http.MethodPost, path: batchDelete, body: `{"keys":["a","a","b"],"key_prefix":"p:"}`})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, map[string]any{"a": "DELETE_SUCCESSFUL", "b": "DELETE_ITEM_MISSING"}, res.json(t)["statuses"])
}

func TestBatchSetRefusesARepeatedKey(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantField string
	}{
		{"the same key twice", `{"items":[{"key":"a","value":1},{"key":"a","value":2}]}`, "items[1].key"},
		{"the same key twice under a prefix", `{"items":[{"key":"b","value":1},{"key":"a","value":1},{"key":"a","value":2}],"key_prefix":"p:"}`, "items[2].key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: http.MethodPost, path: batchSet, body: tt.body})
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			assert.Equal(t, "invalid_argument", res.code(t))
			assert.Equal(t, tt.wantField, res.fieldOf(t))
			assert.Contains(t, res.messageOf(t), "duplicate key")
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("a")}).status, "nothing was stored")
		})
	}
}

func TestEveryMethodNotAllowedSaysWhatIs(t *testing.T) {
	tests := []struct {
		method, path, allow string
	}{
		{"PATCH", "/healthz", "GET, HEAD"},
		{http.MethodPost, "/v1/stats", "GET, HEAD"},
		{http.MethodGet, "/v1/flush", "POST"},
		{http.MethodGet, batchGet, "POST"},
		{http.MethodPut, "/openapi.yaml", "GET, HEAD"},
		{"PATCH", keyPath("k"), "GET, HEAD, PUT, DELETE"},
		{http.MethodPost, keyPath("k"), "GET, HEAD, PUT, DELETE"},
		{"PATCH", keyPath("k") + ":incr", "GET, HEAD, PUT, POST, DELETE"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := e.do(request{method: tt.method, path: tt.path})
			require.Equal(t, http.StatusMethodNotAllowed, res.status, "body: %s", res.body)
			assert.Equal(t, "method_not_allowed", res.code(t))
			assert.Equal(t, tt.allow, res.header.Get("Allow"))
		})
	}
}

func TestHeadIsGetWithoutTheBody(t *testing.T) {
	e := newEnv(t)
	e.put("k", map[string]any{"a": 1})
	tests := []struct {
		name   string
		path   string
		accept string
		status int
	}{
		{"an item as JSON", keyPath("k"), "", http.StatusOK},
		{"an item as raw bytes", keyPath("k"), "application/octet-stream", http.StatusOK},
		{"an item read through the generated route", keyPath("k") + "?for_cas=true", "", http.StatusOK},
		{"a missing item", keyPath("missing"), "", http.StatusNotFound},
		{"liveness", "/healthz", "", http.StatusOK},
		{"readiness", "/readyz", "", http.StatusOK},
		{"the contract", "/openapi.yaml", "", http.StatusOK},
		{"stats", "/v1/stats", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send := func(method string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(method, tt.path, nil)
				r.Header.Set("X-Request-Id", "same-id")
				if tt.accept != "" {
					r.Header.Set("Accept", tt.accept)
				}
				return e.raw(r)
			}
			get, head := send(http.MethodGet), send(http.MethodHead)
			require.Equal(t, tt.status, get.Code)
			assert.Equal(t, get.Code, head.Code)
			assert.NotEmpty(t, get.Body.Bytes())
			assert.Empty(t, head.Body.Bytes(), "HEAD has no body")
			assert.Equal(t, get.Header(), head.Header(), "HEAD has GET's headers")
		})
	}
}

// countingReader counts the bytes a handler read of a body.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestSingleKeyBodiesAreBoundByTheValueLimit(t *testing.T) {
	tests := []struct {
		name          string
		opts          []option
		size          int
		contentType   string
		declareLength bool
		maxRead       int // bytes of the body the server may read before refusing it
	}{
		{"a raw body over the body limit, length unknown", []option{withMaxBodyBytes(4096)}, 8192, "application/octet-stream", false, 4097},
		{"a raw body over the body limit, length declared", []option{withMaxBodyBytes(4096)}, 8192, "application/octet-stream", true, 0},
		// The largest 1000-byte value needs 1336 bytes of base64, plus 64 KiB of room.
		{"a JSON body far over what the largest value needs, length unknown", []option{withMaxValueSize(1000)}, 1 << 20, "application/json", false, 1336 + 64<<10 + 1},
		{"a JSON body far over what the largest value needs, length declared", []option{withMaxValueSize(1000)}, 1 << 20, "application/json", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			body := strings.Repeat("x", tt.size)
			if tt.contentType == "application/json" {
				body = `{"value":"` + body[:tt.size-12] + `"}`
			}
			counted := &countingReader{r: strings.NewReader(body)}
			r := httptest.NewRequest(http.MethodPut, keyPath("k"), counted)
			r.Header.Set("Content-Type", tt.contentType)
			r.ContentLength = int64(len(body))
			if !tt.declareLength {
				r.ContentLength = -1
			}
			rec := e.raw(r)
			res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			contracttest.Check(t, r, res.status, res.header, res.body)
			require.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %s", res.body)
			assert.Equal(t, "value_too_large", res.code(t), "a single key's body is a value")
			assert.Equal(t, "value", res.fieldOf(t))
			assert.LessOrEqual(t, counted.n, tt.maxRead, "refused early, not after reading the body")
		})
	}
}

func TestTimeErrorsNameTheirFieldInPlainWords(t *testing.T) {
	const (
		timeForm    = "time must be a number of seconds: 0 (or absent) never expires, up to 2592000 (30 days) is relative to now, larger is a Unix time, not "
		secondsForm = "seconds must be a number of seconds to keep the key locked after the delete: 0 (or absent) for no lock, up to 2592000 (30 days) relative to now, larger a Unix time, not "
	)
	tests := []struct {
		name      string
		method    string
		path      string
		body      any
		header    map[string]string
		wantField string
		wantMsg   string
	}{
		{"a negative time in a JSON body", http.MethodPut, keyPath("c"), `{"value":1,"time":-1}`, nil, "time", timeForm + "-1"},
		{"a time beyond year 9999", http.MethodPut, keyPath("c"), `{"value":1,"time":1e13}`, nil, "time", timeForm + "1e+13"},
		{"a NaN time on a raw body", http.MethodPut, keyPath("c") + "?time=NaN", []byte("x"),
			map[string]string{"Content-Type": "application/octet-stream"}, "time", timeForm + "NaN"},
		{"a negative lock on delete", http.MethodDelete, keyPath("c") + "?seconds=-1", nil, nil, "seconds", secondsForm + "-1"},
		{"a negative batch time", http.MethodPost, batchSet, `{"items":[{"key":"c","value":1}],"time":-1}`, nil, "time", timeForm + "-1"},
		{"a negative batch lock", http.MethodPost, batchDelete, `{"keys":["c"],"seconds":-1}`, nil, "seconds", secondsForm + "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t).do(request{method: tt.method, path: tt.path, body: tt.body, header: tt.header})
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			assert.Equal(t, "invalid_argument", res.code(t))
			assert.Equal(t, tt.wantField, res.fieldOf(t))
			assert.Equal(t, tt.wantMsg, res.messageOf(t))
		})
	}
}

func TestErrorMessagesCarryNoGoPackagePrefixes(t *testing.T) {
	long := strings.Repeat("k", 251)
	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		wantField string
	}{
		{"a key too long", http.MethodGet, keyPath(long), "", "key"},
		{"a missing item", http.MethodGet, keyPath("missing"), "", ""},
		{"a batchOffset key too long names the key", http.MethodPost, batchOffset, `{"offsets":{"a":1,"` + long + `":1}}`, "offsets." + long},
		{"a mode without its cas", http.MethodPut, keyPath("k") + "?mode=cas", `{"value":1}`, "cas"},
		{"a body of the wrong type", http.MethodPut, keyPath("k"), `{"value":1,"flags":"x"}`, "flags"},
		{"a query parameter that does not parse", http.MethodPut, keyPath("k") + "?mode=nope", `{"value":1}`, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			res := newEnv(t).do(request{method: tt.method, path: tt.path, body: body})
			require.GreaterOrEqual(t, res.status, 400, "body: %s", res.body)
			assert.Equal(t, tt.wantField, res.fieldOf(t))
			msg := res.messageOf(t)
			assert.NotEmpty(t, msg)
			for _, prefix := range []string{"handlers:", "cache:", "get:", "set:", "offset_multi", "json:", "Go struct"} {
				assert.NotContains(t, msg, prefix)
			}
		})
	}
}

func TestForbiddenMessageUsesTheRightArticle(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	res := e.do(request{method: http.MethodGet, path: "/v1/stats", header: bearer(writerToken)})
	require.Equal(t, http.StatusForbidden, res.status, "body: %s", res.body)
	assert.Contains(t, res.messageOf(t), "needs an admin token")
}

func TestBatchKeysMustNotBeEmptyUnderAPrefix(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		body      string
		wantField string
	}{
		{"a batchSet item", batchSet, `{"items":[{"key":"","value":1}],"key_prefix":"p"}`, "items[0].key"},
		{"a batchGet key", batchGet, `{"keys":["a",""],"key_prefix":"p"}`, "keys[1]"},
		{"a batchDelete key", batchDelete, `{"keys":[""],"key_prefix":"p"}`, "keys[0]"},
		{"a batchOffset name", batchOffset, `{"offsets":{"":1},"key_prefix":"p"}`, "offsets."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: http.MethodPost, path: tt.path, body: tt.body})
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			assert.Equal(t, "invalid_argument", res.code(t))
			assert.Equal(t, tt.wantField, res.fieldOf(t))
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("p")}).status, "the prefix alone was not stored")
		})
	}
}

func TestTheLogLineKeepsTheWholeErrorChain(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEnv(t, withLogs(logs))
	res := e.do(request{method: http.MethodPost, path: batchSet, body: `{"items":[{"key":"c","value":1}],"time":-1}`})
	require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
	assert.Equal(t, "time must be a number of seconds: 0 (or absent) never expires, up to 2592000 (30 days) is relative to now, larger is a Unix time, not -1", res.messageOf(t), "the client sees a sentence")
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &line), "one JSON line: %s", logs.String())
	assert.Equal(t, "cache: invalid argument: time must not be negative", line["error"], "the log keeps the chain")
}

// TestTypeErrorsNameTheMemberWithItsIndex: a member of the wrong type inside
// a batch is named by its wire path, index and map key included, as the
// spec's errors section promises (items[1].flags, offsets.o1), not by
// encoding/json's path (items.flags, offsets).
func TestTypeErrorsNameTheMemberWithItsIndex(t *testing.T) {
	offsetForm := "offsets.o1 must be an integer from -9223372036854775808 to 9223372036854775807, not "
	tests := []struct {
		name, path, body, wantField, wantMsg string
	}{
		{"a batchSet flags", batchSet, `{"items":[{"key":"a","value":1},{"key":"b","value":1,"flags":-1}]}`,
			"items[1].flags", "items[1].flags must be an integer from 0 to 4294967295, not -1"},
		{"a batchSet cas as a number", batchSet, ` {"items":[{"key":"a","value":1},{"key":"b","value":1,"cas":5}], "mode":"cas"}`,
			"items[1].cas", "items[1].cas must be " + `the item's CAS token as a JSON string of digits, e.g. "12" (a get answers it as "cas" and as the ETag), not a JSON number`},
		{"a batchSet key as a number", batchSet, `{"items":[{"key":5,"value":1}]}`, "items[0].key", "items[0].key must be a non-empty string, not a JSON number"},
		{"a fractional batchOffset delta", batchOffset, `{"offsets":{"a":1,"o1":1.5}}`, "offsets.o1", offsetForm + "1.5"},
		{"a batchOffset delta past int64", batchOffset, `{"offsets":{"o1":9223372036854775808}}`, "offsets.o1", offsetForm + "9223372036854775808"},
		{"a batchOffset delta as a string", batchOffset, `{"offsets":{"o1":"x"}}`, "offsets.o1", offsetForm + "a JSON string"},
		{"an item that is not an object", batchSet, `{"items":[1]}`, "items", ""},
		{"a single key's flags", keyPath("k"), `{"value":1,"flags":"x"}`, "flags", "flags must be an integer from 0 to 4294967295, not a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.path == keyPath("k") {
				method = http.MethodPut
			}
			res := newEnv(t).do(request{method: method, path: tt.path, body: tt.body})
			require.Equal(t, http.StatusBadRequest, res.status, "body: %s", res.body)
			assert.Equal(t, tt.wantField, res.fieldOf(t))
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, res.messageOf(t))
			}
		})
	}
}
