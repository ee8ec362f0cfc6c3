package snapshot

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// casGap is how far the CAS ids of a store loaded from a periodic snapshot
// jump past the snapshot's high water: ids handed out after that snapshot,
// before a crash, may still be held by clients, and must never name a new
// write. 2^32 writes between two snapshots is far beyond any interval.
const casGap = 1 << 32

// LoadStats describes a loaded snapshot.
type LoadStats struct {
	Items, Locks uint64    // restored
	Skipped      uint64    // not restored: expired since the snapshot, or over the value limit
	Evicted      uint64    // restored, then dropped, least recently used first, to stay within the memory limit
	Bytes        int64     // file size
	Created      time.Time // when the snapshot was written
	Final        bool      // written at shutdown, after the HTTP drain
	Duration     time.Duration
}

// Load restores the snapshot at path into m, a new store that is not
// serving yet: items and delete locks with their CAS ids, flags, expiry and
// last access; what expired since is dropped, and CAS ids continue above
// every id the snapshot's store handed out. The file's header, trailer and
// footer are checked before any record is read, and each block's checksum
// before it is decoded; on any error m is emptied again, so it never holds
// part of a file, and the error wraps ErrCorrupt for a file that is not an
// intact snapshot (os.ErrNotExist when there is none). ctx ending stops the
// load the same way.
func Load(ctx context.Context, m *cache.Memory, path string) (st LoadStats, err error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	st, err = load(ctx, m, f, fi.Size())
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	st.Duration = time.Since(start)
	return st, nil
}

// load is Load of the size bytes of r.
func load(ctx context.Context, m *cache.Memory, r io.ReaderAt, size int64) (st LoadStats, err error) {
	st.Bytes = size
	l := &loader{f: r, size: size}
	h, secs, err := l.frame()
	if err != nil {
		return st, err
	}
	st.Created, st.Final = time.Unix(0, h.created), h.flags&flagFinal != 0
	defer func() {
		if err != nil {
			_ = m.FlushAll(context.Background())
			st.Items, st.Locks, st.Skipped, st.Evicted = 0, 0, 0, 0
		}
	}()
	var records uint64
	for _, s := range secs {
		records += s.records
	}
	m.Reserve(int(min(records, 1<<31)))
	maxCAS, err := l.restore(ctx, m, secs, &st)
	if err != nil {
		return st, err
	}
	next := max(h.casHigh, maxCAS)
	if !st.Final {
		next = addSaturating(next, casGap)
	}
	m.ContinueCAS(next)
	return st, nil
}

