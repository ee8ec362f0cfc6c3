package sdkcheck

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/sdk"
)

// Futures run on goroutines; none may outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one real service (the router cmd/memcached-http serves, over the
// embedded engine on a fake clock) and a Client talking to it over HTTP.
type env struct {
	t     *testing.T
	ctx   context.Context
	c     *sdk.Client
	url   string
	http  *http.Client
	clock *cachetest.Clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := cachetest.NewClock()
	store, err := cache.NewMemory(cache.Options{Clock: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	srv := httptest.NewServer(handlers.NewRouter(store, handlers.Config{}))
	t.Cleanup(srv.Close)
	e := &env{t: t, ctx: t.Context(), url: srv.URL, http: srv.Client(), clock: clock}
	e.c = e.client()
	return e
}

// client returns another Client on the same server, with its own CAS ids.
func (e *env) client(opts ...sdk.Option) *sdk.Client {
	e.t.Helper()
	c, err := sdk.New(e.url, append([]sdk.Option{sdk.WithHTTPClient(e.http)}, opts...)...)
	require.NoError(e.t, err)
	return c
}

// set stores value under key and fails the test if it was not stored.
func (e *env) set(key, value any, opts ...sdk.CallOption) {
	e.t.Helper()
	ok, err := e.c.Set(e.ctx, key, value, opts...)
	require.NoError(e.t, err)
	require.True(e.t, ok)
}

// get returns the value under key as the type it was stored as, or nil on a miss.
func (e *env) get(key any, opts ...sdk.CallOption) any {
	e.t.Helper()
	var v any
	found, err := e.c.Get(e.ctx, key, &v, opts...)
	if !found {
		require.ErrorIs(e.t, err, sdk.ErrCacheMiss)
		return nil
	}
	require.NoError(e.t, err)
	return v
}

// stub serves handler and returns a Client for it, for answers the real
// server never gives (5xx, unreadable bodies) and for inspecting requests.
func stub(t *testing.T, handler http.HandlerFunc, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := sdk.New(srv.URL, append([]sdk.Option{sdk.WithHTTPClient(srv.Client())}, opts...)...)
	require.NoError(t, err)
	return c
}

// putRaw stores a JSON store request body under key through the HTTP API,
// as another client would.
func putRaw(t *testing.T, e *env, key, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPut,
		e.url+"/v1/ns/~/keys/"+url.PathEscape(key), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "PUT %q %s", key, body)
}

// getRaw returns the item under key as the HTTP API shows it.
func getRaw(t *testing.T, e *env, ns, key string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet,
		e.url+"/v1/ns/"+ns+"/keys/"+url.PathEscape(key), nil)
	require.NoError(t, err)
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %q", key)
	var item map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&item))
	return item
}

func ptr[T any](v T) *T { return &v }
