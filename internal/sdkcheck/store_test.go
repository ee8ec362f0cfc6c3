package sdkcheck

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
	"github.com/memcached-http/memcached-http/sdk"
)

func TestGetMissLeavesTheDestinationAlone(t *testing.T) {
	e := newEnv(t)
	v := "untouched"
	found, err := e.c.Get(e.ctx, "absent", &v)
	assert.False(t, found)
	assert.ErrorIs(t, err, sdk.ErrCacheMiss)
	assert.Equal(t, "untouched", v)

	_, err = sdk.GetAs[string](e.ctx, e.c, "absent")
	assert.ErrorIs(t, err, sdk.ErrCacheMiss)
}

func TestKeysOfEveryShapeAddressTheSameItem(t *testing.T) {
	e := newEnv(t)
	e.set("user:42", "Ada")
	for _, key := range []any{"user:42", []byte("user:42"), sdk.Key{Hash: 99, Name: "user:42"}} {
		assert.Equal(t, "Ada", e.get(key), "key %#v", key)
	}
	type userID string
	assert.Equal(t, "Ada", e.get(userID("user:42")), "a named string type is a key")
}

func TestKeysThatNeedEscapingRoundTrip(t *testing.T) {
	e := newEnv(t)
	keys := []string{"a/b", "a b", "50%", "q?x=1", "frag#1", "héllo", "日本", "user:42:incr", "x:decr", "%3A", "a+b", ".", "..", "../x", "a/../b",
		"a;b=c,d&e@f$g!h'i(j)*k~l", "tab\there", "new\nline", "back\\slash", "quote\"", "<html>", "emoji 🎉"}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			e.set(key, 10)
			assert.Equal(t, 10, e.get(key))
			n, err := e.c.Incr(e.ctx, key, 5)
			require.NoError(t, err)
			assert.Equal(t, uint64(15), n)
			n, err = e.c.Decr(e.ctx, key, 1)
			require.NoError(t, err)
			assert.Equal(t, uint64(14), n)
			got, err := e.c.GetMulti(e.ctx, []string{key})
			require.NoError(t, err)
			assert.Equal(t, map[string]any{key: 14}, got)
			status, err := e.c.Delete(e.ctx, key)
			require.NoError(t, err)
			assert.Equal(t, sdk.DeleteSuccessful, status)
			assert.Nil(t, e.get(key))
		})
	}
}

func TestKeysTooLongOrNotUTF8AreHashedLikeAppEngine(t *testing.T) {
	e := newEnv(t)
	sha := func(s string) string { sum := sha1.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	long := strings.Repeat("k", 251)
	tests := []struct {
		name   string
		key    any
		prefix string
		wire   string
	}{
		{"a key of 251 bytes", long, "", sha(long)},
		{"a key of 250 bytes is sent as is", long[:250], "", long[:250]},
		{"a prefix that makes the key too long", long[:250], "p:", sha("p:" + long[:250])},
		{"a key that is not UTF-8", "\xff\xfe", "", sha("\xff\xfe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notStored, err := e.c.SetMulti(e.ctx, map[any]any{tt.key: tt.name}, sdk.WithKeyPrefix(tt.prefix))
			require.NoError(t, err)
			assert.Empty(t, notStored)
			assert.Equal(t, tt.name, e.get(tt.wire), "the item lives under %q", tt.wire)
			got, err := e.c.GetMulti(e.ctx, []any{tt.key}, sdk.WithKeyPrefix(tt.prefix))
			require.NoError(t, err)
			assert.Len(t, got, 1, "results are keyed by the caller's key")
		})
	}
	e.set([]byte{0xff}, "bytes")
	assert.Equal(t, "bytes", e.get(sha("\xff")), "a []byte key that is not UTF-8")
}

func TestBadKeysAreRefusedBeforeSending(t *testing.T) {
	e := newEnv(t)
	for _, key := range []any{"", 42, sdk.Key{Hash: 1}, nil, []string{"a"}} {
		ok, err := e.c.Set(e.ctx, key, 1)
		assert.False(t, ok, "key %#v", key)
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "key %#v", key)
	}
	_, err := e.c.GetMulti(e.ctx, "not a slice")
	assert.ErrorIs(t, err, sdk.ErrInvalidArgument)
	_, err = e.c.SetMulti(e.ctx, []string{"not a map"})
	assert.ErrorIs(t, err, sdk.ErrInvalidArgument)
}

