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

// syncedStore is a store whose sync loop runs only when the test ticks it.
type syncedStore struct {
	*Store
	tick   chan time.Time
	synced chan struct{}
}

// openSynced opens a store on url with the given clock and prefix whose
// loop syncs on tickAndWait only.
func openSynced(t *testing.T, url, prefix string, clock *cachetest.Clock) syncedStore {
	t.Helper()
	ss := syncedStore{tick: make(chan time.Time), synced: make(chan struct{})}
	ss.Store = openStore(t, url, Options{
		Clock: clock.Now, KeyPrefix: prefix,
		syncTick: ss.tick, synced: func() { ss.synced <- struct{}{} },
	})
	return ss
}

// tickAndWait runs one sync of the loop, as SyncInterval would, and waits
// for it to end.
func (ss syncedStore) tickAndWait(t *testing.T) {
	t.Helper()
	select {
	case ss.tick <- time.Time{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the sync loop took no tick")
	}
	select {
	case <-ss.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("the sync did not end")
	}
}

// metaCounters reads a bucket's counters behind the store's back.
func metaCounters(t *testing.T, url string, s *Store) map[string]int64 {
	t.Helper()
	copt, err := rueidis.ParseURL(url)
	require.NoError(t, err)
	raw := rawClient(t, copt.InitAddress...)
	m, err := raw.Do(context.Background(), raw.B().Hgetall().Key(s.lay.bookkeeping(0)[0]).Build()).AsIntMap()
	require.NoError(t, err)
	return m
}

func TestReadBookkeepingIsBatchedAndSyncedBeforeStats(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	k := key(t, "", "k")
	put(t, s, k, "12345", cache.KindBytes)
	for range 3 {
		_, err := s.Get(ctx, k, nil)
		require.NoError(t, err)
	}
	_, err := s.Get(ctx, key(t, "", "nope"), nil)
	require.ErrorIs(t, err, cache.ErrNotFound)

	m := metaCounters(t, srv.url(), s.Store)
	assert.Zero(t, m["hits"]+m["misses"]+m["bh"], "plain reads leave Redis' counters alone until a sync: %v", m)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 3, Misses: 1, ByteHits: 3 * (1 + 5), Items: 1, Bytes: 6}, st, "stats sync this process first")
	m = metaCounters(t, srv.url(), s.Store)
	assert.Equal(t, int64(3), m["hits"], "synced once, not twice")
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Counts{Hits: 3, Misses: 1, ByteHits: 18, Items: 1, Bytes: 6}, c)
}

func TestCountsOfTwoStoresConvergeWithinTheSyncInterval(t *testing.T) {
	ctx := context.Background()
	url, prefix := sharedServer(t).url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	b := openSynced(t, url, prefix, clock)
	old, young := key(t, "", "old"), key(t, "", "young")
	put(t, b, old, "1", cache.KindBytes)
	put(t, b, young, "1", cache.KindBytes)
	clock.Advance(10 * time.Second)
	put(t, b, young, "2", cache.KindBytes) // an overwrite: its access time waits for b's sync
	clock.Advance(5 * time.Second)
	for range 2 {
		_, err := a.Get(ctx, old, nil)
		require.NoError(t, err)
	}
	_, err := a.Get(ctx, key(t, "", "nope"), nil)
	require.ErrorIs(t, err, cache.ErrNotFound)

	m := metaCounters(t, url, a.Store)
	assert.Zero(t, m["hits"]+m["misses"], "a's reads wait in a: %v", m)
	st, err := a.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 2, Misses: 1, ByteHits: 2 * 4}, st,
		"a syncs itself first; the accounting and lru entries of b's plain sets wait for b's sync")
	st, err = b.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 2, Misses: 1, ByteHits: 2 * 4, Items: 2, Bytes: 10, OldestItemAge: 15}, st,
		"b syncs its sets' accounting; a's read of old came before old had an lru entry, so old's write time stands")

	clock.Advance(time.Second)
	_, err = a.Get(ctx, old, nil)
	require.NoError(t, err)
	st, err = b.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Hits, "a's new read is not in b's stats before a syncs")
	a.tickAndWait(t)
	st, err = b.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 3, Misses: 1, ByteHits: 3 * 4, Items: 2, Bytes: 10, OldestItemAge: 6}, st, "one interval later b sees all of a's reads")

	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}

