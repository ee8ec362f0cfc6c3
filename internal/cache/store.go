// Package cache holds the memcache semantics of memcached-http: the Store
// contract every backend implements, the domain rules shared by all backends
// (keys, namespaces, expiration), and the embedded TTL+LRU engine.
//
// The package imports only the standard library; HTTP lives elsewhere.
//
// # The embedded engine
//
// NewMemory builds a Memory: a power-of-two number of shards picked by the
// top bits of a key's hash, each behind its own mutex (no global lock; each
// shard takes CAS ids in blocks of 1024 from one atomic counter, so ids are
// unique and increase per key, but are not ordered across shards). A shard
// keeps its items in a slice of 44-byte pointer-free slots, finds them
// through an open-addressing table of uint64 fingerprint entries that also
// hold each item's arena offset (hash collisions are told apart by comparing
// the stored namespace and key bytes), and keeps namespace, key and value
// bytes back to back: items up to 2 KiB as records in fixed-size 64 KiB
// pages, whose freed space is reused by compacting the emptiest page in
// place, larger items in an allocation of their own. The garbage collector
// therefore scans a handful of pointers per shard plus one per large item
// however many items there are, and a Get hit appends the value to the
// caller's buffer without allocating.
//
// Memory bound: each shard owns MemoryLimit/shards bytes and charges every
// item or delete lock ItemOverhead + len(namespace) + len(key) + len(value)
// (for items over 2 KiB, that length rounded up to the Go allocator's size
// class, which is what its allocation takes); the charged total never
// exceeds MemoryLimit. A shard evicts when its own
// share is full (keys hash evenly, so shares fill evenly); by default
// NewMemory picks a shard count whose shares hold the largest item twice,
// and it rejects an explicit Shards whose shares cannot hold it once. The
// heap behind it is about the same (BenchmarkItemOverhead: about 94 bytes
// per small item beyond key and value, against 96 + 7 for the default
// namespace charged), plus dead space in pages (compacted once it reaches a
// tenth of them, so pages stay within about 1.11× a shard's budget and never
// double), garbage the Go runtime has not collected yet (the server sets its
// soft memory limit from MemoryLimit) and slot slices that keep their length
// after mass deletes, until FlushAll.
//
// Eviction is segmented CLOCK, an approximation of segmented LRU: new items
// enter a probation list; a read only sets a bit on the slot; when a write
// needs room it first frees expired slots found by a short scan, then takes
// the probation tail, and a referenced victim is spared once by moving it
// to the protected list (at most 80% of the shard). A scan of new keys thus
// evicts only unread items. Expired items are invisible at once, reclaimed
// when touched, by that scan, by Stats, and by a background sweeper that
// looks at a bounded batch of slots per shard each second until Close.
//
// Without Options.Clock the clock is the wall time at NewMemory plus the
// monotonic time since (one vDSO read instead of two, as memcached does), so
// expiry does not follow later wall-clock steps; the sweeper also publishes
// the current whole second, and an operation reads the exact clock at most
// once, only when expiry, a relative time, a delete or an eviction needs it.
//
// Cost against a plain map behind a sync.RWMutex (see BENCHMARKS.md): Get
// 1.7× (2.7× for an item with a TTL, which needs one monotonic clock read),
// parallel Get about 1×, Set 2.1× with a relative time (whose exact clock
// read is a fifth of it) and 1.45× without, Incr 0.8×; p99 Get latency at
// 10M items is about 2.8× that at 10k, as it is for the plain map, because a
// random Get at that size waits for two trips to DRAM.
package cache

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors returned by every Store. Callers compare them with errors.Is;
// backends may wrap them with context.
var (
	// ErrNotFound: no live item under the key (missing, expired or delete-locked),
	// for get, replace, delete and incr/decr without an initial value.
	ErrNotFound = errors.New("cache: not found")
	// ErrExists: add found a live item or a delete lock under the key.
	ErrExists = errors.New("cache: item exists")
	// ErrCASMismatch: cas found the item changed, missing, expired or locked.
	ErrCASMismatch = errors.New("cache: cas mismatch")
	// ErrNotANumber: incr/decr on a value that is not an unsigned 64-bit decimal.
	ErrNotANumber = errors.New("cache: value is not an unsigned 64-bit decimal integer")
	// ErrKeyTooLong: the key (after key_prefix) is longer than MaxKeyBytes.
	ErrKeyTooLong = errors.New("cache: key too long")
	// ErrValueTooLarge: the value exceeds the store's value limit or could never
	// fit in its memory limit; nothing was stored.
	ErrValueTooLarge = errors.New("cache: value too large")
	// ErrInvalidArgument: a malformed key, namespace, time, delta or mode.
	ErrInvalidArgument = errors.New("cache: invalid argument")
	// ErrUnavailable: a networked backend could not be reached.
	ErrUnavailable = errors.New("cache: backend unavailable")
	// ErrBatchTooLarge: a GetMulti with a byte budget found more value bytes
	// than the budget allows; it stopped there and returned no items.
	ErrBatchTooLarge = errors.New("cache: batch too large")
)

