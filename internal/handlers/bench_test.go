package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// benchValue is a 100-byte JSON string, the value size of the HTTP load benchmark.
var benchValue = `"` + strings.Repeat("v", 98) + `"`

// discardWriter is a ResponseWriter that keeps only the status and the body
// length, so a benchmark measures the handler rather than a recorder's buffers.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (d *discardWriter) Header() http.Header { return d.h }

func (d *discardWriter) WriteHeader(status int) { d.status = status }

func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}

// reset readies d for the next request, reusing its header map as a server
// reuses nothing but the connection: the map is cleared, not kept.
func (d *discardWriter) reset() {
	clear(d.h)
	d.status, d.n = 0, 0
}

func newBenchRouter(b *testing.B, keys int) http.Handler {
	b.Helper()
	store, err := cache.NewMemory(cache.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = store.Close() })
	h := handlers.NewRouter(store, handlers.Config{})
	for i := range keys {
		body := `{"value": ` + benchValue + `}`
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, fmt.Sprintf("/v1/ns/default/keys/key-%d", i), strings.NewReader(body)))
		require.Equal(b, http.StatusOK, rec.Code, "body: %s", rec.Body)
	}
	return h
}

// BenchmarkGetHandler is one GET hit of a 100-byte JSON value through the
// whole router (middleware included), without a socket.
func BenchmarkGetHandler(b *testing.B) {
	for _, bc := range []struct {
		name   string
		accept string
	}{
		{name: "json", accept: "application/json"},
		{name: "raw", accept: "application/octet-stream"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newBenchRouter(b, 1)
			r := httptest.NewRequest(http.MethodGet, "/v1/ns/default/keys/key-0", nil)
			r.Header.Set("Accept", bc.accept)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// postBatchGet serves one batchGet of body into w and returns its status.
func postBatchGet(h http.Handler, w *discardWriter, body []byte) int {
	w.reset()
	r := httptest.NewRequest(http.MethodPost, "/v1/ns/default/keys:batchGet", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, r)
	return w.status
}

// BenchmarkBatchGet is one batchGet of 100 hits of 100-byte JSON values.
func BenchmarkBatchGet(b *testing.B) {
	const n = 100
	h := newBenchRouter(b, n)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	body, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(b, err)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		if status := postBatchGet(h, w, body); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkBatchGetScattered is BenchmarkBatchGet over 100 k items, each
// batch 100 keys drawn at random, as a cache larger than the CPU's caches
// serves them: most keys' memory is not in a CPU cache when asked for.
func BenchmarkBatchGetScattered(b *testing.B) {
	const items, n, bodies = 100_000, 100, 1000
	h := newBenchRouter(b, items)
	rnd := rand.New(rand.NewPCG(1, 2))
	reqs := make([][]byte, bodies)
	for i := range reqs {
		keys := make([]string, n)
		for j := range keys {
			keys[j] = fmt.Sprintf("key-%d", rnd.IntN(items))
		}
		body, err := json.Marshal(map[string]any{"keys": keys})
		require.NoError(b, err)
		reqs[i] = body
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if status := postBatchGet(h, w, reqs[i%bodies]); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
		i++
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkSetHandler is one PUT of a 100-byte JSON value through the whole
// router: the body read, checked (UTF-8, syntax, members) and decoded.
func BenchmarkSetHandler(b *testing.B) {
	h := newBenchRouter(b, 0)
	body := []byte(`{"value": ` + benchValue + `, "flags": 3}`)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		r := httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/key-0", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// TestABatchGetAllocatesNoMoreForMoreKeys holds batchGet's allocations to a
// count that does not grow with its keys: the response buffer, the set that
// tells duplicates apart and the value buffer are pooled, so 100 keys cost
// what 2 do.
func TestABatchGetAllocatesNoMoreForMoreKeys(t *testing.T) {
	store, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	h := handlers.NewRouter(store, handlers.Config{})
	allocs := func(n int) float64 {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("key-%d", i)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v1/ns/default/keys/"+keys[i], strings.NewReader(`{"value": `+benchValue+`}`)))
			require.Equal(t, http.StatusOK, rec.Code)
		}
		body, err := json.Marshal(map[string]any{"keys": keys})
		require.NoError(t, err)
		w := &discardWriter{h: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			if status := postBatchGet(h, w, body); status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
		})
	}
	few, many := allocs(2), allocs(100)
	slack := 1.0
	if raceEnabled {
		slack = 10 // the race detector's sync.Pool drops a quarter of what it is given; make go-test runs this without it too
	}
	assert.LessOrEqual(t, many, few+slack, "allocations per batchGet: %v for 2 keys, %v for 100", few, many)
}
