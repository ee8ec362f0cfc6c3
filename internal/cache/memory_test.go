package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/leakcheck"
)

// TestMain fails the package if any test leaves a sweeper goroutine behind,
// giving them leakcheck.Window to end.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := leakcheck.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 250_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestMemory(t testing.TB, opts Options) *Memory {
	t.Helper()
	m, err := NewMemory(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func mustKey(t testing.TB, name string) Key {
	t.Helper()
	k, err := NewKey("", name)
	require.NoError(t, err)
	return k
}

func set(t testing.TB, m *Memory, name, value string, ttl float64) {
	t.Helper()
	_, err := m.Put(t.Context(), ModeSet, Entry{Key: mustKey(t, name), Value: []byte(value), Kind: KindBytes, Time: ttl})
	require.NoError(t, err, "set %q", name)
}

func has(t testing.TB, m *Memory, name string) bool {
	t.Helper()
	_, err := m.Get(t.Context(), mustKey(t, name), nil)
	if err != nil {
		require.ErrorIs(t, err, ErrNotFound)
	}
	return err == nil
}

// checkShards verifies each shard's bookkeeping against its slots: charged
// bytes, segment bytes, list membership, index reachability and the budget.
func checkShards(t testing.TB, m *Memory) {
	t.Helper()
	for n, s := range m.shards {
		s.mu.Lock()
		var used, prot int64
		var live, inUse int
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.state&stateMask == stateFree {
				continue
			}
			inUse++
			used += sl.size()
			live += sl.dataLen()
			if sl.state&segProtected != 0 {
				prot += sl.size()
			}
			ns, name := s.keyOf(sl)
			assert.Equal(t, int32(i), s.lookupLocked(m.hashSlot(s, sl), string(ns), string(name)), "shard %d: slot %d reachable from the index", n, i)
		}
		listed := 0
		for _, l := range s.lists {
			for i := l.head; i != nilSlot; i = s.slots[i].next {
				listed++
			}
		}
		assert.Equal(t, used, s.used, "shard %d: charged bytes", n)
		assert.Equal(t, prot, s.protUsed, "shard %d: protected bytes", n)
		assert.Equal(t, live, s.live, "shard %d: live arena bytes", n)
		assert.Equal(t, inUse, listed, "shard %d: every slot in use is on one LRU list", n)
		assert.LessOrEqual(t, s.used, s.budget, "shard %d: within budget", n)
		checkArena(t, s, n)
		s.mu.Unlock()
	}
}

// checkArena verifies the shard's pages against their records: each live
// record belongs to the slot whose offset points at it, live byte counts
// add up, and the pages stay within the bound arena.go promises.
func checkArena(t testing.TB, s *shard, n int) {
	t.Helper()
	small := 0
	for v := range s.pages {
		p := &s.pages[v]
		live := 0
		for r := 0; r < p.end; {
			rec := int(binary.LittleEndian.Uint32(p.buf[r:]))
			require.Greater(t, rec, recHeader, "shard %d page %d: record at %d", n, v, r)
			if i := binary.LittleEndian.Uint32(p.buf[r+4:]); i != deadSlot {
				sl := &s.slots[i]
				assert.Equal(t, uint32(v)<<pageBits|uint32(r+recHeader), sl.off, "shard %d: slot %d points at its record", n, i)
				assert.LessOrEqual(t, recHeader+sl.dataLen(), rec, "shard %d: slot %d fits its record", n, i)
				live += recHeader + sl.dataLen()
			}
			r += rec
		}
		assert.Equal(t, live, p.live, "shard %d page %d: live bytes", n, v)
		small += live
	}
	assert.Equal(t, small, s.small, "shard %d: live record bytes", n)
	bigs := 0
	for i := range s.slots {
		if sl := &s.slots[i]; sl.state&stateMask != stateFree && sl.off&bigBit != 0 {
			bigs++
			assert.Equal(t, storedLen(sl.dataLen()), cap(s.big[sl.off&^bigBit]), "shard %d: slot %d's allocation is what it is charged", n, i)
		}
	}
	assert.Equal(t, len(s.big)-len(s.bigFree), bigs, "shard %d: big allocations in use", n)
	// Pages are added only while dead bytes are few, and small items are
	// charged more than their records, so the budget bounds the pages.
	budget := int(s.budget)
	bound := max(budget+pageSize/2, budget*compactShare/(compactShare-1)) + pageSize
	assert.LessOrEqual(t, len(s.pages)*pageSize, bound, "shard %d: pages within the arena bound", n)
}

