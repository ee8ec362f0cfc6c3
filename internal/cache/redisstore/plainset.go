package redisstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// A set (the one write mode nothing in the old item decides) is written
// without a script: one SET of the new item string, with its Redis TTL,
// which also drops the marks a new value must not carry and any delete
// lock, and returns the item it replaced (GET), and a read of the bucket's
// generation after it, the two in one pipeline. Under wrk at 64
// connections, with the server and Redis on one core, the MULTI/EXEC of
// eight commands that wrote a hash item took 40-65 µs of server and Redis
// CPU per set, 0.6× Webdis's SET in requests per second; the SET, with the
// sync below, 28.5-29.4 µs against Webdis's 27.9-29.2 (BENCHMARKS.md,
// "Over Redis: one string per item"). The replaced item, which the SET
// returns for values up to maxCarriedValue without an expiry, spares most
// sets the sync's accounting (BENCHMARKS.md, "The round of 2026-12-07,
// afternoon").
//
// What a script did at once is done otherwise:
//   - The CAS id: counts are reserved from the bucket's counter in blocks
//     (casBlockSize, one HINCRBY), so ids stay unique, but they are not in
//     the order of the writes: neither across nodes nor within one, whose
//     sets take ids from its block while its scripts (incr, add, cas...)
//     take the counter's next, past the block. Nothing orders ids: a CAS
//     id, and the ETag made of it, is only ever compared for equality.
//   - The generation: the one last seen in the bucket (loaded at Open,
//     then taken from every read) is stamped and the one read back after
//     the SET, on the same connection and so after it, checks it: the
//     generation only grows, so if it still equals the stamp the SET
//     happened in that generation. After a FlushAll in between the set is
//     written again under the new generation (it then takes effect after
//     the flush, which it overlapped). Until then the item reads as
//     missing, even if another node wrote it after that flush: a set
//     racing another node's flush and another node's write of the same key
//     may show a reader a miss between the two values.
//   - The accounting (sz, items, bytes) and the item's lru and exp entries:
//     nothing to do when the replaced item carried the accounted mark at
//     the same size, neither expiring (accountedAs, item.go), which under
//     wrk over 10 k keys is every set but a key's first; otherwise left to
//     the next sync, which makes them match the item as it is then
//     (syncScript). Until then the item counts as not yet written in items
//     and bytes; this process syncs before it answers Stats, so its own
//     figures are exact. A process that dies without syncing leaves its
//     last sets uncounted (an undercount that stays consistent: deleting
//     or expiring such an item takes nothing off) until they are written
//     again at another size, deleted, or a FlushAll: a set of the same size
//     takes the item's accounted mark as true. An exp entry left from the
//     value before may name an expiry the new value does not have: a sweep
//     reads the item before it removes anything, and mends the entry
//     instead.
//
// PutMulti keeps the script: its entries are spread over every slot, and
// one pipeline of scripts is one round trip however many there are.

// casBlockSize is how many CAS counts a node reserves at a time.
const casBlockSize = 256

// casBlock hands out the counts this process reserved from a bucket's
// CAS counter.
type casBlock struct {
	mu        sync.Mutex // guards next and end
	next, end int64      // counts next..end are free; none while end is 0 or next > end
}

// nextCAS returns a new CAS id of bucket b.
func (s *Store) nextCAS(ctx context.Context, b int, now time.Time) (uint64, error) {
	blk := s.cas[b]
	blk.mu.Lock()
	defer blk.mu.Unlock()
	if blk.next > blk.end || blk.end == 0 {
		c := call{keys: s.lay.bookkeeping(b)[:1], args: []string{strconv.FormatInt(now.UnixMilli(), 10),
			strconv.Itoa(s.lay.buckets), strconv.Itoa(casBlockSize)}}
		end, err := s.eval(ctx, casLua, []call{c})[0].AsInt64()
		if err != nil {
			return 0, s.fail("put: reserve cas ids", err)
		}
		blk.next, blk.end = end-casBlockSize+1, end
	}
	n := blk.next
	blk.next++
	return uint64(n)*uint64(s.lay.buckets) + uint64(b), nil
}

// bucketGen is the generation last seen in each bucket, -1 for none yet.
type bucketGen struct{ atomic.Int64 }

// seeGen records generation g as seen in bucket b.
func (s *Store) seeGen(b int, g int64) {
	for {
		old := s.gens[b].Load()
		if g <= old || s.gens[b].CompareAndSwap(old, g) {
			return
		}
	}
}

