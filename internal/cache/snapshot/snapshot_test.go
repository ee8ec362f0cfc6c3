package snapshot_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/cache/snapshot"
)

func newStore(t *testing.T, clock *cachetest.Clock, limit int64) *cache.Memory {
	t.Helper()
	m, err := cache.NewMemory(cache.Options{MemoryLimit: limit, MaxValueSize: 4096, Shards: 8, Clock: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func key(t *testing.T, ns, name string) cache.Key {
	t.Helper()
	k, err := cache.NewKey(ns, name)
	require.NoError(t, err)
	return k
}

// fill stores n entries of every kind the store holds, in turn: JSON values
// without expiry, byte values with a relative time and flags, counters,
// JSON values with an absolute time, delete locks, items marked stale and
// empty items whose recache lease was handed out; every third is read.
func fill(t *testing.T, m *cache.Memory, n int) {
	t.Helper()
	ctx := t.Context()
	absolute := float64(cachetest.Start.Unix() + 86_400)
	one := uint64(1)
	for i := range n {
		ns := []string{"default", "team-a.b_c"}[i%2]
		k := key(t, ns, "key:"+strconv.Itoa(i))
		var err error
		switch i % 7 {
		case 0:
			_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: fmt.Appendf(nil, `{"n":%d}`, i), Kind: cache.KindJSON})
		case 1:
			_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte{byte(i), 0, 0xff, byte(i >> 8)}, Kind: cache.KindBytes, Flags: uint32(i), Time: 3600})
		case 2:
			_, err = m.Offset(ctx, k, cache.Delta{Amount: uint64(i)}, &one)
		case 3:
			_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(`"s"`), Kind: cache.KindJSON, Flags: 7, Time: absolute})
		case 4:
			_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("gone"), Kind: cache.KindBytes})
			require.NoError(t, err)
			err = m.Delete(ctx, k, 600)
		case 5:
			_, err = m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("old"), Kind: cache.KindBytes, Time: 600})
			require.NoError(t, err)
			_, err = m.Invalidate(ctx, k, cache.InvalidateOptions{Stale: true})
		case 6:
			_, err = m.Fetch(ctx, k, cache.FetchOptions{Vivify: true, VivifyTime: 30}, nil)
		}
		require.NoError(t, err, "entry %d", i)
		if i%3 == 0 && i%7 != 4 {
			_, err = m.Get(ctx, k, nil)
			require.NoError(t, err, "entry %d", i)
		}
	}
}

// record is a Record with its own copies of the bytes, minus the access time.
type record struct {
	value   string
	kind    cache.Kind
	flags   uint32
	cas     uint64
	expires int64
	lock    bool
	marks   [3]bool // fetched, stale, lease
}

// dump reads every live record of m, keyed by namespace and name.
func dump(m *cache.Memory) map[string]record {
	out := map[string]record{}
	for i := range m.ShardCount() {
		m.VisitShard(i, func(r *cache.Record) {
			out[string(r.Namespace)+"/"+string(r.Name)] = record{string(r.Value), r.Kind, r.Flags, r.CAS, r.Expires, r.Lock, [3]bool{r.Fetched, r.Stale, r.Lease}}
		})
	}
	return out
}

