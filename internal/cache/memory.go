package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// ItemOverhead is the bytes charged per item or delete lock on top of its
	// namespace, key and value bytes: the 44-byte slot, its index position
	// with the item's arena offset (12 bytes a position, 15 to 30 bytes an
	// item between the table's 80 % and 40 % load, about 28 on average; the
	// table is not charged apart, TestIndexAndSlotsStayWithinTheirCharge
	// holds the two together), its 8-byte
	// page record header, and the average spare room of the growing slot
	// slices and of the pages. BenchmarkItemOverhead measures about 94 heap
	// bytes per small item beyond its namespace, key and value, so the
	// memory limit tracks the real heap. Items over 2 KiB are charged their
	// allocation's size class instead of their length (see chargeOf).
	ItemOverhead = 96
	// DefaultMemoryLimit is the memory limit when Options.MemoryLimit is 0.
	DefaultMemoryLimit = 64 << 20
	// DefaultMaxValueSize is the value limit when Options.MaxValueSize is 0.
	DefaultMaxValueSize = 1 << 20
	// maxShardBudget keeps page numbers below bigBit's 15 bits: a shard's
	// pages stay within about 1.11× its budget (arena.go).
	maxShardBudget = 1 << 30
	// maxShards bounds the default shard count.
	maxShards = 1024
	// sweepInterval is how often the background sweeper runs.
	sweepInterval = time.Second
	// sweepBatch bounds the slots one sweep looks at per shard, so a sweep
	// holds each shard lock only briefly.
	sweepBatch = 1024
)

// Options configures the embedded store; zero values take the defaults.
type Options struct {
	MemoryLimit  int64            // bytes counted over key, value and per-item overhead; default 64 MiB
	MaxValueSize int              // largest value in bytes; default 1 MiB (1 << 20)
	Clock        func() time.Time // nil: NewMemory's wall time plus the monotonic time since; tests inject a fake
	Shards       int              // power of two; default chosen from GOMAXPROCS
}

// Memory is the embedded TTL+LRU store: lock-striped shards of pointer-free
// slots, with key and value bytes in per-shard arenas.
type Memory struct {
	clock    func() time.Time // Options.Clock; nil reads start and the monotonic clock
	start    time.Time        // wall and monotonic reading at NewMemory
	startNS  int64            // start as Unix nanoseconds
	maxValue int
	limit    int64
	seed     maphash.Seed
	shift    uint // top bits of a key hash pick its shard
	shards   []*shard
	base     int64        // Unix second that access ticks count from
	coarse   atomic.Int64 // Unix second of the last sweep; unused with Options.Clock
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
	// cas is the end of the last block of CAS ids handed to a shard; never
	// reset. A shard takes a block once per casBlock writes, so the line
	// it shares with the fields every Get reads is rarely written.
	cas atomic.Uint64
}

var _ Store = (*Memory)(nil)

// NewMemory returns the embedded TTL+LRU store. Close stops its background sweeper.
func NewMemory(opts Options) (*Memory, error) {
	limit, maxValue, shards := opts.MemoryLimit, opts.MaxValueSize, opts.Shards
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: memory limit %d is negative", ErrInvalidArgument, limit)
	case maxValue < 0:
		return nil, fmt.Errorf("%w: max value size %d is negative", ErrInvalidArgument, maxValue)
	case shards < 0 || bits.OnesCount(uint(shards)) > 1:
		return nil, fmt.Errorf("%w: shards %d is not a power of two", ErrInvalidArgument, shards)
	}
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	if maxValue == 0 {
		maxValue = DefaultMaxValueSize
	}
	// The largest item must fit one shard, or values below the value limit
	// could never be stored.
	maxItem := chargeOf(MaxNamespaceLen + MaxKeyBytes + maxValue)
	if limit < maxItem {
		return nil, fmt.Errorf("%w: memory limit %d is below the largest item (%d bytes)", ErrInvalidArgument, limit, maxItem)
	}
	if shards == 0 {
		shards = defaultShards(limit, maxItem)
	}
	budget := limit / int64(shards)
	switch {
	case budget < maxItem:
		return nil, fmt.Errorf("%w: %d shards leave %d bytes each, below the largest item (%d bytes)", ErrInvalidArgument, shards, budget, maxItem)
	case budget > maxShardBudget:
		return nil, fmt.Errorf("%w: %d shards leave %d bytes each, above %d", ErrInvalidArgument, shards, budget, maxShardBudget)
	}
	m := &Memory{
		clock:    opts.Clock,
		start:    time.Now(),
		maxValue: maxValue,
		limit:    limit,
		seed:     maphash.MakeSeed(),
		shift:    uint(64 - bits.TrailingZeros(uint(shards))),
		shards:   make([]*shard, shards),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	m.startNS = m.start.UnixNano()
	m.base = m.now().Unix()
	m.coarse.Store(m.base)
	for i := range m.shards {
		m.shards[i] = newShard(budget)
	}
	go m.sweep()
	return m, nil
}

