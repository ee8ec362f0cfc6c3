package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/snapshot"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

func TestSnapshotFlags(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "with the Redis store the flag is refused", args: []string{"-store", "redis://cache:6379", "-snapshot", "s"},
			wantErr: "already live in Redis"},
		{name: "the environment names the file", env: map[string]string{"MEMCACHED_HTTP_STORE": "valkey://cache:6379", "MEMCACHED_HTTP_SNAPSHOT": "s"},
			wantErr: "-snapshot saves the embedded store"},
		{name: "an interval needs a file", args: []string{"-snapshot-interval", "1m"}, wantErr: "need -snapshot FILE"},
		{name: "strict needs a file", env: map[string]string{"MEMCACHED_HTTP_SNAPSHOT_STRICT": "true"}, wantErr: "need -snapshot FILE"},
		{name: "a negative interval is an error", args: []string{"-snapshot", "s", "-snapshot-interval", "-1s"}, wantErr: "must not be negative"},
		{name: "all three from the environment",
			env: map[string]string{"MEMCACHED_HTTP_SNAPSHOT": "/var/lib/mh/cache.snapshot", "MEMCACHED_HTTP_SNAPSHOT_INTERVAL": "5m", "MEMCACHED_HTTP_SNAPSHOT_STRICT": "1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "/var/lib/mh/cache.snapshot", c.snapshot)
			assert.Equal(t, 5*time.Minute, c.snapshotInterval)
			assert.True(t, c.snapshotStrict)
		})
	}
}

func TestPeriodicSnapshotsUseSmallShards(t *testing.T) {
	c := config{memoryLimit: 3 << 30, maxValueSize: 1 << 20, snapshot: "s"}
	assert.Zero(t, snapshotShards(c), "only periodic snapshots change the shard count")
	c.snapshotInterval = time.Minute
	assert.Equal(t, 512, snapshotShards(c), "3 GiB in shards of at most 8 MiB")
	c.memoryLimit = 64 << 20
	assert.Zero(t, snapshotShards(c), "a small store keeps the default")
	c.memoryLimit, c.maxValueSize = 1<<30, 16<<20
	assert.Equal(t, 0, snapshotShards(c), "every shard still holds the largest item twice")
	_, err := cache.NewMemory(cache.Options{MemoryLimit: 3 << 30, Shards: 512})
	require.NoError(t, err)
}

// TestLoadingServes503 checks what clients see while a snapshot loads:
// /healthz is up, /readyz and the API answer 503 unavailable, and the
// gate opens on the real router once the load has ended.
func TestLoadingServes503(t *testing.T) {
	serving := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "serving") })
	s := &snapshots{}
	h := s.gate(serving, handlers.NewRouter(loadingStore{}, handlers.Config{}))
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/v1/ns/default/keys/k": 503, "/v1/stats": 503} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, want, rec.Code, path)
		if want == 503 {
			assert.Contains(t, rec.Body.String(), `"unavailable"`, path)
		}
	}
	s.loaded.Store(true)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, "serving", rec.Body.String())
}

