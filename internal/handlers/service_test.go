package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/api"
)

func stats(t *testing.T, e *env) map[string]any {
	t.Helper()
	res := e.do(request{method: http.MethodGet, path: "/v1/stats"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	return res.json(t)
}

func TestStatsCountLookups(t *testing.T) {
	e := newEnv(t)
	e.put("ab", "xyz") // item size: 2 key bytes + 5 bytes of `"xyz"`

	e.do(request{method: http.MethodGet, path: keyPath("ab")})
	e.do(request{method: http.MethodGet, path: keyPath("ab"), header: map[string]string{"Accept": "application/octet-stream"}})
	e.do(request{method: http.MethodGet, path: keyPath("missing")})
	e.do(request{method: http.MethodPost, path: batchGet, body: map[string]any{"keys": []string{"ab", "nope", "nope"}}})

	e.clock.Advance(3 * time.Second)
	got := stats(t, e)
	assert.Equal(t, map[string]any{
		"hits":            3.0, // two single reads and one distinct batch key
		"misses":          2.0, // "missing" and "nope" once
		"byte_hits":       21.0,
		"items":           1.0,
		"bytes":           7.0,
		"oldest_item_age": 3.0,
	}, got)
}

func TestNotModifiedCountsAsAHit(t *testing.T) {
	e := newEnv(t)
	cas := e.put("k", 1)
	res := e.do(request{method: http.MethodGet, path: keyPath("k"), header: map[string]string{"If-None-Match": `"` + cas + `"`}})
	require.Equal(t, http.StatusNotModified, res.status)
	assert.InDelta(t, 1, stats(t, e)["hits"], 0)
}

func TestFlushAllEmptiesEveryNamespaceAndResetsStats(t *testing.T) {
	e := newEnv(t)
	e.put("k", 1)
	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: "/v1/ns/other/keys/k", body: `{"value": 2}`}).status)
	e.do(request{method: http.MethodGet, path: keyPath("k")})
	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: "/v1/ns/other/keys/k?seconds=60"}).status)

	res := e.do(request{method: http.MethodPost, path: "/v1/flush"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, map[string]any{"ok": true}, res.json(t))

	assert.Equal(t, map[string]any{"hits": 0.0, "misses": 0.0, "byte_hits": 0.0, "items": 0.0, "bytes": 0.0, "oldest_item_age": 0.0}, stats(t, e))
	assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: keyPath("k")}).status)
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: "/v1/ns/other/keys/k?mode=add", body: `{"value": 3}`}).status,
		"flush clears delete locks")
}

func TestServiceEndpoints(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodGet, path: "/healthz"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, map[string]any{"ok": true}, res.json(t))

	res = e.do(request{method: http.MethodGet, path: "/openapi.yaml"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "application/yaml", res.header.Get("Content-Type"))
	assert.Equal(t, api.OpenAPI, res.body)
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		want     int
		wantCode string
	}{
		{"an unknown path", http.MethodGet, "/v2/anything", 404, "not_found"},
		{"a namespace without keys", http.MethodGet, "/v1/ns/default", 404, "not_found"},
		{"PATCH on a key", http.MethodPatch, "/v1/ns/default/keys/k", 405, "method_not_allowed"},
		{"POST on a key without a method", http.MethodPost, "/v1/ns/default/keys/k", 405, "method_not_allowed"},
		{"GET on a batch", http.MethodGet, batchGet, 405, "method_not_allowed"},
		{"GET on flush", http.MethodGet, "/v1/flush", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t).do(request{method: tt.method, path: tt.path})
			assert.Equal(t, tt.want, res.status, "body: %s", res.body)
			assert.Equal(t, tt.wantCode, res.code(t))
		})
	}
}
