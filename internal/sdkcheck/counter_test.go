package sdkcheck

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/sdk"
)

func TestIncrDecr(t *testing.T) {
	tests := []struct {
		name    string
		stored  any // nil: nothing stored
		op      func(e *env) (uint64, error)
		want    uint64
		wantErr error
		after   any // the value Get then gives, in its stored type
	}{
		{"incr adds the delta", 10, func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 5) }, 15, nil, 15},
		{"incr by zero reads the counter", 10, func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 0) }, 10, nil, 10},
		{"incr wraps modulo 2^64", uint64(math.MaxUint64), func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 2) }, 1, nil, uint64(1)},
		{"decr subtracts the delta", 10, func(e *env) (uint64, error) { return e.c.Decr(e.ctx, "k", 3) }, 7, nil, 7},
		{"decr floors at zero", 10, func(e *env) (uint64, error) { return e.c.Decr(e.ctx, "k", 11) }, 0, nil, 0},
		{"a digit string stays a string", "0042", func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 1) }, 43, nil, "43"},
		{"digit bytes stay bytes", []byte("9"), func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 1) }, 10, nil, []byte("10")},
		{"a missing key is a miss", nil, func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 1) }, 0, sdk.ErrCacheMiss, nil},
		{"decr on a missing key is a miss", nil, func(e *env) (uint64, error) { return e.c.Decr(e.ctx, "k", 1) }, 0, sdk.ErrCacheMiss, nil},
		{"an initial value creates the counter", nil, func(e *env) (uint64, error) {
			return e.c.Incr(e.ctx, "k", 2, sdk.WithInitialValue(40))
		}, 42, nil, int64(42)},
		{"decr with an initial value creates the counter", nil, func(e *env) (uint64, error) {
			return e.c.Decr(e.ctx, "k", 2, sdk.WithInitialValue(40))
		}, 38, nil, int64(38)},
		{"an initial value is ignored for a live counter", 5, func(e *env) (uint64, error) {
			return e.c.Incr(e.ctx, "k", 1, sdk.WithInitialValue(100))
		}, 6, nil, 6},
		{"text is not a number", "ten", func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 1) }, 0, sdk.ErrNotANumber, "ten"},
		{"a negative number is not a number", -1, func(e *env) (uint64, error) { return e.c.Decr(e.ctx, "k", 1) }, 0, sdk.ErrNotANumber, -1},
		{"a float is not a number", 1.5, func(e *env) (uint64, error) { return e.c.Incr(e.ctx, "k", 1) }, 0, sdk.ErrNotANumber, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.stored != nil {
				e.set("k", tt.stored)
			}
			got, err := tt.op(e)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.after, e.get("k"))
		})
	}
	t.Run("an int counter decodes into an int after incr", func(t *testing.T) {
		e := newEnv(t)
		e.set("hits", 1)
		_, err := e.c.Incr(e.ctx, "hits", 1)
		require.NoError(t, err)
		n, err := sdk.GetAs[int](e.ctx, e.c, "hits")
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	})
}

func TestOffsetMulti(t *testing.T) {
	e := newEnv(t)
	e.set("p:a", 10)
	e.set("p:b", 10)
	e.set("p:text", "x")

	values, err := e.c.OffsetMulti(e.ctx, map[string]int64{"a": 5, "b": -3, "missing": 1, "text": 1}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.Equal(t, map[string]*uint64{"a": ptr[uint64](15), "b": ptr[uint64](7), "missing": nil, "text": nil}, values)

	values, err = e.c.OffsetMulti(e.ctx, map[sdk.Key]int{{Name: "a"}: 1, {Name: "new"}: -1}, sdk.WithKeyPrefix("p:"), sdk.WithInitialValue(100))
	require.NoError(t, err)
	assert.Equal(t, map[string]*uint64{"a": ptr[uint64](16), "new": ptr[uint64](99)}, values)
	assert.Equal(t, int64(99), e.get("p:new"), "a counter created by an initial value reads as an int64")

	values, err = e.c.OffsetMulti(e.ctx, map[string]int{})
	require.NoError(t, err)
	assert.Empty(t, values)

	for _, bad := range []any{map[string]string{"a": "1"}, map[string]uint64{"a": math.MaxUint64}, map[string]float64{"a": 1}} {
		values, err = e.c.OffsetMulti(e.ctx, bad)
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "deltas %#v", bad)
		assert.Nil(t, values)
	}
}