func TestNewMemoryValidatesOptions(t *testing.T) {
	maxItem := chargeOf(MaxNamespaceLen + MaxKeyBytes + DefaultMaxValueSize)
	cases := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero options take the defaults", Options{}, true},
		{"a negative memory limit is invalid", Options{MemoryLimit: -1}, false},
		{"a negative max value size is invalid", Options{MaxValueSize: -1}, false},
		{"negative shards are invalid", Options{Shards: -2}, false},
		{"3 shards is not a power of two", Options{Shards: 3}, false},
		{"a limit below one largest item is invalid", Options{MemoryLimit: maxItem - 1}, false},
		{"a limit of exactly one largest item works", Options{MemoryLimit: maxItem}, true},
		{"shards too small for the largest item are invalid", Options{MemoryLimit: 64 << 20, Shards: 128}, false},
		{"shards above 1 GiB each are invalid", Options{MemoryLimit: 4 << 30, Shards: 2}, false},
		{"an explicit power-of-two shard count works", Options{MemoryLimit: 64 << 20, Shards: 32, MaxValueSize: 1 << 10}, true},
		{"a large value limit within the memory limit works", Options{MemoryLimit: 64 << 20, MaxValueSize: 8 << 20}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMemory(c.opts)
			if !c.ok {
				require.ErrorIs(t, err, ErrInvalidArgument)
				return
			}
			require.NoError(t, err)
			defer func() { require.NoError(t, m.Close()) }()
			limit := c.opts.MemoryLimit
			if limit == 0 {
				limit = DefaultMemoryLimit
			}
			budget := m.shards[0].budget
			assert.LessOrEqual(t, budget*int64(len(m.shards)), limit, "shard budgets add up to at most the limit")
			assert.GreaterOrEqual(t, budget, chargeOf(MaxNamespaceLen+MaxKeyBytes+m.maxValue), "a shard holds the largest item")
		})
	}
}

func TestDefaultShards(t *testing.T) {
	maxItem := chargeOf(MaxNamespaceLen + MaxKeyBytes + DefaultMaxValueSize)
	cases := []struct {
		name  string
		limit int64
		check func(t *testing.T, n int)
	}{
		{"each shard holds two of the largest items", DefaultMemoryLimit, func(t *testing.T, n int) {
			assert.GreaterOrEqual(t, int64(DefaultMemoryLimit)/int64(n), 2*maxItem)
		}},
		{"a tiny limit falls back to one shard", maxItem, func(t *testing.T, n int) { assert.Equal(t, 1, n) }},
		{"a huge limit keeps shards under 1 GiB", 1 << 40, func(t *testing.T, n int) {
			assert.LessOrEqual(t, int64(1<<40)/int64(n), int64(maxShardBudget))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, defaultShards(c.limit, maxItem)) })
	}
}

func TestGetHitDoesNotAllocate(t *testing.T) {
	m := newTestMemory(t, Options{})
	set(t, m, "k", strings.Repeat("v", 100), 60)
	k, dst := mustKey(t, "k"), make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		it, err := m.Get(t.Context(), k, dst)
		if err != nil || len(it.Value) != 100 {
			t.Fatalf("get: %v, %d bytes", err, len(it.Value))
		}
	})
	assert.Zero(t, allocs)
}

