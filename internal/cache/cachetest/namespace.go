package cachetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// testNamespaces checks that App Engine's empty namespace ("", spelled ~)
// and the namespace named "default" are two namespaces for every operation,
// both ways round, and that flush_all and stats cover both.
func testNamespaces(t *testing.T, newStore factory) {
	label := map[string]string{"": `""`, "default": "default"}
	for _, pair := range [][2]string{{"", "default"}, {"default", ""}} {
		ns, other := pair[0], pair[1]
		t.Run("written in "+label[ns]+", read in "+label[other], func(t *testing.T) {
			t.Run("put and get", func(t *testing.T) {
				e := newEnv(t, newStore)
				e.set(e.keyIn(ns, "k"), "here")
				e.assertMiss(e.keyIn(other, "k"), "the other namespace")
				e.set(e.keyIn(other, "k"), "there")
				assert.Equal(t, "here", string(e.mustGet(e.keyIn(ns, "k")).Value))
			})
			t.Run("multi", func(t *testing.T) {
				e := newEnv(t, newStore)
				errs, err := e.store.PutMulti(e.ctx, cache.ModeSet, []cache.Entry{
					{Key: e.keyIn(ns, "a"), Value: []byte("1"), Kind: cache.KindBytes},
					{Key: e.keyIn(ns, "b"), Value: []byte("2"), Kind: cache.KindBytes},
				})
				require.NoError(t, err)
				require.Equal(t, []error{nil, nil}, errs)
				items, err := e.store.GetMulti(e.ctx, []cache.Key{e.keyIn(other, "a"), e.keyIn(other, "b")}, 0)
				require.NoError(t, err)
				assert.Empty(t, items)
				errs, err = e.store.DeleteMulti(e.ctx, []cache.Key{e.keyIn(other, "a")}, 0)
				require.NoError(t, err)
				assert.ErrorIs(t, errs[0], cache.ErrNotFound, "nothing to delete in the other namespace")
				_, errs, err = e.store.OffsetMulti(e.ctx, []cache.Key{e.keyIn(other, "a")}, []cache.Delta{{Amount: 1}}, nil)
				require.NoError(t, err)
				assert.ErrorIs(t, errs[0], cache.ErrNotFound, "no counter in the other namespace")
				items, err = e.store.GetMulti(e.ctx, []cache.Key{e.keyIn(ns, "a"), e.keyIn(ns, "b")}, 0)
				require.NoError(t, err)
				assert.Len(t, items, 2)
			})
			t.Run("incr", func(t *testing.T) {
				e := newEnv(t, newStore)
				zero := uint64(0)
				for i, k := range []cache.Key{e.keyIn(ns, "hits"), e.keyIn(other, "hits"), e.keyIn(ns, "hits")} {
					v, err := e.store.Offset(e.ctx, k, cache.Delta{Amount: 1}, &zero)
					require.NoError(t, err)
					assert.Equal(t, []uint64{1, 1, 2}[i], v, "incr %d in %q", i, k.Namespace)
				}
			})
			t.Run("delete with a lock", func(t *testing.T) {
				e := newEnv(t, newStore)
				e.set(e.keyIn(ns, "k"), "1")
				e.set(e.keyIn(other, "k"), "1")
				e.lock(e.keyIn(ns, "k"), 60)
				_, err := e.put(cache.ModeAdd, e.keyIn(ns, "k"), "2", 0, 0)
				assert.ErrorIs(t, err, cache.ErrExists, "the lock holds in its namespace")
				e.mustGet(e.keyIn(other, "k"))
				require.NoError(t, e.store.Delete(e.ctx, e.keyIn(other, "k"), 0))
				_, err = e.put(cache.ModeAdd, e.keyIn(other, "k"), "2", 0, 0)
				assert.NoError(t, err, "the lock does not reach the other namespace")
			})
			t.Run("cas", func(t *testing.T) {
				e := newEnv(t, newStore)
				id := e.set(e.keyIn(ns, "k"), "1")
				e.set(e.keyIn(other, "k"), "2")
				_, err := e.put(cache.ModeCAS, e.keyIn(other, "k"), "3", 0, id)
				assert.ErrorIs(t, err, cache.ErrCASMismatch, "one namespace's id is not the other's")
				_, err = e.put(cache.ModeCAS, e.keyIn(ns, "k"), "4", 0, id)
				assert.NoError(t, err, "writing the other namespace left this id current")
			})
		})
	}
	t.Run("flush_all clears both and stats count both", func(t *testing.T) {
		e := newEnv(t, newStore)
		for _, ns := range []string{"", "default"} {
			e.set(e.keyIn(ns, "k"), "v")
			e.mustGet(e.keyIn(ns, "k"))
		}
		st := e.stats()
		assert.Equal(t, uint64(2), st.Items)
		assert.Equal(t, uint64(2), st.Hits)
		require.NoError(t, e.store.FlushAll(e.ctx))
		for _, ns := range []string{"", "default"} {
			e.assertMiss(e.keyIn(ns, "k"), "flushed")
		}
		assert.Equal(t, uint64(0), e.stats().Items)
	})
}
