// Package handlers implements the HTTP contract of api/openapi.yaml on top of
// a cache.Store: one routing table (routes.go: read it to know which code
// serves any request), the checks every request goes through in order, a
// few fast paths (fast.go), and thin strict-server handlers (server.go).
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/memcached-http/memcached-http/internal/auth"
	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
	"github.com/memcached-http/memcached-http/internal/metrics"
)

const (
	// DefaultMaxBatchKeys is the default limit of keys in one batch request.
	DefaultMaxBatchKeys = 10_000
	// DefaultMaxBodyBytes is the default limit of one request body (32 MiB).
	DefaultMaxBodyBytes = 32 << 20
	// DefaultReadyTimeout is how long /readyz and a metrics scrape wait for the store.
	DefaultReadyTimeout = time.Second
	// DefaultRateWindow is the rate limit's window when Config.RateWindow is 0.
	DefaultRateWindow = time.Second

	noStore = "no-store"
)

// Config holds the service's limits, access control and request logger.
type Config struct {
	MaxBatchKeys     int          // keys (or offsets, or items) per batch request; 0 means the default
	MaxBodyBytes     int64        // bytes per request body; 0 means the default
	MaxResponseBytes int64        // bytes of one batchGet response; 0 means MaxBodyBytes
	RequestMemory    int64        // bytes the request bodies being served may take at once, decoded forms included; requests past it wait; 0 means no bound
	MaxValueSize     int          // the store's value limit, which bounds single-key bodies; 0 means cache.DefaultMaxValueSize
	Logger           *slog.Logger // one line per request; nil logs nothing
	CORSOrigins      []string     // origins whose scripts may call the API (see ParseCORSOrigins); none by default

	Tokens        *auth.Tokens  // bearer tokens; nil or none turns authentication off
	MetricsPublic bool          // serve /metrics without a token even when tokens are configured
	RateLimit     int           // requests per RateWindow per token (per client IP without tokens); 0 means no limit
	RateWindow    time.Duration // the rate limit's window; 0 means DefaultRateWindow
	ReadyTimeout  time.Duration // how long /readyz and metrics wait for the store; 0 means DefaultReadyTimeout
	// Collectors add series to /metrics: the memcached listener's.
	Collectors []prometheus.Collector
}

