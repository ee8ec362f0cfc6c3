package main

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketIndexKeepsValuesWithinItsPrecision(t *testing.T) {
	tests := []struct {
		name string
		v    uint64
	}{
		{"zero has its own bucket", 0},
		{"small values are exact", 200},
		{"the first inexact value", 1 << (subBits + 1)},
		{"a microsecond in nanoseconds", 1_000},
		{"a millisecond in nanoseconds", 1_234_567},
		{"an hour in nanoseconds", uint64(time.Hour)},
		{"the largest value", math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := bucketIndex(tt.v)
			require.Less(t, i, numBuckets, "bucket of %d", tt.v)
			high := bucketHigh(i)
			assert.GreaterOrEqual(t, high, tt.v, "bucket %d ends below %d", i, tt.v)
			if i > 0 {
				assert.Less(t, bucketHigh(i-1), tt.v, "previous bucket already holds %d", tt.v)
			}
			assert.LessOrEqual(t, float64(high-tt.v), float64(tt.v)/(1<<subBits), "bucket of %d is wider than the precision", tt.v)
		})
	}
}

func TestBucketsAreContiguousAndOrdered(t *testing.T) {
	for i := 1; i < numBuckets; i++ {
		require.Equal(t, bucketHigh(i-1)+1, lowOf(i), "gap or overlap before bucket %d", i)
		require.Equal(t, i, bucketIndex(lowOf(i)), "low end of bucket %d", i)
		require.Equal(t, i, bucketIndex(bucketHigh(i)), "high end of bucket %d", i)
	}
}

// lowOf is the smallest value of bucket i, from the previous bucket's end.
func lowOf(i int) uint64 {
	if i == 0 {
		return 0
	}
	return bucketHigh(i-1) + 1
}

func TestQuantilesOfAUniformSpread(t *testing.T) {
	h := newHistogram()
	for v := 1; v <= 100_000; v++ {
		h.record(time.Duration(v) * time.Microsecond)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p50 is the middle value", 0.50, 50_000 * time.Microsecond},
		{"p99 is the 99,000th value", 0.99, 99_000 * time.Microsecond},
		{"p99.9 is the 99,900th value", 0.999, 99_900 * time.Microsecond},
		{"p100 is the maximum", 1, 100_000 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.quantile(tt.q)
			assert.GreaterOrEqual(t, got, tt.want, "a percentile must not be reported faster than measured")
			assert.InEpsilon(t, float64(tt.want), float64(got), 1.0/(1<<subBits))
		})
	}
	assert.Equal(t, 50_000_500*time.Nanosecond, h.mean())
}

func TestQuantileIsNeverAboveTheMaximum(t *testing.T) {
	h := newHistogram()
	// 1,000,001 ns sits low in a bucket that reaches 1,003,519 ns.
	h.record(1_000_001)
	assert.Equal(t, time.Duration(1_000_001), h.quantile(0.999))
}

func TestQuantileOfATailSeesTheOutliers(t *testing.T) {
	h := newHistogram()
	for range 990 {
		h.record(100 * time.Microsecond)
	}
	for range 10 {
		h.record(50 * time.Millisecond)
	}
	assert.InEpsilon(t, float64(100*time.Microsecond), float64(h.quantile(0.99)), 0.01, "the 990th value is still fast")
	assert.Equal(t, 50*time.Millisecond, h.quantile(0.991), "the 991st value is an outlier")
}

func TestEmptyHistogramReportsZero(t *testing.T) {
	h := newHistogram()
	assert.Zero(t, h.quantile(0.99))
	assert.Zero(t, h.mean())
}

func TestNegativeDurationsCountAsZero(t *testing.T) {
	h := newHistogram()
	h.record(-time.Second)
	assert.Equal(t, uint64(1), h.counts[0])
	assert.Zero(t, h.quantile(1))
}

func TestMergeAddsCountsAndKeepsExtremes(t *testing.T) {
	a, b := newHistogram(), newHistogram()
	for range 50 {
		a.record(time.Millisecond)
		b.record(3 * time.Millisecond)
	}
	b.record(9 * time.Millisecond)
	empty := newHistogram()
	a.merge(b)
	a.merge(empty)
	assert.Equal(t, uint64(101), a.total)
	assert.Equal(t, uint64(time.Millisecond), a.min)
	assert.Equal(t, uint64(9*time.Millisecond), a.max)
	assert.InEpsilon(t, float64(time.Millisecond), float64(a.quantile(0.49)), 0.01)
	assert.InEpsilon(t, float64(3*time.Millisecond), float64(a.quantile(0.6)), 0.01)
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := newHistogram()
	b.ReportAllocs()
	d := time.Duration(1)
	for b.Loop() {
		h.record(d)
		d = (d*7 + 13) % (10 * time.Millisecond)
	}
}
