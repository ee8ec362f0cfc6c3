// Package handlers implements the HTTP contract of api/openapi.yaml on top of
// a cache.Store: thin strict-server handlers, the key routing the generated
// router cannot express, and the middleware every request goes through.
package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
// at GET /docs.
func NewRouter(store cache.Store, cfg Config) http.Handler {
	cfg = cfg.withDefaults()
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
	keys := &keyRouter{srv: srv, ops: &gen.ServerInterfaceWrapper{Handler: strict, ErrorHandlerFunc: paramError}}

	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{status: http.StatusNotFound, code: gen.ErrorDetailCodeNotFound,
			err: fmt.Errorf("handlers: no route %s", r.URL.EscapedPath())})
	})
	r.MethodNotAllowed(methodNotAllowed)
	mountDocs(r)
	r.Method(http.MethodGet, "/metrics", mx.Handler())
	h := gen.HandlerWithOptions(strict, gen.ChiServerOptions{BaseRouter: r, ErrorHandlerFunc: paramError})
	// The middleware wraps the chi router rather than being installed in it
	// with r.Use: chi copies the request into a new context before its
	// middleware runs, and the key routes, the busiest, never need chi.
	// CORS stays ahead of any authentication: preflights carry no credentials.
	// The guard refuses unauthorized calls before their body is read.
	middleware := []func(http.Handler) http.Handler{observe(cfg.Logger, mx), allowOrigins(cfg.CORSOrigins),
		newGuard(cfg).handler, limitBody(cfg.MaxBodyBytes, singleKeyBodyLimit(cfg)), head, keys.route, keys.batch}
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return h
}

// methodNotAllowed answers 405 with the Allow header RFC 9110 requires,
// listing the methods routeOf knows for the path.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if o, _ := routeOf(m, r.URL.EscapedPath()); o != opNone {
			allow = append(allow, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: gen.ErrorDetailCodeMethodNotAllowed,
		err: fmt.Errorf("handlers: method %s not allowed on %s", r.Method, r.URL.EscapedPath())})
}

// keyPath splits a raw (escaped) path of the form /v1/ns/{namespace}/keys/{key…}
// into its escaped namespace and the escaped rest, which holds the key.
func keyPath(escaped string) (ns, rest string, ok bool) {
	tail, ok := strings.CutPrefix(escaped, "/v1/ns/")
	if !ok {
		return "", "", false
	}
	ns, tail, ok = strings.Cut(tail, "/")
	if !ok {
		return "", "", false
	}
	rest, ok = strings.CutPrefix(tail, "keys/")
	return ns, rest, ok
}

// keyRouter routes the single-key operations itself. chi ends a {key}
// parameter at the first ':' or '/', and whether chi.URLParam is escaped
// depends on whether Go kept RawPath; so the key is cut from the raw path
// (the rest of it, with a final unescaped :incr/:decr on POST being the
// method), unescaped once here, and handed to the generated wrapper as an
// already-unescaped parameter.
type keyRouter struct {
	srv *Server
	ops *gen.ServerInterfaceWrapper
}

func (k *keyRouter) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawNS, rawKey, ok := keyPath(r.URL.EscapedPath())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		var op http.HandlerFunc
		switch r.Method {
		case http.MethodGet: // HEAD arrives as GET (see head)
			if k.getFast(w, r, rawNS, rawKey) {
				return
			}
			op = k.ops.Get
		case http.MethodPut:
			op = k.ops.Set
		case http.MethodDelete:
			op = k.ops.Delete
		case http.MethodPost:
			if base, ok := strings.CutSuffix(rawKey, ":incr"); ok {
				op, rawKey = k.ops.Incr, base
			} else if base, ok := strings.CutSuffix(rawKey, ":decr"); ok {
				op, rawKey = k.ops.Decr, base
			}
		}
		if op == nil {
			methodNotAllowed(w, r)
			return
		}
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			if err := checkMediaType(r, r.Method == http.MethodPut); err != nil {
				writeError(w, r, err)
				return
			}
			if r.Header.Get("Content-Type") == "application/json" {
				o, _ := routeOf(r.Method, r.URL.EscapedPath())
				buf := getBuf()
				defer putBuf(buf)
				if _, ok := readBody(w, r, buf, o); !ok {
					return
				}
			}
		}
		ns, err := url.PathUnescape(rawNS)
		if err != nil {
			writeError(w, r, invalid("namespace", "namespace is not percent-encoded correctly: %v", err))
			return
		}
		key, err := url.PathUnescape(rawKey)
		if err != nil {
			writeError(w, r, invalid("key", "key is not percent-encoded correctly: %v", err))
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
		op(w, r)
	})
}

