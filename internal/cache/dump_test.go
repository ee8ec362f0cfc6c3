package cache

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// restoreRecords builds n records in ascending access order, of values of
// varied sizes (some over the page limit), some delete locks, some expired,
// and every tenth a repeat of an earlier key, which must keep the later one.
func restoreRecords(now int64, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		name := i
		if i%10 == 9 {
			name = i / 2
		}
		r := Record{
			Namespace: []byte([]string{"default", "default", "team-a.b_c"}[i%3]),
			Name:      fmt.Appendf(nil, "key:%d", name),
			Value:     make([]byte, []int{10, 100, 3000}[i%3]),
			Kind:      KindBytes,
			Flags:     uint32(i),
			CAS:       uint64(1000 + i),
			Access:    now - int64(n) + int64(i),
		}
		r.Value[0] = byte(i)
		switch i % 7 {
		case 3:
			r.Value, r.Lock, r.Expires = nil, true, now+60
		case 5:
			r.Expires = now - 1 // expired: skipped
		}
		recs[i] = r
	}
	return recs
}

// contents is every live record of m, by key, without access times.
func contents(m *Memory) map[string]Record {
	out := map[string]Record{}
	for i := range m.ShardCount() {
		m.VisitShard(i, func(r *Record) {
			c := *r
			c.Namespace, c.Name, c.Value = nil, nil, append([]byte(nil), r.Value...)
			c.Access = 0
			out[string(r.Namespace)+"/"+string(r.Name)] = c
		})
	}
	return out
}

// RestoreShard of each shard's records in batches stores and drops exactly
// what Restore of them one by one does, with the same charged bytes, with
// room for all and with room for a fraction (least recently used dropped).
func TestRestoreShardMatchesRestoreOneByOne(t *testing.T) {
	for _, limit := range []int64{64 << 20, 1 << 20} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			clock := newFakeClock()
			opts := Options{MemoryLimit: limit, MaxValueSize: 4096, Shards: 4, Clock: clock.Now}
			one, bulk := newTestMemory(t, opts), newTestMemory(t, opts)
			bulk.seed = one.seed // the same keys in the same shards
			now := one.NowUnix()
			recs := restoreRecords(now, 5000)
			var want RestoreCounts
			for j := range recs {
				stored, evicted, err := one.Restore(&recs[j], now)
				require.NoError(t, err)
				want.Evicted += evicted
				switch {
				case !stored:
					want.Skipped++
				case recs[j].Lock:
					want.Locks++
				default:
					want.Items++
				}
			}
			perShard := make([][]Record, bulk.ShardCount())
			var got RestoreCounts
			flush := func(i int) {
				c, err := bulk.RestoreShard(i, perShard[i], now)
				require.NoError(t, err)
				got.Items += c.Items
				got.Locks += c.Locks
				got.Skipped += c.Skipped
				got.Evicted += c.Evicted
				perShard[i] = perShard[i][:0]
			}
			for _, r := range recs {
				i := bulk.ShardIndex(r.Namespace, r.Name)
				perShard[i] = append(perShard[i], r)
				if len(perShard[i]) == 97 {
					flush(i)
				}
			}
			for i := range perShard {
				flush(i)
			}
			assert.Equal(t, want, got)
			if limit < 64<<20 {
				assert.Positive(t, got.Evicted, "the small store had to drop some")
			}
			assert.Equal(t, contents(one), contents(bulk))
			for i := range one.shards {
				assert.Equal(t, one.shards[i].used, bulk.shards[i].used, "shard %d: charged bytes", i)
				assert.Equal(t, one.shards[i].items, bulk.shards[i].items, "shard %d: items", i)
				assert.Equal(t, one.shards[i].counters, bulk.shards[i].counters, "shard %d: counters untouched", i)
			}
			checkShards(t, bulk)
		})
	}
}

func TestRestoreShardRefusesARecordOfAnotherShard(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 4})
	r := Record{Namespace: []byte("default"), Name: []byte("k"), Value: []byte("v"), Access: m.NowUnix()}
	other := (m.ShardIndex(r.Namespace, r.Name) + 1) % m.ShardCount()
	_, err := m.RestoreShard(other, []Record{r}, m.NowUnix())
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = m.RestoreShard(other, []Record{{Namespace: []byte("default"), Name: nil}}, m.NowUnix())
	require.ErrorIs(t, err, ErrInvalidArgument, "an invalid key")
	// A name too long after a valid record of the same namespace.
	long := r
	long.Name = make([]byte, MaxKeyBytes+1)
	c, err := m.RestoreShard(m.ShardIndex(r.Namespace, r.Name), []Record{r, long}, m.NowUnix())
	require.ErrorIs(t, err, ErrInvalidArgument, "a key too long")
	assert.Equal(t, 1, c.Items, "the record before it stays stored")
	_ = m.FlushAll(t.Context())
	assert.Empty(t, contents(m))
}
