package handlers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Front is the HTTP/1.1 transport of a Listener's plain connections for the
// requests a cache client sends: a request line, a head whose headers net/http
// would only pass on, and a body of Content-Length bytes, all already read.
// It builds the *http.Request net/http would and serves it with the server's
// handler, so every rule of the service (routing, guard, metrics, the log
// line, the contract's answers) stays in the handler; what it saves is
// net/http's per-request machinery (the background read goroutine, three
// deadline changes, the header map's clone and sort), which cost as much
// server CPU per GET under load as the whole service. A connection whose
// next request is anything else (a head or body not yet all read, HTTP/1.0,
// HEAD, Expect, Transfer-Encoding, Upgrade, Pragma, a path outside /v1/) is
// handed, with the bytes read so far, to net/http, which serves it from then
// on. TLS connections (HTTP/2 among them) all go to net/http.
type Front struct {
	srv      *http.Server
	handoff  chan net.Conn
	errs     chan error
	closed   chan struct{}
	once     sync.Once
	draining atomic.Bool
	conns    sync.WaitGroup
	mu       sync.Mutex
	live     map[*frontConn]struct{}
	served   atomic.Int64 // requests the front served itself
	handed   atomic.Int64 // connections handed to net/http
	date     atomic.Pointer[dateLine]
}

// watchAfter is how long a request runs before the front starts watching its
// connection for the client going away: a cache answer takes microseconds,
// and watching costs a goroutine and two deadline changes, so only a request
// stuck on the store (a hung Redis) is watched, then canceled if its client
// hangs up.
const watchAfter = 20 * time.Millisecond

// NewFront returns the front of srv, whose Handler, timeouts, ConnContext
// and ErrorLog it uses.
func NewFront(srv *http.Server) *Front {
	return &Front{srv: srv, handoff: make(chan net.Conn), errs: make(chan error, 1),
		closed: make(chan struct{}), live: map[*frontConn]struct{}{}}
}

// Serve serves l until the server is shut down: plain connections through the
// front, TLS ones through net/http alone. It returns what srv.Serve returns.
func (f *Front) Serve(l *Listener) error {
	if l.tls != nil {
		return f.srv.Serve(l)
	}
	go f.accept(l)
	go f.watch()
	return f.srv.Serve(&handoffListener{f: f, l: l})
}

// Shutdown drains both transports: idle connections are closed, a request in
// flight gets its answer with Connection: close. It returns when every
// connection is closed or ctx is done.
func (f *Front) Shutdown(ctx context.Context) error {
	f.beginDrain()
	err := f.srv.Shutdown(ctx)
	done := make(chan struct{})
	go func() { f.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("handlers: drain: %w", ctx.Err())
		}
	}
	return err
}

// Close closes the listener and every connection at once.
func (f *Front) Close() error {
	f.draining.Store(true)
	err := f.srv.Close()
	f.mu.Lock()
	for c := range f.live {
		_ = c.fc.Close()
	}
	f.mu.Unlock()
	return err
}

func (f *Front) beginDrain() {
	f.draining.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.live {
		c.mu.Lock()
		if !c.active {
			_ = c.fc.Close()
		}
		c.mu.Unlock()
	}
}

func (f *Front) accept(l *Listener) {
	for {
		c, err := l.acceptCapped()
		if err != nil {
			select {
			case f.errs <- err:
			case <-f.closed:
			}
			return
		}
		if f.draining.Load() {
			_ = c.Close()
			continue
		}
		fc := &framedConn{Conn: c}
		conn := &frontConn{f: f, fc: fc}
		f.mu.Lock()
		f.live[conn] = struct{}{}
		f.conns.Add(1)
		f.mu.Unlock()
		go conn.serve()
	}
}

// watch starts watching the connections whose request has run longer than
// watchAfter.
func (f *Front) watch() {
	t := time.NewTicker(watchAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-f.closed:
			return
		case now := <-t.C:
			since := now.Add(-watchAfter).UnixNano()
			f.mu.Lock()
			for c := range f.live {
				if st := c.started.Load(); st == 0 || st > since {
					continue
				}
				c.mu.Lock()
				if c.cancel != nil && !c.watching {
					c.watching = true
					c.watched = make(chan struct{})
					go c.watchClient(c.cancel)
				}
				c.mu.Unlock()
			}
			f.mu.Unlock()
		}
	}
}

