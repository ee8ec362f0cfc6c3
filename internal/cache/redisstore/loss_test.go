package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// Redis losing the store's bookkeeping (a restart without persistence, a
// FLUSHALL) behind the nodes' backs.

// TestCASIdsAreNotReusedAfterRedisLosesItsBookkeeping: after a FLUSHALL (or
// a restart without persistence) the CAS counter starts again; a node still
// holds a block of ids it reserved before, and the new counter must not
// hand out the same ids, or a stale cas overwrites newer writes.
func TestCASIdsAreNotReusedAfterRedisLosesItsBookkeeping(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	clock := cachetest.NewClock()
	prefix := uniquePrefix()
	a := openStore(t, srv.url(), Options{Clock: clock.Now, KeyPrefix: prefix})
	b := openStore(t, srv.url(), Options{Clock: clock.Now, KeyPrefix: prefix})
	raw := rawClient(t, srv.addr())
	put(t, a, key(t, "", "warm"), "x", cache.KindBytes) // a reserves a block of ids
	require.NoError(t, raw.Do(ctx, raw.B().Flushall().Build()).Error())
	clock.Advance(time.Second)

	k := key(t, "", "counter")
	stale := put(t, a, k, "0", cache.KindBytes) // an id from a's block
	seen := map[uint64]string{stale: "a's set"}
	for i := range 600 {
		_, err := b.Offset(ctx, k, cache.Delta{Amount: 1}, nil)
		require.NoError(t, err)
		f, err := b.Fetch(ctx, k, cache.FetchOptions{NoValue: true, NoBump: true}, nil)
		require.NoError(t, err)
		require.NotContains(t, seen, f.CAS, "incr %d got the id of %s", i, seen[f.CAS])
		seen[f.CAS] = "an incr"
	}
	_, err := a.Put(ctx, cache.ModeCAS, cache.Entry{Key: k, Value: []byte("clobbered"), Kind: cache.KindBytes, CAS: stale})
	assert.ErrorIs(t, err, cache.ErrCASMismatch, "a cas with the id from before 600 incrs fails")
	got, err := b.Get(ctx, k, nil)
	require.NoError(t, err)
	assert.Equal(t, "600", string(got.Value))
}

// TestStatsCountAgainAfterRedisLosesItsBookkeeping: after a FLUSHALL (or a
// restart without persistence) the flush generation starts again from 0; a
// node that had seen a later one must count its reads again at once, not
// drop them until flushes take the generation past the old one.
func TestStatsCountAgainAfterRedisLosesItsBookkeeping(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "x")
	for range 5 {
		require.NoError(t, s.FlushAll(ctx))
	}
	put(t, s, k, "v", cache.KindBytes)
	_, err := s.Get(ctx, k, nil) // seen in generation 5
	require.NoError(t, err)
	require.NoError(t, raw.Do(ctx, raw.B().Flushall().Build()).Error())

	put(t, s, k, "new", cache.KindBytes)
	for range 2 {
		got, err := s.Get(ctx, k, nil)
		require.NoError(t, err)
		assert.Equal(t, "new", string(got.Value))
	}
	_, err = s.Get(ctx, key(t, "", "none"), nil)
	require.ErrorIs(t, err, cache.ErrNotFound)
	s.tickAndWait(t)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Hits, "the reads after the loss are counted")
	assert.Equal(t, uint64(1), st.Misses)
	assert.Equal(t, uint64(1), st.Items)
}