// getFast answers the common GET, one without query or If-None-Match, in
// place: no route context, no request copies, no strict-server round trip,
// and the value read into a pooled buffer. It reports false, having written
// nothing, for any other GET, which takes the generated path (binding
// for_cas, If-None-Match and their errors) to the same response writer.
func (k *keyRouter) getFast(w http.ResponseWriter, r *http.Request, rawNS, rawKey string) bool {
	if r.URL.RawQuery != "" || r.URL.ForceQuery || rawNS == "" || rawKey == "" {
		return false
	}
	if _, ok := r.Header["If-None-Match"]; ok {
		return false
	}
	ns, err := url.PathUnescape(rawNS)
	if err != nil {
		return false
	}
	name, err := url.PathUnescape(rawKey)
	if err != nil {
		return false
	}
	ck, err := key(ns, name)
	if err != nil {
		writeError(w, r, err)
		return true
	}
	buf := getBuf()
	defer putBuf(buf)
	it, err := k.srv.store.Get(r.Context(), ck, *buf)
	if err != nil {
		writeError(w, r, fmt.Errorf("get: %w", err))
		return true
	}
	*buf = it.Value[:0]
	writeItem(w, name, it, prefersRaw(r.Header["Accept"]))
	return true
}

// batch applies the body rules to the batch operations, which take JSON
// only, and serves a plain batchGet itself (batchGetFast). The body is read
// once, into a pooled buffer that outlives the generated route's use of it.
func (k *keyRouter) batch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.Contains(r.URL.EscapedPath(), "/keys:batch") {
			next.ServeHTTP(w, r)
			return
		}
		if err := checkMediaType(r, false); err != nil {
			writeError(w, r, err)
			return
		}
		o, ns := routeOf(r.Method, r.URL.EscapedPath())
		buf := getBuf()
		defer putBuf(buf)
		if o == opGetMulti {
			data, err := readAll(growTo(*buf, int(r.ContentLength)+1), r.Body)
			*buf = data[:0]
			if err == nil && k.batchGetFast(w, r, ns, data) {
				return
			}
			// Anything else is replayed, read error included, to the checks
			// and the generated decoder.
			replay := io.Reader(bytes.NewReader(data))
			if err != nil {
				replay = io.MultiReader(replay, errReader{err})
			}
			r.Body = io.NopCloser(replay)
			r.ContentLength = -1
		}
		if _, ok := readBody(w, r, buf, o); !ok {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// head serves HEAD as the GET of the same resource without its body: the
// same status and headers, the body discarded here rather than left to the
// server (which a recorder or another transport may not do).
func head(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		get := *r
		get.Method = http.MethodGet
		next.ServeHTTP(headWriter{w}, &get)
	})
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
			field: "Content-Type", err: fmt.Errorf("handlers: Content-Type %q: %w", ct, err)}
	case mt == "application/json", allowRaw && mt == "application/octet-stream":
		r.Header.Set("Content-Type", mt)
		return nil
	default:
		return &apiError{status: http.StatusUnsupportedMediaType, code: gen.ErrorDetailCodeUnsupportedMediaType,
			field: "Content-Type", err: fmt.Errorf("handlers: unsupported Content-Type %s", mt)}
	}
}

// singleKeyBodyLimit is the body limit of a single-key request: what the
// largest value needs as base64 in JSON, plus room for the other members
// and whitespace, and never more than the general body limit.
func singleKeyBodyLimit(cfg Config) int64 {
	const slack = 64 << 10
	return min(cfg.MaxBodyBytes, (int64(cfg.MaxValueSize)+2)/3*4+slack)
}

// limitBody caps every request body, single-key ones at singleKey; reading
// past the cap fails with *http.MaxBytesError, which leaves as 413.
func limitBody(general, singleKey int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength <= 0 && (r.Body == nil || r.Body == http.NoBody) {
				next.ServeHTTP(w, r)
				return
			}
			limit := general
			if _, _, ok := keyPath(r.URL.EscapedPath()); ok {
				limit = singleKey
			}
			if r.ContentLength > limit {
				writeError(w, r, tooLarge(r, &http.MaxBytesError{Limit: limit}))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
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
