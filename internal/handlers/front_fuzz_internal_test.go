package handlers

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http/httpguts"
)

// FuzzFrontParsesAsNetHTTP: whatever bytes arrive, a request the front
// takes is one net/http reads the same: method, target, Host, headers,
// length, body, Connection: close, and the bytes it spans. Anything else is
// handed to net/http, which then reads it itself.
func FuzzFrontParsesAsNetHTTP(f *testing.F) {
	for _, s := range []string{
		req("GET", "/v1/ns/t/keys/a", nil, ""),
		req("PUT", "/v1/ns/t/keys/a?mode=add", []string{"Content-Type: application/json", `If-Match: "3"`}, `{"value":1}`),
		req("POST", "/v1/ns/t/keys:batchGet", []string{"content-type: application/json", "Connection: close"}, `{"keys":["a"]}`),
		req("DELETE", "/v1/ns/%7E/keys/a%2Fb", []string{"X-Request-Id: r1", "Accept:  */* "}, ""),
		"GET /v1/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /v1/a HTTP/1.1\r\nHost: [::1]:80\r\nX:\r\n\r\nGET /v1/b HTTP/1.1\r\n",
		"PUT /v1/a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcdef",
		"GET /v1/a HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET /v1/a HTTP/1.0\r\nHost: a\r\n\r\n",
		"DELETE /v1/%0 HTTP/1.1\r\n\r\n\n",
		"GET /v1/ns/~/keys/a%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := &frontConn{br: bufio.NewReaderSize(nil, 4096), remoteAddr: "192.0.2.1:5"}
		if len(raw) > c.br.Size() {
			raw = raw[:c.br.Size()]
		}
		got, n, st := c.parse(raw)
		if st != parseOK {
			return
		}
		br := bufio.NewReader(bytes.NewReader(raw))
		want, err := http.ReadRequest(br)
		if c.refusal != nil {
			// The front refuses a bad target itself, in the error shape:
			// only one net/http refuses too.
			require.Error(t, err, "the front refused what net/http takes: %q", raw)
			return
		}
		require.NoError(t, err, "net/http refuses what the front took: %q", raw)
		// What net/http's server checks beyond ReadRequest.
		for k, vs := range want.Header {
			assert.True(t, httpguts.ValidHeaderFieldName(k), "header name %q", k)
			for _, v := range vs {
				assert.True(t, httpguts.ValidHeaderFieldValue(v), "header value %q", v)
			}
		}
		assert.True(t, httpguts.ValidHostHeader(want.Host), "Host %q", want.Host)
		assert.Equal(t, want.Method, got.Method)
		assert.Equal(t, want.RequestURI, got.RequestURI)
		assert.Equal(t, want.URL.String(), got.URL.String())
		assert.Equal(t, want.URL.EscapedPath(), got.URL.EscapedPath())
		assert.Equal(t, want.Host, got.Host)
		assert.Equal(t, want.Proto, got.Proto)
		assert.Equal(t, want.Close, got.Close)
		assert.Equal(t, want.ContentLength, got.ContentLength)
		assert.Equal(t, want.Header, got.Header)
		assert.Empty(t, want.TransferEncoding)
		wantBody, err := io.ReadAll(want.Body)
		require.NoError(t, err)
		gotBody, err := io.ReadAll(got.Body)
		require.NoError(t, err)
		assert.Equal(t, wantBody, gotBody)
		assert.Equal(t, len(raw)-br.Buffered(), n, "bytes of the request")
	})
}
