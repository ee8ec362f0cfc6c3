package handlers_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// A raw PUT reads its value once into a pooled buffer, which the store
// copies: about one value's worth of allocation per write, not the two or
// more of reading into a fresh buffer first.
func TestARawPutAllocatesAboutOneValue(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{MemoryLimit: 256 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	h := handlers.NewRouter(mem, handlers.Config{})
	value := bytes.Repeat([]byte("v"), 1<<20)
	put := func(i int) {
		req := httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/k"+strconv.Itoa(i), bytes.NewReader(value))
		req.Header.Set("Content-Type", "application/octet-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	put(-1) // the pooled buffer's first allocation
	const n = 40
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		put(i)
	}
	runtime.ReadMemStats(&after)
	perPut := float64(after.TotalAlloc-before.TotalAlloc) / n
	// The race detector's pools drop a quarter of what they are given.
	assert.Less(t, perPut, 1.6*float64(len(value)), "bytes allocated per 1 MiB PUT")
}
