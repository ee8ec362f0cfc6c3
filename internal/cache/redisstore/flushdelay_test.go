package redisstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// redisCounters reads the server's commands processed and reads processed
// (each read system call that brought client bytes in).
func redisCounters(t *testing.T, c rueidis.Client) (commands, reads int64) {
	t.Helper()
	info, err := c.Do(context.Background(), c.B().Info().Section("stats").Build()).ToString()
	require.NoError(t, err)
	field := func(name string) int64 {
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				require.NoError(t, err)
				return n
			}
		}
		t.Fatalf("INFO stats has no %s", name)
		return 0
	}
	return field("total_commands_processed"), field("total_reads_processed")
}

func TestConcurrentCallsShareWritesWithinTheFlushDelay(t *testing.T) {
	srv := ownServer(t)
	// Long enough that every caller has queued its call on a busy machine.
	s := openStore(t, srv.url(), Options{FlushDelay: 5 * time.Millisecond})
	raw := rawClient(t, srv.addr())
	k := key(t, "ns", "k")
	put(t, s, k, "v", cache.KindBytes)

	const callers, calls = 64, 20
	c0, r0 := redisCounters(t, raw)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				_, err := s.Get(context.Background(), k, nil)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	c1, r1 := redisCounters(t, raw)
	perRead := float64(c1-c0-1) / float64(r1-r0-1) // less the INFO call itself
	t.Logf("%d commands in %d reads: %.1f per read", c1-c0-1, r1-r0-1, perRead)
	// A GET is two commands; without the delay about 9 arrived per read here
	// (at 64 callers, 2 cores), with it about 60.
	assert.GreaterOrEqual(t, perRead, 25.0, "calls in flight together are written together")
}

func TestALoneCallDoesNotWaitForTheFlushDelay(t *testing.T) {
	srv := sharedServer(t)
	// A delay long enough that a quarter of it, per call, stands well clear
	// of a round trip on a busy machine.
	const delay = 200 * time.Millisecond
	s := openStore(t, srv.url(), Options{FlushDelay: delay})
	k := key(t, "ns", "k")
	put(t, s, k, "v", cache.KindBytes)
	start := time.Now()
	const calls = 100
	for range calls {
		_, err := s.Get(context.Background(), k, nil)
		require.NoError(t, err)
	}
	// Waiting after each write would take calls × 200 ms = 20 s.
	assert.Less(t, time.Since(start), calls*delay/4, "sequential calls are not delayed")
}

func TestAFlushDelayBelowZeroMeansNone(t *testing.T) {
	assert.Equal(t, DefaultFlushDelay, Options{}.withDefaults().FlushDelay)
	assert.Equal(t, -time.Nanosecond, Options{FlushDelay: -time.Nanosecond}.withDefaults().FlushDelay)
}