// defaultShards picks 16 shards per CPU, fewer when a shard would hold less
// than two of the largest items, more when a shard would exceed maxShardBudget.
func defaultShards(limit, maxItem int64) int {
	n := 1 << bits.Len(uint(16*runtime.GOMAXPROCS(0)-1))
	n = min(n, maxShards)
	for n > 1 && limit/int64(n) < 2*maxItem {
		n /= 2
	}
	for limit/int64(n) > maxShardBudget {
		n *= 2
	}
	return n
}

// hash is the hash of a key: one pass of the runtime's own hash over the
// namespace and the name, as a map[Key] would compute it.
func (m *Memory) hash(k Key) uint64 { return maphash.Comparable(m.seed, k) }

// hashSlot recomputes the hash of the key stored in sl. Its strings alias
// the arena only for the call, made under the shard lock, so hashing a
// stored key copies nothing and allocates nothing.
func (m *Memory) hashSlot(s *shard, sl *slot) uint64 {
	ns, name := s.keyOf(sl)
	return m.hash(Key{
		Namespace: unsafe.String(unsafe.SliceData(ns), len(ns)),
		Name:      unsafe.String(unsafe.SliceData(name), len(name)),
	})
}

// now is the store's time. Without Options.Clock it is the wall time read at
// NewMemory plus the monotonic time elapsed since, as memcached keeps process
// start plus a monotonic clock: time.Since on a monotonic reading costs one
// clock read where time.Now costs two, and expiry then follows the monotonic
// clock, not later steps of the wall clock (NTP corrections, manual changes).
// The result carries no monotonic reading: the store only needs its Unix
// time, and time.Unix builds that in a quarter of the time Time.Add took in
// a Set's profile.
func (m *Memory) now() time.Time {
	if m.clock != nil {
		return m.clock()
	}
	return time.Unix(0, m.nowNS())
}

// nowNS is the default clock as Unix nanoseconds.
func (m *Memory) nowNS() int64 { return m.startNS + int64(time.Since(m.start)) }

// reading is an operation's current Unix second: exact, or the coarse
// second the sweeper stored just after the clock's second last turned over.
// The coarse second never runs ahead of the clock but lags it while the
// sweeper waits to run, so it decides expiry only when it already says
// expired, and otherwise serves as the access time (oldest_item_age may
// then read up to a second older). Expiry checks and eviction make it exact
// on first need, so an operation reads the clock at most once, and a hit on
// an item without expiry not at all.
type reading struct {
	sec   int64
	exact bool
}

// reading returns the cheap reading: the injected clock's second, which is
// exact, or the coarse second.
func (m *Memory) reading() reading {
	if m.clock != nil {
		return reading{sec: m.clock().Unix(), exact: true}
	}
	return reading{sec: m.coarse.Load()}
}

// exactSecond makes r exact, reading the clock if it is not, and returns it.
func (m *Memory) exactSecond(r *reading) int64 {
	if !r.exact {
		r.sec, r.exact = m.nowSecond(), true
	}
	return r.sec
}

// nowSecond is m.now().Unix() without building a time.Time, which costs a
// tenth of a Get of an item with a TTL.
func (m *Memory) nowSecond() int64 {
	if m.clock != nil {
		return m.clock().Unix()
	}
	return m.nowNS() / int64(time.Second)
}

