package handlers_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/auth"
	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

const (
	readerToken   = "reader-token-000001"
	writerToken   = "writer-token-000002"
	outsiderToken = "outsider-token-0003"
	adminToken    = "admin-token-0000004"
)

// testTokens: a reader of team-a, a writer of team-*, an admin of another
// namespace only, and an admin of everything.
const testTokens = readerToken + " read team-a\n" +
	writerToken + " write team-*\n" +
	outsiderToken + " admin other\n" +
	adminToken + " admin *\n"

func withTokens(t *testing.T, lines string) option {
	t.Helper()
	var tokens auth.Tokens
	require.NoError(t, tokens.Parse("test", strings.NewReader(lines)))
	return func(_ *cache.Options, c *handlers.Config) { c.Tokens = &tokens }
}

func withMetricsPublic() option {
	return func(_ *cache.Options, c *handlers.Config) { c.MetricsPublic = true }
}

// lockedBuffer collects log output written from the handler goroutines.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func withLogs(logs *lockedBuffer) option {
	return func(_ *cache.Options, c *handlers.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func bearer(token string) map[string]string {
	if token == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + token}
}

// protectedRoute is one operation that needs a token, addressed in team-a.
type protectedRoute struct {
	op     string
	method string
	path   string
	body   any
	admin  bool // a whole-cache operation
	write  bool
}

var protectedRoutes = []protectedRoute{
	{op: "get", method: http.MethodGet, path: "/v1/ns/team-a/keys/k"},
	{op: "set", method: http.MethodPut, path: "/v1/ns/team-a/keys/k", body: `{"value": 2}`, write: true},
	{op: "delete", method: http.MethodDelete, path: "/v1/ns/team-a/keys/k", write: true},
	{op: "incr", method: http.MethodPost, path: "/v1/ns/team-a/keys/k:incr", write: true},
	{op: "decr", method: http.MethodPost, path: "/v1/ns/team-a/keys/k:decr", write: true},
	{op: "getMulti", method: http.MethodPost, path: "/v1/ns/team-a/keys:batchGet", body: `{"keys": ["k"]}`},
	{op: "setMulti", method: http.MethodPost, path: "/v1/ns/team-a/keys:batchSet", body: `{"items": [{"key": "k", "value": 3}]}`, write: true},
	{op: "deleteMulti", method: http.MethodPost, path: "/v1/ns/team-a/keys:batchDelete", body: `{"keys": ["k"]}`, write: true},
	{op: "offsetMulti", method: http.MethodPost, path: "/v1/ns/team-a/keys:batchOffset", body: `{"offsets": {"k": 1}}`, write: true},
	{op: "flushAll", method: http.MethodPost, path: "/v1/flush", admin: true},
	{op: "getStats", method: http.MethodGet, path: "/v1/stats", admin: true},
	{op: "getMetrics", method: http.MethodGet, path: "/metrics", admin: true},
}

func TestAuthOnEveryRoute(t *testing.T) {
	type tokenCase struct {
		name       string
		token      string
		wantStatus func(r protectedRoute) int
		wantCode   string
	}
	denied := func(status int) func(protectedRoute) int { return func(protectedRoute) int { return status } }
	cases := []tokenCase{
		{"no token is unauthenticated", "", denied(http.StatusUnauthorized), "unauthenticated"},
		{"a wrong token is unauthenticated", "reader-token-000009", denied(http.StatusUnauthorized), "unauthenticated"},
		{"an admin of another namespace is denied", outsiderToken, denied(http.StatusForbidden), "permission_denied"},
		{"a read token is denied writes and admin", readerToken, func(r protectedRoute) int {
			if r.write || r.admin {
				return http.StatusForbidden
			}
			return http.StatusOK
		}, ""},
		{"a write token is denied admin operations", writerToken, func(r protectedRoute) int {
			if r.admin {
				return http.StatusForbidden
			}
			return http.StatusOK
		}, ""},
		{"an admin of every namespace may do everything", adminToken, denied(http.StatusOK), ""},
	}
	for _, route := range protectedRoutes {
		for _, tc := range cases {
			t.Run(route.op+": "+tc.name, func(t *testing.T) {
				e := newEnv(t, withTokens(t, testTokens))
				seed := e.do(request{method: http.MethodPut, path: "/v1/ns/team-a/keys/k", body: `{"value": 1}`, header: bearer(adminToken)})
				require.Equal(t, http.StatusOK, seed.status, "body: %s", seed.body)

				res := e.do(request{method: route.method, path: route.path, body: route.body, header: bearer(tc.token)})
				want := tc.wantStatus(route)
				require.Equal(t, want, res.status, "body: %s", res.body)
				switch want {
				case http.StatusUnauthorized:
					assert.Equal(t, "unauthenticated", res.code(t))
					assert.True(t, strings.HasPrefix(res.header.Get("WWW-Authenticate"), `Bearer realm="memcached-http"`))
					if tc.token != "" {
						assert.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token"`)
					}
				case http.StatusForbidden:
					assert.Equal(t, "permission_denied", res.code(t))
					assert.NotContains(t, string(res.body), tc.token, "errors never echo the token")
				}
			})
		}
	}
}