// handoffListener is what net/http serves: the connections the front hands it.
type handoffListener struct {
	f *Front
	l *Listener
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.f.handoff:
		return c, nil
	case err := <-h.f.errs:
		return nil, err
	case <-h.f.closed:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.f.once.Do(func() { close(h.f.closed) })
	return h.l.Close()
}

func (h *handoffListener) Addr() net.Addr { return h.l.Addr() }

// replayConn is a handed-off connection: the bytes the front read come
// first, then the connection's own, still watched for their framing.
type replayConn struct {
	*framedConn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.framedConn.Read(p)
}

// frontConn is one connection the front serves.
type frontConn struct {
	f  *Front
	fc *framedConn
	br *bufio.Reader
	bw *bufio.Writer
	w  frontWriter
	// body is the request body being served: a slice of br's buffer,
	// which stays put until the request is done.
	body frontBody

	ctx        context.Context // the connection's, as net/http would give it
	remoteAddr string
	readUntil  time.Time // the read deadline last set; zero none
	writeUntil time.Time

	started atomic.Int64 // when the request being served began (UnixNano); 0 between requests

	mu       sync.Mutex // guards what watch reads
	active   bool       // a request is being read or served
	cancel   context.CancelFunc
	watching bool
	watched  chan struct{} // closed when watchClient returns
	peeked   []byte        // a byte watchClient read: the next request's first
	gone     bool          // watchClient saw the client hang up

	refusal error // the next request's refusal, found by parse (badTarget)
}

// Read is the bufio.Reader's source: a byte the watch read, then the
// connection.
func (c *frontConn) Read(p []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(p, c.peeked)
		c.peeked = c.peeked[n:]
		return n, nil
	}
	return c.fc.Read(p)
}

func (c *frontConn) serve() {
	f := c.f
	defer f.conns.Done()
	handedOff := false
	defer func() {
		f.mu.Lock()
		delete(f.live, c)
		f.mu.Unlock()
		if c.br != nil {
			frontReaders.Put(c.br)
			frontWriters.Put(c.bw)
		}
		if !handedOff {
			_ = c.fc.Close()
		}
	}()
	c.remoteAddr = c.fc.RemoteAddr().String()
	ctx := context.WithValue(context.Background(), http.ServerContextKey, f.srv)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.fc.LocalAddr())
	if f.srv.ConnContext != nil {
		ctx = f.srv.ConnContext(ctx, c.fc)
	}
	c.ctx = ctx
	c.br = frontReaders.Get().(*bufio.Reader)
	c.br.Reset(c)
	c.bw = frontWriters.Get().(*bufio.Writer)
	c.bw.Reset(c.fc)
	c.w.c = c
	waiting := false // for the rest of a request
	for {
		if c.br.Buffered() == 0 {
			if c.bw.Buffered() > 0 && c.bw.Flush() != nil {
				return
			}
			if !c.idle() {
				return
			}
			c.setReadDeadline(f.idleTimeout())
			if _, err := c.br.Peek(1); err != nil {
				return
			}
			c.mu.Lock()
			c.active = true
			c.mu.Unlock()
		}
		buf, _ := c.br.Peek(c.br.Buffered())
		req, n, st := c.parse(buf)
		if st == parseMore && len(buf) < c.br.Size() {
			// The rest of a request the front can serve: wait for it as
			// net/http would, within the header timeout from its start.
			if !waiting {
				waiting = true
				c.readUntil = time.Time{}
				if d := f.headerTimeout(); d > 0 {
					c.readUntil = time.Now().Add(d)
				}
				_ = c.fc.SetReadDeadline(c.readUntil)
			}
			// The answers already written go out before the wait: a
			// pipelining client may send the rest only once it has them.
			if c.bw.Buffered() > 0 && c.bw.Flush() != nil {
				return
			}
			if _, err := c.br.Peek(len(buf) + 1); err == nil {
				continue
			}
		}
		waiting = false
		if st != parseOK {
			if c.bw.Buffered() > 0 && c.bw.Flush() != nil {
				return
			}
			handedOff = c.handOff()
			return
		}
		keep := c.serveRequest(req)
		c.body = frontBody{}
		_, _ = c.br.Discard(n)
		if !keep {
			_ = c.bw.Flush()
			return
		}
	}
}

