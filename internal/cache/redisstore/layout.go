package redisstore

import (
	"strconv"
	"strings"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// layout names the Redis keys of one store. Every key starts with the
// service's prefix and then a bucket hash tag "{b}":
//
//	<prefix>{b}:s:<namespace>:<key>   one item or delete lock (a string,
//	                                  item.go); the empty namespace is ~, as
//	                                  on the wire. Items were hashes under
//	                                  :i: before; a new name keeps the two
//	                                  layouts apart, so old keys read as
//	                                  misses and expire by their TTL
//	<prefix>{b}:m                     generation, CAS counter and stats
//	<prefix>{b}:lru, :exp, :sz        access times, expiries, item sizes
//
// A bucket is the unit of atomicity for the bookkeeping: a script touches
// one item plus its bucket's bookkeeping, all in one cluster slot. Against a
// single server there is one bucket. On a cluster the items are hashed over
// many buckets (Options.ClusterBuckets) so every namespace spreads over every
// node; one tag per namespace would have kept scripts simple but put a whole
// namespace, and its load, on a single node. The price is that Stats and
// FlushAll visit every bucket (pipelined, one round trip per node).
type layout struct {
	prefix  string
	buckets int
	// Key names per bucket, built once: they are on every call's path.
	items []string   // item key prefix
	books [][]string // meta, lru, exp, sz
}

// itemInfix follows a bucket's tag in every item key.
const itemInfix = "s:"

func newLayout(prefix string, buckets int) layout {
	l := layout{prefix: prefix, buckets: buckets, items: make([]string, buckets), books: make([][]string, buckets)}
	for b := range buckets {
		t := prefix + "{" + strconv.Itoa(b) + "}:"
		l.items[b] = t + itemInfix
		l.books[b] = []string{t + "m", t + "lru", t + "exp", t + "sz"}
	}
	return l
}

// bucket maps an item to its bucket.
func (l layout) bucket(k cache.Key) int {
	if l.buckets == 1 {
		return 0
	}
	// FNV-1a of namespace ":" name, inlined so it does not allocate.
	h := uint32(2166136261)
	for _, part := range [...]string{k.Namespace, ":", k.Name} {
		for i := 0; i < len(part); i++ {
			h = (h ^ uint32(part[i])) * 16777619
		}
	}
	return int(h % uint32(l.buckets))
}

// bookkeeping returns the meta, lru, exp and sz keys of bucket b; callers
// must not modify the slice.
func (l layout) bookkeeping(b int) []string {
	return l.books[b]
}

// itemPrefix is prepended to an item name to form its key.
func (l layout) itemPrefix(b int) string {
	return l.items[b]
}

// itemKey is the Redis key of item k in bucket b and, as a substring of it,
// the item's name: one allocation for both.
func (l layout) itemKey(b int, k cache.Key) (key, name string) {
	key = l.items[b] + k.Namespace + ":" + k.Name
	return key, key[len(l.items[b]):]
}

// itemName is how an item is known inside its bucket's bookkeeping.
func itemName(k cache.Key) string {
	return k.Namespace + ":" + k.Name
}

// itemPattern is the SCAN pattern matching every item and lock of the store,
// the prefix escaped so that glob characters in it match literally.
func (l layout) itemPattern() string {
	var b strings.Builder
	for _, r := range l.prefix {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteString("{*}:" + itemInfix + "*")
	return b.String()
}

// bucketOf recovers the bucket from an item key found by SCAN.
func (l layout) bucketOf(key string) (int, bool) {
	rest, ok := strings.CutPrefix(key, l.prefix+"{")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "}")
	if !ok {
		return 0, false
	}
	b, err := strconv.Atoi(num)
	if err != nil || b < 0 || b >= l.buckets {
		return 0, false
	}
	return b, true
}
