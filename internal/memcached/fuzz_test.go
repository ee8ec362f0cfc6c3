package memcached

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// fuzzServer is a Server on a loopback listener.
type fuzzServer struct {
	*Server
	addr string
}

// session runs one connection's worth of input through srv and returns
// everything it answered. It fails the test if the answers do not end
// after its input does, or if serving it panicked.
func session(t testing.TB, srv fuzzServer, input []byte) string {
	nc, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = nc.Write(input)
		_ = nc.(*net.TCPConn).CloseWrite()
	}()
	b, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("the answers to %q did not end with the input: %v", input, err)
	}
	if n := srv.stats.panics.Load(); n != 0 {
		t.Fatalf("serving %q panicked", input)
	}
	return string(b)
}

func newFuzzServer(t testing.TB) fuzzServer {
	store, err := cache.NewMemory(cache.Options{MemoryLimit: 8 << 20, MaxValueSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	srv, err := New(store, Config{MaxValueSize: 4096, MaxLineBytes: 4096, MaxPendingBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return fuzzServer{Server: srv, addr: ln.Addr().String()}
}

// FuzzProtocol feeds arbitrary bytes to a connection: whatever arrives,
// the server must not panic or hang, must answer only well-formed lines
// and blocks, and must keep serving other connections correctly.
func FuzzProtocol(f *testing.F) {
	for _, seed := range []string{
		"get a b c\r\n", "set k 0 0 1\r\nv\r\nget k\r\n", "gets k\r\ncas k 0 0 1 1\r\nx\r\n",
		"append k 0 0 2\r\nxy\r\nprepend k 0 0 2\r\nab\r\n", "incr n 1\r\ndecr n 1\r\ntouch k 10\r\n",
		"gat 10 k\r\ngats -1 k\r\n", "delete k 0 noreply\r\n", "flush_all 0\r\nflush_all noreply\r\n",
		"stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats sizes\r\nstats cachedump 1 1\r\n",
		"version\r\nverbosity 1\r\ncache_memlimit 64\r\nquit\r\n",
		"mg k v c f t s k h l O1 q\r\nmn\r\n", "ms k 2 T10 F3 MA N5 I C1 b c k O2 q\r\nab\r\n",
		"md k I T30 x C5 q\r\n", "ma k N0 J5 D3 MD T9 c t v k\r\n", "me k\r\nme AP8= b\r\n",
		"mg k N30 R10 T5 u v\r\n", "ms k 5000\r\n", "set k 0 0 4294967295\r\n", "set k 0 0 -1\r\n",
		"\r\n\r\n\n", "get " + strings.Repeat("k", 300) + "\r\n", "ms a 1\r\n", "set k 0 0 3\r\nabcdef\r\n",
	} {
		f.Add([]byte(seed))
	}
	srv := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, input []byte) {
		out := session(t, srv, input)
		checkFraming(t, input, out)
		// Another connection is served as ever.
		got := session(t, srv, []byte("set fuzz-canary 0 0 2\r\nok\r\nget fuzz-canary\r\n"))
		if got != "STORED\r\nVALUE fuzz-canary 0 2\r\nok\r\nEND\r\n" {
			t.Fatalf("after %q a fresh connection got %q", input, got)
		}
	})
}

// checkFraming reads the server's answers as a client would: each line
// ends in \r\n, and a VALUE or VA line's block is exactly as long as it says.
func checkFraming(t *testing.T, input []byte, out string) {
	r := bufio.NewReader(strings.NewReader(out))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return
		}
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("input %q: answer line %q is not \\r\\n-terminated", input, line)
		}
		f := strings.Fields(line)
		n := -1
		switch {
		case len(f) >= 4 && f[0] == "VALUE":
			n = atoiOr(f[3])
		case len(f) >= 2 && f[0] == "VA":
			n = atoiOr(f[1])
		}
		if n < 0 {
			continue
		}
		block := make([]byte, n+2)
		if _, err := io.ReadFull(r, block); err != nil || string(block[n:]) != "\r\n" {
			t.Fatalf("input %q: block after %q is not %d bytes and \\r\\n", input, line, n)
		}
	}
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestDelayedFlush(t *testing.T) {
	srv := newFuzzServer(t)
	out := session(t, srv, []byte("set k 0 0 1\r\nv\r\nflush_all 100\r\nget k\r\n"))
	if out != "STORED\r\nOK\r\nVALUE k 0 1\r\nv\r\nEND\r\n" {
		t.Fatalf("a delayed flush_all removes nothing at once: %q", out)
	}
	srv.flushMu.Lock()
	pending := srv.flushTimer != nil
	srv.flushMu.Unlock()
	if !pending {
		t.Fatal("flush_all 100 scheduled nothing")
	}
	out = session(t, srv, []byte("flush_all 0\r\nget k\r\n"))
	if out != "OK\r\nEND\r\n" {
		t.Fatalf("flush_all 0 flushes now: %q", out)
	}
	srv.flushMu.Lock()
	pending = srv.flushTimer != nil
	srv.flushMu.Unlock()
	if pending {
		t.Fatal("flush_all 0 left the delayed flush scheduled; memcached replaces it")
	}
	// An absolute time already past flushes at once.
	out = session(t, srv, []byte("set k 0 0 1\r\nv\r\nflush_all 2592001\r\nget k\r\n"))
	if out != "STORED\r\nOK\r\nEND\r\n" {
		t.Fatalf("flush_all at a past Unix time: %q", out)
	}
}
