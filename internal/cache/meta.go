package cache

import (
	"context"
	"fmt"
)

// FetchOptions say what a Fetch does beyond a Get. The zero value is a Get.
type FetchOptions struct {
	// Touch gives a hit the new expiration Time (memcached's touch, gat, mg T).
	Touch bool
	Time  float64 // as Entry.Time
	// Vivify creates an empty KindBytes item expiring per VivifyTime on a
	// miss (not over a delete lock); the caller then wins its recache lease
	// (mg N).
	Vivify     bool
	VivifyTime float64 // as Entry.Time
	// Recache hands the lease to the first caller that finds the item's
	// remaining lifetime below RecacheBelow seconds (mg R).
	Recache      bool
	RecacheBelow int64
	// NoBump leaves the item's hit-before mark, last access and eviction
	// order as they were (mg u).
	NoBump bool
	// NoValue skips copying the value (touch, mg without v).
	NoValue bool
}

// Fetched is an item as Fetch read it, with what memcached's meta get
// reports about it.
type Fetched struct {
	Item
	// Stale: Invalidate marked the item stale; it is still served, and
	// whoever holds the lease should recache it (mg X).
	Stale bool
	// Won: this call took the item's recache lease (mg W). A lease is
	// handed out once per value: stale, vivified, or near its expiry under
	// FetchOptions.Recache. Any write of a new value ends it.
	Won bool
	// Lost: another caller already holds the lease (mg Z).
	Lost bool
	// Created: this call made the item (FetchOptions.Vivify on a miss).
	Created bool
	// HitBefore: the item had been read before this call (mg h).
	HitBefore bool
	// Idle is the seconds since the item was last read or written, before
	// this call (mg l).
	Idle int64
}

// ConcatOptions say how Concat joins a value to an item.
type ConcatOptions struct {
	Prepend bool   // put the value before the stored one instead of after it
	CAS     uint64 // when not 0, the item must still carry this CAS id
}

// InvalidateOptions say what Invalidate does to an item. With neither Stale
// nor Empty it removes the item (a delete that can check the CAS id).
type InvalidateOptions struct {
	CAS   uint64 // when not 0, the item must still carry this CAS id
	Stale bool   // keep the item but mark it stale, with a new CAS id and its lease free (md I)
	Empty bool   // keep the item but drop its value (md x)
	// Touch gives a kept item the new expiration Time (md I T).
	Touch bool
	Time  float64 // as Entry.Time
}

// Slot state bits of the meta protocol's item marks; the low bits and the
// LRU bits are in shard.go.
const (
	// fetchedBit: the item was read since it was written (mg h).
	fetchedBit uint8 = 16
	// staleBit: Invalidate marked the item stale (mg X).
	staleBit uint8 = 32
	// leaseBit: the item's recache lease was handed out (mg W, then Z).
	leaseBit uint8 = 64
	// writeClears is what a write of a new value resets.
	writeClears = fetchedBit | staleBit | leaseBit
)

// Fetch reads the live item under key as Get does and, per opts, gives it a
// new expiration, creates an empty item on a miss and hands out its recache
// lease, all under the shard lock.
func (m *Memory) Fetch(_ context.Context, key Key, opts FetchOptions, dst []byte) (Fetched, error) {
	if err := checkKey(key); err != nil {
		return Fetched{}, err
	}
	now := m.now()
	var touchExp, vivifyExp int64
	var err error
	if opts.Touch {
		if touchExp, err = ExpiresAt(now, opts.Time); err != nil {
			return Fetched{}, fmt.Errorf("touch: %w", err)
		}
	}
	if opts.Vivify {
		if vivifyExp, err = ExpiresAt(now, opts.VivifyTime); err != nil {
			return Fetched{}, fmt.Errorf("vivify: %w", err)
		}
	}
	r := reading{sec: now.Unix(), exact: true}
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, key, &r)
	if i == nilSlot || s.slots[i].state&stateMask != stateItem {
		s.misses++
		if !opts.Vivify || i != nilSlot {
			return Fetched{}, ErrNotFound
		}
		s.makeRoomLocked(m, chargeOf(len(key.Namespace)+len(key.Name)), &r)
		i = s.insertLocked(m, h, key.Namespace, key.Name, nil, stateItem|leaseBit)
		sl := &s.slots[i]
		sl.setCAS(s.nextCASLocked(m))
		sl.setExpires(vivifyExp)
		sl.kind, sl.access = KindBytes, m.tick(r.sec)
		return Fetched{
			Item:    Item{Value: dst[:0], Kind: KindBytes, CAS: sl.cas(), Expires: vivifyExp},
			Won:     true,
			Created: true,
		}, nil
	}
	sl := &s.slots[i]
	f := Fetched{
		HitBefore: sl.state&fetchedBit != 0,
		Idle:      max(0, r.sec-(m.base+int64(sl.access))),
		Stale:     sl.state&staleBit != 0,
	}
	if opts.Touch {
		sl.setExpires(touchExp)
	}
	exp := sl.expires()
	switch {
	case sl.state&leaseBit != 0:
		f.Lost = true
	case f.Stale || opts.Recache && exp != 0 && exp-r.sec < opts.RecacheBelow:
		f.Won = true
		sl.state |= leaseBit
	}
	f.Item = Item{Value: dst[:0], Kind: sl.kind, Flags: sl.flags, CAS: sl.cas(), Expires: exp}
	if !opts.NoValue {
		f.Value = append(f.Value, s.valueOf(sl)...)
	}
	s.hits++
	s.byteHits += uint64(sl.keyLen) + uint64(sl.valLen)
	if !opts.NoBump {
		s.touchLocked(i, m.tick(r.sec))
	}
	return f, nil
}

