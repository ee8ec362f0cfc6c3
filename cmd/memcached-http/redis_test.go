package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
	"github.com/memcached-http/memcached-http/internal/testserver"
)

// These tests run the built binary against a real redis-server that each
// test starts on a free loopback port. Process start-up and a Redis outage
// are real time, so they poll with deadlines; nothing here sleeps for a
// fixed duration to let something happen. The binary listens on port 0 and
// logs the address it got; redis-server, which cannot, gets a port chosen
// up front (testserver.PickPort) and another one if that was taken before
// it bound it.

// redisPassword protects the test's redis-server: nodes must pass it in the
// -store URL, and it must never appear in their logs.
const redisPassword = "s3cret-pw"

// redisServer is one redis-server process on a port it keeps across
// restarts, so nodes find it again where they expect it.
type redisServer struct {
	bin, dir string
	port     int
	starts   int // how many times start ran; numbers its log files

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// startRedis starts a redis-server for the test, or skips the test with an
// install hint; under CI=true a missing redis-server fails instead, so CI
// cannot pass without running these tests.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		hint := "redis-server not found: install it (apt-get install -y redis-server) to run the Redis store tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(hint)
		}
		t.Skip(hint)
	}
	r := &redisServer{bin: bin, dir: t.TempDir()}
	t.Cleanup(r.stop)
	for range 5 {
		if r.port, err = testserver.PickPort(); err != nil {
			break
		}
		if err = r.start(); !errors.Is(err, testserver.ErrPortInUse) {
			break
		}
	}
	require.NoError(t, err)
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// url is the -store value of a node using this server.
func (r *redisServer) url() string { return "redis://:" + redisPassword + "@" + r.addr() }

// start runs redis-server without persistence and with the eviction policy
// the Redis store requires, and waits until it says it is ready and answers.
// It returns testserver.ErrPortInUse, with the server stopped, when the
// port was taken.
func (r *redisServer) start() error {
	r.starts++
	logFile := filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.starts))
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", logFile,
		"--requirepass", redisPassword, "--maxmemory-policy", "volatile-lru")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	if err := testserver.WaitRedis(logFile, 30*time.Second); err != nil {
		r.stop()
		return err
	}
	return waitRedis(r.addr(), 10*time.Second)
}

// stop kills the server, as a crash would, and waits for it to exit.
func (r *redisServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	if r.cmd.ProcessState == nil {
		// A server paused by a test must run again to die.
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// signal sends sig to the running server, e.g. SIGSTOP to make it hang.
func (r *redisServer) signal(sig os.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return fmt.Errorf("redis-server on %d is not running", r.port)
	}
	return r.cmd.Process.Signal(sig)
}

// waitRedis polls until the server answers PING; NOAUTH is an answer too,
// since the test's server wants a password.
func waitRedis(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		line, err := ping(addr)
		if err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not ready after %v: %v %q", addr, limit, err, line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// buildBinary compiles the command into the test's temporary directory.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "memcached-http")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// node is one memcached-http process on a free port.
type node struct {
	*server
	stderr *syncBuffer   // everything the process logged
	exited chan struct{} // closed when the process has exited
}

// syncBuffer is a bytes.Buffer the process's output copier writes while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNode runs bin with args (and env, given as KEY=value on top of the
// test's environment without its MEMCACHED_HTTP_ variables) and waits
// until /healthz answers. Logs go to a buffer, never to a pipe the test
// must drain, so a busy node cannot block on them. The node listens on
// 127.0.0.1:0 and is found at the address it logs as "listening", unless
// args give an -addr, which a node logging below info needs.
func startNode(t testing.TB, bin string, env []string, args ...string) *node {
	t.Helper()
	addr := ""
	if i := slices.Index(args, "-addr"); i >= 0 && i+1 < len(args) {
		addr = args[i+1]
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMCACHED_HTTP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	n := &node{server: &server{cmd: cmd}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = n.stderr
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.exited
	})

	deadline := time.After(60 * time.Second)
	for {
		if addr == "" {
			addr = listeningAddr(n.stderr.String())
		}
		if addr != "" {
			n.base = "http://" + addr
			resp, err := http.Get(n.base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return n
				}
			}
		}
		select {
		case <-n.exited:
			require.FailNow(t, "memcached-http exited during start-up", "%s", n.stderr)
		case <-deadline:
			require.FailNow(t, "memcached-http not serving after 60 s", "%s", n.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listeningAddr is the address in the "listening" line of logs, or "" while
// there is none.
func listeningAddr(logs string) string {
	for line := range strings.Lines(logs) {
		var v struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &v) == nil && v.Msg == "listening" {
			return v.Addr
		}
	}
	return ""
}

// running reports whether the process the test started has not exited.
func (n *node) running() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// logLines returns the node's JSON log lines with message msg.
func (n *node) logLines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(n.stderr.String()) {
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &v), "log line %q", line)
		if v["msg"] == msg {
			out = append(out, v)
		}
	}
	return out
}

// reply is one answer, read in full, from a request that may run on any
// goroutine (require must not be called off the test's goroutine).
type reply struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error
}

