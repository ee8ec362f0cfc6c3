package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// kin-openapi decodes no HTML by default; /docs is declared as a text/html
// string, so the contract check reads it as plain text.
func init() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

func withCORSOrigins(origins ...string) option {
	return func(_ *cache.Options, c *handlers.Config) { c.CORSOrigins = origins }
}

// raw sends r through the router without the contract check, for responses
// the contract does not describe (assets, preflights).
func (e *env) raw(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

func TestDocsPageIsSwaggerUIUnderAStrictCSP(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/docs", "/docs/"} {
		res := e.raw(httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, res.Code, path)
		assert.Equal(t, "text/html; charset=utf-8", res.Header().Get("Content-Type"), path)
		assert.Equal(t, handlers.DocsCSP, res.Header().Get("Content-Security-Policy"), path)
		assert.Contains(t, res.Body.String(), `<div id="swagger-ui">`, path)
	}
	res := e.do(request{method: http.MethodGet, path: "/docs"})
	require.Equal(t, http.StatusOK, res.status, "the contract describes /docs")

	csp := handlers.DocsCSP
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		assert.Contains(t, csp, directive)
	}
	assert.NotContains(t, csp, "unsafe-inline", "the page has no inline script or style")
	assert.NotContains(t, csp, "unsafe-eval")
	assert.NotContains(t, string(res.body), "<script>", "an inline script would be blocked by the CSP")
}

func TestDocsPageLoadsOnlyEmbeddedAssets(t *testing.T) {
	e := newEnv(t)
	page := e.raw(httptest.NewRequest(http.MethodGet, "/docs", nil)).Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	require.Len(t, refs, 6, "page: %s", page)

	wantType := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}
	for _, ref := range refs {
		path := ref[1]
		t.Run(path, func(t *testing.T) {
			require.True(t, strings.HasPrefix(path, "/docs/"), "%s is served by this server, not a CDN", path)
			res := e.raw(httptest.NewRequest(http.MethodGet, path, nil))
			require.Equal(t, http.StatusOK, res.Code)
			assert.NotZero(t, res.Body.Len())
			assert.Equal(t, wantType[path[strings.LastIndex(path, "."):]], res.Header().Get("Content-Type"))
			assert.Equal(t, "nosniff", res.Header().Get("X-Content-Type-Options"))
		})
	}
}

func TestDocsInitLoadsTheServedContract(t *testing.T) {
	res := newEnv(t).raw(httptest.NewRequest(http.MethodGet, "/docs/init.js", nil))
	require.Equal(t, http.StatusOK, res.Code)
	assert.Contains(t, res.Body.String(), `url: "/openapi.yaml"`)
	assert.Contains(t, res.Body.String(), "validatorUrl: null", "the public validator would be a request to another origin")
}

func TestDocsServesNothingElse(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{"a source map of the bundle", "/docs/swagger-ui-bundle.js.map"},
		{"the bundle's own index page", "/docs/index.html"},
		{"the petstore initializer", "/docs/swagger-initializer.js"},
		{"a path escaping the folder", "/docs/..%2Fgo.mod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t).do(request{method: http.MethodGet, path: tt.path})
			assert.Equal(t, http.StatusNotFound, res.status)
			assert.Equal(t, "not_found", res.code(t))
		})
	}
}

