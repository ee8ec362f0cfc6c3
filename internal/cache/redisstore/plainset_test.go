package redisstore

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// execCalls is how many MULTI/EXEC transactions the server has run since
// its stats were last reset.
func execCalls(t *testing.T, raw rueidis.Client) int {
	t.Helper()
	info, err := raw.Do(context.Background(), raw.B().Info().Section("commandstats").Build()).ToString()
	require.NoError(t, err)
	for line := range strings.SplitSeq(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_exec:calls="); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

func TestANodeOpenedAfterAFlushStampsItsFirstSetRight(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	url, prefix := srv.url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	require.NoError(t, a.FlushAll(ctx)) // generation 1
	b := openSynced(t, url, prefix, clock)
	raw := rawClient(t, srv.addr())
	require.NoError(t, raw.Do(ctx, raw.B().ConfigResetstat().Build()).Error())

	k := key(t, "", "k")
	put(t, b, k, "1", cache.KindBytes)
	assert.Equal(t, 1, execCalls(t, raw),
		"one transaction: a stamp of generation 0 would have been written again, the item missing in between")
	it, err := a.Get(ctx, k, nil)
	require.NoError(t, err)
	assert.Equal(t, "1", string(it.Value))
}

func TestAFailedSyncLeavesThePlainSetsToTheNext(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	put(t, s, k, "1", cache.KindBytes)

	// A meta hash that is not a hash makes the sync script fail before it
	// accounts anything.
	meta := s.lay.bookkeeping(0)[0]
	require.NoError(t, raw.Do(ctx, raw.B().Rename().Key(meta).Newkey(meta+"-aside").Build()).Error())
	require.NoError(t, raw.Do(ctx, raw.B().Set().Key(meta).Value("not a hash").Build()).Error())
	require.Error(t, s.Sync(ctx))
	require.NoError(t, raw.Do(ctx, raw.B().Rename().Key(meta+"-aside").Newkey(meta).Build()).Error())

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 1, Bytes: 2}, st, "the next sync accounts the set")
}