func TestGetMultiStopsAtTheItemThatPassesItsBudget(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int
		wantHits uint64
	}{
		{"a budget for two values reads two and stops at the third", 250, 2},
		{"a budget below the first value reads none", 99, 0},
		{"a budget for all five values reads them all", 500, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMemory(t, Options{})
			keys := make([]Key, 5)
			for i := range keys {
				name := fmt.Sprintf("k%d", i)
				set(t, m, name, strings.Repeat("v", 100), 0)
				keys[i] = mustKey(t, name)
			}
			items, err := m.GetMulti(t.Context(), keys, tt.maxBytes)
			if tt.wantHits < uint64(len(keys)) {
				require.ErrorIs(t, err, ErrBatchTooLarge, "budget %d", tt.maxBytes)
				assert.Nil(t, items)
			} else {
				require.NoError(t, err, "budget %d", tt.maxBytes)
				assert.Len(t, items, len(keys))
			}
			st, err := m.Stats(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.wantHits, st.Hits, "the value past the budget is neither copied nor a hit")
			assert.Equal(t, tt.wantHits*(2+100), st.ByteHits)
		})
	}
}

func TestGetMultiCopiesSmallValuesInFewAllocations(t *testing.T) {
	m := newTestMemory(t, Options{})
	keys := make([]Key, 100)
	for i := range keys {
		name := fmt.Sprintf("k%02d", i)
		set(t, m, name, strings.Repeat("v", 100), 0)
		keys[i] = mustKey(t, name)
	}
	allocs := testing.AllocsPerRun(20, func() {
		items, err := m.GetMulti(t.Context(), keys, 0)
		if err != nil || len(items) != len(keys) {
			t.Fatalf("get_multi: %v, %d items", err, len(items))
		}
	})
	// The map's arrays and a couple of 8 KiB blocks for 10,000 value bytes
	// (8 on Go 1.26), not one allocation per value (over 100).
	assert.LessOrEqual(t, allocs, float64(16))
}

// tinyStore has one shard with room for exactly n items of a 3-byte key
// ("k00") and a 4-byte value. It shrinks the budget below what NewMemory
// allows (one 250-byte key), so eviction order shows with a few items.
func tinyStore(t *testing.T, clock *fakeClock, n int) *Memory {
	t.Helper()
	m := newTestMemory(t, Options{MaxValueSize: 1, Shards: 1, Clock: clock.Now})
	m.shards[0].budget = int64(n * (ItemOverhead + len(DefaultNamespace) + 3 + 4))
	m.maxValue = 4
	return m
}

