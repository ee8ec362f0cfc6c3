package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// fixedHandler answers every request with the same body: the ceiling of what
// any Go net/http server can do on this machine, against which memcached-http's
// own cost is measured.
func fixedHandler(size int) http.Handler {
	body := valueBytes(size)
	length := []string{strconv.Itoa(size)}
	ctype := []string{"application/octet-stream"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Direct map writes skip Header.Set's canonicalisation, as a tuned
		// handler would.
		h["Content-Length"] = length
		h["Content-Type"] = ctype
		_, _ = w.Write(body)
	})
}

// serveFixed listens on addr, prints the URL to out once it is reachable,
// and serves the fixed body until ctx ends.
func serveFixed(ctx context.Context, addr string, size int, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("memcached-bench: serve-fixed: %w", err)
	}
	srv := &http.Server{Handler: fixedHandler(size), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("memcached-bench: serve-fixed: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("memcached-bench: serve-fixed shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("memcached-bench: serve-fixed: %w", err)
	}
	return nil
}
