package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// memcachedAddrOf finds the memcached listener's address in the logs.
func memcachedAddrOf(t *testing.T, logs *logLines) string {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "memcached listening" {
			return m["addr"].(string)
		}
	}
	require.FailNow(t, "no memcached listening line", logs.String())
	return ""
}

// mcConn is a memcached text protocol connection.
type mcConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialMemcached(t *testing.T, addr string) *mcConn {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
	return &mcConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *mcConn) line(cmd string) string {
	c.t.Helper()
	_, err := io.WriteString(c.nc, cmd)
	require.NoError(c.t, err)
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	return strings.TrimSuffix(l, "\r\n")
}

// gets reads one item: value, flags and CAS id; ok false on a miss.
func (c *mcConn) gets(key string) (value []byte, flags uint32, cas uint64, ok bool) {
	c.t.Helper()
	head := c.line("gets " + key + "\r\n")
	if head == "END" {
		return nil, 0, 0, false
	}
	f := strings.Fields(head)
	require.Len(c.t, f, 5, "VALUE line %q", head)
	fl, _ := strconv.ParseUint(f[2], 10, 32)
	n, _ := strconv.Atoi(f[3])
	cas, _ = strconv.ParseUint(f[4], 10, 64)
	buf := make([]byte, n+2)
	_, err := io.ReadFull(c.r, buf)
	require.NoError(c.t, err)
	require.Equal(c.t, "END", c.line(""))
	return buf[:n], uint32(fl), cas, true
}

