package cache

import (
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// structure is the heap a shard's items take beyond their bytes' charge
// as the Go heap holds it: the index table (entries and offsets), the slot
// array at its capacity, and the pages; and, during the growth just done,
// the index table and slot array it replaced, which were live with the new
// ones until it finished.
func (s *shard) structure(oldIndex, oldSlots int) (now, growing int64) {
	perPosition := int64(unsafe.Sizeof(uint64(0)) + unsafe.Sizeof(uint32(0)))
	perSlot := int64(unsafe.Sizeof(slot{}))
	now = perPosition*int64(len(s.idx.entries)) + perSlot*int64(cap(s.slots)) + pageSize*int64(len(s.pages))
	for _, b := range s.big {
		now += int64(cap(b))
	}
	growing = now
	if len(s.idx.entries) != oldIndex {
		growing += perPosition * int64(oldIndex)
	}
	if cap(s.slots) != oldSlots {
		growing += perSlot * int64(oldSlots)
	}
	return now, growing
}

// The index table doubles as a shard grows, and is not charged its own
// bytes: ItemOverhead charges every item a share of it (and of the slot
// array, which grows by appending). Many tiny items under a small limit, the
// case where that share is most of an item's charge, written three times
// over so eviction runs: the heap the structures really take stays within
// what the shard is charged (plus the head page and a half the arena may
// hold beyond its records), at every write, and the old table and array
// that a growth holds until it is done add under half of one shard's
// budget (the slot array's is most of it: 44 bytes an item against the
// index's 12 a position). Shards grow under their own locks, so the store's
// transient is that of the few shards growing at once (at most GOMAXPROCS
// of its 16 × GOMAXPROCS by default), not a doubling of the whole store:
// 2.5 % of a 4 GiB limit on two cores, 5 % of 64 MiB, inside the bound's
// 32 MiB.
func TestIndexAndSlotsStayWithinTheirCharge(t *testing.T) {
	for _, valueLen := range []int{0, 1, 40} {
		t.Run("values of "+strconv.Itoa(valueLen)+" bytes", func(t *testing.T) {
			const limit, shards = 8 << 20, 4
			m := newTestMemory(t, Options{MemoryLimit: limit, Shards: shards, MaxValueSize: 1024})
			budget := m.shards[0].budget
			value := make([]byte, valueLen)
			oldIndex, oldSlots := make([]int, shards), make([]int, shards)
			var worstRest, worstGrowing float64
			var peak int64
			for i := range 3 * limit / (ItemOverhead + 4 + valueLen) {
				_, err := m.Put(t.Context(), ModeSet, Entry{Key: mustKey(t, strconv.Itoa(i)), Value: value, Kind: KindBytes})
				require.NoError(t, err)
				var total int64
				for j, s := range m.shards {
					s.mu.Lock()
					now, growing := s.structure(oldIndex[j], oldSlots[j])
					oldIndex[j], oldSlots[j] = len(s.idx.entries), cap(s.slots)
					used := s.used
					s.mu.Unlock()
					total += now
					if used > budget/4 {
						worstRest = max(worstRest, float64(now-3*pageSize/2)/float64(used))
					}
					worstGrowing = max(worstGrowing, float64(growing-now)/float64(budget))
				}
				peak = max(peak, total)
			}
			t.Logf("structures ÷ charge at worst %.3f; a growth's old table and array ÷ a shard's budget %.3f; store peak %.2f × the limit",
				worstRest, worstGrowing, float64(peak)/limit)
			assert.LessOrEqual(t, worstRest, 1.0, "the index, slots and pages stay within their shard's charge")
			assert.LessOrEqual(t, worstGrowing, 0.45, "a growth holds under half a shard's budget more")
			assert.LessOrEqual(t, float64(peak), 1.02*limit, "the store's structures stay within its limit")
		})
	}
}