func TestCloseSyncsWhatIsPending(t *testing.T) {
	ctx := context.Background()
	url, prefix := sharedServer(t).url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	b := openSynced(t, url, prefix, clock)
	k := key(t, "", "k")
	put(t, a, k, "1", cache.KindBytes)
	_, err := a.Get(ctx, k, nil)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	st, err := b.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Hits)
}

func TestAFlushVoidsReadsCountedBeforeIt(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	url, prefix := srv.url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	b := openSynced(t, url, prefix, clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	put(t, a, k, "1", cache.KindBytes)
	_, err := a.Get(ctx, k, nil)
	require.NoError(t, err)

	require.NoError(t, b.FlushAll(ctx))
	a.tickAndWait(t)
	st, err := b.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{}, st, "the hit a counted before another node's flush is void")

	put(t, a, k, "1", cache.KindBytes)
	_, err = a.Get(ctx, k, nil)
	require.NoError(t, err)
	require.NoError(t, b.FlushAll(ctx))
	_, err = a.Get(ctx, k, nil)
	require.ErrorIs(t, err, cache.ErrNotFound, "a plain read sees another node's flush at once")
	a.tickAndWait(t)
	st, err = b.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Misses: 1}, st, "the hit before the flush is void, the miss after it counts")

	// An item key left over from before the flush (the reap had not reached
	// it yet) is invisible to a plain read.
	item := a.lay.itemPrefix(0) + itemName(k)
	require.NoError(t, raw.Do(ctx, raw.B().Set().Key(item).Value(string(appendItem(nil, 0, 0, 1, 0, 1, 0, []byte("old")))).Build()).Error())
	_, err = a.Get(ctx, k, nil)
	require.ErrorIs(t, err, cache.ErrNotFound, "an item of an older generation")
	items, err := a.GetMulti(ctx, []cache.Key{k}, 0)
	require.NoError(t, err)
	assert.Empty(t, items)
}

func TestLateAccessTimesNeitherResurrectNorAgeItems(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	gone, rewritten := key(t, "", "gone"), key(t, "", "rewritten")
	put(t, s, gone, "1", cache.KindBytes)
	put(t, s, rewritten, "1", cache.KindBytes)
	clock.Advance(5 * time.Second)
	for _, k := range []cache.Key{gone, rewritten} {
		_, err := s.Get(ctx, k, nil) // access at +5, pending
		require.NoError(t, err)
	}
	require.NoError(t, s.Delete(ctx, gone, 0))
	clock.Advance(5 * time.Second)
	_, err := s.Offset(ctx, rewritten, cache.Delta{Amount: 1}, nil) // a script's access at +10
	require.NoError(t, err)
	s.tickAndWait(t)

	lru := s.lay.bookkeeping(0)[1]
	err = raw.Do(ctx, raw.B().Zscore().Key(lru).Member(itemName(gone)).Build()).Error()
	assert.True(t, rueidis.IsRedisNil(err), "a deleted item stays out of the lru zset: %v", err)
	score, err := raw.Do(ctx, raw.B().Zscore().Key(lru).Member(itemName(rewritten)).Build()).AsFloat64()
	require.NoError(t, err)
	assert.Equal(t, float64(cachetest.Start.Unix()+10), score, "the later access time stays")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 2, ByteHits: 5 + 10, Items: 1, Bytes: 10}, st)
}

