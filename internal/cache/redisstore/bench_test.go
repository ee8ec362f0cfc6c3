package redisstore

import (
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// BenchmarkRedisStore compares the Redis store with the embedded one on the
// same Get/Put/Offset path, from as many goroutines as an HTTP server would
// run, so the ratio between the two shows the price of sharing the cache.
// The Redis rows also report the server's own CPU per operation
// (redis-cpu-µs/op, its main thread's user + system time) and log INFO
// commandstats for the run: Redis shares the machine's cores with the HTTP
// server in production-like benchmarks, so its CPU per operation is
// throughput the server loses, and unlike ns/op it barely moves with the
// machine's load. REDISSTORE_BENCH_URL points the Redis rows at a server
// of one's own (e.g. one pinned to a core) instead of the test's.
func BenchmarkRedisStore(b *testing.B) {
	url := os.Getenv("REDISSTORE_BENCH_URL")
	if url == "" {
		url = sharedServer(b).url()
	}
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
	copt, err := rueidis.ParseURL(url)
	require.NoError(b, err)
	raw := rawClient(b, copt.InitAddress...)
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
				var before float64
				rs, isRedis := st.store.(*Store)
				if isRedis {
					// Whatever an earlier row left pending is not this row's cost.
					require.NoError(b, rs.Sync(ctx))
					require.NoError(b, raw.Do(ctx, raw.B().ConfigResetstat().Build()).Error())
					before = redisCPU(b, raw)
				}
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
				if isRedis {
					// The batched bookkeeping of these operations is theirs.
					require.NoError(b, rs.Sync(ctx))
					b.ReportMetric((redisCPU(b, raw)-before)*1e6/float64(b.N), "redis-cpu-µs/op")
					b.Logf("N=%d commandstats: %s", b.N, commandstats(b, raw, b.N))
				}
			})
		}
	}
}

// redisCPU is the seconds of CPU the server's main thread has used.
func redisCPU(b *testing.B, raw rueidis.Client) float64 {
	b.Helper()
	info, err := raw.Do(context.Background(), raw.B().Info().Section("cpu").Build()).ToString()
	require.NoError(b, err)
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		name, v, _ := strings.Cut(line, ":")
		if name == "used_cpu_sys_main_thread" || name == "used_cpu_user_main_thread" {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(b, err)
			total += f
		}
	}
	return total
}

// commandstats summarizes INFO commandstats as "cmd calls/op µs/call
// µs/op" per command, the costliest first. Commands run from scripts are
// counted both on their own and inside their script's time.
func commandstats(b *testing.B, raw rueidis.Client, n int) string {
	b.Helper()
	info, err := raw.Do(context.Background(), raw.B().Info().Section("commandstats").Build()).ToString()
	require.NoError(b, err)
	type row struct {
		name        string
		calls, usec float64
	}
	var rows []row
	for line := range strings.SplitSeq(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") || name == "info" || name == "config|resetstat" {
			continue
		}
		r := row{name: name}
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				r.calls = f
			case "usec":
				r.usec = f
			}
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].usec > rows[j].usec })
	var out []string
	for _, r := range rows {
		out = append(out, r.name+" "+strconv.FormatFloat(r.calls/float64(n), 'f', 3, 64)+"/op "+
			strconv.FormatFloat(r.usec/r.calls, 'f', 2, 64)+"µs "+strconv.FormatFloat(r.usec/float64(n), 'f', 2, 64)+"µs/op")
	}
	return strings.Join(out, "; ")
}