// writeTime is the time a write needs: ExpiresAt reads now only for a
// relative time, so the other writes start from the cheap reading. An
// injected clock is always read, once, as before.
func (m *Memory) writeTime(relative bool) (time.Time, reading) {
	if !relative && m.clock == nil {
		return time.Time{}, m.reading()
	}
	now := m.now()
	return now, reading{sec: now.Unix(), exact: true}
}

// isRelative reports whether ExpiresAt reads t as seconds from now.
func isRelative(t float64) bool { return t > 0 && t <= MaxRelativeSeconds }

func (m *Memory) shardOf(h uint64) *shard { return m.shards[h>>m.shift] }

// tick converts a Unix second into an access tick.
func (m *Memory) tick(now int64) uint32 {
	return uint32(max(0, now-m.base))
}

// checkKey guards the slot's byte-sized length fields against keys that
// were not built with NewKey.
func checkKey(k Key) error {
	switch {
	case len(k.Name) == 0 || len(k.Namespace) == 0 || len(k.Namespace) > MaxNamespaceLen:
		return fmt.Errorf("%w: key %q in namespace %q was not built with NewKey", ErrInvalidArgument, k.Name, k.Namespace)
	case len(k.Name) > MaxKeyBytes:
		return Refuse(ErrKeyTooLong, "%d bytes, at most %d allowed", len(k.Name), MaxKeyBytes)
	}
	return nil
}

// Get returns the live item under key, its value appended to dst[:0]. It
// reads the clock only when it must: a hit on an item without expiry, or on
// one the coarse second already shows expired, needs no exact time.
func (m *Memory) Get(_ context.Context, key Key, dst []byte) (Item, error) {
	if err := checkKey(key); err != nil {
		return Item{}, err
	}
	h := m.hash(key)
	s := m.shardOf(h)
	r := m.reading()
	// No defer: the hot path unlocks on its two exits by hand.
	s.mu.Lock()
	i := m.findLocked(s, h, key, &r)
	if i == nilSlot || s.slots[i].state&stateMask != stateItem {
		s.misses++
		s.mu.Unlock()
		return Item{}, ErrNotFound
	}
	sl := &s.slots[i]
	item := Item{
		Value:   append(dst[:0], s.valueOf(sl)...),
		Kind:    sl.kind,
		Flags:   sl.flags,
		CAS:     sl.cas(),
		Expires: sl.expires(),
	}
	s.hits++
	s.byteHits += uint64(sl.keyLen) + uint64(sl.valLen)
	s.touchLocked(i, m.tick(r.sec))
	s.mu.Unlock()
	return item, nil
}

// getWithin is Get for a checked key whose value may take at most room
// bytes: a longer one is neither copied nor counted as a hit, and the answer
// is ErrBatchTooLarge. It repeats Get's steps rather than Get calling it:
// the extra call cost a single Get about 10% (BenchmarkGet 43.5 → 48 ns).
func (m *Memory) getWithin(key Key, dst []byte, room int) (Item, error) {
	h := m.hash(key)
	s := m.shardOf(h)
	r := m.reading()
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, key, &r)
	if i == nilSlot || s.slots[i].state&stateMask != stateItem {
		s.misses++
		return Item{}, ErrNotFound
	}
	sl := &s.slots[i]
	if int(sl.valLen) > room {
		return Item{}, ErrBatchTooLarge
	}
	s.hits++
	s.byteHits += uint64(sl.keyLen) + uint64(sl.valLen)
	s.touchLocked(i, m.tick(r.sec))
	return Item{
		Value:   append(dst[:0], s.valueOf(sl)...),
		Kind:    sl.kind,
		Flags:   sl.flags,
		CAS:     sl.cas(),
		Expires: sl.expires(),
	}, nil
}

// findLocked returns the slot of key unless it is missing or expired (an
// expired slot is reclaimed on the way). It makes r exact only for an item
// whose expiry the coarse second does not reach.
func (m *Memory) findLocked(s *shard, h uint64, key Key, r *reading) int32 {
	i := s.lookupLocked(h, key.Namespace, key.Name)
	if i == nilSlot {
		return nilSlot
	}
	exp := s.slots[i].expires()
	if exp > r.sec && !r.exact {
		m.exactSecond(r)
	}
	if exp != 0 && r.sec >= exp {
		s.expireLocked(i, h)
		return nilSlot
	}
	return i
}

