package cache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

func TestCountersCountEvictionsAndExpirationsAndSurviveFlush(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	m, err := cache.NewMemory(cache.Options{MemoryLimit: 2000, MaxValueSize: 100, Shards: 1, Clock: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })

	put := func(name string, ttl float64) {
		k, err := cache.NewKey("", name)
		require.NoError(t, err)
		_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: make([]byte, 100), Kind: cache.KindBytes, Time: ttl})
		require.NoError(t, err)
	}
	put("short", 1)
	now = now.Add(2 * time.Second)
	k, _ := cache.NewKey("", "short")
	_, err = m.Get(ctx, k, nil)
	require.ErrorIs(t, err, cache.ErrNotFound)
	assert.Equal(t, cache.Counters{Expirations: 1}, m.Counters(), "a read of an expired item reclaims it")

	// Each item charges ItemOverhead + 7 + len(name) + 100 bytes, so 2000 bytes hold
	// ten of them and the rest evict one each.
	for i := range 20 {
		put("k"+strconv.Itoa(i), 0)
	}
	st, err := m.Stats(ctx)
	require.NoError(t, err)
	got := m.Counters()
	assert.Equal(t, uint64(20)-st.Items, got.Evictions, "every item that is gone was evicted")
	assert.Equal(t, uint64(1), got.Expirations)

	require.NoError(t, m.FlushAll(ctx))
	assert.Equal(t, got, m.Counters(), "FlushAll keeps the lifetime counters")
}

func TestCountersIgnoreExpiredDeleteLocks(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	m, err := cache.NewMemory(cache.Options{Clock: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	k, err := cache.NewKey("", "locked")
	require.NoError(t, err)
	_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("1")})
	require.NoError(t, err)
	require.NoError(t, m.Delete(ctx, k, 1))
	now = now.Add(2 * time.Second)
	_, err = m.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Counters{}, m.Counters())
}
