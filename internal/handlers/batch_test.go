package handlers_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	batchGet    = "/v1/ns/~/keys:batchGet"
	batchSet    = "/v1/ns/~/keys:batchSet"
	batchDelete = "/v1/ns/~/keys:batchDelete"
	batchOffset = "/v1/ns/~/keys:batchOffset"
)

func TestGetMultiKeysResultsWithoutThePrefix(t *testing.T) {
	e := newEnv(t)
	e.put("user:1", "ada")
	e.put("user:2", map[string]any{"n": 2})
	e.put("3", "not under the prefix")

	res := e.do(request{method: http.MethodPost, path: batchGet, body: map[string]any{
		"keys": []string{"1", "2", "3", "1"}, "key_prefix": "user:", "for_cas": true}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	items := res.json(t)["items"].(map[string]any)
	assert.Len(t, items, 2, "misses are absent")
	one := items["1"].(map[string]any)
	assert.Equal(t, "1", one["key"], "items carry the caller's key")
	assert.Equal(t, "ada", one["value"])
	assert.NotEmpty(t, one["cas"])
	assert.Equal(t, map[string]any{"n": 2.0}, items["2"].(map[string]any)["value"])
}

func TestSetMulti(t *testing.T) {
	tests := []struct {
		name          string
		mode          string
		items         func(cas string) []map[string]any
		wantNotStored []any
		wantValue     any // under p:a afterwards
	}{
		{name: "set stores every item", mode: "set",
			items: func(string) []map[string]any {
				return []map[string]any{{"key": "a", "value": 1}, {"key": "b", "value": 2}}
			},
			wantNotStored: []any{}, wantValue: 1.0},
		{name: "add reports the live keys", mode: "add",
			items: func(string) []map[string]any {
				return []map[string]any{{"key": "a", "value": 1}, {"key": "b", "value": 2}}
			},
			wantNotStored: []any{"a"}, wantValue: "old"},
		{name: "replace reports the missing keys", mode: "replace",
			items: func(string) []map[string]any {
				return []map[string]any{{"key": "a", "value": 1}, {"key": "b", "value": 2}}
			},
			wantNotStored: []any{"b"}, wantValue: 1.0},
		{name: "cas stores items whose token is current", mode: "cas",
			items: func(cas string) []map[string]any {
				return []map[string]any{{"key": "a", "value": 1, "cas": cas}, {"key": "b", "value": 2, "cas": cas}}
			},
			wantNotStored: []any{"b"}, wantValue: 1.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cas := e.put("p:a", "old")
			res := e.do(request{method: http.MethodPost, path: batchSet, body: map[string]any{
				"mode": tt.mode, "key_prefix": "p:", "items": tt.items(cas)}})
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			assert.Equal(t, tt.wantNotStored, res.json(t)["not_stored"])
			assert.Equal(t, tt.wantValue, e.do(request{method: http.MethodGet, path: keyPath("p:a")}).json(t)["value"])
		})
	}
}

func TestSetMultiAppliesTimeToTheBatchAndFlagsPerItem(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPost, path: batchSet, body: map[string]any{
		"time": 5,
		"items": []map[string]any{
			{"key": "a", "value": "x", "flags": 1},
			{"key": "b", "value": base64.StdEncoding.EncodeToString([]byte{0, 1}), "encoding": "base64", "flags": 2},
		}}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

	b := e.do(request{method: http.MethodGet, path: keyPath("b"), header: map[string]string{"Accept": "application/octet-stream"}})
	assert.Equal(t, []byte{0, 1}, b.body)
	assert.Equal(t, "2", b.header.Get("Memcache-Flags"))
	assert.InDelta(t, 1, e.do(request{method: http.MethodGet, path: keyPath("a")}).json(t)["flags"], 0)

	e.clock.Advance(6 * time.Second)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("a")}).status)
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("b")}).status)
}

func TestSetMultiRejectsTheWholeBatch(t *testing.T) {
	tests := []struct {
		name     string
		body     map[string]any
		want     int
		wantCode string
	}{
		{"a key too long", map[string]any{"items": []map[string]any{{"key": "a", "value": 1}, {"key": strings.Repeat("k", 251), "value": 1}}},
			400, "key_too_long"},
		{"a value too large", map[string]any{"items": []map[string]any{{"key": "a", "value": 1}, {"key": "b", "value": strings.Repeat("v", 200)}}},
			413, "value_too_large"},
		{"bad base64", map[string]any{"items": []map[string]any{{"key": "a", "value": 1}, {"key": "b", "value": "*", "encoding": "base64"}}},
			400, "invalid_argument"},
		{"an item without a value", map[string]any{"items": []map[string]any{{"key": "a", "value": 1}, {"key": "b"}}},
			400, "invalid_argument"},
		{"an unknown mode", map[string]any{"mode": "upsert", "items": []map[string]any{{"key": "a", "value": 1}}},
			400, "invalid_argument"},
		{"cas mode without a token", map[string]any{"mode": "cas", "items": []map[string]any{{"key": "a", "value": 1}}},
			400, "invalid_argument"},
		{"a negative time", map[string]any{"time": -1, "items": []map[string]any{{"key": "a", "value": 1}}},
			400, "invalid_argument"},
		{"no items", map[string]any{"mode": "set"}, 400, "invalid_argument"},
		{"too many items", map[string]any{"items": []map[string]any{{"key": "a", "value": 1}, {"key": "b", "value": 1}, {"key": "c", "value": 1}}},
			413, "batch_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withMaxValueSize(100), withMaxBatchKeys(2))
			res := e.do(request{method: http.MethodPost, path: batchSet, body: tt.body})
			assert.Equal(t, tt.want, res.status, "body: %s", res.body)
			assert.Equal(t, tt.wantCode, res.code(t))
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("a")}).status, "nothing is stored")
		})
	}
}

