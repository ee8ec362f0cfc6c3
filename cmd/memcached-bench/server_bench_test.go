package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// These benchmarks exist to profile memcached-http's GET path, which has no
// pprof endpoint of its own:
//
//	go test -run '^$' -bench ServerGet -cpuprofile cpu.out ./cmd/memcached-bench
//	go tool pprof -top -cum cpu.out

// newServerHandler builds the server's handler as cmd/memcached-http does,
// with a logger that is enabled but filters request lines, like -log-level warn.
func newServerHandler(b *testing.B) http.Handler {
	b.Helper()
	store, err := cache.NewMemory(cache.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { store.Close() })
	logger := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return handlers.NewRouter(store, handlers.Config{Logger: logger})
}

// storeValue puts the benchmark's 100-byte JSON string under key k1.
func storeValue(b *testing.B, h http.Handler) {
	b.Helper()
	req := httptest.NewRequest(http.MethodPut, "/v1/ns/bench/keys/k1", strings.NewReader(`{"value":"`+string(valueBytes(100))+`"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
}

// BenchmarkServerGetHandler is the handler alone: routing, decoding, the
// store and the JSON reply, without sockets.
func BenchmarkServerGetHandler(b *testing.B) {
	h := newServerHandler(b)
	storeValue(b, h)
	req := httptest.NewRequest(http.MethodGet, "/v1/ns/bench/keys/k1", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET answered %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkServerBatchGetHandler is one batchGet of 100 stored keys through
// the handler alone, to set against 100 × BenchmarkServerGetHandler.
func BenchmarkServerBatchGetHandler(b *testing.B) {
	h := newServerHandler(b)
	body := []byte(`{"items":[`)
	keys := []byte(`{"keys":[`)
	for i := range 100 {
		if i > 0 {
			body, keys = append(body, ','), append(keys, ',')
		}
		key := string(appendKey(nil, 'k', uint64(i)))
		body = append(body, `{"key":"`+key+`","value":"`+string(valueBytes(100))+`"}`...)
		keys = append(keys, `"`+key+`"`...)
	}
	body, keys = append(body, "]}"...), append(keys, "]}"...)
	req := httptest.NewRequest(http.MethodPost, "/v1/ns/bench/keys:batchSet", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/ns/bench/keys:batchGet", bytes.NewReader(keys))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"k99"`)) {
			b.Fatalf("batchGet answered %d: %.200s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkServerGetLoopback is the whole request over one keep-alive
// loopback connection: net/http's server plus the handler, with this
// package's cheap client on the other end.
func BenchmarkServerGetLoopback(b *testing.B) {
	h := newServerHandler(b)
	storeValue(b, h)
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := dial(addr, time.Second)
	require.NoError(b, err)
	defer c.Close()
	req := []byte("GET /v1/ns/bench/keys/k1 HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		status, _, err := c.do(req)
		if err != nil || status != http.StatusOK {
			b.Fatalf("GET answered %d: %v", status, err)
		}
	}
}

// BenchmarkCeilingLoopback is the same exchange against the fixed-body
// handler, the per-request floor of net/http on this machine.
func BenchmarkCeilingLoopback(b *testing.B) {
	srv := httptest.NewServer(fixedHandler(100))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := dial(addr, time.Second)
	require.NoError(b, err)
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if status, _, err := c.do(req); err != nil || status != http.StatusOK {
			b.Fatalf("GET answered %d: %v", status, err)
		}
	}
}
