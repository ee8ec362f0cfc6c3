// Package cachetest is the one conformance suite every cache.Store backend
// runs: each rule of docs/behaviour.md, checked against a fresh store per subtest
// driven by a fake clock.
package cachetest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// Options is what the suite asks of a store under test.
type Options struct {
	Clock        func() time.Time // the suite's fake clock; the store must take every time decision from it
	MaxValueSize int
}

// MaxValueSize is the value limit the suite asks of every store; small, so
// the too-large cases stay cheap.
const MaxValueSize = 4096

// Start is the fake clock's starting time: fractional on purpose, so every
// relative expiry has to round up.
var Start = time.Unix(1_700_000_000, 250_000_000)

// startUnix is Start's whole second.
const startUnix = 1_700_000_000

// Clock is a fake clock that moves only when told to.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewClock returns a clock standing at Start.
func NewClock() *Clock { return &Clock{now: Start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is one subtest's store, clock and helpers.
type env struct {
	t     *testing.T
	ctx   context.Context
	clock *Clock
	store cache.Store
}

type factory = func(t *testing.T, opts Options) cache.Store

func newEnv(t *testing.T, newStore factory) *env {
	t.Helper()
	clock := NewClock()
	st := newStore(t, Options{Clock: clock.Now, MaxValueSize: MaxValueSize})
	require.NotNil(t, st, "newStore returned nil")
	return &env{t: t, ctx: t.Context(), clock: clock, store: st}
}

func (e *env) key(name string) cache.Key { return e.keyIn("", name) }

func (e *env) keyIn(ns, name string) cache.Key {
	e.t.Helper()
	k, err := cache.NewKey(ns, name)
	require.NoError(e.t, err, "NewKey(%q, %q)", ns, name)
	return k
}

// put writes a bytes value and returns the new CAS id or the error.
func (e *env) put(mode cache.Mode, k cache.Key, value string, time float64, cas uint64) (uint64, error) {
	return e.store.Put(e.ctx, mode, cache.Entry{Key: k, Value: []byte(value), Kind: cache.KindBytes, Time: time, CAS: cas})
}

// set stores a bytes value that never expires and returns its CAS id.
func (e *env) set(k cache.Key, value string) uint64 {
	e.t.Helper()
	id, err := e.put(cache.ModeSet, k, value, 0, 0)
	require.NoError(e.t, err, "set %q", k.Name)
	return id
}

// setJSON stores a KindJSON value (already compact).
func (e *env) setJSON(k cache.Key, value string) uint64 {
	e.t.Helper()
	id, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(value), Kind: cache.KindJSON})
	require.NoError(e.t, err, "set %q = %s", k.Name, value)
	return id
}

func (e *env) get(k cache.Key) (cache.Item, error) { return e.store.Get(e.ctx, k, nil) }

func (e *env) mustGet(k cache.Key) cache.Item {
	e.t.Helper()
	it, err := e.get(k)
	require.NoError(e.t, err, "get %q", k.Name)
	return it
}

func (e *env) assertMiss(k cache.Key, msg string) {
	e.t.Helper()
	_, err := e.get(k)
	assert.ErrorIs(e.t, err, cache.ErrNotFound, "get %q: %s", k.Name, msg)
}

func (e *env) lock(k cache.Key, seconds float64) {
	e.t.Helper()
	require.NoError(e.t, e.store.Delete(e.ctx, k, seconds), "delete %q with lock %v", k.Name, seconds)
}

func (e *env) stats() cache.Stats {
	e.t.Helper()
	st, err := e.store.Stats(e.ctx)
	require.NoError(e.t, err, "stats")
	return st
}

func (e *env) advance(seconds float64) {
	e.clock.Advance(time.Duration(seconds * float64(time.Second)))
}

func ptr(n uint64) *uint64 { return &n }

// Run checks every rule of docs/behaviour.md against stores made by newStore (a fresh, empty store per subtest).
func Run(t *testing.T, newStore func(t *testing.T, opts Options) cache.Store) {
	groups := []struct {
		name string
		run  func(*testing.T, factory)
	}{
		{"keys", testKeys},
		{"namespaces: empty and default apart", testNamespaces},
		{"values", testValues},
		{"expiration", testExpiration},
		{"storing", testStoring},
		{"cas ids", testCASIDs},
		{"delete and locks", testDelete},
		{"incr and decr", testOffset},
		{"multi", testMulti},
		{"flush_all", testFlushAll},
		{"stats", testStats},
		{"concurrency", testConcurrency},
		{"fetch: touch, vivify, recache", testFetch},
		{"concat: append and prepend", testConcat},
		{"invalidate: stale, empty, cas delete", testInvalidate},
		{"binary keys", testBinaryKeys},
		{"listing keys and namespaces", testList},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, newStore) })
	}
}

