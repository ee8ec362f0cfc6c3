package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

var requestIDPattern = regexp.MustCompile(`^[0-9A-Za-z._:/+=-]{1,128}$`)

func TestRequestIDs(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"a sane incoming id is kept", "abc-123_x.y:z/+=", true},
		{"no incoming id gets a generated one", "", false},
		{"an id with a space is replaced", "abc 123", false},
		{"an id with a quote is replaced", `abc"123`, false},
		{"an id of 129 characters is replaced", strings.Repeat("a", 129), false},
		{"an id of 128 characters is kept", strings.Repeat("a", 128), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			e := newEnv(t, withLogs(logs))
			header := map[string]string{}
			if tt.incoming != "" {
				header["X-Request-Id"] = tt.incoming
			}
			res := e.do(request{method: http.MethodGet, path: keyPath("k"), header: header})
			id := res.header.Get("X-Request-Id")
			require.Regexp(t, requestIDPattern, id)
			if tt.keep {
				assert.Equal(t, tt.incoming, id)
			} else {
				assert.NotEqual(t, tt.incoming, id)
			}
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(logs.String()), &line), logs.String())
			assert.Equal(t, id, line["request_id"], "the log line carries the id the client got")
			assert.Equal(t, "get", line["route"])
		})
	}
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 100 {
		id := e.do(request{method: http.MethodGet, path: "/healthz"}).header.Get("X-Request-Id")
		assert.False(t, seen[id], "id %s repeated", id)
		seen[id] = true
	}
}

func TestMetricsCountRoutesNotPaths(t *testing.T) {
	e := newEnv(t)
	e.put("user:1", "x")
	e.put("user:2", "y")
	e.do(request{method: http.MethodGet, path: keyPath("user:1")})
	e.do(request{method: http.MethodGet, path: keyPath("nobody")})
	e.do(request{method: http.MethodGet, path: "/nowhere"})

	res := e.do(request{method: http.MethodGet, path: "/metrics"})
	require.Equal(t, http.StatusOK, res.status)
	assert.True(t, strings.HasPrefix(res.header.Get("Content-Type"), "text/plain"))
	out := string(res.body)
	for _, line := range []string{
		`memcached_http_requests_total{code="200",route="set"} 2`,
		`memcached_http_requests_total{code="200",route="get"} 1`,
		`memcached_http_requests_total{code="404",route="get"} 1`,
		`memcached_http_requests_total{code="404",route="none"} 1`,
		`memcached_http_request_duration_seconds_count{route="get"} 2`,
		"memcached_http_cache_hits_total 1\n",
		"memcached_http_cache_misses_total 1\n",
		"memcached_http_cache_items 2\n",
		"memcached_http_cache_evictions_total 0\n",
		"memcached_http_cache_expirations_total 0\n",
	} {
		assert.Contains(t, out, line)
	}
	assert.NotContains(t, out, "user:1", "no label holds a raw path or key")
	assert.NotContains(t, out, "nowhere")
}

func TestMetricsCountExpirationsAndEvictions(t *testing.T) {
	e := newEnv(t, func(o *cache.Options, _ *handlers.Config) {
		o.MemoryLimit, o.MaxValueSize, o.Shards = 4000, 100, 1
	})
	res := e.do(request{method: http.MethodPut, path: keyPath("short"), body: `{"value": 1, "time": 1}`})
	require.Equal(t, http.StatusOK, res.status)
	e.clock.Advance(2 * time.Second)
	e.do(request{method: http.MethodGet, path: keyPath("short")})
	for i := range 40 {
		e.put("k"+strings.Repeat("x", i), strings.Repeat("v", 80))
	}
	out := string(e.do(request{method: http.MethodGet, path: "/metrics"}).body)
	assert.Contains(t, out, "memcached_http_cache_expirations_total 1\n")
	assert.NotContains(t, out, "memcached_http_cache_evictions_total 0\n", "40 items of ~190 bytes overflow 4000 bytes")
}

// stalledStore is a backend whose Stats never answers until released.
type stalledStore struct {
	cache.Store
	release chan struct{}
}

func (s stalledStore) Stats(ctx context.Context) (cache.Stats, error) {
	<-s.release
	return cache.Stats{}, nil
}

