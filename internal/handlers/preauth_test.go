package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// countingBody is a request body that counts the bytes taken from it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// nearMisses are paths next to the batch and key routes that address no
// operation; before the routing table, the first five were taken for a
// public route whose body was read and checked before any auth decision.
var nearMisses = []string{
	"/v1/ns/a/keys:batchNope", "/v1/ns/a/keys:batch", "/v1/ns/a/keys:batchGet/", "/v1/ns/a/keys:batchGet%20",
	"/v1/ns/a/b/keys:batchGet", "/v1/ns/a/keys:batchget", "/v1/ns/a/keys%3AbatchGet", "/v1/ns/a/keys",
	"/v1/ns/a/KEYS/k", "//v1/ns/a/keys/k", "/v1/flush/", "/v1/stats/x", "/v1/nope", "/v2/ns/a/keys/k",
}

// TestNothingIsReadBeforeTheDecision sends every method to every route and
// to near-miss paths, with tokens configured and no (or a wrong, or two)
// Authorization header, and a body that counts its reads. A protected
// operation answers 401, an unknown path 404 and a known path with another
// method 405 with Allow, each without a byte of the body read; every
// response carries X-Content-Type-Options: nosniff.
func TestNothingIsReadBeforeTheDecision(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	doc := contracttest.Spec(t)
	var paths []string
	for path := range doc.Paths.Map() {
		path = strings.NewReplacer("{namespace}", "team-a", "{key}", "k").Replace(path)
		paths = append(paths, path)
	}
	paths = append(paths, nearMisses...)
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete,
		http.MethodPatch, http.MethodOptions, "PROPFIND"}
	auths := map[string][]string{
		"no token":    nil,
		"wrong token": {"Bearer not-a-configured-token"},
		"two tokens":  {"Bearer " + adminToken, "Bearer " + adminToken},
		"not bearer":  {"Basic YWRtaW46YWRtaW4="},
	}
	for _, path := range paths {
		for _, method := range methods {
			for name, auth := range auths {
				for _, chunked := range []bool{false, true} {
					body := &countingBody{r: strings.NewReader(`{"keys":["k"],"items":[],"offsets":{}}`)}
					r := httptest.NewRequest(method, path, nil)
					r.Body = body
					r.ContentLength = 40
					if chunked {
						r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
					}
					r.Header["Authorization"] = auth
					r.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					e.h.ServeHTTP(rec, r)
					rt, _ := contracttest.Route(doc, method, path)
					what := fmt.Sprintf("%s %s (%s, chunked %v)", method, path, name, chunked)
					assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), what)
					switch {
					case rt == nil && contracttest.PathKnown(doc, path):
						assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, what)
						assert.NotEmpty(t, rec.Header().Get("Allow"), what)
					case rt == nil:
						assert.Equal(t, http.StatusNotFound, rec.Code, what)
					case rt.Operation.Security != nil && len(*rt.Operation.Security) == 0:
						continue // public: it may read what it takes
					default:
						assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", what, rec.Body)
						assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer", what)
					}
					assert.Zero(t, body.read.Load(), "%s: body bytes read before the decision", what)
					assert.Equal(t, "close", rec.Header().Get("Connection"), "%s: a refused body closes the connection", what)
				}
			}
		}
	}
}