func testKeys(t *testing.T, newStore factory) {
	t.Run("NewKey accepts 250 bytes and rejects 251 and malformed input", func(t *testing.T) {
		cases := []struct {
			ns, name string
			want     error
		}{
			{"", strings.Repeat("k", 250), nil},
			{"", strings.Repeat("k", 251), cache.ErrKeyTooLong},
			{"", strings.Repeat("é", 126), cache.ErrKeyTooLong}, // 252 bytes, 126 runes
			{"", "", cache.ErrInvalidArgument},
			{"", "\xff", cache.ErrInvalidArgument},
			{"bad ns", "k", cache.ErrInvalidArgument},
			{"~~", "k", cache.ErrInvalidArgument},
			{"~a", "k", cache.ErrInvalidArgument},
			{"~", "k", nil},
			{"default", "k", nil},
			{strings.Repeat("n", 100), "k", nil},
			{strings.Repeat("n", 101), "k", cache.ErrInvalidArgument},
			{"a.b_c-D9", "k", nil},
		}
		for _, c := range cases {
			_, err := cache.NewKey(c.ns, c.name)
			if c.want == nil {
				assert.NoError(t, err, "NewKey(%q, %d bytes)", c.ns, len(c.name))
			} else {
				assert.ErrorIs(t, err, c.want, "NewKey(%q, %d bytes)", c.ns, len(c.name))
			}
		}
	})
	t.Run("keys of every shape round-trip", func(t *testing.T) {
		e := newEnv(t, newStore)
		names := []string{strings.Repeat("k", 250), "a/b:c%d?e#f g", "ключ-🔑", ":incr", "x"}
		for i, name := range names {
			e.set(e.key(name), fmt.Sprint("v", i))
		}
		for i, name := range names {
			assert.Equal(t, fmt.Sprint("v", i), string(e.mustGet(e.key(name)).Value), "key %q", name)
		}
	})
	t.Run("namespaces isolate the same key", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b, def := e.keyIn("a", "k"), e.keyIn("b", "k"), e.key("k")
		e.set(a, "in a")
		e.set(b, "in b")
		e.assertMiss(def, "the default namespace holds nothing")
		assert.Equal(t, "in a", string(e.mustGet(a).Value))
		require.NoError(t, e.store.Delete(e.ctx, a, 0))
		assert.Equal(t, "in b", string(e.mustGet(b).Value), "deleting in a leaves b alone")
		_, err := e.put(cache.ModeAdd, def, "in default", 0, 0)
		assert.NoError(t, err, "add in the default namespace ignores b")
	})
	t.Run("the empty namespace is spelled ~ and is not the one named default", func(t *testing.T) {
		e := newEnv(t, newStore)
		e.set(e.keyIn("", "k"), "empty")
		assert.Equal(t, "empty", string(e.mustGet(e.keyIn("~", "k")).Value), `"" and ~ are one namespace`)
		e.assertMiss(e.keyIn("default", "k"), `"default" is an ordinary namespace`)
		e.set(e.keyIn("default", "k"), "named")
		assert.Equal(t, "empty", string(e.mustGet(e.keyIn("", "k")).Value), `writing "default" leaves "" alone`)
	})
}

func testValues(t *testing.T, newStore factory) {
	t.Run("values come back byte-exact with kind and flags", func(t *testing.T) {
		cases := []struct {
			name  string
			value []byte
			kind  cache.Kind
			flags uint32
		}{
			{"a JSON object", []byte(`{"a":[1,2,{"b":null}],"c":"ü"}`), cache.KindJSON, 0},
			{"a JSON string", []byte(`"10"`), cache.KindJSON, 1},
			{"a JSON number", []byte(`10`), cache.KindJSON, 2},
			{"JSON null", []byte(`null`), cache.KindJSON, 3},
			{"binary bytes", []byte{0, 1, 0xff, 0xfe, '\n', 0}, cache.KindBytes, math.MaxUint32},
			{"empty bytes", []byte{}, cache.KindBytes, 7},
			{"a value of exactly the limit", []byte(strings.Repeat("x", MaxValueSize)), cache.KindBytes, 0},
		}
		e := newEnv(t, newStore)
		for i, c := range cases {
			k := e.key(fmt.Sprint("k", i))
			id, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: c.value, Kind: c.kind, Flags: c.flags})
			require.NoError(t, err, c.name)
			it := e.mustGet(k)
			assert.Equal(t, string(c.value), string(it.Value), c.name)
			assert.Equal(t, c.kind, it.Kind, c.name)
			assert.Equal(t, c.flags, it.Flags, c.name)
			assert.Equal(t, id, it.CAS, "%s: Get reports the id Put returned", c.name)
			assert.Zero(t, it.Expires, c.name)
		}
	})
	t.Run("Get appends the value to dst[:0]", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "value")
		dst := append(make([]byte, 0, 64), "junk"...)
		it, err := e.store.Get(e.ctx, k, dst)
		require.NoError(t, err)
		assert.Equal(t, "value", string(it.Value))
		assert.Equal(t, "value", string(dst[:5]), "the value went into dst's array")
	})
	t.Run("a value over the limit is rejected and the old value is kept", func(t *testing.T) {
		for _, mode := range []cache.Mode{cache.ModeSet, cache.ModeAdd, cache.ModeReplace, cache.ModeCAS} {
			e := newEnv(t, newStore)
			k := e.key("k")
			id := e.set(k, "old")
			_, err := e.put(mode, k, strings.Repeat("x", MaxValueSize+1), 0, id)
			assert.ErrorIs(t, err, cache.ErrValueTooLarge, "mode %d", mode)
			it := e.mustGet(k)
			assert.Equal(t, "old", string(it.Value), "mode %d", mode)
			assert.Equal(t, id, it.CAS, "mode %d leaves the CAS id", mode)
		}
	})
	t.Run("a value over the limit in a JSON kind is rejected too", func(t *testing.T) {
		e := newEnv(t, newStore)
		big := `"` + strings.Repeat("x", MaxValueSize-1) + `"`
		_, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: e.key("k"), Value: []byte(big), Kind: cache.KindJSON})
		assert.ErrorIs(t, err, cache.ErrValueTooLarge, "%d bytes of compact JSON", len(big))
		e.assertMiss(e.key("k"), "nothing was stored")
	})
}

