package memcached_test

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/memcached"
)

// readAll reads what the server sends until it closes the connection.
func readAll(t *testing.T, nc net.Conn) string {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	b, err := io.ReadAll(nc)
	require.NoError(t, err, "the server closes the connection")
	return string(b)
}

func TestConnectionCap(t *testing.T) {
	addr, _ := startServer(t, memcached.Config{MaxConns: 2})
	a, b := dial(t, addr), dial(t, addr)
	assert.Equal(t, "VERSION "+memcached.Version+"\r\n", a.do("version\r\n"))
	assert.Equal(t, "VERSION "+memcached.Version+"\r\n", b.do("version\r\n"))
	third, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer third.Close()
	assert.Equal(t, "SERVER_ERROR too many open connections\r\n", readAll(t, third))
	assert.Equal(t, "END\r\n", a.do("get k\r\n"), "admitted connections are still served")
	require.NoError(t, a.nc.Close())
	// The slot frees once the server sees the close; a new client gets it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = nc.Write([]byte("version\r\n"))
		require.NoError(t, err)
		require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
		line, _ := bufio.NewReader(nc).ReadString('\n')
		nc.Close()
		if strings.HasPrefix(line, "VERSION") {
			break
		}
		require.Equal(t, "SERVER_ERROR too many open connections\r\n", line)
		require.True(t, time.Now().Before(deadline), "the closed connection's slot was never freed")
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLineTooLong(t *testing.T) {
	addr, _ := startServer(t, memcached.Config{MaxLineBytes: 1024})
	c := dial(t, addr)
	assert.Equal(t, "END\r\n", c.do("get "+strings.Repeat("k ", 500)+"\r\n"), "1004 bytes fit")
	_, err := c.nc.Write([]byte("get " + strings.Repeat("k ", 1000) + "\r\n"))
	require.NoError(t, err)
	assert.Equal(t, "CLIENT_ERROR line too long\r\n", readAll(t, c.nc))
}

func TestValueSizeLimit(t *testing.T) {
	store, err := cache.NewMemory(cache.Options{MemoryLimit: 8 << 20, MaxValueSize: 100})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	addr := serveStore(t, store, memcached.Config{MaxValueSize: 100})
	c := dial(t, addr)
	assert.Equal(t, "STORED\r\n", c.do("set k 0 0 100\r\n"+strings.Repeat("v", 100)+"\r\n"))
	assert.Equal(t, "SERVER_ERROR object too large for cache\r\n", c.do("set k 0 0 101\r\n"+strings.Repeat("v", 101)+"\r\n"))
	_, err = store.Get(t.Context(), mustKey(t, "k"), nil)
	assert.ErrorIs(t, err, cache.ErrNotFound, "a set too large drops the old value, as memcached does")
	assert.Equal(t, "SERVER_ERROR object too large for cache\r\n", c.do("ms k 101 T0\r\n"+strings.Repeat("v", 101)+"\r\n"))
	assert.Equal(t, "STORED\r\n", c.do("set k 0 0 1\r\nv\r\n"), "the connection stays in step")
	assert.Equal(t, "SERVER_ERROR object too large for cache\r\n", c.do("append k 0 0 100\r\n"+strings.Repeat("v", 100)+"\r\n"), "the joined value would pass the limit")
	assert.Equal(t, "VALUE k 0 1\r\nv\r\nEND\r\n", c.do("get k\r\n"))
}

func TestPendingBytesBound(t *testing.T) {
	addr, _ := startServer(t, memcached.Config{MaxPendingBytes: 40 << 10})
	c := dial(t, addr)
	big := strings.Repeat("b", 30<<10) // over the read buffer, under the bound: buffered and stored
	assert.Equal(t, "STORED\r\n", c.do("set ok 0 0 30720\r\n"+big+"\r\n"))
	huge := strings.Repeat("h", 50<<10)
	assert.Equal(t, "SERVER_ERROR out of memory storing object\r\n", c.do("set no 0 0 51200\r\n"+huge+"\r\n"))
	assert.Equal(t, "END\r\n", c.do("get no\r\n"), "skipped, and the connection stays in step")
	got := c.do("get ok\r\n")
	assert.Equal(t, "VALUE ok 0 30720\r\n"+big+"\r\nEND\r\n", got)
}

func mustKey(t *testing.T, name string) cache.Key {
	t.Helper()
	k, err := cache.NewKey("", name)
	require.NoError(t, err)
	return k
}

func TestQuietPipelines(t *testing.T) {
	addr, _ := startServer(t, memcached.Config{})
	c := dial(t, addr)
	assert.Equal(t, "", c.do("set a 0 0 1 noreply\r\na\r\nset b 0 0 1 noreply\r\nb\r\n"))
	assert.Equal(t, "VA 1 ka\r\na\r\nVA 1 kb\r\nb\r\n", c.do("mg a v k q\r\nmg none v k q\r\nmg b v k q\r\n"), "quiet misses are silent")
	assert.Equal(t, "NS\r\n", c.do("ms c 1 q\r\nc\r\nms a 1 q ME\r\nx\r\n"), "a quiet set hides HD, not NS")
	assert.Equal(t, "NF\r\n", c.do("md c q\r\nmd c q\r\n"))
	assert.Equal(t, "CLIENT_ERROR bad command line format\r\n", c.do("mg "+strings.Repeat("k", 251)+" q\r\n"), "errors are never quiet")
}

func TestMetaBeyondMemcached16(t *testing.T) {
	clock := cachetest.NewClock()
	store, err := cache.NewMemory(cache.Options{MemoryLimit: 64 << 20, Clock: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	addr := serveStore(t, store, memcached.Config{Clock: clock.Now})
	c := dial(t, addr)
	// protocol.txt's ms N: an append to a missing key creates it.
	assert.Equal(t, "HD\r\n", c.do("ms k 2 MA N30\r\nab\r\n"))
	assert.Equal(t, "HD\r\n", c.do("ms k 2 MA N30\r\ncd\r\n"))
	assert.Equal(t, "VA 4 t30\r\nabcd\r\n", c.do("mg k v t\r\n"))
	// md x empties the value and keeps the item and its flags.
	assert.Equal(t, "HD\r\n", c.do("ms x 3 F7\r\nabc\r\n"))
	assert.Equal(t, "HD\r\n", c.do("md x x\r\n"))
	assert.Equal(t, "VA 0 f7\r\n\r\n", c.do("mg x v f\r\n"))
	// ms I: a CAS id older than the item's stores anyway, marked stale.
	assert.Equal(t, "HD\r\n", c.do("ms s 1\r\na\r\n"))
	f, err := store.Fetch(t.Context(), mustKey(t, "s"), cache.FetchOptions{NoValue: true}, nil)
	assert.Equal(t, "CLIENT_ERROR the E flag is not supported: CAS ids come from the server's counter\r\n", c.do("ms s 1 E5\r\nb\r\n"))
	require.NoError(t, err)
	older := f.CAS - 1
	assert.Equal(t, "EX\r\n", c.do("ms s 1 C"+itoa(older)+"\r\nb\r\n"))
	assert.Equal(t, "HD\r\n", c.do("ms s 1 I C"+itoa(older)+"\r\nb\r\n"))
	assert.Equal(t, "VA 1 X W\r\nb\r\n", c.do("mg s v\r\n"))
	// me reports the item's metadata.
	got := c.do("me k\r\n")
	assert.Regexp(t, `^ME k exp=30 la=0 cas=\d+ fetch=yes cls=1 size=\d+\r\n$`, got)
	assert.Equal(t, "EN\r\n", c.do("me none\r\n"))
	// Binary keys through base64: bytes a text key cannot carry.
	assert.Equal(t, "HD\r\n", c.do("ms AP8g 1 b\r\nz\r\n")) // "\x00\xff "
	assert.Equal(t, "VA 1 kAP8g b\r\nz\r\n", c.do("mg AP8g b v k\r\n"))
	_, err = store.Get(t.Context(), cache.Key{Namespace: cache.DefaultNamespace, Name: "\x00\xff "}, nil)
	assert.NoError(t, err, "stored under the decoded bytes")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestStatsAndMetrics(t *testing.T) {
	store, err := cache.NewMemory(cache.Options{MemoryLimit: 64 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	srv, err := memcached.New(store, memcached.Config{MemoryLimit: 64 << 20, MaxConns: 7})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c := dial(t, ln.Addr().String())
	c.do("set a 0 0 1\r\na\r\nget a\r\nget a b\r\nbogus\r\n")
	stats := c.do("stats\r\n")
	for _, want := range []string{"STAT cmd_get 3\r\n", "STAT get_hits 2\r\n", "STAT get_misses 1\r\n", "STAT cmd_set 1\r\n",
		"STAT curr_items 1\r\n", "STAT curr_connections 1\r\n", "STAT max_connections 7\r\n", "STAT limit_maxbytes 67108864\r\n",
		"STAT version " + memcached.Version + "\r\n", "STAT cmd_get_total 2\r\n"} {
		assert.Contains(t, stats, want)
	}
	assert.Contains(t, c.do("stats settings\r\n"), "STAT maxconns 7\r\n")
	assert.Equal(t, "STAT items:1:number 1\r\nSTAT items:1:evicted 0\r\nEND\r\n", c.do("stats items\r\n"))
	assert.Contains(t, c.do("stats slabs\r\n"), "STAT active_slabs 1\r\n")
	assert.Equal(t, "ITEM a [1 b; 0 s]\r\nEND\r\n", c.do("stats cachedump 1 100\r\n"))
	assert.Equal(t, "END\r\n", c.do("stats cachedump 2 100\r\n"), "there is only class 1")
	c.do("set b 0 2000000000 2\r\nbb\r\n")
	assert.Len(t, strings.Split(strings.TrimSpace(c.do("stats cachedump 1 1\r\n")), "\r\n"), 2, "one ITEM line, then END")
	assert.Contains(t, c.do("stats cachedump 1 0\r\n"), "ITEM b [2 b; 2000000000 s]\r\n")
	assert.Equal(t, uint64(2), srv.Stats().Command("get"))
	assert.Equal(t, uint64(1), srv.Stats().Command("unknown"))
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(srv.Stats()))
	n, err := testutil.GatherAndCount(reg, "memcached_http_memcached_commands_total")
	require.NoError(t, err)
	assert.Greater(t, n, 20, "one series per command")
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP memcached_http_memcached_get_keys_total Keys looked up by get, gets, gat and gats, by result.
# TYPE memcached_http_memcached_get_keys_total counter
memcached_http_memcached_get_keys_total{result="hit"} 2
memcached_http_memcached_get_keys_total{result="miss"} 1
`), "memcached_http_memcached_get_keys_total"))

	// stats reset starts the stats command's counters again from zero, as
	// memcached does; /metrics keeps its totals (a counter never goes back).
	assert.Equal(t, "RESET\r\n", c.do("stats reset\r\n"))
	stats = c.do("stats\r\n")
	for _, want := range []string{"STAT cmd_get 0\r\n", "STAT get_hits 0\r\n", "STAT get_misses 0\r\n", "STAT cmd_set 0\r\n",
		"STAT total_connections 0\r\n", "STAT cmd_get_total 0\r\n", "STAT cmd_stats_total 1\r\n",
		"STAT curr_items 2\r\n", "STAT curr_connections 1\r\n"} {
		assert.Contains(t, stats, want, "after stats reset")
	}
	c.do("get a\r\n")
	assert.Contains(t, c.do("stats\r\n"), "STAT get_hits 1\r\n", "counting again from the reset")
	assert.Equal(t, uint64(3), srv.Stats().Command("get"), "the metrics' total")
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP memcached_http_memcached_get_keys_total Keys looked up by get, gets, gat and gats, by result.
# TYPE memcached_http_memcached_get_keys_total counter
memcached_http_memcached_get_keys_total{result="hit"} 3
memcached_http_memcached_get_keys_total{result="miss"} 1
`), "memcached_http_memcached_get_keys_total"))
}
