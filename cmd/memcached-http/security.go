package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/memcached-http/memcached-http/internal/auth"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// tokensEnv holds token lines separated by ';'. It is read from the
// environment only: a token on the command line would show in ps.
const tokensEnv = "MEMCACHED_HTTP_TOKENS"

// loadTokens reads the token file and the tokens of the environment; with
// neither, the returned set is empty and authentication is off.
func loadTokens(c config) (*auth.Tokens, error) {
	var tokens auth.Tokens
	if c.authFile != "" {
		f, err := os.Open(c.authFile)
		if err != nil {
			return nil, fmt.Errorf("memcached-http: -auth-file: %w", err)
		}
		defer f.Close()
		if err := tokens.Parse(c.authFile, f); err != nil {
			return nil, fmt.Errorf("memcached-http: -auth-file: %w", err)
		}
	}
	if c.tokens != "" {
		if err := tokens.ParseList(tokensEnv, c.tokens); err != nil {
			return nil, fmt.Errorf("memcached-http: %w", err)
		}
	}
	return &tokens, nil
}

// checkExposure refuses to serve the cache without authentication on an
// address other machines can reach, unless -insecure says that is intended.
func checkExposure(addr string, authOn, insecure bool) error {
	if authOn || insecure {
		return nil
	}
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return fmt.Errorf("memcached-http: -addr %s: %w", addr, err)
	}
	if tcp.IP != nil && tcp.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("memcached-http: refusing to listen on %s without authentication: anyone who can reach it could read, "+
		"overwrite and flush the cache. Configure tokens (-auth-file or %s), listen on loopback (-addr 127.0.0.1:8080), "+
		"or start with -insecure to serve it open on purpose", addr, tokensEnv)
}

// newServer is the http.Server of c: its timeouts bound what a slow or
// stalled client can hold, and with a certificate it speaks TLS and HTTP/2.
func newServer(c config, h http.Handler, logger *slog.Logger) (*http.Server, error) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.readHeaderTimeout,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       handlers.ConnContext,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("memcached-http: -tls-cert/-tls-key: %w", err)
		}
		// h2 first, so clients that can get HTTP/2.
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			NextProtos: []string{"h2", "http/1.1"}}
	}
	return srv, nil
}
