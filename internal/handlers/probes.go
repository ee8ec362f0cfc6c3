package handlers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// Ready answers the readiness probe: ready when the store answers within
// cfg.ReadyTimeout. A store that offers Ping (cache.Monitored: both stores
// here) is pinged, which costs the same however many items it holds; any
// other is asked for Stats. The call runs apart from the probe, since a
// store may not honour its context, and a probe must answer in time either way.
func (s *Server) Ready(ctx context.Context, _ gen.ReadyRequestObject) (gen.ReadyResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		if m, ok := s.store.(cache.Monitored); ok {
			done <- m.Ping(ctx)
			return
		}
		_, err := s.store.Stats(ctx)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return nil, &apiError{status: http.StatusServiceUnavailable, code: gen.ErrorDetailCodeUnavailable,
			reason: "store not ready", err: fmt.Errorf("handlers: store not ready: %w", err)}
	}
	return gen.Ready200JSONResponse{Ok: gen.HealthOkTrue}, nil
}
