package redisstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// App Engine's empty namespace is `~` in the Redis key layout too, so its
// items never share Redis keys with the namespace named "default".
func TestLayoutSpellsTheEmptyNamespaceAsTheWireDoes(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	s := openStore(t, srv.url(), Options{Clock: cachetest.NewClock().Now})
	raw := rawClient(t, srv.addr())
	values := map[string]string{"": "empty", "default": "named"}
	for ns, v := range values {
		put(t, s, key(t, ns, "k"), v, cache.KindBytes)
	}
	for _, name := range []string{"~:k", "default:k"} {
		k := s.lay.itemPrefix(0) + name
		n, err := raw.Do(ctx, raw.B().Exists().Key(k).Build()).AsInt64()
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "Redis holds %q", k)
	}
	for ns, v := range values {
		it, err := s.Get(ctx, key(t, ns, "k"), nil)
		require.NoError(t, err)
		assert.Equal(t, v, string(it.Value), "namespace %q", ns)
	}
}
