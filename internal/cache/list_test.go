package cache_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// A page bounds the slots it looks at: a namespace of 3 keys in a store of
// 150,000 is listed over pages that end early, never by one scan of it all.
func TestListKeysPageBoundsItsScan(t *testing.T) {
	m, err := cache.NewMemory(cache.Options{MemoryLimit: 256 << 20, Shards: 16})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	ctx := context.Background()
	entries := make([]cache.Entry, 0, 150_000)
	for i := range cap(entries) {
		k, err := cache.NewKey("big", fmt.Sprint(i))
		require.NoError(t, err)
		entries = append(entries, cache.Entry{Key: k, Value: []byte("v"), Kind: cache.KindBytes})
	}
	_, err = m.PutMulti(ctx, cache.ModeSet, entries)
	require.NoError(t, err)
	for _, name := range []string{"a", "b", "c"} {
		k, _ := cache.NewKey("small", name)
		_, err := m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("v"), Kind: cache.KindBytes})
		require.NoError(t, err)
	}
	var got []string
	pages, short := 0, 0
	for cursor := ""; ; pages++ {
		page, err := m.ListKeys(ctx, cache.ListOptions{Namespace: "small", Limit: 10, Cursor: cursor})
		require.NoError(t, err)
		for _, k := range page.Keys {
			got = append(got, k.Name)
		}
		if page.Next == "" {
			break
		}
		if len(page.Keys) < 10 {
			short++
		}
		cursor = page.Next
	}
	assert.ElementsMatch(t, []string{"a", "b", "c"}, got)
	assert.Greater(t, short, 0, "some page ended early with a cursor rather than scan every shard")
}