func TestRoundTripKeepsEveryItemAndLock(t *testing.T) {
	n := 20_000
	if s := os.Getenv("SNAPSHOT_ITEMS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	clock := cachetest.NewClock()
	before := newStore(t, clock, 1<<30)
	fill(t, before, n)
	want := dump(before)
	require.Len(t, want, n, "the test stores what it means to")

	path := filepath.Join(t.TempDir(), "cache.snapshot")
	wst, err := snapshot.Write(t.Context(), before, path, snapshot.WriteOptions{Final: true})
	require.NoError(t, err)
	locks := uint64((n + 2) / 7)
	assert.Equal(t, locks, wst.Locks)
	assert.Equal(t, uint64(n)-locks, wst.Items)
	marks := [3]int{}
	for _, r := range want {
		for j, on := range r.marks {
			if on {
				marks[j]++
			}
		}
	}
	assert.Positive(t, marks[0]*marks[1]*marks[2], "some items carry each meta mark")
	_, err = os.Stat(snapshot.TempPath(path))
	assert.ErrorIs(t, err, os.ErrNotExist, "no temporary file is left behind")

	clock.Advance(10 * time.Second)
	after := newStore(t, clock, 1<<30)
	lst, err := snapshot.Load(t.Context(), after, path)
	require.NoError(t, err)
	assert.Equal(t, wst.Items, lst.Items)
	assert.Equal(t, wst.Locks, lst.Locks)
	assert.Zero(t, lst.Skipped+lst.Evicted)
	assert.True(t, lst.Final)
	assert.Equal(t, want, dump(after), "every item and lock comes back with its value, kind, flags, CAS id and expiry")

	// Through the Store API as well: the lock still refuses an add, the
	// relative time counts from the original write, not from the load.
	ctx := t.Context()
	_, err = after.Put(ctx, cache.ModeAdd, cache.Entry{Key: key(t, "default", "key:4"), Value: []byte("x")})
	assert.ErrorIs(t, err, cache.ErrExists, "a delete lock survives the restart")
	it, err := after.Get(ctx, key(t, "team-a.b_c", "key:1"), nil)
	require.NoError(t, err)
	assert.Equal(t, cachetest.Start.Unix()+3600+1, it.Expires, "expiry stays where it was")
	st, err := after.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.Hits, "stats start fresh")
	f, err := after.Fetch(ctx, key(t, "default", "key:6"), cache.FetchOptions{}, nil)
	require.NoError(t, err)
	assert.True(t, f.Lost, "the recache lease handed out before the restart is still held")
	f, err = after.Fetch(ctx, key(t, "team-a.b_c", "key:5"), cache.FetchOptions{}, nil)
	require.NoError(t, err)
	assert.True(t, f.Stale, "a stale item is still stale")
	assert.Zero(t, st.Misses)
}

func TestBinaryKeysAndTheEmptyNamespaceRoundTrip(t *testing.T) {
	ctx := t.Context()
	clock := cachetest.NewClock()
	before := newStore(t, clock, 1<<26)
	bin, err := cache.NewBinaryKey("", "\xff\xfe not UTF-8")
	require.NoError(t, err)
	text, err := cache.NewKey("", "text")
	require.NoError(t, err)
	for _, k := range []cache.Key{bin, text} {
		_, err := before.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("v"), Kind: cache.KindBytes})
		require.NoError(t, err)
	}
	path := filepath.Join(t.TempDir(), "s")
	_, err = snapshot.Write(ctx, before, path, snapshot.WriteOptions{Final: true})
	require.NoError(t, err)
	after := newStore(t, clock, 1<<26)
	_, err = snapshot.Load(ctx, after, path)
	require.NoError(t, err, "a key the memcached listener stored as bytes loads")
	assert.Equal(t, dump(before), dump(after))
	for _, k := range []cache.Key{bin, text} {
		_, err := after.Get(ctx, k, nil)
		assert.NoError(t, err, "%q", k.Name)
	}
}

func TestCASConflictsStillDetectedAcrossRestart(t *testing.T) {
	for _, final := range []bool{true, false} {
		t.Run(fmt.Sprintf("final=%v", final), func(t *testing.T) {
			ctx := t.Context()
			clock := cachetest.NewClock()
			before := newStore(t, clock, 1<<26)
			k, other := key(t, "default", "k"), key(t, "default", "other")
			stale, err := before.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("1")})
			require.NoError(t, err)
			current, err := before.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("2")})
			require.NoError(t, err)
			// The highest id went to an item deleted before the snapshot:
			// no new write may take it either.
			gone, err := before.Put(ctx, cache.ModeSet, cache.Entry{Key: other, Value: []byte("x")})
			require.NoError(t, err)
			require.NoError(t, before.Delete(ctx, other, 0))

			path := filepath.Join(t.TempDir(), "s")
			_, err = snapshot.Write(ctx, before, path, snapshot.WriteOptions{Final: final})
			require.NoError(t, err)
			after := newStore(t, clock, 1<<26)
			_, err = snapshot.Load(ctx, after, path)
			require.NoError(t, err)

			_, err = after.Put(ctx, cache.ModeCAS, cache.Entry{Key: k, Value: []byte("3"), CAS: stale})
			assert.ErrorIs(t, err, cache.ErrCASMismatch, "an id from before the last write still conflicts")
			next, err := after.Put(ctx, cache.ModeCAS, cache.Entry{Key: k, Value: []byte("3"), CAS: current})
			require.NoError(t, err, "the current id still matches")
			assert.Greater(t, next, gone, "new ids continue above every id handed out before")
			_, err = after.Put(ctx, cache.ModeCAS, cache.Entry{Key: k, Value: []byte("4"), CAS: current})
			assert.ErrorIs(t, err, cache.ErrCASMismatch)
			id, err := after.Put(ctx, cache.ModeSet, cache.Entry{Key: other, Value: []byte("y")})
			require.NoError(t, err)
			assert.Greater(t, id, gone)
			if !final {
				// A periodic snapshot may be followed by writes that the
				// crash loses; their ids are skipped.
				assert.Greater(t, id, gone+1<<32-1)
			}
		})
	}
}