// Kind records how a value was supplied so it reads back the same way.
type Kind uint8

const (
	// KindJSON marks a value held as its compact UTF-8 JSON encoding.
	KindJSON Kind = iota
	// KindBytes marks an opaque byte string.
	KindBytes
)

// Mode selects the storage rule of a write, as App Engine's set/add/replace/cas.
type Mode uint8

const (
	// ModeSet always stores, even over a delete lock, and clears the lock.
	ModeSet Mode = iota
	// ModeAdd stores only if no live item exists and the key is not locked.
	ModeAdd
	// ModeReplace stores only if a live, unlocked item exists.
	ModeReplace
	// ModeCAS stores only if the live item still carries Entry.CAS.
	ModeCAS
)

// Item is a stored value as read back.
type Item struct {
	Value   []byte // compact JSON for KindJSON, raw bytes for KindBytes
	Kind    Kind
	Flags   uint32 // opaque to the store, returned unchanged
	CAS     uint64 // changes on every successful write
	Expires int64  // Unix seconds at which the item expires; 0 = never
}

// Entry is one write request.
type Entry struct {
	Key   Key
	Value []byte
	Kind  Kind
	Flags uint32
	Time  float64 // App Engine's expiration; see ExpiresAt
	CAS   uint64  // the id the caller fetched; used by ModeCAS only
}

// Delta is an increment or decrement by an unsigned amount.
type Delta struct {
	Amount    uint64
	Decrement bool
}

// Stats are App Engine's get_stats counters.
type Stats struct {
	Hits          uint64 // lookups that found a live item
	Misses        uint64 // lookups that did not
	ByteHits      uint64 // key+value bytes of the hits
	Items         uint64 // live items now
	Bytes         uint64 // key+value bytes of the live items now
	OldestItemAge int64  // seconds since the least recently accessed live item was accessed
}

// Counts are the figures a store keeps as it runs, so that reading them
// costs the same however many items it holds: what readiness probes and
// metric scrapes read, where Stats may scan.
type Counts struct {
	Hits     uint64 // lookups that found a live item (reset by FlushAll)
	Misses   uint64 // lookups that did not (reset by FlushAll)
	ByteHits uint64 // key+value bytes of the hits (reset by FlushAll)
	Items    uint64 // items held, possibly including expired ones not yet reclaimed
	Bytes    uint64 // key+value bytes of those items
}

// Monitored is what a store offers probes beside Store: both methods cost
// O(1) in the number of items, unlike Stats.
type Monitored interface {
	// Ping reports whether the store can serve requests now.
	Ping(ctx context.Context) error
	// Counts returns the running counters, without a scan.
	Counts(ctx context.Context) (Counts, error)
}

// Peeker is implemented by stores that can say what a GetMulti would find
// without copying values, so a caller can check a response's size first and
// then read the items one at a time (the embedded engine does).
type Peeker interface {
	// PeekMulti calls fn with each live item among keys, in order, its
	// Value nil and valueLen its value's length. It counts no hits or
	// misses and records no access.
	PeekMulti(ctx context.Context, keys []Key, fn func(i int, it Item, valueLen int)) error
}

// Outcome is what ReadBatch found for one key.
type Outcome uint8

const (
	// Missed: no live item; counted as a miss.
	Missed Outcome = iota
	// Found: a hit, its item returned and counted as Get counts it.
	Found
	// Deferred: a live item whose value is longer than the call allows;
	// neither copied nor counted, for the caller to Get.
	Deferred
)

// BatchReader is implemented by stores that read many keys faster together
// than one by one (the embedded engine looks up the keys of each shard
// under one hold of its lock, their cache misses overlapped).
type BatchReader interface {
	// ReadBatch looks up keys, none named twice, as Get looks up each: got[i]
	// is the outcome for keys[i] and, when Found, items[i] its item, whose
	// Value is appended to buf (the grown buf is returned; a Value stays
	// valid until buf is reused). A live item whose value is longer than
	// maxLen bytes is Deferred.
	ReadBatch(ctx context.Context, keys []Key, items []Item, got []Outcome, buf []byte, maxLen int) ([]byte, error)
}