func TestEviction(t *testing.T) {
	t.Run("a full store evicts only the least recently used item", func(t *testing.T) {
		clock := newFakeClock()
		m := tinyStore(t, clock, 10)
		for i := range 10 {
			set(t, m, fmt.Sprintf("k%02d", i), "vvvv", 0)
		}
		for i := 1; i < 10; i++ {
			require.True(t, has(t, m, fmt.Sprintf("k%02d", i)))
		}
		set(t, m, "k10", "vvvv", 0)
		assert.False(t, has(t, m, "k00"), "k00 was least recently used")
		for i := 1; i <= 10; i++ {
			assert.True(t, has(t, m, fmt.Sprintf("k%02d", i)), "k%02d stays", i)
		}
		checkShards(t, m)
	})
	t.Run("a large write evicts just enough of the least recently used items", func(t *testing.T) {
		clock := newFakeClock()
		m := tinyStore(t, clock, 10)
		m.maxValue = 1000
		for i := range 10 {
			set(t, m, fmt.Sprintf("k%02d", i), "vvvv", 0)
		}
		// Three small items' worth: 3 × (overhead + namespace + 3 + 4) bytes.
		set(t, m, "big", strings.Repeat("b", 3*(ItemOverhead+len(DefaultNamespace)+3+4)-ItemOverhead-len(DefaultNamespace)-3), 0)
		for i := range 10 {
			assert.Equal(t, i >= 3, has(t, m, fmt.Sprintf("k%02d", i)), "k%02d", i)
		}
		assert.Equal(t, m.shards[0].budget, m.shards[0].used, "the store is exactly full")
		checkShards(t, m)
	})
	t.Run("expired items are evicted before live ones", func(t *testing.T) {
		clock := newFakeClock()
		m := tinyStore(t, clock, 10)
		set(t, m, "k00", "vvvv", 0) // least recently used, never expires
		for i := 1; i < 10; i++ {
			ttl := 0.0
			if i%3 == 0 {
				ttl = 5
			}
			set(t, m, fmt.Sprintf("k%02d", i), "vvvv", ttl)
		}
		clock.Advance(6 * time.Second)
		for i := 10; i < 13; i++ {
			set(t, m, fmt.Sprintf("k%02d", i), "vvvv", 0)
		}
		for i := range 13 {
			assert.Equal(t, i%3 != 0 || i == 0 || i >= 10, has(t, m, fmt.Sprintf("k%02d", i)), "k%02d", i)
		}
		checkShards(t, m)
	})
	t.Run("recently read items survive a scan of new keys", func(t *testing.T) {
		clock := newFakeClock()
		m := tinyStore(t, clock, 20)
		for i := range 20 {
			set(t, m, fmt.Sprintf("k%02d", i), "vvvv", 0)
		}
		for i := range 5 {
			require.True(t, has(t, m, fmt.Sprintf("k%02d", i)))
		}
		for i := 20; i < 99; i++ {
			set(t, m, fmt.Sprintf("k%02d", i), "vvvv", 0)
		}
		for i := range 5 {
			assert.True(t, has(t, m, fmt.Sprintf("k%02d", i)), "k%02d was read before the scan", i)
		}
		assert.False(t, has(t, m, "k05"), "unread k05 was evicted by the scan")
		checkShards(t, m)
	})
	t.Run("a value too large for the store leaves the cache intact", func(t *testing.T) {
		m := newTestMemory(t, Options{MemoryLimit: ItemOverhead + MaxNamespaceLen + MaxKeyBytes + 1000, MaxValueSize: 1000, Shards: 1})
		for i := range 5 {
			set(t, m, fmt.Sprint("k", i), "small", 0)
		}
		_, err := m.Put(t.Context(), ModeSet, Entry{Key: mustKey(t, "big"), Value: make([]byte, 1001)})
		require.ErrorIs(t, err, ErrValueTooLarge)
		for i := range 5 {
			assert.True(t, has(t, m, fmt.Sprint("k", i)), "k%d kept", i)
		}
		_, err = m.Put(t.Context(), ModeSet, Entry{Key: mustKey(t, "big"), Value: make([]byte, 1000)})
		require.NoError(t, err, "a value of the limit fits, evicting what it must")
		assert.True(t, has(t, m, "big"))
		checkShards(t, m)
	})
}

func TestGrowingAnItemEvictsOthersNotItself(t *testing.T) {
	m := newTestMemory(t, Options{MemoryLimit: ItemOverhead + MaxNamespaceLen + MaxKeyBytes + 1000, MaxValueSize: 1000, Shards: 1})
	set(t, m, "a", strings.Repeat("a", 300), 0)
	set(t, m, "b", strings.Repeat("b", 300), 0)
	set(t, m, "a", strings.Repeat("A", 1000), 0)
	assert.False(t, has(t, m, "b"))
	it, err := m.Get(t.Context(), mustKey(t, "a"), nil)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("A", 1000), string(it.Value))
	checkShards(t, m)
}

func TestHashCollisionsCompareKeys(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 1})
	s := m.shards[0]
	const h = 42 // every key below shares this hash
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.insertLocked(m, h, "ns", "a", []byte("A"), stateItem)
	b := s.insertLocked(m, h, "ns", "b", []byte("B"), stateItem)
	c := s.insertLocked(m, h, "other", "a", []byte("C"), stateItem)
	assert.Equal(t, a, s.lookupLocked(h, "ns", "a"))
	assert.Equal(t, b, s.lookupLocked(h, "ns", "b"))
	assert.Equal(t, c, s.lookupLocked(h, "other", "a"))
	assert.Equal(t, nilSlot, s.lookupLocked(h, "ns", "c"))
	s.removeLocked(b, h)
	assert.Equal(t, a, s.lookupLocked(h, "ns", "a"), "removing the middle of a chain keeps its ends")
	assert.Equal(t, c, s.lookupLocked(h, "other", "a"))
	s.removeLocked(c, h)
	assert.Equal(t, a, s.lookupLocked(h, "ns", "a"), "removing the head keeps the rest")
	s.removeLocked(a, h)
	assert.Zero(t, s.idx.n)
}

