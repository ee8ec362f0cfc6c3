package redisstore

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// conformance runs the shared suite with a fresh prefix, hence a fresh and
// empty store, per subtest.
func conformance(t *testing.T, url string) {
	cachetest.Run(t, func(t *testing.T, opts cachetest.Options) cache.Store {
		return openStore(t, url, Options{Clock: opts.Clock, MaxValueSize: opts.MaxValueSize})
	})
}

func TestConformance(t *testing.T) {
	conformance(t, sharedServer(t).url())
}

func TestClusterConformance(t *testing.T) {
	c := startCluster(t)

	t.Run("suite", func(t *testing.T) { conformance(t, c.url()) })

	t.Run("one namespace spreads over every node", func(t *testing.T) {
		ctx := context.Background()
		s := openStore(t, c.url(), Options{Clock: cachetest.NewClock().Now})
		require.Equal(t, DefaultClusterBuckets, s.lay.buckets, "cluster detected")
		keys := make([]cache.Key, 200)
		entries := make([]cache.Entry, len(keys))
		for i := range keys {
			keys[i] = key(t, "one-ns", "k"+strconv.Itoa(i))
			entries[i] = cache.Entry{Key: keys[i], Value: []byte(strconv.Itoa(i)), Kind: cache.KindBytes}
		}
		errs, err := s.PutMulti(ctx, cache.ModeSet, entries)
		require.NoError(t, err)
		for i, err := range errs {
			require.NoError(t, err, "entry %d", i)
		}
		for _, n := range c.nodes {
			node := rawSingle(t, n.addr())
			size, err := node.Do(ctx, node.B().Dbsize().Build()).AsInt64()
			require.NoError(t, err)
			assert.Greater(t, size, int64(20), "node %s holds part of the namespace", n.addr())
		}
		items, err := s.GetMulti(ctx, keys, 0)
		require.NoError(t, err)
		assert.Len(t, items, len(keys), "one multi call reads keys on every node")
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(len(keys)), st.Items, "stats sum every bucket")
	})
}