func (c Config) withDefaults() Config {
	if c.MaxBatchKeys <= 0 {
		c.MaxBatchKeys = DefaultMaxBatchKeys
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = c.MaxBodyBytes
	}
	if c.MaxValueSize <= 0 {
		c.MaxValueSize = cache.DefaultMaxValueSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RateWindow <= 0 {
		c.RateWindow = DefaultRateWindow
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	return c
}

// NewRouter returns the whole service as one handler: the /v1 API over store,
// GET /healthz, GET /readyz, GET /metrics, GET /openapi.yaml and Swagger UI
// at GET /docs. Which code serves which request is told in routes.go.
func NewRouter(store cache.Store, cfg Config) http.Handler {
	return newService(store, cfg.withDefaults(), fastPaths)
}

// service is the router: the routing table's rows bound to their handlers.
type service struct {
	srv     *Server
	ops     *gen.ServerInterfaceWrapper // the generated per-operation binding of query and header parameters
	decoded *gen.ServerInterfaceWrapper // ops over decodedWrites, for bodies a fast path has decoded
	strict  gen.ServerInterface         // the generated strict handlers, parameters given
	mx      *metrics.Metrics
	metrics http.Handler
	logger  *slog.Logger
	guard   *guard
	limits  [numOps]int64 // body limit per operation; 0 for those that read none
	fast    [numOps]fastPath
	inner   http.Handler // what follows CORS: the guard, the limit and the row's handler
	bodies  *bodyMemory  // nil without Config.RequestMemory
}

func newService(store cache.Store, cfg Config, fast [numOps]fastPath) *service {
	mx := metrics.New(opNames[:], store, cfg.ReadyTimeout)
	if err := mx.Register(cfg.Collectors...); err != nil {
		panic(err) // a collector registered twice: a wiring bug
	}
	srv := &Server{store: store, cfg: cfg}
	strict := gen.NewStrictHandlerWithOptions(srv,
		[]gen.StrictMiddlewareFunc{negotiate},
		gen.StrictHTTPServerOptions{
			RequestErrorHandlerFunc:  requestError,
			ResponseErrorHandlerFunc: responseError,
		})
	s := &service{
		srv:     srv,
		ops:     &gen.ServerInterfaceWrapper{Handler: strict, ErrorHandlerFunc: paramError},
		decoded: &gen.ServerInterfaceWrapper{Handler: decodedWrites{ServerInterface: strict, srv: srv}, ErrorHandlerFunc: paramError},
		strict:  strict,
		mx:      mx,
		metrics: mx.Handler(),
		logger:  cfg.Logger,
		guard:   newGuard(cfg),
		bodies:  newBodyMemory(cfg.RequestMemory),
		fast:    fast,
	}
	for o, rt := range routes {
		switch rt.body {
		case bodySingleKey:
			s.limits[o] = singleKeyBodyLimit(cfg)
		case bodyBatch:
			s.limits[o] = cfg.MaxBodyBytes
		}
	}
	// CORS stays ahead of authentication: preflights carry no credentials.
	s.inner = allowOrigins(cfg.CORSOrigins)(http.HandlerFunc(s.serveRoute))
	return s
}

// nosniff is X-Content-Type-Options on every response, errors included:
// browsers must not read a JSON error or a raw value as HTML or script.
var nosniff = []string{"nosniff"}

// ServeHTTP classifies the request once and serves it: observe (request id,
// metrics, the log line) around everything else.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ww := &statusWriter{ResponseWriter: w}
	ww.id[0] = requestID(r)
	h := w.Header()
	h[requestIDHeader] = ww.id[:]
	h["X-Content-Type-Options"] = nosniff
	ww.m = findRoute(r.Method, r.URL.EscapedPath())
	if ambiguousFraming(r.Context()) {
		// RFC 9112 §6.3: which of the two frames the body is a guess that a
		// proxy in front may make differently (request smuggling).
		ww.refused = true
		h.Set("Connection", "close")
		writeError(ww, r, badRequest("", "a request must not carry both Content-Length and Transfer-Encoding", errSmuggled))
	} else if err := refusedTarget(r.Context()); err != nil {
		h.Set("Connection", "close")
		writeError(ww, r, err)
	} else {
		s.inner.ServeHTTP(ww, r)
	}
	if ww.refused && r.ProtoMajor == 1 {
		// net/http would otherwise drain up to 256 KiB of the refused body
		// after the answer, waiting for bytes that may never come.
		rc := http.NewResponseController(w)
		if rc.Flush() == nil {
			if conn, _, err := rc.Hijack(); err == nil {
				lingerClose(conn)
			}
		}
	}
	s.observe(ww, r, time.Since(start))
	if ww.status == 0 && clientGone(r) {
		// Nothing was answered because the client left (writeError sends
		// nothing then). Returning would have net/http send 200 with an
		// empty body, success for a write that never happened, to a client
		// that may still read (one that half-closed mid-body); aborting
		// closes the connection instead.
		panic(http.ErrAbortHandler)
	}
}

// serveRoute is everything after CORS; w is ServeHTTP's statusWriter, which
// carries the request's classification.
func (s *service) serveRoute(w http.ResponseWriter, r *http.Request) {
	m := &w.(*statusWriter).m
	if m.op == opNone {
		refuseBody(w, r)
		if allow := allowedMethods(r.URL.EscapedPath()); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: gen.ErrorDetailCodeMethodNotAllowed,
				reason: fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.EscapedPath()),
				err:    fmt.Errorf("handlers: method %s not allowed on %s", r.Method, r.URL.EscapedPath())})
			return
		}
		writeError(w, r, &apiError{status: http.StatusNotFound, code: gen.ErrorDetailCodeNotFound,
			reason: "no route " + r.URL.EscapedPath(),
			err:    fmt.Errorf("handlers: no route %s", r.URL.EscapedPath())})
		return
	}
	if !s.guard.allow(w, r, m) {
		return
	}
	if r.Method == http.MethodDelete && r.ContentLength != 0 {
		// Ignored, a body's {"seconds": 5} would delete with no lock.
		refuseBody(w, r)
		writeError(w, r, invalid("", "DELETE takes no request body: a delete lock goes in the query, as ?seconds=5"))
		return
	}
	if err := unknownQuery(r, m.op); err != nil {
		refuseBody(w, r)
		writeError(w, r, err)
		return
	}
	if err := unevaluatedCondition(r, m.op); err != nil {
		refuseBody(w, r)
		writeError(w, r, err)
		return
	}
	if limit := s.limits[m.op]; limit > 0 {
		if !limitBody(w, r, limit) {
			return
		}
		release, ok := s.bodies.acquire(r.Context(), r, limit, routes[m.op].body == bodyBatch)
		if !ok {
			return // the client left while the request waited for memory
		}
		defer release()
	}
	if r.Method == http.MethodHead {
		get := *r
		get.Method = http.MethodGet
		r, w = &get, headWriter{w}
	}
	if f := s.fast[m.op]; f != nil && f(s, w, r, m) {
		return
	}
	s.serveGenerated(w, r, m)
}

