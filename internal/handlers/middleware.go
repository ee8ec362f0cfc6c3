package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/httprate"

	"github.com/memcached-http/memcached-http/internal/auth"
	"github.com/memcached-http/memcached-http/internal/gen"
	"github.com/memcached-http/memcached-http/internal/metrics"
)

// op is one operation of the contract. Middleware finds it from the method
// and the raw path alone, without the router, so that metrics, logs and
// authorization agree on it and cost a few string comparisons.
type op uint8

const (
	opNone op = iota // no operation: the router answers 404 or 405
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
	numOps
)

// opNames are the operationIds of api/openapi.yaml: the route label of
// metrics and logs, bounded whatever paths clients send.
var opNames = [numOps]string{
	opNone: "none", opGet: "get", opSet: "set", opDelete: "delete", opIncr: "incr", opDecr: "decr",
	opGetMulti: "getMulti", opSetMulti: "setMulti", opDeleteMulti: "deleteMulti", opOffsetMulti: "offsetMulti",
	opFlushAll: "flushAll", opGetStats: "getStats", opHealth: "health", opReady: "ready",
	opGetContract: "getContract", opGetMetrics: "getMetrics", opDocs: "docs",
}

// opRoles is the role each operation needs when tokens are configured; the
// zero role is public. Key and batch operations are checked against their
// namespace, the others against every namespace.
var opRoles = [numOps]auth.Role{
	opGet: auth.RoleRead, opGetMulti: auth.RoleRead,
	opSet: auth.RoleWrite, opDelete: auth.RoleWrite, opIncr: auth.RoleWrite, opDecr: auth.RoleWrite,
	opSetMulti: auth.RoleWrite, opDeleteMulti: auth.RoleWrite, opOffsetMulti: auth.RoleWrite,
	opFlushAll: auth.RoleAdmin, opGetStats: auth.RoleAdmin, opGetMetrics: auth.RoleAdmin,
}

// routeOf returns the operation a request addresses and, for key and batch
// operations, its namespace as it appears in the raw path.
func routeOf(method, escaped string) (op, string) {
	if method == http.MethodHead {
		method = http.MethodGet // HEAD is GET without the body
	}
	if ns, rest, ok := keyPath(escaped); ok {
		switch method {
		case http.MethodGet:
			return opGet, ns
		case http.MethodPut:
			return opSet, ns
		case http.MethodDelete:
			return opDelete, ns
		case http.MethodPost:
			if strings.HasSuffix(rest, ":incr") {
				return opIncr, ns
			}
			if strings.HasSuffix(rest, ":decr") {
				return opDecr, ns
			}
		}
		return opNone, ""
	}
	if tail, ok := strings.CutPrefix(escaped, "/v1/ns/"); ok {
		ns, verb, ok := strings.Cut(tail, "/keys:")
		if !ok || method != http.MethodPost || strings.Contains(ns, "/") {
			return opNone, ""
		}
		switch verb {
		case "batchGet":
			return opGetMulti, ns
		case "batchSet":
			return opSetMulti, ns
		case "batchDelete":
			return opDeleteMulti, ns
		case "batchOffset":
			return opOffsetMulti, ns
		}
		return opNone, ""
	}
	want, o := http.MethodGet, opNone
	switch escaped {
	case "/v1/flush":
		want, o = http.MethodPost, opFlushAll
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
	default:
		if escaped == "/docs" || strings.HasPrefix(escaped, "/docs/") {
			o = opDocs
		}
	}
	if method != want {
		return opNone, ""
	}
	return o, ""
}

// requestIDHeader carries the request id both ways.
const requestIDHeader = "X-Request-Id"

// idPrefix makes generated request ids unique across processes; the counter
// after it makes them unique within one, without a random read per request.
var (
	idPrefix = func() string {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		return hex.EncodeToString(b[:]) + "-"
	}()
	idSeq atomic.Uint64
)

func newRequestID() string {
	var buf [40]byte
	b := append(buf[:0], idPrefix...)
	return string(strconv.AppendUint(b, idSeq.Add(1), 36))
}

// saneRequestID accepts a client's id only when it is short and made of
// characters that cannot forge log fields or headers.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("._:/+=-", c) >= 0) {
			return false
		}
	}
	return true
}

// observe is the outermost middleware: it gives the request its id, and once
// the request is answered counts it by operation and status and writes one
// JSON log line. Neither the Authorization header nor the query is logged.
func observe(logger *slog.Logger, mx *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			var id string
			if ids := r.Header[requestIDHeader]; len(ids) > 0 && saneRequestID(ids[0]) {
				id = ids[0]
			} else {
				id = newRequestID()
			}
			ww := &statusWriter{ResponseWriter: w}
			ww.id[0] = id
			w.Header()[requestIDHeader] = ww.id[:]
			next.ServeHTTP(ww, r)
			elapsed := time.Since(start)
			status := ww.status
			if status == 0 {
				status = http.StatusOK
			}
			if clientGone(r) {
				// Whatever the handler made of it (a store call cut short,
				// a body cut off), nobody received an answer.
				status = statusClientClosedRequest
			}
			o, _ := routeOf(r.Method, r.URL.EscapedPath())
			mx.Observe(int(o), status, elapsed)
			level := slog.LevelInfo
			if status >= http.StatusInternalServerError {
				level = slog.LevelError
			}
			// Checked first so a disabled level costs no attribute building.
			if !logger.Enabled(r.Context(), level) {
				return
			}
			attrs := []slog.Attr{
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.EscapedPath()),
				slog.String("route", opNames[o]),
				slog.Int("status", status),
				slog.Int("bytes", ww.bytes),
				slog.Duration("duration", elapsed),
			}
			if ww.err != nil {
				// The wire message is plain; the log keeps the whole chain.
				attrs = append(attrs, slog.String("error", ww.err.Error()))
			}
			logger.LogAttrs(r.Context(), level, "request", attrs...)
		})
	}
}

