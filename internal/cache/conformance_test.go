package cache_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T, opts cachetest.Options) cache.Store {
		m, err := cache.NewMemory(cache.Options{Clock: opts.Clock, MaxValueSize: opts.MaxValueSize, MemoryLimit: 8 << 20})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, m.Close()) })
		return m
	})
}