func TestNamespacesIsolateKeys(t *testing.T) {
	e := newEnv(t)
	e.set("k", "in the empty namespace")
	e.set("k", "in a", sdk.WithNamespace("a"))
	assert.Equal(t, "in the empty namespace", e.get("k"))
	assert.Equal(t, "in the empty namespace", e.get("k", sdk.WithNamespace("")), `"" is the empty namespace`)
	assert.Nil(t, e.get("k", sdk.WithNamespace("default")), `"default" is an ordinary namespace`)
	assert.Equal(t, "in a", e.get("k", sdk.WithNamespace("a")))
	assert.Nil(t, e.get("k", sdk.WithNamespace("b")))

	for _, ns := range []string{"a b", "ns/1", "~", strings.Repeat("n", 101)} {
		_, err := e.c.Get(e.ctx, "k", new(any), sdk.WithNamespace(ns))
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "namespace %q", ns)
	}
}

func TestConditionalStores(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(e *env)
		store   func(e *env) (bool, error)
		wantOK  bool
		wantErr error
		want    any
	}{
		{"set stores over nothing", func(*env) {},
			func(e *env) (bool, error) { return e.c.Set(e.ctx, "k", "new") }, true, nil, "new"},
		{"set stores over a live item", func(e *env) { e.set("k", "old") },
			func(e *env) (bool, error) { return e.c.Set(e.ctx, "k", "new") }, true, nil, "new"},
		{"add stores over nothing", func(*env) {},
			func(e *env) (bool, error) { return e.c.Add(e.ctx, "k", "new") }, true, nil, "new"},
		{"add refuses a live item", func(e *env) { e.set("k", "old") },
			func(e *env) (bool, error) { return e.c.Add(e.ctx, "k", "new") }, false, sdk.ErrNotStored, "old"},
		{"replace refuses a missing item", func(*env) {},
			func(e *env) (bool, error) { return e.c.Replace(e.ctx, "k", "new") }, false, sdk.ErrNotStored, nil},
		{"replace stores over a live item", func(e *env) { e.set("k", "old") },
			func(e *env) (bool, error) { return e.c.Replace(e.ctx, "k", "new") }, true, nil, "new"},
		{"replace refuses an expired item", func(e *env) { e.set("k", "old", sdk.WithTime(1)); e.clock.Advance(2 * time.Second) },
			func(e *env) (bool, error) { return e.c.Replace(e.ctx, "k", "new") }, false, sdk.ErrNotStored, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.prepare(e)
			ok, err := tt.store(e)
			assert.Equal(t, tt.wantOK, ok)
			if tt.wantErr == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Equal(t, tt.want, e.get("k"))
		})
	}
}

func TestExpiration(t *testing.T) {
	start := cachetest.Start // fractional, so relative times must round up
	tests := []struct {
		name    string
		opt     sdk.CallOption
		lives   time.Duration // still there this long after start
		expires time.Duration // gone this long after start
	}{
		{"relative seconds", sdk.WithTime(10), 9 * time.Second, 11 * time.Second},
		{"fractional seconds round up", sdk.WithTime(0.5), 700 * time.Millisecond, 800 * time.Millisecond},
		{"an absolute Unix time", sdk.WithTime(float64(start.Unix() + 100)), 99 * time.Second, 100 * time.Second},
		{"a duration", sdk.WithExpiration(time.Minute), 59 * time.Second, 61 * time.Second},
		{"zero never expires", sdk.WithTime(0), 365 * 24 * time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.set("k", "v", tt.opt)
			e.clock.Set(start.Add(tt.lives))
			assert.Equal(t, "v", e.get("k"), "alive after %v", tt.lives)
			if tt.expires > 0 {
				e.clock.Set(start.Add(tt.expires))
				assert.Nil(t, e.get("k"), "expired after %v", tt.expires)
			}
		})
	}
	t.Run("a duration over 30 days is sent as an absolute time", func(t *testing.T) {
		e := newEnv(t)
		now := time.Now()
		e.clock.Set(now)
		e.set("k", "v", sdk.WithExpiration(40*24*time.Hour))
		e.clock.Set(now.Add(39 * 24 * time.Hour))
		assert.Equal(t, "v", e.get("k"))
		e.clock.Set(now.Add(41 * 24 * time.Hour))
		assert.Nil(t, e.get("k"))
	})
	t.Run("multi stores take the time too", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.c.SetMulti(e.ctx, map[string]int{"a": 1}, sdk.WithTime(5))
		require.NoError(t, err)
		e.clock.Advance(6 * time.Second)
		assert.Nil(t, e.get("a"))
	})
	for _, opt := range []sdk.CallOption{sdk.WithTime(-1), sdk.WithExpiration(-time.Second)} {
		e := newEnv(t)
		ok, err := e.c.Set(e.ctx, "k", "v", opt)
		assert.False(t, ok)
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "a negative time is refused")
	}
}

