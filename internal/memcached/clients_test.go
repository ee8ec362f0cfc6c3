package memcached_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/memcached"
)

// startClocked serves an embedded store whose clock only moves when the
// test says, so expiry is tested without sleeping.
func startClocked(t *testing.T) (string, *cachetest.Clock) {
	t.Helper()
	clock := cachetest.NewClock()
	store, err := cache.NewMemory(cache.Options{MemoryLimit: 64 << 20, Clock: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	return serveStore(t, store, memcached.Config{Clock: clock.Now}), clock
}

// TestGomemcacheScenario drives the listener with gomemcache, the Go
// memcached client: set/get, get_multi, a cas conflict, incr wrapping and
// decr stopping at 0, delete, touch, expiry and flush.
func TestGomemcacheScenario(t *testing.T) {
	addr, clock := startClocked(t)
	mc := memcache.New(addr)
	other := memcache.New(addr)

	require.NoError(t, mc.Set(&memcache.Item{Key: "greeting", Value: []byte("hello"), Flags: 5}))
	it, err := mc.Get("greeting")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(it.Value))
	assert.Equal(t, uint32(5), it.Flags)
	_, err = mc.Get("missing")
	assert.ErrorIs(t, err, memcache.ErrCacheMiss)

	require.NoError(t, mc.Set(&memcache.Item{Key: "a", Value: []byte("1")}))
	require.NoError(t, mc.Set(&memcache.Item{Key: "b", Value: []byte("\x00\r\n2")}))
	many, err := mc.GetMulti([]string{"a", "b", "missing"})
	require.NoError(t, err)
	require.Len(t, many, 2)
	assert.Equal(t, "1", string(many["a"].Value))
	assert.Equal(t, "\x00\r\n2", string(many["b"].Value))

	// A large binary value, "\r\n" and NUL bytes included, reads back byte
	// for byte (it is larger than a connection's read buffer).
	big := make([]byte, 900<<10)
	for i := range big {
		big[i] = byte(i*7 + i>>9)
	}
	copy(big[1000:], "\r\nEND\r\n\x00")
	require.NoError(t, mc.Set(&memcache.Item{Key: "big", Value: big}))
	it, err = mc.Get("big")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, it.Value), "900 KiB binary value round-trips")

	require.NoError(t, mc.Add(&memcache.Item{Key: "fresh", Value: []byte("x")}))
	assert.ErrorIs(t, mc.Add(&memcache.Item{Key: "fresh", Value: []byte("y")}), memcache.ErrNotStored)
	assert.ErrorIs(t, mc.Replace(&memcache.Item{Key: "nobody", Value: []byte("y")}), memcache.ErrNotStored)
	require.NoError(t, mc.Append(&memcache.Item{Key: "fresh", Value: []byte("-end")}))
	require.NoError(t, mc.Prepend(&memcache.Item{Key: "fresh", Value: []byte("start-")}))
	it, err = mc.Get("fresh")
	require.NoError(t, err)
	assert.Equal(t, "start-x-end", string(it.Value))

	// cas: a write in between makes the first client's cas fail.
	mine, err := mc.Get("greeting")
	require.NoError(t, err)
	theirs, err := other.Get("greeting")
	require.NoError(t, err)
	theirs.Value = []byte("theirs")
	require.NoError(t, other.CompareAndSwap(theirs))
	mine.Value = []byte("mine")
	assert.ErrorIs(t, mc.CompareAndSwap(mine), memcache.ErrCASConflict)
	again, err := mc.Get("greeting")
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(again.Value))
	again.Value = []byte("mine")
	require.NoError(t, mc.CompareAndSwap(again))

	// incr wraps at 2^64, decr stops at 0, a missing counter is a miss.
	require.NoError(t, mc.Set(&memcache.Item{Key: "n", Value: []byte("18446744073709551615")}))
	n, err := mc.Increment("n", 2)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n)
	n, err = mc.Decrement("n", 5)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), n)
	_, err = mc.Increment("no-counter", 1)
	assert.ErrorIs(t, err, memcache.ErrCacheMiss)

	require.NoError(t, mc.Delete("a"))
	assert.ErrorIs(t, mc.Delete("a"), memcache.ErrCacheMiss)
	_, err = mc.Get("a")
	assert.ErrorIs(t, err, memcache.ErrCacheMiss)

	// touch moves the expiry; expiry follows the store's clock.
	require.NoError(t, mc.Set(&memcache.Item{Key: "t", Value: []byte("x"), Expiration: 10}))
	require.NoError(t, mc.Touch("t", 100))
	require.NoError(t, mc.Set(&memcache.Item{Key: "e", Value: []byte("x"), Expiration: 5}))
	clock.Advance(4 * time.Second)
	_, err = mc.Get("e")
	require.NoError(t, err, "alive before its 5 s")
	clock.Advance(2 * time.Second)
	_, err = mc.Get("e")
	assert.ErrorIs(t, err, memcache.ErrCacheMiss, "expired after 5 s")
	clock.Advance(50 * time.Second)
	_, err = mc.Get("t")
	require.NoError(t, err, "touched to 100 s, alive past its first 10")
	clock.Advance(50 * time.Second)
	_, err = mc.Get("t")
	assert.ErrorIs(t, err, memcache.ErrCacheMiss)
	assert.ErrorIs(t, mc.Touch("t", 10), memcache.ErrCacheMiss)

	require.NoError(t, mc.FlushAll())
	_, err = mc.Get("greeting")
	assert.ErrorIs(t, err, memcache.ErrCacheMiss)
	require.NoError(t, mc.Ping())
}

// pymemcacheScript is the pymemcache half of the scenario.
const pymemcacheScript = "testdata/pymemcache_scenario.py"

// TestPymemcacheScenario runs the same scenario with pymemcache, the
// Python client, in phases: the test moves the store's clock between them.
func TestPymemcacheScenario(t *testing.T) {
	python := pythonWithPymemcache(t)
	addr, clock := startClocked(t)
	phase := func(name string) {
		t.Helper()
		out, err := exec.Command(python, pymemcacheScript, addr, name).CombinedOutput()
		require.NoError(t, err, "pymemcache phase %s:\n%s", name, out)
		assert.Equal(t, "ok "+name, strings.TrimSpace(string(out)))
	}
	phase("start")
	clock.Advance(4 * time.Second)
	phase("before-expiry")
	clock.Advance(2 * time.Second)
	phase("after-expiry")
	clock.Advance(100 * time.Second)
	phase("after-touch")
	phase("flush")
}

// pythonWithPymemcache finds a python3 that imports pymemcache: Debian's
// /usr/bin/python3 first (python3-pymemcache installs there), then PATH's.
func pythonWithPymemcache(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import pymemcache").Run() == nil {
			return path
		}
	}
	msg := "no python3 imports pymemcache: install it (apt-get install -y python3-pymemcache)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
