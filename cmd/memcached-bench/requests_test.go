package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedKeys returns the given key indexes in turn, round and round.
type fixedKeys struct {
	seq []uint64
	i   int
}

func (f *fixedKeys) next() uint64 {
	v := f.seq[f.i%len(f.seq)]
	f.i++
	return v
}

// parse reads back a built request with net/http's own parser, so the test
// checks the wire bytes, not the builder's idea of them.
func parse(t *testing.T, raw []byte) (*http.Request, string) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	require.NoError(t, err, "request %q", raw)
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	return req, string(body)
}

func TestMemcachedRequestsFollowTheAPI(t *testing.T) {
	value := valueBytes(10)
	tests := []struct {
		name               string
		raw                bool
		op                 op
		method, uri, ctype string
		accept             string
		body               string
	}{
		{"a JSON get", false, opGet, "GET", "/v1/ns/bench/keys/k7", "", "", ""},
		{"a raw get asks for octet-stream", true, opGet, "GET", "/v1/ns/bench/keys/k7", "", "application/octet-stream", ""},
		{"a JSON set stores a string value", false, opSet, "PUT", "/v1/ns/bench/keys/k7", "application/json", "", `{"value":"` + string(value) + `"}`},
		{"a raw set sends the bytes", true, opSet, "PUT", "/v1/ns/bench/keys/k7", "application/octet-stream", "", string(value)},
		{"incr uses its own counter keys and an initial value", false, opIncr, "POST", "/v1/ns/bench/keys/n7:incr", "application/json", "", `{"delta":1,"initial_value":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newBuilder(targetMemcached, "127.0.0.1:8080", "bench", 10, 3, tt.raw)
			require.NoError(t, err)
			req, body := parse(t, b.build(nil, tt.op, &fixedKeys{seq: []uint64{7}}))
			assert.Equal(t, tt.method, req.Method)
			assert.Equal(t, tt.uri, req.RequestURI)
			assert.Equal(t, "127.0.0.1:8080", req.Host)
			assert.Equal(t, tt.ctype, req.Header.Get("Content-Type"))
			assert.Equal(t, tt.accept, req.Header.Get("Accept"))
			assert.Equal(t, tt.body, body)
			assert.False(t, req.Close, "requests must keep the connection alive")
		})
	}
}

func TestMemcachedBatchGetListsBatchKeys(t *testing.T) {
	b, err := newBuilder(targetMemcached, "127.0.0.1:8080", "bench", 10, 3, false)
	require.NoError(t, err)
	keys := &fixedKeys{seq: []uint64{1, 22, 333, 4}}
	buf := b.build(nil, opBatchGet, keys)
	req, body := parse(t, buf)
	assert.Equal(t, "POST", req.Method)
	assert.Equal(t, "/v1/ns/bench/keys:batchGet", req.RequestURI)
	var got struct{ Keys []string }
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, []string{"k1", "k22", "k333"}, got.Keys)

	// Reusing the buffers must not leak the previous batch into the next.
	_, body = parse(t, b.build(buf[:0], opBatchGet, keys))
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, []string{"k4", "k1", "k22"}, got.Keys)
}

func TestWebdisRequestsUseItsURLForm(t *testing.T) {
	value := valueBytes(10)
	tests := []struct {
		name        string
		raw         bool
		op          op
		method, uri string
		body        string
	}{
		{"get", false, opGet, "GET", "/GET/k5", ""},
		{"a raw get asks for the bare value", true, opGet, "GET", "/GET/k5.txt", ""},
		{"set sends the value as the body", false, opSet, "PUT", "/SET/k5", string(value)},
		{"incr", false, opIncr, "GET", "/INCR/n5", ""},
		{"batch get is MGET", false, opBatchGet, "GET", "/MGET/k5/k6", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newBuilder(targetWebdis, "127.0.0.1:7379", "ignored", 10, 2, tt.raw)
			require.NoError(t, err)
			req, body := parse(t, b.build(nil, tt.op, &fixedKeys{seq: []uint64{5, 6}}))
			assert.Equal(t, tt.method, req.Method)
			assert.Equal(t, tt.uri, req.RequestURI)
			assert.Equal(t, tt.body, body)
		})
	}
}

func TestFixedTargetAlwaysGetsTheRoot(t *testing.T) {
	b, err := newBuilder(targetFixed, "127.0.0.1:9", "", 10, 1, false)
	require.NoError(t, err)
	req, _ := parse(t, b.build(nil, opGet, &fixedKeys{seq: []uint64{3}}))
	assert.Equal(t, "GET", req.Method)
	assert.Equal(t, "/", req.RequestURI)
}

func TestUnknownTargetIsRefused(t *testing.T) {
	_, err := newBuilder("memcache", "127.0.0.1:9", "", 10, 1, false)
	assert.ErrorContains(t, err, `unknown target "memcache"`)
}

func TestBuildingARequestDoesNotAllocate(t *testing.T) {
	b, err := newBuilder(targetMemcached, "127.0.0.1:8080", "bench", 100, 100, false)
	require.NoError(t, err)
	keys := &fixedKeys{seq: []uint64{1, 2, 3}}
	buf := b.build(nil, opBatchGet, keys) // grows the buffers once
	for _, o := range []op{opGet, opSet, opIncr, opBatchGet} {
		allocs := testing.AllocsPerRun(100, func() { buf = b.build(buf[:0], o, keys) })
		assert.Zero(t, allocs, "%s", o)
	}
}

func TestValueBytesArePrintable(t *testing.T) {
	v := valueBytes(100)
	assert.Len(t, v, 100)
	assert.Equal(t, -1, strings.IndexFunc(string(v), func(r rune) bool { return r < '0' || r > 'z' }))
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		name, spec string
		ops        []op
		cumulative []int
		str        string
	}{
		{"a single operation", "get", []op{opGet}, []int{1}, "get:1"},
		{"weights accumulate", "get:90,set:10", []op{opGet, opSet}, []int{90, 100}, "get:90,set:10"},
		{"names ignore case and spaces", " BatchGet:2 , incr", []op{opBatchGet, opIncr}, []int{2, 3}, "batchget:2,incr:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseMix(tt.spec)
			require.NoError(t, err)
			assert.Equal(t, tt.ops, m.ops)
			assert.Equal(t, tt.cumulative, m.cumulative)
			assert.Equal(t, tt.str, m.String())
		})
	}
	for _, bad := range []string{"", "delete", "get:0", "get:-1", "get:x"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := parseMix(bad)
			assert.Error(t, err)
		})
	}
}

func TestMixPicksByWeight(t *testing.T) {
	m, err := parseMix("get:3,set:1")
	require.NoError(t, err)
	r := newTestRand()
	counts := map[op]int{}
	for range 40_000 {
		counts[m.pick(r)]++
	}
	assert.InDelta(t, 30_000, counts[opGet], 600)
	assert.InDelta(t, 10_000, counts[opSet], 600)
}