// getMultiBlock is the size of the blocks GetMulti copies values into; a
// value that does not fit the rest of a block gets its own array.
const getMultiBlock = 8 << 10

// GetMulti returns the live items among keys; misses are absent. A key
// named twice is looked up, and counted in the stats, once. With maxBytes > 0
// it stops at the first item whose value would take the total past maxBytes,
// without copying it, and returns ErrBatchTooLarge.
func (m *Memory) GetMulti(_ context.Context, keys []Key, maxBytes int) (map[Key]Item, error) {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("%w: byte budget %d is negative", ErrInvalidArgument, maxBytes)
	}
	room := maxBytes
	if room == 0 {
		room = math.MaxInt
	}
	// The result map also remembers the keys already looked up, a miss as a
	// placeholder removed at the end: one map instead of a second set.
	items := make(map[Key]Item, len(keys))
	var misses []Key
	// Small values are copied back to back into shared blocks, one
	// allocation per block instead of one per value; each Value's capacity
	// ends with it, so appending to one never overwrites the next.
	var block []byte
	for _, k := range keys {
		if _, dup := items[k]; dup {
			continue
		}
		it, err := m.getWithin(k, block[len(block):], room)
		switch {
		case err == nil:
			switch n := len(it.Value); {
			case n <= cap(block)-len(block):
				block = block[:len(block)+n]
				it.Value = it.Value[:n:n]
			case n <= getMultiBlock/16:
				// The block is full to within 1/16: the next values go to
				// a new one, so blocks waste at most that much.
				block = make([]byte, 0, getMultiBlock)
			}
			items[k] = it
			room -= len(it.Value)
		case errors.Is(err, ErrBatchTooLarge):
			return nil, fmt.Errorf("cache: get_multi: %d keys over a budget of %d value bytes: %w", len(keys), maxBytes, err)
		default:
			items[k] = Item{}
			misses = append(misses, k)
		}
	}
	for _, k := range misses {
		delete(items, k)
	}
	return items, nil
}

// readBatchPart is how many keys ReadBatch groups by shard at a time: with
// 16 shards per CPU a part of 128 keys puts four in each shard of a 2-CPU
// machine; with 8 CPUs or more they rarely share one, and the lookups cost
// what Get's do.
const readBatchPart = 128

// ReadBatch implements BatchReader. Each part of the keys is ordered by
// shard, and each shard's keys are looked up under one hold of its lock,
// their index and arena lines loaded together first (shard.warmLocked).
func (m *Memory) ReadBatch(_ context.Context, keys []Key, items []Item, got []Outcome, buf []byte, maxLen int) ([]byte, error) {
	if len(items) < len(keys) || len(got) < len(keys) {
		return buf, fmt.Errorf("%w: read_batch: %d keys, room for %d items and %d outcomes", ErrInvalidArgument, len(keys), len(items), len(got))
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return buf, err
		}
	}
	r := m.reading()
	for from := 0; from < len(keys); from += readBatchPart {
		to := min(from+readBatchPart, len(keys))
		buf = m.readPart(keys[from:to], items[from:to], got[from:to], buf, maxLen, &r)
	}
	return buf, nil
}

