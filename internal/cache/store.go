// Package cache holds the memcache semantics of memcached-http: the Store
// contract every backend implements, the domain rules shared by all backends
// (keys, namespaces, expiration), and the embedded TTL+LRU engine.
//
// The package imports only the standard library; HTTP lives elsewhere.
package cache

import (
	"context"
	"errors"
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
)

// Kind records how a value was supplied so it reads back the same way.
type Kind uint8

const (
	// KindJSON marks a value held as its compact UTF-8 JSON encoding.
	KindJSON Kind = iota
	// KindBytes marks an opaque byte string.
	KindBytes
)

// Mode selects the storage rule of a write, as the seed's set/add/replace/cas.
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
	Time  float64 // the seed's expiration; see ExpiresAt
	CAS   uint64  // the id the caller fetched; used by ModeCAS only
}

// Delta is an increment or decrement by an unsigned amount.
type Delta struct {
	Amount    uint64
	Decrement bool
}

// Stats are the seed's get_stats counters.
type Stats struct {
	Hits          uint64 // lookups that found a live item
	Misses        uint64 // lookups that did not
	ByteHits      uint64 // key+value bytes of the hits
	Items         uint64 // live items now
	Bytes         uint64 // key+value bytes of the live items now
	OldestItemAge int64  // seconds since the least recently accessed live item was accessed
}

// Store is the contract of a cache backend: every seed operation, single and
// multi. Multi results are aligned with their inputs; the error returned
// beside them is for the whole call (invalid batch, unreachable backend).
type Store interface {
	// Get returns the live item under key, its value appended to dst[:0].
	Get(ctx context.Context, key Key, dst []byte) (Item, error)
	// GetMulti returns the live items among keys; misses are absent.
	GetMulti(ctx context.Context, keys []Key) (map[Key]Item, error)
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
	// FlushAll removes every item and lock in every namespace and resets stats.
	FlushAll(ctx context.Context) error
	// Stats reports the seed's counters.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the store's resources (background work, connections).
	Close() error
}
