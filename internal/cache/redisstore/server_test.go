package redisstore

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/memcached-http/memcached-http/internal/leakcheck"
	"github.com/memcached-http/memcached-http/internal/testserver"
)

// The tests run against real redis-server processes on free loopback ports.
// redis-server cannot listen on port 0 and say which port it got, so each
// gets a port chosen up front (testserver.PickPort), and another one if
// that was taken before it bound it.

// binary finds redis-server or redis-cli. Without them the tests are
// skipped locally but fail in CI, where a missing server must not pass
// silently.
func binary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		hint := name + " not found: install it (apt-get install -y redis-server)"
		if os.Getenv("CI") == "true" {
			t.Fatal(hint)
		}
		t.Skip(hint)
	}
	return path
}

// redisServerPath finds redis-server.
func redisServerPath(t testing.TB) string {
	t.Helper()
	return binary(t, "redis-server")
}

// server is one redis-server process.
type server struct {
	bin  string
	port int
	dir  string
	args []string
	tls  *tls.Config // set when the port speaks TLS only; the client side

	starts int // how many times start ran; numbers its log files

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// startServer starts redis-server on a free port; extra args are appended
// to the command line. The caller stops it.
func startServer(bin, dir string, args ...string) (*server, error) {
	s := &server{bin: bin, dir: dir, args: args}
	return s, s.startOnFreePort()
}

// startOnFreePort starts the server on a port nobody listens on, trying
// another when the one chosen is taken before the server binds it.
func (s *server) startOnFreePort() error {
	var err error
	for range 5 {
		if s.port, err = testserver.PickPort(); err != nil {
			return err
		}
		if err = s.start(); !errors.Is(err, testserver.ErrPortInUse) {
			return err
		}
	}
	return err
}

// start runs the server on s.port and waits until it says it is ready and
// answers PING. It returns testserver.ErrPortInUse, with the server
// stopped, when the port was taken.
func (s *server) start() error {
	port := []string{"--port", strconv.Itoa(s.port)}
	if s.tls != nil {
		port = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port)}
	}
	s.starts++
	logFile := filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.starts))
	args := append(append(port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", logFile,
	), s.args...)
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	if err := testserver.WaitRedis(logFile, 30*time.Second); err != nil {
		s.stop()
		return err
	}
	return waitPing(s.addr(), s.tls, 10*time.Second)
}

// stop kills the server and waits for it to exit.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// signal sends sig to the running server, e.g. SIGSTOP to make it hang.
func (s *server) signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("redis-server on %d is not running", s.port)
	}
	return s.cmd.Process.Signal(sig)
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) url() string { return "redis://" + s.addr() }

// waitPing polls until the server answers PING: process start-up is real
// time, not something a fake clock can stand in for.
func waitPing(addr string, tlsConf *tls.Config, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	dialer := &net.Dialer{Timeout: 100 * time.Millisecond}
	for {
		var conn net.Conn
		var err error
		if tlsConf != nil {
			conn, err = tls.DialWithDialer(dialer, "tcp", addr, tlsConf)
		} else {
			conn, err = dialer.Dial("tcp", addr)
		}
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, err = conn.Write([]byte("PING\r\n"))
			var line string
			if err == nil {
				line, err = bufio.NewReader(conn).ReadString('\n')
			}
			conn.Close()
			if err == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not ready after %v: %v", addr, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shared is the standalone server most tests use; TestMain stops it.
var shared struct {
	once sync.Once
	srv  *server
	dir  string
	err  error
}

// sharedServer returns the package's standalone server, starting it once.
func sharedServer(t testing.TB) *server {
	t.Helper()
	bin := redisServerPath(t)
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "redisstore-"); shared.err != nil {
			return
		}
		shared.srv, shared.err = startServer(bin, shared.dir)
	})
	require.NoError(t, shared.err)
	return shared.srv
}

// ownServer starts a standalone server for one test.
func ownServer(t testing.TB) *server {
	t.Helper()
	srv, err := startServer(redisServerPath(t), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(srv.stop)
	return srv
}

// rawClient is a plain client for looking behind the store's back.
func rawClient(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// rawSingle talks to one node only, even if it belongs to a cluster.
func rawSingle(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, ForceSingleClient: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// cluster is a three-master Redis Cluster without replicas.
type cluster struct {
	nodes []*server
}

// clusterURL lists every node as a seed.
func (c *cluster) url() string {
	u := c.nodes[0].url() + "?"
	for i, n := range c.nodes[1:] {
		if i > 0 {
			u += "&"
		}
		u += "addr=" + n.addr()
	}
	return u
}

func (c *cluster) addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// startCluster starts three cluster-enabled servers and joins them with
// redis-cli --cluster create.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	bin := redisServerPath(t)
	cli := binary(t, "redis-cli")
	c := &cluster{}
	for i := range 3 {
		dir := t.TempDir()
		srv, err := startServer(bin, dir,
			"--cluster-enabled", "yes",
			"--cluster-config-file", dir+"/nodes.conf",
			"--cluster-node-timeout", "2000",
		)
		require.NoError(t, err, "node %d", i)
		t.Cleanup(srv.stop)
		c.nodes = append(c.nodes, srv)
	}
	args := append([]string{"--cluster", "create"}, c.addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.nodes {
		node := rawSingle(t, n.addr())
		for {
			info, err := node.Do(context.Background(), node.B().ClusterInfo().Build()).ToString()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			require.True(t, time.Now().Before(deadline), "cluster not ok on %s: %v %s", n.addr(), err, info)
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// TestMain stops the shared server and checks that closed stores leave no
// goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	if code == 0 {
		// rueidis closes replaced cluster connections and retries slot
		// refreshes from goroutines that sleep up to 5 s and then end.
		err := leakcheck.Wait(
			goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
			goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
