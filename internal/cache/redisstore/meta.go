package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/memcached-http/memcached-http/internal/cache"
)

var (
	fetchLua      = newScript(fetchScript)
	concatLua     = newScript(concatScript)
	invalidateLua = newScript(invalidateScript)
)

// optExpiry converts an optional time into the script arguments expires
// (Unix s) and Redis TTL (ms), both ” when absent.
func (s *Store) optExpiry(now time.Time, on bool, t float64) (exp, ttl string, err error) {
	if !on {
		return "", "", nil
	}
	e, err := cache.ExpiresAt(now, t)
	if err != nil {
		return "", "", err
	}
	return strconv.FormatInt(e, 10), s.redisTTL(now, e), nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Fetch reads the live item under key as Get does and, per opts, touches
// it, vivifies it on a miss and hands out its recache lease, in one script.
func (s *Store) Fetch(ctx context.Context, key cache.Key, opts cache.FetchOptions, dst []byte) (cache.Fetched, error) {
	if err := checkKeys(key); err != nil {
		return cache.Fetched{}, fmt.Errorf("redisstore: fetch: %w", err)
	}
	now, ms, sec := s.clock()
	touchExp, touchTTL, err := s.optExpiry(now, opts.Touch, opts.Time)
	if err != nil {
		return cache.Fetched{}, fmt.Errorf("redisstore: fetch %q: touch: %w", key.Name, err)
	}
	vivExp, vivTTL, err := s.optExpiry(now, opts.Vivify, opts.VivifyTime)
	if err != nil {
		return cache.Fetched{}, fmt.Errorf("redisstore: fetch %q: vivify: %w", key.Name, err)
	}
	recache := ""
	if opts.Recache {
		recache = strconv.FormatInt(opts.RecacheBelow, 10)
	}
	c := s.itemCall(key, ms, sec,
		strconv.Itoa(len(key.Name)), s.idleTTL,
		touchExp, touchTTL, vivExp, vivTTL, recache, flag(opts.NoBump),
		strconv.Itoa(s.lay.buckets), strconv.Itoa(s.lay.bucket(key)),
		// A plain read's access waits in the process until the sync; the
		// idle time counts from it all the same.
		strconv.FormatInt(s.pendingAccess(s.lay.bucket(key), itemName(key)), 10))
	f, err := decodeFetched(s.eval(ctx, fetchLua, []call{c})[0], dst, opts.NoValue)
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return cache.Fetched{}, fmt.Errorf("redisstore: fetch %q: %w", key.Name, cache.ErrNotFound)
		}
		return cache.Fetched{}, fmt.Errorf("redisstore: fetch %q: %w", key.Name, s.fail("fetch", err))
	}
	return f, nil
}

// decodeFetched parses fetchScript's reply.
func decodeFetched(res rueidis.RedisResult, dst []byte, noValue bool) (cache.Fetched, error) {
	fields, err := res.ToArray()
	if err != nil {
		return cache.Fetched{}, err
	}
	if len(fields) != 11 {
		return cache.Fetched{}, fmt.Errorf("%d fields in reply, want 11", len(fields))
	}
	var str [11]string
	for i := range fields {
		if str[i], err = fields[i].ToString(); err != nil {
			return cache.Fetched{}, fmt.Errorf("field %d: %w", i, err)
		}
	}
	value := str[0]
	if noValue {
		value = ""
	}
	it, err := decodeItem([5]string{value, str[1], str[2], str[3], str[4]}, dst)
	if err != nil {
		return cache.Fetched{}, err
	}
	idle, err := strconv.ParseInt(str[10], 10, 64)
	if err != nil {
		return cache.Fetched{}, fmt.Errorf("malformed idle time: %w", err)
	}
	return cache.Fetched{
		Item:      it,
		Stale:     str[5] == "1",
		Won:       str[6] == "1",
		Lost:      str[7] == "1",
		Created:   str[8] == "1",
		HitBefore: str[9] == "1",
		Idle:      idle,
	}, nil
}

// Concat joins value to the live item under key in one script.
func (s *Store) Concat(ctx context.Context, key cache.Key, value []byte, opts cache.ConcatOptions) (uint64, error) {
	if err := checkKeys(key); err != nil {
		return 0, fmt.Errorf("redisstore: concat: %w", err)
	}
	if len(value) > s.opts.MaxValueSize {
		return 0, fmt.Errorf("redisstore: concat %q: %w: %d bytes, at most %d allowed", key.Name, cache.ErrValueTooLarge, len(value), s.opts.MaxValueSize)
	}
	_, ms, sec := s.clock()
	c := s.itemCall(key, ms, sec,
		strconv.Itoa(len(key.Name)), string(value), flag(opts.Prepend), casArg(opts.CAS),
		strconv.Itoa(s.opts.MaxValueSize),
		strconv.Itoa(s.lay.buckets), strconv.Itoa(s.lay.bucket(key)), s.idleTTL)
	n, err := s.eval(ctx, concatLua, []call{c})[0].AsInt64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("redisstore: concat %q: %w", key.Name, s.fail("concat", err))
	case n == -1:
		return 0, fmt.Errorf("redisstore: concat %q: %w", key.Name, cache.ErrNotFound)
	case n == -2:
		return 0, fmt.Errorf("redisstore: concat %q: %w", key.Name, cache.ErrCASMismatch)
	case n == -3:
		return 0, fmt.Errorf("redisstore: concat %q: %w: joined value over %d bytes", key.Name, cache.ErrValueTooLarge, s.opts.MaxValueSize)
	}
	return uint64(n), nil
}

// casArg is an expected CAS id as scripts take it: ” for any.
func casArg(cas uint64) string {
	if cas == 0 {
		return ""
	}
	return strconv.FormatUint(cas, 10)
}

// Invalidate marks the live item under key stale, empties or removes it, in one script.
func (s *Store) Invalidate(ctx context.Context, key cache.Key, opts cache.InvalidateOptions) (uint64, error) {
	if err := checkKeys(key); err != nil {
		return 0, fmt.Errorf("redisstore: invalidate: %w", err)
	}
	now, ms, sec := s.clock()
	exp, ttl, err := s.optExpiry(now, opts.Touch, opts.Time)
	if err != nil {
		return 0, fmt.Errorf("redisstore: invalidate %q: %w", key.Name, err)
	}
	c := s.itemCall(key, ms, sec,
		strconv.Itoa(len(key.Name)), casArg(opts.CAS), flag(opts.Stale), flag(opts.Empty), exp, ttl,
		strconv.Itoa(s.lay.buckets), strconv.Itoa(s.lay.bucket(key)))
	n, err := s.eval(ctx, invalidateLua, []call{c})[0].AsInt64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("redisstore: invalidate %q: %w", key.Name, s.fail("invalidate", err))
	case n == -1:
		return 0, fmt.Errorf("redisstore: invalidate %q: %w", key.Name, cache.ErrNotFound)
	case n == -2:
		return 0, fmt.Errorf("redisstore: invalidate %q: %w", key.Name, cache.ErrCASMismatch)
	}
	return uint64(n), nil
}
