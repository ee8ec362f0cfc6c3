package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	benchKeys      = 10_000
	benchValueSize = 64
)

// baseline is the yardstick for the engine: a plain map behind a
// sync.RWMutex, with no TTL, LRU, memory limit, CAS or stats.
type baseline struct {
	mu sync.RWMutex // guards m
	m  map[Key][]byte
}

func (b *baseline) get(k Key, dst []byte) ([]byte, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, ok := b.m[k]
	return append(dst[:0], v...), ok
}

func (b *baseline) set(k Key, v []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[k] = append(b.m[k][:0], v...)
}

func (b *baseline) incr(k Key, delta uint64) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := strconv.ParseUint(string(b.m[k]), 10, 64)
	if err != nil {
		return 0, err
	}
	n += delta
	b.m[k] = strconv.AppendUint(b.m[k][:0], n, 10)
	return n, nil
}

func benchKeySet(b *testing.B, n int) []Key {
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = mustKey(b, fmt.Sprintf("key:%08d", i))
	}
	return keys
}

// benchMemory returns a store holding keys with benchValueSize-byte values
// and expiration time ttl.
func benchMemory(b *testing.B, keys []Key, ttl float64) *Memory {
	m := newTestMemory(b, Options{MemoryLimit: 256 << 20})
	value := make([]byte, benchValueSize)
	for _, k := range keys {
		if _, err := m.Put(b.Context(), ModeSet, Entry{Key: k, Value: value, Kind: KindBytes, Time: ttl}); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

func benchBaseline(keys []Key) *baseline {
	bl := &baseline{m: make(map[Key][]byte, len(keys))}
	for _, k := range keys {
		bl.set(k, make([]byte, benchValueSize))
	}
	return bl
}

// BenchmarkGet measures a Get hit on items without expiry ("memory"), which
// needs no clock reading, and on items with one ("memory-ttl"), which reads
// the monotonic clock once.
func BenchmarkGet(b *testing.B) {
	keys := benchKeySet(b, benchKeys)
	for _, c := range []struct {
		name string
		ttl  float64
	}{{"memory", 0}, {"memory-ttl", 3600}} {
		b.Run(c.name, func(b *testing.B) {
			m := benchMemory(b, keys, c.ttl)
			ctx, dst := context.Background(), make([]byte, 0, benchValueSize)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := m.Get(ctx, keys[i%benchKeys], dst); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("baseline", func(b *testing.B) {
		bl := benchBaseline(keys)
		dst := make([]byte, 0, benchValueSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := bl.get(keys[i%benchKeys], dst); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkGetParallel(b *testing.B) {
	keys := benchKeySet(b, benchKeys)
	b.Run("memory", func(b *testing.B) {
		m := benchMemory(b, keys, 0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
			dst := make([]byte, 0, benchValueSize)
			for pb.Next() {
				if _, err := m.Get(context.Background(), keys[rng.IntN(benchKeys)], dst); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("baseline", func(b *testing.B) {
		bl := benchBaseline(keys)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
			dst := make([]byte, 0, benchValueSize)
			for pb.Next() {
				if _, ok := bl.get(keys[rng.IntN(benchKeys)], dst); !ok {
					b.Error("miss")
					return
				}
			}
		})
	})
}

// BenchmarkSet measures an overwrite with a relative time ("memory"), which
// reads the monotonic clock once, and one without expiry ("memory-no-ttl"),
// which reads it only when an eviction needs it.
func BenchmarkSet(b *testing.B) {
	keys := benchKeySet(b, benchKeys)
	value := make([]byte, benchValueSize)
	for _, c := range []struct {
		name string
		ttl  float64
	}{{"memory", 3600}, {"memory-no-ttl", 0}} {
		b.Run(c.name, func(b *testing.B) {
			m := benchMemory(b, keys, 0)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := m.Put(ctx, ModeSet, Entry{Key: keys[i%benchKeys], Value: value, Kind: KindBytes, Time: c.ttl}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("baseline", func(b *testing.B) {
		bl := benchBaseline(keys)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			bl.set(keys[i%benchKeys], value)
			i++
		}
	})
}

func BenchmarkIncr(b *testing.B) {
	keys := benchKeySet(b, benchKeys)
	b.Run("memory", func(b *testing.B) {
		m := newTestMemory(b, Options{})
		ctx := context.Background()
		for _, k := range keys {
			if _, err := m.Put(ctx, ModeSet, Entry{Key: k, Value: []byte("1000"), Kind: KindJSON}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Offset(ctx, keys[i%benchKeys], Delta{Amount: 1}, nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("baseline", func(b *testing.B) {
		bl := &baseline{m: make(map[Key][]byte, benchKeys)}
		for _, k := range keys {
			bl.set(k, []byte("1000"))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := bl.incr(keys[i%benchKeys], 1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkItemOverhead reports the heap bytes per item beyond its key and
// value, for one million small items (11-byte keys, 16-byte values) in the
// default namespace; the namespace bytes count as overhead.
func BenchmarkItemOverhead(b *testing.B) {
	const n = 1_000_000
	value := make([]byte, 16)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("key:%07d", i)
	}
	payload := n * (len(names[0]) + len(value))
	ctx := context.Background()
	for b.Loop() {
		before := heapInUse()
		m, err := NewMemory(Options{MemoryLimit: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range names {
			if _, err := m.Put(ctx, ModeSet, Entry{Key: Key{Namespace: DefaultNamespace, Name: name}, Value: value, Kind: KindBytes}); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(int64(after-before)-int64(payload))/n, "B-overhead/item")
		b.ReportMetric(float64(ItemOverhead), "B-charged/item")
		runtime.KeepAlive(m)
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetP99Scale reports the 99th percentile latency of a Get hit on
// uniformly random keys in a store of 10k items and in one of 10M items,
// and their ratio (ns/op is the time of 256 Gets on each). The baseline
// map runs the same measurement, to show how much of the ratio is the
// memory hierarchy rather than the engine.
func BenchmarkGetP99Scale(b *testing.B) {
	const small, large = 10_000, 10_000_000
	value := make([]byte, 16)
	name := func(i int) string { return "key:" + strconv.Itoa(i) }
	b.Run("memory", func(b *testing.B) {
		build := func(n int) func(Key, []byte) error {
			m, err := NewMemory(Options{MemoryLimit: 3 << 30})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			ctx := context.Background()
			for i := range n {
				if _, err := m.Put(ctx, ModeSet, Entry{Key: Key{Namespace: DefaultNamespace, Name: name(i)}, Value: value, Kind: KindBytes}); err != nil {
					b.Fatal(err)
				}
			}
			return func(k Key, dst []byte) error {
				_, err := m.Get(ctx, k, dst)
				return err
			}
		}
		p99Scale(b, build(small), small, build(large), large)
	})
	b.Run("baseline", func(b *testing.B) {
		build := func(n int) func(Key, []byte) error {
			bl := &baseline{m: make(map[Key][]byte, n)}
			for i := range n {
				bl.set(Key{Namespace: DefaultNamespace, Name: name(i)}, value)
			}
			return func(k Key, dst []byte) error {
				if _, ok := bl.get(k, dst); !ok {
					return ErrNotFound
				}
				return nil
			}
		}
		p99Scale(b, build(small), small, build(large), large)
	})
}

func p99Scale(b *testing.B, getSmall func(Key, []byte) error, small int, getLarge func(Key, []byte) error, large int) {
	const sample = 100_000
	keys := func(n int) []Key {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		ks := make([]Key, sample)
		for i := range ks {
			ks[i] = Key{Namespace: DefaultNamespace, Name: "key:" + strconv.Itoa(rng.IntN(n))}
		}
		return ks
	}
	ks, kl := keys(small), keys(large)
	// Fixed rings of samples, so recording allocates nothing and no
	// collection runs while timing.
	const ring = 1 << 20
	ls, ll := make([]time.Duration, ring), make([]time.Duration, ring)
	dst := make([]byte, 0, 64)
	timeGet := func(get func(Key, []byte) error, k Key) time.Duration {
		start := time.Now()
		if err := get(k, dst); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	runtime.GC()
	// Each iteration times a batch of Gets on one store, then on the other:
	// both see the same background noise, and a batch is long enough that
	// the small store is measured with its own working set in cache.
	const batch = 256
	i := 0
	for b.Loop() {
		for j := range batch {
			ls[(i+j)%ring] = timeGet(getSmall, ks[(i+j)%sample])
		}
		for j := range batch {
			ll[(i+j)%ring] = timeGet(getLarge, kl[(i+j)%sample])
		}
		i += batch
	}
	ls, ll = ls[:min(i, ring)], ll[:min(i, ring)]
	p99 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)*99/100].Nanoseconds())
	}
	ps, pl := p99(ls), p99(ll)
	b.ReportMetric(ps, "p99-ns/10k")
	b.ReportMetric(pl, "p99-ns/10M")
	b.ReportMetric(pl/ps, "p99-ratio")
}

// BenchmarkStats measures Stats over one million items: it scans every slot
// (one shard lock at a time) to count live items exactly.
func BenchmarkStats(b *testing.B) {
	const n = 1_000_000
	m := newTestMemory(b, Options{MemoryLimit: 1 << 30})
	ctx := context.Background()
	value := make([]byte, 16)
	for i := range n {
		if _, err := m.Put(ctx, ModeSet, Entry{Key: Key{Namespace: DefaultNamespace, Name: "key:" + strconv.Itoa(i)}, Value: value, Kind: KindBytes}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := m.Stats(ctx)
		if err != nil || st.Items != n {
			b.Fatalf("stats: %+v, %v", st, err)
		}
	}
}
