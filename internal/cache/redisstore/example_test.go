package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/redisstore"
)

// Open a store shared by every memcached-http node that uses the same Redis
// and prefix; a backend outage surfaces as cache.ErrUnavailable (HTTP 503).
// Not run: it needs a Redis server.
func ExampleOpen() {
	ctx := context.Background()
	store, err := redisstore.Open(ctx, "redis://127.0.0.1:6379/0", redisstore.Options{KeyPrefix: "mchttp:"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	k, err := cache.NewKey("", "greeting")
	if err != nil {
		log.Fatal(err)
	}
	_, err = store.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte(`"hello"`), Kind: cache.KindJSON, Time: 60})
	switch {
	case errors.Is(err, cache.ErrUnavailable):
		fmt.Println("503: Redis is unreachable")
	case err != nil:
		log.Fatal(err)
	}
}
