package snapshot

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// WriteOptions tunes Write; the zero value writes as fast as it can.
type WriteOptions struct {
	// Final marks a snapshot taken after the last write (at shutdown,
	// after the HTTP drain); a loader of any other snapshot skips CAS ids
	// that writes after it may have handed out.
	Final bool
	// Pace makes Write rest after each shard for Pace times as long as
	// that shard took, so a snapshot of a serving store holds a shard lock
	// and a core for at most 1/(1+Pace) of the time.
	Pace float64
	// Now is the wall clock stamped in the header; nil means time.Now.
	Now func() time.Time
}

// WriteStats describes a written snapshot.
type WriteStats struct {
	Items, Locks uint64
	Bytes        int64         // file size
	Duration     time.Duration // wall time, rests included
	MaxHold      time.Duration // longest a shard lock was held
}

// TempPath is where Write builds the snapshot of path before renaming it.
func TempPath(path string) string { return path + ".tmp" }

// Write saves every live item and delete lock of m to path: into a
// temporary file beside it, synced, then renamed over path, and the
// directory synced, so path always holds the last complete snapshot, even
// after a crash in the middle of Write. It holds one shard lock at a time.
// When ctx ends first it stops, removes the temporary file and returns
// ctx's error; path is untouched.
func Write(ctx context.Context, m *cache.Memory, path string, opts WriteOptions) (st WriteStats, err error) {
	start := time.Now()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	tmp := TempPath(path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	w := &writer{f: f}
	h := header{created: now().UnixNano(), casHigh: m.CASHighWater(), shards: uint32(m.ShardCount())}
	if opts.Final {
		h.flags |= flagFinal
	}
	hb := h.encode()
	headerCRC := binary.LittleEndian.Uint32(hb[36:])
	w.write(hb)

	var (
		buf      []byte // one shard's records, in slot order
		order    []rec  // where each record of buf starts, to sort by access
		block    []byte // the block being filled, head included
		sections []section
	)
	block = make([]byte, blockHead, blockHead+blockTarget)
	// Room for a shard's records, allocated before its lock is taken so
	// the visit never waits for the buffer to grow; keys hash evenly.
	if c, err := m.Counts(ctx); err == nil {
		shards := uint64(m.ShardCount())
		buf = make([]byte, 0, (c.Bytes+c.Items*(recordHead+16))/shards*5/4)
		order = make([]rec, 0, c.Items/shards*5/4)
	}
	for i := range m.ShardCount() {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("snapshot: %w", err)
		}
		began := time.Now()
		buf, order = buf[:0], order[:0]
		m.VisitShard(i, func(r *cache.Record) {
			order = append(order, rec{access: r.Access, off: uint32(len(buf))})
			buf = appendRecord(buf, r)
			if r.Lock {
				st.Locks++
			} else {
				st.Items++
			}
		})
		st.MaxHold = max(st.MaxHold, time.Since(began))
		slices.SortFunc(order, func(a, b rec) int {
			if c := cmp.Compare(a.access, b.access); c != 0 {
				return c
			}
			return cmp.Compare(a.off, b.off)
		})
		sec := section{first: uint64(w.off), records: uint64(len(order))}
		for _, o := range order {
			n := recordLen(buf[o.off:])
			if len(block) > blockHead && len(block)-blockHead+n > blockTarget {
				w.block(block, kindBlock, uint32(i))
				block = block[:blockHead]
			}
			block = append(block, buf[o.off:int(o.off)+n]...)
		}
		if len(block) > blockHead {
			w.block(block, kindBlock, uint32(i))
			block = block[:blockHead]
		}
		sec.bytes = uint64(w.off) - sec.first
		sections = append(sections, sec)
		if w.err != nil {
			return st, w.err
		}
		if opts.Pace > 0 {
			if err := rest(ctx, time.Duration(opts.Pace*float64(time.Since(began)))); err != nil {
				return st, err
			}
		}
	}
	trailerOff := w.off
	trailer := make([]byte, blockHead, blockHead+len(sections)*sectionLen)
	for _, s := range sections {
		trailer = binary.LittleEndian.AppendUint64(trailer, s.first)
		trailer = binary.LittleEndian.AppendUint64(trailer, s.bytes)
		trailer = binary.LittleEndian.AppendUint64(trailer, s.records)
	}
	w.block(trailer, kindTrail, uint32(len(sections)))
	w.write(encodeFooter(uint64(trailerOff), headerCRC))
	if w.err != nil {
		return st, w.err
	}
	if err := f.Sync(); err != nil {
		return st, fmt.Errorf("snapshot: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return st, fmt.Errorf("snapshot: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return st, err
	}
	st.Bytes, st.Duration = w.off, time.Since(start)
	return st, nil
}

// rec is where one record starts in a shard's buffer, and its access time.
type rec struct {
	access int64
	off    uint32
}

// recordLen is the encoded length of the record at the start of b, which
// appendRecord wrote.
func recordLen(b []byte) int {
	return recordHead + int(b[2]) + int(b[3]) + int(binary.LittleEndian.Uint32(b[4:]))
}

// writer writes to a file, counting bytes and keeping the first error.
type writer struct {
	f   *os.File
	off int64
	err error
}

func (w *writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.f.Write(b)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("snapshot: write %s: %w", w.f.Name(), err)
	}
}

// block writes b, whose first blockHead bytes are room for the head, as one block.
func (w *writer) block(b []byte, kind byte, sec uint32) {
	blockHeader(b[:blockHead], kind, sec, b[blockHead:])
	w.write(b)
}

// rest waits for d or until ctx ends.
func rest(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("snapshot: %w", ctx.Err())
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("snapshot: sync %s: %w", dir, err)
	}
	return nil
}
