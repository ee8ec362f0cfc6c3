package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"
)

// Pruning. The lru zset and the sz hash hold an entry for every accounted
// item and carry no TTL, so that a volatile-* maxmemory policy evicts items
// only (README, "Redis settings"). An item Redis evicts leaves its entries
// behind: nothing else learns of the eviction, and with many distinct keys
// the entries alone came to fill Redis, after which every write, a flush
// included, failed with OOM. Each sync therefore looks at a window of lru
// entries, moving on through the zset from one sync to the next, and
// forgets those whose item is gone, with their accounting: a few per sync,
// and four per key Redis evicted since the last one (its evicted_keys), so
// the entries left behind stay a fraction of the live ones however fast
// Redis evicts.
const (
	pruneIdle       = 64    // lru entries looked at per bucket and sync
	prunePerEvicted = 4     // more per key Redis evicted since the last prune
	pruneMax        = 20000 // at most, per bucket and sync
	pruneChunk      = 1000  // per script: a script blocks Redis while it runs
)

// pruner is where pruning stands.
type pruner struct {
	mu      sync.Mutex
	evicted int64   // Redis's evicted_keys at the last prune; -1 before the first
	next    []int64 // per bucket: the lru rank the next window starts at
}

func newPruner(buckets int) *pruner {
	return &pruner{evicted: -1, next: make([]int64, buckets)}
}

// prune looks at the next window of each bucket's lru entries.
func (s *Store) prune(ctx context.Context) error {
	p := s.prn
	p.mu.Lock()
	defer p.mu.Unlock()
	budget := int64(pruneIdle)
	if s.client.Mode() != rueidis.ClientModeCluster {
		// One server: its INFO says how many keys it evicted. A cluster's
		// nodes would each need asking; there the window stays small.
		if n, err := s.evictedKeys(ctx); err == nil {
			if p.evicted >= 0 && n > p.evicted {
				budget += prunePerEvicted * (n - p.evicted)
			}
			p.evicted = n
		}
	}
	budget = min(budget, pruneMax)
	for b := range p.next {
		for left := budget; left > 0; {
			count := min(left, pruneChunk)
			c := call{keys: s.lay.bookkeeping(b), args: []string{s.lay.itemPrefix(b),
				strconv.FormatInt(p.next[b], 10), strconv.FormatInt(count, 10)}}
			res, err := s.eval(ctx, pruneLua, []call{c})[0].AsIntSlice()
			if err == nil && len(res) != 2 {
				err = fmt.Errorf("redisstore: prune answered %v", res)
			}
			if err != nil {
				return s.fail("prune", err)
			}
			looked, gone := res[0], res[1]
			p.next[b] += looked - gone
			if looked < count {
				p.next[b] = 0 // the end of the zset: from the start next time
				break
			}
			left -= count
		}
	}
	return nil
}

// evictedKeys is the evicted_keys of the server's INFO stats.
func (s *Store) evictedKeys(ctx context.Context) (int64, error) {
	info, err := s.client.Do(ctx, s.client.B().Info().Section("stats").Build()).ToString()
	if err != nil {
		return 0, s.fail("info stats", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "evicted_keys:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}
