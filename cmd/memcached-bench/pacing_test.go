package main

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// steppedClock is a fake clock the test drives: the pacer's every sleep is a
// request the test answers by moving time on, so the test sees the pacer's
// sleeps and tickets in the order they happen, with no real waiting.
type steppedClock struct {
	t      time.Time // read by the pacer only while the test waits on it
	sleeps chan time.Duration
	woke   chan struct{}
}

func (c *steppedClock) now() time.Time { return c.t }

func (c *steppedClock) sleep(d time.Duration) {
	c.sleeps <- d
	<-c.woke
}

// ticketAt is one ticket and the fake time the pacer handed it out.
type ticketAt struct {
	i  uint64
	at time.Duration // since the schedule's start
}

// runPacer paces planned requests on a stepped clock; oversleep(n, d) says
// how much longer than d the n-th sleep (0-based) lasts, as on a busy
// machine. It returns the tickets in order and the number of sleeps.
func runPacer(t *testing.T, rate float64, planned uint64, oversleep func(n int, d time.Duration) time.Duration) ([]ticketAt, int) {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	clk := &steppedClock{t: start, sleeps: make(chan time.Duration), woke: make(chan struct{})}
	sched := schedule{start: start, rate: rate}
	tickets := make(chan uint64) // unbuffered: each send is seen at its time
	var stop atomic.Bool
	done := make(chan struct{})
	go pace(clk, sched, planned, &stop, done, tickets)

	var got []ticketAt
	sleeps := 0
	deadline := time.After(10 * time.Second) // a hung pacer fails, not hangs, the test
	for {
		select {
		case i, ok := <-tickets:
			if !ok {
				return got, sleeps
			}
			got = append(got, ticketAt{i, clk.t.Sub(start)})
		case d := <-clk.sleeps:
			require.Positive(t, d, "the pacer sleeps only for time still to wait")
			clk.t = clk.t.Add(d + oversleep(sleeps, d))
			sleeps++
			clk.woke <- struct{}{}
		case <-deadline:
			close(done)
			t.Fatalf("the pacer stalled after %d tickets", len(got))
		}
	}
}

func TestPacerHandsOutEachRequestAtItsDueTime(t *testing.T) {
	sched := schedule{start: time.Unix(0, 0), rate: 2000}
	got, sleeps := runPacer(t, 2000, 1000, func(int, time.Duration) time.Duration { return 0 })
	require.Len(t, got, 1000, "every planned request is handed out, then tickets closes")
	for k, tk := range got {
		require.Equal(t, uint64(k), tk.i, "tickets go out in order")
		require.Equal(t, sched.due(tk.i).Sub(sched.start), tk.at, "ticket %d goes out exactly when due: 2,000/s", k)
	}
	assert.Equal(t, 999, sleeps, "one sleep before every request but the first, due at the start")
}

func TestPacerCatchesUpAfterOversleepingWithoutShiftingTheSchedule(t *testing.T) {
	// At 1,000/s the 10th sleep overruns by 5.5 ms, as a busy machine may
	// make it: the five requests due meanwhile go out at once, late, and the
	// rest keep their original due times rather than shifting by the delay.
	sched := schedule{start: time.Unix(0, 0), rate: 1000}
	late := 5500 * time.Microsecond
	got, sleeps := runPacer(t, 1000, 100, func(n int, _ time.Duration) time.Duration {
		if n == 9 {
			return late
		}
		return 0
	})
	require.Len(t, got, 100)
	for k, tk := range got {
		due := sched.due(tk.i).Sub(sched.start)
		require.Equal(t, uint64(k), tk.i)
		switch {
		case k == 10:
			assert.Equal(t, due+late, tk.at, "the overslept request goes out when the pacer wakes")
		case k > 10 && k <= 15:
			assert.Equal(t, 10*time.Millisecond+late, tk.at, "request %d, due during the overrun, goes out at once", k)
		default:
			assert.Equal(t, due, tk.at, "request %d keeps its due time", k)
		}
		assert.GreaterOrEqual(t, tk.at, due, "no request goes out early")
	}
	assert.Equal(t, 99-5, sleeps, "no sleeps while catching up")
}

func TestPacerStopsWhenTheRunStops(t *testing.T) {
	start := time.Unix(0, 0)
	clk := &steppedClock{t: start, sleeps: make(chan time.Duration), woke: make(chan struct{})}
	tickets := make(chan uint64, 10)
	var stop atomic.Bool
	stop.Store(true)
	pace(clk, schedule{start: start, rate: 1000}, 10, &stop, make(chan struct{}), tickets)
	_, open := <-tickets
	assert.False(t, open, "a stopped run hands out nothing and closes tickets")

	// done ends a pacer blocked on a full channel nobody reads.
	stop.Store(false)
	full := make(chan uint64) // nobody receives
	done := make(chan struct{})
	close(done)
	pace(clk, schedule{start: start, rate: 1000}, 10, &stop, done, full)
	_, open = <-full
	assert.False(t, open)
}
