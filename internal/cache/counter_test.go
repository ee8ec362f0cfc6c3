package cache

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCounter(t *testing.T) {
	cases := []struct {
		kind  Kind
		value string
		want  Counter
		ok    bool
	}{
		{KindJSON, `0`, Counter{N: 0}, true},
		{KindJSON, `42`, Counter{N: 42}, true},
		{KindJSON, `"42"`, Counter{N: 42, Quoted: true}, true},
		{KindJSON, `"0042"`, Counter{N: 42, Quoted: true}, true},
		{KindBytes, `0042`, Counter{N: 42}, true},
		{KindBytes, `18446744073709551615`, Counter{N: math.MaxUint64}, true},
		{KindBytes, `18446744073709551616`, Counter{}, false},
		{KindBytes, `184467440737095516150`, Counter{}, false},
		{KindBytes, `"42"`, Counter{}, false}, // quotes are only JSON syntax
		{KindJSON, `""`, Counter{}, false},
		{KindJSON, `"`, Counter{}, false},
		{KindBytes, ``, Counter{}, false},
		{KindJSON, `-1`, Counter{}, false},
		{KindJSON, `+1`, Counter{}, false},
		{KindJSON, `1.0`, Counter{}, false},
		{KindJSON, `1e3`, Counter{}, false},
		{KindJSON, `"4 2"`, Counter{}, false},
		{KindBytes, "4\x002", Counter{}, false},
	}
	for _, c := range cases {
		got, err := ParseCounter(c.kind, []byte(c.value))
		if !c.ok {
			assert.ErrorIs(t, err, ErrNotANumber, "kind %d %q", c.kind, c.value)
			continue
		}
		require.NoError(t, err, "kind %d %q", c.kind, c.value)
		assert.Equal(t, c.want, got, "kind %d %q", c.kind, c.value)
	}
}

func TestCounterAppendKeepsTheType(t *testing.T) {
	cases := []struct {
		c    Counter
		want string
	}{
		{Counter{N: 7}, `7`},
		{Counter{N: 7, Quoted: true}, `"7"`},
		{Counter{N: math.MaxUint64}, `18446744073709551615`},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, string(c.c.Append([]byte("x")))[1:], "%+v appends after dst", c.c)
	}
	assert.Equal(t, "15", string(NewCounterValue(nil, 15)))
}

func TestDeltaApply(t *testing.T) {
	cases := []struct {
		name string
		n    uint64
		d    Delta
		want uint64
	}{
		{"incr adds", 5, Delta{Amount: 3}, 8},
		{"incr wraps modulo 2^64", math.MaxUint64, Delta{Amount: 3}, 2},
		{"decr subtracts", 5, Delta{Amount: 3, Decrement: true}, 2},
		{"decr floors at zero", 5, Delta{Amount: 6, Decrement: true}, 0},
		{"decr to exactly zero", 5, Delta{Amount: 5, Decrement: true}, 0},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.d.Apply(c.n), c.name)
	}
}