// idle marks the connection idle between requests; false when the server
// drains, and the connection is to close.
func (c *frontConn) idle() bool {
	c.mu.Lock()
	c.active = false
	c.mu.Unlock()
	return !c.f.draining.Load()
}

// handOff gives the connection, with what the front read of it, to net/http.
func (c *frontConn) handOff() bool {
	pending, _ := c.br.Peek(c.br.Buffered())
	rc := &replayConn{framedConn: c.fc, pending: slices.Clone(pending)}
	// net/http sets its own deadlines; the front's must not linger.
	_ = c.fc.SetDeadline(time.Time{})
	c.f.handed.Add(1)
	select {
	case c.f.handoff <- rc:
		return true
	case <-c.f.closed:
		return false
	}
}

// serveRequest runs the handler on req and writes its answer; false when the
// connection is to close after it.
func (c *frontConn) serveRequest(req *http.Request) (keep bool) {
	f := c.f
	f.served.Add(1)
	ctx, cancel := context.WithCancel(c.ctx)
	if c.refusal != nil {
		ctx = context.WithValue(ctx, refusalKey{}, c.refusal)
		c.refusal = nil
	}
	req = req.WithContext(ctx)
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
	c.started.Store(time.Now().UnixNano())
	c.setWriteDeadline(f.srv.WriteTimeout)

	w := &c.w
	w.reset(req)
	defer func() {
		if p := recover(); p != nil {
			keep = false
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				f.logf("http: panic serving %v: %v\n%s", c.remoteAddr, p, buf)
			}
		}
		c.endRequest()
		cancel()
	}()
	f.srv.Handler.ServeHTTP(w, req)
	return w.finish()
}

// endRequest stops the watch of the request, if one started.
func (c *frontConn) endRequest() {
	c.started.Store(0)
	c.mu.Lock()
	c.cancel = nil
	watching := c.watching
	c.mu.Unlock()
	if !watching {
		return
	}
	_ = c.fc.SetReadDeadline(aLongTimeAgo)
	<-c.watched
	_ = c.fc.SetReadDeadline(time.Time{})
	c.readUntil = time.Time{}
	c.mu.Lock()
	c.watching = false
	if c.gone {
		c.w.closeAfter = true
	}
	c.mu.Unlock()
}

var aLongTimeAgo = time.Unix(1, 0)