// send performs method on url with a JSON body (or none) and extra headers
// given as name, value pairs.
func send(client *http.Client, method, url, body string, header ...string) reply {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return reply{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, elapsed: time.Since(start), err: err}
}

// errorCode is the code of the one error shape, or "" for other bodies.
func errorCode(body []byte) string {
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Error.Code
}

// do sends req and checks the answer against the contract.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return contracttest.Do(t, http.DefaultClient, req)
}

// redisCLI runs redis-cli against r with the test's password.
func redisCLI(t *testing.T, r *redisServer, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-cli")
	require.NoError(t, err, "redis-cli comes with redis-server (package redis-tools)")
	args = append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(r.port), "--no-auth-warning", "-a", redisPassword}, args...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "redis-cli %v: %s", args, out)
	return string(out)
}

func TestTwoNodesShareOneRedis(t *testing.T) {
	rd := startRedis(t)
	bin := buildBinary(t)
	// One node is configured by flags, the other by the environment.
	a := startNode(t, bin, nil, "-store", rd.url(), "-redis-key-prefix", "it:")
	b := startNode(t, bin, []string{"MEMCACHED_HTTP_STORE=" + rd.url(), "MEMCACHED_HTTP_REDIS_KEY_PREFIX=it:"})
	nodes := []*node{a, b}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("a write through one node is read through the other", func(t *testing.T) {
		status, body := a.call(t, http.MethodPut, "/v1/ns/cross/keys/user:42", `{"value": {"name": "Ada"}, "flags": 3}`)
		require.Equal(t, http.StatusOK, status, "%v", body)
		status, got := b.call(t, http.MethodGet, "/v1/ns/cross/keys/user:42", "")
		require.Equal(t, http.StatusOK, status, "%v", got)
		assert.Equal(t, map[string]any{"name": "Ada"}, got["value"])
		assert.InDelta(t, 3, got["flags"], 0)
		assert.Equal(t, body["cas"], got["cas"], "both nodes see the same CAS id")

		raw := []byte{0, 1, 2, 0xfe, 0xff, '\r', '\n', '"', '{'}
		req, err := http.NewRequest(http.MethodPut, a.base+"/v1/ns/cross/keys/avatar%2F42?flags=7", bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, out := do(t, req)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", out)

		req, err = http.NewRequest(http.MethodGet, b.base+"/v1/ns/cross/keys/avatar%2F42", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "application/octet-stream")
		resp, out = do(t, req)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", out)
		assert.Equal(t, raw, out, "the raw bytes come back unchanged")
		status, got = b.call(t, http.MethodGet, "/v1/ns/cross/keys/avatar%2F42", "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "base64", got["encoding"])
		assert.Equal(t, base64.StdEncoding.EncodeToString(raw), got["value"])
		assert.InDelta(t, 7, got["flags"], 0)

		status, _ = b.call(t, http.MethodDelete, "/v1/ns/cross/keys/user:42", "")
		assert.Equal(t, http.StatusOK, status)
		status, got = a.call(t, http.MethodGet, "/v1/ns/cross/keys/user:42", "")
		assert.Equal(t, http.StatusNotFound, status, "a delete through one node is seen by the other: %v", got)

		keys := redisCLI(t, rd, "--scan", "--pattern", "it:*")
		assert.NotEmpty(t, strings.TrimSpace(keys), "-redis-key-prefix starts the keys the nodes write")
	})

	t.Run("a CAS race across the nodes has exactly one winner", func(t *testing.T) {
		const rounds = 20
		for round := range rounds {
			path := "/v1/ns/race/keys/doc"
			status, _ := a.call(t, http.MethodPut, path, fmt.Sprintf(`{"value": "v%d"}`, round))
			require.Equal(t, http.StatusOK, status)
			var tags []string
			for _, n := range nodes {
				r := send(client, http.MethodGet, n.base+path, "")
				require.NoError(t, r.err)
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				tags = append(tags, r.header.Get("ETag"))
			}
			require.Equal(t, tags[0], tags[1], "round %d: both nodes hand out the same ETag", round)

			replies := make([]reply, len(nodes))
			var wg sync.WaitGroup
			for i, n := range nodes {
				wg.Go(func() {
					replies[i] = send(client, http.MethodPut, n.base+path, fmt.Sprintf(`{"value": "node %d"}`, i), "If-Match", tags[i])
				})
			}
			wg.Wait()
			var winners []int
			for i, r := range replies {
				require.NoError(t, r.err)
				switch r.status {
				case http.StatusOK:
					winners = append(winners, i)
				case http.StatusPreconditionFailed:
					assert.Equal(t, "precondition_failed", errorCode(r.body), "round %d: %s", round, r.body)
				default:
					assert.Fail(t, "unexpected status", "round %d: %d %s", round, r.status, r.body)
				}
			}
			require.Len(t, winners, 1, "round %d: exactly one If-Match write wins", round)
			status, got := b.call(t, http.MethodGet, path, "")
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, fmt.Sprintf("node %d", winners[0]), got["value"], "round %d: the winner's value stays", round)
		}
	})

	t.Run("concurrent increments over both nodes end exact", func(t *testing.T) {
		const clients, perClient = 64, 20
		seen := make([][]uint64, clients)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for i := range perClient {
					n := nodes[(c+i)%len(nodes)]
					r := send(client, http.MethodPost, n.base+"/v1/ns/count/keys/hits:incr", `{"delta": 1, "initial_value": 0}`)
					if !assert.NoError(t, r.err) || !assert.Equal(t, http.StatusOK, r.status, "%s", r.body) {
						return
					}
					var v struct {
						Value uint64 `json:"value"`
					}
					if assert.NoError(t, json.Unmarshal(r.body, &v)) {
						seen[c] = append(seen[c], v.Value)
					}
				}
			})
		}
		wg.Wait()

		status, got := a.call(t, http.MethodGet, "/v1/ns/count/keys/hits", "")
		require.Equal(t, http.StatusOK, status)
		assert.InDelta(t, clients*perClient, got["value"], 0, "no increment is lost")
		all := slices.Concat(seen...)
		slices.Sort(all)
		want := make([]uint64, clients*perClient)
		for i := range want {
			want[i] = uint64(i + 1)
		}
		assert.Equal(t, want, all, "every increment saw a value no other one saw")
	})

	t.Run("a flush through one node is seen by the other", func(t *testing.T) {
		status, _ := a.call(t, http.MethodPut, "/v1/ns/flush/keys/k", `{"value": 1}`)
		require.Equal(t, http.StatusOK, status)
		status, _ = b.call(t, http.MethodGet, "/v1/ns/flush/keys/k", "")
		require.Equal(t, http.StatusOK, status)

		status, got := b.call(t, http.MethodPost, "/v1/flush", "")
		require.Equal(t, http.StatusOK, status, "%v", got)
		status, _ = a.call(t, http.MethodGet, "/v1/ns/flush/keys/k", "")
		assert.Equal(t, http.StatusNotFound, status, "the item flushed through b is gone through a")
		status, got = a.call(t, http.MethodGet, "/v1/stats", "")
		require.Equal(t, http.StatusOK, status)
		assert.InDelta(t, 0, got["items"], 0, "no item survives the flush: %v", got)
		assert.InDelta(t, 1, got["misses"], 0, "the stats were reset, then a's miss counted: %v", got)
		assert.InDelta(t, 0, got["hits"], 0, "the hit before the flush was reset: %v", got)
	})

	t.Run("a Redis outage answers 503 fast and heals without restarting the nodes", func(t *testing.T) {
		status, _ := a.call(t, http.MethodPut, "/v1/ns/outage/keys/k", `{"value": "before"}`)
		require.Equal(t, http.StatusOK, status)

		// checkUp asserts that both probes pass on every node.
		checkUp := func(t *testing.T, why string) {
			t.Helper()
			for i, n := range nodes {
				for _, probe := range []string{"/healthz", "/readyz"} {
					r := send(client, http.MethodGet, n.base+probe, "")
					require.NoError(t, r.err)
					assert.Equal(t, http.StatusOK, r.status, "%s, node %d %s: %s", why, i, probe, r.body)
				}
			}
		}
		checkUp(t, "Redis up")

		// checkDown asserts that every kind of operation on every node fails
		// fast with the one error shape, and so does the readiness probe,
		// while the liveness probe still passes.
		const bound = 2 * time.Second
		checkDown := func(t *testing.T, why string) {
			t.Helper()
			for i, n := range nodes {
				for _, r := range []reply{
					send(client, http.MethodGet, n.base+"/v1/ns/outage/keys/k", ""),
					send(client, http.MethodPut, n.base+"/v1/ns/outage/keys/k", `{"value": "during"}`),
					send(client, http.MethodPost, n.base+"/v1/ns/outage/keys/n:incr", `{"initial_value": 0}`),
					send(client, http.MethodPost, n.base+"/v1/ns/outage/keys:batchGet", `{"keys": ["k", "n"]}`),
					send(client, http.MethodGet, n.base+"/readyz", ""),
				} {
					require.NoError(t, r.err, "%s, node %d", why, i)
					assert.Equal(t, http.StatusServiceUnavailable, r.status, "%s, node %d: %s", why, i, r.body)
					assert.Equal(t, "unavailable", errorCode(r.body), "%s, node %d: %s", why, i, r.body)
					assert.Less(t, r.elapsed, bound, "%s, node %d fails fast", why, i)
				}
				r := send(client, http.MethodGet, n.base+"/healthz", "")
				require.NoError(t, r.err)
				assert.Equal(t, http.StatusOK, r.status, "%s, node %d is still alive", why, i)
			}
		}

		// The contract declares the 503 and its body for these operations.
		require.NoError(t, rd.signal(syscall.SIGSTOP))
		for _, path := range []string{"/v1/ns/outage/keys/k", "/readyz"} {
			req, err := http.NewRequest(http.MethodGet, a.base+path, nil)
			require.NoError(t, err)
			resp, _ := do(t, req)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, path)
		}
		checkDown(t, "Redis hung")
		require.NoError(t, rd.signal(syscall.SIGCONT))

		rd.stop()
		checkDown(t, "Redis gone")

		require.NoError(t, rd.start())
		// The restarted server is empty; each node reconnects on its own.
		for i, n := range nodes {
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := send(client, http.MethodPut, n.base+"/v1/ns/outage/keys/k", fmt.Sprintf(`{"value": "after %d"}`, i))
				require.NoError(t, r.err)
				if r.status == http.StatusOK {
					break
				}
				require.True(t, time.Now().Before(deadline), "node %d still failing 10 s after Redis came back: %d %s", i, r.status, r.body)
				time.Sleep(50 * time.Millisecond)
			}
		}
		status, got := a.call(t, http.MethodGet, "/v1/ns/outage/keys/k", "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "after 1", got["value"], "b's write after the outage is read through a")
		status, got = b.call(t, http.MethodPost, "/v1/ns/outage/keys/n:incr", `{"initial_value": 41}`)
		require.Equal(t, http.StatusOK, status)
		assert.InDelta(t, 42, got["value"], 0)
		checkUp(t, "Redis back")
		for i, n := range nodes {
			assert.True(t, n.running(), "node %d was never restarted", i)
		}
	})

	t.Run("the logs name the store and its host but never the password", func(t *testing.T) {
		for i, n := range nodes {
			lines := n.logLines(t, "store")
			require.Len(t, lines, 1, "node %d logs its store once", i)
			assert.Equal(t, "redis", lines[0]["kind"])
			assert.Equal(t, []any{rd.addr()}, lines[0]["hosts"])
			assert.Equal(t, "it:", lines[0]["key_prefix"])
			var leaks []string
			for line := range strings.Lines(n.stderr.String()) {
				if strings.Contains(line, redisPassword) {
					leaks = append(leaks, line)
				}
			}
			assert.Empty(t, leaks, "node %d logged the password", i)
		}
	})
}

