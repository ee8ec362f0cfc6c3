package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request whose client goes away before its answer is a client cancel:
// logged at info and counted with status 499, never as a 5xx or a backend
// error, on either store.
func TestAClientThatGoesAwayIsLoggedAndCountedAs499(t *testing.T) {
	bin := buildBinary(t)
	rd := startRedis(t)
	stores := map[string][]string{
		"memory": nil,
		"redis":  {"-store", rd.url()},
	}
	for name, args := range stores {
		t.Run(name, func(t *testing.T) {
			n := startNode(t, bin, nil, append([]string{"-log-level", "info"}, args...)...)
			addr := strings.TrimPrefix(n.base, "http://")

			// A PUT whose body is cut off by the client closing its
			// connection: the handler's read fails with the client gone.
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			_, err = io.WriteString(conn, "PUT /v1/ns/cancel/keys/k HTTP/1.1\r\nHost: x\r\n"+
				"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"value\": ")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
			n.waitRequests(t, "set", "499", 1)

			if name == "redis" {
				// A GET in flight in a hung Redis when its client hangs up:
				// the store call is canceled with the request.
				require.NoError(t, rd.signal(syscall.SIGSTOP))
				conn, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				_, err = io.WriteString(conn, "GET /v1/ns/cancel/keys/k HTTP/1.1\r\nHost: x\r\n\r\n")
				require.NoError(t, err)
				require.NoError(t, conn.Close())
				n.waitRequests(t, "get", "499", 1)
				require.NoError(t, rd.signal(syscall.SIGCONT))
			}

			metrics := n.metrics(t)
			assert.NotContains(t, metrics, `code="5`, "no client cancel counted as a server or backend failure")
			lines := n.logLines(t, "request")
			var cancels int
			for _, l := range lines {
				assert.NotEqual(t, "ERROR", l["level"], "log line %v", l)
				if l["status"] == float64(499) {
					cancels++
					assert.Equal(t, "INFO", l["level"], "log line %v", l)
					assert.NotContains(t, l["error"], "unavailable", "log line %v", l)
				}
			}
			want := 1
			if name == "redis" {
				want = 2
			}
			assert.Equal(t, want, cancels, "one 499 log line per canceled request")
		})
	}
}

// metrics returns the node's /metrics text.
func (n *node) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(n.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// waitRequests polls /metrics until route has answered at least count
// requests with code: the server notices a vanished client on its own time.
func (n *node) waitRequests(t *testing.T, route, code string, count int) {
	t.Helper()
	series := `memcached_http_requests_total{code="` + code + `",route="` + route + `"} `
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc := bufio.NewScanner(strings.NewReader(n.metrics(t)))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), series); ok {
				if got, err := strconv.ParseFloat(v, 64); err == nil && got >= float64(count) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "no request counted", "%s%d within 10 s; log:\n%s", series, count, n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
