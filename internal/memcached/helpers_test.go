package memcached_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/memcached"
)

// startServer serves a fresh embedded store on a loopback port and returns
// its address and the store.
func startServer(t *testing.T, cfg memcached.Config) (string, cache.Store) {
	t.Helper()
	store, err := cache.NewMemory(cache.Options{MemoryLimit: 64 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	return serveStore(t, store, cfg), store
}

// serveStore serves store on a loopback port and returns the address.
func serveStore(t *testing.T, store cache.Store, cfg memcached.Config) string {
	t.Helper()
	srv, err := memcached.New(store, cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-done, memcached.ErrServerClosed)
	})
	return ln.Addr().String()
}

// requireTool finds an outside program the test needs. Without it the test
// is skipped, except under CI=true, where the missing tool fails the run
// with what to install.
func requireTool(t *testing.T, name, debPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found: install it (apt-get install -y %s)", name, debPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startMemcached runs memcached 1.6 itself (one worker thread) on a
// loopback port of the kernel's choosing, as the oracle the listener is
// compared with. memcached writes the port it bound to
// $MEMCACHED_PORT_FILENAME (as "TCP INET: <port>"; it renames the file into
// place once every listener is up), so no port is picked first and then
// lost to another process before memcached binds it.
func startMemcached(t *testing.T, extra ...string) string {
	t.Helper()
	bin := requireTool(t, "memcached", "memcached")
	dir := t.TempDir()
	args := []string{"-l", "127.0.0.1:0", "-U", "0", "-t", "1", "-m", "64"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
		// memcached writes the file as nobody, who cannot enter the test's
		// private temporary directory.
		var err error
		dir, err = os.MkdirTemp("", "memcached-port-")
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		require.NoError(t, os.Chmod(dir, 0o777))
	}
	portFile := filepath.Join(dir, "ports")
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Env = append(os.Environ(), "MEMCACHED_PORT_FILENAME="+portFile)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.After(60 * time.Second)
	for {
		if b, err := os.ReadFile(portFile); err == nil {
			for line := range strings.Lines(string(b)) {
				if port, ok := strings.CutPrefix(strings.TrimSpace(line), "TCP INET: "); ok {
					addr := net.JoinHostPort("127.0.0.1", port)
					nc, err := net.Dial("tcp", addr)
					require.NoError(t, err, "memcached wrote port %s", port)
					_ = nc.Close()
					return addr
				}
			}
			require.FailNow(t, "memcached's port file names no TCP port", "%s", b)
		}
		select {
		case <-exited:
			require.FailNow(t, "memcached exited during start-up", "%s", stderr.String())
		case <-deadline:
			require.FailNow(t, "memcached did not start listening within 60 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// client is a raw protocol connection for tests.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// do sends raw bytes followed by "mn\r\n" and returns everything answered
// before the MN that ends it: the whole answer to raw, even when raw asked
// for none.
func (c *client) do(raw string) string {
	c.t.Helper()
	require.NoError(c.t, c.nc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := c.nc.Write([]byte(raw + "mn\r\n"))
	require.NoError(c.t, err)
	var out bytes.Buffer
	for {
		line, err := c.r.ReadString('\n')
		require.NoError(c.t, err, "reading the answer to %q; so far %q", raw, out.String())
		if line == "MN\r\n" {
			return out.String()
		}
		out.WriteString(line)
		// A VALUE or VA line announces a data block, which may hold "MN\r\n".
		if n, ok := dataLen(line); ok {
			buf := make([]byte, n+2)
			_, err := ioReadFull(c.r, buf)
			require.NoError(c.t, err)
			out.Write(buf)
		}
	}
}

// dataLen reads the block length a VALUE or VA line announces.
func dataLen(line string) (int, bool) {
	f := strings.Fields(line)
	switch {
	case len(f) >= 4 && f[0] == "VALUE":
		n, err := strconv.Atoi(f[3])
		return n, err == nil
	case len(f) >= 2 && f[0] == "VA":
		n, err := strconv.Atoi(f[1])
		return n, err == nil
	}
	return 0, false
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
