package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// setCalls is how many SET commands the server has run since its stats
// were last reset.
func setCalls(t *testing.T, raw rueidis.Client) int {
	t.Helper()
	return commandCalls(t, raw, "set")
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
	assert.Equal(t, 1, setCalls(t, raw),
		"one SET: a stamp of generation 0 would have been written again, the item missing in between")
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

func TestASweepKeepsAnItemAPlainSetRewroteWithoutItsExpiry(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	k := key(t, "", "k")
	_, err := s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("1"), Kind: cache.KindBytes, Time: 5})
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx)) // its exp entry: start+5
	_, err = s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("22"), Kind: cache.KindBytes})
	require.NoError(t, err) // never expires; the exp entry is stale until the sync
	clock.Advance(10 * time.Second)
	// A script's sweep comes before the sync that would mend the entry.
	assert.ErrorIs(t, s.Delete(ctx, key(t, "", "other"), 0), cache.ErrNotFound) // its script sweeps first
	it, err := s.Get(ctx, k, nil)
	require.NoError(t, err, "the sweep read the item before removing it")
	assert.Equal(t, "22", string(it.Value))
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Items)
	assert.Equal(t, uint64(len("k")+2), st.Bytes)
}

func TestItemStringsCarryAnyValueBytes(t *testing.T) {
	for _, v := range []string{"", "plain", "a|b,c|", "\x00\xff|,,|\r\n"} {
		blob := appendItem(nil, 3, 1700000000, 1, 42, 99, 1600000000, []byte(v))
		h, value, err := parseItem(string(blob))
		require.NoError(t, err)
		assert.Equal(t, v, value)
		assert.Equal(t, itemHeader{gen: "3", exp: "1700000000", kind: "1", flags: "42", cas: "99", renewed: "1600000000"}, h)
	}
	for _, bad := range []string{"", "no bar", "1,2,3|v"} {
		_, _, err := parseItem(bad)
		assert.ErrorIs(t, err, errBadItem, "%q", bad)
	}
}

func TestTheHitBeforeMarkIsAddedToAHeadersMarks(t *testing.T) {
	assert.Equal(t, "5,0,1,0,123,1700000000,h,|", markedHeader("5,0,1,0,123,1700000000,,|"))
	assert.Equal(t, "5,0,1,0,123,,xh,|", markedHeader("5,0,1,0,123,,x,|"))
}
