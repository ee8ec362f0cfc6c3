package main

import "time"

// schedule is the open model's timetable: request i is due at start + i/rate,
// whatever happened to the requests before it. Measuring latency from that
// intended time, not from when a busy connection got round to sending, keeps a
// stalled server from hiding its stall (coordinated omission).
type schedule struct {
	start time.Time
	rate  float64 // requests per second, > 0
}

// due returns the intended send time of request i (0-based).
func (s schedule) due(i uint64) time.Time {
	// Float arithmetic: i*1e9 overflows int64 after 9.2e9 requests, and
	// rounding to the nanosecond keeps the spacing exact on average.
	return s.start.Add(time.Duration(float64(i) * 1e9 / s.rate))
}

// count is the number of requests due in [start, start+d).
func (s schedule) count(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	n := uint64(d.Seconds() * s.rate)
	// Round-off can make due(n) land just before the end: include it then.
	for s.due(n).Sub(s.start) < d {
		n++
	}
	for n > 0 && s.due(n-1).Sub(s.start) >= d {
		n--
	}
	return n
}