// readPart is ReadBatch for at most readBatchPart keys.
func (m *Memory) readPart(keys []Key, items []Item, got []Outcome, buf []byte, maxLen int, r *reading) []byte {
	var hs [readBatchPart]uint64
	var order [readBatchPart]uint8
	for j, k := range keys {
		hs[j] = m.hash(k)
		order[j] = uint8(j)
	}
	n := len(keys)
	if ns := len(m.shards); ns > 1 && ns <= 256 {
		// A counting sort by shard; with more shards than that the keys
		// stay in order, a shard's keys grouped only where adjacent.
		var at [257]uint8
		for j := range n {
			at[hs[j]>>m.shift+1]++
		}
		for i := 1; i <= ns; i++ {
			at[i] += at[i-1]
		}
		for j := range n {
			si := hs[j] >> m.shift
			order[at[si]] = uint8(j)
			at[si]++
		}
	}
	for a := 0; a < n; {
		s := m.shardOf(hs[order[a]])
		b := a + 1
		for b < n && m.shardOf(hs[order[b]]) == s {
			b++
		}
		group := order[a:b]
		s.mu.Lock()
		s.warmLocked(&hs, group)
		for _, j := range group {
			h, k := hs[j], keys[j]
			i := m.findLocked(s, h, k, r)
			if i == nilSlot || s.slots[i].state&stateMask != stateItem {
				s.misses++
				got[j] = Missed
				continue
			}
			sl := &s.slots[i]
			if int(sl.valLen) > maxLen {
				got[j] = Deferred
				continue
			}
			// An earlier Value keeps the array it was copied into even
			// when an append here moves buf.
			start := len(buf)
			buf = append(buf, s.valueOf(sl)...)
			items[j] = Item{
				Value:   buf[start:len(buf):len(buf)],
				Kind:    sl.kind,
				Flags:   sl.flags,
				CAS:     sl.cas(),
				Expires: sl.expires(),
			}
			got[j] = Found
			s.hits++
			s.byteHits += uint64(sl.keyLen) + uint64(sl.valLen)
			s.touchLocked(i, m.tick(r.sec))
		}
		s.mu.Unlock()
		a = b
	}
	return buf
}