func testExpiration(t *testing.T, newStore factory) {
	// Start is 1_700_000_000.25; relative times expire at ceil(now + t).
	cases := []struct {
		name    string
		time    float64
		expires int64 // 0 = never
		dead    bool  // expired as soon as stored
	}{
		{"0 never expires", 0, 0, false},
		{"1 second is relative and rounds up from a fractional now", 1, startUnix + 2, false},
		{"half a second rounds up", 0.5, startUnix + 1, false},
		{"10.1 seconds rounds up", 10.1, startUnix + 11, false},
		{"2592000 (30 days) is still relative", cache.MaxRelativeSeconds, startUnix + cache.MaxRelativeSeconds + 1, false},
		{"2592001 is an absolute time long past", cache.MaxRelativeSeconds + 1, cache.MaxRelativeSeconds + 1, true},
		{"an absolute time in the future", 1_800_000_000, 1_800_000_000, false},
		{"a fractional absolute time rounds up", 1_800_000_000.5, 1_800_000_001, false},
		{"an absolute time in the past", 1_600_000_000, 1_600_000_000, true},
		{"now itself as an absolute time", startUnix, startUnix, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, newStore)
			k := e.key("k")
			_, err := e.put(cache.ModeSet, k, "v", c.time, 0)
			require.NoError(t, err, "time %v is stored even when already past", c.time)
			if c.dead {
				e.assertMiss(k, "already expired")
				return
			}
			assert.Equal(t, c.expires, e.mustGet(k).Expires)
			if c.expires == 0 {
				e.advance(10 * 365 * 24 * 3600)
				e.mustGet(k)
				return
			}
			e.clock.Set(time.Unix(c.expires, 0).Add(-time.Nanosecond))
			e.mustGet(k)
			e.clock.Set(time.Unix(c.expires, 0))
			e.assertMiss(k, "expired from the second its expiry is reached")
		})
	}
	t.Run("negative and non-finite times are invalid", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "old")
		for _, tm := range []float64{-1, -0.5, math.NaN(), math.Inf(1)} {
			_, err := e.put(cache.ModeSet, k, "new", tm, 0)
			assert.ErrorIs(t, err, cache.ErrInvalidArgument, "time %v", tm)
		}
		assert.Equal(t, "old", string(e.mustGet(k).Value))
	})
	t.Run("an expired item behaves as a missing one", func(t *testing.T) {
		cases := []struct {
			name string
			op   func(e *env, k cache.Key, id uint64) error
			want error
		}{
			{"get misses", func(e *env, k cache.Key, _ uint64) error { _, err := e.get(k); return err }, cache.ErrNotFound},
			{"add stores", func(e *env, k cache.Key, _ uint64) error { _, err := e.put(cache.ModeAdd, k, "v", 0, 0); return err }, nil},
			{"replace misses", func(e *env, k cache.Key, _ uint64) error {
				_, err := e.put(cache.ModeReplace, k, "v", 0, 0)
				return err
			}, cache.ErrNotFound},
			{"cas with the old id fails", func(e *env, k cache.Key, id uint64) error { _, err := e.put(cache.ModeCAS, k, "v", 0, id); return err }, cache.ErrCASMismatch},
			{"incr misses", func(e *env, k cache.Key, _ uint64) error {
				_, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
				return err
			}, cache.ErrNotFound},
			{"delete misses", func(e *env, k cache.Key, _ uint64) error { return e.store.Delete(e.ctx, k, 0) }, cache.ErrNotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, newStore)
				k := e.key("k")
				id, err := e.put(cache.ModeSet, k, "5", 10, 0)
				require.NoError(t, err)
				e.advance(11)
				err = c.op(e, k, id)
				if c.want == nil {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, c.want)
				}
			})
		}
	})
	t.Run("incr with an initial value on an expired item starts afresh", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		_, err := e.put(cache.ModeSet, k, "100", 10, 0)
		require.NoError(t, err)
		e.advance(11)
		n, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, ptr(5))
		require.NoError(t, err)
		assert.Equal(t, uint64(6), n)
		assert.Zero(t, e.mustGet(k).Expires, "the fresh item does not inherit the old expiry")
	})
	t.Run("an expired item is gone from stats", func(t *testing.T) {
		e := newEnv(t, newStore)
		_, err := e.put(cache.ModeSet, e.key("k"), "v", 10, 0)
		require.NoError(t, err)
		e.advance(11)
		e.assertMiss(e.key("k"), "expired")
		st := e.stats()
		assert.Zero(t, st.Items)
		assert.Zero(t, st.Bytes)
		assert.Equal(t, uint64(1), st.Misses)
		assert.Zero(t, st.Hits)
	})
}

// state prepares key k in one of the states the storing rules distinguish
// and returns the CAS id a client would hold for it.
type state struct {
	name    string
	prepare func(e *env, k cache.Key) uint64
}

var states = []state{
	{"missing", func(*env, cache.Key) uint64 { return 12345 }},
	{"live", func(e *env, k cache.Key) uint64 { return e.set(k, "old") }},
	{"delete-locked", func(e *env, k cache.Key) uint64 {
		id := e.set(k, "old")
		e.lock(k, 60)
		return id
	}},
	{"expired", func(e *env, k cache.Key) uint64 {
		id, err := e.put(cache.ModeSet, k, "old", 5, 0)
		require.NoError(e.t, err)
		e.advance(6)
		return id
	}},
}