func addSaturating(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// loader reads one snapshot file.
type loader struct {
	f    io.ReaderAt
	size int64
}

func (l *loader) read(b []byte, off int64) error {
	if _, err := l.f.ReadAt(b, off); err != nil {
		return fmt.Errorf("%w: read at %d: %w", ErrCorrupt, off, err)
	}
	return nil
}

// frame checks the header, footer and trailer and returns the header and
// the sections, which tile the file between header and trailer exactly.
func (l *loader) frame() (header, []section, error) {
	hb := make([]byte, min(l.size, headerLen))
	if err := l.read(hb, 0); err != nil {
		return header{}, nil, err
	}
	h, err := decodeHeader(hb)
	if err != nil {
		return header{}, nil, err
	}
	if l.size < headerLen+blockHead+footerLen {
		return header{}, nil, fmt.Errorf("%w: truncated: %d bytes", ErrCorrupt, l.size)
	}
	fb := make([]byte, footerLen)
	if err := l.read(fb, l.size-footerLen); err != nil {
		return header{}, nil, err
	}
	trailerOff := binary.LittleEndian.Uint64(fb)
	if string(fb[12:]) != endMagic || footerCRC(fb[:8], binary.LittleEndian.Uint32(hb[36:])) != binary.LittleEndian.Uint32(fb[8:]) {
		return header{}, nil, fmt.Errorf("%w: truncated or damaged: no intact end marker", ErrCorrupt)
	}
	maxTrailer := uint64(l.size) - footerLen - blockHead
	if trailerOff < headerLen || trailerOff > maxTrailer {
		return header{}, nil, fmt.Errorf("%w: trailer offset %d outside the file", ErrCorrupt, trailerOff)
	}
	tb := make([]byte, blockHead+maxTrailer-trailerOff)
	if err := l.read(tb, int64(trailerOff)); err != nil {
		return header{}, nil, err
	}
	p := tb[blockHead:]
	if tb[0] != kindTrail || uint64(binary.LittleEndian.Uint32(tb[8:])) != uint64(len(p)) || !checkBlock(tb, p) {
		return header{}, nil, fmt.Errorf("%w: trailer damaged", ErrCorrupt)
	}
	n := binary.LittleEndian.Uint32(tb[4:])
	if uint64(n)*sectionLen != uint64(len(p)) {
		return header{}, nil, fmt.Errorf("%w: trailer lists %d sections in %d bytes", ErrCorrupt, n, len(p))
	}
	secs := make([]section, n)
	at := uint64(headerLen)
	for i := range secs {
		s := section{
			first:   binary.LittleEndian.Uint64(p[i*sectionLen:]),
			bytes:   binary.LittleEndian.Uint64(p[i*sectionLen+8:]),
			records: binary.LittleEndian.Uint64(p[i*sectionLen+16:]),
		}
		if s.first != at || s.bytes > trailerOff-at || s.records > s.bytes/recordHead {
			return header{}, nil, fmt.Errorf("%w: section %d does not follow the one before", ErrCorrupt, i)
		}
		at += s.bytes
		secs[i] = s
	}
	if at != trailerOff {
		return header{}, nil, fmt.Errorf("%w: sections end at %d, the trailer starts at %d", ErrCorrupt, at, trailerOff)
	}
	return h, secs, nil
}

// restore restores every record of the sections into m and returns the
// largest CAS id. This goroutine merges the sections by access time, once,
// and gathers each shard's records, copied, into batches; up to one worker
// per core restores the batches of its own shards (shard mod workers), each
// in one RestoreShard call, so every shard still receives its records in
// ascending access order under one lock acquisition per batch.
func (l *loader) restore(ctx context.Context, m *cache.Memory, secs []section, st *LoadStats) (uint64, error) {
	if perItem {
		return l.restorePerItem(ctx, m, secs, st)
	}
	now := m.NowUnix()
	workers := min(runtime.GOMAXPROCS(0), m.ShardCount(), maxWorkers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := min(max(batchMemory/m.ShardCount(), minBatch), maxBatch)
	// Spent batches come back for reuse: as many as can be pending or in
	// flight, so a load allocates its buffers once (a sync.Pool would drop
	// them at every garbage collection).
	free := make(chan *batch, m.ShardCount()+workers*(queueDepth+1))
	get := func() *batch {
		select {
		case b := <-free:
			return b
		default:
			return &batch{buf: make([]byte, 0, size), recs: make([]cache.Record, 0, size/64)}
		}
	}
	chans := make([]chan *batch, workers)
	counts := make([]cache.RestoreCounts, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		chans[w] = make(chan *batch, queueDepth)
		wg.Go(func() {
			for b := range chans[w] {
				if errs[w] == nil {
					c, err := m.RestoreShard(b.shard, b.recs, now)
					counts[w].Items += c.Items
					counts[w].Locks += c.Locks
					counts[w].Skipped += c.Skipped
					counts[w].Evicted += c.Evicted
					if err != nil {
						errs[w] = fmt.Errorf("%w: %w", ErrCorrupt, err)
						cancel()
					}
				}
				b.recs, b.buf = b.recs[:0], b.buf[:0]
				select {
				case free <- b:
				default:
				}
			}
		})
	}
	pending := make([]*batch, m.ShardCount())
	send := func(b *batch) { chans[b.shard%workers] <- b }
	maxCAS, err := l.merge(ctx, secs, func(r *cache.Record) {
		i := m.ShardIndex(r.Namespace, r.Name)
		b := pending[i]
		n := len(r.Namespace) + len(r.Name) + len(r.Value)
		if b != nil && len(b.buf)+n > cap(b.buf) {
			send(b)
			b = nil
		}
		if b == nil {
			b = get()
			b.shard = i
			if n > cap(b.buf) {
				b.buf = make([]byte, 0, n)
			}
			pending[i] = b
		}
		// Appends within the buffer's capacity: earlier records' slices
		// stay valid. The record is copied once, into its place.
		at := len(b.buf)
		b.buf = append(append(append(b.buf, r.Namespace...), r.Name...), r.Value...)
		b.recs = append(b.recs, *r)
		rec := &b.recs[len(b.recs)-1]
		rec.Namespace = b.buf[at : at+len(r.Namespace)]
		at += len(r.Namespace)
		rec.Name = b.buf[at : at+len(r.Name)]
		at += len(r.Name)
		rec.Value = b.buf[at : at+len(r.Value)]
	})
	if err == nil {
		for _, b := range pending {
			if b != nil {
				send(b)
			}
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	// A worker's error cancels the merge: report the worker's.
	for _, werr := range errs {
		if werr != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return 0, werr
		}
	}
	if err != nil {
		return 0, err
	}
	for _, c := range counts {
		st.Items += uint64(c.Items)
		st.Locks += uint64(c.Locks)
		st.Skipped += uint64(c.Skipped)
		st.Evicted += uint64(c.Evicted)
	}
	return maxCAS, nil
}

// batch is records of one shard on their way to RestoreShard, their bytes
// copied into buf.
type batch struct {
	shard int
	recs  []cache.Record
	buf   []byte
}

const (
	// batchMemory bounds the batch buffers waiting, one per shard; each is
	// minBatch to maxBatch bytes.
	batchMemory        = 32 << 20
	minBatch, maxBatch = 16 << 10, 256 << 10
	// maxWorkers bounds the goroutines of one load.
	maxWorkers = 4
	// queueDepth is the batches waiting for each worker.
	queueDepth = 4
)

// perItem makes Load restore record by record through Restore, the path
// before RestoreShard: the benchmark's baseline.
var perItem bool

// restorePerItem is restore through Restore, one record at a time: each of
// up to one worker per core merges all sections and restores the records of
// its own shards.
func (l *loader) restorePerItem(ctx context.Context, m *cache.Memory, secs []section, st *LoadStats) (uint64, error) {
	workers := min(runtime.GOMAXPROCS(0), m.ShardCount(), maxWorkers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stats := make([]LoadStats, workers)
	cas := make([]uint64, workers)
	errs := make([]error, workers)
	now := m.NowUnix()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			cas[w], errs[w] = l.merge(ctx, secs, func(r *cache.Record) {
				if m.ShardIndex(r.Namespace, r.Name)%workers != w || errs[w] != nil {
					return
				}
				stored, evicted, err := m.Restore(r, now)
				if err != nil {
					errs[w] = fmt.Errorf("%w: %w", ErrCorrupt, err)
					cancel()
					return
				}
				stats[w].Evicted += uint64(evicted)
				switch {
				case !stored:
					stats[w].Skipped++
				case r.Lock:
					stats[w].Locks++
				default:
					stats[w].Items++
				}
			})
			if errs[w] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return 0, err
		}
	}
	var maxCAS uint64
	for w := range workers {
		if errs[w] != nil {
			return 0, errs[w]
		}
		st.Items += stats[w].Items
		st.Locks += stats[w].Locks
		st.Skipped += stats[w].Skipped
		st.Evicted += stats[w].Evicted
		maxCAS = max(maxCAS, cas[w])
	}
	return maxCAS, nil
}

// merge calls fn with every record of the sections, merged by access time,
// and returns the largest CAS id. The record passed aliases a block buffer
// and is valid only during fn.
func (l *loader) merge(ctx context.Context, secs []section, fn func(*cache.Record)) (uint64, error) {
	var q queue
	for i, s := range secs {
		c := &cursor{l: l, sec: uint32(i), off: int64(s.first), end: int64(s.first + s.bytes), left: s.records}
		ok, err := c.next()
		if err != nil {
			return 0, err
		}
		if ok {
			q = append(q, c)
		}
	}
	heap.Init(&q)
	var maxCAS uint64
	for n := 0; len(q) > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("snapshot: load: %w", err)
			}
		}
		c := q[0]
		fn(&c.rec)
		maxCAS = max(maxCAS, c.rec.CAS)
		ok, err := c.next()
		if err != nil {
			return 0, err
		}
		if ok {
			heap.Fix(&q, 0)
		} else {
			heap.Pop(&q)
		}
	}
	return maxCAS, nil
}