// TestGatedStoreWaitsForTheLoad checks the store the memcached listener
// sees: unavailable while the snapshot loads, the embedded store after.
func TestGatedStoreWaitsForTheLoad(t *testing.T) {
	m, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	defer m.Close()
	s := &snapshots{m: m}
	g := s.gated(m)
	k, err := cache.NewKey("default", "k")
	require.NoError(t, err)
	_, err = g.Put(t.Context(), cache.ModeSet, cache.Entry{Key: k, Value: []byte("1")})
	assert.ErrorIs(t, err, cache.ErrUnavailable)
	_, err = g.Get(t.Context(), k, nil)
	assert.ErrorIs(t, err, cache.ErrUnavailable)
	assert.ErrorIs(t, g.(cache.Monitored).Ping(t.Context()), cache.ErrUnavailable)
	s.loaded.Store(true)
	_, err = g.Put(t.Context(), cache.ModeSet, cache.Entry{Key: k, Value: []byte("1")})
	require.NoError(t, err)
	it, err := g.Get(t.Context(), k, nil)
	require.NoError(t, err)
	assert.Equal(t, "1", string(it.Value))
	assert.NoError(t, g.(cache.Monitored).Ping(t.Context()))
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the binary the snapshot tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// binary builds the server once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "memcached-http-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "memcached-http")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

// runBinary starts the binary with args and returns it once it logs
// "listening". Request log lines are left out: populating writes thousands.
func runBinary(t *testing.T, args ...string) *server {
	t.Helper()
	return launch(t, binary(t), false, args...)
}

// launch starts bin on a free port, without the test's MEMCACHED_HTTP_
// variables, and returns it once it logs "listening". Its stderr goes
// through an io.Pipe, not cmd.StderrPipe: Wait closes the latter as soon
// as the process exits, dropping the last lines (such as "snapshot
// written") the reader had not reached, where with a writer Wait returns
// only after every byte is copied.
func launch(t *testing.T, bin string, keepRequests bool, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-shutdown-timeout", "20s"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMCACHED_HTTP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, w := io.Pipe()
	cmd.Stderr = w
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, stderr: w, logs: make(chan map[string]any, 1000)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			// Closed first, so that Wait cannot wait on a copy blocked
			// behind a test that stopped reading the logs.
			_ = stderr.Close()
			_ = cmd.Process.Kill()
			_ = s.wait()
		}
	})
	go func() {
		defer close(s.logs)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				if keepRequests || line["msg"] != "request" {
					s.logs <- line
				}
			} else {
				s.logs <- map[string]any{"msg": "stderr", "text": sc.Text()}
			}
		}
		// Keep the copy from the process unblocked if a test stops reading.
		_, _ = io.Copy(io.Discard, stderr)
	}()
	line := s.waitLog(t, "listening")
	s.base = "http://" + line["addr"].(string)
	return s
}

// waitLogAfter returns the next log line with message msg logged after since.
func (s *server) waitLogAfter(t *testing.T, msg string, since time.Time) map[string]any {
	t.Helper()
	for {
		line := s.waitLog(t, msg)
		at, err := time.Parse(time.RFC3339Nano, line["time"].(string))
		require.NoError(t, err)
		if at.After(since) {
			return line
		}
	}
}

// post sends a JSON body and decodes the JSON answer into out.
func (s *server) post(t *testing.T, path string, body any, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(s.base+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(got, out), "%s: %s", path, got)
	}
	return resp.StatusCode
}

// stop sends sig and waits for the process to exit.
func (s *server) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
	err := s.wait()
	if sig == syscall.SIGTERM {
		require.NoError(t, err, "the server exits 0 after SIGTERM")
	}
}

// waitReady polls /readyz until it answers 200 and reports whether it
// answered 503 first. While it is 503, the API must be 503 too.
func (s *server) waitReady(t *testing.T) (waited bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(s.base + "/readyz")
		require.NoError(t, err)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return waited
		}
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		if !waited {
			status, body := s.call(t, http.MethodGet, "/v1/ns/default/keys/k0", "")
			if status != http.StatusServiceUnavailable {
				// The load may have ended between the two requests (a
				// busy machine makes that gap long): then /readyz is 200
				// now. Still 503 there means the API answered too soon.
				resp, err := http.Get(s.base + "/readyz")
				require.NoError(t, err)
				_ = resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode,
					"the API answered %d while /readyz was 503 before and after: it must be unavailable while the snapshot loads: %v", status, body)
			}
		}
		waited = true
		require.True(t, time.Now().Before(deadline), "never ready")
		time.Sleep(10 * time.Millisecond)
	}
}

// population is what a test stores through the API, by namespace: every
// kind of item the service holds, and delete locks.
type population struct {
	keys  map[string][]string // namespace → keys holding items
	locks map[string][]string // namespace → locked keys
}

