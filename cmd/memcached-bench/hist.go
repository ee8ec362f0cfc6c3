package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^subBits buckets, so a recorded value is off by at most 1/2^subBits (0.8 %).
const subBits = 7

// numBuckets covers every uint64: exact buckets below 2^(subBits+1), then
// 2^subBits buckets for each further power of two.
const numBuckets = (64 - subBits + 1) << subBits

// histogram counts latencies in log-linear buckets, like HdrHistogram: recording
// is a few bit operations and no allocation, so the load generator stays cheap,
// and merging per-worker histograms is an addition of arrays.
type histogram struct {
	counts [numBuckets]uint64
	total  uint64
	sum    uint64 // nanoseconds, for the mean
	min    uint64
	max    uint64
}

// newHistogram returns an empty histogram.
func newHistogram() *histogram {
	return &histogram{min: math.MaxUint64}
}

// bucketIndex maps v to its bucket: values below 2^(subBits+1) have their own
// bucket, larger ones keep their top subBits+1 significant bits.
func bucketIndex(v uint64) int {
	n := bits.Len64(v)
	if n <= subBits+1 {
		return int(v)
	}
	shift := n - (subBits + 1)
	top := v >> shift // in [2^subBits, 2^(subBits+1))
	return (shift+1)<<subBits + int(top) - 1<<subBits
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < 2<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	top := uint64(i&(1<<subBits-1)) + 1<<subBits
	return (top+1)<<shift - 1
}

// record adds one latency; negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketIndex(v)]++
	h.total++
	h.sum += v
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// merge adds every count of o into h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// quantile returns the latency below or at which a fraction q of the recorded
// values lie, rounded up to its bucket's upper bound (never above the maximum),
// so a reported percentile errs on the slow side.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// mean is the average recorded latency.
func (h *histogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}