// cursor walks the records of one section, a checked block at a time.
type cursor struct {
	l        *loader
	sec      uint32
	off, end int64  // the next block; the section's end
	left     uint64 // records the trailer says are still to come
	buf      []byte // the current block's payload, checked
	pos      int
	rec      cache.Record // the current record, aliasing buf
	head     [blockHead]byte
}

// next moves to the section's next record and reports whether there is one.
func (c *cursor) next() (bool, error) {
	for c.pos == len(c.buf) {
		if c.off == c.end {
			if c.left != 0 {
				return false, fmt.Errorf("%w: section %d holds fewer records than its trailer says", ErrCorrupt, c.sec)
			}
			return false, nil
		}
		if err := c.block(); err != nil {
			return false, err
		}
	}
	if c.left == 0 {
		return false, fmt.Errorf("%w: section %d holds more records than its trailer says", ErrCorrupt, c.sec)
	}
	n, err := decodeRecord(c.buf[c.pos:], &c.rec)
	if err != nil {
		return false, fmt.Errorf("section %d: %w", c.sec, err)
	}
	c.pos += n
	c.left--
	return true, nil
}

// block reads and checks the section's next block.
func (c *cursor) block() error {
	if c.end-c.off < blockHead {
		return fmt.Errorf("%w: section %d ends inside a block head", ErrCorrupt, c.sec)
	}
	if err := c.l.read(c.head[:], c.off); err != nil {
		return err
	}
	n := int64(binary.LittleEndian.Uint32(c.head[8:]))
	if c.head[0] != kindBlock || binary.LittleEndian.Uint32(c.head[4:]) != c.sec || n == 0 || n > c.end-c.off-blockHead {
		return fmt.Errorf("%w: section %d: block at %d damaged", ErrCorrupt, c.sec, c.off)
	}
	if int64(cap(c.buf)) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	if err := c.l.read(c.buf, c.off+blockHead); err != nil {
		return err
	}
	if !checkBlock(c.head[:], c.buf) {
		return fmt.Errorf("%w: section %d: block at %d fails its checksum", ErrCorrupt, c.sec, c.off)
	}
	c.off += blockHead + n
	c.pos = 0
	return nil
}

// queue is a min-heap of cursors by the access time of their current record.
type queue []*cursor

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].rec.Access < q[j].rec.Access }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)        { *q = append(*q, x.(*cursor)) }
func (q *queue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// MoveAside renames a snapshot that could not be loaded out of the way, so
// the next snapshot does not overwrite it and it can be examined, and
// returns its new name.
func MoveAside(path string, now time.Time) (string, error) {
	to := fmt.Sprintf("%s.rejected-%s", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("snapshot: move aside: %w", err)
	}
	return to, nil
}

// IsMissing reports whether err says there was no snapshot file to load.
func IsMissing(err error) bool { return errors.Is(err, os.ErrNotExist) }