func TestLoadDropsWhatExpiredAndKeepsWallClockTimes(t *testing.T) {
	ctx := t.Context()
	clock := cachetest.NewClock()
	before := newStore(t, clock, 1<<26)
	short, long, lockShort, lockLong := key(t, "default", "short"), key(t, "default", "long"), key(t, "default", "ls"), key(t, "default", "ll")
	for _, e := range []cache.Entry{{Key: short, Time: 30}, {Key: long, Time: 120}, {Key: lockShort}, {Key: lockLong}} {
		e.Value = []byte("v")
		_, err := before.Put(ctx, cache.ModeSet, e)
		require.NoError(t, err)
	}
	require.NoError(t, before.Delete(ctx, lockShort, 30))
	require.NoError(t, before.Delete(ctx, lockLong, 120))
	path := filepath.Join(t.TempDir(), "s")
	_, err := snapshot.Write(ctx, before, path, snapshot.WriteOptions{Final: true})
	require.NoError(t, err)

	// The process is down for a minute: the 30-second item and lock run out
	// meanwhile, the 120-second ones have a minute left.
	clock.Advance(time.Minute)
	after := newStore(t, clock, 1<<26)
	st, err := snapshot.Load(ctx, after, path)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Skipped)
	assert.Equal(t, uint64(1), st.Items)
	assert.Equal(t, uint64(1), st.Locks)
	_, err = after.Get(ctx, short, nil)
	assert.ErrorIs(t, err, cache.ErrNotFound)
	_, err = after.Put(ctx, cache.ModeAdd, cache.Entry{Key: lockShort, Value: []byte("v")})
	assert.NoError(t, err, "the lock that ran out while down no longer refuses an add")
	_, err = after.Put(ctx, cache.ModeAdd, cache.Entry{Key: lockLong, Value: []byte("v")})
	assert.ErrorIs(t, err, cache.ErrExists)
	it, err := after.Get(ctx, long, nil)
	require.NoError(t, err)
	assert.Equal(t, cachetest.Start.Unix()+121, it.Expires)

	clock.Advance(61 * time.Second)
	_, err = after.Get(ctx, long, nil)
	assert.ErrorIs(t, err, cache.ErrNotFound, "the item expires 120 s after its write, downtime included")
	_, err = after.Put(ctx, cache.ModeAdd, cache.Entry{Key: lockLong, Value: []byte("v")})
	assert.NoError(t, err)
}

func TestLoadIntoASmallerStoreDropsTheLeastRecentlyUsed(t *testing.T) {
	ctx := t.Context()
	clock := cachetest.NewClock()
	before := newStore(t, clock, 1<<26)
	const groups, per = 10, 2000
	value := make([]byte, 200)
	for g := range groups {
		for i := range per {
			_, err := before.Put(ctx, cache.ModeSet, cache.Entry{Key: key(t, "default", fmt.Sprintf("%d:%d", g, i)), Value: value})
			require.NoError(t, err)
		}
		clock.Advance(time.Second)
	}
	// The first group is read last: it is the most recently used.
	for i := range per {
		_, err := before.Get(ctx, key(t, "default", fmt.Sprintf("0:%d", i)), nil)
		require.NoError(t, err)
	}
	path := filepath.Join(t.TempDir(), "s")
	_, err := snapshot.Write(ctx, before, path, snapshot.WriteOptions{Final: true})
	require.NoError(t, err)

	// Room for about four groups of the ten.
	itemSize := int64(cache.ItemOverhead + len("default") + len("9:9999") + len(value))
	after, err := cache.NewMemory(cache.Options{MemoryLimit: 4 * per * itemSize, MaxValueSize: 4096, Shards: 8, Clock: clock.Now})
	require.NoError(t, err)
	defer after.Close()
	st, err := snapshot.Load(ctx, after, path)
	require.NoError(t, err)
	assert.Positive(t, st.Evicted)
	kept := make([]int, groups)
	charged := int64(0)
	for i := range after.ShardCount() {
		after.VisitShard(i, func(r *cache.Record) {
			kept[r.Name[0]-'0']++
			charged += int64(cache.ItemOverhead + len(r.Namespace) + len(r.Name) + len(r.Value))
		})
	}
	t.Logf("kept per group: %v", kept)
	assert.Greater(t, kept[0], per*95/100, "the group read last survives")
	assert.Greater(t, kept[9], per*95/100, "the group written last survives")
	for g := 1; g <= 5; g++ {
		assert.Less(t, kept[g], per*5/100, "group %d, among the least recently used, is dropped", g)
	}
	assert.LessOrEqual(t, charged, 4*per*itemSize, "the memory limit holds")
}