func TestNodeRefusesToStartWithoutRedis(t *testing.T) {
	rd := startRedis(t)
	rd.stop()
	bin := buildBinary(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-store", rd.url())
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the node exits instead of serving 503s from the start")
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, stderr.String(), "redis at "+rd.addr())
	assert.NotContains(t, stderr.String(), redisPassword)
}

// BenchmarkHTTPGetMemoryVsRedis runs the same GET-hit loop through a real
// server process on the embedded store and on Redis, alternating between
// them in one run so both figures share the machine's state. Nodes log at
// warn, so neither pays for request logging. serial is one client's round
// trip; parallel is 16 keep-alive clients, whose ns/op is the inverse of
// throughput. Allocations are the client's, the same for both.
func BenchmarkHTTPGetMemoryVsRedis(b *testing.B) {
	rd := startRedis(b)
	bin := buildBinary(b)
	const keys = 1000
	value := `{"value": "` + strings.Repeat("x", 100) + `"}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)

	stores := []struct {
		name, store string
		urls        []string
	}{{name: "memory", store: "memory"}, {name: "redis", store: rd.url()}}
	for i := range stores {
		s := &stores[i]
		// At warn the node does not log "listening", so it gets its port
		// up front.
		port, err := testserver.PickPort()
		require.NoError(b, err)
		n := startNode(b, bin, nil, "-store", s.store, "-log-level", "warn", "-addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		s.urls = make([]string, keys)
		for k := range s.urls {
			s.urls[k] = fmt.Sprintf("%s/v1/ns/bench/keys/k%d", n.base, k)
			r := send(client, http.MethodPut, s.urls[k], value)
			require.NoError(b, r.err)
			require.Equal(b, http.StatusOK, r.status, "%s", r.body)
		}
	}
	get := func(url string) error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return err
	}

	for _, s := range stores {
		b.Run("serial/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := get(s.urls[i%keys]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	for _, s := range stores {
		b.Run("parallel/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			var failed sync.Once
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(keys) // clients start apart, as independent ones would
				for pb.Next() {
					if err := get(s.urls[i%keys]); err != nil {
						failed.Do(func() { b.Error(err) })
						return
					}
					i++
				}
			})
		})
	}
}
