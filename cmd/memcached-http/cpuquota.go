package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/memcached-http/memcached-http/internal/cpuquota"
)

// startCPUAccounting runs a cpuquota.Accountant when this process is under a
// CPU quota and -cpu-quota-tick is not 0, and returns what stops it.
func startCPUAccounting(tick time.Duration, logger *slog.Logger) (stop func()) {
	if tick == 0 {
		return func() {}
	}
	q, ok, err := cpuquota.Find()
	if err != nil {
		logger.Warn("CPU quota not fully read; throttling under one may come in longer pauses", "error", err.Error())
	}
	if !ok {
		return func() {}
	}
	logger.Info("CPU quota", "quota", q.String(), "accounted_every", tick.String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cpuquota.New(q, tick).Run(ctx)
	}()
	return func() { cancel(); <-done }
}
