package cache

import (
	"sync"
	"unsafe"
)

// Slot states. The low bits say what a slot holds; segProtected marks items
// in the protected LRU segment and referenced items read since they last
// moved between segments.
const (
	stateFree    uint8 = 0
	stateItem    uint8 = 1
	stateLock    uint8 = 2
	stateMask    uint8 = 3
	segProtected uint8 = 4
	referenced   uint8 = 8
)

const (
	// nilSlot means no slot: it ends the LRU lists and the free list.
	nilSlot int32 = -1
	// evictScan is how many slots a write looks at for expired items before
	// it evicts a live one, so expired items go first at O(1) cost.
	evictScan = 16
	// protectedPercent caps the protected segment, which holds items read
	// while in probation; new items enter probation, so a scan of new keys
	// only ever evicts other unread items.
	protectedPercent = 80
	// casBlock is how many CAS ids a shard takes from the store's counter
	// at a time: one atomic add per block instead of one per write.
	casBlock = 1 << 10
)

// slot is one item or delete lock. It holds no pointers, so the garbage
// collector never scans the slot arrays however many items they hold; key
// and value bytes live in the shard's arena at off (see arena.go):
// namespace, key name, value, back to back.
//
// The 64-bit CAS id and expiry are split into 32-bit halves so the struct
// is 4-byte aligned and takes 44 bytes instead of 48.
type slot struct {
	casLo, casHi uint32
	expLo, expHi uint32 // Unix seconds; 0 = never
	off          uint32 // where the namespace starts: a page position or bigBit|big index
	valLen       uint32
	flags        uint32
	access       uint32 // seconds since Memory.base of the last access
	prev, next   int32  // LRU neighbours; next also links the free list
	nsLen        uint8
	keyLen       uint8
	kind         Kind
	state        uint8
}

func (sl *slot) cas() uint64 { return uint64(sl.casHi)<<32 | uint64(sl.casLo) }

func (sl *slot) setCAS(v uint64) { sl.casLo, sl.casHi = uint32(v), uint32(v>>32) }

func (sl *slot) expires() int64 { return int64(uint64(sl.expHi)<<32 | uint64(sl.expLo)) }

func (sl *slot) setExpires(v int64) { sl.expLo, sl.expHi = uint32(v), uint32(uint64(v)>>32) }

func (sl *slot) dataLen() int { return int(sl.nsLen) + int(sl.keyLen) + int(sl.valLen) }

// size is what the slot is charged against the memory limit.
func (sl *slot) size() int64 { return chargeOf(sl.dataLen()) }

func (sl *slot) expired(now int64) bool {
	exp := sl.expires()
	return exp != 0 && now >= exp
}

type list struct{ head, tail int32 }

// shard is one lock stripe of the embedded store.
type shard struct {
	shardState
	// Padding to 512 bytes gives each shard an allocation of its own,
	// aligned to cache lines, so the counters one core writes at the end of
	// a shard never share a line with the mutex of the next; a shardState
	// grown past 512 bytes stops the build here.
	_ [512 - unsafe.Sizeof(shardState{})]byte
}

// shardState is the data of a shard; shard pads it to whole cache lines.
type shardState struct {
	mu sync.Mutex // guards every field below

	idx   index // key fingerprint → slot
	slots []slot
	free  int32 // head of the free slot list
	// The arena (arena.go): fixed-size pages of small items, the head page
	// being filled, empty pages, and big items' own allocations.
	pages     []page
	head      int32
	freePages []int32
	small     int // live record bytes in pages
	big       [][]byte
	bigFree   []uint32
	live      int   // item bytes referenced by slots in use
	used      int64 // bytes charged against budget
	budget    int64
	lists     [2]list // [0] probation, [1] protected; head is most recent
	protUsed  int64   // bytes charged by the protected segment
	cursor    int32   // next slot the expiry scan looks at

	hits, misses, byteHits uint64
	// items and itemBytes follow every insert and removal, so Counts reads
	// them without a scan; like Stats.Items they count items, not locks,
	// but also expired items not reclaimed yet.
	items, itemBytes uint64
	counters         Counters // never reset: Prometheus counters only grow

	// casNext is the last CAS id the shard handed out, from the block
	// (casEnd-casBlock, casEnd] it took from Memory.cas; never reset, so
	// ids keep increasing across FlushAll.
	casNext, casEnd uint64

	// warm is what warmLocked last loaded, summed; nothing reads it.
	warm uint64
}

