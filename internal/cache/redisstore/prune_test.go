package redisstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// TestEvictedItemsLeaveNoBookkeepingBehind runs the README's Redis settings
// (maxmemory with volatile-lru) with many more distinct keys than fit: Redis
// evicts items, and the lru and sz entries they leave must be pruned, or
// they fill Redis and every write fails (OOM), flush included.
func TestEvictedItemsLeaveNoBookkeepingBehind(t *testing.T) {
	srv, err := startServer(redisServerPath(t), t.TempDir(), "--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru")
	require.NoError(t, err)
	t.Cleanup(srv.stop)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 64))
	const rounds, perRound = 40, 1000
	for r := range rounds {
		for i := range perRound {
			k, err := cache.NewKey("", fmt.Sprintf("key-%d-%d", r, i))
			require.NoError(t, err)
			_, err = s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: value, Kind: cache.KindBytes})
			require.NoError(t, err, "round %d: a set under maxmemory", r)
		}
		s.tickAndWait(t) // the sync accounts the sets, then prunes
	}
	books := s.lay.bookkeeping(0)
	entries, err := raw.Do(ctx, raw.B().Zcard().Key(books[1]).Build()).AsInt64()
	require.NoError(t, err)
	keys, err := raw.Do(ctx, raw.B().Dbsize().Build()).AsInt64()
	require.NoError(t, err)
	evicted, err := s.evictedKeys(ctx)
	require.NoError(t, err)
	t.Logf("%d sets, %d evicted, %d keys left, %d lru entries", rounds*perRound, evicted, keys, entries)
	require.Greater(t, evicted, int64(rounds*perRound/2), "the test needs Redis to evict most items")
	assert.LessOrEqual(t, entries, 2*keys, "lru entries for evicted items are pruned")
	assert.NoError(t, s.FlushAll(ctx), "a flush still works")
}
