package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// env is one service under test: the real router over the real engine.
type env struct {
	t     *testing.T
	h     http.Handler
	clock *cachetest.Clock
}

type option func(*cache.Options, *handlers.Config)

func withMaxValueSize(n int) option {
	return func(o *cache.Options, c *handlers.Config) { o.MaxValueSize, c.MaxValueSize = n, n }
}

func withMaxBatchKeys(n int) option {
	return func(_ *cache.Options, c *handlers.Config) { c.MaxBatchKeys = n }
}

func withMaxBodyBytes(n int64) option {
	return func(_ *cache.Options, c *handlers.Config) { c.MaxBodyBytes = n }
}

func withMaxResponseBytes(n int64) option {
	return func(_ *cache.Options, c *handlers.Config) { c.MaxResponseBytes = n }
}

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	clk := cachetest.NewClock()
	copts := cache.Options{Clock: clk.Now}
	var cfg handlers.Config
	for _, o := range opts {
		o(&copts, &cfg)
	}
	store, err := cache.NewMemory(copts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	return &env{t: t, h: handlers.NewRouter(store, cfg), clock: clk}
}

// response is what a test sees of one exchange, already checked against the contract.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "body: %s", r.body)
	return v
}

// code is the error code of an error body, or "" for a success body.
func (r response) code(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// request describes one call; path is sent as written (already escaped).
type request struct {
	method string
	path   string
	body   any // nil, []byte (sent as is) or a value sent as JSON
	header map[string]string
}

// do sends req through the router and checks the response against
// api/openapi.yaml; every test goes through here so the contract cannot drift.
func (e *env) do(req request) response {
	e.t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		body = bytes.NewReader(data)
	}
	r := httptest.NewRequest(req.method, req.path, body)
	if body != nil && req.header["Content-Type"] == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
			continue
		}
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	contracttest.Check(e.t, r, res.status, res.header, res.body)
	return res
}

// keyPath is the path of key in the empty namespace (~), percent-encoded.
func keyPath(key string) string {
	return "/v1/ns/~/keys/" + url.PathEscape(key)
}

// put stores a JSON value with mode set and returns its CAS token.
func (e *env) put(key string, value any) string {
	e.t.Helper()
	res := e.do(request{method: http.MethodPut, path: keyPath(key), body: map[string]any{"value": value}})
	require.Equal(e.t, http.StatusOK, res.status, "body: %s", res.body)
	return res.json(e.t)["cas"].(string)
}