// watchClient reads the connection while a slow request runs, as net/http's
// background read does: a hang-up cancels the request; a byte read is kept
// as the next request's first.
func (c *frontConn) watchClient(cancel context.CancelFunc) {
	defer close(c.watched)
	var b [1]byte
	n, err := c.fc.Read(b[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > 0 {
		c.peeked = append(c.peeked[:0], b[0])
	}
	// A timeout is the deadline endRequest set to end the watch.
	if ne, ok := errors.AsType[net.Error](err); err != nil && !(ok && ne.Timeout()) {
		c.gone = true
		cancel()
	}
}

// setReadDeadline bounds the wait for the next request (or the rest of
// one). A deadline is moved later only when it would move by more than a
// tenth of d (at most a second): each move is a timer change, and an idle
// connection closed that much early is no harm. It is always moved earlier.
func (c *frontConn) setReadDeadline(d time.Duration) {
	c.readUntil = moveDeadline(c.readUntil, d, c.fc.SetReadDeadline)
}

func (c *frontConn) setWriteDeadline(d time.Duration) {
	c.writeUntil = moveDeadline(c.writeUntil, d, c.fc.SetWriteDeadline)
}

func moveDeadline(until time.Time, d time.Duration, set func(time.Time) error) time.Time {
	if d <= 0 {
		return until
	}
	now := time.Now()
	want := now.Add(d)
	slack := min(d/10, time.Second)
	if !until.IsZero() && !until.After(want) && want.Sub(until) < slack {
		return until
	}
	_ = set(want)
	return want
}

func (f *Front) idleTimeout() time.Duration {
	if d := f.srv.IdleTimeout; d > 0 {
		return d
	}
	return f.srv.ReadTimeout
}

func (f *Front) headerTimeout() time.Duration {
	if d := f.srv.ReadHeaderTimeout; d > 0 {
		return d
	}
	return f.srv.ReadTimeout
}

func (f *Front) logf(format string, args ...any) {
	if f.srv.ErrorLog != nil {
		f.srv.ErrorLog.Printf(format, args...)
	}
}

var (
	frontReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	frontWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// parseState is what parse made of the bytes read.
type parseState uint8

const (
	parseOK   parseState = iota // a whole request the front serves
	parseMore                   // the start of one: its head or body is not all read
	parseNo                     // a request for net/http
)

// parse reads one whole request from buf, n the bytes it takes.
func (c *frontConn) parse(buf []byte) (req *http.Request, n int, st parseState) {
	line, _, found := cutCRLF(buf)
	if !found {
		if len(buf) > 1024 {
			return nil, 0, parseNo
		}
		return nil, 0, parseMore
	}
	method, target, proto, ok := splitRequestLine(line)
	if !ok || proto != "HTTP/1.1" || !strings.HasPrefix(target, "/v1/") {
		return nil, 0, parseNo
	}
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		return nil, 0, parseNo
	}
	end := indexHeadEnd(buf)
	if end < 0 {
		return nil, 0, parseMore
	}
	_, rest, _ := cutCRLF(buf[:end])
	u, badURL := url.ParseRequestURI(target)
	// One backing array for the values, as net/http does.
	lines := bytes.Count(rest, crlf) + 1
	values := make([]string, 0, lines)
	hdr := make(http.Header, lines)
	var host string
	hosts, clen := 0, int64(0)
	haveLen, closeConn := false, false
	for len(rest) > 0 {
		var hl []byte
		hl, rest, _ = cutCRLF(rest)
		name, value, ok := splitHeader(hl)
		if !ok {
			return nil, 0, parseNo
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			hosts++
			host = string(value)
			if hosts > 1 || !validHost(host) {
				return nil, 0, parseNo
			}
			continue
		case "Content-Length":
			v, ok := decimal(value)
			if haveLen || !ok {
				return nil, 0, parseNo
			}
			haveLen, clen = true, v
		case "Connection":
			switch {
			case equalFold(value, "close"):
				closeConn = true
			case equalFold(value, "keep-alive"):
			default:
				return nil, 0, parseNo
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer", "Http2-Settings", "Pragma", "Keep-Alive":
			// net/http acts on these itself.
			return nil, 0, parseNo
		}
		values = append(values, string(value))
		if vs, ok := hdr[key]; ok {
			hdr[key] = append(vs, values[len(values)-1])
		} else {
			hdr[key] = values[len(values)-1 : len(values) : len(values)]
		}
	}
	if hosts == 0 {
		return nil, 0, parseNo
	}
	if badURL != nil {
		// A request the front would serve but for its target: refused by
		// the service in its error shape, where net/http answers plain
		// text. The connection closes after it, the body unread.
		c.refusal = badTarget(method, target, badURL)
		return &http.Request{Method: method, URL: &url.URL{Path: "/"}, Proto: proto, ProtoMajor: 1, ProtoMinor: 1,
			Header: hdr, Body: http.NoBody, Host: host, RemoteAddr: c.remoteAddr, RequestURI: target, Close: true}, end + 4, parseOK
	}
	n = end + 4
	if clen > int64(c.br.Size()-n) {
		return nil, 0, parseNo // a body bigger than the front's buffer
	}
	if clen > int64(len(buf)-n) {
		return nil, 0, parseMore // the body is not all here
	}
	body := buf[n : n+int(clen)]
	n += int(clen)
	req = &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        hdr,
		ContentLength: clen,
		Host:          host,
		RemoteAddr:    c.remoteAddr,
		RequestURI:    target,
		Close:         closeConn,
		Body:          http.NoBody,
	}
	if clen > 0 {
		c.body = frontBody{b: body}
		req.Body = &c.body
	}
	return req, n, parseOK
}

// frontBody is a request body the front holds whole.
type frontBody struct {
	b      []byte
	closed bool
}

func (b *frontBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if len(b.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.b)
	b.b = b.b[n:]
	return n, nil
}

func (b *frontBody) Close() error {
	b.closed = true
	return nil
}

var (
	crlf     = []byte("\r\n")
	headEnd  = []byte("\r\n\r\n")
	tokenSet = byteSet("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	hostSet  = byteSet("-._~:[]!$&'()*+,;=%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
)

func byteSet(s string) (set [256]bool) {
	for i := 0; i < len(s); i++ {
		set[s[i]] = true
	}
	return set
}

func indexHeadEnd(b []byte) int { return bytes.Index(b, headEnd) }

func cutCRLF(b []byte) (line, rest []byte, found bool) {
	if i := bytes.Index(b, crlf); i >= 0 {
		return b[:i], b[i+2:], true
	}
	return b, nil, false
}

func splitRequestLine(line []byte) (method, target, proto string, ok bool) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return "", "", "", false
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || sp2 != bytes.LastIndexByte(rest, ' ') {
		return "", "", "", false
	}
	for _, b := range line {
		if b < ' ' || b == 0x7f {
			return "", "", "", false
		}
	}
	return internMethod(line[:sp1]), string(rest[:sp2]), internProto(rest[sp2+1:]), true
}

func internMethod(b []byte) string {
	for _, m := range [...]string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if string(b) == m {
			return m
		}
	}
	return string(b)
}

func internProto(b []byte) string {
	if string(b) == "HTTP/1.1" {
		return "HTTP/1.1"
	}
	return string(b)
}

// splitHeader splits a header line as net/http reads it: a token, a colon,
// the value without surrounding blanks; a value must hold no control
// character but a tab. Anything else is not the front's to serve (net/http
// answers 400 or reads an obsolete folded line).
func splitHeader(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, b := range name {
		if !isTokenByte(b) {
			return nil, nil, false
		}
	}
	value = line[colon+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	for _, b := range value {
		if (b < ' ' && b != '\t') || b == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

func isTokenByte(b byte) bool { return tokenSet[b] }

// commonKeys are the header names a cache client sends, canonical, so that
// reading them allocates nothing.
var commonKeys = [...]string{"Host", "User-Agent", "Accept", "Accept-Encoding", "Content-Type",
	"Content-Length", "Connection", "Authorization", "X-Request-Id", "If-Match", "If-None-Match", "Origin"}

func canonicalKey(name []byte) string {
	for _, k := range commonKeys {
		if equalFold(name, k) {
			if string(name) == k {
				return k
			}
			break
		}
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostSet[h[i]] {
			return false
		}
	}
	return true
}

// frontWriter is the http.ResponseWriter of the front's requests. The head
// is rendered when the status is written (later header changes are ignored,
// as net/http ignores them); the body is held until the handler returns and
// sent with its Content-Length, or, past frontStreamAt or at a Flush, sent
// as it comes (chunked unless the handler set a Content-Length).
type frontWriter struct {
	c          *frontConn
	header     http.Header
	status     int
	head       []byte
	out        []byte  // the body held until the handler returns
	outp       *[]byte // the pooled buffer out lives in
	hasType    bool
	hasDate    bool
	declared   int64 // the handler's Content-Length; -1 none
	written    int64
	streaming  bool
	chunked    bool
	closeAfter bool
}

// frontStreamAt is the body size past which the front stops holding an
// answer and streams it.
const frontStreamAt = 64 << 10

func (w *frontWriter) reset(req *http.Request) {
	if w.header == nil {
		w.header = make(http.Header, 8)
	} else {
		clear(w.header)
	}
	w.status = 0
	w.head = w.head[:0]
	w.releaseOut()
	w.hasType, w.hasDate = false, false
	w.declared, w.written = -1, 0
	w.streaming, w.chunked = false, false
	w.closeAfter = req.Close || w.c.f.draining.Load()
}

func (w *frontWriter) Header() http.Header { return w.header }

func (w *frontWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		return // no interim answers on the front's requests
	}
	w.status = code
	h := w.header
	if v := h["Connection"]; len(v) > 0 && strings.EqualFold(v[0], "close") {
		w.closeAfter = true
	}
	if v := h["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			w.declared = n
		}
	}
	_, w.hasType = h["Content-Type"]
	_, w.hasDate = h["Date"]
	w.head = appendStatusLine(w.head, code)
	keys := make([]string, 0, 12)
	for k := range h {
		switch k {
		case "Connection", "Content-Length", "Transfer-Encoding", "Date":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validHeaderName(k) {
			continue
		}
		for _, v := range h[k] {
			w.head = append(w.head, k...)
			w.head = append(w.head, ": "...)
			w.head = appendHeaderValue(w.head, v)
			w.head = append(w.head, "\r\n"...)
		}
	}
	if w.hasDate {
		for _, v := range h["Date"] {
			w.head = append(w.head, "Date: "...)
			w.head = appendHeaderValue(w.head, v)
			w.head = append(w.head, "\r\n"...)
		}
	}
}

func (w *frontWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.streaming {
		return len(p), w.send(p)
	}
	if w.outp == nil {
		// The body's buffer is the pool's: an idle connection holds none.
		w.outp = getBuf()
		w.out = (*w.outp)[:0]
	}
	w.out = append(w.out, p...)
	if len(w.out) > frontStreamAt {
		if err := w.startStream(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush sends what the handler wrote so far.
func (w *frontWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.streaming && w.startStream() != nil {
		return
	}
	_ = w.c.bw.Flush()
}

func (w *frontWriter) startStream() error {
	w.streaming = true
	w.chunked = w.declared < 0 && bodyAllowed(w.status)
	head := w.endHead(w.head, -1)
	if _, err := w.c.bw.Write(head); err != nil {
		return err
	}
	body := w.out
	w.out = w.out[:0]
	return w.send(body)
}

func (w *frontWriter) send(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	bw := w.c.bw
	if w.chunked {
		var size [16]byte
		_, _ = bw.Write(strconv.AppendInt(size[:0], int64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
	}
	if _, err := bw.Write(p); err != nil {
		return err
	}
	if w.chunked {
		_, err := bw.WriteString("\r\n")
		return err
	}
	return nil
}

// endHead appends the headers the front adds (Content-Type by sniffing, as
// net/http; Date; Content-Length when known; Connection) and the blank line.
func (w *frontWriter) endHead(b []byte, length int64) []byte {
	if !w.hasType && bodyAllowed(w.status) && len(w.out) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.out)...)
		b = append(b, "\r\n"...)
	}
	if w.closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = append(b, w.c.f.dateNow()...)
		b = append(b, "\r\n"...)
	}
	switch {
	case w.declared >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.declared, 10)
		b = append(b, "\r\n"...)
	case w.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case length >= 0 && bodyAllowed(w.status):
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// finish sends the answer; false when the connection is to close.
func (w *frontWriter) finish() bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.c.f.draining.Load() {
		w.closeAfter = true // the server drains: this is the last answer
	}
	bw := w.c.bw
	if w.streaming {
		if w.chunked {
			_, _ = bw.WriteString("0\r\n\r\n")
		}
	} else {
		w.head = w.endHead(w.head, int64(len(w.out)))
		if bodyAllowed(w.status) {
			if len(w.head)+len(w.out) > bw.Available() && len(w.out) > 0 {
				// One write for an answer bigger than the buffer.
				if bw.Flush() != nil {
					return false
				}
				one := getBuf()
				*one = append(append((*one)[:0], w.head...), w.out...)
				_, err := w.c.fc.Write(*one)
				putBuf(one)
				w.releaseOut()
				return err == nil && w.keep()
			}
			_, _ = bw.Write(w.head)
			_, _ = bw.Write(w.out)
		} else {
			_, _ = bw.Write(w.head)
		}
	}
	w.releaseOut()
	return w.keep()
}

func (w *frontWriter) releaseOut() {
	if w.outp != nil {
		*w.outp = w.out[:0]
		putBuf(w.outp)
		w.outp = nil
	}
	w.out = nil
}

func (w *frontWriter) keep() bool {
	if w.declared >= 0 && w.written != w.declared {
		return false // net/http closes a connection whose answer fell short
	}
	return !w.closeAfter
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199) && status != http.StatusNoContent && status != http.StatusNotModified
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// appendHeaderValue writes v as net/http does: newlines as spaces, trimmed.
func appendHeaderValue(b []byte, v string) []byte {
	v = textproto.TrimString(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

// dateLine is the Date header of one second.
type dateLine struct {
	sec int64
	b   []byte
}

func (f *Front) dateNow() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := f.date.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &dateLine{sec: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	f.date.Store(d)
	return d.b
}