// unevaluatedCondition refuses If-Match or If-None-Match on a request other
// than a GET whose operation does not evaluate them (routes' conds): the
// writes, where an ignored stale ETag would still delete or count, and
// batchGet. A GET may ignore them; nothing is lost.
func unevaluatedCondition(r *http.Request, o op) error {
	if routes[o].conds || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	for _, h := range [...]string{"If-Match", "If-None-Match"} {
		if _, ok := r.Header[h]; ok {
			return invalid(h, "%s is evaluated only by PUT …/keys/{key} (a cas, replace or add) and GET; this request cannot be made conditional, and is refused rather than run as if the condition held: send it without %s",
				h, h)
		}
	}
	return nil
}

// refuseBody closes the connection after a refusal when the request still
// has a body on its way, so the server neither reads nor drains it. It
// must come before the answer's status is written.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		if sw := recorder(w); sw != nil {
			sw.refused = true
		}
	}
}

// serveGenerated hands a request to the generated strict handler of its
// operation: the body checks first, then the parameters it binds.
func (s *service) serveGenerated(w http.ResponseWriter, r *http.Request, m *match) {
	switch m.op {
	case opGet, opSet, opDelete, opIncr, opDecr:
		s.serveKey(w, r, m)
	case opGetMulti, opSetMulti, opDeleteMulti, opOffsetMulti:
		s.serveBatch(w, r, m, nil)
	case opFlushAll:
		s.ops.FlushAll(w, r)
	case opGetStats:
		s.ops.GetStats(w, r)
	case opHealth:
		s.ops.Health(w, r)
	case opReady:
		s.ops.Ready(w, r)
	case opGetContract:
		s.ops.GetContract(w, r)
	case opGetMetrics:
		s.metrics.ServeHTTP(w, r)
	case opDocs:
		serveDocs(w, r)
	case opListKeys:
		s.serveListKeys(w, r, m)
	case opListNamespaces:
		s.ops.ListNamespaces(w, r)
	case opDashboard:
		serveUI(w, r)
	}
}

// serveKey serves a single-key operation. The key is cut from the raw path
// (chi would end a {key} parameter at the first ':' or '/', and whether a
// parameter is escaped depends on whether Go kept RawPath), unescaped once
// here, and handed to the generated wrapper, which binds the query and
// headers, as an already-unescaped parameter.
func (s *service) serveKey(w http.ResponseWriter, r *http.Request, m *match) {
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		if err := checkMediaType(r, r.Method == http.MethodPut); err != nil {
			writeError(w, r, err)
			return
		}
		buf := getBuf()
		defer putBodyBuf(buf)
		if r.Header.Get("Content-Type") == "application/json" {
			if _, ok := readBody(w, r, buf, m.op); !ok {
				return
			}
		} else {
			readRawBody(r, buf)
		}
	}
	s.serveKeyRead(w, r, m, s.ops)
}

// unescapeMatch is the namespace and key of a key operation, unescaped.
func unescapeMatch(m *match) (ns, key string, err error) {
	if ns, err = url.PathUnescape(m.ns); err != nil {
		return "", "", invalid("namespace", "namespace is not percent-encoded correctly: %v", err)
	}
	if key, err = url.PathUnescape(m.key); err != nil {
		return "", "", invalid("key", "key is not percent-encoded correctly: %v", err)
	}
	return ns, key, nil
}

// badTarget is the refusal of a request whose target is not a URL path
// (a bad percent escape, a control character), naming the namespace or
// key when it is theirs.
func badTarget(method, target string, cause error) error {
	path, _, _ := strings.Cut(target, "?")
	m := findRoute(method, path)
	if _, _, err := unescapeMatch(&m); err != nil {
		return err
	}
	return invalid("", "the request target %q is not a URL path: %v", target, cause)
}

// refusedTarget is the refusal the front attached to a request whose
// target it could not parse: net/http would answer those in plain text,
// outside the one error shape.
func refusedTarget(ctx context.Context) error {
	err, _ := ctx.Value(refusalKey{}).(error)
	return err
}

type refusalKey struct{}

// serveKeyRead is serveKey once the body, if any, is read, through ops.
func (s *service) serveKeyRead(w http.ResponseWriter, r *http.Request, m *match, ops *gen.ServerInterfaceWrapper) {
	ns, key, err := unescapeMatch(m)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rctx := chi.NewRouteContext()
	rctx.URLParams.Add("namespace", ns)
	rctx.URLParams.Add("key", key)
	r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
	// The generated wrapper unescapes path parameters unless RawPath is
	// empty; ours are unescaped already.
	u := *r.URL
	u.RawPath = ""
	r.URL = &u
	switch m.op {
	case opGet:
		ops.Get(w, r)
	case opSet:
		ops.Set(w, r)
	case opDelete:
		ops.Delete(w, r)
	case opIncr:
		ops.Incr(w, r)
	case opDecr:
		ops.Decr(w, r)
	}
}

