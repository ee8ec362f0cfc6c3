package redisstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// BenchmarkRedisStore compares the Redis store with the embedded one on the
// same Get/Put/Offset path, from as many goroutines as an HTTP server would
// run, so the ratio between the two shows the price of sharing the cache.
func BenchmarkRedisStore(b *testing.B) {
	url := sharedServer(b).url()
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, mem.Close()) })
	stores := []struct {
		name  string
		store cache.Store
	}{
		{"memory", mem},
		{"redis", openStore(b, url, Options{})},
	}
	const nkeys = 1000
	keys, counters := make([]cache.Key, nkeys), make([]cache.Key, nkeys)
	for i := range keys {
		keys[i] = key(b, "bench", "key:"+strconv.Itoa(i))
		counters[i] = key(b, "bench", "counter:"+strconv.Itoa(i))
	}
	value := []byte(`{"user":42,"name":"a value of about a hundred bytes","tags":["x","y","z"],"ok":true,"n":1234567}`)
	ctx := context.Background()
	zero := uint64(0)
	for _, st := range stores {
		for _, k := range keys {
			_, err := st.store.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: value, Kind: cache.KindJSON})
			require.NoError(b, err)
		}
		ops := []struct {
			name string
			run  func(i uint64, buf []byte) error
		}{
			{"get", func(i uint64, buf []byte) error { _, err := st.store.Get(ctx, keys[i], buf); return err }},
			{"put", func(i uint64, _ []byte) error {
				_, err := st.store.Put(ctx, cache.ModeSet, cache.Entry{Key: keys[i], Value: value, Kind: cache.KindJSON})
				return err
			}},
			{"incr", func(i uint64, _ []byte) error {
				_, err := st.store.Offset(ctx, counters[i], cache.Delta{Amount: 1}, &zero)
				return err
			}},
		}
		for _, op := range ops {
			b.Run(st.name+"/"+op.name, func(b *testing.B) {
				var next atomic.Uint64
				b.ReportAllocs()
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 0, 256)
					for pb.Next() {
						if err := op.run(next.Add(1)%nkeys, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
