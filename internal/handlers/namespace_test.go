package handlers_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// App Engine's empty namespace is `~` on the wire, and `default` is an
// ordinary namespace apart from it. Each test writes in one and checks the
// other, both ways round.
var emptyAndDefault = [2]string{"~", "default"}

func nsPath(ns, rest string) string { return "/v1/ns/" + ns + "/keys" + rest }

func TestEmptyAndDefaultNamespacesAreApart(t *testing.T) {
	for i, ns := range emptyAndDefault {
		other := emptyAndDefault[1-i]
		t.Run("single get and set in "+ns, func(t *testing.T) {
			e := newEnv(t)
			require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath(ns, "/k"), body: `{"value": "here"}`}).status)
			assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: nsPath(other, "/k")}).status)
			require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath(other, "/k"), body: `{"value": "there"}`}).status)
			assert.Equal(t, "here", e.do(request{method: http.MethodGet, path: nsPath(ns, "/k")}).json(t)["value"])
		})
		t.Run("batch in "+ns, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: http.MethodPost, path: nsPath(ns, ":batchSet"), body: `{"items": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]}`})
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			res = e.do(request{method: http.MethodPost, path: nsPath(other, ":batchGet"), body: `{"keys": ["a", "b"]}`})
			require.Equal(t, http.StatusOK, res.status)
			assert.Empty(t, res.json(t)["items"])
			res = e.do(request{method: http.MethodPost, path: nsPath(other, ":batchDelete"), body: `{"keys": ["a"]}`})
			require.Equal(t, http.StatusOK, res.status)
			res = e.do(request{method: http.MethodPost, path: nsPath(ns, ":batchGet"), body: `{"keys": ["a", "b"]}`})
			assert.Len(t, res.json(t)["items"], 2, "a batch delete in %s leaves %s alone", other, ns)
			res = e.do(request{method: http.MethodPost, path: nsPath(other, ":batchOffset"), body: `{"offsets": {"a": 5}}`})
			assert.Equal(t, map[string]any{"a": nil}, res.json(t)["values"], "a batch offset in %s does not find %s's counter", other, ns)
		})
		t.Run("incr in "+ns, func(t *testing.T) {
			e := newEnv(t)
			incr := func(ns string) any {
				res := e.do(request{method: http.MethodPost, path: nsPath(ns, "/hits:incr"), body: `{"initial_value": 0}`})
				require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
				return res.json(t)["value"]
			}
			assert.Equal(t, 1.0, incr(ns))
			assert.Equal(t, 1.0, incr(other), "a counter of its own")
			assert.Equal(t, 2.0, incr(ns))
		})
		t.Run("delete with a lock in "+ns, func(t *testing.T) {
			e := newEnv(t)
			for _, n := range emptyAndDefault {
				require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath(n, "/k"), body: `{"value": 1}`}).status)
			}
			require.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: nsPath(ns, "/k?seconds=60")}).status)
			assert.Equal(t, http.StatusConflict, e.do(request{method: http.MethodPut, path: nsPath(ns, "/k?mode=add"), body: `{"value": 2}`}).status,
				"the lock holds in %s", ns)
			assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: nsPath(other, "/k")}).status, "%s keeps its item", other)
			require.Equal(t, http.StatusOK, e.do(request{method: http.MethodDelete, path: nsPath(other, "/k")}).status)
			assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath(other, "/k?mode=add"), body: `{"value": 2}`}).status,
				"%s's lock does not reach %s", ns, other)
		})
		t.Run("cas in "+ns, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(request{method: http.MethodPut, path: nsPath(ns, "/k"), body: `{"value": 1}`})
			require.Equal(t, http.StatusOK, res.status)
			cas := res.json(t)["cas"].(string)
			require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath(other, "/k"), body: `{"value": 2}`}).status)
			res = e.do(request{method: http.MethodPut, path: nsPath(other, "/k?mode=cas"), body: `{"value": 3, "cas": "` + cas + `"}`})
			assert.Equal(t, http.StatusPreconditionFailed, res.status, "%s's token is not %s's", ns, other)
			res = e.do(request{method: http.MethodPut, path: nsPath(ns, "/k?mode=cas"), body: `{"value": 4, "cas": "` + cas + `"}`})
			assert.Equal(t, http.StatusOK, res.status, "writing %s left %s's token current", other, ns)
			assert.Equal(t, 2.0, e.do(request{method: http.MethodGet, path: nsPath(other, "/k")}).json(t)["value"])
		})
	}
}