func TestContractServersLetSwaggerUICallTheServingHost(t *testing.T) {
	servers := contracttest.Spec(t).Servers
	require.NotEmpty(t, servers)
	assert.Equal(t, "/", servers[0].URL, "Try it out uses the first server; a relative one is the page's own origin")
}

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, "/v1/ns/default/keys/user:42", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestCORSPreflight(t *testing.T) {
	const app = "https://app.example.com"
	tests := []struct {
		name      string
		origins   []string
		req       *http.Request
		wantAllow string // Access-Control-Allow-Origin; "" means refused
	}{
		{"a conditional PUT from an allowed origin is allowed", []string{app},
			preflight(app, http.MethodPut, "content-type,if-match,authorization"), app},
		{"an add with If-None-Match is allowed", []string{app},
			preflight(app, http.MethodPut, "if-none-match"), app},
		{"a DELETE is allowed", []string{app}, preflight(app, http.MethodDelete, ""), app},
		{"an incr POST with a request id is allowed", []string{app},
			preflight(app, http.MethodPost, "content-type,x-request-id"), app},
		{"an origin matching a wildcard host is allowed", []string{"https://*.example.com"},
			preflight(app, http.MethodPut, "content-type"), app},
		{"every origin is allowed under *", []string{"*"},
			preflight("http://localhost:3000", http.MethodPut, "if-match"), "*"},
		{"an origin not listed is refused", []string{app},
			preflight("https://evil.example.net", http.MethodPut, "content-type"), ""},
		{"the same host on another scheme is refused", []string{app},
			preflight("http://app.example.com", http.MethodPut, "content-type"), ""},
		{"a header the API does not read is refused", []string{app},
			preflight(app, http.MethodPut, "x-custom"), ""},
		{"PATCH is refused", []string{app}, preflight(app, http.MethodPatch, ""), ""},
		{"no origin is allowed by default", nil, preflight(app, http.MethodPut, "content-type"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newEnv(t, withCORSOrigins(tt.origins...)).raw(tt.req)
			assert.Equal(t, tt.wantAllow, res.Header().Get("Access-Control-Allow-Origin"))
			if tt.wantAllow == "" {
				return
			}
			assert.Equal(t, http.StatusOK, res.Code, "answered by CORS, not routed to the key handler")
			assert.Empty(t, res.Body.String())
			assert.Equal(t, tt.req.Header.Get("Access-Control-Request-Method"), res.Header().Get("Access-Control-Allow-Methods"))
			assert.Equal(t, "600", res.Header().Get("Access-Control-Max-Age"))
			if h := tt.req.Header.Get("Access-Control-Request-Headers"); h != "" {
				assert.Equal(t, strings.ReplaceAll(h, ",", ", "), strings.ToLower(res.Header().Get("Access-Control-Allow-Headers")),
					"header names are case-insensitive")
			}
		})
	}
}

func TestCORSExposesETagAndFlagsToAllowedOrigins(t *testing.T) {
	const app = "http://127.0.0.1:5173"
	e := newEnv(t, withCORSOrigins(app))
	cas := e.put("k", "v")

	get := func(origin string) response {
		header := map[string]string{}
		if origin != "" {
			header["Origin"] = origin
		}
		return e.do(request{method: http.MethodGet, path: keyPath("k"), header: header})
	}
	res := get(app)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, app, res.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "Etag, X-Request-Id, Memcache-Flags, Retry-After, X-Ratelimit-Limit, X-Ratelimit-Remaining, X-Ratelimit-Reset",
		res.header.Get("Access-Control-Expose-Headers"), "scripts can read the rate limiter's budget to pace themselves")
	assert.Equal(t, `"`+cas+`"`, res.header.Get("ETag"))
	assert.Contains(t, res.header.Values("Vary"), "Origin", "caches must not share an answer across origins")

	res = get("https://evil.example.net")
	require.Equal(t, http.StatusOK, res.status, "the server answers; the browser withholds it from the script")
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, res.header.Get("Access-Control-Expose-Headers"))

	res = get("")
	assert.Empty(t, res.header.Get("Access-Control-Allow-Origin"), "same-origin and non-browser requests need no CORS headers")

	miss := e.do(request{method: http.MethodGet, path: keyPath("missing"), header: map[string]string{"Origin": app}})
	require.Equal(t, http.StatusNotFound, miss.status)
	assert.Equal(t, app, miss.header.Get("Access-Control-Allow-Origin"), "scripts can read error bodies too")
}

func TestParseCORSOrigins(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		want    []string
		wantErr string
	}{
		{name: "an empty list allows none", list: "", want: nil},
		{name: "blanks and empty entries are dropped", list: " https://a.example , ,http://localhost:8080 ",
			want: []string{"https://a.example", "http://localhost:8080"}},
		{name: "a lone star allows every origin", list: "*", want: []string{"*"}},
		{name: "a star may stand for part of the host", list: "https://*.example.com", want: []string{"https://*.example.com"}},
		{name: "a trailing slash is refused", list: "https://a.example/", wantErr: "nothing more"},
		{name: "a path is refused", list: "https://a.example/app", wantErr: "nothing more"},
		{name: "a bare host is refused", list: "a.example", wantErr: "scheme"},
		{name: "another scheme is refused", list: "ftp://a.example", wantErr: "scheme"},
		{name: "user info is refused", list: "https://me@a.example", wantErr: "nothing more"},
		{name: "two stars are refused", list: "https://*.*.example", wantErr: "at most one"},
		{name: "a star in the port is refused", list: "https://a.example:*", wantErr: "https://a.example:*"},
		{name: "one bad entry fails the list", list: "https://a.example,a.example", wantErr: `"a.example"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := handlers.ParseCORSOrigins(tt.list)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
