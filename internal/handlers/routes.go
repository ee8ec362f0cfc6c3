package handlers

import (
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/memcached-http/memcached-http/internal/auth"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// The routing table: which code serves a request.
//
// Every request is classified once, by findRoute below, from its method and
// raw (still escaped) path into one row of routes: an operation of
// api/openapi.yaml (TestRoutesMatchSpec fails when the two drift). Then, in
// this order (service.ServeHTTP in router.go):
//
//  1. every response gets X-Content-Type-Options: nosniff and a request id;
//     CORS preflights are answered (allowOrigins);
//  2. no row: 404, or 405 with Allow when the path is known; nothing of the
//     body is read and a connection with a body pending is closed;
//  3. the row's role (guard, middleware.go): without a valid token 401, out
//     of role or namespace 403, over the rate limit 429, all before a body
//     byte is read; failed attempts count against the client address;
//     then a /v1 query parameter the row does not take (queryParams), or
//     on a request other than a GET an If-Match / If-None-Match the row
//     does not evaluate (conds): 400, before the body too;
//  4. the row's body limit (limitBody), then the row's handler: the fast path
//     registered for the operation in fast.go when it takes the request,
//     otherwise the generated strict handler (internal/gen) and Server's
//     method (server.go).
//
// Metrics labels and log lines name the row's operationId; "none" for no row.

// op is one operation of the contract: an index into routes.
type op uint8

const (
	opNone op = iota // no operation: 404 or 405
	opGet
	opSet
	opDelete
	opIncr
	opDecr
	opGetMulti
	opSetMulti
	opDeleteMulti
	opOffsetMulti
	opFlushAll
	opGetStats
	opHealth
	opReady
	opGetContract
	opGetMetrics
	opDocs
	opListKeys
	opListNamespaces
	opDashboard
	numOps
)

// bodyKind is which body limit a route reads its body under.
type bodyKind uint8

const (
	bodyNone      bodyKind = iota // the operation takes no body and never reads one
	bodySingleKey                 // one value: singleKeyBodyLimit
	bodyBatch                     // a batch: Config.MaxBodyBytes
)

// route is one row: an operation, where it lives and what it needs.
type route struct {
	id     string    // operationId in api/openapi.yaml: the metrics and log label
	method string    // the method of path; HEAD is served wherever GET is
	path   string    // the spec's path template
	role   auth.Role // the role a token needs when tokens are configured; 0 is public
	perNS  bool      // the role is checked against the path's namespace, otherwise against every namespace
	body   bodyKind
	// conds: the operation evaluates If-Match and If-None-Match (the
	// spec's parameters). Other requests but GETs refuse them, since RFC
	// 9110 does not let a server that cannot evaluate a condition act as if
	// it held: a delete with a stale ETag must not delete.
	conds bool
}

// routes is the routing table, one row per operation.
var routes = [numOps]route{
	opNone:        {id: "none"},
	opGet:         {id: "get", method: http.MethodGet, path: "/v1/ns/{namespace}/keys/{key}", role: auth.RoleRead, perNS: true, conds: true},
	opSet:         {id: "set", method: http.MethodPut, path: "/v1/ns/{namespace}/keys/{key}", role: auth.RoleWrite, perNS: true, body: bodySingleKey, conds: true},
	opDelete:      {id: "delete", method: http.MethodDelete, path: "/v1/ns/{namespace}/keys/{key}", role: auth.RoleWrite, perNS: true},
	opIncr:        {id: "incr", method: http.MethodPost, path: "/v1/ns/{namespace}/keys/{key}:incr", role: auth.RoleWrite, perNS: true, body: bodySingleKey},
	opDecr:        {id: "decr", method: http.MethodPost, path: "/v1/ns/{namespace}/keys/{key}:decr", role: auth.RoleWrite, perNS: true, body: bodySingleKey},
	opGetMulti:    {id: "getMulti", method: http.MethodPost, path: "/v1/ns/{namespace}/keys:batchGet", role: auth.RoleRead, perNS: true, body: bodyBatch},
	opSetMulti:    {id: "setMulti", method: http.MethodPost, path: "/v1/ns/{namespace}/keys:batchSet", role: auth.RoleWrite, perNS: true, body: bodyBatch},
	opDeleteMulti: {id: "deleteMulti", method: http.MethodPost, path: "/v1/ns/{namespace}/keys:batchDelete", role: auth.RoleWrite, perNS: true, body: bodyBatch},
	opOffsetMulti: {id: "offsetMulti", method: http.MethodPost, path: "/v1/ns/{namespace}/keys:batchOffset", role: auth.RoleWrite, perNS: true, body: bodyBatch},
	opFlushAll:    {id: "flushAll", method: http.MethodPost, path: "/v1/flush", role: auth.RoleAdmin},
	opGetStats:    {id: "getStats", method: http.MethodGet, path: "/v1/stats", role: auth.RoleAdmin},
	opHealth:      {id: "health", method: http.MethodGet, path: "/healthz"},
	opReady:       {id: "ready", method: http.MethodGet, path: "/readyz"},
	opGetContract: {id: "getContract", method: http.MethodGet, path: "/openapi.yaml"},
	// Without a token only with -metrics-public (Config.MetricsPublic).
	opGetMetrics: {id: "getMetrics", method: http.MethodGet, path: "/metrics", role: auth.RoleAdmin},
	// The page at /docs (and /docs/) and its assets at /docs/{asset}.
	opDocs: {id: "docs", method: http.MethodGet, path: "/docs"},
	// The dashboard's listings: an operator's view, admin only.
	opListKeys:       {id: "listKeys", method: http.MethodGet, path: "/v1/ns/{namespace}/keys", role: auth.RoleAdmin, perNS: true},
	opListNamespaces: {id: "listNamespaces", method: http.MethodGet, path: "/v1/namespaces", role: auth.RoleAdmin},
	// The dashboard page at /ui (and /ui/) and its assets at /ui/{asset};
	// public like /docs: the API calls it makes carry the token.
	opDashboard: {id: "dashboard", method: http.MethodGet, path: "/ui"},
}

// queryParams are the query parameters of each /v1 operation, read from the
// generated parameter types so they follow the spec; a /v1 request with any
// other is refused (a typo such as ?secs=5 would otherwise delete with no
// lock). Pages outside /v1 take whatever query a browser adds.
var queryParams = [numOps][]string{
	opGet:      formNames(reflect.TypeFor[gen.GetParams]()),
	opSet:      formNames(reflect.TypeFor[gen.SetParams]()),
	opDelete:   formNames(reflect.TypeFor[gen.DeleteParams]()),
	opListKeys: formNames(reflect.TypeFor[gen.ListKeysParams]()),
}

// formNames are the query names of a generated parameter struct.
func formNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("form"), ","); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// unknownQuery refuses a query parameter a /v1 operation does not take.
func unknownQuery(r *http.Request, o op) error {
	rt := routes[o]
	if r.URL.RawQuery == "" || !strings.HasPrefix(rt.path, "/v1/") {
		return nil
	}
	for name := range r.URL.Query() {
		if !slices.Contains(queryParams[o], name) {
			takes := "no query parameters"
			if len(queryParams[o]) > 0 {
				takes = "only " + strings.Join(queryParams[o], ", ")
			}
			return invalid(name, "unknown query parameter %q: %s %s takes %s", name, rt.method, rt.path, takes)
		}
	}
	return nil
}

