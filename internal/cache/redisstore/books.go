package redisstore

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The per-read bookkeeping (hits, misses and byte_hits, the item's access
// time in the lru zset, the renewal of its idle TTL) and the sweep of
// expired items are batched here and written by Sync, instead of by a Lua
// script on every GET. A script cost Redis 14-17 µs of CPU per GET, almost
// all of it the script's nine calls; a GET is now two plain commands (see
// Store.lookup) and the bookkeeping one script per bucket per SyncInterval,
// its lru and TTL work once per distinct item read in that interval, and an
// item's access time written at most once per TouchInterval: under wrk over
// 10 k keys those sorted-set updates had become most of Redis' CPU per GET
// (10 µs of 24 on a slow day), and the reading and parsing of each item a
// plain set wrote most of it per set, which the sync now skips for an item
// accounted at the size this process wrote (15 of 21 µs before).
//
// What stays exact: this process syncs before it answers Stats or Counts,
// so a single server's stats are exact; Fetch takes an access recorded
// here into account, so memcached's idle time is too; the meta protocol's
// hit-before mark is set at once by the read that finds it unset (a small
// script, on the first read of each written value only, sent with the read
// when this process wrote the value). What lags, with several servers on
// one Redis: the counters recorded by the other servers,
// by up to their SyncInterval, and the access times by up to their
// TouchInterval (as memcached, which moves an item in its LRU at most once
// a minute).

// touch is a recorded access to one item.
type touch struct {
	at    int64  // Unix second of the latest access
	cas   string // the item version that was accessed
	renew bool   // the item never expires and its idle TTL is due for renewal
}

// pending is the bookkeeping of one bucket that this process has not yet
// written to Redis.
type pending struct {
	mu sync.Mutex // guards the fields below
	// gen is the generation the counts and touches were observed in, -1 when
	// there are none: a FlushAll since makes them void, so Sync sends them
	// with it and the script drops them if the bucket has moved on.
	gen                    int64
	hits, misses, byteHits int64
	touched                map[string]touch // item name -> access
	// written holds the items plain sets wrote, whose accounting and lru
	// and exp entries the sync does (whatever their generation: it looks
	// at the item as it is then, unless it is accounted at the size this
	// process wrote).
	written map[string]wrote
	// dirty says the bucket was written to, so the sync sweeps it even
	// without counts to send.
	dirty bool
	// lost says a failed sync's plain sets had to be dropped (putBack): their
	// items may carry the accounted mark uncounted, so until a FlushAll this
	// process's sets in the bucket leave every item to the sync, which counts
	// again those it rewrites.
	lost atomic.Bool
	// unread maps the items plain sets wrote to the header of the item
	// string they wrote, a value no read has marked hit-before yet, so the
	// first read sends its mark with it (Store.lookup). A wrong guess costs
	// only the round trip the mark takes without one; the map is dropped
	// when it fills.
	unread map[string]string
	// syncing is touched as a sync took it, until the sync has split it
	// into what it sends and what it holds, so pendingAccess still sees it.
	syncing map[string]touch

	// heldMu guards held, which the sync fills and empties without mu, so
	// that reads never wait for its work on every held item.
	heldMu sync.Mutex
	// held are accesses of generation heldGen the periodic sync holds back:
	// their items' access times went to Redis within the last
	// Options.TouchInterval (sent, owned by the sync).
	held    map[string]touch
	heldGen int64

	// sent names the items whose access time the periodic sync wrote since
	// Unix second sentSince, in generation sentGen; only the sync uses it.
	sent      map[string]struct{}
	sentSince int64
	sentGen   int64
}

// wrote is what a plain set wrote to an item, for the sync's accounting.
type wrote struct {
	at   int64 // Unix second of the write
	exp  int64 // the item's expiry (Unix s, 0 for none)
	size int   // key and value bytes as the accounting counts them; -1: the sync must read the item
}

// emptyLocked reports whether there is nothing to send.
func (p *pending) emptyLocked() bool {
	if p.dirty || p.gen >= 0 {
		return false
	}
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	return len(p.held) == 0
}

// heldGeneration is the generation of the held accesses, -1 for none.
func (p *pending) heldGeneration() int64 {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	if len(p.held) == 0 {
		return -1
	}
	return p.heldGen
}

// acceptLocked reports whether an observation made in generation gen may
// join the pending ones: a newer generation voids what was pending, an
// older one (a read that raced a FlushAll) is void itself.
func (p *pending) acceptLocked(gen int64) bool {
	switch {
	case gen == p.gen:
		return true
	case gen < p.gen:
		return false
	}
	p.gen, p.hits, p.misses, p.byteHits = gen, 0, 0, 0
	if len(p.touched) > 0 {
		p.touched = nil // void; an empty map keeps the room the sync gave it
	}
	p.heldMu.Lock()
	if gen > p.heldGen {
		p.held = nil // of an older generation: void
	}
	p.heldMu.Unlock()
	return true
}

// touchLocked records an access at second at to version cas of item name.
func (p *pending) touchLocked(name string, t touch) {
	if p.touched == nil {
		p.touched = make(map[string]touch)
	}
	old, ok := p.touched[name]
	if ok && old.at > t.at {
		return
	}
	t.renew = t.renew || (ok && old.renew && old.cas == t.cas)
	p.touched[name] = t
}

// hold splits the accesses a periodic sync at Unix second now took from
// bucket p (observed in generation gen) and those it held before: the ones
// of items whose access time it wrote within the last interval seconds stay
// held, the rest are returned to send. Renewals always go, and everything
// goes when a new period starts or more than half of maxTouched would be
// held, so the held map stays bounded. It works without p.mu, yielding now
// and then: with one P, a sync of 10 k accesses otherwise held every
// request of the process for milliseconds.
func (p *pending) hold(now, interval, gen int64, touched map[string]touch) map[string]touch {
	if p.sent == nil || now-p.sentSince >= interval || p.sentGen != gen || len(p.sent) >= maxTouched {
		p.sent, p.sentSince, p.sentGen = make(map[string]struct{}, len(touched)), now, gen
	}
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	switch {
	case gen < p.heldGen:
		return nil // observed before a FlushAll the held ones came after: void
	case gen > p.heldGen:
		p.held, p.heldGen = nil, gen
	}
	var carried map[string]touch
	if len(p.sent) == 0 || len(p.held)+len(touched) > maxTouched/2 {
		carried, p.held = p.held, nil // a new period: what was held goes out with the rest
	}
	// touched is read only: pendingAccess reads it (as syncing) meanwhile.
	send := make(map[string]touch, len(touched)+len(carried))
	i := 0
	for _, m := range []map[string]touch{carried, touched} {
		for n, t := range m {
			if i++; i%512 == 0 {
				p.heldMu.Unlock()
				runtime.Gosched()
				p.heldMu.Lock()
			}
			_, going := send[n]
			if _, ok := p.sent[n]; ok && !going && !t.renew {
				if p.held == nil {
					p.held = make(map[string]touch)
				}
				keepLatest(p.held, n, t)
				continue
			}
			keepLatest(send, n, t)
			p.sent[n] = struct{}{}
		}
	}
	return send
}

// keepLatest records access t to item n in m unless m has a later one.
func keepLatest(m map[string]touch, n string, t touch) {
	if old, ok := m[n]; !ok || old.at < t.at {
		m[n] = t
	}
}

// takeHeld empties the bucket's held accesses of generation gen into
// touched, for a full sync.
func (p *pending) takeHeld(gen int64, touched map[string]touch) map[string]touch {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	if gen < p.heldGen {
		return nil // void, as in hold
	}
	held := p.held
	p.held = nil
	if p.heldGen != gen || len(held) == 0 {
		return touched
	}
	send := make(map[string]touch, len(touched)+len(held)) // touched is read only, as in hold
	for _, m := range []map[string]touch{touched, held} {
		for n, t := range m {
			keepLatest(send, n, t)
		}
	}
	return send
}

// maxTouched bounds the distinct items pending in one bucket; past it the
// sync loop is woken early, so memory stays bounded however many distinct
// keys are read in one interval.
const maxTouched = 1 << 16

// syncChunk is how many touches, and how many written items, one sync
// script carries, and about how many one round trip of the sync carries:
// a script blocks Redis while it runs, and so do the scripts of one
// pipeline, which Redis reads and runs before the calls queued behind them
// on the same connection. Under wrk (64 connections, 30 k sets/s over 10 k
// keys) one pipeline of every chunk blocked Redis for 70-80 ms a second,
// the p99 of every request; 128 items take it about a millisecond.
const syncChunk = 128

// sweepPerSync bounds the expired items one sync removes per bucket; 8 per
// operation were removed when every script swept.
const sweepPerSync = 1000

// parseGen reads a generation as Redis holds it ("" or nil for none: 0).
func parseGen(g string) int64 {
	if g == "" {
		return 0 // no flush yet: skips the error ParseInt would allocate, on every read and set
	}
	n, err := strconv.ParseInt(g, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// recordRead adds one lookup's outcome to bucket b's pending bookkeeping.
func (s *Store) recordRead(b int, gen int64, name string, hit bool, bytes int, t touch) {
	p := s.pend[b]
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.acceptLocked(gen) {
		return
	}
	if !hit {
		p.misses++
		return
	}
	p.hits++
	p.byteHits += int64(bytes)
	p.touchLocked(name, t)
	if len(p.touched) >= maxTouched {
		s.wake()
	}
}

// recordWrite notes a write to bucket b and, when the write left its lru
// update to the sync (gen >= 0), the access.
func (s *Store) recordWrite(b int, gen int64, name string, t touch) {
	p := s.pend[b]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirty = true
	if gen >= 0 && p.acceptLocked(gen) {
		p.touchLocked(name, t)
	}
}

// recordPlainSet notes that a plain set is writing item name in bucket b,
// stamped with generation gen: t is the write's access and header the item
// string's header, for the hit-before mark. Whether its accounting is left
// to the sync is known only from the set's reply (noteWritten).
func (s *Store) recordPlainSet(b int, gen int64, name, header string, t touch) {
	p := s.pend[b]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirty = true
	if p.acceptLocked(gen) {
		p.touchLocked(name, t)
	}
	if p.unread == nil || len(p.unread) >= maxTouched {
		p.unread = make(map[string]string)
	}
	p.unread[name] = header
	if len(p.touched) >= maxTouched {
		s.wake()
	}
}

// noteWritten leaves the accounting, lru and exp entries of item name,
// which a plain set wrote as w in bucket b, to the sync.
func (s *Store) noteWritten(b int, name string, w wrote) {
	p := s.pend[b]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noteWrittenLocked(name, w)
	if len(p.written) >= maxTouched {
		s.wake()
	}
}

// takeUnread returns and forgets the header of the unread value a plain
// set of this process wrote to item name, "" for none.
func (p *pending) takeUnread(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	header, ok := p.unread[name]
	if ok {
		delete(p.unread, name)
	}
	return header
}

// noteWrittenLocked records that item name, written as w, awaits the
// sync's accounting. Two writes of one item that differ in size or expiry
// may reach Redis in either order, so the sync then reads the item.
func (p *pending) noteWrittenLocked(name string, w wrote) {
	if p.written == nil {
		p.written = make(map[string]wrote)
	}
	if old, ok := p.written[name]; ok {
		if old.size != w.size || old.exp != w.exp {
			w.size = -1
		}
		w.at = max(w.at, old.at)
	}
	p.written[name] = w
	p.dirty = true
}

// putBack returns to the bucket the plain sets a failed sync was to
// account, up to maxTouched and without waking the loop: a Redis that is
// down must neither grow the map without bound nor spin the sync. What it
// drops sets lost.
func (p *pending) putBack(a accounting) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range a.names {
		if len(p.written) >= maxTouched {
			p.lost.Store(true)
			return
		}
		p.noteWrittenLocked(n, a.written[n])
	}
}

// accounting is the plain sets one sync call accounts: names, looked up in
// written, the map the sync took from the bucket and owns.
type accounting struct {
	names   []string
	written map[string]wrote
}

// formatted formats n in decimal, reusing the last string when n repeats:
// a sync's write times are mostly one or two seconds, its sizes few.
type formatted struct {
	n int64
	s string
}

// of is n in decimal.
func (f *formatted) of(n int64) string {
	if f.s == "" || f.n != n {
		f.n, f.s = n, strconv.FormatInt(n, 10)
	}
	return f.s
}

// pendingAccess is the latest access to item name in bucket b that this
// process has not synced yet, 0 for none.
func (s *Store) pendingAccess(b int, name string) int64 {
	p := s.pend[b]
	p.mu.Lock()
	defer p.mu.Unlock()
	at := max(p.touched[name].at, p.syncing[name].at)
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	return max(at, p.held[name].at)
}

// wake asks the sync loop for an early sync without waiting for it.
func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Sync writes the bookkeeping this process has batched (hits, misses,
// byte_hits, access times, idle TTL renewals) to Redis and sweeps the
// expired items of the buckets it used. The store syncs every
// Options.SyncInterval (holding back access times Options.TouchInterval
// spaces out), and in full before Stats and Counts, and on Close.
func (s *Store) Sync(ctx context.Context) error {
	return s.sync(ctx, true)
}

// sync is Sync; a periodic one (all false) holds back the access times of
// items it wrote one for within the last Options.TouchInterval.
func (s *Store) sync(ctx context.Context, all bool) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	now, _, sec := s.clock()
	interval := int64(s.opts.TouchInterval / time.Second)
	var calls []call
	// Per call, its bucket and the plain sets' items it accounts: a failed
	// call's are put back for the next sync, since accounting an item twice
	// ends as once (syncScript) while dropping it would leave the item
	// uncounted until it is written again.
	var buckets []int
	var accounts []accounting
	var atStr, sizeStr, expStr formatted
	var weights []int
	for b, p := range s.pend {
		p.mu.Lock()
		if p.emptyLocked() {
			p.mu.Unlock()
			continue
		}
		gen, hits, misses, bh, touched, written, dirty := p.gen, p.hits, p.misses, p.byteHits, p.touched, p.written, p.dirty
		p.gen, p.hits, p.misses, p.byteHits, p.touched, p.written, p.dirty = -1, 0, 0, 0, nil, nil, false
		p.syncing = touched
		// About as many accesses and sets are due by the next sync: room
		// for them now saves the maps growing again, under the lock reads
		// and sets take (5-8 % of a set's CPU over Redis under wrk).
		if len(touched) > 0 {
			p.touched = make(map[string]touch, len(touched))
		}
		if len(written) > 0 {
			p.written = make(map[string]wrote, len(written))
		}
		if gen < 0 {
			gen = p.heldGeneration() // held accesses only
		}
		p.mu.Unlock()
		if gen >= 0 && !all && interval > 0 {
			touched = p.hold(now.Unix(), interval, gen, touched)
		} else if gen >= 0 {
			touched = p.takeHeld(gen, touched)
		}
		p.mu.Lock()
		p.syncing = nil
		p.mu.Unlock()
		// The plain sets whose access is held keep their lru entry.
		var heldSets map[string]struct{}
		p.heldMu.Lock()
		for n := range written {
			if _, ok := p.held[n]; ok {
				if heldSets == nil {
					heldSets = make(map[string]struct{})
				}
				heldSets[n] = struct{}{}
			}
		}
		p.heldMu.Unlock()
		if !dirty && hits == 0 && misses == 0 && bh == 0 && len(touched) == 0 {
			continue // only held accesses: nothing to write
		}

		g := ""
		if gen >= 0 {
			g = strconv.FormatInt(gen, 10)
		}
		names := make([]string, 0, len(touched))
		for n := range touched {
			names = append(names, n)
		}
		sets := make([]string, 0, len(written))
		for n := range written {
			sets = append(sets, n)
		}
		// Chunks of at most syncChunk touches and syncChunk written items;
		// the first carries the counts and the sweep.
		for first := true; first || len(names) > 0 || len(sets) > 0; first = false {
			tc := names[:min(len(names), syncChunk)]
			names = names[len(tc):]
			wc := sets[:min(len(sets), syncChunk)]
			sets = sets[len(wc):]
			limit, h, m, x := "0", "0", "0", "0"
			if first {
				limit = strconv.Itoa(sweepPerSync)
				h, m, x = strconv.FormatInt(hits, 10), strconv.FormatInt(misses, 10), strconv.FormatInt(bh, 10)
			}
			var renew []string
			for _, n := range tc {
				if t := touched[n]; t.renew {
					renew = append(renew, n, t.cas)
				}
			}
			args := make([]string, 0, 10+2*len(tc)+len(renew)+4*len(wc))
			args = append(args, sec, s.lay.itemPrefix(b), g, h, m, x, s.idleTTL, limit,
				strconv.Itoa(len(tc)), strconv.Itoa(len(renew)/2))
			for _, n := range tc {
				args = append(args, strconv.FormatInt(touched[n].at, 10), n)
			}
			args = append(args, renew...)
			for _, n := range wc {
				w := written[n]
				// '-': the access is held, so an item accounted already
				// keeps its lru entry.
				at := atStr.of(w.at)
				if _, ok := heldSets[n]; ok {
					at = "-" + at
				}
				size := ""
				if w.size >= 0 {
					size = sizeStr.of(int64(w.size))
				}
				args = append(args, at, n, size, expStr.of(w.exp))
			}
			calls = append(calls, call{keys: s.lay.bookkeeping(b), args: args})
			buckets, accounts = append(buckets, b), append(accounts, accounting{names: wc, written: written})
			weights = append(weights, 1+len(tc)+len(wc))
			runtime.Gosched() // a chunk's worth of work at a time, as in hold
		}
	}
	s.syncWrote.Store(len(calls) > 0)
	if len(calls) == 0 {
		return nil
	}
	// Round trips of about syncChunk items each, one after another, so the
	// requests sharing the connection go between them.
	var errs []error
	start := 0
	for _, end := range batchEnds(weights, syncChunk) {
		for j, res := range s.eval(ctx, syncLua, calls[start:end]) {
			if err := res.Error(); err != nil {
				i := start + j
				errs = append(errs, s.fail("sync", err))
				s.pend[buckets[i]].putBack(accounts[i])
			}
		}
		start = end
	}
	return errors.Join(errs...)
}

// batchEnds splits calls of the given weights, in order, into batches of
// total weight at most limit (a heavier call alone), and returns where each
// batch ends.
func batchEnds(weights []int, limit int) []int {
	var ends []int
	for end := 0; end < len(weights); {
		load := weights[end]
		end++
		for end < len(weights) && load+weights[end] <= limit {
			load += weights[end]
			end++
		}
		ends = append(ends, end)
	}
	return ends
}

// syncFor syncs before an answer that must include this process's work,
// within its own OpTimeout: on a cluster a sync and a Stats each pipeline a
// script per bucket.
func (s *Store) syncFor(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	return s.Sync(ctx)
}

// discard drops everything pending: FlushAll voids it.
func (s *Store) discard() {
	for _, p := range s.pend {
		p.mu.Lock()
		p.discardLocked()
		p.mu.Unlock()
	}
}

// discardLocked drops everything pending in the bucket but the plain sets
// to account: the flush that voids the rest may fail and leave their items
// live, marked accounted, and the sync reads each item anyway (an older
// generation's is only forgotten).
func (p *pending) discardLocked() {
	p.gen, p.hits, p.misses, p.byteHits, p.touched, p.dirty = -1, 0, 0, 0, nil, len(p.written) > 0
	p.unread = nil
	p.heldMu.Lock()
	p.held = nil
	p.heldMu.Unlock()
}

// syncLoop syncs every tick until Close; the counts and touches a failed
// sync carried are dropped rather than resent, since a lost reply may hide a
// script that ran (Sync itself puts back the plain sets to account).
func (s *Store) syncLoop() {
	defer close(s.loopDone)
	tick := s.opts.syncTick
	if tick == nil {
		t := time.NewTicker(s.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.stop:
			return
		case <-tick:
		case <-s.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.OpTimeout)
		_ = s.sync(ctx, false)
		if s.syncWrote.Load() {
			// Only a node at work prunes: an idle one sends nothing.
			_ = s.prune(ctx)
		}
		cancel()
		if s.opts.synced != nil {
			s.opts.synced()
		}
	}
}
