package cache

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
)

// Listing keys is an admin's view of the cache (the dashboard's key
// browser), not a data path: a page costs a scan of part of the store, and
// the rules below are what every store keeps.

const (
	// MaxListLimit is the most keys one ListKeys page holds.
	MaxListLimit = 1000
	// MaxNamespaces is the most namespaces one Namespaces call returns.
	MaxNamespaces = 1000
)

// ListOptions selects one page of a key listing.
type ListOptions struct {
	Namespace string // as a Key holds it: `~` for the empty namespace
	Prefix    string // only names starting with it; "" for all
	Limit     int    // 1 to MaxListLimit keys per page
	Cursor    string // "" for the first page, else the Next of the page before
}

// KeyInfo is one listed item: what the key browser shows, never the value.
type KeyInfo struct {
	Name    string // the key name (key_prefix included); bytes, as a Key holds it
	Size    int    // len(Item.Value)
	Kind    Kind
	Flags   uint32
	CAS     uint64
	Expires int64 // Unix second; 0 = never
}

// KeyPage is one page of a listing. It holds at most Limit keys, and may
// hold fewer, even none, before the listing ends: a page bounds the work it
// does, not only what it returns. Next is "" once the listing is complete;
// otherwise it is the Cursor of the next page, opaque to callers.
//
// Consistency under concurrent writes: an item live for the whole listing
// (every page, first to last) appears in exactly one page; an item written
// or removed meanwhile may appear or not. The embedded store lists each
// shard in name order; Redis follows SCAN, which may repeat a key when its
// keyspace shrinks (rehashes to a smaller table) between pages.
type KeyPage struct {
	Keys []KeyInfo
	Next string
}

// NamespaceInfo is one namespace in use.
type NamespaceInfo struct {
	Name  string // as a Key holds it: `~` for the empty namespace
	Items uint64 // live items in it
}

// CheckListOptions validates opts: the one place the listing's limits live,
// called by every store (and by a protocol face that names the field at
// fault through CheckListLimit and CheckListPrefix).
func CheckListOptions(opts ListOptions) error {
	if _, err := ParseNamespace(opts.Namespace); err != nil {
		return err
	}
	if err := CheckListLimit(opts.Limit); err != nil {
		return err
	}
	return CheckListPrefix(opts.Prefix)
}

// CheckListLimit validates the page size of a listing.
func CheckListLimit(limit int) error {
	if limit < 1 || limit > MaxListLimit {
		return Refuse(ErrInvalidArgument, "limit %d: a page holds 1 to %d keys", limit, MaxListLimit)
	}
	return nil
}

// CheckListPrefix validates the key prefix of a listing.
func CheckListPrefix(prefix string) error {
	if len(prefix) > MaxKeyBytes {
		return Refuse(ErrKeyTooLong, "prefix of %d bytes: keys are at most %d", len(prefix), MaxKeyBytes)
	}
	return nil
}

// CheckNamespacesLimit validates the limit of a Namespaces call.
func CheckNamespacesLimit(limit int) error {
	if limit < 1 || limit > MaxNamespaces {
		return Refuse(ErrInvalidArgument, "limit %d: a call returns 1 to %d namespaces", limit, MaxNamespaces)
	}
	return nil
}

// BadCursor returns the refusal of a cursor a store cannot read (not one it
// handed out): every store says it the same way.
func BadCursor() error {
	return Refuse(ErrInvalidArgument, "cursor is not one a listing of this server returned; start again without it")
}