func testStoring(t *testing.T, newStore factory) {
	modes := []struct {
		name string
		mode cache.Mode
		want map[string]error // by state name; nil = stored
	}{
		{"set", cache.ModeSet, map[string]error{}},
		{"add", cache.ModeAdd, map[string]error{"live": cache.ErrExists, "delete-locked": cache.ErrExists}},
		{"replace", cache.ModeReplace, map[string]error{"missing": cache.ErrNotFound, "delete-locked": cache.ErrNotFound, "expired": cache.ErrNotFound}},
		{"cas with the fetched id", cache.ModeCAS, map[string]error{"missing": cache.ErrCASMismatch, "delete-locked": cache.ErrCASMismatch, "expired": cache.ErrCASMismatch}},
	}
	for _, m := range modes {
		for _, s := range states {
			want := m.want[s.name]
			verdict := "stores"
			if want != nil {
				verdict = "fails"
			}
			t.Run(fmt.Sprintf("%s on a %s key %s", m.name, s.name, verdict), func(t *testing.T) {
				e := newEnv(t, newStore)
				k := e.key("k")
				id := s.prepare(e, k)
				newID, err := e.put(m.mode, k, "new", 0, id)
				if want != nil {
					require.ErrorIs(t, err, want)
					if s.name == "live" {
						assert.Equal(t, "old", string(e.mustGet(k).Value), "the old value stays")
					} else {
						e.assertMiss(k, "nothing was stored")
					}
					return
				}
				require.NoError(t, err)
				it := e.mustGet(k)
				assert.Equal(t, "new", string(it.Value))
				assert.Equal(t, newID, it.CAS)
				assert.NotEqual(t, id, newID, "a write gives a new CAS id")
			})
		}
	}
	t.Run("cas with a stale id fails and keeps the newer value", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		stale := e.set(k, "v1")
		e.set(k, "v2")
		_, err := e.put(cache.ModeCAS, k, "v3", 0, stale)
		require.ErrorIs(t, err, cache.ErrCASMismatch)
		assert.Equal(t, "v2", string(e.mustGet(k).Value))
	})
	t.Run("set over a delete lock clears the lock", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "old")
		e.lock(k, 60)
		e.set(k, "new")
		require.NoError(t, e.store.Delete(e.ctx, k, 0))
		_, err := e.put(cache.ModeAdd, k, "again", 0, 0)
		assert.NoError(t, err, "no lock is left after set and delete")
	})
	t.Run("a write replaces kind, flags and expiry", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		_, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(`"a"`), Kind: cache.KindJSON, Flags: 9, Time: 100})
		require.NoError(t, err)
		_, err = e.store.Put(e.ctx, cache.ModeReplace, cache.Entry{Key: k, Value: []byte("b"), Kind: cache.KindBytes, Flags: 3})
		require.NoError(t, err)
		it := e.mustGet(k)
		assert.Equal(t, cache.Item{Value: []byte("b"), Kind: cache.KindBytes, Flags: 3, CAS: it.CAS}, it)
	})
	t.Run("an unknown mode is invalid", func(t *testing.T) {
		e := newEnv(t, newStore)
		_, err := e.put(cache.Mode(99), e.key("k"), "v", 0, 0)
		assert.ErrorIs(t, err, cache.ErrInvalidArgument)
	})
}

func testCASIDs(t *testing.T, newStore factory) {
	t.Run("every successful write gives a new id", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		seen := map[uint64]string{}
		record := func(op string, id uint64) {
			t.Helper()
			prev, dup := seen[id]
			assert.False(t, dup, "%s reused the id of %s", op, prev)
			seen[id] = op
			assert.Equal(t, id, e.mustGet(k).CAS, "Get reports the id after %s", op)
		}
		id, err := e.put(cache.ModeAdd, k, "1", 0, 0)
		require.NoError(t, err)
		record("add", id)
		record("set", e.set(k, "2"))
		id, err = e.put(cache.ModeReplace, k, "3", 0, 0)
		require.NoError(t, err)
		record("replace", id)
		id, err = e.put(cache.ModeCAS, k, "4", 0, id)
		require.NoError(t, err)
		record("cas", id)
		_, err = e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
		require.NoError(t, err)
		record("incr", e.mustGet(k).CAS)
		_, err = e.store.Offset(e.ctx, k, cache.Delta{Amount: 1, Decrement: true}, nil)
		require.NoError(t, err)
		record("decr", e.mustGet(k).CAS)
	})
	t.Run("gets then incr then cas fails", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		id := e.set(k, "10")
		_, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 5}, nil)
		require.NoError(t, err)
		_, err = e.put(cache.ModeCAS, k, "0", 0, id)
		require.ErrorIs(t, err, cache.ErrCASMismatch)
		assert.Equal(t, "15", string(e.mustGet(k).Value), "the increment survives")
	})
	t.Run("ids increase across flush_all", func(t *testing.T) {
		e := newEnv(t, newStore)
		before := e.set(e.key("k"), "v")
		require.NoError(t, e.store.FlushAll(e.ctx))
		after := e.set(e.key("k"), "v")
		assert.Greater(t, after, before)
	})
}

func testDelete(t *testing.T, newStore factory) {
	t.Run("delete reports whether a live item was removed", func(t *testing.T) {
		for _, s := range states {
			t.Run("on a "+s.name+" key", func(t *testing.T) {
				e := newEnv(t, newStore)
				k := e.key("k")
				s.prepare(e, k)
				err := e.store.Delete(e.ctx, k, 0)
				switch s.name {
				case "live", "delete-locked":
					// Deleting a locked key again reports success, as App Engine does.
					assert.NoError(t, err)
				default:
					assert.ErrorIs(t, err, cache.ErrNotFound)
				}
				e.assertMiss(k, "after delete")
			})
		}
	})
	t.Run("a delete lock blocks add, replace, cas and incr until it ends", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		id := e.set(k, "7")
		e.lock(k, 10)
		e.assertMiss(k, "a locked key reads as a miss")
		_, err := e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.ErrorIs(t, err, cache.ErrExists, "add")
		_, err = e.put(cache.ModeReplace, k, "v", 0, 0)
		assert.ErrorIs(t, err, cache.ErrNotFound, "replace")
		_, err = e.put(cache.ModeCAS, k, "v", 0, id)
		assert.ErrorIs(t, err, cache.ErrCASMismatch, "cas")
		_, err = e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
		assert.ErrorIs(t, err, cache.ErrNotFound, "incr")
		e.advance(10.5) // the lock ends at ceil(start + 10), the whole second startUnix + 11
		_, err = e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.ErrorIs(t, err, cache.ErrExists, "still locked just before its end")
		e.advance(0.25)
		_, err = e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.NoError(t, err, "add works once the lock ends")
	})
	t.Run("incr with an initial value on a locked key creates a fresh item", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "100")
		e.lock(k, 60)
		n, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 2}, ptr(10))
		require.NoError(t, err)
		assert.Equal(t, uint64(12), n)
		assert.Equal(t, "12", string(e.mustGet(k).Value))
		_, err = e.put(cache.ModeReplace, k, "13", 0, 0)
		assert.NoError(t, err, "the lock is gone")
	})
	t.Run("delete of a locked key with 0 seconds clears the lock", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "v")
		e.lock(k, 60)
		require.NoError(t, e.store.Delete(e.ctx, k, 0))
		_, err := e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.NoError(t, err)
	})
	t.Run("delete of a locked key with seconds restarts the lock", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "v")
		e.lock(k, 10) // until start+11
		e.advance(8)
		e.lock(k, 10) // until start+19
		e.advance(4)  // start+12.25
		_, err := e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.ErrorIs(t, err, cache.ErrExists, "the restarted lock still holds")
		e.advance(7) // start+19.25
		_, err = e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.NoError(t, err)
	})
	t.Run("deleting a missing key with seconds locks nothing", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		assert.ErrorIs(t, e.store.Delete(e.ctx, k, 60), cache.ErrNotFound)
		_, err := e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.NoError(t, err)
	})
	t.Run("a lock with an absolute time in the past locks nothing", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "v")
		require.NoError(t, e.store.Delete(e.ctx, k, 1_600_000_000))
		_, err := e.put(cache.ModeAdd, k, "v", 0, 0)
		assert.NoError(t, err)
	})
	t.Run("negative seconds are invalid and delete nothing", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "v")
		assert.ErrorIs(t, e.store.Delete(e.ctx, k, -1), cache.ErrInvalidArgument)
		e.mustGet(k)
	})
}