func TestArenaCompaction(t *testing.T) {
	m := newTestMemory(t, Options{MemoryLimit: 1 << 20, MaxValueSize: 1 << 10, Shards: 1})
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string]string{}
	for i := range 20000 {
		name := fmt.Sprint("k", rng.IntN(500))
		value := strings.Repeat(string(rune('a'+i%26)), 1+rng.IntN(1000))
		set(t, m, name, value, 0)
		want[name] = value
	}
	for name, value := range want {
		it, err := m.Get(t.Context(), mustKey(t, name), nil)
		if err == nil {
			assert.Equal(t, value, string(it.Value), name)
		}
	}
	checkShards(t, m)
}

func TestArenaMixedSizesAndDeletes(t *testing.T) {
	m := newTestMemory(t, Options{MemoryLimit: 4 << 20, MaxValueSize: 200 << 10, Shards: 2})
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[string]string{}
	for i := range 5000 {
		name := fmt.Sprint("k", rng.IntN(300))
		if rng.IntN(4) == 0 {
			_ = m.Delete(t.Context(), mustKey(t, name), 0)
			delete(want, name)
			continue
		}
		n := 1 + rng.IntN(3000)
		if rng.IntN(5) == 0 {
			n = 1 + rng.IntN(200<<10)
		}
		value := strings.Repeat(string(rune('a'+i%26)), n)
		set(t, m, name, value, 0)
		want[name] = value
	}
	for name, value := range want {
		if it, err := m.Get(t.Context(), mustKey(t, name), nil); err == nil {
			assert.Equal(t, value, string(it.Value), name)
		}
	}
	checkShards(t, m)
}

func TestPagesStayBoundedUnderDistinctWrites(t *testing.T) {
	const limit = 1 << 20
	m := newTestMemory(t, Options{MemoryLimit: limit, MaxValueSize: 1 << 10, Shards: 1})
	for i := range 200_000 {
		set(t, m, fmt.Sprint("key", i), strings.Repeat("v", i%100), 0)
	}
	checkShards(t, m)
	s := m.shards[0]
	assert.LessOrEqual(t, len(s.pages)*pageSize, limit*compactShare/(compactShare-1)+pageSize, "20× the limit written, the pages stay within 1.11× of it")
}

func TestStoredLenIsTheAllocatorsRounding(t *testing.T) {
	for n := smallMax + 1; n <= 300<<10; n += 1 + n/37 {
		assert.Equal(t, cap(append([]byte(nil), make([]byte, n)...)), storedLen(n), "%d bytes", n)
	}
	assert.Equal(t, smallMax+recHeader, storedLen(smallMax))
	assert.Equal(t, int64(ItemOverhead+10), chargeOf(10))
}

func TestSweeperReclaimsExpiredItems(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, Options{Shards: 2, MaxValueSize: 1 << 10, Clock: clock.Now})
	for i := range 100 {
		set(t, m, fmt.Sprint("k", i), "v", float64(1+i%2*100))
	}
	clock.Advance(10 * time.Second)
	m.sweepOnce()
	var used int64
	for _, s := range m.shards {
		used += s.used
	}
	assert.Equal(t, int64(50*(ItemOverhead+len(DefaultNamespace)+1))+int64(sumLen(50, 1, 2)), used, "only the 50 live items stay charged")
	checkShards(t, m)
}

// sumLen is the total length of the names "k<i>" for i = from, from+step, … (n names).
func sumLen(n, from, step int) int {
	total := 0
	for i := range n {
		total += len(fmt.Sprint("k", from+i*step))
	}
	return total
}

func TestCloseStopsTheSweeper(t *testing.T) {
	m, err := NewMemory(Options{})
	require.NoError(t, err)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "Close is idempotent")
	require.NoError(t, leakcheck.Wait(), "the sweeper ended")
}

