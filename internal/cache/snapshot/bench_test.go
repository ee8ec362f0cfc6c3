package snapshot_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/snapshot"
)

// BenchmarkSnapshot1GiB writes and loads a snapshot of 1 GiB of values
// (SNAPSHOT_BENCH_BYTES overrides the size), of 100-byte and of 10 KB
// values, in interleaved rounds with three baselines from the same run: a
// plain write and fsync of as many bytes to the same directory (the disk's
// speed), and Put of the same items into an empty store (the engine's
// insert speed), and the load restoring record by record through Restore
// (the path before RestoreShard). Run it with -benchtime 1x:
//
//	go test -run '^$' -bench Snapshot1GiB -benchtime 1x -timeout 60m ./internal/cache/snapshot/
func BenchmarkSnapshot1GiB(b *testing.B) {
	total := int64(1 << 30)
	if v := os.Getenv("SNAPSHOT_BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		total = n
	}
	dir := os.Getenv("SNAPSHOT_BENCH_DIR") // default: a temporary directory
	if dir == "" {
		dir = b.TempDir()
	}
	for _, size := range []int{100, 10 << 10} {
		b.Run(fmt.Sprintf("value=%dB", size), func(b *testing.B) {
			benchSnapshot(b, dir, total, size)
		})
	}
}

func benchSnapshot(b *testing.B, dir string, total int64, size int) {
	const rounds = 3
	n := int(total / int64(size))
	limit := int64(n)*int64(cache.ItemOverhead+40+size+size/8) + 64<<20
	newStore := func() *cache.Memory {
		m, err := cache.NewMemory(cache.Options{MemoryLimit: limit, MaxValueSize: max(size, 1<<20)})
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	value := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte(rng.Uint32())
	}
	keys := make([]cache.Key, n)
	for i := range keys {
		keys[i] = cache.Key{Namespace: "default", Name: "key:" + strconv.Itoa(i)}
	}
	fill := func(m *cache.Memory) time.Duration {
		start := time.Now()
		for i, k := range keys {
			value[0], value[1], value[2] = byte(i), byte(i>>8), byte(i>>16)
			if _, err := m.Put(context.Background(), cache.ModeSet, cache.Entry{Key: k, Value: value, Kind: cache.KindBytes}); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	src := newStore()
	defer src.Close()
	fill(src)
	path := filepath.Join(dir, "bench.snapshot")
	defer os.Remove(path)
	defer os.Remove(path + ".raw")
	var write, load, raw, put, hold, writeCPU, loadCPU, perItem, perItemCPU time.Duration
	var fileBytes int64
	b.ResetTimer()
	for r := range rounds {
		// Plain write of as many bytes, then fsync: what the disk does.
		if r > 0 {
			raw += rawWrite(b, path+".raw", fileBytes)
		}
		c0 := cpuTime()
		st, err := snapshot.Write(context.Background(), src, path, snapshot.WriteOptions{Final: true})
		if err != nil {
			b.Fatal(err)
		}
		writeCPU += cpuTime() - c0
		write += st.Duration
		hold = max(hold, st.MaxHold)
		fileBytes = st.Bytes

		// The bulk load, then the per-item one before it as the baseline.
		for _, one := range []bool{false, true} {
			snapshot.SetPerItem(one)
			dst := newStore()
			c0 = cpuTime()
			lst, err := snapshot.Load(context.Background(), dst, path)
			if err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime() - c0
			if int(lst.Items) != n || lst.Evicted != 0 {
				b.Fatalf("loaded %d items, evicted %d, want %d", lst.Items, lst.Evicted, n)
			}
			if one {
				perItem += lst.Duration
				perItemCPU += cpu
			} else {
				load += lst.Duration
				loadCPU += cpu
			}
			_ = dst.Close()
			dst = nil
			runtime.GC()
		}
		snapshot.SetPerItem(false)

		base := newStore()
		put += fill(base)
		_ = base.Close()
		base = nil
		runtime.GC()
	}
	b.StopTimer()
	mb := float64(fileBytes) / 1e6
	b.ReportMetric(float64(n), "items")
	b.ReportMetric(mb, "file_MB")
	b.ReportMetric(write.Seconds()/rounds, "write_s")
	b.ReportMetric(mb/(write.Seconds()/rounds), "write_MB/s")
	b.ReportMetric(mb/(raw.Seconds()/(rounds-1)), "rawwrite_MB/s")
	b.ReportMetric(load.Seconds()/rounds, "load_s")
	b.ReportMetric(perItem.Seconds()/rounds, "load_peritem_s")
	b.ReportMetric(perItemCPU.Seconds()/rounds, "load_peritem_cpu_s")
	b.ReportMetric(put.Seconds()/rounds, "put_s")
	b.ReportMetric(writeCPU.Seconds()/rounds, "write_cpu_s")
	b.ReportMetric(loadCPU.Seconds()/rounds, "load_cpu_s")
	b.ReportMetric(float64(hold.Microseconds())/1000, "maxhold_ms")
}

// cpuTime is the process's user and system CPU time so far: on a machine
// whose cores are shared, what a phase costs apart from the wait for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawWrite writes n bytes to path in 1 MiB writes and syncs it.
func rawWrite(b *testing.B, path string, n int64) time.Duration {
	buf := make([]byte, 1<<20)
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	_ = os.Remove(path)
	return d
}
