package sdkcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/sdk"
)

// appEngineProgram is a program written against App Engine's method list, ported by
// renaming methods and constructing the Client. It runs against every server.
func appEngineProgram(t *testing.T, ctx context.Context, c *sdk.Client) {
	ok, err := c.Set(ctx, "greeting", "hello", sdk.WithTime(60))
	require.NoError(t, err)
	assert.True(t, ok)
	var greeting string
	found, err := c.Get(ctx, "greeting", &greeting)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "hello", greeting)

	ok, _ = c.Add(ctx, "greeting", "again")
	assert.False(t, ok, "add on a live key")
	ok, _ = c.Replace(ctx, "nobody", "x")
	assert.False(t, ok, "replace on a missing key")

	n, err := c.Incr(ctx, "hits", 1, sdk.WithInitialValue(0))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n)
	n, err = c.Decr(ctx, "hits", 5)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), n)

	var counter uint64
	_, err = c.Gets(ctx, "hits", &counter)
	require.NoError(t, err)
	ok, err = c.CAS(ctx, "hits", counter+10)
	require.NoError(t, err)
	assert.True(t, ok)

	notStored, err := c.SetMulti(ctx, map[string]any{"a": 1, "b": []int{2, 3}}, sdk.WithKeyPrefix("user:"), sdk.WithNamespace("app"))
	require.NoError(t, err)
	assert.Empty(t, notStored)
	got, err := c.GetMulti(ctx, []string{"a", "b", "c"}, sdk.WithKeyPrefix("user:"), sdk.WithNamespace("app"))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": 1, "b": []any{2.0, 3.0}}, got)
	values, err := c.OffsetMulti(ctx, map[string]int{"a": 2}, sdk.WithKeyPrefix("user:"), sdk.WithNamespace("app"))
	require.NoError(t, err)
	assert.Equal(t, map[string]*uint64{"a": ptr[uint64](3)}, values)
	statuses, err := c.DeleteMulti(ctx, []string{"a", "c"}, sdk.WithKeyPrefix("user:"), sdk.WithNamespace("app"))
	require.NoError(t, err)
	assert.Equal(t, map[string]sdk.DeleteStatus{"a": sdk.DeleteSuccessful, "c": sdk.DeleteItemMissing}, statuses)

	status, err := c.Delete(ctx, "greeting")
	require.NoError(t, err)
	assert.Equal(t, sdk.DeleteSuccessful, status)

	stats, err := c.GetStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), stats.Items, "hits and user:b are left")
	ok, err = c.FlushAll(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	stats, err = c.GetStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.Stats{}, *stats)
}

func TestAppEngineProgramAgainstTheRouter(t *testing.T) {
	e := newEnv(t)
	appEngineProgram(t, e.ctx, e.c)
}

// TestAppEngineProgramAgainstTheBinary builds cmd/memcached-http, starts it on a
// free port and runs App Engine program over a real socket. The server
// listens on port 0 and is found at the address it logs as "listening"
// (hence the info log level), so no other process can take its port first.
func TestAppEngineProgramAgainstTheBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the test builds the server with the go tool")
	bin := filepath.Join(t.TempDir(), "memcached-http")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, "./cmd/memcached-http")
	build.Dir = "../.."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	stderr := &lockedBuffer{}
	server := exec.Command(bin, "-addr", "127.0.0.1:0", "-log-level", "info")
	server.Stderr = stderr
	require.NoError(t, server.Start())
	t.Cleanup(func() {
		assert.NoError(t, server.Process.Kill())
		_ = server.Wait() // a killed process always reports its signal
	})

	var base string
	require.Eventually(t, func() bool {
		if base == "" {
			for line := range strings.Lines(stderr.String()) {
				var entry struct{ Msg, Addr string }
				if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
					base = "http://" + entry.Addr
				}
			}
			if base == "" {
				return false
			}
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 20*time.Millisecond, "the server never became healthy: %s", stderr)

	c, err := sdk.New(base)
	require.NoError(t, err)
	t.Cleanup(c.DisconnectAll)
	appEngineProgram(t, t.Context(), c)
}

// lockedBuffer collects the server's stderr while the test may read it.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
