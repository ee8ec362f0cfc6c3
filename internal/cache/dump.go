package cache

import (
	"fmt"
	"slices"
	"sync/atomic"
	"unsafe"
)

// Record is one item or delete lock as a snapshot holds it: everything a
// restart must keep. The engine hands records out through VisitShard and
// takes them back through Restore; the file format is the snapshot
// package's business.
type Record struct {
	Namespace, Name []byte
	Value           []byte // nil for a delete lock
	Kind            Kind
	Flags           uint32
	CAS             uint64
	Expires         int64 // Unix second; 0 = never
	Access          int64 // Unix second of the last read or write
	Lock            bool  // a delete lock, not an item
	// The meta protocol's marks of an item: read since written (mg h),
	// marked stale (mg X), recache lease handed out (mg W).
	Fetched, Stale, Lease bool
}

// ShardCount is the number of lock stripes; VisitShard takes 0 ≤ i < ShardCount.
func (m *Memory) ShardCount() int { return len(m.shards) }

// ShardIndex is the shard, 0 ≤ i < ShardCount, that holds the key
// namespace/name.
func (m *Memory) ShardIndex(namespace, name []byte) int {
	return int(m.hash(Key{
		Namespace: unsafe.String(unsafe.SliceData(namespace), len(namespace)),
		Name:      unsafe.String(unsafe.SliceData(name), len(name)),
	}) >> m.shift)
}

// CASHighWater is at least every CAS id the store has handed out.
func (m *Memory) CASHighWater() uint64 { return m.cas.Load() }

// NowUnix is the Unix second by the store's clock.
func (m *Memory) NowUnix() int64 { return m.nowSecond() }

// VisitShard calls fn with every live item and delete lock of shard i,
// holding that shard's lock, and no other, for the whole visit: the records
// of one shard are one point in time, and writers wait for this shard only.
// A record's byte slices alias the store and are valid only during fn,
// which must not call the store.
func (m *Memory) VisitShard(i int, fn func(*Record)) {
	s := m.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := m.nowSecond()
	var r Record
	for j := range s.slots {
		sl := &s.slots[j]
		st := sl.state & stateMask
		if st == stateFree || sl.expired(now) {
			continue
		}
		r.Namespace, r.Name = s.keyOf(sl)
		r.Value, r.Lock = nil, st == stateLock
		if !r.Lock {
			r.Value = s.valueOf(sl)
		}
		r.Kind, r.Flags, r.CAS, r.Expires = sl.kind, sl.flags, sl.cas(), sl.expires()
		r.Access = m.base + int64(sl.access)
		r.Fetched, r.Stale, r.Lease = sl.state&fetchedBit != 0, sl.state&staleBit != 0, sl.state&leaseBit != 0
		fn(&r)
	}
}

// Restore stores rec as it was, CAS id, expiry and access time included,
// into a store that is not serving yet. It reports whether it stored rec and
// how many restored records it evicted to make room for it. A
// record that expired by the store's clock, or whose value is over the value
// limit, is skipped; one that does not fit its shard evicts what was
// restored longest ago, so records restored in ascending Access order keep
// the most recently used. A key restored twice keeps its last record. Stats
// and counters stay as they were: what Restore drops was never served. A
// record no store could hold is refused with ErrInvalidArgument.
func (m *Memory) Restore(rec *Record, now int64) (stored bool, evicted int, err error) {
	key, ok, err := m.checkRecord(rec, now, false)
	if err != nil || !ok {
		return false, 0, err
	}
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	counters := s.counters
	s.restoreLocked(m, h, key, rec, now, false)
	evicted = int(s.counters.Evictions - counters.Evictions)
	s.counters = counters
	return true, evicted, nil
}

// RestoreCounts says what RestoreShard did with a batch of records.
type RestoreCounts struct {
	Items, Locks int // stored
	Skipped      int // expired by the store's clock, or over the value limit
	Evicted      int // restored ones dropped to make room, least recently restored first
}