func httpDo(t *testing.T, method, url, contentType, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// TestCrossProtocol: an item written over HTTP reads back over memcached
// with the same bytes, flags and CAS id, and the reverse, for every kind of
// value HTTP takes.
func TestCrossProtocol(t *testing.T) {
	addr, logs := runInProcess(t, nil, "-memcached-addr", "127.0.0.1:0")
	mc := dialMemcached(t, memcachedAddrOf(t, logs))
	base := "http://" + addr + "/v1/ns/" + cache.DefaultNamespace + "/keys/"

	t.Run("set over HTTP, read over memcached", func(t *testing.T) {
		cases := []struct {
			name, body, want string
			flags            uint32
		}{
			{"a JSON string", `{"value": "hello", "flags": 1}`, `"hello"`, 1},
			{"a JSON number", `{"value": 42}`, `42`, 0},
			{"a JSON object, compacted", `{"value": {"a": [1, 2], "b": null}, "flags": 4294967295}`, `{"a":[1,2],"b":null}`, 4294967295},
			{"JSON true", `{"value": true}`, `true`, 0},
			{"JSON null", `{"value": null, "flags": 3}`, `null`, 3},
			{"base64 bytes", `{"value": "` + base64.StdEncoding.EncodeToString([]byte("\x00\r\n\xff")) + `", "encoding": "base64", "flags": 9}`, "\x00\r\n\xff", 9},
		}
		for i, c := range cases {
			key := fmt.Sprint("h2m-", i)
			resp, b := httpDo(t, http.MethodPut, base+key, "application/json", c.body)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", c.name, b)
			value, flags, cas, ok := mc.gets(key)
			require.True(t, ok, c.name)
			assert.Equal(t, c.want, string(value), c.name)
			assert.Equal(t, c.flags, flags, c.name)
			assert.Equal(t, `"`+strconv.FormatUint(cas, 10)+`"`, resp.Header.Get("ETag"), "%s: one CAS id on both faces", c.name)
		}
		// A raw body, flags in the query.
		resp, b := httpDo(t, http.MethodPut, base+"h2m-raw?flags=77", "application/octet-stream", "raw\x00bytes")
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		value, flags, _, ok := mc.gets("h2m-raw")
		require.True(t, ok)
		assert.Equal(t, "raw\x00bytes", string(value))
		assert.Equal(t, uint32(77), flags)
		// An HTTP counter counts on over memcached.
		resp, b = httpDo(t, http.MethodPost, base+"h2m-n:incr", "application/json", `{"delta": 5, "initial_value": 10}`)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		assert.Equal(t, "16", mc.line("incr h2m-n 1\r\n"))
		// An HTTP delete is a memcached miss.
		resp, _ = httpDo(t, http.MethodDelete, base+"h2m-0", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, _, _, ok = mc.gets("h2m-0")
		assert.False(t, ok)
	})

	t.Run("set over memcached, read over HTTP", func(t *testing.T) {
		require.Equal(t, "STORED", mc.line("set m2h-bin 7 0 4\r\n\x00\xffab\r\n"))
		_, _, cas, _ := mc.gets("m2h-bin")
		resp, b := httpDo(t, http.MethodGet, base+"m2h-bin", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		var item struct {
			Value    json.RawMessage `json:"value"`
			Encoding string          `json:"encoding"`
			Flags    uint32          `json:"flags"`
			CAS      string          `json:"cas"`
		}
		require.NoError(t, json.Unmarshal(b, &item))
		assert.Equal(t, "base64", item.Encoding, "memcached values are bytes")
		assert.Equal(t, `"`+base64.StdEncoding.EncodeToString([]byte("\x00\xffab"))+`"`, string(item.Value))
		assert.Equal(t, uint32(7), item.Flags)
		assert.Equal(t, strconv.FormatUint(cas, 10), item.CAS)

		resp, b = httpDo(t, http.MethodGet, base+"m2h-bin", "", "", "Accept", "application/octet-stream")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "\x00\xffab", string(b))
		assert.Equal(t, "7", resp.Header.Get("Memcache-Flags"))

		// A memcached counter counts on over HTTP, and a CAS id from
		// memcached is good for an HTTP cas write.
		require.Equal(t, "STORED", mc.line("set m2h-n 0 0 2\r\n41\r\n"))
		resp, b = httpDo(t, http.MethodPost, base+"m2h-n:incr", "application/json", `{"delta": 1}`)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		assert.Contains(t, string(b), "42")
		_, _, cas, _ = mc.gets("m2h-n")
		resp, b = httpDo(t, http.MethodPut, base+"m2h-n", "application/json", `{"value": "x"}`, "If-Match", `"`+strconv.FormatUint(cas, 10)+`"`)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		value, _, _, _ := mc.gets("m2h-n")
		assert.Equal(t, `"x"`, string(value))

		// append and touch over memcached show over HTTP.
		require.Equal(t, "STORED", mc.line("append m2h-bin 0 0 2\r\ncd\r\n"))
		require.Equal(t, "TOUCHED", mc.line("touch m2h-bin 1000\r\n"))
		resp, b = httpDo(t, http.MethodGet, base+"m2h-bin", "", "", "Accept", "application/octet-stream")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "\x00\xffabcd", string(b))
		require.Equal(t, "DELETED", mc.line("delete m2h-bin\r\n"))
		resp, _ = httpDo(t, http.MethodGet, base+"m2h-bin", "", "")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

// TestMemcachedNamespace: -memcached-namespace puts memcached keys in
// that App Engine namespace, and only there.
func TestMemcachedNamespace(t *testing.T) {
	addr, logs := runInProcess(t, nil, "-memcached-addr", "127.0.0.1:0", "-memcached-namespace", "tenant-a")
	mc := dialMemcached(t, memcachedAddrOf(t, logs))
	require.Equal(t, "STORED", mc.line("set k 0 0 1\r\nv\r\n"))
	resp, _ := httpDo(t, http.MethodGet, "http://"+addr+"/v1/ns/tenant-a/keys/k", "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = httpDo(t, http.MethodGet, "http://"+addr+"/v1/ns/"+cache.DefaultNamespace+"/keys/k", "", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestMemcachedExposure(t *testing.T) {
	cases := []struct {
		name string
		c    config
		ok   bool
	}{
		{"off", config{}, true},
		{"loopback", config{memcachedAddr: "127.0.0.1:11211"}, true},
		{"IPv6 loopback", config{memcachedAddr: "[::1]:11211"}, true},
		{"all interfaces", config{memcachedAddr: ":11211"}, false},
		{"all interfaces with -insecure", config{memcachedAddr: ":11211", insecure: true}, true},
		{"all interfaces with TLS", config{memcachedAddr: "0.0.0.0:11211", memcachedTLS: true}, true},
	}
	for _, c := range cases {
		err := checkMemcachedExposure(c.c)
		if c.ok {
			assert.NoError(t, err, c.name)
		} else {
			assert.ErrorContains(t, err, "-insecure", c.name)
		}
	}
	_, err := parseConfig([]string{"-memcached-tls", "-memcached-addr", ":1"}, func(string) string { return "" }, io.Discard)
	assert.ErrorContains(t, err, "-memcached-tls needs -tls-cert")
	_, err = parseConfig([]string{"-memcached-max-conns", "0"}, func(string) string { return "" }, io.Discard)
	assert.ErrorContains(t, err, "-memcached-max-conns")
	err = run(t.Context(), []string{"-memcached-addr", ":0"}, func(string) string { return "" }, io.Discard)
	assert.ErrorContains(t, err, "refusing to serve the memcached protocols")
}

// TestMemcachedOverTLS: -memcached-tls serves the protocols with the HTTP
// certificate, on an address that would otherwise need -insecure.
func TestMemcachedOverTLS(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	_, logs := runInProcess(t, nil, "-tls-cert", certFile, "-tls-key", keyFile,
		"-memcached-addr", "127.0.0.1:0", "-memcached-tls")
	nc, err := tls.Dial("tcp", memcachedAddrOf(t, logs), &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer nc.Close()
	c := &mcConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	assert.Equal(t, "STORED", c.line("set k 0 0 1\r\nv\r\n"))
	value, _, _, ok := c.gets("k")
	assert.True(t, ok)
	assert.Equal(t, "v", string(value))
}

// TestMemcachedOverRedis: the listener serves a Redis-backed store as it
// serves the embedded one, shared with HTTP.
func TestMemcachedOverRedis(t *testing.T) {
	r := startRedis(t)
	addr, logs := runInProcess(t, nil, "-store", r.url(), "-memcached-addr", "127.0.0.1:0")
	mc := dialMemcached(t, memcachedAddrOf(t, logs))
	base := "http://" + addr + "/v1/ns/" + cache.DefaultNamespace + "/keys/"
	assert.Equal(t, "STORED", mc.line("set k 3 0 2\r\nab\r\n"))
	assert.Equal(t, "STORED", mc.line("append k 0 0 2\r\ncd\r\n"))
	resp, b := httpDo(t, http.MethodGet, base+"k", "", "", "Accept", "application/octet-stream")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "abcd", string(b))
	assert.Equal(t, "3", resp.Header.Get("Memcache-Flags"))
	assert.Equal(t, "VA 0 W", mc.line("mg lease v N30\r\n"))
	assert.Equal(t, "", mc.line(""))
	assert.Equal(t, "HD Z", mc.line("mg lease N30\r\n"))
	assert.Equal(t, "TOUCHED", mc.line("touch k 100\r\n"))
	assert.Equal(t, "HD", mc.line("md k I\r\n"))
	assert.Equal(t, "HD X W", mc.line("mg k\r\n"))
}