// TestTwoAuthorizationHeadersAreRefused: which of two tokens counts would be
// a guess (and a proxy may pick the other), so even two valid ones are 401.
func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	r := httptest.NewRequest(http.MethodGet, "/v1/stats", nil)
	r.Header["Authorization"] = []string{"Bearer " + adminToken, "Bearer " + readerToken}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s", rec.Body)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_request"`)
	assert.Contains(t, rec.Body.String(), "more than one Authorization header")
	contracttest.Check(t, r, rec.Code, rec.Header(), rec.Body.Bytes())

	r.Header["Authorization"] = []string{"Bearer " + adminToken}
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusOK, rec.Code, "one of them alone is fine")
}

// TestFailedAuthCountsAgainstTheClientAddress: with a rate limit, guessing
// tokens from one address is limited like any other traffic, and answers
// 429 once over it; other addresses are not affected.
func TestFailedAuthCountsAgainstTheClientAddress(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens), func(_ *cache.Options, c *handlers.Config) {
		c.RateLimit, c.RateWindow = 3, time.Hour
	})
	send := func(addr, token string) int {
		r := httptest.NewRequest(http.MethodGet, "/v1/ns/team-a/keys/k", nil)
		r.RemoteAddr = addr + ":4242"
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		contracttest.Check(t, r, rec.Code, rec.Header(), rec.Body.Bytes())
		return rec.Code
	}
	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, send("192.0.2.1", "guess"))
	}
	assert.Equal(t, http.StatusTooManyRequests, send("192.0.2.1", "guess"), "the fourth guess is over the limit")
	assert.Equal(t, http.StatusTooManyRequests, send("192.0.2.1", ""), "so is a request without a token")
	assert.Equal(t, http.StatusForbidden, send("192.0.2.2", outsiderToken), "another address still gets its answer")
	assert.Equal(t, http.StatusNotFound, send("192.0.2.2", readerToken), "a valid token is limited per token")
}

// rawExchange writes head (and nothing of the body it announces) to the
// server and reads the response; the connection must then be closed.
func rawExchange(t *testing.T, addr, head string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "the server answers without waiting for the body")
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err, "the whole answer arrives")
	assert.Contains(t, string(body), `"code":`)
	_ = res.Body.Close()
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "and closes the connection")
	return res
}

// TestRefusalsComeBeforeTheBodyOverTheWire sends only the head of a request
// announcing 31 MiB (by length or chunked) to protected and unknown paths:
// the answer arrives although no body byte was ever sent.
func TestRefusalsComeBeforeTheBodyOverTheWire(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/v1/ns/a/keys:batchGet", http.StatusUnauthorized},
		{"/v1/ns/a/keys/k", http.StatusUnauthorized},
		{"/v1/ns/a/keys:batchNope", http.StatusNotFound},
		{"/v1/ns/a/keys:batchGet/", http.StatusNotFound},
		{"/v1/ns/a/keys:batchGet%20", http.StatusNotFound},
		{"/v1/ns/a/b/keys:batchGet", http.StatusNotFound},
		{"/v1/ns/a/keys:batch", http.StatusNotFound},
	} {
		for _, framing := range []string{"Content-Length: 32505856", "Transfer-Encoding: chunked"} {
			method := http.MethodPost
			if strings.Contains(tt.path, "/keys/") {
				method = http.MethodPut
			}
			head := method + " " + tt.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing + "\r\n\r\n"
			res := rawExchange(t, addr, head)
			assert.Equal(t, tt.want, res.StatusCode, "%s %s, %s", method, tt.path, framing)
			assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		}
	}
}

// TestRefusalsComeBeforeTheBodyOverHTTP2: the same over HTTP/2, where the
// body is a stream the client never finishes.
func TestRefusalsComeBeforeTheBodyOverHTTP2(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	srv := httptest.NewUnstartedServer(e.h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 10 * time.Second
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/v1/ns/a/keys:batchGet", http.StatusUnauthorized},
		{"/v1/ns/a/keys:batchNope", http.StatusNotFound},
		{"/v1/ns/a/b/keys:batchGet", http.StatusNotFound},
	} {
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, pr)
		require.NoError(t, err)
		res, err := client.Do(req)
		require.NoError(t, err, tt.path)
		assert.Equal(t, 2, res.ProtoMajor, "HTTP/2")
		assert.Equal(t, tt.want, res.StatusCode, tt.path)
		_ = res.Body.Close()
		_ = pw.Close()
	}
}

// rss is the process's resident set size in bytes, from /proc.
func rss(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestNoTokenFloodKeepsMemoryFlat replays the probe that found the
// pre-auth body read: 24 connections at once, each announcing and sending
// 31 MiB without a token to near-miss and protected paths. Before the
// routing table each body was buffered whole (RSS grew by about 750 MiB);
// now each is refused unread, and the peak RSS of the whole process (the
// clients' side included) grows by less than 32 MiB.
func TestNoTokenFloodKeepsMemoryFlat(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads RSS from /proc (Linux only)")
	}
	e := newEnv(t, withTokens(t, testTokens))
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	paths := append([]string{"/v1/ns/a/keys:batchGet", "/v1/ns/a/keys:batchSet"}, nearMisses[:5]...)

	runtime.GC()
	debug.FreeOSMemory()
	before := rss(t)
	var peak atomic.Int64
	peak.Store(before)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if n := rss(t); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	const conns, size = 24, 31 << 20
	chunk := make([]byte, 64<<10)
	var wg sync.WaitGroup
	statuses := make([]int, conns)
	for i := range conns {
		wg.Go(func() {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if !assert.NoError(t, err) {
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			path := paths[i%len(paths)]
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, size)
			if _, err := io.WriteString(conn, head); err != nil {
				return
			}
			// The server may close as soon as it has answered; a write error then is expected.
			go func() {
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := conn.Write(chunk); err != nil {
						return
					}
				}
			}()
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if assert.NoError(t, err, path) {
				statuses[i] = res.StatusCode
				_ = res.Body.Close()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	for i, status := range statuses {
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound}, status, paths[i%len(paths)])
	}
	growth := peak.Load() - before
	t.Logf("RSS %d MiB before, peak %d MiB during the flood (+%d MiB)", before>>20, peak.Load()>>20, growth>>20)
	assert.Less(t, growth, int64(32<<20), "RSS growth during a no-token flood of 24 × 31 MiB")
}

// TestPathsAreServedAsSent pins path normalisation: nothing is cleaned, so
// the namespace the guard checks is the namespace served, and a token for
// team-a reaches nothing else through "..", "//", case, %2e, %252F, ';' or
// %00.
func TestPathsAreServedAsSent(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	reader := bearer(readerToken) // read team-a
	writer := bearer(writerToken) // write team-*
	res := e.do(request{method: http.MethodPut, path: "/v1/ns/team-b/keys/k", body: `{"value": "b"}`, header: writer})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/v1/ns/team-a/../team-b/keys/k", http.StatusNotFound},         // not a key path: "../team-b/keys/k" follows the namespace
		{"/v1/ns/team-a/keys/../../team-b/keys/k", http.StatusNotFound}, // the key "../../team-b/keys/k" in team-a
		{"/v1/ns/../keys/k", http.StatusForbidden},                      // the namespace ".."
		{"/v1/ns/%2e%2e/keys/k", http.StatusForbidden},                  // the same, escaped
		{"/v1/ns/team-a%2F..%2Fteam-b/keys/k", http.StatusForbidden},    // the namespace "team-a/../team-b"
		{"/v1/ns/team-a%252F/keys/k", http.StatusForbidden},             // the namespace "team-a%2F"
		{"/v1/ns/team-a;/keys/k", http.StatusForbidden},                 // the namespace "team-a;"
		{"/v1/ns/team-a%00/keys/k", http.StatusForbidden},               // the namespace "team-a\x00"
		{"//v1/ns/team-b/keys/k", http.StatusNotFound},
		{"/v1/ns/TEAM-B/keys/k", http.StatusForbidden},
		{"/V1/ns/team-b/keys/k", http.StatusNotFound},
		{"/v1/ns/team-a/keys/k/", http.StatusNotFound}, // the key "k/", which team-a does not hold
		{"/v1/ns/team-a/keys/k;x", http.StatusNotFound},
		{"/v1/ns/team-a/keys/k%00", http.StatusNotFound}, // the key "k\x00", which team-a does not hold
	} {
		res := e.do(request{method: http.MethodGet, path: tt.path, header: reader})
		assert.Equal(t, tt.want, res.status, "%s: %s", tt.path, res.body)
		assert.NotContains(t, string(res.body), `"b"`, "%s: team-b's value never leaks", tt.path)
	}
	// The writer of team-* reaches the escaped and odd namespaces, which
	// then fail the namespace grammar: 400, not another namespace's item.
	for _, path := range []string{"/v1/ns/team-a%2F..%2Fteam-b/keys/k", "/v1/ns/team-a;/keys/k", "/v1/ns/team-a%00/keys/k"} {
		res := e.do(request{method: http.MethodGet, path: path, header: writer})
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", path, res.body)
		assert.Equal(t, "namespace", res.fieldOf(t), path)
	}
}

// TestDuplicateMembersAreRefusedOnEveryPath: a JSON body naming a member
// twice is a 400 on every operation that takes JSON, the batchGet fast
// path included, and inside stored values and the offsets map.
func TestDuplicateMembersAreRefusedOnEveryPath(t *testing.T) {
	for _, tt := range []struct {
		method, path, body, field string
	}{
		{http.MethodPost, batchGet, `{"keys":["a"],"keys":["b"]}`, "keys"},
		{http.MethodPost, batchGet, `{"keys":["a"],"key_prefix":"p","key_prefix":"q"}`, "key_prefix"},
		{http.MethodPost, batchGet, `{"keys":["a"],"\u006beys":["b"]}`, "keys"},
		{http.MethodPost, batchSet, `{"items":[{"key":"a","value":1,"key":"b"}]}`, "items[0].key"},
		{http.MethodPost, batchSet, `{"items":[],"items":[]}`, "items"},
		{http.MethodPost, batchDelete, `{"keys":["a"],"keys":["b"]}`, "keys"},
		{http.MethodPost, batchOffset, `{"offsets":{"a":1,"a":2}}`, "offsets.a"},
		{http.MethodPut, keyPath("k"), `{"value":1,"value":2}`, "value"},
		{http.MethodPut, keyPath("k"), `{"value":{"a":{"b":1,"b":2}}}`, "value.a.b"},
		{http.MethodPut, keyPath("k"), `{"value":[{"a":1},{"a":1,"a":2}]}`, "value[1].a"},
		{http.MethodPost, keyPath("n") + ":incr", `{"delta":1,"delta":2}`, "delta"},
		{http.MethodPost, keyPath("n") + ":decr", `{"initial_value":1,"initial_value":2}`, "initial_value"},
	} {
		t.Run(tt.path+" "+tt.body, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: tt.method, path: tt.path, body: tt.body})
			assert.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
			assert.Equal(t, "invalid_argument", res.code(t))
			assert.Equal(t, tt.field, res.fieldOf(t))
		})
	}
	// Many members, past the few the check keeps on the stack.
	var b strings.Builder
	b.WriteString(`{"offsets":{`)
	for i := range 40 {
		fmt.Fprintf(&b, `"k%d":1,`, i)
	}
	b.WriteString(`"k7":2}}`)
	e := newEnv(t)
	res := e.do(request{method: http.MethodPost, path: batchOffset, body: b.String()})
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Equal(t, "offsets.k7", res.fieldOf(t))
}