// RestoreShard is Restore of a batch of records, all of shard i (see
// ShardIndex) and in ascending Access order, under one acquisition of that
// shard's lock: a load's bulk path. Slot array and index are sized for the
// whole batch first, and the memory limit is checked once for the batch;
// only a batch that does not fit evicts, record by record, what was
// restored longest ago. A record of another shard, or one Restore would
// refuse, fails the batch with ErrInvalidArgument; the records before it
// stay stored.
func (m *Memory) RestoreShard(i int, recs []Record, now int64) (c RestoreCounts, err error) {
	s := m.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	// Pre-size, within what the budget can hold, so the batch grows
	// nothing step by step.
	room := max(0, min(len(recs), int(s.budget/ItemOverhead)-len(s.slots)))
	s.slots = slices.Grow(s.slots, room)
	for (s.idx.n+room)*100 > len(s.idx.entries)*maxLoadPercent {
		s.idx.grow()
	}
	var need int64
	for j := range recs {
		need += chargeOf(len(recs[j].Namespace) + len(recs[j].Name) + len(recs[j].Value))
	}
	fits := s.used+need <= s.budget
	counters := s.counters
	defer func() {
		c.Evicted = int(s.counters.Evictions - counters.Evictions)
		s.counters = counters
	}()
	var hs [prefetchBatch]uint64
	var valid []byte // the namespace of the last record that passed its checks
	for start := 0; start < len(recs); start += prefetchBatch {
		chunk := recs[start:min(start+prefetchBatch, len(recs))]
		for j := range chunk {
			hs[j] = m.hash(recordKey(&chunk[j]))
		}
		s.prefetchLocked(hs[:len(chunk)])
		for j := range chunk {
			rec := &chunk[j]
			key, ok, err := m.checkRecord(rec, now, valid != nil && string(rec.Namespace) == string(valid))
			if err != nil {
				return c, err
			}
			valid = rec.Namespace
			if !ok {
				c.Skipped++
				continue
			}
			if int(hs[j]>>m.shift) != i {
				return c, fmt.Errorf("%w: restore: key %q of namespace %q is not of shard %d", ErrInvalidArgument, rec.Name, rec.Namespace, i)
			}
			s.restoreLocked(m, hs[j], key, rec, now, fits)
			if rec.Lock {
				c.Locks++
			} else {
				c.Items++
			}
		}
	}
	return c, nil
}

// prefetchBatch is how many index positions RestoreShard loads ahead.
const prefetchBatch = 64

// prefetchSink keeps the loads of prefetchLocked from being optimised away.
var prefetchSink atomic.Uint64

// prefetchLocked loads the index positions where the keys hashing to hs
// start their probes. The loads are independent, so the CPU overlaps their
// cache misses, where lookup and insert one key at a time wait for each in
// turn: in a large index nearly every restored key misses the caches.
func (s *shard) prefetchLocked(hs []uint64) {
	x := &s.idx
	if len(x.entries) == 0 {
		return
	}
	var sum uint64
	for _, h := range hs {
		p := x.home(uint32(h))
		sum += x.entries[p] + uint64(x.offs[p])
	}
	prefetchSink.Add(sum)
}

// recordKey is the key of rec, aliasing its bytes.
func recordKey(rec *Record) Key {
	return Key{
		Namespace: unsafe.String(unsafe.SliceData(rec.Namespace), len(rec.Namespace)),
		Name:      unsafe.String(unsafe.SliceData(rec.Name), len(rec.Name)),
	}
}