// PeekMulti calls fn with each live item among keys, its Value nil and
// valueLen its length, under the item's shard lock; it counts nothing.
func (m *Memory) PeekMulti(_ context.Context, keys []Key, fn func(i int, it Item, valueLen int)) error {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	for i, k := range keys {
		h := m.hash(k)
		s := m.shardOf(h)
		r := m.reading()
		s.mu.Lock()
		j := s.lookupLocked(h, k.Namespace, k.Name)
		if j != nilSlot {
			sl := &s.slots[j]
			exp := sl.expires()
			if exp > r.sec && !r.exact {
				m.exactSecond(&r)
			}
			if sl.state&stateMask == stateItem && (exp == 0 || r.sec < exp) {
				it := Item{Kind: sl.kind, Flags: sl.flags, CAS: sl.cas(), Expires: exp}
				n := int(sl.valLen)
				s.mu.Unlock()
				fn(i, it, n)
				continue
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// checkEntry validates everything about e that does not depend on the
// stored state, and returns its expiry.
// It takes e by pointer, as put does, so Put copies the entry only once.
func (m *Memory) checkEntry(mode Mode, e *Entry, now time.Time) (int64, error) {
	if mode > ModeCAS {
		return 0, fmt.Errorf("%w: unknown mode %d", ErrInvalidArgument, mode)
	}
	if err := checkKey(e.Key); err != nil {
		return 0, err
	}
	if len(e.Value) > m.maxValue {
		return 0, Refuse(ErrValueTooLarge, "%d bytes, at most %d allowed", len(e.Value), m.maxValue)
	}
	if e.Kind > KindBytes {
		return 0, fmt.Errorf("%w: unknown kind %d", ErrInvalidArgument, e.Kind)
	}
	exp, err := ExpiresAt(now, e.Time)
	if err != nil {
		return 0, fmt.Errorf("key %q: %w", e.Key.Name, err)
	}
	return exp, nil
}

// Put writes e under mode and returns the item's new CAS id.
func (m *Memory) Put(_ context.Context, mode Mode, e Entry) (uint64, error) {
	now, r := m.writeTime(isRelative(e.Time))
	exp, err := m.checkEntry(mode, &e, now)
	if err != nil {
		return 0, err
	}
	return m.put(mode, &e, exp, r)
}

func (m *Memory) put(mode Mode, e *Entry, exp int64, r reading) (uint64, error) {
	ns, name := e.Key.Namespace, e.Key.Name
	h := m.hash(e.Key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, e.Key, &r)
	isItem := i != nilSlot && s.slots[i].state&stateMask == stateItem
	switch {
	case mode == ModeAdd && i != nilSlot:
		return 0, ErrExists
	case mode == ModeReplace && !isItem:
		return 0, ErrNotFound
	case mode == ModeCAS && (!isItem || s.slots[i].cas() != e.CAS):
		return 0, ErrCASMismatch
	}
	if !isItem && i != nilSlot {
		// A set over a delete lock clears the lock.
		s.removeLocked(i, h)
		i = nilSlot
	}
	if i != nilSlot {
		i = s.rewriteLocked(m, i, h, ns, name, e.Value, &r)
	} else {
		// NewMemory made every shard hold the largest item checkEntry lets
		// through, so room is always found without emptying other shards.
		s.makeRoomLocked(m, chargeOf(len(ns)+len(name)+len(e.Value)), &r)
		i = s.insertLocked(m, h, ns, name, e.Value, stateItem)
	}
	cas := s.nextCASLocked(m)
	sl := &s.slots[i]
	sl.setCAS(cas)
	sl.setExpires(exp)
	sl.flags, sl.kind, sl.access = e.Flags, e.Kind, m.tick(r.sec)
	sl.state &^= writeClears
	return cas, nil
}

// PutMulti validates every entry first (storing nothing if one is invalid),
// then writes each; errs[i] is nil when entries[i] was stored.
func (m *Memory) PutMulti(_ context.Context, mode Mode, entries []Entry) ([]error, error) {
	relative := false
	for _, e := range entries {
		relative = relative || isRelative(e.Time)
	}
	now, r := m.writeTime(relative)
	exps := make([]int64, len(entries))
	for i := range entries {
		exp, err := m.checkEntry(mode, &entries[i], now)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		exps[i] = exp
	}
	errs := make([]error, len(entries))
	for i := range entries {
		_, errs[i] = m.put(mode, &entries[i], exps[i], r)
	}
	return errs, nil
}

// Delete removes the live item under key (ErrNotFound if none) and, when
// seconds > 0, locks the key for that period. Deleting a locked key succeeds:
// seconds = 0 clears the lock and seconds > 0 restarts it.
func (m *Memory) Delete(_ context.Context, key Key, seconds float64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	now := m.now()
	lockExp, err := ExpiresAt(now, seconds)
	if err != nil {
		return fmt.Errorf("delete lock: %w", err)
	}
	return m.delete(key, lockExp, now.Unix())
}

func (m *Memory) delete(key Key, lockExp, now int64) error {
	ns, name := key.Namespace, key.Name
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, key, &reading{sec: now, exact: true})
	if i == nilSlot {
		return ErrNotFound
	}
	s.removeLocked(i, h)
	// An absolute lock time in the past locks nothing.
	if lockExp != 0 && lockExp > now {
		// The lock is smaller than what was just freed, so it always fits.
		j := s.insertLocked(m, h, ns, name, nil, stateLock)
		s.slots[j].setExpires(lockExp)
		s.slots[j].access = m.tick(now)
	}
	return nil
}

// DeleteMulti deletes each key; errs[i] is nil or ErrNotFound.
func (m *Memory) DeleteMulti(_ context.Context, keys []Key, seconds float64) ([]error, error) {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	now := m.now()
	lockExp, err := ExpiresAt(now, seconds)
	if err != nil {
		return nil, fmt.Errorf("delete lock: %w", err)
	}
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = m.delete(k, lockExp, now.Unix())
	}
	return errs, nil
}

// Offset applies d to the numeric value under key and returns the result;
// a missing or locked key is created from initial when it is not nil.
func (m *Memory) Offset(_ context.Context, key Key, d Delta, initial *uint64) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	return m.offset(key, d, initial, m.reading())
}

// offset is Offset on a checked key; r becomes exact only when expiry or
// eviction depends on it.
func (m *Memory) offset(key Key, d Delta, initial *uint64, r reading) (uint64, error) {
	ns, name := key.Namespace, key.Name
	h := m.hash(key)
	s := m.shardOf(h)
	var buf [24]byte // 20 digits and two quotes
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, key, &r)
	if i == nilSlot || s.slots[i].state&stateMask != stateItem {
		if initial == nil {
			return 0, ErrNotFound
		}
		if i != nilSlot {
			s.removeLocked(i, h)
		}
		n := d.Apply(*initial)
		value := NewCounterValue(buf[:0], n)
		// A counter is far below the smallest shard budget, so it always fits.
		s.makeRoomLocked(m, chargeOf(len(ns)+len(name)+len(value)), &r)
		i = s.insertLocked(m, h, ns, name, value, stateItem)
		sl := &s.slots[i]
		sl.setCAS(s.nextCASLocked(m))
		sl.kind, sl.access = KindJSON, m.tick(r.sec)
		return n, nil
	}
	c, err := ParseCounter(s.slots[i].kind, s.valueOf(&s.slots[i]))
	if err != nil {
		return 0, err
	}
	c.N = d.Apply(c.N)
	i = s.rewriteLocked(m, i, h, ns, name, c.Append(buf[:0]), &r)
	s.slots[i].setCAS(s.nextCASLocked(m))
	s.slots[i].access = m.tick(r.sec)
	return c.N, nil
}

