package redisstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/internal/testserver"
)

// prefixes keeps every store of a test run apart on a shared server.
var prefixes atomic.Int64

func uniquePrefix() string {
	return "t" + strconv.FormatInt(prefixes.Add(1), 10) + ":"
}

// openStore opens a store with a fresh prefix unless opts names one.
func openStore(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = uniquePrefix()
	}
	s, err := Open(context.Background(), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func key(t testing.TB, ns, name string) cache.Key {
	t.Helper()
	k, err := cache.NewKey(ns, name)
	require.NoError(t, err)
	return k
}

func put(t testing.TB, s cache.Store, k cache.Key, value string, kind cache.Kind) uint64 {
	t.Helper()
	cas, err := s.Put(context.Background(), cache.ModeSet, cache.Entry{Key: k, Value: []byte(value), Kind: kind, Flags: 7, Time: 3600})
	require.NoError(t, err)
	return cas
}

func TestOffsetDoes64BitDecimalArithmetic(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock()
	s := openStore(t, sharedServer(t).url(), Options{Clock: clock.Now})
	tests := []struct {
		name   string
		value  string
		kind   cache.Kind
		delta  cache.Delta
		want   uint64
		stored string
	}{
		{"incr of 2^64-1 wraps to 0", "18446744073709551615", cache.KindBytes, cache.Delta{Amount: 1}, 0, "0"},
		{"incr near 2^64 wraps by the remainder", "18446744073709551610", cache.KindBytes, cache.Delta{Amount: 10}, 4, "4"},
		{"incr of the largest delta wraps to one below", "0", cache.KindJSON, cache.Delta{Amount: 1<<64 - 1}, 1<<64 - 1, "18446744073709551615"},
		{"incr carries through every digit", "9999999999999999999", cache.KindBytes, cache.Delta{Amount: 1}, 10000000000000000000, "10000000000000000000"},
		{"decr borrows through every digit", "10000000000000000000", cache.KindBytes, cache.Delta{Amount: 1, Decrement: true}, 9999999999999999999, "9999999999999999999"},
		{"decr below zero floors at 0", "5", cache.KindJSON, cache.Delta{Amount: 10, Decrement: true}, 0, "0"},
		{"decr of 2^64-1 by itself gives 0", "18446744073709551615", cache.KindBytes, cache.Delta{Amount: 1<<64 - 1, Decrement: true}, 0, "0"},
		{"leading zeros are accepted and dropped", "007", cache.KindBytes, cache.Delta{Amount: 1}, 8, "8"},
		{"a JSON number stays a number", "41", cache.KindJSON, cache.Delta{Amount: 1}, 42, "42"},
		{"a JSON digit string stays a string", `"41"`, cache.KindJSON, cache.Delta{Amount: 1}, 42, `"42"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := key(t, "arith", "k"+strconv.Itoa(i))
			before := put(t, s, k, tt.value, tt.kind)
			got, err := s.Offset(ctx, k, tt.delta, nil)
			require.NoError(t, err, "offset %q by %+v", tt.value, tt.delta)
			assert.Equal(t, tt.want, got)
			it, err := s.Get(ctx, k, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.stored, string(it.Value), "stored value")
			assert.Equal(t, tt.kind, it.Kind, "kind kept")
			assert.Equal(t, uint32(7), it.Flags, "flags kept")
			assert.Equal(t, clock.Now().Unix()+3601, it.Expires, "expiry kept: ceil(now + 3600)")
			assert.Greater(t, it.CAS, before, "cas changed")
		})
	}
}

func TestOffsetRejectsValuesThatAreNotUnsigned64BitDecimals(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, sharedServer(t).url(), Options{Clock: cachetest.NewClock().Now})
	tests := []struct {
		name  string
		value string
		kind  cache.Kind
	}{
		{"2^64 is too large", "18446744073709551616", cache.KindBytes},
		{"21 digits are too large", "100000000000000000000", cache.KindBytes},
		{"a negative JSON number", "-1", cache.KindJSON},
		{"a JSON fraction", "10.0", cache.KindJSON},
		{"a JSON exponent", "1e3", cache.KindJSON},
		{"an empty byte string", "", cache.KindBytes},
		{"quoted digits as bytes", `"12"`, cache.KindBytes},
		{"a JSON string with an escape", `"\u0031"`, cache.KindJSON},
		{"text", "ten", cache.KindBytes},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := key(t, "nan", "k"+strconv.Itoa(i))
			cas := put(t, s, k, tt.value, tt.kind)
			_, err := s.Offset(ctx, k, cache.Delta{Amount: 1}, nil)
			require.ErrorIs(t, err, cache.ErrNotANumber, "offset of %q", tt.value)
			it, err := s.Get(ctx, k, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.value, string(it.Value), "value untouched")
			assert.Equal(t, cas, it.CAS, "cas untouched")
		})
	}
}

func TestOffsetCreatesAJSONNumberFromTheInitialValue(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, sharedServer(t).url(), Options{Clock: cachetest.NewClock().Now})
	k := key(t, "", "counter")

	_, err := s.Offset(ctx, k, cache.Delta{Amount: 5}, nil)
	require.ErrorIs(t, err, cache.ErrNotFound, "no initial value creates nothing")

	initial := uint64(1<<64 - 2)
	got, err := s.Offset(ctx, k, cache.Delta{Amount: 5}, &initial)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), got, "the delta applies to the initial value, wrapping")
	it, err := s.Get(ctx, k, nil)
	require.NoError(t, err)
	assert.Equal(t, cache.Item{Value: []byte("3"), Kind: cache.KindJSON, CAS: it.CAS}, it)
}

func TestTimeComesFromTheInjectedClock(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openStore(t, srv.url(), Options{Clock: clock.Now, ExpirySlack: time.Minute})
	k := key(t, "ttl", "k")
	put(t, s, k, `"v"`, cache.KindJSON) // expires in 3600 s by the fake clock, years ago by the real one

	raw := rawClient(t, srv.addr())
	pttl, err := raw.Do(ctx, raw.B().Pttl().Key(s.lay.itemPrefix(0)+itemName(k)).Build()).AsInt64()
	require.NoError(t, err)
	// ceil(now + 3600) is 3600.75 s away from the fake now.
	want := (3600750 * time.Millisecond) + time.Minute
	assert.InDelta(t, want.Milliseconds(), pttl, 2000, "Redis reclaims the key after the item's lifetime plus the slack")

	clock.Advance(3600 * time.Second)
	_, err = s.Get(ctx, k, nil)
	require.NoError(t, err, "still live 0.75 s before expiry")
	clock.Advance(750 * time.Millisecond)
	_, err = s.Get(ctx, k, nil)
	require.ErrorIs(t, err, cache.ErrNotFound, "expired once the clock reaches the expiry second")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Hits: 1, Misses: 1, ByteHits: uint64(len("k") + len(`"v"`))}, st)
}

func TestStatsRepairItemsRedisRemovedByItself(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openStore(t, srv.url(), Options{Clock: clock.Now})
	old, young := key(t, "", "old"), key(t, "", "young")
	put(t, s, old, "1234", cache.KindBytes)
	clock.Advance(10 * time.Second)
	put(t, s, young, "12", cache.KindBytes)
	clock.Advance(5 * time.Second)

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 2, Bytes: 3 + 4 + 5 + 2, OldestItemAge: 15}, st)

	// Stand in for maxmemory eviction: the key vanishes without a script.
	raw := rawClient(t, srv.addr())
	require.NoError(t, raw.Do(ctx, raw.B().Del().Key(s.lay.itemPrefix(0)+itemName(old)).Build()).Error())
	st, err = s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{Items: 1, Bytes: 5 + 2, OldestItemAge: 5}, st)
}

func TestTwoStoresOverOneRedisActAsOneCache(t *testing.T) {
	ctx := context.Background()
	url, prefix := sharedServer(t).url(), uniquePrefix()
	clock := cachetest.NewClock()
	a := openStore(t, url, Options{Clock: clock.Now, KeyPrefix: prefix})
	b := openStore(t, url, Options{Clock: clock.Now, KeyPrefix: prefix})
	stores := []*Store{a, b}

	t.Run("a write through one store is read through the other", func(t *testing.T) {
		k := key(t, "shared", "greeting")
		cas := put(t, a, k, `"hello"`, cache.KindJSON)
		it, err := b.Get(ctx, k, nil)
		require.NoError(t, err)
		assert.Equal(t, `"hello"`, string(it.Value))
		assert.Equal(t, cas, it.CAS)
		require.NoError(t, b.Delete(ctx, k, 0))
		_, err = a.Get(ctx, k, nil)
		assert.ErrorIs(t, err, cache.ErrNotFound)
	})

	t.Run("a CAS race across both stores has exactly one winner", func(t *testing.T) {
		k := key(t, "shared", "race")
		put(t, a, k, "0", cache.KindBytes)
		it, err := b.Get(ctx, k, nil)
		require.NoError(t, err)
		const racers = 16
		var wg sync.WaitGroup
		var won atomic.Int64
		errs := make(chan error, racers)
		for i := range racers {
			wg.Go(func() {
				_, err := stores[i%2].Put(ctx, cache.ModeCAS, cache.Entry{Key: k, Value: []byte(strconv.Itoa(i)), Kind: cache.KindBytes, CAS: it.CAS})
				switch {
				case err == nil:
					won.Add(1)
				case !errors.Is(err, cache.ErrCASMismatch):
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
		assert.Equal(t, int64(1), won.Load())
	})

	t.Run("64 concurrent incr goroutines over both stores end exact", func(t *testing.T) {
		k := key(t, "shared", "hits")
		put(t, a, k, "0", cache.KindJSON)
		const goroutines, each = 64, 25
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for i := range goroutines {
			wg.Go(func() {
				for range each {
					if _, err := stores[i%2].Offset(ctx, k, cache.Delta{Amount: 1}, nil); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		it, err := b.Get(ctx, k, nil)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(goroutines*each), string(it.Value))
	})
}

func TestFlushAllTouchesOnlyTheStoresPrefix(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	prefix := uniquePrefix()
	s := openStore(t, srv.url(), Options{Clock: cachetest.NewClock().Now, KeyPrefix: prefix})
	raw := rawClient(t, srv.addr())
	foreign := []string{
		"foreign",                                    // unrelated data
		prefix[:len(prefix)-1] + "x:{0}:s:a",         // shares the prefix's first bytes
		"other:" + s.lay.itemPrefix(0) + "default:k", // ends like one of ours
	}
	for _, k := range foreign {
		require.NoError(t, raw.Do(ctx, raw.B().Hset().Key(k).FieldValue().FieldValue("g", "0").Build()).Error())
	}
	t.Cleanup(func() { raw.Do(ctx, raw.B().Del().Key(foreign...).Build()) })

	keys := []cache.Key{key(t, "a", "one"), key(t, "b", "two"), key(t, "b", "locked")}
	var lastCAS uint64
	for _, k := range keys {
		lastCAS = put(t, s, k, "1", cache.KindBytes)
	}
	require.NoError(t, s.Delete(ctx, keys[2], 60))
	_, err := s.Get(ctx, keys[0], nil)
	require.NoError(t, err)

	require.NoError(t, s.FlushAll(ctx))

	for _, k := range foreign {
		n, err := raw.Do(ctx, raw.B().Exists().Key(k).Build()).AsInt64()
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "foreign key %q kept", k)
	}
	left, err := raw.Do(ctx, raw.B().Keys().Pattern(s.lay.itemPattern()).Build()).AsStrSlice()
	require.NoError(t, err)
	assert.Empty(t, left, "no item or lock key of the store is left in Redis")
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, cache.Stats{}, st, "stats reset")
	_, err = s.Put(ctx, cache.ModeAdd, cache.Entry{Key: keys[2], Value: []byte("2"), Kind: cache.KindBytes})
	require.NoError(t, err, "the delete lock is gone")
	cas := put(t, s, keys[0], "3", cache.KindBytes)
	assert.Greater(t, cas, lastCAS, "cas ids keep increasing across a flush")
}

func TestUnreachableRedisFailsFastAndRecovers(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	// A dead server refuses the connection at once, so the calls fail
	// within the short DialTimeout; OpTimeout, which only a hung server
	// waits out, is long, so that it cannot be what ends them, nor fail a
	// call that should succeed on a busy machine.
	s := openStore(t, srv.url(), Options{Clock: cachetest.NewClock().Now, OpTimeout: 10 * time.Second, DialTimeout: 200 * time.Millisecond})
	k := key(t, "", "k")
	put(t, s, k, "1", cache.KindBytes)
	srv.stop()

	ops := []struct {
		name string
		run  func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, k, nil); return err }},
		{"get_multi", func() error { _, err := s.GetMulti(ctx, []cache.Key{k}, 0); return err }},
		{"put", func() error { _, err := s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("2")}); return err }},
		{"put_multi", func() error {
			_, err := s.PutMulti(ctx, cache.ModeSet, []cache.Entry{{Key: k, Value: []byte("2")}})
			return err
		}},
		{"delete", func() error { return s.Delete(ctx, k, 0) }},
		{"delete_multi", func() error { _, err := s.DeleteMulti(ctx, []cache.Key{k}, 0); return err }},
		{"offset", func() error { _, err := s.Offset(ctx, k, cache.Delta{Amount: 1}, nil); return err }},
		{"offset_multi", func() error {
			_, _, err := s.OffsetMulti(ctx, []cache.Key{k}, []cache.Delta{{Amount: 1}}, nil)
			return err
		}},
		{"stats", func() error { _, err := s.Stats(ctx); return err }},
		{"flush_all", func() error { return s.FlushAll(ctx) }},
	}
	for _, op := range ops {
		start := time.Now()
		err := op.run()
		assert.ErrorIs(t, err, cache.ErrUnavailable, "%s with Redis down", op.name)
		assert.Less(t, time.Since(start), time.Second, "%s fails fast", op.name)
	}

	require.NoError(t, srv.start(), "restart on the same port")
	// The client reconnects on its own; the first calls may still meet the
	// old, broken connection.
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if _, err = s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("3"), Kind: cache.KindBytes}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "writes work again after the restart")
	for _, op := range ops {
		err := op.run()
		if err != nil {
			assert.NotErrorIs(t, err, cache.ErrUnavailable, "%s after the restart", op.name)
		}
	}
}

func TestOpenRejectsBadConfiguration(t *testing.T) {
	url := sharedServer(t).url()
	tests := []struct {
		name string
		url  string
		opts Options
		want error
	}{
		{"a prefix with a hash tag brace", url, Options{KeyPrefix: "a{b}:"}, cache.ErrInvalidArgument},
		{"an unknown URL scheme", "http://127.0.0.1:1", Options{}, cache.ErrInvalidArgument},
		{"a database that is not a number", url + "/x", Options{}, cache.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.url, tt.opts)
			assert.ErrorIs(t, err, tt.want, "Open(%q, %+v)", tt.url, tt.opts)
		})
	}

	t.Run("an unreachable server is unavailable, quickly", func(t *testing.T) {
		port, err := testserver.PickPort()
		require.NoError(t, err)
		start := time.Now()
		_, err = Open(context.Background(), fmt.Sprintf("redis://127.0.0.1:%d", port), Options{DialTimeout: 200 * time.Millisecond})
		assert.ErrorIs(t, err, cache.ErrUnavailable)
		assert.Less(t, time.Since(start), 2*time.Second)
	})
}

func TestKeysNotBuiltWithNewKeyAreRejected(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, sharedServer(t).url(), Options{})
	for _, k := range []cache.Key{{Name: "no-namespace"}, {Namespace: "a:b", Name: "k"}, {Namespace: "ns"}} {
		_, err := s.Get(ctx, k, nil)
		assert.ErrorIs(t, err, cache.ErrInvalidArgument, "get %+v", k)
		_, err = s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("1")})
		assert.ErrorIs(t, err, cache.ErrInvalidArgument, "put %+v", k)
	}
}

func TestOnlyItemKeysCarryATTLSoEvictionSparesTheBookkeeping(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	clock := cachetest.NewClock()
	s := openStore(t, srv.url(), Options{Clock: clock.Now, IdleTTL: time.Hour})
	raw := rawClient(t, srv.addr())
	pttl := func(k string) int64 {
		t.Helper()
		ms, err := raw.Do(ctx, raw.B().Pttl().Key(k).Build()).AsInt64()
		require.NoError(t, err)
		return ms
	}
	forever, counter, locked := key(t, "", "forever"), key(t, "", "counter"), key(t, "", "locked")
	_, err := s.Put(ctx, cache.ModeSet, cache.Entry{Key: forever, Value: []byte("1")})
	require.NoError(t, err)
	_, err = s.Offset(ctx, counter, cache.Delta{Amount: 1}, new(uint64))
	require.NoError(t, err)
	put(t, s, locked, "1", cache.KindBytes)
	require.NoError(t, s.Delete(ctx, locked, 30))
	put(t, s, key(t, "", "expiring"), "1", cache.KindBytes)

	hour := time.Hour.Milliseconds()
	for _, k := range []cache.Key{forever, counter} {
		assert.InDelta(t, hour, pttl(s.lay.itemPrefix(0)+itemName(k)), 2000, "%s: an item that never expires gets the idle TTL", k.Name)
	}
	assert.InDelta(t, (30*time.Second + DefaultExpirySlack).Milliseconds(), pttl(s.lay.itemPrefix(0)+itemName(locked)), 2000, "a lock lives its period plus the slack")
	require.NoError(t, s.Sync(ctx)) // the exp entry of a plain set is the sync's
	for _, k := range s.lay.bookkeeping(0) {
		assert.Equal(t, int64(-1), pttl(k), "bookkeeping key %s has no TTL", k)
	}

	// Reading an item renews its idle TTL once an eighth of it has passed
	// since it was set, at the next sync. Shortening the TTL behind the
	// store's back shows which reads renewed it.
	item := s.lay.itemPrefix(0) + itemName(forever)
	require.NoError(t, raw.Do(ctx, raw.B().Pexpire().Key(item).Milliseconds(60_000).Build()).Error())
	_, err = s.Get(ctx, forever, nil)
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	assert.InDelta(t, 60_000, pttl(item), 2000, "a read soon after the write leaves the TTL")
	clock.Advance(time.Hour/8 + time.Second)
	_, err = s.Get(ctx, forever, nil)
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	assert.InDelta(t, hour, pttl(item), 2000, "a read an eighth of the TTL later renews it")
	require.NoError(t, raw.Do(ctx, raw.B().Pexpire().Key(item).Milliseconds(60_000).Build()).Error())
	_, err = s.Get(ctx, forever, nil)
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	assert.InDelta(t, 60_000, pttl(item), 2000, "the renewal restarted the count")
}

func TestLayoutKeepsTheStoresKeysApart(t *testing.T) {
	tests := []struct {
		name, prefix, pattern string
	}{
		{"a plain prefix", "mchttp:", "mchttp:{*}:s:*"},
		{"glob characters in the prefix match literally", `a*b?[c]\:`, `a\*b\?\[c\]\\:{*}:s:*`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(tt.prefix, 4)
			assert.Equal(t, tt.pattern, l.itemPattern())
			for b := range 4 {
				got, ok := l.bucketOf(l.itemPrefix(b) + "ns:key")
				assert.True(t, ok)
				assert.Equal(t, b, got)
			}
			for _, foreign := range []string{"x" + tt.prefix + "{1}:s:ns:k", tt.prefix + "{9}:s:ns:k", tt.prefix + "{a}:s:ns:k"} {
				_, ok := l.bucketOf(foreign)
				assert.False(t, ok, "%q is not an item of the store", foreign)
			}
		})
	}

	t.Run("the items of one namespace spread over every bucket", func(t *testing.T) {
		l := newLayout("p:", 16)
		seen := map[int]int{}
		for i := range 1600 {
			seen[l.bucket(cache.Key{Namespace: "one", Name: strconv.Itoa(i)})]++
		}
		assert.Len(t, seen, 16)
		for b, n := range seen {
			assert.InDelta(t, 100, n, 50, "bucket %d", b)
		}
	})
}

func TestScriptsAreResentAfterTheServerForgetsThem(t *testing.T) {
	ctx := context.Background()
	srv := sharedServer(t)
	s := openStore(t, srv.url(), Options{Clock: cachetest.NewClock().Now})
	raw := rawClient(t, srv.addr())
	keys := []cache.Key{key(t, "", "a"), key(t, "", "b")}
	for _, k := range keys {
		put(t, s, k, "1", cache.KindBytes)
	}

	require.NoError(t, raw.Do(ctx, raw.B().ScriptFlush().Build()).Error())
	_, err := s.Get(ctx, keys[0], nil)
	require.NoError(t, err, "a single call falls back to EVAL")

	require.NoError(t, raw.Do(ctx, raw.B().ScriptFlush().Build()).Error())
	values, errs, err := s.OffsetMulti(ctx, keys, []cache.Delta{{Amount: 1}, {Amount: 2}}, nil)
	require.NoError(t, err, "a pipeline falls back to EVAL")
	assert.Equal(t, []error{nil, nil}, errs)
	assert.Equal(t, []uint64{2, 3}, values, "each write applied exactly once")
}

func TestAHungRedisFailsWithinTheOperationTimeout(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	// The store's own default, rather than something shorter: the open,
	// the put and the close must succeed within it on a busy machine, where
	// a server can go unscheduled for a few hundred milliseconds.
	const opTimeout = DefaultOpTimeout
	s := openStore(t, srv.url(), Options{Clock: cachetest.NewClock().Now, OpTimeout: opTimeout})
	k := key(t, "", "k")
	put(t, s, k, "1", cache.KindBytes)

	require.NoError(t, srv.signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = srv.signal(syscall.SIGCONT) })
	start := time.Now()
	_, err := s.Get(ctx, k, nil)
	elapsed := time.Since(start)
	assert.ErrorIs(t, err, cache.ErrUnavailable)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the connection's ping timed out")
	assert.Less(t, elapsed, 3*opTimeout, "bounded by OpTimeout, not by the server")

	require.NoError(t, srv.signal(syscall.SIGCONT))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if _, err = s.Get(ctx, k, nil); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "reads work again once the server resumes")
}

func TestACallCanceledByItsCallerIsNotABackendFailure(t *testing.T) {
	srv := ownServer(t)
	s := openStore(t, srv.url(), Options{Clock: cachetest.NewClock().Now, OpTimeout: 10 * time.Second})
	k := key(t, "", "k")
	put(t, s, k, "1", cache.KindBytes)

	// The server hangs, so only the caller's cancel can end the calls.
	require.NoError(t, srv.signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = srv.signal(syscall.SIGCONT) })
	ops := map[string]func(context.Context) error{
		"get": func(ctx context.Context) error { _, err := s.Get(ctx, k, nil); return err },
		"put": func(ctx context.Context) error {
			_, err := s.Put(ctx, cache.ModeSet, cache.Entry{Key: k, Value: []byte("2"), Kind: cache.KindBytes})
			return err
		},
		"offset": func(ctx context.Context) error { _, err := s.Offset(ctx, k, cache.Delta{Amount: 1}, nil); return err },
	}
	for name, op := range ops {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- op(ctx) }()
		cancel()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled, name)
			assert.NotErrorIs(t, err, cache.ErrUnavailable, "%s: the caller left; the backend did not fail", name)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: a canceled call still waits for the hung server", name)
		}
	}
}

func TestAReadIsRetriedAfterABrokenConnectionButNeverAfterATimeout(t *testing.T) {
	var cmd rueidis.Completed
	broken := errors.New("read tcp: connection reset by peer")
	for attempts := 1; attempts <= maxRetries; attempts++ {
		assert.Positive(t, retryDelay(attempts, cmd, broken), "attempt %d after a broken connection", attempts)
	}
	assert.Negative(t, retryDelay(maxRetries+1, cmd, broken), "a few times, not until the caller gives up")
	for _, err := range []error{os.ErrDeadlineExceeded, fmt.Errorf("dial: %w", context.DeadlineExceeded)} {
		assert.Negative(t, retryDelay(1, cmd, err), "%v: a server that stopped answering is not waited for twice", err)
	}
}