// populate stores n entries through the batch API, cycling through JSON
// values without expiry, base64 byte values with flags and a relative time,
// counters, JSON values with an absolute time, and delete locks.
func populate(t *testing.T, s *server, n int, prefix string) population {
	t.Helper()
	p := population{keys: map[string][]string{}, locks: map[string][]string{}}
	const batch = 5000
	absolute := time.Now().Add(48 * time.Hour).Unix()
	for ns, nsIdx := range map[string]int{"default": 0, "team-b": 1} {
		var plain, bytesItems, dated, locks []map[string]any
		offsets := map[string]int64{}
		for i := nsIdx; i < n; i += 2 {
			k := fmt.Sprintf("%s%d", prefix, i)
			switch i % 5 {
			case 0:
				plain = append(plain, map[string]any{"key": k, "value": map[string]any{"i": i, "s": "v" + k}, "flags": i % 7})
			case 1:
				bytesItems = append(bytesItems, map[string]any{"key": k, "value": base64.StdEncoding.EncodeToString([]byte{byte(i), 0, 0xfe}), "encoding": "base64", "flags": i})
			case 2:
				offsets[k] = int64(i)
			case 3:
				dated = append(dated, map[string]any{"key": k, "value": "dated", "flags": 3})
			case 4:
				locks = append(locks, map[string]any{"key": k, "value": 0})
				p.locks[ns] = append(p.locks[ns], k)
				continue
			}
			p.keys[ns] = append(p.keys[ns], k)
		}
		set := func(items []map[string]any, ttl float64) {
			for len(items) > 0 {
				chunk := items[:min(batch, len(items))]
				items = items[len(chunk):]
				var res struct {
					NotStored []string `json:"not_stored"`
				}
				require.Equal(t, 200, s.post(t, "/v1/ns/"+ns+"/keys:batchSet", map[string]any{"items": chunk, "time": ttl}, &res))
				require.Empty(t, res.NotStored)
			}
		}
		set(plain, 0)
		set(bytesItems, 3600)
		set(dated, float64(absolute))
		set(locks, 0)
		for len(offsets) > 0 {
			chunk := map[string]int64{}
			for k, v := range offsets {
				chunk[k] = v
				delete(offsets, k)
				if len(chunk) == batch {
					break
				}
			}
			require.Equal(t, 200, s.post(t, "/v1/ns/"+ns+"/keys:batchOffset", map[string]any{"offsets": chunk, "initial_value": 10}, nil))
		}
		for l := p.locks[ns]; len(l) > 0; {
			chunk := l[:min(batch, len(l))]
			l = l[len(chunk):]
			require.Equal(t, 200, s.post(t, "/v1/ns/"+ns+"/keys:batchDelete", map[string]any{"keys": chunk, "seconds": 900}, nil))
		}
	}
	return p
}

// items reads every item of p, as the API returns them (value, encoding,
// flags, CAS id, expiry), keyed by namespace/key.
func (p population) items(t *testing.T, s *server) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for ns, keys := range p.keys {
		for len(keys) > 0 {
			chunk := keys[:min(5000, len(keys))]
			keys = keys[len(chunk):]
			var res struct{ Items map[string]json.RawMessage }
			require.Equal(t, 200, s.post(t, "/v1/ns/"+ns+"/keys:batchGet", map[string]any{"keys": chunk}, &res))
			for k, v := range res.Items {
				out[ns+"/"+k] = v
			}
		}
	}
	return out
}

// lockedKeys returns how many of p's locked keys still refuse an add.
func (p population) lockedKeys(t *testing.T, s *server) int {
	t.Helper()
	n := 0
	for ns, keys := range p.locks {
		for len(keys) > 0 {
			chunk := keys[:min(5000, len(keys))]
			keys = keys[len(chunk):]
			items := make([]map[string]any, len(chunk))
			for i, k := range chunk {
				items[i] = map[string]any{"key": k, "value": 1}
			}
			var res struct {
				NotStored []string `json:"not_stored"`
			}
			require.Equal(t, 200, s.post(t, "/v1/ns/"+ns+"/keys:batchSet", map[string]any{"mode": "add", "items": items}, &res))
			n += len(res.NotStored)
		}
	}
	return n
}