// seeGenRead records the generation a read of bucket b's meta hash
// answered, missing when it had none. None where this process had seen one
// means Redis lost the bookkeeping (a restart without persistence, a
// FLUSHALL): the generation starts again from 0, and what this process saw
// and holds of the old one is void, or it would drop every read it counts
// until a flush took the generation past the old one.
func (s *Store) seeGenRead(b int, g int64, missing bool) {
	if !missing || s.gens[b].Load() <= 0 {
		s.seeGen(b, g)
		return
	}
	s.gens[b].Store(0)
	p := s.pend[b]
	p.mu.Lock()
	p.discardLocked()
	p.heldMu.Lock()
	p.heldGen = -1
	p.heldMu.Unlock()
	p.mu.Unlock()
}

// loadGens reads every bucket's generation, one pipeline at Open, so that
// this process's first set in a bucket flushed before it started is stamped
// right: a stale stamp costs the set a second transaction, and until that
// one the item reads as missing, even if another node had written it since
// the flush.
func (s *Store) loadGens(ctx context.Context) error {
	cmds := make(rueidis.Commands, s.lay.buckets)
	for b := range cmds {
		cmds[b] = s.client.B().Hget().Key(s.lay.bookkeeping(b)[0]).Field("g").Build()
	}
	for b, res := range s.client.DoMulti(ctx, cmds...) {
		g, err := res.ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return s.fail("read generations", err)
		}
		s.seeGen(b, parseGen(g))
	}
	return nil
}

// plainSet writes e as a set without a script; ok is false when it could
// not (the entry expires on arrival, or flushes kept moving the generation)
// and the script must.
func (s *Store) plainSet(ctx context.Context, e cache.Entry, now time.Time, exp int64) (cas uint64, ok bool, err error) {
	if exp > 0 && now.UnixMilli() >= exp*1000 {
		return 0, false, nil
	}
	b := s.lay.bucket(e.Key)
	item, name := s.lay.itemKey(b, e.Key)
	meta := s.lay.bookkeeping(b)[0]
	ttl := s.redisTTLms(now, exp)
	gen := max(s.gens[b].Load(), 0)
	buf := make([]byte, 0, 64+len(e.Value))
	w := wrote{at: now.Unix(), exp: exp, size: len(name) - strings.IndexByte(name, ':') - 1 + len(e.Value)}
	carry := len(e.Value) <= maxCarriedValue && exp == 0
	for range 3 {
		id, err := s.nextCAS(ctx, b, now)
		if err != nil {
			return 0, false, err
		}
		buf = appendItem(buf[:0], gen, exp, uint8(e.Kind), e.Flags, id, now.Unix(), e.Value)
		s.recordPlainSet(b, gen, name, string(buf[:len(buf)-len(e.Value)]), touch{at: now.Unix(), cas: strconv.FormatUint(id, 10)})
		bld := s.client.B()
		var set rueidis.Completed
		if carry {
			set = bld.Set().Key(item).Value(rueidis.BinaryString(buf)).Get().PxMilliseconds(ttl).Build()
		} else {
			set = bld.Set().Key(item).Value(rueidis.BinaryString(buf)).PxMilliseconds(ttl).Build()
		}
		res := s.client.DoMulti(ctx, set, bld.Hget().Key(meta).Field("g").Build())
		old, err := res[0].ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			// The SET may be done even though its reply was lost: the sync
			// accounts the item as it then finds it.
			s.noteWritten(b, name, w)
			return 0, false, s.fail("put", err)
		}
		g, err := res[1].ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			s.noteWritten(b, name, w)
			return 0, false, s.fail("put", err)
		}
		got := parseGen(g)
		s.seeGenRead(b, got, rueidis.IsRedisNil(err))
		if got != gen {
			gen = got // written under a generation a FlushAll has left: again
			continue
		}
		if !carry || s.pend[b].lost.Load() || !accountedAs(old, gen, exp, len(e.Value)) {
			s.noteWritten(b, name, w)
		}
		return id, true, nil
	}
	return 0, false, nil
}

// maxCarriedValue is the largest value whose set asks for the item it
// replaces, to carry its accounting (accountedAs): past it, bringing the
// old value back costs more than the sync's accounting of the new one.
const maxCarriedValue = 1024

// accountedAs reports whether old, the item string a plain set replaced
// ("" for none), carried the accounted mark and was live in generation gen
// with a value of size bytes, neither it nor the new one expiring: the new
// item then counts as accounted too, and needs nothing of the sync.
func accountedAs(old string, gen, exp int64, size int) bool {
	if old == "" || exp != 0 {
		return false
	}
	h, value, err := parseItem(old)
	return err == nil && len(value) == size && h.exp == "0" && h.lock == "" &&
		strings.IndexByte(h.marks, accountedMark) >= 0 && h.gen == strconv.FormatInt(gen, 10)
}

// redisTTLms is redisTTL as a number.
func (s *Store) redisTTLms(now time.Time, exp int64) int64 {
	if exp == 0 {
		return s.opts.IdleTTL.Milliseconds()
	}
	return max((time.Unix(exp, 0).Sub(now) + s.opts.ExpirySlack).Milliseconds(), 1)
}
