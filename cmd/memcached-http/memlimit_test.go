package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSoftMemoryLimitLeavesRoomUnderTheRSSBound(t *testing.T) {
	for limit := int64(64 << 20); limit <= 4<<30; limit *= 2 {
		soft := softMemoryLimit(limit)
		assert.Greater(t, soft, limit+limit/20, "room above the charged bytes for dead page space and garbage")
		// What the runtime does not count: the binary's resident pages
		// (about 13 MiB) and OS thread stacks.
		assert.LessOrEqual(t, soft+16<<20, limit+limit*15/100+32<<20, "limit %d MiB", limit>>20)
	}
}

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestSetSoftMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	gcBefore := gcPercent()
	t.Cleanup(func() { debug.SetMemoryLimit(before); debug.SetGCPercent(gcBefore) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	none := func(string) string { return "" }

	setSoftMemoryLimit(config{store: "memory", memoryLimit: 256 << 20}, none, logger)
	assert.Equal(t, softMemoryLimit(256<<20), debug.SetMemoryLimit(-1), "derived from -memory-limit")
	assert.Equal(t, serverGCPercent, gcPercent(), "under the soft limit, collections paced for a server")

	debug.SetGCPercent(gcBefore)
	gogc := func(name string) string {
		if name == "GOGC" {
			return "50"
		}
		return ""
	}
	setSoftMemoryLimit(config{store: "memory", memoryLimit: 256 << 20}, gogc, logger)
	assert.Equal(t, gcBefore, gcPercent(), "an explicit GOGC, applied by the runtime, wins")

	debug.SetMemoryLimit(before)
	gomemlimit := func(name string) string {
		if name == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}
	setSoftMemoryLimit(config{store: "memory", memoryLimit: 256 << 20}, gomemlimit, logger)
	assert.Equal(t, before, debug.SetMemoryLimit(-1), "an explicit GOMEMLIMIT, applied by the runtime, wins")

	debug.SetGCPercent(gcBefore)
	debug.SetMemoryLimit(before)
	setSoftMemoryLimit(config{store: "redis://127.0.0.1:6379", memoryLimit: 1 << 30}, none, logger)
	assert.Equal(t, int64(redisSoftMemoryLimit), debug.SetMemoryLimit(-1), "a Redis store holds no items here: not -memory-limit")
	assert.Equal(t, serverGCPercent, gcPercent(), "under that limit, the server's GOGC")

	debug.SetGCPercent(gcBefore)
	debug.SetMemoryLimit(before)
	setSoftMemoryLimit(config{store: "redis://127.0.0.1:6379"}, gogc, logger)
	assert.Equal(t, before, debug.SetMemoryLimit(-1), "an explicit GOGC leaves a Redis store's process as the runtime set it")
	assert.Equal(t, gcBefore, gcPercent())
	setSoftMemoryLimit(config{store: "redis://127.0.0.1:6379"}, gomemlimit, logger)
	assert.Equal(t, before, debug.SetMemoryLimit(-1), "and so does an explicit GOMEMLIMIT")
	assert.Equal(t, gcBefore, gcPercent())
}