func snapshotItems(t *testing.T) int {
	n := 20_000
	if v := os.Getenv("SNAPSHOT_ITEMS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	return n
}

// TestSnapshotRoundTripThroughSIGTERM stores every kind of entry, stops
// the server with SIGTERM and starts it again: every item comes back with
// its value, flags, CAS id and expiry, every lock still holds, and CAS
// conflicts are still detected. make test-snapshot-full runs it with 1M.
func TestSnapshotRoundTripThroughSIGTERM(t *testing.T) {
	n := snapshotItems(t)
	path := filepath.Join(t.TempDir(), "cache.snapshot")
	args := []string{"-snapshot", path, "-memory-limit", strconv.Itoa(max(256<<20, n*400))}
	s := runBinary(t, args...)
	s.waitReady(t)
	p := populate(t, s, n, "k")
	before := p.items(t, s)
	require.Len(t, before, n-n/5, "every item was stored")

	// A client reads an item for CAS, another overwrites it: the first
	// client's id is stale before the restart.
	status, body := s.call(t, http.MethodGet, "/v1/ns/default/keys/k0", "")
	require.Equal(t, 200, status)
	staleCAS := body["cas"].(string)
	status, body = s.call(t, http.MethodPut, "/v1/ns/default/keys/k0", `{"value": "second"}`)
	require.Equal(t, 200, status)
	currentCAS := body["cas"].(string)
	before["default/k0"] = nil

	s.stop(t, syscall.SIGTERM)
	line := s.waitLog(t, "snapshot written")
	assert.InDelta(t, float64(n-n/5), line["items"], 0)
	assert.InDelta(t, float64(n/5), line["locks"], 0)

	s = runBinary(t, args...)
	waited := s.waitReady(t)
	if n >= 500_000 {
		assert.True(t, waited, "/readyz is 503 while %d entries load", n)
	}
	line = s.waitLog(t, "snapshot loaded")
	assert.InDelta(t, float64(n-n/5), line["items"], 0)
	t.Logf("loaded %v items and %v locks from %v bytes in %v s", line["items"], line["locks"], line["bytes"], line["seconds"])
	after := p.items(t, s)
	require.Len(t, after, len(before))
	for k, v := range before {
		if v != nil {
			require.JSONEq(t, string(v), string(after[k]), k)
		}
	}
	assert.Equal(t, n/5, p.lockedKeys(t, s), "every delete lock still refuses an add")

	status, _ = s.call(t, http.MethodPut, "/v1/ns/default/keys/k0?mode=cas", `{"value": "third", "cas": "`+staleCAS+`"}`)
	assert.Equal(t, http.StatusPreconditionFailed, status, "a CAS id from before the last write still conflicts")
	status, body = s.call(t, http.MethodPut, "/v1/ns/default/keys/k0?mode=cas", `{"value": "third", "cas": "`+currentCAS+`"}`)
	require.Equal(t, http.StatusOK, status, "the current CAS id still matches: %v", body)
	next, err := strconv.ParseUint(body["cas"].(string), 10, 64)
	require.NoError(t, err)
	for _, v := range before {
		var it struct{ Cas string }
		if v != nil {
			require.NoError(t, json.Unmarshal(v, &it))
			id, _ := strconv.ParseUint(it.Cas, 10, 64)
			require.Greater(t, next, id, "a new write gets a CAS id above every id from before")
		}
	}
	status, stats := s.call(t, http.MethodGet, "/v1/stats", "")
	require.Equal(t, 200, status)
	assert.InDelta(t, 0, stats["misses"], 0, "stats start fresh")
	s.stop(t, syscall.SIGTERM)
}

// TestSnapshotSurvivesSIGKILLDuringAPeriodicSnapshot kills the server in
// the middle of a periodic snapshot: the previous snapshot is loaded.
func TestSnapshotSurvivesSIGKILLDuringAPeriodicSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.snapshot")
	args := []string{"-snapshot", path, "-snapshot-interval", "200ms", "-memory-limit", strconv.Itoa(256 << 20)}
	for attempt := 1; ; attempt++ {
		require.NoError(t, os.RemoveAll(path))
		s := runBinary(t, args...)
		s.waitReady(t)
		// Large values make each snapshot take long enough to be caught.
		big := strings.Repeat("x", 2000)
		items := make([]map[string]any, 0, 4000)
		for i := range 4000 {
			items = append(items, map[string]any{"key": "a" + strconv.Itoa(i), "value": big})
		}
		for i := 0; i < len(items); i += 2000 {
			require.Equal(t, 200, s.post(t, "/v1/ns/default/keys:batchSet", map[string]any{"items": items[i : i+2000]}, nil))
		}
		p := population{keys: map[string][]string{"default": {}}}
		for _, it := range items {
			p.keys["default"] = append(p.keys["default"], it["key"].(string))
		}
		want := p.items(t, s)
		// Wait for a snapshot that started after the writes to complete.
		s.waitLogAfter(t, "snapshot started", time.Now())
		last := s.waitLog(t, "snapshot written")
		t.Logf("a periodic snapshot of %v bytes took %v s", last["bytes"], last["seconds"])
		require.InDelta(t, 4000, last["items"], 0)

		// Then kill the next one while its temporary file is being written.
		s.waitLog(t, "snapshot started")
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(snapshot.TempPath(path)); err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "no temporary file appeared")
			time.Sleep(200 * time.Microsecond)
		}
		s.stop(t, syscall.SIGKILL)
		if _, err := os.Stat(snapshot.TempPath(path)); err != nil {
			require.Less(t, attempt, 5, "the snapshot always finished before SIGKILL landed")
			t.Logf("attempt %d: the snapshot finished before SIGKILL landed; again", attempt)
			continue
		}

		s = runBinary(t, args...)
		s.waitReady(t)
		line := s.waitLog(t, "snapshot loaded")
		assert.InDelta(t, 4000, line["items"], 0)
		got := p.items(t, s)
		assert.Equal(t, len(want), len(got))
		for k, v := range want {
			require.JSONEq(t, string(v), string(got[k]), k)
		}
		s.stop(t, syscall.SIGTERM)
		return
	}
}