func TestExpiredItemsAreSweptByTheSync(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	k, kept := key(t, "", "k"), key(t, "", "kept")
	_, err := s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("1"), Kind: cache.KindBytes, Time: 5})
	require.NoError(t, err)
	put(t, s, kept, "1", cache.KindBytes)
	clock.Advance(7 * time.Second)
	_, err = s.Get(ctx, k, nil)
	require.ErrorIs(t, err, cache.ErrNotFound, "expired by the injected clock")
	s.tickAndWait(t)

	n, err := raw.Do(ctx, raw.B().Exists().Key(s.lay.itemPrefix(0)+itemName(k)).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n, "the sync unlinked the expired item, with no Stats call")
	m := metaCounters(t, srv.url(), s.Store)
	assert.Equal(t, map[string]int64{"items": 1, "bytes": 5, "misses": 1}, map[string]int64{"items": m["items"], "bytes": m["bytes"], "misses": m["misses"]})
	assert.Zero(t, m["hits"], "an expired item is no hit")
}

func TestTheHitBeforeMarkIsExactAfterAPlainRead(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	url, prefix := srv.url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	b := openSynced(t, url, prefix, clock)
	k := key(t, "", "k")
	put(t, a, k, "v", cache.KindBytes)
	clock.Advance(5 * time.Second)
	_, err := a.Get(ctx, k, nil)
	require.NoError(t, err)
	clock.Advance(2 * time.Second)

	f, err := a.Fetch(ctx, k, cache.FetchOptions{NoBump: true}, nil)
	require.NoError(t, err)
	assert.True(t, f.HitBefore, "the same node")
	assert.Equal(t, int64(2), f.Idle, "the idle time counts from the read still waiting for the sync")
	f, err = b.Fetch(ctx, k, cache.FetchOptions{NoBump: true}, nil)
	require.NoError(t, err)
	assert.True(t, f.HitBefore, "another node, before any sync")

	// The mark goes to the version read and no other.
	raw := rawClient(t, srv.addr())
	it, err := a.Get(ctx, k, nil)
	require.NoError(t, err)
	put(t, a, k, "w", cache.KindBytes)
	item := a.lay.itemPrefix(0) + itemName(k)
	require.NoError(t, a.eval(ctx, markLua, []call{{keys: []string{item}, args: []string{strconv.FormatUint(it.CAS, 10)}}})[0].Error())
	blob, err := raw.Do(ctx, raw.B().Get().Key(item).Build()).ToString()
	require.NoError(t, err)
	h, _, err := parseItem(blob)
	require.NoError(t, err)
	assert.NotContains(t, h.marks, "h", "a rewritten value is not marked by a read of the one before")
	f, err = b.Fetch(ctx, k, cache.FetchOptions{}, nil)
	require.NoError(t, err)
	assert.False(t, f.HitBefore)
}

func TestAValueThisProcessWroteIsMarkedHitBeforeWithTheReadItself(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	url, prefix := srv.url(), uniquePrefix()
	clock := cachetest.NewClock()
	late := 0
	a := openStore(t, url, Options{Clock: clock.Now, KeyPrefix: prefix, markedLate: func() { late++ }})
	b := openStore(t, url, Options{Clock: clock.Now, KeyPrefix: prefix})
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	item := a.lay.itemPrefix(0) + itemName(k)
	marks := func() string {
		t.Helper()
		blob, err := raw.Do(ctx, raw.B().Get().Key(item).Build()).ToString()
		require.NoError(t, err)
		h, _, err := parseItem(blob)
		require.NoError(t, err)
		return h.marks
	}
	read := func(s *Store) {
		t.Helper()
		_, err := s.Get(ctx, k, nil)
		require.NoError(t, err)
	}

	// As after any earlier mark: a fresh Redis refuses the first EVALSHA (below).
	require.NoError(t, raw.Do(ctx, raw.B().ScriptLoad().Script(markLua.src).Build()).Error())
	put(t, a, k, "v", cache.KindBytes)
	read(a)
	assert.Zero(t, late, "the mark of a value this process wrote goes with the read")
	assert.Contains(t, marks(), "h")
	f, err := b.Fetch(ctx, k, cache.FetchOptions{NoBump: true}, nil)
	require.NoError(t, err)
	assert.True(t, f.HitBefore, "another node sees the mark once the read has answered")

	put(t, b, k, "w", cache.KindBytes)
	read(a)
	assert.Equal(t, 1, late, "a value another node wrote is marked in a round trip of its own")
	assert.Contains(t, marks(), "h")

	// This process's guess is out of date: another node wrote after it.
	put(t, a, k, "x", cache.KindBytes)
	put(t, b, k, "y", cache.KindBytes)
	read(a)
	assert.Equal(t, 2, late, "a mark sent for a version that is gone is followed by one for the version read")
	assert.Contains(t, marks(), "h")

	// A read that finds the value already marked sends nothing more.
	read(a)
	assert.Equal(t, 2, late)

	// A Redis that lost its scripts (a restart) refuses the mark sent with
	// the read; the read then marks the value in a round trip of its own.
	put(t, a, k, "z", cache.KindBytes)
	require.NoError(t, raw.Do(ctx, raw.B().ScriptFlush().Build()).Error())
	read(a)
	assert.Equal(t, 3, late, "a refused mark is sent again")
	assert.Contains(t, marks(), "h")
}