func newShard(budget int64) *shard {
	s := &shard{shardState: shardState{budget: budget}}
	s.resetLocked()
	return s
}

// resetLocked empties the shard, releasing its memory.
func (s *shard) resetLocked() {
	s.idx = index{}
	s.slots = nil
	s.free = nilSlot
	s.pages, s.head, s.freePages, s.small = nil, -1, nil, 0
	s.big, s.bigFree = nil, nil
	s.live = 0
	s.used = 0
	s.lists = [2]list{{nilSlot, nilSlot}, {nilSlot, nilSlot}}
	s.protUsed = 0
	s.cursor = 0
	s.hits, s.misses, s.byteHits = 0, 0, 0
	s.items, s.itemBytes = 0, 0
}

// nextCASLocked returns a CAS id no item of any shard has had: blocks
// taken from Memory.cas never overlap, and within its block a shard counts
// up under its own lock. Ids of one key therefore keep increasing (a key
// stays in its shard); ids of keys in different shards are not ordered.
func (s *shard) nextCASLocked(m *Memory) uint64 {
	if s.casNext == s.casEnd {
		s.casEnd = m.cas.Add(casBlock)
		s.casNext = s.casEnd - casBlock
	}
	s.casNext++
	return s.casNext
}

func (s *shard) keyOf(sl *slot) (ns, name []byte) {
	b := s.dataOf(sl)
	return b[:sl.nsLen], b[sl.nsLen : int(sl.nsLen)+int(sl.keyLen)]
}

func (s *shard) valueOf(sl *slot) []byte {
	return s.dataOf(sl)[int(sl.nsLen)+int(sl.keyLen):]
}

// lookupLocked returns the slot holding key (live, expired or locked), or
// nilSlot. Slots whose fingerprint matches are told apart by their key
// bytes, found from the offset the index keeps: the arena load does not wait
// for the slot load, so at scale their cache misses overlap.
func (s *shard) lookupLocked(h uint64, ns, name string) int32 {
	x := &s.idx
	if len(x.entries) == 0 {
		return nilSlot
	}
	fp, mask := uint32(h), len(x.entries)-1
	n := len(ns) + len(name)
	for p := x.home(fp); ; p = (p + 1) & mask {
		e := x.entries[p]
		if e == 0 {
			return nilSlot
		}
		if entryFP(e) != fp {
			continue
		}
		i := entrySlot(e)
		// A stored key shorter than the one sought may end its page.
		k, ok := s.bytesAt(x.offs[p], n)
		if !ok {
			continue
		}
		sl := &s.slots[i]
		if string(k[len(ns):]) == name && string(k[:len(ns)]) == ns &&
			int(sl.nsLen) == len(ns) && int(sl.keyLen) == len(name) {
			return i
		}
	}
}

// warmLocked loads, for the keys of group (indexes into hs, their hashes),
// first their home index positions and then the slots and key bytes those
// name, before any key is looked up. The loads of different keys do not
// depend on one another, so the CPU waits for their cache misses together,
// not key after key: with 10 k items the lookups of a 100-key batchGet
// took 28 % of its CPU, mostly waiting on them (20.5 % with this). The sum kept in s.warm stops
// the compiler from dropping loads whose values are otherwise unused.
func (s *shard) warmLocked(hs *[readBatchPart]uint64, group []uint8) {
	x := &s.idx
	if len(group) < 2 || len(x.entries) == 0 {
		return
	}
	var sum uint64
	for _, j := range group {
		p := x.home(uint32(hs[j]))
		sum += x.entries[p] + uint64(x.offs[p])
	}
	for _, j := range group {
		p := x.home(uint32(hs[j]))
		if e := x.entries[p]; e != 0 && entryFP(e) == uint32(hs[j]) {
			sum += uint64(s.slots[entrySlot(e)].valLen)
			if k, ok := s.bytesAt(x.offs[p], 1); ok {
				sum += uint64(k[0])
			}
		}
	}
	s.warm = sum
}

