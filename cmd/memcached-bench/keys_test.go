package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// draw counts how often each key comes up in n draws.
func draw(t *testing.T, dist string, keySpace uint64, s float64, n int) []int {
	t.Helper()
	k, err := newKeyChooser(dist, keySpace, s, 42)
	require.NoError(t, err)
	counts := make([]int, keySpace)
	for range n {
		v := k.next()
		require.Less(t, v, keySpace, "%s drew a key outside the key space", dist)
		counts[v]++
	}
	return counts
}

func TestUniformKeysAreEvenlySpread(t *testing.T) {
	const keys, n = 100, 200_000
	counts := draw(t, "uniform", keys, 0, n)
	// Each key expects 2,000 draws (sd ≈ 44); 10 % off would be a broken chooser.
	for i, c := range counts {
		assert.InDelta(t, n/keys, c, n/keys/10, "key %d", i)
	}
}

func TestZipfKeysFollowThePowerLaw(t *testing.T) {
	const keys, n, s = 1000, 200_000, 1.2
	counts := draw(t, "zipf", keys, s, n)
	assert.Greater(t, counts[0], counts[1], "key 0 must be the hottest")
	assert.Greater(t, counts[1], counts[10], "popularity must fall with rank")
	// P(0)/P(1) = 2^s and P(0)/P(3) = 4^s for this generator's weights 1/(1+i)^s.
	assert.InEpsilon(t, math.Pow(2, s), float64(counts[0])/float64(counts[1]), 0.05)
	assert.InEpsilon(t, math.Pow(4, s), float64(counts[0])/float64(counts[3]), 0.08)
	tail := 0
	for _, c := range counts[keys/2:] {
		tail += c
	}
	assert.Less(t, tail, n/20, "the colder half of the keys gets a small share")
}

func TestSameSeedDrawsTheSameKeys(t *testing.T) {
	for _, dist := range []string{"uniform", "zipf"} {
		t.Run(dist, func(t *testing.T) {
			a, err := newKeyChooser(dist, 1000, 1.1, 7)
			require.NoError(t, err)
			b, err := newKeyChooser(dist, 1000, 1.1, 7)
			require.NoError(t, err)
			c, err := newKeyChooser(dist, 1000, 1.1, 8)
			require.NoError(t, err)
			var sa, sb, sc []uint64
			for range 50 {
				sa, sb, sc = append(sa, a.next()), append(sb, b.next()), append(sc, c.next())
			}
			assert.Equal(t, sa, sb, "same seed")
			assert.NotEqual(t, sa, sc, "workers with different seeds must not send the same keys in lockstep")
		})
	}
}

func TestKeyChooserRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		dist     string
		keySpace uint64
		s        float64
	}{
		{"an empty key space", "uniform", 0, 0},
		{"a zipf exponent of 1, which the generator cannot draw", "zipf", 10, 1},
		{"a zipf exponent below 1", "zipf", 10, 0.99},
		{"an unknown distribution", "gaussian", 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newKeyChooser(tt.dist, tt.keySpace, tt.s, 1)
			assert.Error(t, err)
		})
	}
}

func TestOneKeySpaceAlwaysDrawsKeyZero(t *testing.T) {
	for _, dist := range []string{"uniform", "zipf"} {
		counts := draw(t, dist, 1, 1.5, 100)
		assert.Equal(t, []int{100}, counts, dist)
	}
}

// newTestRand is a fixed-seed source for tests of random choices.
func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