func TestAPlainSetIsAccountedByTheSyncWhateverHappenedToItSince(t *testing.T) {
	ctx := context.Background()
	url, prefix := sharedServer(t).url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	b := openSynced(t, url, prefix, clock)
	counter, deleted, replaced := key(t, "", "counter"), key(t, "", "deleted"), key(t, "", "replaced")
	put(t, a, counter, "9", cache.KindBytes)
	_, err := b.Offset(ctx, counter, cache.Delta{Amount: 1}, nil) // one digit longer: the script accounts it
	require.NoError(t, err)
	put(t, a, deleted, "1", cache.KindBytes)
	require.NoError(t, b.Delete(ctx, deleted, 0))
	put(t, a, replaced, "1", cache.KindBytes)
	_, err = b.Put(ctx, cache.ModeReplace, cache.Entry{Key: replaced, Value: []byte("123"), Kind: cache.KindBytes})
	require.NoError(t, err)

	a.tickAndWait(t)
	b.tickAndWait(t)
	st, err := a.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 2, Bytes: uint64(len("counter10") + len("replaced123"))}, st)
}

func TestAPlainSetOverlappingAFlushLandsAfterIt(t *testing.T) {
	ctx := context.Background()
	url, prefix := sharedServer(t).url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openSynced(t, url, prefix, clock)
	b := openSynced(t, url, prefix, clock)
	k := key(t, "", "k")
	put(t, a, k, "1", cache.KindBytes) // a has seen generation 0
	require.NoError(t, b.FlushAll(ctx))
	cas := put(t, a, k, "2", cache.KindBytes) // stamped 0, read back 1, written again
	for _, s := range []syncedStore{a, b} {
		it, err := s.Get(ctx, k, nil)
		require.NoError(t, err, "the set is not lost to the flush it overlapped")
		assert.Equal(t, "2", string(it.Value))
		assert.Equal(t, cas, it.CAS)
	}
	st, err := a.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 1, ByteHits: 2, Items: 1, Bytes: 2}, st, "counted once, after a's sync; b's read waits in b")
}

func TestCASIdsOfTwoNodesNeverRepeat(t *testing.T) {
	url, prefix := sharedServer(t).url(), uniquePrefix()
	clock := cachetest.NewClock()
	stores := []syncedStore{openSynced(t, url, prefix, clock), openSynced(t, url, prefix, clock)}
	k := key(t, "", "k")
	seen := map[uint64]bool{}
	last := map[int]uint64{}
	for i := range 3 * casBlockSize {
		cas := put(t, stores[i%2], k, strconv.Itoa(i), cache.KindBytes)
		require.False(t, seen[cas], "id %d handed out twice", cas)
		seen[cas] = true
		assert.Greater(t, cas, last[i%2], "ids increase per node")
		last[i%2] = cas
	}
}

