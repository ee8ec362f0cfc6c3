package handlers

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConns is the default cap of open HTTP connections (-max-conns):
// far above what a cache's clients keep open (a connection pool per client
// process), far below what exhausts memory or file descriptors, whose soft
// limit Go raises to the hard one at start.
const DefaultMaxConns = 4096

// Listener is the service's listener: it caps the open connections, and
// watches the framing of every HTTP/1 connection so that the router can
// refuse a request carrying both Content-Length and Transfer-Encoding
// (RFC 9112 §6.3), which net/http would serve as chunked after silently
// dropping the length. Serve it with an http.Server whose ConnContext is
// ConnContext.
type Listener struct {
	net.Listener
	slots   chan struct{} // one token per open connection
	tls     *tls.Config   // nil: plain HTTP
	timeout time.Duration // a TLS handshake's limit
	ready   chan net.Conn // handshaken TLS connections
	errs    chan error
	done    chan struct{}
	once    sync.Once
}

// NewListener wraps l. Past maxConns open connections (<= 0 means
// DefaultMaxConns) a new connection is closed at once, so the kernel's
// backlog never holds clients waiting for a slot that idle keep-alive
// connections may keep for minutes. With tlsConfig the listener does the
// TLS handshakes itself (within handshakeTimeout): HTTP/2 connections go to
// the server as *tls.Conn, whose streams carry no Transfer-Encoding, and
// HTTP/1 ones are watched like plain ones. tlsConfig must offer h2 and
// http/1.1 in NextProtos for HTTP/2 to be negotiated.
func NewListener(l net.Listener, maxConns int, tlsConfig *tls.Config, handshakeTimeout time.Duration) *Listener {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	ln := &Listener{Listener: l, slots: make(chan struct{}, maxConns), tls: tlsConfig, timeout: handshakeTimeout,
		ready: make(chan net.Conn), errs: make(chan error, 1), done: make(chan struct{})}
	if tlsConfig != nil {
		go ln.handshakes()
	}
	return ln
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	if l.tls == nil {
		c, err := l.acceptCapped()
		if err != nil {
			return nil, err
		}
		return &framedConn{Conn: c}, nil
	}
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *Listener) acceptCapped() (*cappedConn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &cappedConn{Conn: c, slots: l.slots}, nil
		default:
			_ = c.Close() // over the cap: refused
		}
	}
}

// handshakes accepts TCP connections and hands each, once its TLS handshake
// is done, to Accept; a slow handshake holds only its own goroutine.
func (l *Listener) handshakes() {
	for {
		c, err := l.acceptCapped()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
			}
			return
		}
		go func() {
			tc := tls.Server(c, l.tls)
			ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
			err := tc.HandshakeContext(ctx)
			cancel()
			if err != nil {
				_ = tc.Close()
				return
			}
			// net/http serves HTTP/2 only on a *tls.Conn it can see.
			var out net.Conn = tc
			if tc.ConnectionState().NegotiatedProtocol != "h2" {
				out = &framedConn{Conn: tc}
			}
			select {
			case l.ready <- out:
			case <-l.done:
				_ = out.Close()
			}
		}()
	}
}

// cappedConn holds one of the listener's slots until closed.
type cappedConn struct {
	net.Conn
	slots  chan struct{}
	closed atomic.Bool
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	if !c.closed.Swap(true) {
		<-c.slots
	}
	return err
}

// framedConn is an HTTP/1 connection whose request framing is watched.
type framedConn struct {
	net.Conn
	f      framing
	served atomic.Int64 // requests handed to the router so far
}

func (c *framedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.f.feed(p[:n])
	return n, err
}

// closeWriter is what net/http looks for to half-close a connection before
// closing it, so a client still sending gets the answer before a reset.
type closeWriter interface{ CloseWrite() error }

// CloseWrite half-closes the connection where the one inside can.
func (c *framedConn) CloseWrite() error { return closeWrite(c.Conn) }

// ReadFrom keeps net/http's sendfile path (docs assets) on plain TCP.
func (c *framedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the TCP connection.
func (c *cappedConn) CloseWrite() error { return closeWrite(c.Conn) }

// ReadFrom keeps the sendfile path.
func (c *cappedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// lingerClose closes a connection whose request was refused with its body
// still arriving: half-closed first, so the client reads the answer, and
// closed a moment later (net/http's own delay), when a reset can no longer
// overtake the answer.
func lingerClose(c net.Conn) {
	if closeWrite(c) != nil {
		_ = c.Close()
		return
	}
	time.AfterFunc(lingerDelay, func() { _ = c.Close() })
}

// lingerDelay is how long a refused connection stays half-closed.
const lingerDelay = 500 * time.Millisecond

// connKey finds a request's framedConn in its context.
type connKey struct{}

// ConnContext is the http.Server.ConnContext the Listener's connections need.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	switch c := c.(type) {
	case *framedConn:
		return context.WithValue(ctx, connKey{}, c)
	case *replayConn:
		return context.WithValue(ctx, connKey{}, c.framedConn)
	}
	return ctx
}