func TestOptionsAMethodDoesNotTakeAreRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		call func() error
	}{
		{"Get with a key prefix", func() error { _, err := e.c.Get(e.ctx, "k", new(any), sdk.WithKeyPrefix("p")); return err }},
		{"Gets with ForCAS", func() error { _, err := e.c.Gets(e.ctx, "k", new(any), sdk.ForCAS()); return err }},
		{"Set with a lock", func() error { _, err := e.c.Set(e.ctx, "k", 1, sdk.WithLockSeconds(1)); return err }},
		{"CAS with an initial value", func() error { _, err := e.c.CAS(e.ctx, "k", 1, sdk.WithInitialValue(1)); return err }},
		{"Delete with a time", func() error { _, err := e.c.Delete(e.ctx, "k", sdk.WithTime(1)); return err }},
		{"Incr with a prefix", func() error { _, err := e.c.Incr(e.ctx, "k", 1, sdk.WithKeyPrefix("p")); return err }},
		{"SetMulti with ForCAS", func() error { _, err := e.c.SetMulti(e.ctx, map[string]int{"k": 1}, sdk.ForCAS()); return err }},
		{"GetMulti with an initial value", func() error {
			_, err := e.c.GetMulti(e.ctx, []string{"k"}, sdk.WithInitialValue(1))
			return err
		}},
		{"DeleteMulti with a time", func() error { _, err := e.c.DeleteMulti(e.ctx, []string{"k"}, sdk.WithTime(1)); return err }},
		{"OffsetMulti with a lock", func() error {
			_, err := e.c.OffsetMulti(e.ctx, map[string]int{"k": 1}, sdk.WithLockSeconds(1))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.call(), sdk.ErrInvalidArgument)
		})
	}
	assert.Nil(t, e.get("k"), "nothing was sent")
}