func (s *shard) pushFrontLocked(i int32) {
	sl := &s.slots[i]
	seg := 0
	if sl.state&segProtected != 0 {
		seg = 1
		s.protUsed += sl.size()
	}
	l := &s.lists[seg]
	sl.prev, sl.next = nilSlot, l.head
	if l.head != nilSlot {
		s.slots[l.head].prev = i
	} else {
		l.tail = i
	}
	l.head = i
}

func (s *shard) unlinkLocked(i int32) {
	sl := &s.slots[i]
	seg := 0
	if sl.state&segProtected != 0 {
		seg = 1
		s.protUsed -= sl.size()
	}
	l := &s.lists[seg]
	if sl.prev != nilSlot {
		s.slots[sl.prev].next = sl.next
	} else {
		l.head = sl.next
	}
	if sl.next != nilSlot {
		s.slots[sl.next].prev = sl.prev
	} else {
		l.tail = sl.prev
	}
	sl.prev, sl.next = nilSlot, nilSlot
}

// touchLocked records a read by setting the slot's referenced bit; it
// touches no neighbours, so a read of a cold item costs no extra cache
// misses. Eviction gives referenced items a second chance in the protected
// segment (segmented CLOCK, an approximation of segmented LRU).
func (s *shard) touchLocked(i int32, tick uint32) {
	s.slots[i].access = tick
	s.slots[i].state |= referenced | fetchedBit
}

// balanceLocked shrinks the protected segment to its share: unreferenced
// items at its tail move to the probation head, referenced ones lose the bit
// and go round once more. Each step clears a bit or demotes, so it ends.
func (s *shard) balanceLocked() {
	limit := s.budget * protectedPercent / 100
	for s.protUsed > limit {
		t := s.lists[1].tail
		sl := &s.slots[t]
		s.unlinkLocked(t)
		if sl.state&referenced != 0 {
			sl.state &^= referenced
		} else {
			sl.state &^= segProtected
		}
		s.pushFrontLocked(t)
	}
}

// removeLocked frees slot i, whose key hashes to h.
func (s *shard) removeLocked(i int32, h uint64) {
	sl := &s.slots[i]
	s.idx.remove(uint32(h), i)
	s.unlinkLocked(i)
	s.used -= sl.size()
	if sl.state&stateMask == stateItem {
		s.items--
		s.itemBytes -= uint64(sl.keyLen) + uint64(sl.valLen)
	}
	s.freeLocked(sl)
	*sl = slot{state: stateFree, next: s.free, prev: nilSlot}
	s.free = i
}

// makeRoomLocked evicts until need more bytes fit in the budget: expired
// slots near the scan cursor first, then from the probation tail (the
// protected tail once probation is empty). A referenced victim is spared
// once: it loses the bit and moves to the protected head. Every step evicts
// or clears a bit, so the cost is amortised O(1) per write. The caller has
// checked that need fits an empty shard.
func (s *shard) makeRoomLocked(m *Memory, need int64, r *reading) {
	if s.used+need > s.budget {
		s.reclaimExpiredLocked(m, m.exactSecond(r), evictScan)
	}
	for s.used+need > s.budget {
		seg := 0
		if s.lists[0].tail == nilSlot {
			seg = 1
		}
		v := s.lists[seg].tail
		if v == nilSlot {
			return
		}
		sl := &s.slots[v]
		if sl.state&referenced == 0 {
			s.counters.Evictions++
			s.removeLocked(v, m.hashSlot(s, sl))
			continue
		}
		s.unlinkLocked(v)
		sl.state = sl.state&^referenced | segProtected
		s.pushFrontLocked(v)
		if seg == 0 {
			s.balanceLocked()
		}
	}
}