func testOffset(t *testing.T, newStore factory) {
	cases := []struct {
		name  string
		kind  cache.Kind
		value string
		delta cache.Delta
		want  uint64
		after string // stored value afterwards
	}{
		{"a JSON integer stays a number", cache.KindJSON, `10`, cache.Delta{Amount: 1}, 11, `11`},
		{"a JSON digit string stays a string", cache.KindJSON, `"10"`, cache.Delta{Amount: 5}, 15, `"15"`},
		{"a JSON digit string with leading zeros", cache.KindJSON, `"007"`, cache.Delta{Amount: 1}, 8, `"8"`},
		{"a byte digit string", cache.KindBytes, `42`, cache.Delta{Amount: 2, Decrement: true}, 40, `40`},
		{"a byte digit string with leading zeros", cache.KindBytes, `0009`, cache.Delta{Amount: 1}, 10, `10`},
		{"incr by zero rewrites the same number", cache.KindBytes, `5`, cache.Delta{}, 5, `5`},
		{"decr floors at zero", cache.KindJSON, `5`, cache.Delta{Amount: 10, Decrement: true}, 0, `0`},
		{"incr wraps at 2^64", cache.KindBytes, `18446744073709551615`, cache.Delta{Amount: 2}, 1, `1`},
		{"the largest uint64 is a number", cache.KindJSON, `18446744073709551614`, cache.Delta{Amount: 1}, math.MaxUint64, `18446744073709551615`},
		{"a number grows a digit", cache.KindJSON, `99`, cache.Delta{Amount: 1}, 100, `100`},
		{"a string shrinks a digit", cache.KindJSON, `"100"`, cache.Delta{Amount: 1, Decrement: true}, 99, `"99"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, newStore)
			k := e.key("k")
			old, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(c.value), Kind: c.kind, Flags: 42, Time: 100})
			require.NoError(t, err)
			n, err := e.store.Offset(e.ctx, k, c.delta, nil)
			require.NoError(t, err)
			assert.Equal(t, c.want, n)
			it := e.mustGet(k)
			assert.Equal(t, c.after, string(it.Value))
			assert.Equal(t, c.kind, it.Kind, "kind kept")
			assert.Equal(t, uint32(42), it.Flags, "flags kept")
			assert.Equal(t, int64(startUnix+101), it.Expires, "expiry kept")
			assert.NotEqual(t, old, it.CAS, "CAS changes")
		})
	}
	notNumbers := []struct {
		kind  cache.Kind
		value string
	}{
		{cache.KindJSON, `-5`}, {cache.KindJSON, `10.0`}, {cache.KindJSON, `1e3`},
		{cache.KindJSON, `18446744073709551616`}, {cache.KindBytes, `99999999999999999999`},
		{cache.KindBytes, ``}, {cache.KindJSON, `""`}, {cache.KindBytes, `abc`}, {cache.KindJSON, `"abc"`},
		{cache.KindJSON, `{"a":1}`}, {cache.KindJSON, `true`}, {cache.KindJSON, `null`}, {cache.KindBytes, ` 1`},
		{cache.KindBytes, `-1`}, {cache.KindJSON, `"-1"`}, {cache.KindBytes, `1.5`}, {cache.KindBytes, `"12"`},
		{cache.KindJSON, `"\u0031"`},
	}
	for _, c := range notNumbers {
		t.Run(fmt.Sprintf("kind %d value %q is not a number", c.kind, c.value), func(t *testing.T) {
			e := newEnv(t, newStore)
			k := e.key("k")
			id, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(c.value), Kind: c.kind})
			require.NoError(t, err)
			_, err = e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
			require.ErrorIs(t, err, cache.ErrNotANumber)
			it := e.mustGet(k)
			assert.Equal(t, c.value, string(it.Value), "value untouched")
			assert.Equal(t, id, it.CAS, "CAS untouched")
		})
	}
	t.Run("a missing key without an initial value stays missing", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		_, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
		require.ErrorIs(t, err, cache.ErrNotFound)
		e.assertMiss(k, "nothing created")
	})
	t.Run("a missing key with an initial value is created as a JSON number", func(t *testing.T) {
		cases := []struct {
			initial uint64
			delta   cache.Delta
			want    uint64
		}{
			{10, cache.Delta{Amount: 5}, 15},
			{3, cache.Delta{Amount: 5, Decrement: true}, 0},
			{math.MaxUint64, cache.Delta{Amount: 1}, 0},
			{0, cache.Delta{}, 0},
		}
		for _, c := range cases {
			e := newEnv(t, newStore)
			k := e.key("k")
			n, err := e.store.Offset(e.ctx, k, c.delta, ptr(c.initial))
			require.NoError(t, err)
			assert.Equal(t, c.want, n, "initial %d delta %+v", c.initial, c.delta)
			it := e.mustGet(k)
			assert.Equal(t, fmt.Sprint(c.want), string(it.Value))
			assert.Equal(t, cache.KindJSON, it.Kind)
			assert.Zero(t, it.Flags)
			assert.Zero(t, it.Expires)
		}
	})
	t.Run("an initial value is ignored when the key exists", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "1")
		n, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, ptr(100))
		require.NoError(t, err)
		assert.Equal(t, uint64(2), n)
	})
}

func testMulti(t *testing.T, newStore factory) {
	t.Run("GetMulti returns the live items and leaves misses out", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b, c, d := e.key("a"), e.key("b"), e.key("c"), e.keyIn("other", "a")
		e.set(a, "A")
		e.setJSON(b, `{"x":1}`)
		e.set(d, "D")
		e.lock(d, 60)
		items, err := e.store.GetMulti(e.ctx, []cache.Key{a, b, c, d}, 0)
		require.NoError(t, err)
		require.Len(t, items, 2)
		assert.Equal(t, "A", string(items[a].Value))
		assert.Equal(t, `{"x":1}`, string(items[b].Value))
		assert.Equal(t, cache.KindJSON, items[b].Kind)
		assert.NotZero(t, items[b].CAS)
	})
	t.Run("GetMulti counts each distinct key once in stats", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, miss := e.key("a"), e.key("miss")
		e.set(a, "AB")
		items, err := e.store.GetMulti(e.ctx, []cache.Key{a, a, miss, miss, a}, 0)
		require.NoError(t, err)
		assert.Len(t, items, 1)
		st := e.stats()
		assert.Equal(t, uint64(1), st.Hits)
		assert.Equal(t, uint64(1), st.Misses)
		assert.Equal(t, uint64(3), st.ByteHits, "key a (1) + value AB (2)")
	})
	t.Run("GetMulti stops at its byte budget", func(t *testing.T) {
		// Values of 3, 4 and 5 bytes: 12 in all.
		tests := []struct {
			name     string
			keys     []string
			maxBytes int
			want     []string // keys returned; nil when the budget is passed
		}{
			{"a batch under the budget is returned whole", []string{"a", "b", "c"}, 13, []string{"a", "b", "c"}},
			{"a batch exactly at the budget is returned whole", []string{"a", "b", "c"}, 12, []string{"a", "b", "c"}},
			{"a batch one byte over the budget fails", []string{"a", "b", "c"}, 11, nil},
			{"a first value larger than the budget fails", []string{"c"}, 4, nil},
			{"a budget of 0 means no bound", []string{"a", "b", "c"}, 0, []string{"a", "b", "c"}},
			{"misses cost nothing against the budget", []string{"a", "miss", "b", "none"}, 7, []string{"a", "b"}},
			{"a key named twice is counted once", []string{"a", "b", "a", "b", "a"}, 7, []string{"a", "b"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, newStore)
				e.set(e.key("a"), "AAA")
				e.set(e.key("b"), "BBBB")
				e.setJSON(e.key("c"), `"CCC"`)
				keys := make([]cache.Key, len(tt.keys))
				for i, name := range tt.keys {
					keys[i] = e.key(name)
				}
				items, err := e.store.GetMulti(e.ctx, keys, tt.maxBytes)
				if tt.want == nil {
					require.ErrorIs(t, err, cache.ErrBatchTooLarge, "keys %v, budget %d", tt.keys, tt.maxBytes)
					assert.Nil(t, items)
					return
				}
				require.NoError(t, err, "keys %v, budget %d", tt.keys, tt.maxBytes)
				got := make([]string, 0, len(items))
				for k, it := range items {
					got = append(got, k.Name)
					assert.Equal(t, string(e.mustGet(k).Value), string(it.Value), "value of %q", k.Name)
				}
				assert.ElementsMatch(t, tt.want, got)
			})
		}
	})
	t.Run("GetMulti returns every value whole and independent of the others", func(t *testing.T) {
		e := newEnv(t, newStore)
		// Small and large values in turn, so that some share storage in a
		// backend and some do not.
		sizes := []int{1, MaxValueSize, 100, MaxValueSize, MaxValueSize, 600, 3, MaxValueSize - 1, 7}
		keys := make([]cache.Key, len(sizes))
		want := make(map[cache.Key]string, len(sizes))
		for i, n := range sizes {
			keys[i] = e.key(fmt.Sprintf("k%d", i))
			want[keys[i]] = strings.Repeat(string(rune('a'+i)), n)
			e.set(keys[i], want[keys[i]])
		}
		items, err := e.store.GetMulti(e.ctx, keys, 0)
		require.NoError(t, err)
		require.Len(t, items, len(keys))
		for _, k := range keys {
			it := items[k]
			_ = append(it.Value, "!!!!"...)
		}
		for _, k := range keys {
			assert.Equal(t, want[k], string(items[k].Value), "value of %q after appending to every value", k.Name)
		}
	})
	t.Run("GetMulti rejects a negative byte budget", func(t *testing.T) {
		e := newEnv(t, newStore)
		e.set(e.key("a"), "A")
		_, err := e.store.GetMulti(e.ctx, []cache.Key{e.key("a")}, -1)
		assert.ErrorIs(t, err, cache.ErrInvalidArgument)
	})
	t.Run("PutMulti reports a result per entry", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b, c := e.key("a"), e.key("b"), e.key("c")
		e.set(b, "old")
		errs, err := e.store.PutMulti(e.ctx, cache.ModeAdd, []cache.Entry{
			{Key: a, Value: []byte("A"), Kind: cache.KindBytes, Flags: 1},
			{Key: b, Value: []byte("B"), Kind: cache.KindBytes},
			{Key: c, Value: []byte(`"C"`), Kind: cache.KindJSON, Time: 10},
		})
		require.NoError(t, err)
		require.Len(t, errs, 3)
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], cache.ErrExists)
		assert.NoError(t, errs[2])
		assert.Equal(t, uint32(1), e.mustGet(a).Flags)
		assert.Equal(t, "old", string(e.mustGet(b).Value))
		assert.Equal(t, int64(startUnix+11), e.mustGet(c).Expires)
	})
	t.Run("PutMulti with one invalid entry stores nothing", func(t *testing.T) {
		cases := []struct {
			name string
			bad  cache.Entry
			want error
		}{
			{"a value too large", cache.Entry{Value: []byte(strings.Repeat("x", MaxValueSize+1))}, cache.ErrValueTooLarge},
			{"a negative time", cache.Entry{Value: []byte("x"), Time: -1}, cache.ErrInvalidArgument},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, newStore)
				a, b, old := e.key("a"), e.key("b"), e.key("old")
				e.set(old, "kept")
				c.bad.Key = b
				errs, err := e.store.PutMulti(e.ctx, cache.ModeSet, []cache.Entry{
					{Key: a, Value: []byte("A"), Kind: cache.KindBytes},
					{Key: old, Value: []byte("changed"), Kind: cache.KindBytes},
					c.bad,
				})
				require.ErrorIs(t, err, c.want)
				assert.Nil(t, errs)
				e.assertMiss(a, "the valid entry before the bad one was not stored")
				e.assertMiss(b, "the bad entry was not stored")
				assert.Equal(t, "kept", string(e.mustGet(old).Value))
			})
		}
	})
	t.Run("PutMulti with cas checks each entry's id", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b := e.key("a"), e.key("b")
		ida, idb := e.set(a, "A"), e.set(b, "B")
		errs, err := e.store.PutMulti(e.ctx, cache.ModeCAS, []cache.Entry{
			{Key: a, Value: []byte("A2"), Kind: cache.KindBytes, CAS: ida},
			{Key: b, Value: []byte("B2"), Kind: cache.KindBytes, CAS: idb + 1000},
		})
		require.NoError(t, err)
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], cache.ErrCASMismatch)
		assert.Equal(t, "A2", string(e.mustGet(a).Value))
		assert.Equal(t, "B", string(e.mustGet(b).Value))
	})
	t.Run("DeleteMulti reports per key and locks each removed key", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b := e.key("a"), e.key("b")
		e.set(a, "A")
		errs, err := e.store.DeleteMulti(e.ctx, []cache.Key{a, b}, 60)
		require.NoError(t, err)
		require.Len(t, errs, 2)
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], cache.ErrNotFound)
		_, err = e.put(cache.ModeAdd, a, "v", 0, 0)
		assert.ErrorIs(t, err, cache.ErrExists, "a is locked")
		_, err = e.put(cache.ModeAdd, b, "v", 0, 0)
		assert.NoError(t, err, "b, missing, was not locked")
	})
	t.Run("DeleteMulti with negative seconds is invalid", func(t *testing.T) {
		e := newEnv(t, newStore)
		e.set(e.key("a"), "A")
		_, err := e.store.DeleteMulti(e.ctx, []cache.Key{e.key("a")}, -1)
		require.ErrorIs(t, err, cache.ErrInvalidArgument)
		e.mustGet(e.key("a"))
	})
	t.Run("OffsetMulti reports a value or an error per key", func(t *testing.T) {
		e := newEnv(t, newStore)
		n, missing, text := e.key("n"), e.key("missing"), e.key("text")
		e.set(n, "10")
		e.set(text, "ten")
		values, errs, err := e.store.OffsetMulti(e.ctx, []cache.Key{n, missing, text},
			[]cache.Delta{{Amount: 3, Decrement: true}, {Amount: 1}, {Amount: 1}}, nil)
		require.NoError(t, err)
		require.Len(t, values, 3)
		require.Len(t, errs, 3)
		assert.NoError(t, errs[0])
		assert.Equal(t, uint64(7), values[0])
		assert.ErrorIs(t, errs[1], cache.ErrNotFound)
		assert.ErrorIs(t, errs[2], cache.ErrNotANumber)
		e.assertMiss(missing, "nothing created without an initial value")
	})
	t.Run("OffsetMulti with an initial value creates the missing keys", func(t *testing.T) {
		e := newEnv(t, newStore)
		n, missing := e.key("n"), e.key("missing")
		e.set(n, "10")
		values, errs, err := e.store.OffsetMulti(e.ctx, []cache.Key{n, missing},
			[]cache.Delta{{Amount: 1}, {Amount: 2}}, ptr(100))
		require.NoError(t, err)
		assert.Equal(t, []error{nil, nil}, errs)
		assert.Equal(t, []uint64{11, 102}, values)
	})
}

func testFlushAll(t *testing.T, newStore factory) {
	t.Run("flush_all removes items and locks in every namespace and resets stats", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b, locked := e.key("a"), e.keyIn("other", "b"), e.key("locked")
		e.set(a, "A")
		e.set(b, "B")
		e.set(locked, "L")
		e.lock(locked, 600)
		e.mustGet(a)
		e.assertMiss(e.key("miss"), "for the stats")
		require.NoError(t, e.store.FlushAll(e.ctx))
		assert.Equal(t, cache.Stats{}, e.stats(), "every counter is reset")
		e.assertMiss(a, "flushed")
		e.assertMiss(b, "flushed in its namespace too")
		_, err := e.put(cache.ModeAdd, locked, "v", 0, 0)
		assert.NoError(t, err, "the lock is gone")
	})
}

func testStats(t *testing.T, newStore factory) {
	t.Run("a fresh store reports zero", func(t *testing.T) {
		e := newEnv(t, newStore)
		assert.Equal(t, cache.Stats{}, e.stats())
	})
	t.Run("hits, misses and bytes count key and value bytes", func(t *testing.T) {
		e := newEnv(t, newStore)
		e.set(e.key("abc"), "12345")             // 8 bytes
		e.setJSON(e.keyIn("ns", "k"), `{"a":1}`) // 8 bytes
		e.mustGet(e.key("abc"))
		e.mustGet(e.key("abc"))
		e.assertMiss(e.key("nope"), "missing")
		st := e.stats()
		assert.Equal(t, uint64(2), st.Hits)
		assert.Equal(t, uint64(1), st.Misses)
		assert.Equal(t, uint64(16), st.ByteHits)
		assert.Equal(t, uint64(2), st.Items)
		assert.Equal(t, uint64(16), st.Bytes)
	})
	t.Run("writes, incr and delete change neither hits nor misses", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "1")
		_, err := e.put(cache.ModeAdd, k, "1", 0, 0)
		require.ErrorIs(t, err, cache.ErrExists)
		_, err = e.put(cache.ModeReplace, e.key("missing"), "1", 0, 0)
		require.ErrorIs(t, err, cache.ErrNotFound)
		_, err = e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
		require.NoError(t, err)
		_, err = e.store.Offset(e.ctx, e.key("missing"), cache.Delta{Amount: 1}, nil)
		require.ErrorIs(t, err, cache.ErrNotFound)
		require.NoError(t, e.store.Delete(e.ctx, k, 0))
		require.ErrorIs(t, e.store.Delete(e.ctx, k, 0), cache.ErrNotFound)
		st := e.stats()
		assert.Zero(t, st.Hits)
		assert.Zero(t, st.Misses)
		assert.Zero(t, st.ByteHits)
	})
	t.Run("locked and expired keys are misses and not items", func(t *testing.T) {
		e := newEnv(t, newStore)
		locked, expiring := e.key("locked"), e.key("expiring")
		e.set(locked, "v")
		e.lock(locked, 60)
		_, err := e.put(cache.ModeSet, expiring, "v", 5, 0)
		require.NoError(t, err)
		e.advance(6)
		e.assertMiss(locked, "locked")
		e.assertMiss(expiring, "expired")
		st := e.stats()
		assert.Equal(t, uint64(2), st.Misses)
		assert.Zero(t, st.Items)
		assert.Zero(t, st.Bytes)
	})
	t.Run("counts kept as the store runs agree with stats", func(t *testing.T) {
		e := newEnv(t, newStore)
		mon, ok := e.store.(cache.Monitored)
		if !ok {
			t.Skip("the store keeps no running counts") // every store of this repository does
		}
		require.NoError(t, mon.Ping(e.ctx))
		counts := func() cache.Counts {
			t.Helper()
			c, err := mon.Counts(e.ctx)
			require.NoError(t, err)
			return c
		}
		assert.Equal(t, cache.Counts{}, counts(), "a fresh store")
		a, b, c := e.key("a"), e.keyIn("ns", "b"), e.key("counter")
		e.set(a, "12345")
		e.set(b, "x")
		e.set(a, "12") // rewritten shorter
		e.set(b, strings.Repeat("y", 300))
		_, err := e.store.Offset(e.ctx, c, cache.Delta{Amount: 9}, ptr(1))
		require.NoError(t, err)
		_, err = e.store.Offset(e.ctx, c, cache.Delta{Amount: 90}, nil) // 10 → 100, one digit longer
		require.NoError(t, err)
		e.mustGet(a)
		e.assertMiss(e.key("nope"), "missing")
		e.set(e.key("deleted"), "d")
		e.lock(e.key("deleted"), 60) // a lock is not an item
		st := e.stats()
		want := cache.Counts{Hits: st.Hits, Misses: st.Misses, ByteHits: st.ByteHits, Items: st.Items, Bytes: st.Bytes}
		assert.Equal(t, want, counts())
		assert.Equal(t, uint64(3), want.Items)
		require.NoError(t, e.store.FlushAll(e.ctx))
		assert.Equal(t, cache.Counts{}, counts(), "flush_all resets them")
	})
	t.Run("oldest_item_age follows the least recently accessed item", func(t *testing.T) {
		e := newEnv(t, newStore)
		a, b := e.key("a"), e.key("b")
		e.set(a, "A")
		e.advance(10)
		e.set(b, "B")
		assert.Equal(t, int64(10), e.stats().OldestItemAge, "a was written 10 s ago")
		e.advance(5)
		e.mustGet(a)
		e.advance(3)
		assert.Equal(t, int64(8), e.stats().OldestItemAge, "reading a makes b the oldest")
		require.NoError(t, e.store.Delete(e.ctx, b, 0))
		assert.Equal(t, int64(3), e.stats().OldestItemAge, "only a is left")
		require.NoError(t, e.store.Delete(e.ctx, a, 0))
		assert.Zero(t, e.stats().OldestItemAge, "0 when empty")
	})
}

func testConcurrency(t *testing.T, newStore factory) {
	t.Run("64 goroutines incrementing one key end exact", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("counter")
		e.set(k, "0")
		const workers, each = 64, 50
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					_, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, nil)
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, fmt.Sprint(workers*each), string(e.mustGet(k).Value))
	})
	t.Run("racing adds on one key have exactly one winner", func(t *testing.T) {
		e := newEnv(t, newStore)
		const workers = 32
		for round := range 5 {
			k := e.key(fmt.Sprint("add-", round))
			results := make([]error, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() { _, results[w] = e.put(cache.ModeAdd, k, fmt.Sprint(w), 0, 0) })
			}
			wg.Wait()
			winners := 0
			for _, err := range results {
				if err == nil {
					winners++
				} else {
					assert.ErrorIs(t, err, cache.ErrExists)
				}
			}
			assert.Equal(t, 1, winners, "round %d", round)
		}
	})
	t.Run("racing cas from the same id has exactly one winner per round", func(t *testing.T) {
		e := newEnv(t, newStore)
		k := e.key("k")
		e.set(k, "start")
		const workers = 16
		for round := range 5 {
			id := e.mustGet(k).CAS
			results := make([]error, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() { _, results[w] = e.put(cache.ModeCAS, k, fmt.Sprint(round, "-", w), 0, id) })
			}
			wg.Wait()
			winner := -1
			for w, err := range results {
				if err == nil {
					assert.Equal(t, -1, winner, "round %d: a second winner", round)
					winner = w
				} else {
					assert.ErrorIs(t, err, cache.ErrCASMismatch)
				}
			}
			require.NotEqual(t, -1, winner, "round %d: no winner", round)
			assert.Equal(t, fmt.Sprint(round, "-", winner), string(e.mustGet(k).Value))
		}
	})
}
