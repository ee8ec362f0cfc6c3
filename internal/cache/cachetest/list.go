package cachetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// listAll follows a listing to its end, checking every page's bound, and
// returns the names in the order listed (repeats kept, so callers see them).
func (e *env) listAll(ns, prefix string, limit int) ([]string, map[string]cache.KeyInfo) {
	e.t.Helper()
	var names []string
	infos := map[string]cache.KeyInfo{}
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(e.t, pages, 100_000, "the listing never ends")
		page, err := e.store.ListKeys(e.ctx, cache.ListOptions{Namespace: ns, Prefix: prefix, Limit: limit, Cursor: cursor})
		require.NoError(e.t, err, "ListKeys page %d", pages)
		require.LessOrEqual(e.t, len(page.Keys), limit, "page %d holds more than the limit", pages)
		for _, k := range page.Keys {
			names = append(names, k.Name)
			infos[k.Name] = k
		}
		if page.Next == "" {
			return names, infos
		}
		cursor = page.Next
	}
}

func testList(t *testing.T, newStore factory) {
	t.Run("pages list each live item of the namespace and prefix once, with its metadata", func(t *testing.T) {
		e := newEnv(t, newStore)
		want := map[string]cache.Item{}
		for i := range 23 {
			k := e.keyIn("team-a", fmt.Sprintf("user:%02d", i))
			_, err := e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(fmt.Sprintf(`{"n":%d}`, i)), Kind: cache.KindJSON, Flags: uint32(i), Time: float64(60 * (i % 2))})
			require.NoError(t, err)
			want[k.Name] = e.mustGet(k)
		}
		e.set(e.keyIn("team-a", "session:1"), "not under the prefix")
		e.set(e.keyIn("team-b", "user:99"), "another namespace")
		e.set(e.keyIn("", "user:98"), "the empty namespace")
		e.set(e.keyIn("default", "user:97"), "the namespace named default")

		for _, limit := range []int{1, 4, 23, 1000} {
			names, infos := e.listAll("team-a", "user:", limit)
			assert.ElementsMatch(t, keysOf(want), names, "limit %d", limit)
			for name, it := range want {
				got := infos[name]
				assert.Equal(t, cache.KeyInfo{Name: name, Size: len(it.Value), Kind: it.Kind, Flags: it.Flags, CAS: it.CAS, Expires: it.Expires}, got, "limit %d: %s", limit, name)
			}
		}
		all, _ := e.listAll("team-a", "", 10)
		assert.Len(t, all, 24, "no prefix lists the whole namespace")
		empty, _ := e.listAll(cache.DefaultNamespace, "", 10)
		assert.Equal(t, []string{"user:98"}, empty, "the empty namespace is ~ and apart from default")
		named, _ := e.listAll("default", "", 10)
		assert.Equal(t, []string{"user:97"}, named)
		none, _ := e.listAll("team-c", "", 10)
		assert.Empty(t, none)
	})

	t.Run("expired items, delete locks and flushed items are not listed; listing is not a lookup", func(t *testing.T) {
		e := newEnv(t, newStore)
		_, err := e.put(cache.ModeSet, e.key("short"), "v", 10, 0)
		require.NoError(t, err)
		e.set(e.key("locked"), "v")
		e.lock(e.key("locked"), 60)
		e.set(e.key("kept"), "v")
		before := e.stats()
		names, _ := e.listAll(cache.DefaultNamespace, "", 10)
		assert.ElementsMatch(t, []string{"short", "kept"}, names)
		e.advance(11) // 10 s from a fractional start end at the next whole second
		names, _ = e.listAll(cache.DefaultNamespace, "", 10)
		assert.Equal(t, []string{"kept"}, names, "an item is not listed from its expiry on")
		after := e.stats()
		assert.Equal(t, before.Hits, after.Hits, "listing counts no hit")
		assert.Equal(t, before.Misses, after.Misses, "listing counts no miss")
		require.NoError(t, e.store.FlushAll(e.ctx))
		names, _ = e.listAll(cache.DefaultNamespace, "", 10)
		assert.Empty(t, names)
	})

	t.Run("bad limits, prefixes, namespaces and cursors are refused", func(t *testing.T) {
		e := newEnv(t, newStore)
		for _, opts := range []cache.ListOptions{
			{Namespace: "~", Limit: 0},
			{Namespace: "~", Limit: cache.MaxListLimit + 1},
			{Namespace: "bad ns", Limit: 1},
			{Namespace: "", Limit: 1},
			{Namespace: "~", Limit: 1, Cursor: "not a cursor"},
			{Namespace: "~", Limit: 1, Cursor: "bTE"},
		} {
			_, err := e.store.ListKeys(e.ctx, opts)
			assert.ErrorIs(t, err, cache.ErrInvalidArgument, "%+v", opts)
		}
		_, err := e.store.ListKeys(e.ctx, cache.ListOptions{Namespace: "~", Limit: 1, Prefix: string(make([]byte, cache.MaxKeyBytes+1))})
		assert.ErrorIs(t, err, cache.ErrKeyTooLong)
		for _, limit := range []int{0, cache.MaxNamespaces + 1} {
			_, _, err := e.store.Namespaces(e.ctx, limit)
			assert.ErrorIs(t, err, cache.ErrInvalidArgument, "namespaces limit %d", limit)
		}
	})

	t.Run("an item live for the whole listing appears once under concurrent writes", func(t *testing.T) {
		e := newEnv(t, newStore)
		stable := map[string]cache.Item{}
		for i := range 300 {
			k := e.keyIn("busy", fmt.Sprintf("stable:%03d", i))
			e.set(k, "v")
			stable[k.Name] = cache.Item{}
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Writers add and remove other keys under the same prefix, and
			// rewrite stable ones, which must not make them vanish or repeat.
			for i := 0; !stop.Load(); i++ {
				k, _ := cache.NewKey("busy", fmt.Sprintf("stable:churn:%d", i))
				_, _ = e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("x"), Kind: cache.KindBytes})
				if i >= 50 {
					old, _ := cache.NewKey("busy", fmt.Sprintf("stable:churn:%d", i-50))
					_ = e.store.Delete(e.ctx, old, 0)
				}
				s, _ := cache.NewKey("busy", fmt.Sprintf("stable:%03d", i%300))
				_, _ = e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: s, Value: []byte("rewritten"), Kind: cache.KindBytes})
			}
		}()
		names, _ := e.listAll("busy", "stable:", 7)
		stop.Store(true)
		wg.Wait()
		count := map[string]int{}
		for _, n := range names {
			count[n]++
		}
		for name := range stable {
			assert.Equal(t, 1, count[name], "%s listed %d times", name, count[name])
		}
	})

	t.Run("namespaces in use, with their live item counts, ~ first", func(t *testing.T) {
		e := newEnv(t, newStore)
		nss, more, err := e.store.Namespaces(e.ctx, 10)
		require.NoError(t, err)
		assert.Empty(t, nss)
		assert.False(t, more)
		for i := range 3 {
			e.set(e.keyIn("b", fmt.Sprint(i)), "v")
		}
		e.set(e.keyIn("a", "1"), "v")
		e.set(e.keyIn("", "1"), "v")
		e.set(e.keyIn("default", "1"), "v")
		e.set(e.keyIn("only-locked", "1"), "v")
		e.lock(e.keyIn("only-locked", "1"), 60)
		_, err = e.put(cache.ModeSet, e.keyIn("expiring", "1"), "v", 5, 0)
		require.NoError(t, err)
		e.advance(6)
		nss, more, err = e.store.Namespaces(e.ctx, 10)
		require.NoError(t, err)
		assert.False(t, more)
		assert.Equal(t, []cache.NamespaceInfo{{Name: "~", Items: 1}, {Name: "a", Items: 1}, {Name: "b", Items: 3}, {Name: "default", Items: 1}}, nss)
		nss, more, err = e.store.Namespaces(e.ctx, 2)
		require.NoError(t, err)
		assert.True(t, more, "a cut list says so")
		assert.Equal(t, []cache.NamespaceInfo{{Name: "~", Items: 1}, {Name: "a", Items: 1}}, nss)
	})

	t.Run("binary names are listed as their bytes", func(t *testing.T) {
		e := newEnv(t, newStore)
		k, err := cache.NewBinaryKey("bin", "\xff\x00k")
		require.NoError(t, err)
		_, err = e.store.Put(e.ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("v"), Kind: cache.KindBytes})
		require.NoError(t, err)
		names, _ := e.listAll("bin", "\xff", 5)
		assert.Equal(t, []string{"\xff\x00k"}, names)
	})
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