// SortNamespaces orders namespaces as listings return them: the empty
// namespace (`~`) first, then by name.
func SortNamespaces(ns []NamespaceInfo) {
	slices.SortFunc(ns, func(a, b NamespaceInfo) int {
		switch {
		case a.Name == b.Name:
			return 0
		case a.Name == DefaultNamespace:
			return -1
		case b.Name == DefaultNamespace:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// memCursor is where a Memory listing stands: the shard it is in and the
// last name it returned there.
type memCursor struct {
	shard int
	last  string
}

// memCursorTag starts every Memory cursor, so another store's cursor (or a
// stale format) is refused rather than misread.
const memCursorTag = "m1"

func (c memCursor) encode() string {
	b := make([]byte, 0, len(memCursorTag)+4+len(c.last))
	b = append(b, memCursorTag...)
	b = binary.BigEndian.AppendUint32(b, uint32(c.shard))
	b = append(b, c.last...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeMemCursor(s string, shards int) (memCursor, error) {
	if s == "" {
		return memCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < len(memCursorTag)+4 || string(b[:len(memCursorTag)]) != memCursorTag {
		return memCursor{}, BadCursor()
	}
	b = b[len(memCursorTag):]
	shard := binary.BigEndian.Uint32(b)
	if int64(shard) >= int64(shards) || len(b)-4 > MaxKeyBytes {
		return memCursor{}, BadCursor()
	}
	return memCursor{shard: int(shard), last: string(b[4:])}, nil
}

// listScanBudget is how many slots one page may look at beyond the first
// shard it visits: past it the page ends early, with a cursor, so a prefix
// matching few keys in a large store costs many cheap pages rather than one
// long one that holds up the browser.
const listScanBudget = 1 << 16

// ListKeys lists one shard at a time, each in name order; the cursor is the
// shard and the last name returned there. An item live for the whole listing
// stays in its shard with its name, so exactly one page returns it. A page
// holds each shard's lock for one scan of its slots.
func (m *Memory) ListKeys(_ context.Context, opts ListOptions) (KeyPage, error) {
	if err := CheckListOptions(opts); err != nil {
		return KeyPage{}, err
	}
	cur, err := decodeMemCursor(opts.Cursor, len(m.shards))
	if err != nil {
		return KeyPage{}, err
	}
	var page KeyPage
	scanned := 0
	for cur.shard < len(m.shards) {
		need := opts.Limit - len(page.Keys)
		keys, more, n := m.listShard(cur.shard, opts.Namespace, opts.Prefix, cur.last, need)
		page.Keys = append(page.Keys, keys...)
		scanned += n
		if more {
			cur.last = keys[len(keys)-1].Name
			page.Next = cur.encode()
			return page, nil
		}
		cur = memCursor{shard: cur.shard + 1}
		if len(page.Keys) == opts.Limit || scanned >= listScanBudget {
			break
		}
	}
	if cur.shard < len(m.shards) {
		page.Next = cur.encode()
	}
	return page, nil
}

// listShard returns the first need live items of shard i in namespace ns
// whose names start with prefix and sort after after, in name order; more
// says whether the shard holds further ones; n is the slots looked at.
func (m *Memory) listShard(i int, ns, prefix, after string, need int) (keys []KeyInfo, more bool, n int) {
	s := m.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := m.nowSecond()
	// Keep the need smallest names: collect, and when twice as many have
	// gathered, sort and cut, so a shard of many matches copies few names.
	var bound []byte // once set, names at or above it cannot make the page
	cut := func() {
		slices.SortFunc(keys, func(a, b KeyInfo) int { return strings.Compare(a.Name, b.Name) })
		if len(keys) > need {
			more = true
			keys = keys[:need]
		}
		if len(keys) == need {
			bound = []byte(keys[need-1].Name)
		}
	}
	for j := range s.slots {
		sl := &s.slots[j]
		if sl.state&stateMask != stateItem || sl.expired(now) {
			continue
		}
		kns, name := s.keyOf(sl)
		if string(kns) != ns || !bytes.HasPrefix(name, []byte(prefix)) || string(name) <= after {
			continue
		}
		if bound != nil && bytes.Compare(name, bound) >= 0 {
			more = true
			continue
		}
		keys = append(keys, KeyInfo{Name: string(name), Size: int(sl.valLen), Kind: sl.kind, Flags: sl.flags, CAS: sl.cas(), Expires: sl.expires()})
		if len(keys) >= 2*need {
			cut()
		}
	}
	cut()
	return keys, more, len(s.slots)
}

// Namespaces counts the live items of each namespace, one shard at a time.
func (m *Memory) Namespaces(_ context.Context, limit int) ([]NamespaceInfo, bool, error) {
	if err := CheckNamespacesLimit(limit); err != nil {
		return nil, false, err
	}
	counts := map[string]uint64{}
	for _, s := range m.shards {
		s.mu.Lock()
		now := m.nowSecond()
		for j := range s.slots {
			sl := &s.slots[j]
			if sl.state&stateMask != stateItem || sl.expired(now) {
				continue
			}
			ns, _ := s.keyOf(sl)
			if c, ok := counts[string(ns)]; ok { // no allocation for a known name
				counts[string(ns)] = c + 1
			} else {
				counts[string(ns)] = 1
			}
		}
		s.mu.Unlock()
	}
	return NamespaceList(counts, limit)
}

// NamespaceList orders the item counts by namespace as Namespaces returns
// them and keeps the first limit.
func NamespaceList(counts map[string]uint64, limit int) ([]NamespaceInfo, bool, error) {
	out := make([]NamespaceInfo, 0, len(counts))
	for name, n := range counts {
		out = append(out, NamespaceInfo{Name: name, Items: n})
	}
	SortNamespaces(out)
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
