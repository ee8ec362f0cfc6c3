// Command snapgen writes a snapshot file of the embedded store for
// scripts/bench/snapshot.sh: keys k0…k<n-1> in one namespace, each holding a
// printable value of the given size, as memcached-bench and wrk.lua name
// and read them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strconv"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/snapshot"
)

func main() {
	out := flag.String("out", "bench.snapshot", "snapshot file to write")
	total := flag.Int64("bytes", 1<<30, "value bytes in all")
	size := flag.Int("value", 100, "value size in bytes")
	ns := flag.String("ns", "bench", "namespace")
	flag.Parse()
	n := int(*total / int64(*size))
	m, err := cache.NewMemory(cache.Options{
		MemoryLimit:  int64(n)*int64(cache.ItemOverhead+40+*size+*size/8) + 64<<20,
		MaxValueSize: max(*size, 1<<20),
	})
	if err != nil {
		log.Fatal(err)
	}
	alphabet := "abcdefghijklmnopqrstuvwxyz0123456789"
	value := make([]byte, *size)
	for i := range value {
		value[i] = alphabet[i%len(alphabet)]
	}
	for i := range n {
		k := cache.Key{Namespace: *ns, Name: "k" + strconv.Itoa(i)}
		if _, err := m.Put(context.Background(), cache.ModeSet, cache.Entry{Key: k, Value: value, Kind: cache.KindBytes}); err != nil {
			log.Fatal(err)
		}
	}
	st, err := snapshot.Write(context.Background(), m, *out, snapshot.WriteOptions{Final: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("snapgen: %d items of %d bytes, %d file bytes in %.2f s\n", st.Items, *size, st.Bytes, st.Duration.Seconds())
}