func TestFlushAndStatsCoverEmptyAndDefaultNamespaces(t *testing.T) {
	e := newEnv(t)
	for _, ns := range emptyAndDefault {
		require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath(ns, "/k"), body: `{"value": 1}`}).status)
		require.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: nsPath(ns, "/k")}).status)
	}
	s := stats(t, e)
	assert.Equal(t, 2.0, s["items"], "one item in each namespace")
	assert.Equal(t, 2.0, s["hits"], "one hit in each namespace")

	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPost, path: "/v1/flush"}).status)
	for _, ns := range emptyAndDefault {
		assert.Equal(t, http.StatusNotFound, e.do(request{method: http.MethodGet, path: nsPath(ns, "/k")}).status, "flushed in %s", ns)
	}
	assert.Equal(t, 0.0, stats(t, e)["items"])
}

func TestEmptyNamespaceSpellings(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.do(request{method: http.MethodPut, path: nsPath("~", "/k"), body: `{"value": 1}`}).status)
	assert.Equal(t, http.StatusOK, e.do(request{method: http.MethodGet, path: nsPath("%7E", "/k")}).status, "an encoded ~ is still ~")
	for _, bad := range []string{"~~", "~a", "a~", "bad%21", "%20"} {
		t.Run(bad, func(t *testing.T) {
			res := e.do(request{method: http.MethodGet, path: nsPath(bad, "/k")})
			require.Equal(t, http.StatusBadRequest, res.status)
			errBody := res.json(t)["error"].(map[string]any)
			assert.Equal(t, "namespace", errBody["field"])
			assert.Contains(t, errBody["message"], "[0-9A-Za-z._-]{0,100}", "the message names the grammar")
			assert.Contains(t, errBody["message"], "~ is the empty namespace", "the message names ~")
		})
	}
}

func TestTokensScopedToEmptyOrDefaultNamespace(t *testing.T) {
	const emptyToken, defaultToken = "empty-ns-token-00001", "default-ns-token-0002"
	e := newEnv(t, withTokens(t, emptyToken+" read ~\n"+defaultToken+" read default\n"+adminToken+" admin *\n"))
	for _, ns := range append(emptyAndDefault[:], "team-a") {
		res := e.do(request{method: http.MethodPut, path: nsPath(ns, "/k"), body: `{"value": "in ` + ns + `"}`, header: bearer(adminToken)})
		require.Equal(t, http.StatusOK, res.status, "* covers %s: %s", ns, res.body)
	}
	tests := []struct {
		token, ns string
		want      int
	}{
		{emptyToken, "~", http.StatusOK},
		{emptyToken, "%7E", http.StatusOK},
		{emptyToken, "default", http.StatusForbidden},
		{emptyToken, "team-a", http.StatusForbidden},
		{defaultToken, "default", http.StatusOK},
		{defaultToken, "~", http.StatusForbidden},
		{defaultToken, "team-a", http.StatusForbidden},
		{adminToken, "~", http.StatusOK},
	}
	for _, tt := range tests {
		res := e.do(request{method: http.MethodGet, path: nsPath(tt.ns, "/k"), header: bearer(tt.token)})
		assert.Equal(t, tt.want, res.status, "%s reading %s: %s", tt.token, tt.ns, res.body)
		if tt.want == http.StatusOK {
			want := "in " + tt.ns
			if tt.ns == "%7E" {
				want = "in ~"
			}
			assert.Equal(t, want, res.json(t)["value"])
		}
	}
	res := e.do(request{method: http.MethodPost, path: nsPath("~", ":batchGet"), body: `{"keys": ["k"]}`, header: bearer(emptyToken)})
	assert.Equal(t, http.StatusOK, res.status, "batchGet in ~ with the ~ token")
	res = e.do(request{method: http.MethodPost, path: nsPath("default", ":batchGet"), body: `{"keys": ["k"]}`, header: bearer(emptyToken)})
	assert.Equal(t, http.StatusForbidden, res.status, "batchGet in default with the ~ token")
	assert.Equal(t, http.StatusForbidden, e.do(request{method: http.MethodGet, path: "/v1/stats", header: bearer(emptyToken)}).status,
		"~ is one namespace, not every namespace")
}

func TestLogsSpellTheEmptyNamespaceAsTheWireDoes(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEnv(t, withLogs(logs))
	e.do(request{method: http.MethodGet, path: nsPath("~", "/k")})
	assert.Contains(t, logs.String(), `"path":"/v1/ns/~/keys/k"`)
}
