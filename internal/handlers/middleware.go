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
)

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

// requestID is the client's id when it is sane, otherwise a new one.
func requestID(r *http.Request) string {
	if ids := r.Header[requestIDHeader]; len(ids) > 0 && saneRequestID(ids[0]) {
		return ids[0]
	}
	return newRequestID()
}

// observe counts an answered request by operation and status and writes
// its one JSON log line. Neither the Authorization header nor the query is
// logged.
func (s *service) observe(ww *statusWriter, r *http.Request, elapsed time.Duration) {
	status := ww.status
	if status == 0 {
		status = http.StatusOK
	}
	if clientGone(r) {
		// Whatever the handler made of it (a store call cut short,
		// a body cut off), nobody received an answer.
		status = statusClientClosedRequest
	}
	o := ww.m.op
	s.mx.Observe(int(o), status, elapsed)
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	// Checked first so a disabled level costs no attribute building.
	if !s.logger.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", ww.id[0]),
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
	s.logger.LogAttrs(r.Context(), level, "request", attrs...)
}

// statusWriter records the status and body size observe reports. It carries
// the X-Request-Id header's value slice and the request's classification,
// so one allocation serves all three. Like
// chi's wrapper it forwards only the first final status (a late error after
// a partial body cannot rewrite it), and Unwrap lets http.ResponseController
// reach the connection.
type statusWriter struct {
	http.ResponseWriter
	status  int   // the first final status written; 0 until then
	bytes   int   // body bytes written
	err     error // the error answered, with its full chain, for the log line
	id      [1]string
	m       match // the request's row, classified once
	refused bool  // answered before its body was read: the connection closes
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
// rate limit, from the operation's row alone: it runs after CORS, so
// preflights (which carry no token) are answered before it, and before any
// body byte is read.
type guard struct {
	tokens  *auth.Tokens          // nil or empty: authentication is off
	limiter *httprate.RateLimiter // nil: no rate limit
	over    error                 // the answer over the rate limit
	roles   [numOps]auth.Role     // routes' roles, /metrics public with Config.MetricsPublic
}

func newGuard(cfg Config) *guard {
	g := &guard{tokens: cfg.Tokens}
	for o, rt := range routes {
		g.roles[o] = rt.role
	}
	if cfg.MetricsPublic {
		g.roles[opGetMetrics] = 0
	}
	if cfg.RateLimit > 0 {
		g.limiter = httprate.NewRateLimiter(cfg.RateLimit, cfg.RateWindow)
		g.over = &apiError{status: http.StatusTooManyRequests, code: gen.ErrorDetailCodeRateLimited,
			reason: fmt.Sprintf("rate limit of %d requests per %s exceeded", cfg.RateLimit, cfg.RateWindow),
			err:    fmt.Errorf("handlers: rate limit of %d requests per %s exceeded", cfg.RateLimit, cfg.RateWindow)}
	}
	return g
}

// errBadNamespace refuses a namespace that does not unescape; without
// knowing the namespace, no scope can cover it.
var errBadNamespace = errors.New("handlers: namespace is not percent-encoded correctly")

// errTwoAuthorizations refuses a request with more than one Authorization
// header: which one counts would be a guess, and proxies may disagree.
var errTwoAuthorizations = errors.New("handlers: more than one Authorization header")

// allow reports whether the request may go on; when not, it has answered.
// Without a valid token the answer is 401, out of role or namespace 403,
// and either counts against the client address's rate limit, so guessing
// tokens is limited like any other traffic.
func (g *guard) allow(w http.ResponseWriter, r *http.Request, m *match) bool {
	role := g.roles[m.op]
	if role == 0 || !g.tokens.Enabled() && g.limiter == nil {
		return true
	}
	var limitKey string
	if g.tokens.Enabled() {
		p, err := g.authenticate(r.Header["Authorization"])
		if err == nil {
			err = authorize(p, role, m)
		}
		if err != nil {
			if g.limited(w, r, addrKey(r)) {
				return false
			}
			refuseBody(w, r)
			if errors.Is(err, auth.ErrForbidden) {
				writeError(w, r, err)
				return false
			}
			challenge := `Bearer realm="memcached-http"`
			switch {
			case errors.Is(err, errTwoAuthorizations):
				challenge += `, error="invalid_request"`
			case errors.Is(err, auth.ErrBadToken):
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, r, err)
			return false
		}
		limitKey = "token " + p.ID
	}
	if limitKey == "" {
		limitKey = addrKey(r)
	}
	return !g.limited(w, r, limitKey)
}

// authenticate finds the principal of the request's one Authorization header.
func (g *guard) authenticate(headers []string) (*auth.Principal, error) {
	var p *auth.Principal
	var err error
	switch {
	case len(headers) > 1:
		err = errTwoAuthorizations
	case len(headers) == 1:
		p, err = g.tokens.Authenticate(headers[0])
	default:
		p, err = g.tokens.Authenticate("")
	}
	if err != nil {
		reason := "invalid bearer token"
		switch {
		case errors.Is(err, auth.ErrNoToken):
			reason = "no bearer token"
		case errors.Is(err, errTwoAuthorizations):
			reason = "more than one Authorization header"
		}
		return nil, &apiError{status: http.StatusUnauthorized, code: gen.ErrorDetailCodeUnauthenticated,
			reason: reason, err: fmt.Errorf("handlers: %w", err)}
	}
	return p, nil
}

// limited counts the request against key's rate limit and reports whether
// it was over it (and answered 429).
func (g *guard) limited(w http.ResponseWriter, r *http.Request, key string) bool {
	if g.limiter == nil || !g.limiter.OnLimit(w, r, key) {
		return false
	}
	refuseBody(w, r)
	writeError(w, r, g.over)
	return true
}

// addrKey is the rate limit key of the client's address.
func addrKey(r *http.Request) string { return "addr " + clientAddr(r) }

// authorize checks p's role and namespaces against a request's row: a key
// or batch operation (perNS) names one namespace, the others touch every
// namespace.
func authorize(p *auth.Principal, role auth.Role, m *match) error {
	perNS := routes[m.op].perNS
	ns := auth.AllNamespaces
	if perNS {
		ns = m.ns
		if strings.IndexByte(ns, '%') >= 0 {
			var err error
			if ns, err = url.PathUnescape(ns); err != nil {
				return &apiError{status: http.StatusForbidden, code: gen.ErrorDetailCodePermissionDenied, field: "namespace",
					reason: "permission denied: namespace is not percent-encoded correctly",
					err:    fmt.Errorf("%w: %w", auth.ErrForbidden, errBadNamespace)}
			}
		}
	}
	if p.Allows(role, ns) {
		return nil
	}
	scope := "every namespace"
	if perNS {
		scope = "namespace " + strconv.Quote(ns)
	}
	why := fmt.Sprintf("%s on %s needs %s token covering it; this %s token does not",
		opNames[m.op], scope, article(role.String()), p.Role)
	return &apiError{status: http.StatusForbidden, code: gen.ErrorDetailCodePermissionDenied,
		reason: "permission denied: " + why, err: fmt.Errorf("%w: %s", auth.ErrForbidden, why)}
}

// article puts "a" or "an" before a word.
func article(word string) string {
	if word != "" && strings.IndexByte("aeiou", word[0]) >= 0 {
		return "an " + word
	}
	return "a " + word
}

// clientAddr keys the rate limit of requests without a valid token: the
// peer's IP, not a forwarded header a client could set.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