// reclaimExpiredLocked looks at up to n slots from the cursor and frees the
// expired ones; it returns how many it freed.
func (s *shard) reclaimExpiredLocked(m *Memory, now int64, n int) int {
	freed := 0
	for range min(n, len(s.slots)) {
		if int(s.cursor) >= len(s.slots) {
			s.cursor = 0
		}
		i := s.cursor
		s.cursor++
		sl := &s.slots[i]
		if sl.state&stateMask != stateFree && sl.expired(now) {
			s.expireLocked(i, m.hashSlot(s, sl))
			freed++
		}
	}
	return freed
}

func (s *shard) allocSlotLocked() int32 {
	if s.free != nilSlot {
		i := s.free
		s.free = s.slots[i].next
		return i
	}
	s.slots = append(s.slots, slot{state: stateFree, prev: nilSlot, next: nilSlot})
	return int32(len(s.slots) - 1)
}

// insertLocked stores a new slot for key at the probation head. The caller
// has made room for it.
func (s *shard) insertLocked(m *Memory, h uint64, ns, name string, value []byte, state uint8) int32 {
	i := s.allocSlotLocked()
	off := s.allocLocked(m, len(ns)+len(name)+len(value), i)
	sl := &s.slots[i]
	*sl = slot{
		off:    off,
		valLen: uint32(len(value)),
		nsLen:  uint8(len(ns)),
		keyLen: uint8(len(name)),
		state:  state,
	}
	b := s.dataOf(sl)
	copy(b[copy(b, ns):], name)
	copy(b[len(ns)+len(name):], value)
	p := s.idx.insert(uint32(h), i) // may grow offs, so index it after
	s.idx.offs[p] = off
	s.used += sl.size()
	if state&stateMask == stateItem {
		s.items++
		s.itemBytes += uint64(len(name)) + uint64(len(value))
	}
	s.pushFrontLocked(i)
	return i
}

// rewriteLocked replaces the value of live item i. A value that fits the
// old space is written in place; a longer one moves to a fresh slot.
// It returns the slot now holding the item.
func (s *shard) rewriteLocked(m *Memory, i int32, h uint64, ns, name string, value []byte, r *reading) int32 {
	sl := &s.slots[i]
	// In place when the value fits and the charge can follow it: a small
	// item shrinks its record, a big one keeps its size class.
	if n := int(sl.nsLen) + int(sl.keyLen) + len(value); len(value) <= int(sl.valLen) &&
		(sl.off&bigBit == 0 || n > smallMax && storedLen(n) == storedLen(sl.dataLen())) {
		shrink := int(sl.valLen) - len(value)
		old := sl.size()
		copy(s.valueOf(sl), value)
		s.shrinkLocked(sl, shrink)
		sl.valLen = uint32(len(value))
		s.used -= old - sl.size()
		s.itemBytes -= uint64(shrink)
		if sl.state&segProtected != 0 {
			s.protUsed -= old - sl.size()
		}
		// A write is an access: the item moves to the head of its segment
		// and, as on a read, is marked referenced, so an item written often
		// (a counter) is spared by eviction and moves to the protected
		// segment instead of leaving with the unread items of probation.
		sl.state |= referenced
		s.unlinkLocked(i)
		s.pushFrontLocked(i)
		return i
	}
	keep := *sl
	s.removeLocked(i, h)
	s.makeRoomLocked(m, chargeOf(len(ns)+len(name)+len(value)), r)
	j := s.insertLocked(m, h, ns, name, value, stateItem|referenced|keep.state&segProtected)
	sl = &s.slots[j]
	sl.casLo, sl.casHi, sl.expLo, sl.expHi = keep.casLo, keep.casHi, keep.expLo, keep.expHi
	sl.flags, sl.kind, sl.access = keep.flags, keep.kind, keep.access
	if keep.state&segProtected != 0 {
		s.balanceLocked()
	}
	return j
}
