package main

import (
	"log/slog"
	"runtime/debug"
)

// softMemoryLimit is the Go runtime's soft memory limit for a -memory-limit
// of limit bytes: the limit, a tenth more for dead space in the engine's
// pages and for garbage not yet collected, and 16 MiB for the runtime
// itself and requests in flight. Under it the garbage collector runs as
// often as it must to keep the heap there, rather than letting it double
// (GOGC=100) past what was charged.
func softMemoryLimit(limit int64) int64 { return limit + limit/10 + 16<<20 }

// setSoftMemoryLimit applies softMemoryLimit to the embedded store's limit.
// A GOMEMLIMIT in the environment, which the runtime has already applied,
// wins; a Redis store holds no items here, so the runtime's default stays.
func setSoftMemoryLimit(c config, getenv func(string) string, logger *slog.Logger) {
	if c.store != "memory" {
		return
	}
	if v := getenv("GOMEMLIMIT"); v != "" {
		logger.Info("soft memory limit", "source", "GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	soft := softMemoryLimit(c.memoryLimit)
	debug.SetMemoryLimit(soft)
	logger.Info("soft memory limit", "source", "memory-limit", "bytes", soft)
}