func TestDeleteMulti(t *testing.T) {
	e := newEnv(t)
	e.put("p:a", 1)
	res := e.do(request{method: http.MethodPost, path: batchDelete, body: map[string]any{
		"keys": []string{"a", "b"}, "key_prefix": "p:", "seconds": 30}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, map[string]any{"a": "DELETE_SUCCESSFUL", "b": "DELETE_ITEM_MISSING"}, res.json(t)["statuses"])

	add := func(key string) int {
		return e.do(request{method: http.MethodPut, path: keyPath(key) + "?mode=add", body: `{"value": 2}`}).status
	}
	assert.Equal(t, http.StatusConflict, add("p:a"), "the deleted key is locked")
	assert.Equal(t, http.StatusOK, add("p:b"), "deleting a missing key locks nothing")
}

func TestOffsetMulti(t *testing.T) {
	e := newEnv(t)
	e.put("c:up", 10)
	e.put("c:down", 10)
	e.put("c:text", "ten")
	res := e.do(request{method: http.MethodPost, path: batchOffset, body: map[string]any{
		"key_prefix": "c:",
		"offsets":    map[string]int64{"up": 5, "down": -15, "text": 1, "missing": 1},
	}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, map[string]any{"up": 15.0, "down": 0.0, "text": nil, "missing": nil}, res.json(t)["values"])

	res = e.do(request{method: http.MethodPost, path: batchOffset, body: map[string]any{
		"offsets": map[string]int64{"fresh": -2}, "initial_value": 5}})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, map[string]any{"fresh": 3.0}, res.json(t)["values"], "initial_value creates missing counters")

	res = e.do(request{method: http.MethodPost, path: batchOffset, body: `{"key_prefix": "c:", "offsets": {"up": -9223372036854775808}}`})
	require.Equal(t, http.StatusOK, res.status, "the most negative delta is accepted")
	assert.Equal(t, map[string]any{"up": 0.0}, res.json(t)["values"])
}

func TestBatchLimits(t *testing.T) {
	tests := []struct {
		name string
		path string
		body any
	}{
		{"get_multi over the key limit", batchGet, map[string]any{"keys": []string{"a", "b", "c"}}},
		{"delete_multi over the key limit", batchDelete, map[string]any{"keys": []string{"a", "b", "c"}}},
		{"offset_multi over the key limit", batchOffset, map[string]any{"offsets": map[string]int{"a": 1, "b": 1, "c": 1}}},
		{"a body over the size limit", batchGet, map[string]any{"keys": []string{strings.Repeat("k", 2000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withMaxBatchKeys(2), withMaxBodyBytes(1024))
			res := e.do(request{method: http.MethodPost, path: tt.path, body: tt.body})
			assert.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %s", res.body)
			assert.Equal(t, "batch_too_large", res.code(t))
		})
	}
}

func TestBatchRejectsBadInput(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		body     any
		header   map[string]string
		want     int
		wantCode string
	}{
		{"get_multi without keys", batchGet, `{}`, nil, 400, "invalid_argument"},
		{"get_multi with keys of the wrong type", batchGet, `{"keys": "a"}`, nil, 400, "invalid_argument"},
		{"an empty key", batchGet, `{"keys": [""]}`, nil, 400, "invalid_argument"},
		{"delete_multi without keys", batchDelete, `{"seconds": 1}`, nil, 400, "invalid_argument"},
		{"offset_multi without offsets", batchOffset, `{}`, nil, 400, "invalid_argument"},
		{"offset_multi with a fractional delta", batchOffset, `{"offsets": {"a": 1.5}}`, nil, 400, "invalid_argument"},
		{"an octet-stream batch", batchGet, `{"keys": []}`, map[string]string{"Content-Type": "application/octet-stream"}, 415, "unsupported_media_type"},
		{"an invalid namespace", "/v1/ns/bad%21/keys:batchGet", `{"keys": ["a"]}`, nil, 400, "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t).do(request{method: http.MethodPost, path: tt.path, body: tt.body, header: tt.header})
			assert.Equal(t, tt.want, res.status, "body: %s", res.body)
			assert.Equal(t, tt.wantCode, res.code(t))
		})
	}
}

func TestEmptyBatchesSucceed(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodPost, path: batchGet, body: `{"keys": []}`})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, map[string]any{}, res.json(t)["items"])
	res = e.do(request{method: http.MethodPost, path: batchSet, body: `{"items": []}`})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, []any{}, res.json(t)["not_stored"])
}