// serveBatch serves a batch operation, which takes JSON only: the body is
// read once into a pooled buffer (or is data, already read by a fast path
// that declined it), checked, and replayed to the generated decoder.
func (s *service) serveBatch(w http.ResponseWriter, r *http.Request, m *match, data []byte) {
	if data == nil {
		if err := checkMediaType(r, false); err != nil {
			writeError(w, r, err)
			return
		}
		buf := getBuf()
		defer putBodyBuf(buf)
		if _, ok := readBody(w, r, buf, m.op); !ok {
			return
		}
	} else if err := checkJSON(data, requestFields[m.op]); err != nil {
		writeError(w, r, err)
		return
	}
	ns, err := url.PathUnescape(m.ns)
	if err != nil {
		writeError(w, r, invalid("namespace", "namespace is not percent-encoded correctly: %v", err))
		return
	}
	switch m.op {
	case opGetMulti:
		s.strict.GetMulti(w, r, ns)
	case opSetMulti:
		s.strict.SetMulti(w, r, ns)
	case opDeleteMulti:
		s.strict.DeleteMulti(w, r, ns)
	case opOffsetMulti:
		s.strict.OffsetMulti(w, r, ns)
	}
}

// headWriter drops a response body, counting it as written.
type headWriter struct{ http.ResponseWriter }

func (h headWriter) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the connection.
func (h headWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// checkMediaType reads a body without Content-Type as JSON, accepts
// octet-stream where raw values are allowed, and refuses anything else. It
// rewrites the header to the bare media type, which is what the generated
// decoders match on.
func checkMediaType(r *http.Request, allowRaw bool) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		r.Header.Set("Content-Type", "application/json")
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return &apiError{status: http.StatusUnsupportedMediaType, code: gen.ErrorDetailCodeUnsupportedMediaType,
			field: "Content-Type", reason: fmt.Sprintf("Content-Type %q is not a media type", ct),
			err: fmt.Errorf("handlers: Content-Type %q: %w", ct, err)}
	case mt == "application/json", allowRaw && mt == "application/octet-stream":
		r.Header.Set("Content-Type", mt)
		return nil
	default:
		return &apiError{status: http.StatusUnsupportedMediaType, code: gen.ErrorDetailCodeUnsupportedMediaType,
			field: "Content-Type", reason: unsupportedType(mt, allowRaw),
			err: fmt.Errorf("handlers: unsupported Content-Type %s", mt)}
	}
}

// unsupportedType says which Content-Types an operation takes instead of mt.
func unsupportedType(mt string, allowRaw bool) string {
	msg := "Content-Type " + mt + " is not supported here: send JSON with Content-Type: application/json"
	if allowRaw {
		msg += ", or the raw value with Content-Type: application/octet-stream (time, flags and cas then in the query)"
	}
	return msg
}

// singleKeyBodyLimit is the body limit of a single-key request: what the
// largest value needs as base64 in JSON, plus room for the other members
// and whitespace, and never more than the general body limit.
func singleKeyBodyLimit(cfg Config) int64 {
	const slack = 64 << 10
	return min(cfg.MaxBodyBytes, (int64(cfg.MaxValueSize)+2)/3*4+slack)
}

// limitBody caps the request body at limit; reading past it fails with
// *http.MaxBytesError, which leaves as 413. A declared length over the
// limit is answered 413 at once, unread, and the connection closed.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if r.ContentLength <= 0 && (r.Body == nil || r.Body == http.NoBody) {
		return true
	}
	if r.ContentLength > limit {
		refuseBody(w, r)
		writeError(w, r, tooLarge(w, &http.MaxBytesError{Limit: limit}))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return true
}

// rawKey marks in a handler's context that the client prefers raw values.
type rawKey struct{}

// negotiate records the Accept preference for handlers, which the strict
// server otherwise hides from them.
func negotiate(f gen.StrictHandlerFunc, _ string) gen.StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, request any) (any, error) {
		return f(context.WithValue(ctx, rawKey{}, prefersRaw(r.Header.Values("Accept"))), w, r, request)
	}
}

// prefersRaw reports whether application/octet-stream is listed before
// application/json in the Accept header (quality values are not weighed).
func prefersRaw(accept []string) bool {
	for _, line := range accept {
		for more := true; more; {
			var part string
			part, line, more = strings.Cut(line, ",")
			mt, _, _ := strings.Cut(part, ";")
			// ToLower returns its input, unallocated, when it is lowercase ASCII.
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/octet-stream":
				return true
			case "application/json":
				return false
			}
		}
	}
	return false
}

func wantsRaw(ctx context.Context) bool {
	raw, _ := ctx.Value(rawKey{}).(bool)
	return raw
}
