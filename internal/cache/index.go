package cache

// index maps key fingerprints to slots: an open-addressing table of uint64
// entries (fingerprint<<32 | slot+1, 0 = empty) with linear probing, and
// beside each entry the arena offset of its item's bytes. A lookup thus
// learns both the slot and where the key bytes are from one probe, and
// loads the two in parallel instead of one after the other: at sizes where
// every load misses the CPU caches that is one memory round trip fewer.
// The table holds no pointers, so the garbage collector never scans it; it
// costs about 20 bytes per item (12 per position at 40-80% load) where a Go
// map[uint64]int32 costs about 26. Equal fingerprints are allowed; the shard
// tells them apart by comparing keys.
type index struct {
	entries []uint64
	offs    []uint32 // offs[p] is the arena offset of the item of entries[p]
	n       int
	shift   uint // 64 - log2(len(entries))
}

const (
	// minIndex is the table size of a fresh index.
	minIndex = 8
	// maxLoadPercent bounds the table's load so probes stay short.
	maxLoadPercent = 80
)

func entryFP(e uint64) uint32  { return uint32(e >> 32) }
func entrySlot(e uint64) int32 { return int32(uint32(e)) - 1 }
func makeEntry(fp uint32, i int32) uint64 {
	return uint64(fp)<<32 | uint64(uint32(i+1))
}

// home is where fp's probe sequence starts. Fingerprints are mixed by a
// multiplication, so a table can grow from fingerprints alone.
func (x *index) home(fp uint32) int {
	return int((uint64(fp) * 0x9E3779B97F4A7C15) >> x.shift)
}

// insert records slot i under fp and returns its position, where the
// caller stores the item's arena offset in offs.
func (x *index) insert(fp uint32, i int32) int {
	if (x.n+1)*100 > len(x.entries)*maxLoadPercent {
		x.grow()
	}
	x.n++
	return x.place(makeEntry(fp, i), 0)
}

func (x *index) place(e uint64, off uint32) int {
	mask := len(x.entries) - 1
	p := x.home(entryFP(e))
	for x.entries[p] != 0 {
		p = (p + 1) & mask
	}
	x.entries[p], x.offs[p] = e, off
	return p
}

func (x *index) grow() {
	old, oldOffs := x.entries, x.offs
	size := max(minIndex, 2*len(old))
	x.entries, x.offs = make([]uint64, size), make([]uint32, size)
	x.shift = uint(64 - log2(size))
	for p, e := range old {
		if e != 0 {
			x.place(e, oldOffs[p])
		}
	}
}

func log2(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

// remove drops the entry of slot i under fp, shifting later entries of the
// probe run back so lookups never stop at a hole (no tombstones).
func (x *index) remove(fp uint32, i int32) {
	mask := len(x.entries) - 1
	want := makeEntry(fp, i)
	p := x.home(fp)
	for x.entries[p] != want {
		p = (p + 1) & mask
	}
	x.entries[p] = 0
	x.n--
	for q := (p + 1) & mask; x.entries[q] != 0; q = (q + 1) & mask {
		e := x.entries[q]
		// e may fill the hole at p when p lies on its probe path from home.
		if (q-x.home(entryFP(e)))&mask >= (q-p)&mask {
			x.entries[p], x.entries[q] = e, 0
			x.offs[p] = x.offs[q]
			p = q
		}
	}
}

// setOff records off as the arena offset of slot i under fp, whose item
// bytes moved.
func (x *index) setOff(fp uint32, i int32, off uint32) {
	mask := len(x.entries) - 1
	want := makeEntry(fp, i)
	p := x.home(fp)
	for x.entries[p] != want {
		p = (p + 1) & mask
	}
	x.offs[p] = off
}
