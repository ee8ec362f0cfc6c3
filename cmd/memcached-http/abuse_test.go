package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// steadyClient is a well-behaved client that keeps writing and reading keys
// while the abuse goes on; every call must succeed.
type steadyClient struct {
	ok, failed atomic.Int64
	mu         sync.Mutex // guards lastErr
	lastErr    error
	stop       chan struct{}
	done       chan struct{}
}

func startSteadyClient(base string) *steadyClient {
	c := &steadyClient{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(c.done)
		defer client.CloseIdleConnections()
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			default:
			}
			if err := c.roundTrip(client, base, i); err != nil {
				c.failed.Add(1)
				c.mu.Lock()
				c.lastErr = err
				c.mu.Unlock()
				continue
			}
			c.ok.Add(1)
		}
	}()
	return c
}

func (c *steadyClient) roundTrip(client *http.Client, base string, i int) error {
	path := fmt.Sprintf("%s/v1/ns/steady/keys/k%d", base, i%50)
	req, err := http.NewRequest(http.MethodPut, path, strings.NewReader(fmt.Sprintf(`{"value": %d}`, i)))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("put: status %d", resp.StatusCode)
	}
	resp, err = client.Get(path)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	var item struct{ Value int }
	if err := json.NewDecoder(resp.Body).Decode(&item); err != nil || resp.StatusCode != http.StatusOK || item.Value != i {
		return fmt.Errorf("get: status %d, value %d, err %v", resp.StatusCode, item.Value, err)
	}
	return nil
}

// finish stops the client and reports its last error, if any.
func (c *steadyClient) finish() error {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// rawRequest opens a connection and writes head (the request line and
// headers, without the blank line's final CRLF when the caller goes on
// writing headers).
func rawRequest(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	return conn
}

// abuseCode reads the code of a response in the one error shape.
func abuseCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	return e.Error.Code
}

// TestAbuseIsRefusedWhileOthersAreServed runs the binary's own server (run,
// with production wiring and short timeouts) and, while a steady client keeps
// working, throws oversized bodies, a slow-loris client, an oversized batch
// and invalid keys at it.
func TestAbuseIsRefusedWhileOthersAreServed(t *testing.T) {
	addr, _ := runInProcess(t, nil,
		"-read-header-timeout", "250ms", "-read-timeout", "5s", "-write-timeout", "5s", "-idle-timeout", "5s",
		"-max-body-bytes", "1048576", "-max-batch-keys", "100")
	base := "http://" + addr
	steady := startSteadyClient(base)

	t.Run("a 100 MiB body is refused with 413 without being read", func(t *testing.T) {
		const size = 100 << 20
		conn := rawRequest(t, addr, fmt.Sprintf("PUT /v1/ns/default/keys/big HTTP/1.1\r\nHost: test\r\n"+
			"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", size))
		var sent atomic.Int64
		writerDone := make(chan struct{})
		go func() {
			defer close(writerDone)
			chunk := make([]byte, 64<<10)
			for sent.Load() < size {
				n, err := conn.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assert.Equal(t, "value_too_large", abuseCode(t, resp))
		assert.Less(t, time.Since(start), 5*time.Second)
		<-writerDone
		assert.Less(t, sent.Load(), int64(size/4), "the server closed the connection instead of reading the body")
	})

	t.Run("a chunked body over the limit is cut off with 413", func(t *testing.T) {
		conn := rawRequest(t, addr, "POST /v1/ns/default/keys:batchSet HTTP/1.1\r\nHost: test\r\n"+
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		go func() {
			item := strings.Repeat(`{"key": "k", "value": 1},`, 1000)
			chunk := fmt.Sprintf("%x\r\n%s\r\n", len(item), item)
			_, _ = io.WriteString(conn, "b\r\n{\"items\": [\r\n")
			for range 200 { // 5 MB, five times the limit
				if _, err := io.WriteString(conn, chunk); err != nil {
					return
				}
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assert.Equal(t, "batch_too_large", abuseCode(t, resp))
	})

	t.Run("a slow-loris client is cut off by the header timeout", func(t *testing.T) {
		conn := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: test\r\n")
		go func() {
			for {
				if _, err := conn.Write([]byte("X")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond) // the slow client's pace, not a wait for the server
			}
		}()
		start := time.Now()
		got, err := io.ReadAll(conn)
		elapsed := time.Since(start)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			require.FailNow(t, "the server never cut the connection off")
		}
		assert.NotContains(t, string(got), "200 OK")
		assert.Less(t, elapsed, 3*time.Second, "cut off near the 250ms header timeout")
	})

	t.Run("a batch over the key limit is refused with 413", func(t *testing.T) {
		keys := make([]string, 101)
		for i := range keys {
			keys[i] = fmt.Sprint("k", i)
		}
		body, err := json.Marshal(map[string]any{"keys": keys})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, base+"/v1/ns/default/keys:batchGet", strings.NewReader(string(body)))
		require.NoError(t, err)
		resp, got := contracttest.Do(t, http.DefaultClient, req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assert.Contains(t, string(got), `"batch_too_large"`)
	})

	t.Run("invalid UTF-8 keys are refused with 400", func(t *testing.T) {
		for _, key := range []string{"%FF%FE", "a%C0%80", "%ED%A0%80"} {
			for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
				req, err := http.NewRequest(method, base+"/v1/ns/default/keys/"+key, strings.NewReader(`{"value": 1}`))
				require.NoError(t, err)
				resp, got := contracttest.Do(t, http.DefaultClient, req)
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", method, key, got)
				assert.Contains(t, string(got), `"invalid_argument"`)
			}
		}
	})

	require.NoError(t, steady.finish(), "the steady client saw a failure")
	assert.Positive(t, steady.ok.Load())
	assert.Zero(t, steady.failed.Load())
}