// errSmuggled refuses a request with both Content-Length and Transfer-Encoding.
var errSmuggled = errors.New("handlers: request carries both Content-Length and Transfer-Encoding")

// ambiguousFraming reports whether the request, the next one served on its
// connection, had both Content-Length and Transfer-Encoding in its head.
func ambiguousFraming(ctx context.Context) bool {
	fc, ok := ctx.Value(connKey{}).(*framedConn)
	if !ok {
		return false
	}
	n := fc.served.Add(1)
	return n == fc.f.ambiguous.Load()
}

// framing follows the HTTP/1 request stream of a connection as net/http
// reads it: heads, bodies by length, chunked bodies. It records the first
// head (numbered from 1) carrying both Content-Length and
// Transfer-Encoding, and stops there (the connection is then refused and
// closed); it also stops at anything net/http itself refuses, since such a
// connection ends with that request.
type framing struct {
	state     uint8
	line      [64]byte // the first bytes of the current line
	n         int
	long      bool // the line is longer than line
	started   bool // a request line was read
	cl, te    bool
	chunked   bool
	length    int64
	remain    int64 // body or chunk bytes still to pass
	heads     int64
	ambiguous atomic.Int64 // the first ambiguous head's number; 0 none
}

const (
	fHead uint8 = iota
	fBody
	fChunkSize
	fChunkData
	fChunkEnd
	fTrailer
	fDone
)

func (f *framing) feed(p []byte) {
	for i := 0; i < len(p) && f.state != fDone; {
		switch f.state {
		case fBody, fChunkData:
			k := int(min(f.remain, int64(len(p)-i)))
			i += k
			f.remain -= int64(k)
			if f.remain == 0 {
				if f.state == fBody {
					f.state = fHead
				} else {
					f.state = fChunkEnd
				}
			}
		default:
			c := p[i]
			i++
			if c == '\n' {
				f.endLine()
				f.n, f.long = 0, false
				continue
			}
			if f.n < len(f.line) {
				f.line[f.n] = c
				f.n++
			} else {
				f.long = true
			}
		}
	}
}

func (f *framing) endLine() {
	line := f.line[:f.n]
	if n := len(line); n > 0 && line[n-1] == '\r' && !f.long {
		line = line[:n-1]
	}
	empty := len(line) == 0 && !f.long
	switch f.state {
	case fHead:
		switch {
		case !f.started && empty: // CRLFs between requests
		case !f.started:
			f.started, f.cl, f.te, f.chunked, f.length = true, false, false, false, 0
		case empty:
			f.started = false
			f.heads++
			switch {
			case f.cl && f.te:
				f.ambiguous.Store(f.heads)
				f.state = fDone
			case f.te && f.chunked:
				f.state = fChunkSize
			case f.te:
				f.state = fDone // refused by net/http
			case f.length > 0:
				f.state, f.remain = fBody, f.length
			}
		default:
			f.header(line)
		}
	case fChunkSize:
		size, ok := hexSize(line)
		switch {
		case !ok || f.long:
			f.state = fDone
		case size == 0:
			f.state = fTrailer
		default:
			f.state, f.remain = fChunkData, size
		}
	case fChunkEnd:
		f.state = fChunkSize
		if !empty {
			f.state = fDone
		}
	case fTrailer:
		if empty {
			f.state = fHead
		}
	}
}

// header notes a Content-Length or Transfer-Encoding field.
func (f *framing) header(line []byte) {
	name, value, ok := cutByte(line, ':')
	if !ok {
		return
	}
	value = trimSpace(value)
	switch {
	case equalFold(name, "Content-Length"):
		f.cl = true
		n, ok := decimal(value)
		if !ok || f.long {
			f.state = fDone // refused by net/http
			return
		}
		f.length = n
	case equalFold(name, "Transfer-Encoding"):
		f.te = true
		f.chunked = !f.long && equalFold(value, "chunked")
	}
}

func cutByte(b []byte, c byte) (before, after []byte, ok bool) {
	for i, x := range b {
		if x == c {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func decimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hexSize reads a chunk-size line: hex digits, then optional extensions.
func hexSize(b []byte) (int64, bool) {
	b, _, _ = cutByte(b, ';')
	b = trimSpace(b)
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}
