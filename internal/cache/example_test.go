package cache_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/memcached-http/memcached-http/internal/cache"
)

func ExampleNewMemory() {
	ctx := context.Background()
	m, err := cache.NewMemory(cache.Options{MemoryLimit: 16 << 20})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	k, _ := cache.NewKey("users", "visits:42")
	if _, err := m.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(`"9"`), Kind: cache.KindJSON, Time: 60}); err != nil {
		panic(err)
	}
	n, _ := m.Offset(ctx, k, cache.Delta{Amount: 1}, nil)
	it, _ := m.Get(ctx, k, nil)
	fmt.Println(n, string(it.Value))

	_, err = m.Put(ctx, cache.ModeAdd, cache.Entry{Key: k, Value: []byte("0"), Kind: cache.KindBytes})
	fmt.Println(errors.Is(err, cache.ErrExists))
	// Output:
	// 10 "10"
	// true
}