// OffsetMulti applies deltas[i] to keys[i]; errs[i] is nil when values[i] is valid.
func (m *Memory) OffsetMulti(_ context.Context, keys []Key, deltas []Delta, initial *uint64) ([]uint64, []error, error) {
	if len(keys) != len(deltas) {
		return nil, nil, fmt.Errorf("%w: %d keys but %d deltas", ErrInvalidArgument, len(keys), len(deltas))
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, nil, err
		}
	}
	r := m.reading()
	values := make([]uint64, len(keys))
	errs := make([]error, len(keys))
	for i, k := range keys {
		values[i], errs[i] = m.offset(k, deltas[i], initial, r)
	}
	return values, errs, nil
}

// FlushAll removes every item and lock in every namespace and resets stats.
// CAS ids keep increasing across it.
func (m *Memory) FlushAll(context.Context) error {
	for _, s := range m.shards {
		s.mu.Lock()
		s.resetLocked()
		s.mu.Unlock()
	}
	return nil
}

// Stats reports App Engine's get_stats counters. Items, bytes and the oldest access come
// from a scan of every slot (reclaiming expired ones on the way), so they
// are exact; the scan holds one shard lock at a time.
func (m *Memory) Stats(context.Context) (Stats, error) {
	now := m.now().Unix()
	var st Stats
	oldest, found := uint32(0), false
	for _, s := range m.shards {
		s.mu.Lock()
		st.Hits += s.hits
		st.Misses += s.misses
		st.ByteHits += s.byteHits
		for i := range s.slots {
			sl := &s.slots[i]
			switch {
			case sl.state&stateMask == stateFree:
			case sl.expired(now):
				s.expireLocked(int32(i), m.hashSlot(s, sl))
			case sl.state&stateMask == stateItem:
				st.Items++
				st.Bytes += uint64(sl.keyLen) + uint64(sl.valLen)
				if !found || sl.access < oldest {
					oldest, found = sl.access, true
				}
			}
		}
		s.mu.Unlock()
	}
	if found {
		st.OldestItemAge = max(0, now-(m.base+int64(oldest)))
	}
	return st, nil
}

// Close stops the background sweeper. The store stays usable.
func (m *Memory) Close() error {
	m.closing.Do(func() {
		close(m.stop)
		<-m.done
	})
	return nil
}

// sweep reclaims expired items in the background, a bounded batch per shard
// per interval, so memory held by items nobody reads again comes back. It
// also keeps the coarse second of the default clock.
func (m *Memory) sweep() {
	defer close(m.done)
	t := time.NewTimer(m.untilSweep())
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweepOnce()
			t.Reset(m.untilSweep())
		}
	}
}

// untilSweep is the wait before the next sweep: sweepInterval with an
// injected clock; with the default one, until its next whole second, so
// the coarse second turns over a timer wake-up after the real one.
func (m *Memory) untilSweep() time.Duration {
	if m.clock != nil {
		return sweepInterval
	}
	return time.Second - time.Duration(m.now().UnixNano()%int64(time.Second))
}

func (m *Memory) sweepOnce() {
	now := m.now().Unix()
	if m.clock == nil {
		m.coarse.Store(now)
	}
	for _, s := range m.shards {
		s.mu.Lock()
		s.reclaimExpiredLocked(m, now, sweepBatch)
		s.mu.Unlock()
	}
}
