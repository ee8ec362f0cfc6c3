package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestScheduleSpacesRequestsEvenly(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name string
		rate float64
		i    uint64
		want time.Duration
	}{
		{"the first request is due at the start", 20_000, 0, 0},
		{"20,000/s leaves 50 µs between requests", 20_000, 1, 50 * time.Microsecond},
		{"the 20,000th request at 20,000/s is due after one second", 20_000, 20_000, time.Second},
		{"a rate that does not divide a second rounds to the nanosecond", 3, 1, 333_333_333 * time.Nanosecond},
		{"request ten billion does not overflow", 1_000_000, 10_000_000_000, 10_000 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule{start: start, rate: tt.rate}
			assert.Equal(t, tt.want, s.due(tt.i).Sub(start))
		})
	}
}

func TestScheduleCountsRequestsDueWithinTheRun(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		d    time.Duration
		want uint64
	}{
		{"10 s at 20,000/s is 200,000 requests", 20_000, 10 * time.Second, 200_000},
		{"a request due exactly at the end is not in the run", 2, time.Second, 2},
		{"a fraction of an interval still holds the first request", 1, time.Millisecond, 1},
		{"3/s for one second: due at 0, 333 and 666 ms", 3, time.Second, 3},
		{"no time, no requests", 1000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule{start: time.Unix(0, 0), rate: tt.rate}
			n := s.count(tt.d)
			assert.Equal(t, tt.want, n)
			if n > 0 {
				assert.Less(t, s.due(n-1).Sub(s.start), tt.d, "the last counted request is due inside the run")
			}
			assert.GreaterOrEqual(t, s.due(n).Sub(s.start), tt.d, "the next one is due at or after the end")
		})
	}
}