// TestSIGTERMDuringAPeriodicSnapshot stops the server while a periodic
// snapshot is being written: that one is abandoned, the final one is
// written after the drain, and a restart loads everything.
func TestSIGTERMDuringAPeriodicSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.snapshot")
	args := []string{"-snapshot", path, "-snapshot-interval", "100ms", "-memory-limit", strconv.Itoa(256 << 20)}
	s := runBinary(t, args...)
	s.waitReady(t)
	items := make([]map[string]any, 2000)
	for i := range items {
		items[i] = map[string]any{"key": "t" + strconv.Itoa(i), "value": strings.Repeat("y", 2000)}
	}
	require.Equal(t, 200, s.post(t, "/v1/ns/default/keys:batchSet", map[string]any{"items": items}, nil))
	s.waitLogAfter(t, "snapshot started", time.Now())
	s.stop(t, syscall.SIGTERM)
	// The periodic snapshot in progress may still finish before the signal
	// lands; either way the one after the drain follows.
	line := s.waitLog(t, "snapshot written")
	for line["at_shutdown"] != true {
		line = s.waitLog(t, "snapshot written")
	}
	assert.InDelta(t, 2000, line["items"], 0)
	_, err := os.Stat(snapshot.TempPath(path))
	assert.ErrorIs(t, err, os.ErrNotExist)

	s = runBinary(t, args...)
	s.waitReady(t)
	assert.InDelta(t, 2000, s.waitLog(t, "snapshot loaded")["items"], 0)
	s.stop(t, syscall.SIGTERM)
}

// TestDamagedSnapshotStartsEmptyOrStrictlyExits writes a file that is not a
// snapshot: the server logs why, moves it aside and serves an empty cache;
// with -snapshot-strict it exits 1 instead and leaves the file in place.
func TestDamagedSnapshotStartsEmptyOrStrictlyExits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.snapshot")
	require.NoError(t, os.WriteFile(path, []byte("REDIS0011 this is somebody else's file"), 0o600))

	cmd := exec.Command(binary(t), "-addr", "127.0.0.1:0", "-snapshot", path, "-snapshot-strict")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, string(out), "another program")
	_, err = os.Stat(path)
	assert.NoError(t, err, "strict mode leaves the file where it was")

	out, err = exec.Command(binary(t), "-addr", "127.0.0.1:0", "-snapshot", filepath.Join(dir, "missing", "s")).CombinedOutput()
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Contains(t, string(out), "does not exist; create it first", "a snapshot that could never be written fails the start")

	s := runBinary(t, "-snapshot", path)
	s.waitReady(t)
	line := s.waitLog(t, "snapshot: not a valid snapshot, starting empty")
	assert.Contains(t, line["error"], "another program")
	moved := line["moved_to"].(string)
	b, err := os.ReadFile(moved)
	require.NoError(t, err)
	assert.Contains(t, string(b), "somebody else's", "the file is kept aside")
	status, stats := s.call(t, http.MethodGet, "/v1/stats", "")
	require.Equal(t, 200, status)
	assert.InDelta(t, 0, stats["items"], 0, "nothing was loaded")
	status, _ = s.call(t, http.MethodPut, "/v1/ns/default/keys/k", `{"value": 1}`)
	assert.Equal(t, 200, status)
	s.stop(t, syscall.SIGTERM)
}
