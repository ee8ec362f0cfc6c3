package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultClockFollowsTheWallTimeOfStart(t *testing.T) {
	before := time.Now()
	m := newTestMemory(t, Options{})
	now := m.now()
	after := time.Now()
	assert.False(t, now.Before(before), "now %v is not before %v", now, before)
	assert.False(t, now.After(after), "now %v is not after %v", now, after)
	r := m.reading()
	assert.False(t, r.exact, "the default clock's cheap reading is the coarse second")
	assert.LessOrEqual(t, r.sec, now.Unix(), "the coarse second never runs ahead")
	assert.GreaterOrEqual(t, r.sec, before.Unix())
}

func TestExactSecondIsTheClocksCurrentSecond(t *testing.T) {
	cases := []struct {
		name string
		opts func(*fakeClock) Options
	}{
		{"the default clock, started 90.5 s ago", func(*fakeClock) Options { return Options{} }},
		{"an injected clock", func(c *fakeClock) Options { return Options{Clock: c.Now} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			m := newTestMemory(t, c.opts(clock))
			// The sweeper reads start; stopped, it cannot race with the change.
			require.NoError(t, m.Close())
			// An older start makes the elapsed monotonic time count: a second
			// computed from the start alone would be 90 seconds behind.
			m.start = m.start.Add(-90500 * time.Millisecond)
			m.startNS = m.start.UnixNano()
			clock.Advance(90500 * time.Millisecond)
			before := m.now().Unix()
			r := reading{sec: before - 10}
			got := m.exactSecond(&r)
			after := m.now().Unix()
			assert.True(t, r.exact, "the reading is exact afterwards")
			assert.Equal(t, got, r.sec)
			assert.GreaterOrEqual(t, got, before)
			assert.LessOrEqual(t, got, after)
		})
	}
}

func TestInjectedClockIsReadOnEveryOperation(t *testing.T) {
	clock := newFakeClock()
	m := newTestMemory(t, Options{Clock: clock.Now})
	clock.Advance(90 * time.Second)
	r := m.reading()
	assert.True(t, r.exact)
	assert.Equal(t, clock.Now().Unix(), r.sec)
	assert.Equal(t, sweepInterval, m.untilSweep(), "an injected clock sweeps at a fixed interval")
}

func TestLaggingCoarseSecond(t *testing.T) {
	cases := []struct {
		name string
		ttl  func(now time.Time) float64
		live bool
	}{
		{"does not keep an expired item alive", func(now time.Time) float64 { return float64(now.Unix()) }, false},
		{"does not expire a live item early", func(now time.Time) float64 { return 3600 }, true},
		{"keeps an item without expiry", func(time.Time) float64 { return 0 }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestMemory(t, Options{})
			set(t, m, "k", "v", c.ttl(m.now()))
			// A sweeper that has not run yet leaves the coarse second behind.
			m.coarse.Store(m.now().Unix() - 10)
			assert.Equal(t, c.live, has(t, m, "k"), "get")
			n, err := m.Offset(t.Context(), mustKey(t, "k"), Delta{Amount: 1}, nil)
			if c.live {
				assert.ErrorIs(t, err, ErrNotANumber, "incr finds the item")
			} else {
				assert.ErrorIs(t, err, ErrNotFound, "incr misses")
				assert.Zero(t, n)
			}
			checkShards(t, m)
		})
	}
}

func TestSweepTurnsTheCoarseSecondOver(t *testing.T) {
	m := newTestMemory(t, Options{})
	m.coarse.Store(0)
	m.sweepOnce()
	assert.InDelta(t, m.now().Unix(), m.reading().sec, 1, "the sweep stores the current second")
	wait := m.untilSweep()
	assert.Positive(t, wait)
	assert.LessOrEqual(t, wait, time.Second, "the next sweep is at the next whole second")
}

func TestHashSlotMatchesTheKeyHash(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 1})
	keys := []Key{
		{Namespace: DefaultNamespace, Name: "k"},
		{Namespace: "other", Name: "k"},
		{Namespace: "a", Name: "bk"},
		{Namespace: "ab", Name: "k"},
	}
	hashes := map[uint64]Key{}
	for _, k := range keys {
		_, err := m.Put(t.Context(), ModeSet, Entry{Key: k, Value: []byte("v"), Kind: KindBytes})
		require.NoError(t, err)
		hashes[m.hash(k)] = k
	}
	assert.Len(t, hashes, len(keys), "namespace and name boundaries change the hash")
	s := m.shards[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.slots {
		ns, name := s.keyOf(&s.slots[i])
		k := Key{Namespace: string(ns), Name: string(name)}
		assert.Equal(t, m.hash(k), m.hashSlot(s, &s.slots[i]), "slot of %v", k)
	}
}

func TestWritesWithALaggingCoarseSecond(t *testing.T) {
	// lag leaves the coarse second behind, as a sweeper that has not run yet.
	lag := func(m *Memory) { m.coarse.Store(m.now().Unix() - 10) }
	expiredNow := func(m *Memory) float64 { return float64(m.now().Unix()) }
	t.Run("add over an expired item succeeds", func(t *testing.T) {
		m := newTestMemory(t, Options{})
		set(t, m, "k", "old", expiredNow(m))
		lag(m)
		_, err := m.Put(t.Context(), ModeAdd, Entry{Key: mustKey(t, "k"), Value: []byte("new"), Kind: KindBytes})
		require.NoError(t, err)
		it, err := m.Get(t.Context(), mustKey(t, "k"), nil)
		require.NoError(t, err)
		assert.Equal(t, "new", string(it.Value))
	})
	t.Run("a relative time counts from the exact clock", func(t *testing.T) {
		m := newTestMemory(t, Options{})
		lag(m)
		before := m.now().Unix()
		set(t, m, "k", "v", 100)
		it, err := m.Get(t.Context(), mustKey(t, "k"), nil)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, it.Expires, before+100, "lives at least 100 s")
		assert.LessOrEqual(t, it.Expires, m.now().Unix()+101)
	})
	t.Run("a write without expiry frees expired items before live ones", func(t *testing.T) {
		m := newTestMemory(t, Options{MaxValueSize: 1, Shards: 1})
		m.shards[0].budget = int64(3 * (ItemOverhead + len(DefaultNamespace) + 3 + 4))
		m.maxValue = 4
		set(t, m, "k00", "vvvv", 0) // least recently used
		set(t, m, "k01", "vvvv", expiredNow(m))
		set(t, m, "k02", "vvvv", 0)
		lag(m)
		set(t, m, "k03", "vvvv", 0)
		assert.True(t, has(t, m, "k00"), "the live item stays")
		assert.False(t, has(t, m, "k01"))
		assert.Equal(t, Counters{Expirations: 1}, m.Counters())
		checkShards(t, m)
	})
}
