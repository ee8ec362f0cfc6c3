package cache

import "context"

// Counters are the embedded engine's lifetime counters, for monitoring. Unlike
// Stats they are never reset, not even by FlushAll, so they can be exported
// as Prometheus counters.
type Counters struct {
	Evictions   uint64 // live items removed to make room for a write
	Expirations uint64 // expired items reclaimed (on access, by a write's scan, by Stats or by the sweeper)
}

// MemoryUsage is what the embedded engine holds against its memory limit.
type MemoryUsage struct {
	Limit   int64 // Options.MemoryLimit (or its default)
	Charged int64 // bytes charged by the items and delete locks held, at most Limit
}

// MemoryUsage sums the charged bytes over every shard, one shard lock at a time.
func (m *Memory) MemoryUsage() MemoryUsage {
	u := MemoryUsage{Limit: m.limit}
	for _, s := range m.shards {
		s.mu.Lock()
		u.Charged += s.used
		s.mu.Unlock()
	}
	return u
}

// Counters sums the engine's counters over every shard, one shard lock at a time.
func (m *Memory) Counters() Counters {
	var c Counters
	for _, s := range m.shards {
		s.mu.Lock()
		c.Evictions += s.counters.Evictions
		c.Expirations += s.counters.Expirations
		s.mu.Unlock()
	}
	return c
}

// expireLocked frees slot i, which has expired, and counts it when it was an
// item (a delete lock running out is not an expiration of data).
func (s *shard) expireLocked(i int32, h uint64) {
	if s.slots[i].state&stateMask == stateItem {
		s.counters.Expirations++
	}
	s.removeLocked(i, h)
}

// Counts sums the counters every shard keeps as it runs: one short lock per
// shard and no scan, so probes and metric scrapes may call it as often as
// they like. Unlike Stats, Items and Bytes still include expired items that
// nothing has reclaimed yet (the sweeper reclaims a bounded batch per shard
// each second).
func (m *Memory) Counts(context.Context) (Counts, error) {
	var c Counts
	for _, s := range m.shards {
		s.mu.Lock()
		c.Hits += s.hits
		c.Misses += s.misses
		c.ByteHits += s.byteHits
		c.Items += s.items
		c.Bytes += s.itemBytes
		s.mu.Unlock()
	}
	return c, nil
}

// Ping reports the embedded store ready: it has nothing to reach.
func (m *Memory) Ping(context.Context) error { return nil }
