package cache

// Counters are the embedded engine's lifetime counters, for monitoring. Unlike
// Stats they are never reset, not even by FlushAll, so they can be exported
// as Prometheus counters.
type Counters struct {
	Evictions   uint64 // live items removed to make room for a write
	Expirations uint64 // expired items reclaimed (on access, by a write's scan, by Stats or by the sweeper)
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
