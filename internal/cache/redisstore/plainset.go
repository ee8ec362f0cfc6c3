package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// A set (the one write mode nothing in the old item decides) is written
// without a script: one MULTI/EXEC of plain commands that rewrites the item
// in place, drops the marks a new value must not carry (and a delete lock),
// sets its TTL, its lru and exp entries, and reads the bucket's generation
// back. The putScript it replaces cost Redis 11-14 µs per set, seven
// redis.calls at about 0.6 µs each on top of the commands' work and the
// script's own start; the plain commands cost it about 4 µs (INFO
// commandstats in BenchmarkRedisStore).
//
// What a script did at once is done otherwise:
//   - The CAS id: counts are reserved from the bucket's counter in blocks
//     (casBlockSize, one HINCRBY), so ids stay unique, but they are not in
//     the order of the writes: neither across nodes nor within one, whose
//     sets take ids from its block while its scripts (incr, add, cas...)
//     take the counter's next, past the block. Nothing orders ids: a CAS
//     id, and the ETag made of it, is only ever compared for equality.
//   - The generation: the one last seen in the bucket (loaded at Open,
//     then taken from every read) is stamped and the one read back in the
//     same transaction checks it; after a FlushAll in between the set is
//     written again under the new generation (it then takes effect after
//     the flush, which it overlapped). Until then the item reads as
//     missing, even if another node wrote it after that flush: a set
//     racing another node's flush and another node's write of the same key
//     may show a reader a miss between the two values.
//   - The accounting (sz, items, bytes): left to the next sync, which makes
//     it match the item as it is then (syncScript). Until then the item
//     counts as not yet written in items and bytes; this process syncs
//     before it answers Stats, so its own figures are exact. A process
//     that dies without syncing leaves its last sets uncounted (an
//     undercount that stays consistent: deleting or expiring such an item
//     takes nothing off) until they are written again or a FlushAll.
//
// PutMulti keeps the script: rueidis cannot pipeline transactions of
// several cluster slots in one call, and a batch's items are spread over
// every slot.

// casBlockSize is how many CAS counts a node reserves at a time.
const casBlockSize = 256

// casBlock hands out the counts this process reserved from a bucket's
// CAS counter.
type casBlock struct {
	mu        sync.Mutex // guards next and end
	next, end int64      // counts next..end are free; none while end is 0 or next > end
}

// nextCAS returns a new CAS id of bucket b.
func (s *Store) nextCAS(ctx context.Context, b int) (uint64, error) {
	blk := s.cas[b]
	blk.mu.Lock()
	defer blk.mu.Unlock()
	if blk.next > blk.end || blk.end == 0 {
		meta := s.lay.bookkeeping(b)[0]
		end, err := s.client.Do(ctx, s.client.B().Hincrby().Key(meta).Field("cas").Increment(casBlockSize).Build()).AsInt64()
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
	name := itemName(e.Key)
	item := s.lay.itemPrefix(b) + name
	books := s.lay.bookkeeping(b)
	sec := strconv.FormatInt(now.Unix(), 10)
	expStr := strconv.FormatInt(exp, 10)
	value := string(e.Value)
	gen := max(s.gens[b].Load(), 0)
	// Noted before the transaction goes out, since it may run even if its
	// reply is lost (the sync accounts the item as it then finds it), and
	// again after each: a FlushAll of this process in between drops what
	// was noted.
	s.recordPlainSet(b, name)
	for range 3 {
		id, err := s.nextCAS(ctx, b)
		if err != nil {
			return 0, false, err
		}
		idStr := strconv.FormatUint(id, 10)
		bld := s.client.B()
		var expCmd rueidis.Completed
		if exp > 0 {
			expCmd = bld.Zadd().Key(books[2]).ScoreMember().ScoreMember(float64(exp), name).Build()
		} else {
			expCmd = bld.Zrem().Key(books[2]).Member(name).Build()
		}
		res := s.client.DoMulti(ctx,
			bld.Multi().Build(),
			bld.Hset().Key(item).FieldValue().
				FieldValue("g", strconv.FormatInt(gen, 10)).FieldValue("v", value).
				FieldValue("k", strconv.Itoa(int(e.Kind))).FieldValue("f", strconv.FormatUint(uint64(e.Flags), 10)).
				FieldValue("c", idStr).FieldValue("e", expStr).FieldValue("r", sec).Build(),
			bld.Hdel().Key(item).Field("h", "x", "w", "l").Build(),
			bld.Pexpire().Key(item).Milliseconds(s.redisTTLms(now, exp)).Build(),
			bld.Zadd().Key(books[1]).ScoreMember().ScoreMember(float64(now.Unix()), name).Build(),
			expCmd,
			bld.Hget().Key(books[0]).Field("g").Build(),
			bld.Exec().Build(),
		)
		replies, err := res[len(res)-1].ToArray()
		if err != nil {
			return 0, false, s.fail("put", err)
		}
		if len(replies) != 6 {
			return 0, false, fmt.Errorf("redisstore: put: %d replies in the transaction, want 6", len(replies))
		}
		for i, r := range replies[:5] {
			if err := r.Error(); err != nil {
				return 0, false, fmt.Errorf("redisstore: put: command %d: %w", i, err)
			}
		}
		g, err := replies[5].ToString()
		if err != nil && !rueidis.IsRedisNil(err) {
			return 0, false, s.fail("put", err)
		}
		got := parseGen(g)
		s.seeGen(b, got)
		s.recordPlainSet(b, name)
		if got == gen {
			return id, true, nil
		}
		gen = got // written under a generation a FlushAll has left: again
	}
	return 0, false, nil
}

// redisTTLms is redisTTL as a number.
func (s *Store) redisTTLms(now time.Time, exp int64) int64 {
	if exp == 0 {
		return s.opts.IdleTTL.Milliseconds()
	}
	return max((time.Unix(exp, 0).Sub(now) + s.opts.ExpirySlack).Milliseconds(), 1)
}