func TestReadiness(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodGet, path: "/readyz"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, map[string]any{"ok": true}, res.json(t))

	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, mem.Close()) })
	stalled := stalledStore{Store: mem, release: make(chan struct{})}
	t.Cleanup(func() { close(stalled.release) })
	h := handlers.NewRouter(stalled, handlers.Config{ReadyTimeout: 20 * time.Millisecond})
	r := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	contracttest.Check(t, r, rec.Code, rec.Header(), rec.Body.Bytes())
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), `"unavailable"`)

	r = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusOK, rec.Code, "liveness does not depend on the store")
}

func TestRateLimit(t *testing.T) {
	limited := func(n int) option {
		return func(_ *cache.Options, c *handlers.Config) { c.RateLimit, c.RateWindow = n, time.Minute }
	}
	send := func(t *testing.T, e *env, remote, token string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/v1/ns/team-a/keys/k", nil)
		r.RemoteAddr = remote
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		contracttest.Check(t, r, rec.Code, rec.Header(), rec.Body.Bytes())
		return rec
	}

	t.Run("without tokens the limit is per client address", func(t *testing.T) {
		e := newEnv(t, limited(3))
		for i := range 3 {
			assert.Equal(t, http.StatusNotFound, send(t, e, "192.0.2.1:1000", "").Code, "request %d", i)
		}
		rec := send(t, e, "192.0.2.1:2000", "")
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		assert.Equal(t, "60", rec.Header().Get("Retry-After"))
		assert.Contains(t, rec.Body.String(), `"rate_limited"`)
		assert.Equal(t, http.StatusNotFound, send(t, e, "192.0.2.2:1000", "").Code, "another address has its own budget")
	})

	t.Run("with tokens the limit is per token", func(t *testing.T) {
		e := newEnv(t, limited(2), withTokens(t, testTokens))
		for range 2 {
			assert.Equal(t, http.StatusNotFound, send(t, e, "192.0.2.1:1000", readerToken).Code)
		}
		assert.Equal(t, http.StatusTooManyRequests, send(t, e, "192.0.2.9:1000", readerToken).Code, "a new address does not reset a token")
		assert.Equal(t, http.StatusNotFound, send(t, e, "192.0.2.1:1000", adminToken).Code, "another token has its own budget")
	})

	t.Run("probes are never limited", func(t *testing.T) {
		e := newEnv(t, limited(1))
		for range 3 {
			assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: "/healthz"}).status)
		}
	})
}

// statsCounter is the embedded engine with its Stats calls counted.
type statsCounter struct {
	*cache.Memory
	calls atomic.Int32
}

func (s *statsCounter) Stats(ctx context.Context) (cache.Stats, error) {
	s.calls.Add(1)
	return s.Memory.Stats(ctx)
}

// TestProbesReadRunningCounts pins that /readyz and a metrics scrape cost the
// same however many items the store holds: they read the counters the store
// keeps as it runs (Ping, Counts) and never call Stats, which scans.
func TestProbesReadRunningCounts(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, mem.Close()) })
	store := &statsCounter{Memory: mem}
	h := handlers.NewRouter(store, handlers.Config{})
	serve := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}
	for i := range 3 {
		require.Equal(t, http.StatusOK, serve(http.MethodPut, fmt.Sprintf("/v1/ns/default/keys/k%d", i), `{"value": "abc"}`).Code)
	}
	require.Equal(t, http.StatusOK, serve(http.MethodGet, "/v1/ns/default/keys/k0", "").Code)
	assert.Equal(t, http.StatusOK, serve(http.MethodGet, "/readyz", "").Code)
	out := serve(http.MethodGet, "/metrics", "").Body.String()
	assert.Contains(t, out, "memcached_http_cache_items 3\n")
	assert.Contains(t, out, "memcached_http_cache_bytes 21\n", `3 × ("k0" + "\"abc\"")`)
	assert.Contains(t, out, "memcached_http_cache_hits_total 1\n")
	assert.Zero(t, store.calls.Load(), "neither probe scans the store")
	assert.Equal(t, http.StatusOK, serve(http.MethodGet, "/v1/stats", "").Code)
	assert.Equal(t, int32(1), store.calls.Load(), "get_stats stays exact")
}
