package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/memcached"
)

// memcachedFace is the running memcached listener.
type memcachedFace struct {
	srv  *memcached.Server
	done chan error
}

// served reports the listener's end; a nil face never ends.
func (m *memcachedFace) served() <-chan error {
	if m == nil {
		return nil
	}
	return m.done
}

// checkMemcachedExposure refuses a memcached listener other machines can
// reach in the clear: the text protocol has no authentication, so only TLS
// or an explicit -insecure allow it.
func checkMemcachedExposure(c config) error {
	if c.memcachedAddr == "" || c.memcachedTLS || c.insecure {
		return nil
	}
	tcp, err := net.ResolveTCPAddr("tcp", c.memcachedAddr)
	if err != nil {
		return fmt.Errorf("memcached-http: -memcached-addr %s: %w", c.memcachedAddr, err)
	}
	if tcp.IP != nil && tcp.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("memcached-http: refusing to serve the memcached protocols on %s: they have no authentication, so anyone "+
		"who can reach it could read, overwrite and flush the cache. Listen on loopback (-memcached-addr 127.0.0.1:11211), "+
		"serve TLS (-memcached-tls with -tls-cert and -tls-key), or start with -insecure to serve it open on purpose", c.memcachedAddr)
}

// startMemcached starts the memcached listener -memcached-addr asks for
// (nil without one).
func startMemcached(c config, store cache.Store, logger *slog.Logger) (*memcachedFace, error) {
	if c.memcachedAddr == "" {
		return nil, nil
	}
	limit := c.memoryLimit
	if c.store != "memory" {
		limit = 0 // Redis' maxmemory applies, which this process does not know
	}
	srv, err := memcached.New(store, memcached.Config{
		Namespace:    c.memcachedNamespace,
		MaxConns:     c.memcachedMaxConns,
		MaxValueSize: c.maxValueSize,
		// Large values in flight get the bound HTTP bodies get (its own
		// budget of that size); 0 over Redis takes the listener's default.
		MaxPendingBytes: requestMemory(c),
		MemoryLimit:     limit,
		Logger:          logger,
	})
	if err != nil {
		return nil, fmt.Errorf("memcached-http: -memcached-namespace: %w", err)
	}
	ln, err := net.Listen("tcp", c.memcachedAddr)
	if err != nil {
		return nil, fmt.Errorf("memcached-http: -memcached-addr: %w", err)
	}
	if c.memcachedTLS {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("memcached-http: -tls-cert/-tls-key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
	}
	m := &memcachedFace{srv: srv, done: make(chan error, 1)}
	go func() { m.done <- srv.Serve(ln) }()
	logger.Info("memcached listening", "addr", ln.Addr().String(), "tls", c.memcachedTLS, "namespace", c.memcachedNamespace)
	return m, nil
}
