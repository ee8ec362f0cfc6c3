package handlers_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers"
)

// serveListener serves h behind handlers.Listener on a loopback port, over
// TLS when tlsConfig is set.
func serveListener(t *testing.T, h http.Handler, maxConns int, tlsConfig *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ConnContext: handlers.ConnContext, ReadHeaderTimeout: 5 * time.Second, TLSConfig: tlsConfig}
	go func() { _ = srv.Serve(handlers.NewListener(ln, maxConns, tlsConfig, 5*time.Second)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// exchange writes raw requests on one connection and reads n responses.
func exchange(t *testing.T, conn net.Conn, raw string, n int) []*http.Response {
	t.Helper()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := io.WriteString(conn, raw)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	var out []*http.Response
	for range n {
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, err = io.ReadAll(res.Body)
		require.NoError(t, err)
		out = append(out, res)
	}
	_, err = br.ReadByte()
	out = append(out, &http.Response{StatusCode: map[bool]int{true: -1, false: 0}[err == io.EOF]})
	return out
}

const (
	putLength  = "PUT /v1/ns/~/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"value\":1}"
	putChunked = "PUT /v1/ns/~/keys/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\n{\"val\r\n6\r\nue\":2}\r\n0\r\nTrailer-Field: x\r\n\r\n"
	getA       = "GET /v1/ns/~/keys/a HTTP/1.1\r\nHost: x\r\n\r\n"
	smuggled   = "POST /v1/ns/~/keys:batchGet HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	smuggledTE = "POST /v1/ns/~/keys:batchGet HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n"
)

// TestContentLengthWithTransferEncodingIsRefused: RFC 9112 §6.3 — a request
// carrying both is answered 400 and its connection closed, whatever came
// before it on the connection; requests framed one way only, pipelined,
// chunked with extensions and trailers, are served.
func TestContentLengthWithTransferEncodingIsRefused(t *testing.T) {
	addr := serveListener(t, newEnv(t).h, 0, nil)
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	for _, raw := range []string{smuggled, smuggledTE} {
		res := exchange(t, dial(), raw, 1)
		assert.Equal(t, http.StatusBadRequest, res[0].StatusCode)
		assert.Equal(t, "nosniff", res[0].Header.Get("X-Content-Type-Options"))
		assert.Equal(t, -1, res[1].StatusCode, "the connection is closed after the refusal")
	}
	res := exchange(t, dial(), putLength+putChunked+getA+smuggled+getA, 4)
	for i, want := range []int{200, 200, 200, 400} {
		assert.Equal(t, want, res[i].StatusCode, "response %d", i)
	}
	assert.Equal(t, -1, res[4].StatusCode, "nothing after the refused request is served")

	conn := dial()
	res = exchange(t, conn, putChunked+getA+"GET /v1/ns/~/keys/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3)
	for i := range 3 {
		assert.Equal(t, http.StatusOK, res[i].StatusCode, "response %d: framing followed across requests", i)
	}
}

// TestContentLengthWithTransferEncodingIsRefusedOverTLS: the same on an
// HTTP/1.1 TLS connection, while HTTP/2 is still negotiated for clients
// that offer it.
func TestContentLengthWithTransferEncodingIsRefusedOverTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.EnableHTTP2 = true
	ts.StartTLS() // for its certificate and a client that trusts it
	t.Cleanup(ts.Close)
	cfg := &tls.Config{Certificates: ts.TLS.Certificates, NextProtos: []string{"h2", "http/1.1"}}
	addr := serveListener(t, newEnv(t).h, 0, cfg)

	client := ts.Client()
	res, err := client.Get("https://" + addr + "/healthz")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, 2, res.ProtoMajor, "HTTP/2 is negotiated")

	roots := client.Transport.(*http.Transport).TLSClientConfig.RootCAs
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "example.com", NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	out := exchange(t, conn, putLength+smuggled, 2)
	assert.Equal(t, http.StatusOK, out[0].StatusCode)
	assert.Equal(t, http.StatusBadRequest, out[1].StatusCode)
	assert.Equal(t, -1, out[2].StatusCode, "closed")
}

// TestMaxConnsClosesConnectionsPastTheCap: with a cap of 2, a third open
// connection is closed at once; once one of the two closes, a new one is
// served.
func TestMaxConnsClosesConnectionsPastTheCap(t *testing.T) {
	addr := serveListener(t, newEnv(t).h, 2, nil)
	open := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	a, b := open(), open()
	for _, c := range []net.Conn{a, b} {
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	third := open()
	require.NoError(t, third.SetDeadline(time.Now().Add(10*time.Second)))
	_, _ = io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	_, err := third.Read(make([]byte, 1))
	assert.Error(t, err, "past the cap the connection is closed unanswered")
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && res.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "a slot freed by a close serves a new connection")
}
