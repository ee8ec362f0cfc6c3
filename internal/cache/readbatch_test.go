package cache

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadBatchIsGetForEachKey checks ReadBatch against what Get finds for
// the same keys afterwards, over more keys than one part, with every kind
// of key a lookup can meet: live, missing, expired, delete-locked and too
// long for maxLen; with one shard, the default, and more shards than the
// counting sort handles.
func TestReadBatchIsGetForEachKey(t *testing.T) {
	for _, shards := range []int{1, 0, 512} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			clock := newFakeClock()
			m := newTestMemory(t, Options{Shards: shards, MemoryLimit: 1 << 30, Clock: clock.Now})
			const n, maxLen = 300, 200
			keys := make([]Key, n)
			want := make([]Outcome, n)
			for i := range keys {
				name := fmt.Sprintf("key-%d", i)
				keys[i] = mustKey(t, name)
				value := strings.Repeat(string(rune('a'+i%26)), i%50+1)
				switch {
				case i%5 == 0:
					want[i] = Missed // never written
					continue
				case i%7 == 0:
					set(t, m, name, value, 10)
					want[i] = Missed // expired below
					continue
				case i%11 == 0:
					set(t, m, name, value, 0)
					require.NoError(t, m.Delete(t.Context(), keys[i], 60))
					want[i] = Missed // a delete lock is not an item
					continue
				case i%13 == 0:
					value = strings.Repeat("L", maxLen+1)
					want[i] = Deferred
				default:
					want[i] = Found
				}
				_, err := m.Put(t.Context(), ModeSet, Entry{Key: keys[i], Value: []byte(value), Kind: KindBytes, Flags: uint32(i), Time: 3600})
				require.NoError(t, err)
			}
			clock.Advance(20 * time.Second)
			before, err := m.Stats(t.Context())
			require.NoError(t, err)

			items, got := make([]Item, n), make([]Outcome, n)
			// No room in buf at first: the values must survive its growth.
			_, err = m.ReadBatch(t.Context(), keys, items, got, nil, maxLen)
			require.NoError(t, err)

			after, err := m.Stats(t.Context())
			require.NoError(t, err)
			var hits, misses, byteHits uint64
			for i, k := range keys {
				require.Equal(t, want[i], got[i], "key %d", i)
				switch got[i] {
				case Found:
					it, err := m.Get(t.Context(), k, nil)
					require.NoError(t, err, "key %d", i)
					assert.Equal(t, it, items[i], "key %d: the item Get finds", i)
					hits++
					byteHits += uint64(len(k.Name) + len(it.Value))
				case Missed:
					misses++
				}
			}
			assert.Equal(t, before.Hits+hits, after.Hits, "each found key a hit")
			assert.Equal(t, before.Misses+misses, after.Misses, "each missing, expired or locked key a miss; a deferred one neither")
			assert.Equal(t, before.ByteHits+byteHits, after.ByteHits)
		})
	}
}

func TestReadBatchRefusesWhatGetRefuses(t *testing.T) {
	m := newTestMemory(t, Options{})
	keys := []Key{mustKey(t, "a"), {Namespace: "", Name: "b"}}
	_, err := m.ReadBatch(t.Context(), keys, make([]Item, 2), make([]Outcome, 2), nil, 100)
	require.ErrorIs(t, err, ErrInvalidArgument, "a key not built with NewKey")
	_, err = m.ReadBatch(t.Context(), keys[:1], nil, make([]Outcome, 1), nil, 100)
	require.ErrorIs(t, err, ErrInvalidArgument, "no room for the items")
}

// TestReadBatchWarmsTheKeysOfAShard runs warmLocked's loads for keys that
// share a shard, including ones whose home position holds another key or
// nothing, and checks that the lookups after it still find what Get does.
func TestReadBatchWarmsTheKeysOfAShard(t *testing.T) {
	m := newTestMemory(t, Options{Shards: 2})
	keys := make([]Key, 64)
	for i := range keys {
		keys[i] = mustKey(t, fmt.Sprintf("w%d", i))
		if i%2 == 0 {
			set(t, m, keys[i].Name, "v", 0)
		}
	}
	items, got := make([]Item, len(keys)), make([]Outcome, len(keys))
	_, err := m.ReadBatch(t.Context(), keys, items, got, make([]byte, 0, 8), 10)
	require.NoError(t, err)
	for i := range keys {
		if i%2 == 0 {
			assert.Equal(t, Found, got[i], "key %d", i)
			assert.Equal(t, "v", string(items[i].Value))
		} else {
			assert.Equal(t, Missed, got[i], "key %d", i)
		}
	}
	var warmed bool
	for _, s := range m.shards {
		warmed = warmed || s.warm != 0
	}
	assert.True(t, warmed, "a shard with several keys of the batch was warmed")
}

// TestReadBatchBesideWritersAndOtherBatches runs batches beside other
// batches and single writes and deletes, over few and many shards: under
// -race it checks ReadBatch's locking.
func TestReadBatchBesideWritersAndOtherBatches(t *testing.T) {
	for _, shards := range []int{2, 32, 1024} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			m := newTestMemory(t, Options{Shards: shards, MemoryLimit: 2 << 30})
			const n = 2000
			keys := make([]Key, n)
			for i := range keys {
				keys[i] = mustKey(t, fmt.Sprintf("c%d", i))
				set(t, m, keys[i].Name, "v", 0)
			}
			var readers, writers sync.WaitGroup
			stop := make(chan struct{})
			for w := range 4 {
				readers.Add(1)
				writers.Add(1)
				go func() {
					defer readers.Done()
					batch := make([]Key, 100)
					items, got := make([]Item, 100), make([]Outcome, 100)
					var buf []byte
					for i := range 300 {
						for j := range batch {
							batch[j] = keys[(i*7919+j*104729+w*31)%n]
						}
						// Distinct keys, as the contract asks: the strides
						// above repeat only past n.
						var err error
						buf, err = m.ReadBatch(t.Context(), batch, items, got, buf[:0], 10)
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
				go func() {
					defer writers.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						k := keys[(i*31+w)%n]
						if i%3 == 0 {
							_ = m.Delete(t.Context(), k, 0)
						} else if _, err := m.Put(t.Context(), ModeSet, Entry{Key: k, Value: []byte("w"), Kind: KindBytes}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			readers.Wait()
			close(stop)
			writers.Wait()
		})
	}
}