func TestASyncGoesOutInRoundTripsOfAboutOneChunk(t *testing.T) {
	assert.Empty(t, batchEnds(nil, 128))
	assert.Equal(t, []int{3}, batchEnds([]int{1, 1, 1}, 128), "a cluster's small buckets share a round trip")
	assert.Equal(t, []int{1, 2, 3}, batchEnds([]int{129, 129, 129}, 128), "full chunks go one by one")
	assert.Equal(t, []int{2, 3, 5}, batchEnds([]int{100, 28, 129, 64, 64}, 128))
}

// lruScore is item k's access time in the lru zset, behind the store's back.
func lruScore(t *testing.T, raw rueidis.Client, s *Store, k cache.Key) int64 {
	t.Helper()
	score, err := raw.Do(context.Background(), raw.B().Zscore().Key(s.lay.bookkeeping(0)[1]).Member(itemName(k)).Build()).AsFloat64()
	require.NoError(t, err)
	return int64(score)
}

func TestAnAccessTimeIsWrittenOncePerTouchIntervalAndInFullBeforeStats(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openSynced(t, srv.url(), uniquePrefix(), clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	start := cachetest.Start.Unix()
	put(t, s, k, "v", cache.KindBytes)
	s.tickAndWait(t)
	require.Equal(t, start, lruScore(t, raw, s.Store, k), "the first access goes out with the first sync")

	clock.Advance(10 * time.Second)
	_, err := s.Get(ctx, k, nil)
	require.NoError(t, err)
	s.tickAndWait(t)
	assert.Equal(t, start, lruScore(t, raw, s.Store, k), "an access within the interval waits in the process")
	f, err := s.Fetch(ctx, k, cache.FetchOptions{NoBump: true}, nil)
	require.NoError(t, err)
	assert.Zero(t, f.Idle, "this process's idle time counts from the access it holds")

	clock.Advance(DefaultTouchInterval)
	s.tickAndWait(t)
	assert.Equal(t, start+10, lruScore(t, raw, s.Store, k), "once the interval is over the held access goes out")

	_, err = s.Get(ctx, k, nil) // at +70, held again
	require.NoError(t, err)
	s.tickAndWait(t)
	require.Equal(t, start+10, lruScore(t, raw, s.Store, k))
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.OldestItemAge, "Stats writes every held access first")
	assert.Equal(t, start+70, lruScore(t, raw, s.Store, k))
}

// commandCalls is how many times Redis ran cmd since its stats were reset.
func commandCalls(t *testing.T, raw rueidis.Client, cmd string) int {
	t.Helper()
	info, err := raw.Do(context.Background(), raw.B().Info().Section("commandstats").Build()).ToString()
	require.NoError(t, err)
	for line := range strings.SplitSeq(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

func TestARewriteAtTheAccountedSizeIsSyncedWithoutReadingTheItem(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	clock := cachetest.NewClock()
	prefix := uniquePrefix()
	a := openSynced(t, srv.url(), prefix, clock)
	b := openSynced(t, srv.url(), prefix, clock)
	raw := rawClient(t, srv.addr())
	k := key(t, "", "k")
	put(t, a, k, "12345", cache.KindBytes)
	a.tickAndWait(t)
	require.NoError(t, raw.Do(ctx, raw.B().ConfigResetstat().Build()).Error())

	put(t, a, k, "54321", cache.KindBytes)
	a.tickAndWait(t)
	assert.Zero(t, commandCalls(t, raw, "mget"), "accounted at the size written: nothing to read")
	put(t, a, k, "123", cache.KindBytes)
	a.tickAndWait(t)
	assert.Equal(t, 1, commandCalls(t, raw, "mget"), "a new size is read from the item")
	st, err := a.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k123"))}, st)

	require.NoError(t, b.Delete(ctx, k, 0)) // another node drops the accounting
	put(t, a, k, "321", cache.KindBytes)    // the size a accounted before
	a.tickAndWait(t)
	st, err = a.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 1, Bytes: uint64(len("k321"))}, st, "an item no longer accounted is read and counted again")
}

