package handlers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers"
)

// listAll follows GET /v1/ns/{ns}/keys to its end and returns the keys with
// their listed entries.
func (e *env) listAll(ns, prefix string, limit int, header map[string]string) (map[string]map[string]any, int) {
	e.t.Helper()
	got := map[string]map[string]any{}
	cursor, pages := "", 0
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		res := e.do(request{method: http.MethodGet, path: "/v1/ns/" + ns + "/keys?" + q.Encode(), header: header})
		require.Equal(e.t, http.StatusOK, res.status, "body: %s", res.body)
		body := res.json(e.t)
		keys := body["keys"].([]any)
		require.LessOrEqual(e.t, len(keys), limit)
		for _, k := range keys {
			entry := k.(map[string]any)
			name := entry["key"].(string)
			require.NotContains(e.t, got, name, "listed twice")
			got[name] = entry
		}
		pages++
		next, ok := body["next_cursor"].(string)
		if !ok {
			return got, pages
		}
		cursor = next
	}
}

func TestListKeysPagesThroughANamespace(t *testing.T) {
	e := newEnv(t)
	for i := range 25 {
		e.put(fmt.Sprintf("user:%02d", i), map[string]any{"n": i})
	}
	e.put("other", 1)
	res := e.do(request{method: http.MethodPut, path: keyPath("blob") + "?flags=7", body: []byte("\x00\x01"),
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	res = e.do(request{method: http.MethodPut, path: keyPath("ttl"), body: map[string]any{"value": "x", "time": 60}})
	require.Equal(t, http.StatusOK, res.status)

	got, pages := e.listAll("~", "user:", 10, nil)
	assert.Len(t, got, 25)
	assert.GreaterOrEqual(t, pages, 3, "25 keys at 10 a page take at least three pages")
	cas := e.do(request{method: http.MethodGet, path: keyPath("user:07")}).json(t)["cas"]
	assert.Equal(t, map[string]any{"key": "user:07", "size": float64(len(`{"n":7}`)), "kind": "json", "flags": float64(0), "cas": cas, "expires": nil}, got["user:07"])

	all, _ := e.listAll("~", "", 1000, nil)
	assert.Len(t, all, 28)
	assert.Equal(t, "bytes", all["blob"]["kind"])
	assert.Equal(t, float64(7), all["blob"]["flags"])
	assert.Equal(t, float64(2), all["blob"]["size"])
	assert.Equal(t, float64(cachetestStart+61), all["ttl"]["expires"], "60 s from a fractional start")

	res = e.do(request{method: http.MethodGet, path: "/v1/ns/~/keys"})
	require.Equal(t, http.StatusOK, res.status)
	assert.Len(t, res.json(t)["keys"], 28, "the default page (100) holds them all")
	assert.NotContains(t, res.json(t), "next_cursor")
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
}

// cachetestStart is cachetest.Start's whole second.
const cachetestStart = 1_700_000_000

func TestListKeysRefusesBadInputNamingTheField(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ path, field string }{
		{"/v1/ns/~/keys?limit=0", "limit"},
		{"/v1/ns/~/keys?limit=1001", "limit"},
		{"/v1/ns/~/keys?limit=ten", "limit"},
		{"/v1/ns/~/keys?prefix=" + strings.Repeat("p", 251), "prefix"},
		{"/v1/ns/~/keys?cursor=nonsense", "cursor"},
		{"/v1/ns/bad%20ns/keys", "namespace"},
	} {
		res := e.do(request{method: http.MethodGet, path: c.path})
		assert.Equal(t, http.StatusBadRequest, res.status, "%s: %s", c.path, res.body)
		detail, _ := res.json(t)["error"].(map[string]any)
		assert.Equal(t, c.field, detail["field"], "%s: %s", c.path, res.body)
	}
	res := e.do(request{method: http.MethodPost, path: "/v1/ns/~/keys"})
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
	assert.Equal(t, "GET, HEAD", res.header.Get("Allow"))
}

func TestListingsAreAdminOnly(t *testing.T) {
	e := newEnv(t, withTokens(t, testTokens))
	auth := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/v1/ns/team-a/keys", "", http.StatusUnauthorized},
		{"/v1/ns/team-a/keys", readerToken, http.StatusForbidden},
		{"/v1/ns/team-a/keys", writerToken, http.StatusForbidden},
		{"/v1/ns/team-a/keys", outsiderToken, http.StatusForbidden},
		{"/v1/ns/other/keys", outsiderToken, http.StatusOK},
		{"/v1/ns/team-a/keys", adminToken, http.StatusOK},
		{"/v1/namespaces", "", http.StatusUnauthorized},
		{"/v1/namespaces", writerToken, http.StatusForbidden},
		{"/v1/namespaces", outsiderToken, http.StatusForbidden},
		{"/v1/namespaces", adminToken, http.StatusOK},
		{"/ui", "", http.StatusOK},
	} {
		var h map[string]string
		if c.token != "" {
			h = auth(c.token)
		}
		res := e.do(request{method: http.MethodGet, path: c.path, header: h})
		assert.Equal(t, c.want, res.status, "%s with %q: %s", c.path, c.token, res.body)
	}
}

func TestListNamespaces(t *testing.T) {
	e := newEnv(t)
	e.put("a", 1)
	for _, ns := range []string{"team-b", "team-b", "default"} {
		res := e.do(request{method: http.MethodPut, path: "/v1/ns/" + ns + "/keys/k" + fmt.Sprint(len(ns)) + ns, body: map[string]any{"value": 1}})
		require.Equal(t, http.StatusOK, res.status)
	}
	res := e.do(request{method: http.MethodGet, path: "/v1/namespaces"})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.JSONEq(t, `{"namespaces":[{"namespace":"~","items":1},{"namespace":"default","items":1},{"namespace":"team-b","items":1}],"truncated":false}`, string(res.body))
}

func TestDashboardIsServedFromTheBinary(t *testing.T) {
	e := newEnv(t)
	// /ui is the contract's; /ui/ and the assets are outside it, as /docs/'s are.
	get := func(path string) response {
		if path == "/ui" {
			return e.do(request{method: http.MethodGet, path: path})
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	}
	for _, path := range []string{"/ui", "/ui/"} {
		res := get(path)
		require.Equal(t, http.StatusOK, res.status, path)
		assert.Equal(t, handlers.UICSP, res.header.Get("Content-Security-Policy"))
		assert.Contains(t, res.header.Get("Content-Type"), "text/html")
		assert.Contains(t, string(res.body), `src="/ui/app.js"`)
		assert.NotContains(t, string(res.body), "http://", "nothing from other origins")
		assert.NotContains(t, string(res.body), "https://")
	}
	for _, asset := range []string{"app.js", "app.css", "uPlot.iife.min.js", "uPlot.min.css"} {
		res := get("/ui/" + asset)
		assert.Equal(t, http.StatusOK, res.status, asset)
		assert.Equal(t, handlers.UICSP, res.header.Get("Content-Security-Policy"))
		assert.NotEmpty(t, res.body, asset)
	}
	for _, path := range []string{"/ui/nope.js", "/ui/a/b", "/ui/..%2Fgo.mod"} {
		res := e.do(request{method: http.MethodGet, path: path})
		assert.Equal(t, http.StatusNotFound, res.status, path)
	}
	assert.NotContains(t, handlers.UICSP, "unsafe")
}