func TestInterruptedWriteLeavesThePreviousSnapshot(t *testing.T) {
	ctx := t.Context()
	clock := cachetest.NewClock()
	m := newStore(t, clock, 1<<26)
	fill(t, m, 500)
	want := dump(m)
	path := filepath.Join(t.TempDir(), "s")
	_, err := snapshot.Write(ctx, m, path, snapshot.WriteOptions{Final: true})
	require.NoError(t, err)

	fill(t, m, 1000)
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	_, err = snapshot.Write(stopped, m, path, snapshot.WriteOptions{Pace: 1})
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(snapshot.TempPath(path))
	assert.ErrorIs(t, err, os.ErrNotExist, "the abandoned temporary file is removed")
	// A crash leaves a partial temporary file; it is never read.
	require.NoError(t, os.WriteFile(snapshot.TempPath(path), []byte("MCHTSNAP partial"), 0o600))

	after := newStore(t, clock, 1<<26)
	_, err = snapshot.Load(ctx, after, path)
	require.NoError(t, err)
	assert.Equal(t, want, dump(after))
}

// damaged builds a valid snapshot of a few thousand records and returns its bytes.
func damaged(t *testing.T) []byte {
	t.Helper()
	m := newStore(t, cachetest.NewClock(), 1<<26)
	fill(t, m, 3000)
	path := filepath.Join(t.TempDir(), "s")
	_, err := snapshot.Write(t.Context(), m, path, snapshot.WriteOptions{})
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(b), 100_000, "the file spans a block per shard")
	return b
}

// assertRefused loads b and checks it is refused as corrupt, with nothing
// left in the store.
func assertRefused(t *testing.T, b []byte, what string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	m := newStore(t, cachetest.NewClock(), 1<<26)
	_, err := snapshot.Load(t.Context(), m, path)
	require.ErrorIs(t, err, snapshot.ErrCorrupt, what)
	require.Empty(t, dump(m), "%s: nothing is half-loaded", what)
}

func TestTruncatedSnapshotsAreRefused(t *testing.T) {
	b := damaged(t)
	for i := range 100 {
		assertRefused(t, b[:len(b)*i/100], fmt.Sprintf("cut at %d/100", i))
	}
	assertRefused(t, b[:len(b)-1], "one byte short")
}

func TestDamagedSnapshotsAreRefused(t *testing.T) {
	b := damaged(t)
	// Every byte of the file is covered by a checksum: a flipped bit
	// anywhere is caught. Flip one in each of 400 places, the header,
	// block heads, records, trailer and footer among them.
	spots := []int{0, 9, 20, 39, 40, 45, 52, 56, 60, len(b) - 1, len(b) - 5, len(b) - 14, len(b) - 30}
	for i := range 400 {
		spots = append(spots, (len(b)-1)*i/399)
	}
	for _, p := range spots {
		c := append([]byte(nil), b...)
		c[p] ^= 1 << (p % 8)
		assertRefused(t, c, fmt.Sprintf("bit %d of byte %d flipped", p%8, p))
	}
	extra := append(append([]byte(nil), b...), 0)
	assertRefused(t, extra, "a byte appended")
}

func TestForeignFilesAreRefused(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":       {},
		"a Redis RDB": []byte("REDIS0011\xfa\tredis-ver\x057.2.4\xff"),
		"gzip":        {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3},
		"text":        []byte("key value\nother value\n"),
		"a newer version of ours": func() []byte {
			b := damaged(t)
			b[8] = 2
			return b
		}(),
	} {
		assertRefused(t, b, name)
	}
}
