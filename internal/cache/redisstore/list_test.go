package redisstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// A cursor is the client's to send back, so the keys waiting in it are
// checked: a cursor naming another namespace's item lists nothing of it.
func TestListKeysCursorCannotReachAnotherNamespace(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, sharedServer(t).url(), Options{Clock: cachetest.NewClock().Now})
	put(t, s, key(t, "team-b", "secret"), "v", cache.KindBytes)
	put(t, s, key(t, "team-a", "mine"), "v", cache.KindBytes)
	forged := redisCursor{Started: true, Pending: []string{
		s.lay.itemPrefix(0) + itemName(key(t, "team-b", "secret")),
		s.lay.itemPrefix(0) + itemName(key(t, "team-a", "mine")),
	}}
	page, err := s.ListKeys(ctx, cache.ListOptions{Namespace: "team-a", Limit: 10, Cursor: forged.encode()})
	require.NoError(t, err)
	var names []string
	for _, k := range page.Keys {
		names = append(names, k.Name)
	}
	assert.Equal(t, []string{"mine"}, names)

	page, err = s.ListKeys(ctx, cache.ListOptions{Namespace: "team-a", Prefix: "x", Limit: 10, Cursor: forged.encode()})
	require.NoError(t, err)
	assert.Empty(t, page.Keys, "the prefix is checked too")
}
