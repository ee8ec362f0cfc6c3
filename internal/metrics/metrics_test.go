package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(body)
}

func TestObserveCountsByRouteAndStatus(t *testing.T) {
	m := metrics.New([]string{"get", "set"}, nil, 0)
	m.Observe(0, 200, time.Millisecond)
	m.Observe(0, 200, time.Millisecond)
	m.Observe(0, 404, 2*time.Millisecond)
	m.Observe(1, 418, time.Millisecond) // a status outside the prebuilt slots
	m.Observe(1, -1, time.Millisecond)  // and one outside any table

	out := scrape(t, m)
	for _, line := range []string{
		`memcached_http_requests_total{code="200",route="get"} 2`,
		`memcached_http_requests_total{code="404",route="get"} 1`,
		`memcached_http_requests_total{code="418",route="set"} 1`,
		`memcached_http_requests_total{code="-1",route="set"} 1`,
		`memcached_http_request_duration_seconds_count{route="get"} 3`,
		`memcached_http_request_duration_seconds_bucket{route="get",le="0.001"} 2`,
		`go_goroutines `,
	} {
		assert.Contains(t, out, line)
	}
}

func TestStoreCollectorReadsStatsAndCounters(t *testing.T) {
	ctx := context.Background()
	store, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	k, err := cache.NewKey("", "k")
	require.NoError(t, err)
	_, err = store.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("12345")})
	require.NoError(t, err)
	_, err = store.Get(ctx, k, nil)
	require.NoError(t, err)

	m := metrics.New(nil, store, time.Second)
	out := scrape(t, m)
	for _, line := range []string{
		"memcached_http_cache_hits_total 1\n",
		"memcached_http_cache_misses_total 0\n",
		"memcached_http_cache_hit_bytes_total 6\n",
		"memcached_http_cache_items 1\n",
		"memcached_http_cache_bytes 6\n",
		"memcached_http_cache_evictions_total 0\n",
		"memcached_http_cache_expirations_total 0\n",
		// The default limit, and one item: its namespace, key and value bytes plus its overhead.
		"memcached_http_cache_memory_limit_bytes 6.7108864e+07\n",
		fmt.Sprintf("memcached_http_cache_charged_bytes %d\n", cache.ItemOverhead+len(cache.DefaultNamespace)+len("k")+len("12345")),
		"process_resident_memory_bytes ",
	} {
		assert.Contains(t, out, line)
	}
}

// failingStore is a backend that cannot be reached.
type failingStore struct{ cache.Store }

func (failingStore) Stats(context.Context) (cache.Stats, error) {
	return cache.Stats{}, errors.New("connection refused")
}

func TestAnUnreachableStoreLeavesTheOtherSeries(t *testing.T) {
	m := metrics.New([]string{"get"}, failingStore{}, time.Second)
	m.Observe(0, 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `memcached_http_requests_total{code="200",route="get"} 1`)
	assert.False(t, strings.Contains(rec.Body.String(), "memcached_http_cache_items"), "a store that does not answer has no cache series")
}

func BenchmarkObserve(b *testing.B) {
	m := metrics.New([]string{"get"}, nil, 0)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(0, 200, time.Microsecond)
	}
}
