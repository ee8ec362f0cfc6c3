package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

// TestRoutesMatchSpec fails when the routing table and api/openapi.yaml
// drift: the same operationIds, each at the spec's method and path, public
// exactly where the spec says `security: []`.
func TestRoutesMatchSpec(t *testing.T) {
	doc := contracttest.Spec(t)
	type row struct{ method, path, id string }
	var inSpec, inTable []row
	public, conditional, query := map[string]bool{}, map[string]bool{}, map[string][]string{}
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			if method == http.MethodHead && item.Get != nil {
				// Declared for generators; served as the GET without its body.
				continue
			}
			inSpec = append(inSpec, row{method, path, o.OperationID})
			public[o.OperationID] = o.Security != nil && len(*o.Security) == 0
			for _, p := range o.Parameters {
				if p.Value.In == "header" && (p.Value.Name == "If-Match" || p.Value.Name == "If-None-Match") {
					conditional[o.OperationID] = true
				}
				if p.Value.In == "query" {
					query[o.OperationID] = append(query[o.OperationID], p.Value.Name)
				}
			}
		}
	}
	for o, rt := range routes {
		if op(o) == opNone {
			continue
		}
		inTable = append(inTable, row{rt.method, rt.path, rt.id})
		assert.Equal(t, public[rt.id], rt.role == 0, "%s: public in the spec iff it has no role here", rt.id)
		assert.Equal(t, conditional[rt.id], rt.conds, "%s: evaluates If-Match / If-None-Match iff the spec lists one", rt.id)
		if strings.HasPrefix(rt.path, "/v1/") {
			assert.ElementsMatch(t, query[rt.id], queryParams[o], "%s: takes the spec's query parameters", rt.id)
		}
		assert.Equal(t, strings.HasPrefix(rt.path, "/v1/ns/{namespace}/"), rt.perNS, "%s: namespace operations are checked against their namespace", rt.id)
	}
	assert.ElementsMatch(t, inSpec, inTable)
}

// TestRoutingAgreesWithTheSpecOracle classifies requests, ordinary and
// malformed, both with the server's table and with contracttest.Route,
// which reads only the spec's path templates, and wants the same
// operation and the same parameters, or no operation from both (and then
// the same 404-or-405 choice).
func TestRoutingAgreesWithTheSpecOracle(t *testing.T) {
	doc := contracttest.Spec(t)
	paths := []string{
		"/v1/ns/a/keys/k", "/v1/ns/a/keys/k:incr", "/v1/ns/a/keys/k:decr", "/v1/ns/a/keys/k%3Aincr",
		"/v1/ns/a/keys/a/b/c", "/v1/ns/a/keys/a:incr:decr", "/v1/ns/a/keys/", "/v1/ns/a/keys/:incr",
		"/v1/ns//keys/k", "/v1/ns/%2e%2e/keys/k", "/v1/ns/../keys/k", "/v1/ns/a/../b/keys/k",
		"/v1/ns/a/keys/../../flush", "/v1/ns/a%2Fb/keys/k", "/v1/ns/a%252F/keys/k", "/v1/ns/a;b/keys/k",
		"/v1/ns/a/keys/k;x", "/v1/ns/a%00/keys/k", "/v1/ns/a/keys/k%00", "/v1/ns/a/keys/k/",
		"/v1/ns/a/keys:batchGet", "/v1/ns/a/keys:batchSet", "/v1/ns/a/keys:batchDelete", "/v1/ns/a/keys:batchOffset",
		"/v1/ns/a/keys:batchNope", "/v1/ns/a/keys:batch", "/v1/ns/a/keys:batchGet/", "/v1/ns/a/keys:batchGet%20",
		"/v1/ns/a/b/keys:batchGet", "/v1/ns/a/keys:batchget", "/v1/ns/a/KEYS:batchGet", "/v1/ns/a/keys%3AbatchGet",
		"/v1/ns/a/keys", "/v1/ns/a", "/v1/ns/", "/v1/ns", "/v1/ns/a/", "//v1/ns/a/keys/k", "/V1/ns/a/keys/k",
		"/v1/ns/a//keys/k", "/v1/ns/a/keys//k",
		"/v1/flush", "/v1/flush/", "/v1/stats", "/v1/stats/", "/V1/stats", "/v1//stats", "/v1/./stats", "/v1/%73tats",
		"/healthz", "/healthz/", "/readyz", "/openapi.yaml", "/metrics", "/metrics;x", "/docs", "/", "", "/v1",
		"/v1/stats%00", "/healthz%2F",
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete,
		http.MethodPatch, http.MethodOptions}
	for _, path := range paths {
		for _, method := range methods {
			m := findRoute(method, path)
			want, params := contracttest.Route(doc, method, path)
			if want == nil {
				assert.Equal(t, opNone, m.op, "%s %q: the spec has no operation", method, path)
				assert.Equal(t, contracttest.PathKnown(doc, path), len(allowedMethods(path)) > 0,
					"%s %q: 405 where the spec knows the path, 404 elsewhere", method, path)
				continue
			}
			if !assert.NotEqual(t, opNone, m.op, "%s %q: the spec says %s", method, path, want.Operation.OperationID) {
				continue
			}
			assert.Equal(t, want.Operation.OperationID, routes[m.op].id, "%s %q", method, path)
			assert.Equal(t, params["namespace"], m.ns, "%s %q: namespace", method, path)
			assert.Equal(t, params["key"], m.key, "%s %q: key", method, path)
		}
	}
	// The docs page's assets live under /docs/, which the spec describes in
	// prose only (the /docs operation).
	for _, path := range []string{"/docs/", "/docs/swagger-ui.css", "/docs/init.js"} {
		assert.Equal(t, opDocs, findRoute(http.MethodGet, path).op, path)
	}
	assert.Equal(t, opNone, findRoute(http.MethodGet, "/docs/a/b").op)
	require.Len(t, opNames, int(numOps))
}