// Store is the contract of a cache backend: every App Engine operation, single and
// multi. Multi results are aligned with their inputs; the error returned
// beside them is for the whole call (invalid batch, unreachable backend).
type Store interface {
	// Get returns the live item under key, its value appended to dst[:0].
	Get(ctx context.Context, key Key, dst []byte) (Item, error)
	// GetMulti returns the live items among keys; misses are absent.
	// maxBytes > 0 bounds the total len(Value) of the items returned: once
	// adding an item would pass it, the store stops copying and returns
	// ErrBatchTooLarge. 0 means no bound; a negative budget is invalid.
	GetMulti(ctx context.Context, keys []Key, maxBytes int) (map[Key]Item, error)
	// Put writes e under mode and returns the item's new CAS id.
	Put(ctx context.Context, mode Mode, e Entry) (uint64, error)
	// PutMulti validates every entry first (storing nothing if one is invalid),
	// then writes each; errs[i] is nil when entries[i] was stored.
	PutMulti(ctx context.Context, mode Mode, entries []Entry) (errs []error, err error)
	// Delete removes the live item under key (ErrNotFound if none) and, when
	// seconds > 0, locks the key for that period (same rules as Entry.Time).
	Delete(ctx context.Context, key Key, seconds float64) error
	// DeleteMulti deletes each key; errs[i] is nil or ErrNotFound.
	DeleteMulti(ctx context.Context, keys []Key, seconds float64) (errs []error, err error)
	// Offset applies d to the numeric value under key and returns the result;
	// a missing key is created from initial when it is not nil.
	Offset(ctx context.Context, key Key, d Delta, initial *uint64) (uint64, error)
	// OffsetMulti applies deltas[i] to keys[i]; errs[i] is nil when values[i] is valid.
	OffsetMulti(ctx context.Context, keys []Key, deltas []Delta, initial *uint64) (values []uint64, errs []error, err error)
	// Fetch reads the live item under key as Get does and, per opts, gives it
	// a new expiration, creates an empty item on a miss and hands out its
	// recache lease, atomically (memcached's touch, gat and meta get).
	Fetch(ctx context.Context, key Key, opts FetchOptions, dst []byte) (Fetched, error)
	// Concat joins value to the live item under key (memcached's append and
	// prepend), keeping its flags and expiry; the result is KindBytes.
	Concat(ctx context.Context, key Key, value []byte, opts ConcatOptions) (uint64, error)
	// Invalidate marks the live item under key stale, empties it, or
	// removes it, checking its CAS id first when asked (memcached's meta
	// delete).
	Invalidate(ctx context.Context, key Key, opts InvalidateOptions) (uint64, error)
	// ListKeys returns one page of the live items of a namespace whose names
	// start with a prefix, without their values (see ListOptions, KeyPage).
	ListKeys(ctx context.Context, opts ListOptions) (KeyPage, error)
	// Namespaces returns the namespaces holding live items, with their item
	// counts, in ListNamespaces order; at most limit of them (1 to
	// MaxNamespaces), and whether there were more.
	Namespaces(ctx context.Context, limit int) (ns []NamespaceInfo, truncated bool, err error)
	// FlushAll removes every item and lock in every namespace and resets stats.
	FlushAll(ctx context.Context) error
	// Stats reports App Engine's counters.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the store's resources (background work, connections).
	Close() error
}

// InputError is a refused input: the rule it broke (Err, one of the
// sentinels above) and what is wrong, in users' words (Reason). Reason is
// data, kept apart from the Go error text, so a protocol face builds its
// wire message from it and rewording a log line changes no wire API.
type InputError struct {
	Err    error  // the sentinel: errors.Is matches it
	Reason string // e.g. "300 bytes, at most 250 allowed"; no package prefix
}

// Refuse returns an *InputError for sentinel with the formatted reason.
func Refuse(sentinel error, format string, args ...any) error {
	return &InputError{Err: sentinel, Reason: fmt.Sprintf(format, args...)}
}

func (e *InputError) Error() string { return e.Err.Error() + ": " + e.Reason }

// Unwrap returns the sentinel.
func (e *InputError) Unwrap() error { return e.Err }