func TestMultiStores(t *testing.T) {
	e := newEnv(t)
	notStored, err := e.c.SetMulti(e.ctx, map[string]any{"a": 1, "b": "two", "c": []byte{3}}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Empty(t, notStored)
	assert.Equal(t, 1, e.get("p:a"), "the prefix is part of the stored key")
	assert.Equal(t, "two", e.get("p:b"))
	assert.Equal(t, []byte{3}, e.get("p:c"))

	notStored, err = e.c.AddMulti(e.ctx, map[string]int{"a": 10, "d": 4}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, notStored, "add refuses the live key, reported without the prefix")
	assert.Equal(t, 1, e.get("p:a"))
	assert.Equal(t, 4, e.get("p:d"))

	notStored, err = e.c.ReplaceMulti(e.ctx, map[sdk.Key]int{{Name: "a"}: 11, {Name: "zz"}: 0}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, []string{"zz"}, notStored)
	assert.Equal(t, 11, e.get("p:a"))
	assert.Nil(t, e.get("p:zz"))

	notStored, err = e.c.SetMulti(e.ctx, map[string]int{})
	require.NoError(t, err)
	assert.Empty(t, notStored, "an empty mapping stores nothing and sends nothing")
}

func TestGetMulti(t *testing.T) {
	e := newEnv(t)
	e.set("p:a", 1)
	e.set("p:b", "two")
	e.set("p:c", profile{Name: "Ada"})

	got, err := e.c.GetMulti(e.ctx, []string{"a", "b", "missing", "a"}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": 1, "b": "two"}, got, "misses are absent, keys lose the prefix")

	got, err = e.c.GetMulti(e.ctx, []any{sdk.Key{Hash: 7, Name: "a"}, []byte("b")}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": 1, "b": "two"}, got)

	got, err = e.c.GetMulti(e.ctx, []string{})
	require.NoError(t, err)
	assert.Empty(t, got)

	profiles, err := sdk.GetMultiAs[profile](e.ctx, e.c, []string{"c", "missing"}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, map[string]profile{"c": {Name: "Ada"}}, profiles)

	ints, err := sdk.GetMultiAs[int](e.ctx, e.c, []string{"a", "b"}, sdk.WithKeyPrefix("p:"))
	assert.Error(t, err, "a value that does not decode is reported")
	assert.Equal(t, map[string]int{"a": 1}, ints, "and left out")
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	e.set("k", "v")
	status, err := e.c.Delete(e.ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, sdk.DeleteSuccessful, status)
	assert.Nil(t, e.get("k"))

	status, err = e.c.Delete(e.ctx, "k")
	assert.Equal(t, sdk.DeleteItemMissing, status)
	assert.ErrorIs(t, err, sdk.ErrCacheMiss)

	assert.Equal(t, "DELETE_SUCCESSFUL", sdk.DeleteSuccessful.String())
	assert.Equal(t, "DELETE_ITEM_MISSING", sdk.DeleteItemMissing.String())
	assert.Equal(t, "DELETE_NETWORK_FAILURE", sdk.DeleteNetworkFailure.String())
	assert.Equal(t, 2, int(sdk.DeleteSuccessful), "App Engine's numbers")
	assert.Equal(t, 1, int(sdk.DeleteItemMissing))
	assert.Equal(t, 0, int(sdk.DeleteNetworkFailure))
}

func TestDeleteLockSeconds(t *testing.T) {
	e := newEnv(t)
	e.set("k", "v")
	status, err := e.c.Delete(e.ctx, "k", sdk.WithLockSeconds(10))
	require.NoError(t, err)
	assert.Equal(t, sdk.DeleteSuccessful, status)

	assert.Nil(t, e.get("k"), "a locked key reads as a miss")
	ok, err := e.c.Add(e.ctx, "k", "added")
	assert.False(t, ok, "add fails on a locked key")
	assert.ErrorIs(t, err, sdk.ErrNotStored)
	ok, err = e.c.Replace(e.ctx, "k", "replaced")
	assert.False(t, ok, "replace fails on a locked key")
	assert.ErrorIs(t, err, sdk.ErrNotStored)
	_, err = e.c.Incr(e.ctx, "k", 1)
	assert.ErrorIs(t, err, sdk.ErrCacheMiss, "incr misses on a locked key")
	notStored, err := e.c.AddMulti(e.ctx, map[string]string{"k": "added"})
	require.NoError(t, err)
	assert.Equal(t, []string{"k"}, notStored)

	e.clock.Advance(11 * time.Second)
	ok, err = e.c.Add(e.ctx, "k", "added")
	require.NoError(t, err)
	assert.True(t, ok, "the lock ends")

	e.set("m", 1)
	statuses, err := e.c.DeleteMulti(e.ctx, []string{"m"}, sdk.WithLockSeconds(10))
	require.NoError(t, err)
	assert.Equal(t, map[string]sdk.DeleteStatus{"m": sdk.DeleteSuccessful}, statuses)
	ok, err = e.c.Add(e.ctx, "m", 2)
	assert.False(t, ok, "DeleteMulti locks too")
	assert.ErrorIs(t, err, sdk.ErrNotStored)
	e.set("m", 3)
	assert.Equal(t, 3, e.get("m"), "set works over the lock")
}

func TestDeleteMulti(t *testing.T) {
	e := newEnv(t)
	e.set("p:a", 1)
	statuses, err := e.c.DeleteMulti(e.ctx, []any{"a", sdk.Key{Name: "b"}}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, map[string]sdk.DeleteStatus{"a": sdk.DeleteSuccessful, "b": sdk.DeleteItemMissing}, statuses)
	assert.Nil(t, e.get("p:a"))

	statuses, err = e.c.DeleteMulti(e.ctx, []string{})
	require.NoError(t, err)
	assert.Empty(t, statuses)
}

func TestDotNamespacesAndKeysAreNotPathSegments(t *testing.T) {
	e := newEnv(t)
	e.set("k", "in default")
	for _, ns := range []string{".", "..", "..."} {
		t.Run(ns, func(t *testing.T) {
			in := sdk.WithNamespace(ns)
			e.set("..", "dots", in)
			assert.Equal(t, "dots", e.get("..", in))
			notStored, err := e.c.SetMulti(e.ctx, map[string]int{"n": 1}, in)
			require.NoError(t, err)
			assert.Empty(t, notStored)
			n, err := e.c.Incr(e.ctx, "n", 2, in)
			require.NoError(t, err)
			assert.Equal(t, uint64(3), n)
			values, err := e.c.OffsetMulti(e.ctx, map[string]int{"n": -1}, in)
			require.NoError(t, err)
			assert.Equal(t, map[string]*uint64{"n": ptr[uint64](2)}, values)
			got, err := e.c.GetMulti(e.ctx, []string{"..", "n", "k"}, in)
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"..": "dots", "n": 2}, got, "the default namespace's k is not visible")
			statuses, err := e.c.DeleteMulti(e.ctx, []string{"n"}, in)
			require.NoError(t, err)
			assert.Equal(t, map[string]sdk.DeleteStatus{"n": sdk.DeleteSuccessful}, statuses)
		})
	}
	assert.Equal(t, "in default", e.get("k"))
	assert.Nil(t, e.get(".."), "the dotted namespaces kept their items to themselves")
}