// statusWriter records the status and body size observe reports. It carries
// the X-Request-Id header's value slice, so one allocation serves both. Like
// chi's wrapper it forwards only the first final status (a late error after
// a partial body cannot rewrite it), and Unwrap lets http.ResponseController
// reach the connection.
type statusWriter struct {
	http.ResponseWriter
	status int   // the first final status written; 0 until then
	bytes  int   // body bytes written
	err    error // the error answered, with its full chain, for the log line
	id     [1]string
}

func (s *statusWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		s.ResponseWriter.WriteHeader(code)
		return
	}
	if s.status == 0 {
		s.status = code
		s.ResponseWriter.WriteHeader(code)
	}
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += n
	return n, err
}

// ReadFrom keeps io.Copy (file serving) on the connection's sendfile path.
func (s *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{s.ResponseWriter}, src)
	}
	s.bytes += int(n)
	return n, err
}

// Flush sends what is buffered; streaming responses (metrics) need it.
func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// guard authenticates and authorizes the request's operation and applies the
// rate limit. It runs after CORS, so preflights (which carry no token) are
// answered before it, and before the body is read.
type guard struct {
	tokens        *auth.Tokens          // nil or empty: authentication is off
	limiter       *httprate.RateLimiter // nil: no rate limit
	metricsPublic bool
}

func newGuard(cfg Config) *guard {
	g := &guard{tokens: cfg.Tokens, metricsPublic: cfg.MetricsPublic}
	if cfg.RateLimit > 0 {
		g.limiter = httprate.NewRateLimiter(cfg.RateLimit, cfg.RateWindow,
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				writeError(w, r, &apiError{status: http.StatusTooManyRequests, code: gen.ErrorDetailCodeRateLimited,
					err: fmt.Errorf("handlers: rate limit of %d requests per %s exceeded", cfg.RateLimit, cfg.RateWindow)})
			}))
	}
	return g
}

// errBadNamespace refuses a namespace that does not unescape; without
// knowing the namespace, no scope can cover it.
var errBadNamespace = errors.New("handlers: namespace is not percent-encoded correctly")

func (g *guard) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, rawNS := routeOf(r.Method, r.URL.EscapedPath())
		role := opRoles[o]
		if role == 0 || o == opGetMetrics && g.metricsPublic {
			next.ServeHTTP(w, r)
			return
		}
		var limitKey string
		if g.tokens.Enabled() {
			p, err := g.tokens.Authenticate(r.Header.Get("Authorization"))
			if err != nil {
				challenge := `Bearer realm="memcached-http"`
				if errors.Is(err, auth.ErrBadToken) {
					challenge += `, error="invalid_token"`
				}
				w.Header().Set("WWW-Authenticate", challenge)
				writeError(w, r, &apiError{status: http.StatusUnauthorized, code: gen.ErrorDetailCodeUnauthenticated,
					err: fmt.Errorf("handlers: %w", err)})
				return
			}
			if err := authorize(p, role, o, rawNS); err != nil {
				writeError(w, r, err)
				return
			}
			limitKey = p.ID
		}
		if g.limiter != nil {
			if limitKey == "" {
				limitKey = clientAddr(r)
			}
			if g.limiter.RespondOnLimit(w, r, limitKey) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorize checks p's role and namespaces against an operation. Key and
// batch operations, which come first in op's order, name one namespace; the
// others touch every namespace.
func authorize(p *auth.Principal, role auth.Role, o op, rawNS string) error {
	ns := auth.AllNamespaces
	if o <= opOffsetMulti {
		ns = rawNS
		if strings.IndexByte(ns, '%') >= 0 {
			var err error
			if ns, err = url.PathUnescape(ns); err != nil {
				return &apiError{status: http.StatusForbidden, code: gen.ErrorDetailCodePermissionDenied, field: "namespace",
					err: fmt.Errorf("%w: %w", auth.ErrForbidden, errBadNamespace)}
			}
		}
	}
	if p.Allows(role, ns) {
		return nil
	}
	scope := "every namespace"
	if o <= opOffsetMulti {
		scope = "namespace " + strconv.Quote(ns)
	}
	return &apiError{status: http.StatusForbidden, code: gen.ErrorDetailCodePermissionDenied,
		err: fmt.Errorf("%w: %s on %s needs %s token covering it; this %s token does not", auth.ErrForbidden, opNames[o], scope, article(role.String()), p.Role)}
}

// article puts "a" or "an" before a word.
func article(word string) string {
	if word != "" && strings.IndexByte("aeiou", word[0]) >= 0 {
		return "an " + word
	}
	return "a " + word
}

// clientAddr keys the rate limit when there are no tokens: the peer's IP,
// not a forwarded header a client could set.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