func TestTwoWritesOfOneItemThatDifferMakeTheSyncReadIt(t *testing.T) {
	var p pending
	p.noteWrittenLocked("ns:k", wrote{at: 1, size: 3})
	p.noteWrittenLocked("ns:k", wrote{at: 2, size: 3})
	assert.Equal(t, wrote{at: 2, size: 3}, p.written["ns:k"], "the same size: still known")
	p.noteWrittenLocked("ns:k", wrote{at: 1, size: 4})
	assert.Equal(t, wrote{at: 2, size: -1}, p.written["ns:k"], "either may have landed last")
	p.noteWrittenLocked("ns:j", wrote{at: 1, size: 3})
	p.noteWrittenLocked("ns:j", wrote{at: 1, size: 3, exp: 9})
	assert.Equal(t, -1, p.written["ns:j"].size, "a different expiry too")
}

func TestReadsAndSetsRacingPeriodicSyncsWhileAccessesAreHeld(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock()
	s := openSynced(t, sharedServer(t).url(), uniquePrefix(), clock)
	// More keys than a sync splits between two yields, so the readers run
	// while it is halfway through them.
	keys := make([]cache.Key, 1500)
	for i := range keys {
		keys[i] = key(t, "", "k"+strconv.Itoa(i))
		put(t, s, keys[i], "v", cache.KindBytes)
	}
	s.tickAndWait(t) // every access written: the next ones are held
	done := make(chan struct{})
	errs := make(chan error, 3)
	for w := range 3 {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				k := keys[i%len(keys)]
				var err error
				switch w {
				case 0:
					_, err = s.Get(ctx, k, nil)
				case 1:
					_, err = s.Fetch(ctx, k, cache.FetchOptions{NoBump: true}, nil) // reads the accesses a sync is splitting
				default:
					_, err = s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("v"), Kind: cache.KindBytes})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 20 {
		s.tickAndWait(t) // the race detector watches the held accesses go back to the bucket
	}
	close(done)
	for range 3 {
		require.NoError(t, <-errs)
	}
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(keys)), st.Items)
	var bytes int
	for _, k := range keys {
		bytes += len(k.Name) + len("v")
	}
	assert.Equal(t, uint64(bytes), st.Bytes)
}

func TestHeldAccessesWaitForTheNextPeriodAndDieWithTheirGeneration(t *testing.T) {
	p := &pending{}
	send := p.hold(100, 60, 3, map[string]touch{"ns:a": {at: 100}})
	assert.Contains(t, send, "ns:a", "the first access of a period goes out")
	send = p.hold(101, 60, 3, map[string]touch{"ns:a": {at: 101}, "ns:b": {at: 101}})
	assert.Equal(t, map[string]touch{"ns:b": {at: 101}}, send, "a's access waits, b's first goes")
	assert.Equal(t, map[string]touch{"ns:a": {at: 101}}, p.held)
	send = p.hold(102, 60, 3, map[string]touch{"ns:a": {at: 102, renew: true}})
	assert.Contains(t, send, "ns:a", "a renewal never waits")

	p.hold(103, 60, 3, map[string]touch{"ns:a": {at: 103}})
	assert.Nil(t, p.hold(104, 60, 2, map[string]touch{"ns:a": {at: 104}}), "observed before a flush the held ones came after: void")
	assert.Equal(t, touch{at: 103}, p.held["ns:a"], "and the held ones stay")
	send = p.hold(161, 60, 3, nil)
	assert.Equal(t, map[string]touch{"ns:a": {at: 103}}, send, "a new period sends what was held")
	assert.Empty(t, p.held)

	p.hold(162, 60, 3, map[string]touch{"ns:a": {at: 162}})
	p.hold(163, 60, 3, map[string]touch{"ns:a": {at: 163}})
	require.NotEmpty(t, p.held)
	send = p.hold(164, 60, 4, map[string]touch{"ns:c": {at: 164}})
	assert.Equal(t, map[string]touch{"ns:c": {at: 164}}, send, "a flush voids the held accesses")
	assert.Empty(t, p.held)
	assert.Equal(t, map[string]touch{"ns:d": {at: 1}}, p.takeHeld(4, map[string]touch{"ns:d": {at: 1}}))
}
