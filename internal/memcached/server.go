// Package memcached serves memcached's text and meta protocols (memcached
// 1.6's doc/protocol.txt) over a cache.Store, the same store the HTTP API
// serves, so memcached clients and tools share one cache with it.
//
// The layout follows memcached's proto_text.c: a connection reads a line,
// looks its command up in one dispatch table (text.go and meta.go hold one
// function per command) and answers; what a store outcome is called on the
// wire is decided in one place (outcome.go). The store never sees a socket.
//
// Guards: a cap on open connections (beyond it a client gets "SERVER_ERROR
// too many open connections" and is closed, as memcached does), a longest
// command line, a largest value (bigger ones are answered "SERVER_ERROR
// object too large for cache" and skipped, the connection stays usable),
// and a bound on the value bytes buffered at once over all connections.
package memcached

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// Defaults of Config.
const (
	// DefaultMaxConns is the connection cap, memcached's own default (-c).
	DefaultMaxConns = 1024
	// DefaultMaxLineBytes bounds a command line: room for a get of about 250
	// keys of the longest size.
	DefaultMaxLineBytes = 64 << 10
	// DefaultMaxPendingBytes bounds the value bytes held at once, over all
	// connections, between reading a large value and storing it.
	DefaultMaxPendingBytes = 64 << 20
	// Version is what the version command and stats report: the protocol
	// level this face speaks, then this server's name.
	Version = "1.6.0-memcached-http"
)

// Buffer sizes per connection. A value that fits the read buffer is stored
// straight from it, without a copy.
const (
	readBufSize  = 16 << 10
	writeBufSize = 16 << 10
)

// Config configures a Server; zero fields take the defaults.
type Config struct {
	// Namespace is the App Engine namespace memcached keys live in; "" is
	// App Engine's empty namespace, the one HTTP calls default.
	Namespace       string
	MaxConns        int   // open connections at once; default DefaultMaxConns
	MaxLineBytes    int   // longest command line; default DefaultMaxLineBytes
	MaxValueSize    int   // largest value; default cache.DefaultMaxValueSize
	MaxPendingBytes int64 // value bytes buffered at once; default DefaultMaxPendingBytes
	MemoryLimit     int64 // the store's memory limit, reported as limit_maxbytes; 0 = unknown
	// IdleTimeout closes a connection that sends nothing for that long;
	// 0 keeps idle connections open, as memcached does by default.
	IdleTimeout time.Duration
	Logger      *slog.Logger
	Clock       func() time.Time // for stats uptime and time; default time.Now
}

// Server serves the memcached protocols on listeners.
type Server struct {
	store   cache.Store
	cfg     Config
	ns      string // the namespace as keys carry it
	started time.Time
	stats   *Stats
	pending atomic.Int64 // value bytes buffered now

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	flushMu    sync.Mutex
	flushTimer *time.Timer // a delayed flush_all waiting to run

	ctx    context.Context // cancelled by Close: store calls of closed connections end
	cancel context.CancelFunc
}

// New returns a Server over store.
func New(store cache.Store, cfg Config) (*Server, error) {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.MaxValueSize <= 0 {
		cfg.MaxValueSize = cache.DefaultMaxValueSize
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	// The namespace is checked, and spelled as the store keys it, once.
	k, err := cache.NewBinaryKey(cfg.Namespace, "k")
	if err != nil {
		return nil, fmt.Errorf("memcached: namespace %q: %w", cfg.Namespace, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		store:   store,
		cfg:     cfg,
		ns:      k.Namespace,
		started: cfg.Clock(),
		stats:   newStats(),
		lns:     map[net.Listener]struct{}{},
		conns:   map[net.Conn]struct{}{},
		ctx:     ctx,
		cancel:  cancel,
	}, nil
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("memcached: server closed")

// Serve accepts connections on ln until Close, serving each on its own
// goroutine. It returns ErrServerClosed after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait, then go on.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("memcached: accept", "err", err, "retry_in", backoff.String())
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("memcached: accept: %w", err)
		}
		backoff = 0
		if !s.admit(nc) {
			continue
		}
		s.wg.Go(func() { s.serveConn(nc) })
	}
}

// isTemporary reports accept errors worth retrying, such as running out of
// file descriptors.
func isTemporary(err error) bool {
	type temporary interface {
		error
		Temporary() bool
	}
	t, ok := errors.AsType[temporary](err)
	return ok && t.Temporary()
}

// admit registers nc unless the server is closed or at its connection cap;
// a refused client is told why, as memcached tells it, and closed.
func (s *Server) admit(nc net.Conn) bool {
	s.mu.Lock()
	full := len(s.conns) >= s.cfg.MaxConns
	if !s.closed && !full {
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.stats.connOpened()
		return true
	}
	s.mu.Unlock()
	if full {
		s.stats.rejected.Add(1)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write([]byte("SERVER_ERROR too many open connections\r\n"))
	}
	_ = nc.Close()
	return false
}

// Close stops every listener, closes every connection (a command being
// answered is cut off) and waits for their goroutines. memcached clients
// retry on another connection, so there is no draining.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		_ = ln.Close()
	}
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.flushMu.Lock()
	if s.flushTimer != nil {
		s.flushTimer.Stop()
	}
	s.flushMu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats returns the server's counters, for monitoring.
func (s *Server) Stats() *Stats { return s.stats }

func (s *Server) serveConn(nc net.Conn) {
	c := &conn{
		srv: s,
		nc:  nc,
		r:   bufio.NewReaderSize(nc, readBufSize),
		w:   bufio.NewWriterSize(nc, writeBufSize),
	}
	defer func() {
		// A bug in one command must not take the whole server down: the
		// connection closes, the panic is logged and counted.
		if p := recover(); p != nil {
			s.stats.panics.Add(1)
			s.cfg.Logger.Error("memcached: connection panicked", "panic", fmt.Sprint(p), "remote", nc.RemoteAddr().String())
		}
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		_ = nc.Close()
		s.stats.currConns.Add(-1)
	}()
	c.serve()
}
