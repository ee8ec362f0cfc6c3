package redisstore

import (
	"context"
	"strconv"
	"strings"
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

// breakMeta puts a string where bucket 0's meta hash was, so every script
// that reads it fails; the returned func puts the hash back.
func breakMeta(t *testing.T, raw rueidis.Client, s *Store) (restore func()) {
	t.Helper()
	ctx := context.Background()
	meta := s.lay.bookkeeping(0)[0]
	require.NoError(t, raw.Do(ctx, raw.B().Rename().Key(meta).Newkey(meta+"-aside").Build()).Error())
	require.NoError(t, raw.Do(ctx, raw.B().Set().Key(meta).Value("not a hash").Build()).Error())
	return func() {
		t.Helper()
		require.NoError(t, raw.Do(ctx, raw.B().Rename().Key(meta+"-aside").Newkey(meta).Build()).Error())
	}
}

func TestAFailedSyncLeavesThePlainSetsToTheNext(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	put(t, s, k, "1", cache.KindBytes)

	// The sync script fails before it accounts anything.
	restore := breakMeta(t, raw, s.Store)
	require.Error(t, s.Sync(ctx))
	restore()

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
		assert.Equal(t, itemHeader{gen: "3", exp: "1700000000", kind: "1", flags: "42", cas: "99", renewed: "1600000000", marks: "a"}, h)
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

// writtenNames is what bucket 0 has left to the sync's accounting.
func writtenNames(s *Store) []string {
	p := s.pend[0]
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for n := range p.written {
		names = append(names, n)
	}
	return names
}

// setNoExpiry plain-sets k to v in s, never to expire.
func setNoExpiry(t *testing.T, s syncedStore, k cache.Key, v string, ttl float64) {
	t.Helper()
	_, err := s.Put(context.Background(), cache.ModeSet, cache.Entry{Key: k, Value: []byte(v), Kind: cache.KindBytes, Time: ttl})
	require.NoError(t, err)
}

// twoNodes opens two stores sharing one prefix on the shared server, as two
// nodes of one cache, each syncing on tickAndWait only.
func twoNodes(t *testing.T) (a, b syncedStore) {
	t.Helper()
	url, prefix, clock := sharedServer(t).url(), uniquePrefix(), cachetest.NewClock()
	return openSynced(t, url, prefix, clock), openSynced(t, url, prefix, clock)
}

func TestASetReplacingAnAccountedItemOfItsSizeLeavesTheSyncNothing(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	k := key(t, "", "k")
	left := func(why string) { t.Helper(); assert.Equal(t, []string{itemName(k)}, writtenNames(a.Store), why) }
	stats := func() cache.Stats {
		t.Helper()
		st, err := a.Stats(ctx)
		require.NoError(t, err)
		return st
	}

	setNoExpiry(t, a, k, "12345", 0)
	left("a new item is left to the sync")
	a.tickAndWait(t)
	setNoExpiry(t, a, k, "54321", 0)
	assert.Empty(t, writtenNames(a.Store), "it replaced an item accounted at its size")
	setNoExpiry(t, a, k, "123", 0)
	left("another size")
	a.tickAndWait(t)
	setNoExpiry(t, a, k, "321", 60)
	left("an expiry needs the sync's exp entry")
	a.tickAndWait(t)
	setNoExpiry(t, a, k, "456", 0)
	left("nor may it replace an item with one")
	a.tickAndWait(t)

	require.NoError(t, b.Delete(ctx, k, 0)) // another node drops the item and its accounting
	setNoExpiry(t, a, k, "321", 0)
	left("nothing replaced")
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k321"))}, stats())
	_, err := b.Put(ctx, cache.ModeReplace, cache.Entry{Key: k, Value: []byte("654"), Kind: cache.KindBytes})
	require.NoError(t, err) // a script accounts it at once
	setNoExpiry(t, a, k, "999", 0)
	assert.Empty(t, writtenNames(a.Store), "a script's item is accounted")
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k999"))}, stats())

	require.NoError(t, b.FlushAll(ctx)) // a new generation: nothing is accounted
	setNoExpiry(t, a, k, "111", 0)
	left("after a flush the item is new again")
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k111"))}, stats())
}

func TestASetReplacingAnItemNotYetAccountedIsCountedByThatItemsSync(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	k := key(t, "", "k")
	stats := func() cache.Stats {
		t.Helper()
		a.tickAndWait(t)
		b.tickAndWait(t)
		st, err := a.Stats(ctx)
		require.NoError(t, err)
		return st
	}

	setNoExpiry(t, a, k, "12", 0) // left to a's sync
	setNoExpiry(t, b, k, "34", 0) // replaces it at its size: b leaves nothing
	assert.Empty(t, writtenNames(b.Store))
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k34"))}, stats(), "a's sync reads the item b wrote")

	setNoExpiry(t, b, k, "12345", 0) // another size: left to b's sync
	setNoExpiry(t, a, k, "67890", 0) // replaces b's at its size
	assert.Empty(t, writtenNames(a.Store))
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k67890"))}, stats())

	setNoExpiry(t, a, k, "1", 0)   // left to a's sync
	setNoExpiry(t, b, k, "22", 0)  // another size: left to b's
	setNoExpiry(t, a, k, "333", 0) // and again
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k333"))}, stats())
	it, err := b.Get(ctx, k, nil)
	require.NoError(t, err)
	assert.Equal(t, "333", string(it.Value))
}

func TestAFailedFlushKeepsThePlainSetsToAccount(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	setNoExpiry(t, s, k, "1", 0)

	restore := breakMeta(t, raw, s.Store)
	require.Error(t, s.FlushAll(ctx))
	restore()

	_, err := s.Get(ctx, k, nil)
	require.NoError(t, err, "the flush did not happen")
	setNoExpiry(t, s, k, "2", 0) // the same size, marked accounted
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Items, "the first set's note survived the failed flush")
}

func TestDroppedPlainSetsMakeTheProcessDistrustTheMarkUntilAFlush(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	k := key(t, "", "k")
	setNoExpiry(t, s, k, "1", 0)
	p := s.pend[0]
	p.mu.Lock()
	taken := p.written
	p.written = make(map[string]wrote, maxTouched)
	for i := range maxTouched {
		p.written[strconv.Itoa(i)] = wrote{size: -1}
	}
	p.mu.Unlock()
	p.putBack(accounting{names: []string{itemName(k)}, written: taken}) // a failed sync, with no room left
	assert.True(t, p.lost.Load())
	p.mu.Lock()
	p.written = nil // as if synced since, without k
	p.mu.Unlock()

	setNoExpiry(t, s, k, "2", 0)
	assert.Equal(t, []string{itemName(k)}, writtenNames(s.Store), "left to the sync despite the mark")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Items, "counted again")

	require.NoError(t, s.FlushAll(ctx))
	assert.False(t, p.lost.Load(), "a flush hides the dropped sets' items")
	setNoExpiry(t, s, k, "3", 0)
	require.NoError(t, s.Sync(ctx))
	setNoExpiry(t, s, k, "4", 0)
	assert.Empty(t, writtenNames(s.Store))
}

func TestALargeValueIsLeftToTheSyncWithoutBringingTheOldOneBack(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	k := key(t, "", "k")
	big := strings.Repeat("x", maxCarriedValue+1)
	setNoExpiry(t, s, k, big, 0)
	require.NoError(t, s.Sync(ctx))
	setNoExpiry(t, s, k, big, 0)
	assert.Equal(t, []string{itemName(k)}, writtenNames(s.Store), "no GET of the old value: the sync accounts it")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k") + len(big))}, st)
}
