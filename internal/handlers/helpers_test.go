package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/api"
	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// clock is a settable time source for cache.NewMemory, so expiry is tested
// without sleeping.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one service under test: the real router over the real engine.
type env struct {
	t     *testing.T
	h     http.Handler
	clock *clock
}

type option func(*cache.Options, *handlers.Config)

func withMaxValueSize(n int) option {
	return func(o *cache.Options, _ *handlers.Config) { o.MaxValueSize = n }
}

func withMaxBatchKeys(n int) option {
	return func(_ *cache.Options, c *handlers.Config) { c.MaxBatchKeys = n }
}

func withMaxBodyBytes(n int64) option {
	return func(_ *cache.Options, c *handlers.Config) { c.MaxBodyBytes = n }
}

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	clk := &clock{now: time.Unix(1_700_000_000, 250_000_000)}
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

// do sends req through the router and validates the response against
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
	validateResponse(e.t, r, res)
	return res
}

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		spec, specErr = openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if specErr == nil {
			specErr = spec.Validate(context.Background())
		}
	})
	require.NoError(t, specErr)
	return spec
}

// route finds the operation a request addresses the way the server does: the
// key is the rest of the path, and a final :incr/:decr on POST picks the method.
func route(doc *openapi3.T, method, escaped string) (*routers.Route, map[string]string) {
	if rest, ok := strings.CutPrefix(escaped, "/v1/ns/"); ok {
		if ns, tail, ok := strings.Cut(rest, "/"); ok {
			if key, ok := strings.CutPrefix(tail, "keys/"); ok {
				path := "/v1/ns/{namespace}/keys/{key}"
				if method == http.MethodPost {
					for _, verb := range []string{":incr", ":decr"} {
						if k, ok := strings.CutSuffix(key, verb); ok {
							path, key = path+verb, k
							break
						}
					}
				}
				return operation(doc, method, path), map[string]string{"namespace": ns, "key": key}
			}
		}
	}
	for path := range doc.Paths.Map() {
		pattern := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$"
		if regexp.MustCompile(pattern).MatchString(escaped) && !strings.Contains(path, "{key}") {
			return operation(doc, method, path), nil
		}
	}
	return nil, nil
}

func operation(doc *openapi3.T, method, path string) *routers.Route {
	item := doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return nil
	}
	return &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}
}

func validateResponse(t *testing.T, r *http.Request, res response) {
	t.Helper()
	doc := loadSpec(t)
	rt, params := route(doc, r.Method, r.URL.EscapedPath())
	if rt == nil {
		// No operation: only the router's own 404 and 405 may answer, in the one error shape.
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, res.status)
		var v any
		require.NoError(t, json.Unmarshal(res.body, &v))
		assert.NoError(t, doc.Components.Schemas["Error"].Value.VisitJSON(v), "body: %s", res.body)
		return
	}
	if res.status == http.StatusNotModified {
		assert.Empty(t, res.body, "304 carries no body")
		assert.NotEmpty(t, res.header.Get("ETag"))
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: rt},
		Status:                 res.status,
		Header:                 res.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(res.body)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input),
		"%s %s → %d %s", r.Method, r.URL.EscapedPath(), res.status, res.body)
	assert.NotEqual(t, http.StatusInternalServerError, res.status, "body: %s", res.body)
}

// keyPath is the path of key in the default namespace, percent-encoded.
func keyPath(key string) string {
	return "/v1/ns/default/keys/" + url.PathEscape(key)
}

// put stores a JSON value with mode set and returns its CAS token.
func (e *env) put(key string, value any) string {
	e.t.Helper()
	res := e.do(request{method: http.MethodPut, path: keyPath(key), body: map[string]any{"value": value}})
	require.Equal(e.t, http.StatusOK, res.status, "body: %s", res.body)
	return res.json(e.t)["cas"].(string)
}