// checkRecord validates rec and returns its key, aliasing rec's bytes, and
// whether it is to be stored: false for one expired by now or over the
// value limit. nsValid says rec's namespace already passed (a batch's
// records mostly share one), so only the name is checked.
func (m *Memory) checkRecord(rec *Record, now int64, nsValid bool) (Key, bool, error) {
	key := recordKey(rec)
	if nsValid {
		if len(key.Name) == 0 || len(key.Name) > MaxKeyBytes {
			return key, false, fmt.Errorf("%w: restore: key %q in namespace %q", ErrInvalidArgument, rec.Name, rec.Namespace)
		}
	} else if k, err := NewBinaryKey(key.Namespace, key.Name); err != nil || len(key.Namespace) == 0 || k.Namespace != key.Namespace {
		// Binary: names the memcached listener stored need not be UTF-8.
		return key, false, fmt.Errorf("%w: restore: key %q in namespace %q", ErrInvalidArgument, rec.Name, rec.Namespace)
	}
	switch {
	case rec.Kind > KindBytes:
		return key, false, fmt.Errorf("%w: restore: key %q: unknown kind %d", ErrInvalidArgument, rec.Name, rec.Kind)
	case rec.Lock && (len(rec.Value) > 0 || rec.Expires == 0 || rec.Fetched || rec.Stale || rec.Lease):
		return key, false, fmt.Errorf("%w: restore: key %q: a delete lock with a value, an item mark or no end", ErrInvalidArgument, rec.Name)
	case rec.Expires < 0 || rec.Expires > maxAbsoluteSeconds:
		return key, false, fmt.Errorf("%w: restore: key %q: expiry %d out of range", ErrInvalidArgument, rec.Name, rec.Expires)
	case rec.Expires != 0 && rec.Expires <= now, len(rec.Value) > m.maxValue:
		return key, false, nil
	}
	return key, true, nil
}

// restoreLocked stores rec under key, hashing to h, replacing an earlier
// record of the key and evicting what was restored longest ago while it
// does not fit, unless fits says the caller checked that it does. The
// caller keeps the shard's counters.
func (s *shard) restoreLocked(m *Memory, h uint64, key Key, rec *Record, now int64, fits bool) {
	if i := s.lookupLocked(h, key.Namespace, key.Name); i != nilSlot {
		s.removeLocked(i, h)
	}
	if !fits {
		r := reading{sec: now, exact: true}
		s.makeRoomLocked(m, chargeOf(len(key.Namespace)+len(key.Name)+len(rec.Value)), &r)
	}
	state := stateItem
	switch {
	case rec.Lock:
		state = stateLock
	case rec.Fetched:
		state |= fetchedBit
	}
	if rec.Stale {
		state |= staleBit
	}
	if rec.Lease {
		state |= leaseBit
	}
	i := s.insertLocked(m, h, key.Namespace, key.Name, rec.Value, state)
	sl := &s.slots[i]
	sl.setCAS(rec.CAS)
	sl.setExpires(rec.Expires)
	sl.flags, sl.kind, sl.access = rec.Flags, rec.Kind, m.tick(rec.Access)
}

// Reserve makes room for n more items or locks spread over the shards, as
// far as the memory limit lets them in, so a restore does not grow slot
// arrays and indexes step by step (each growth copies what is there).
func (m *Memory) Reserve(n int) {
	for _, s := range m.shards {
		s.mu.Lock()
		per := min(n/len(m.shards)*9/8+16, int(s.budget/ItemOverhead))
		s.slots = slices.Grow(s.slots, per)
		for (s.idx.n+per)*100 > len(s.idx.entries)*maxLoadPercent {
			s.idx.grow()
		}
		s.mu.Unlock()
	}
}

// ContinueCAS makes every CAS id handed out from now on larger than id, so
// an id a client kept from before a restart never names a newer write.
func (m *Memory) ContinueCAS(id uint64) {
	for {
		cur := m.cas.Load()
		if cur >= id || m.cas.CompareAndSwap(cur, id) {
			break
		}
	}
	for _, s := range m.shards {
		s.mu.Lock()
		s.casNext = s.casEnd // the next write takes a fresh block above id
		s.mu.Unlock()
	}
}
