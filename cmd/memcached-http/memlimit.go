package main

import (
	"log/slog"
	"runtime/debug"
)

// softMemoryLimit is the Go runtime's soft memory limit for a -memory-limit
// of limit bytes: the limit, a tenth more for dead space in the engine's
// pages, request bodies in flight (requestMemory) and garbage not yet
// collected, and 10 MiB for the runtime itself. Under it the garbage
// collector runs as often as it must to keep the heap there, rather than
// letting it double (GOGC=100) past what was charged; the binary's own
// resident pages (about 13 MiB) come on top, within Bound's 32 MiB.
func softMemoryLimit(limit int64) int64 { return limit + limit/10 + 10<<20 }

// setSoftMemoryLimit applies softMemoryLimit to the embedded store's limit.
// A GOMEMLIMIT in the environment, which the runtime has already applied,
// wins. A Redis store holds no items here: its process gets
// redisSoftMemoryLimit, under which it too collects at serverGCPercent.
func setSoftMemoryLimit(c config, getenv func(string) string, logger *slog.Logger) {
	if c.store != "memory" {
		if getenv("GOMEMLIMIT") != "" || getenv("GOGC") != "" {
			return // the operator's settings, which the runtime applied
		}
		debug.SetMemoryLimit(redisSoftMemoryLimit)
		debug.SetGCPercent(serverGCPercent)
		logger.Info("soft memory limit", "source", "Redis store", "bytes", redisSoftMemoryLimit)
		return
	}
	if v := getenv("GOMEMLIMIT"); v != "" {
		logger.Info("soft memory limit", "source", "GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	soft := softMemoryLimit(c.memoryLimit)
	debug.SetMemoryLimit(soft)
	logger.Info("soft memory limit", "source", "memory-limit", "bytes", soft)
	if getenv("GOGC") == "" {
		// Under the soft limit, GOGC only paces the collections of a heap
		// far below it: requests' garbage over a small cache. At 100 that
		// was a collection every few MiB, ten a second under load, each a
		// stall in the tail of latency; the limit, not GOGC, bounds memory.
		debug.SetGCPercent(serverGCPercent)
	}
}

// serverGCPercent is the GOGC when none is set: a PUT's p99 under wrk fell
// 4.4 → 4.1 ms against the default in interleaved runs with the embedded
// store; over Redis, where the collector took 5 % of the server's CPU at
// GOGC=100, a set cost 5-8 % less CPU.
const serverGCPercent = 400

// redisSoftMemoryLimit is the soft memory limit of a process whose items
// are in Redis, so that serverGCPercent never lets garbage grow the heap
// past it: what is live there is requests in flight and the batched
// bookkeeping, a few MiB under load.
const redisSoftMemoryLimit = 256 << 20

// requestMemory is how much the request bodies being served may take at
// once with the embedded store: a sixteenth of -memory-limit, at least 8 MiB,
// so the soft limit's room above the cache is not spent on a burst of
// large batches. Redis holds the items elsewhere, so it is not bounded.
func requestMemory(c config) int64 {
	if c.store != "memory" {
		return 0
	}
	return max(8<<20, c.memoryLimit/16)
}