func TestAuthLeavesServiceEndpointsPublic(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml", "/docs"} {
		res := e.do(request{method: http.MethodGet, path: path})
		assert.Equal(t, http.StatusOK, res.status, "%s: %s", path, res.body)
	}
	assert.Equal(t, http.StatusUnauthorized, e.do(request{method: http.MethodGet, path: "/metrics"}).status)

	public := newEnv(t, withTokens(t, testTokens), withMetricsPublic())
	assert.Equal(t, http.StatusOK, public.do(request{method: http.MethodGet, path: "/metrics"}).status,
		"-metrics-public serves metrics without a token")
	assert.Equal(t, http.StatusUnauthorized, public.do(request{method: http.MethodGet, path: "/v1/stats"}).status,
		"-metrics-public opens nothing else")
}

func TestWithoutTokensAuthIsOff(t *testing.T) {
	e := newEnv(t)
	for _, route := range protectedRoutes {
		res := e.do(request{method: route.method, path: route.path, body: route.body})
		assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.status, "%s: %s", route.op, res.body)
	}
}

func TestNamespacePatternsMatchTheDecodedNamespace(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	tests := []struct {
		name string
		path string
		want int
	}{
		{"a prefix pattern covers a namespace under it", "/v1/ns/team-zeta/keys/k", http.StatusOK},
		{"an encoded namespace is matched decoded", "/v1/ns/team%2Dzeta/keys/k", http.StatusOK},
		{"a namespace outside the prefix is denied", "/v1/ns/teams/keys/k", http.StatusForbidden},
		{"an encoded slash cannot smuggle a namespace in", "/v1/ns/other%2Fteam-a/keys/k", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(request{method: http.MethodPut, path: tt.path, body: `{"value": 1}`, header: bearer(writerToken)})
			assert.Equal(t, tt.want, res.status, "body: %s", res.body)
		})
	}
}

func TestTokensNeverReachTheLogs(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEnv(t, withTokens(t, testTokens), withLogs(logs))
	for _, token := range []string{readerToken, writerToken, outsiderToken, adminToken, "not-a-token-at-all-77"} {
		for _, route := range protectedRoutes {
			e.do(request{method: route.method, path: route.path, body: route.body, header: bearer(token)})
		}
	}
	out := logs.String()
	require.Contains(t, out, `"status":401`)
	require.Contains(t, out, `"status":403`)
	require.Contains(t, out, `"route":"setMulti"`)
	for _, secret := range []string{readerToken, writerToken, outsiderToken, adminToken, "not-a-token-at-all-77", "Bearer"} {
		assert.NotContains(t, out, secret)
	}
}

func TestCORSPreflightNeedsNoToken(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens), withCORSOrigins("https://app.example.com"))
	r := httptest.NewRequest(http.MethodOptions, "/v1/ns/team-a/keys/k", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", http.MethodPut)
	r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	res := e.raw(r)
	assert.Equal(t, http.StatusOK, res.Code, "body: %s", res.Body)
	assert.Equal(t, "https://app.example.com", res.Header().Get("Access-Control-Allow-Origin"))

	put := e.do(request{method: http.MethodPut, path: "/v1/ns/team-a/keys/k", body: `{"value": 1}`,
		header: map[string]string{"Origin": "https://app.example.com"}})
	assert.Equal(t, http.StatusUnauthorized, put.status, "the request itself still needs its token")
	assert.Equal(t, "https://app.example.com", put.header.Get("Access-Control-Allow-Origin"), "a browser may read the 401")
}

// BenchmarkGetWithAuth is BenchmarkGet with a token checked on every request.
func BenchmarkGetWithAuth(b *testing.B) {
	store, err := cache.NewMemory(cache.Options{})
	require.NoError(b, err)
	defer store.Close()
	var tokens auth.Tokens
	require.NoError(b, tokens.Parse("bench", strings.NewReader(testTokens)))
	h := handlers.NewRouter(store, handlers.Config{Tokens: &tokens})
	put := httptest.NewRequest(http.MethodPut, "/v1/ns/team-a/keys/user:42", strings.NewReader(`{"value": {"name": "Ada"}}`))
	put.Header.Set("Authorization", "Bearer "+writerToken)
	h.ServeHTTP(httptest.NewRecorder(), put)

	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/v1/ns/team-a/keys/user:42", nil)
		r.Header.Set("Authorization", "Bearer "+readerToken)
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
