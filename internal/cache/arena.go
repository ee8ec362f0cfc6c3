package cache

import "encoding/binary"

// A shard's item bytes (namespace, key name, value, back to back) live in
// one of two places, both bounded by the shard's budget rather than grown
// by doubling:
//
//   - Small items (at most smallMax bytes) are records in fixed-size pages.
//     A record is an 8-byte header (record length, owning slot) and the item
//     bytes. Records are appended to the head page; a removed record is
//     marked dead in its header. When the head page is full the shard takes
//     an empty page, or, once dead bytes are over a tenth of its pages,
//     compacts the page with the fewest live bytes in place (sliding its
//     live records to the front) and fills its freed tail; only otherwise
//     does it allocate a new page. Pages therefore stay within about 1.11×
//     the most record bytes the shard held (at most its budget, as an item
//     is charged more than its record) plus a page and a half, and freed
//     space is reused without copying the whole arena.
//   - Larger items get an allocation of their own, exactly one of the Go
//     allocator's size classes, and are charged that rounded size
//     (chargeOf), so the charged total follows the heap they take; Go's
//     page allocator reuses their space once they are freed.
//
// A slot's off addresses either: bigBit|i is entry i of big; otherwise the
// page number times pageSize plus the position of the item bytes (after the
// header) in the page.
const (
	pageBits  = 16
	pageSize  = 1 << pageBits // 64 KiB
	pageMask  = pageSize - 1
	smallMax  = 2 << 10 // largest item that goes in a page; page-end waste stays under 3.2%
	recHeader = 8
	bigBit    = 1 << 31
	deadSlot  = ^uint32(0)
	// compactShare: a shard compacts a page rather than allocating one once
	// dead bytes reach 1/compactShare of its pages.
	compactShare = 10
)

// page is one fixed-size page of small-item records.
type page struct {
	buf  []byte // pageSize bytes
	live int    // bytes of live records, headers included
	end  int    // bytes written; records past it are stale
}

// bigClasses are the Go allocator's size classes above smallMax up to
// maxSmallAlloc, found once by asking append for its rounding, so a big
// item's allocation is exactly what it is charged.
var bigClasses = func() []int {
	var classes []int
	for n := smallMax + 1; n <= maxSmallAlloc; {
		c := cap(append([]byte(nil), make([]byte, n)...))
		classes = append(classes, c)
		n = c + 1
	}
	return classes
}()

const (
	// maxSmallAlloc is the largest Go size-class allocation; above it the
	// allocator rounds to whole runtime pages of allocPage bytes.
	maxSmallAlloc = 32 << 10
	allocPage     = 8 << 10
)