// opNames are the operationIds by op, the route label of metrics.
var opNames = func() (names [numOps]string) {
	for o, rt := range routes {
		names[o] = rt.id
	}
	return names
}()

// match is the classification of one request.
type match struct {
	op  op
	ns  string // the escaped namespace of key and batch operations
	key string // the escaped key of single-key operations, without :incr/:decr
}

// nsPrefix starts the key and batch paths.
const nsPrefix = "/v1/ns/"

// findRoute finds the row of a request from its method and escaped path. The
// key is everything after /keys/ (so it may hold '/'), and on POST a final
// unescaped :incr or :decr is the method; an escaped colon (%3A) always
// belongs to the key. Paths are matched as sent: no cleaning of "..", "//",
// case or escapes, so the namespace the guard checks is the one served.
func findRoute(method, escaped string) match {
	if method == http.MethodHead {
		method = http.MethodGet // HEAD is GET without the body
	}
	if tail, ok := strings.CutPrefix(escaped, nsPrefix); ok {
		ns, rest, ok := strings.Cut(tail, "/")
		if !ok {
			return match{}
		}
		if key, ok := strings.CutPrefix(rest, "keys/"); ok {
			m := match{ns: ns, key: key}
			switch method {
			case http.MethodGet:
				m.op = opGet
			case http.MethodPut:
				m.op = opSet
			case http.MethodDelete:
				m.op = opDelete
			case http.MethodPost:
				if base, ok := strings.CutSuffix(key, ":incr"); ok {
					m.op, m.key = opIncr, base
				} else if base, ok := strings.CutSuffix(key, ":decr"); ok {
					m.op, m.key = opDecr, base
				}
			}
			if m.op == opNone {
				return match{}
			}
			return m
		}
		if rest == "keys" {
			if method != http.MethodGet {
				return match{}
			}
			return match{op: opListKeys, ns: ns}
		}
		if method != http.MethodPost {
			return match{}
		}
		m := match{ns: ns}
		switch rest {
		case "keys:batchGet":
			m.op = opGetMulti
		case "keys:batchSet":
			m.op = opSetMulti
		case "keys:batchDelete":
			m.op = opDeleteMulti
		case "keys:batchOffset":
			m.op = opOffsetMulti
		default:
			return match{}
		}
		return m
	}
	var o op
	switch escaped {
	case "/v1/flush":
		o = opFlushAll
	case "/v1/stats":
		o = opGetStats
	case "/healthz":
		o = opHealth
	case "/readyz":
		o = opReady
	case "/openapi.yaml":
		o = opGetContract
	case "/metrics":
		o = opGetMetrics
	case "/docs", "/docs/":
		o = opDocs
	case "/v1/namespaces":
		o = opListNamespaces
	case "/ui", "/ui/":
		o = opDashboard
	default:
		// One asset name, never a deeper path.
		if asset, ok := strings.CutPrefix(escaped, "/docs/"); ok && !strings.Contains(asset, "/") {
			o = opDocs
		} else if asset, ok := strings.CutPrefix(escaped, "/ui/"); ok && !strings.Contains(asset, "/") {
			o = opDashboard
		}
	}
	if o == opNone || routes[o].method != method {
		return match{}
	}
	return match{op: o}
}

// allowedMethods lists the methods a path takes, for 405's Allow header;
// none means the path is unknown (404).
func allowedMethods(escaped string) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if findRoute(m, escaped).op != opNone {
			allow = append(allow, m)
		}
	}
	return allow
}