// Concat joins value to the end (or, with opts.Prepend, the start) of the
// live item under key, keeping its flags and expiry, and returns its new CAS
// id. The result is KindBytes: a JSON value with bytes joined to it is no
// longer JSON. ErrNotFound when no live item exists, ErrCASMismatch when
// opts.CAS is set and differs, ErrValueTooLarge when the joined value would
// pass the value limit.
func (m *Memory) Concat(_ context.Context, key Key, value []byte, opts ConcatOptions) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if len(value) > m.maxValue {
		return 0, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrValueTooLarge, len(value), m.maxValue)
	}
	r := m.reading()
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, key, &r)
	if i == nilSlot || s.slots[i].state&stateMask != stateItem {
		return 0, ErrNotFound
	}
	sl := &s.slots[i]
	if opts.CAS != 0 && sl.cas() != opts.CAS {
		return 0, ErrCASMismatch
	}
	old := s.valueOf(sl)
	if len(old)+len(value) > m.maxValue {
		return 0, fmt.Errorf("%w: %d bytes joined, at most %d allowed", ErrValueTooLarge, len(old)+len(value), m.maxValue)
	}
	// A fresh buffer: rewriting may free, move or compact the bytes old points into.
	joined := make([]byte, 0, len(old)+len(value))
	if opts.Prepend {
		joined = append(append(joined, value...), old...)
	} else {
		joined = append(append(joined, old...), value...)
	}
	i = s.rewriteLocked(m, i, h, key.Namespace, key.Name, joined, &r)
	sl = &s.slots[i]
	cas := s.nextCASLocked(m)
	sl.setCAS(cas)
	sl.kind, sl.access = KindBytes, m.tick(r.sec)
	sl.state &^= writeClears
	return cas, nil
}

// Invalidate marks the live item under key stale, empties it, or removes
// it (see InvalidateOptions), and returns its new CAS id (0 once removed).
// ErrNotFound when no live item exists, ErrCASMismatch when opts.CAS is set
// and differs.
func (m *Memory) Invalidate(_ context.Context, key Key, opts InvalidateOptions) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	now := m.now()
	var exp int64
	if opts.Touch {
		var err error
		if exp, err = ExpiresAt(now, opts.Time); err != nil {
			return 0, fmt.Errorf("invalidate: %w", err)
		}
	}
	r := reading{sec: now.Unix(), exact: true}
	h := m.hash(key)
	s := m.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := m.findLocked(s, h, key, &r)
	if i == nilSlot || s.slots[i].state&stateMask != stateItem {
		return 0, ErrNotFound
	}
	if opts.CAS != 0 && s.slots[i].cas() != opts.CAS {
		return 0, ErrCASMismatch
	}
	if !opts.Stale && !opts.Empty {
		s.removeLocked(i, h)
		return 0, nil
	}
	if opts.Empty {
		i = s.rewriteLocked(m, i, h, key.Namespace, key.Name, nil, &r)
		s.slots[i].state &^= writeClears
		s.slots[i].kind = KindBytes // an empty value is no JSON
	}
	sl := &s.slots[i]
	if opts.Stale {
		sl.state = sl.state&^leaseBit | staleBit
	}
	if opts.Touch {
		sl.setExpires(exp)
	}
	cas := s.nextCASLocked(m)
	sl.setCAS(cas)
	sl.access = m.tick(r.sec)
	return cas, nil
}

// ExpiredTime is an Entry.Time (or FetchOptions.Time) that makes the item
// expire at once: an absolute time already past, the first second after the
// relative range (January 1970). memcached stores an item given a negative
// exptime and then never returns it; callers mapping that rule use this.
const ExpiredTime float64 = MaxRelativeSeconds + 1