// storedLen is the memory n item bytes take in a shard: a page record, or
// a big allocation rounded as the Go allocator rounds it.
func storedLen(n int) int {
	switch {
	case n <= smallMax:
		return n + recHeader
	case n > maxSmallAlloc:
		return (n + allocPage - 1) &^ (allocPage - 1)
	}
	lo, hi := 0, len(bigClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if bigClasses[mid] >= n {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return max(n, bigClasses[lo])
}

// chargeOf is what an item or delete lock of n namespace, key and value
// bytes is charged against the memory limit.
func chargeOf(n int) int64 {
	if n <= smallMax {
		return ItemOverhead + int64(n)
	}
	return ItemOverhead + int64(storedLen(n))
}

// bytesAt returns the n item bytes at off, or false when they would run
// past the page or allocation there (a stored key shorter than the one
// sought, seen from the index).
func (s *shard) bytesAt(off uint32, n int) ([]byte, bool) {
	if off&bigBit != 0 {
		b := s.big[off&^bigBit]
		if n > len(b) {
			return nil, false
		}
		return b[:n:n], true
	}
	pos := int(off & pageMask)
	if pos+n > pageSize {
		return nil, false
	}
	return s.pages[off>>pageBits].buf[pos : pos+n : pos+n], true
}

// dataOf returns the namespace, key and value bytes of a slot in use.
func (s *shard) dataOf(sl *slot) []byte {
	n := sl.dataLen()
	if sl.off&bigBit != 0 {
		return s.big[sl.off&^bigBit][:n:n]
	}
	pos := int(sl.off & pageMask)
	return s.pages[sl.off>>pageBits].buf[pos : pos+n : pos+n]
}

// allocLocked returns the offset of n fresh item bytes for slot i.
func (s *shard) allocLocked(m *Memory, n int, i int32) uint32 {
	s.live += n
	if n > smallMax {
		b := make([]byte, n, storedLen(n))
		if k := len(s.bigFree); k > 0 {
			j := s.bigFree[k-1]
			s.bigFree = s.bigFree[:k-1]
			s.big[j] = b
			return bigBit | j
		}
		s.big = append(s.big, b)
		return bigBit | uint32(len(s.big)-1)
	}
	rec := recHeader + n
	if s.head < 0 || s.pages[s.head].end+rec > pageSize {
		s.nextPageLocked(m)
	}
	p := &s.pages[s.head]
	pos := p.end
	binary.LittleEndian.PutUint32(p.buf[pos:], uint32(rec))
	binary.LittleEndian.PutUint32(p.buf[pos+4:], uint32(i))
	p.end += rec
	p.live += rec
	s.small += rec
	return uint32(s.head)<<pageBits | uint32(pos+recHeader)
}

// freeLocked releases the item bytes of sl, which is still intact.
func (s *shard) freeLocked(sl *slot) {
	n := sl.dataLen()
	s.live -= n
	if sl.off&bigBit != 0 {
		j := sl.off &^ bigBit
		s.big[j] = nil
		s.bigFree = append(s.bigFree, j)
		return
	}
	v := int32(sl.off >> pageBits)
	p := &s.pages[v]
	pos := int(sl.off&pageMask) - recHeader
	binary.LittleEndian.PutUint32(p.buf[pos+4:], deadSlot)
	p.live -= recHeader + n
	s.small -= recHeader + n
	if p.live == 0 && v != s.head {
		p.end = 0
		s.freePages = append(s.freePages, v)
	}
}

// shrinkLocked records that sl's item, rewritten in place, is by bytes shorter.
func (s *shard) shrinkLocked(sl *slot, by int) {
	s.live -= by
	if sl.off&bigBit == 0 {
		s.pages[sl.off>>pageBits].live -= by
		s.small -= by
	}
}

// nextPageLocked makes a page with room for any small record the head:
// the head itself if it emptied, an empty page, the emptiest page
// compacted, or a new page while dead bytes are few.
func (s *shard) nextPageLocked(m *Memory) {
	if s.head >= 0 && s.pages[s.head].live == 0 {
		s.pages[s.head].end = 0
		return
	}
	if k := len(s.freePages); k > 0 {
		s.head = s.freePages[k-1]
		s.freePages = s.freePages[:k-1]
		return
	}
	total := len(s.pages) * pageSize
	if dead := total - s.small; dead >= pageSize/2 && dead*compactShare >= total {
		v := int32(0)
		for j := range s.pages {
			if s.pages[j].live < s.pages[v].live {
				v = int32(j)
			}
		}
		// The emptiest page has at most the average live bytes, so at least
		// a tenth of it comes free: more than any small record needs.
		s.compactPageLocked(m, v)
		s.head = v
		return
	}
	s.pages = append(s.pages, page{buf: make([]byte, pageSize)})
	s.head = int32(len(s.pages) - 1)
}

// compactPageLocked slides the live records of page v to its front, in
// order, and points their slots and index entries at the new places.
func (s *shard) compactPageLocked(m *Memory, v int32) {
	p := &s.pages[v]
	buf := p.buf
	w := 0
	for r := 0; r < p.end; {
		rec := int(binary.LittleEndian.Uint32(buf[r:]))
		i := binary.LittleEndian.Uint32(buf[r+4:])
		if i != deadSlot {
			sl := &s.slots[i]
			n := recHeader + sl.dataLen()
			if w != r {
				copy(buf[w:w+n], buf[r:r+n])
			}
			binary.LittleEndian.PutUint32(buf[w:], uint32(n))
			off := uint32(v)<<pageBits | uint32(w+recHeader)
			if sl.off != off {
				sl.off = off
				s.idx.setOff(uint32(m.hashSlot(s, sl)), int32(i), off)
			}
			w += n
		}
		r += rec
	}
	p.end = w
}