func TestMixedLoadStaysWithinTheMemoryLimit(t *testing.T) {
	m := newTestMemory(t, Options{MemoryLimit: 256 << 10, MaxValueSize: 4 << 10, Shards: 4})
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			dst := make([]byte, 0, 4<<10)
			for range 3000 {
				k := mustKey(t, fmt.Sprint("k", rng.IntN(400)))
				switch op := rng.IntN(10); {
				case op < 4:
					_, err := m.Put(t.Context(), Mode(rng.IntN(3)), Entry{Key: k, Value: make([]byte, rng.IntN(4<<10)), Kind: KindBytes})
					// add and replace may lose to the other workers.
					assert.True(t, err == nil || errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound), "put: %v", err)
				case op < 7:
					_, _ = m.Get(t.Context(), k, dst)
				case op < 8:
					_, _ = m.Offset(t.Context(), k, Delta{Amount: 1}, new(uint64))
				default:
					_ = m.Delete(t.Context(), k, float64(rng.IntN(3)))
				}
			}
		})
	}
	done := make(chan struct{})
	checker := sync.WaitGroup{}
	checker.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				for _, s := range m.shards {
					s.mu.Lock()
					assert.LessOrEqual(t, s.used, s.budget)
					s.mu.Unlock()
				}
			}
		}
	})
	wg.Wait()
	close(done)
	checker.Wait()
	checkShards(t, m)
}

func TestLargeValues(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		size int
	}{
		{"a 1 MiB value fits the defaults", Options{}, 1 << 20},
		{"an 8 MiB value fits a raised value limit", Options{MemoryLimit: 64 << 20, MaxValueSize: 8 << 20}, 8 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestMemory(t, c.opts)
			value := make([]byte, c.size)
			for i := range value {
				value[i] = byte(i * 7)
			}
			for i := range 3 {
				_, err := m.Put(t.Context(), ModeSet, Entry{Key: mustKey(t, fmt.Sprint("big", i)), Value: value, Kind: KindBytes})
				require.NoError(t, err)
			}
			it, err := m.Get(t.Context(), mustKey(t, "big2"), nil)
			require.NoError(t, err)
			assert.Equal(t, value, it.Value)
			_, err = m.Put(t.Context(), ModeSet, Entry{Key: mustKey(t, "over"), Value: make([]byte, c.size+1), Kind: KindBytes})
			assert.ErrorIs(t, err, ErrValueTooLarge)
			checkShards(t, m)
		})
	}
}

func TestFlushAllReleasesMemory(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 4})
	for i := range 1000 {
		set(t, m, fmt.Sprint("k", i), "value", 0)
	}
	require.NoError(t, m.FlushAll(t.Context()))
	for _, s := range m.shards {
		assert.Zero(t, s.used)
		assert.Zero(t, s.idx.n)
		assert.Nil(t, s.pages)
		assert.Nil(t, s.big)
		assert.Nil(t, s.slots)
	}
}

func TestShardsHandOutCASIdsFromDisjointBlocks(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 2})
	a, b := m.shards[0], m.shards[1]
	seen := map[uint64]bool{}
	last := map[*shard]uint64{}
	// The background sweeper runs too: the *Locked calls hold the shard's lock.
	take := func(s *shard, step int) {
		s.mu.Lock()
		id := s.nextCASLocked(m)
		s.mu.Unlock()
		require.False(t, seen[id], "step %d: id %d handed out twice", step, id)
		require.Greater(t, id, last[s], "step %d: a shard's ids increase", step)
		seen[id], last[s] = true, id
	}
	// Uneven use makes the shards cross block boundaries at different steps.
	for step := range 3 * casBlock {
		take(a, step)
		if step%3 == 0 {
			take(b, step)
		}
	}
	a.mu.Lock()
	a.resetLocked()
	a.mu.Unlock()
	take(a, -1)
	assert.NotContains(t, seen, uint64(0), "0 is never an id")
	assert.Len(t, seen, 4*casBlock+1)
}
