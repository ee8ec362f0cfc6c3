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

func benchMemory(b *testing.B, keys []Key) *Memory {
	m := newTestMemory(b, Options{MemoryLimit: 256 << 20})
	value := make([]byte, benchValueSize)
	for _, k := range keys {
		if _, err := m.Put(b.Context(), ModeSet, Entry{Key: k, Value: value, Kind: KindBytes}); err != nil {
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

func BenchmarkGet(b *testing.B) {
	keys := benchKeySet(b, benchKeys)
	b.Run("memory", func(b *testing.B) {
		m := benchMemory(b, keys)
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
		m := benchMemory(b, keys)
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

func BenchmarkSet(b *testing.B) {
	keys := benchKeySet(b, benchKeys)
	value := make([]byte, benchValueSize)
	b.Run("memory", func(b *testing.B) {
		m := benchMemory(b, keys)
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Put(ctx, ModeSet, Entry{Key: keys[i%benchKeys], Value: value, Kind: KindBytes, Time: 3600}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
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
// and their ratio; each iteration times one Get on each store.
func BenchmarkGetP99Scale(b *testing.B) {
	const small, large, sample = 10_000, 10_000_000, 100_000
	ctx := context.Background()
	build := func(n int) (*Memory, []Key) {
		m, err := NewMemory(Options{MemoryLimit: 3 << 30})
		if err != nil {
			b.Fatal(err)
		}
		value := make([]byte, 16)
		var buf []byte
		for i := range n {
			buf = strconv.AppendInt(append(buf[:0], "key:"...), int64(i), 10)
			if _, err := m.Put(ctx, ModeSet, Entry{Key: Key{Namespace: DefaultNamespace, Name: string(buf)}, Value: value, Kind: KindBytes}); err != nil {
				b.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		keys := make([]Key, sample)
		for i := range keys {
			keys[i] = Key{Namespace: DefaultNamespace, Name: "key:" + strconv.Itoa(rng.IntN(n))}
		}
		return m, keys
	}
	ms, ks := build(small)
	ml, kl := build(large)
	defer func() { _, _ = ms.Close(), ml.Close() }()
	runtime.GC()
	var ls, ll []time.Duration
	dst := make([]byte, 0, 64)
	timeGet := func(m *Memory, k Key) time.Duration {
		start := time.Now()
		if _, err := m.Get(ctx, k, dst); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	i := 0
	for b.Loop() {
		ls = append(ls, timeGet(ms, ks[i%sample]))
		ll = append(ll, timeGet(ml, kl[i%sample]))
		i++
	}
	p99 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)*99/100].Nanoseconds())
	}
	ps, pl := p99(ls), p99(ll)
	b.ReportMetric(ps, "p99-ns/10k")
	b.ReportMetric(pl, "p99-ns/10M")
	b.ReportMetric(pl/ps, "p99-ratio")
}
