package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/leakcheck"
)

// startFixed runs `memcached-bench -serve-fixed` in-process and returns its URL.
func startFixed(t *testing.T, valueSize string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"-serve-fixed", "-addr", "127.0.0.1:0", "-value-size", valueSize}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-served, "the ceiling server shuts down cleanly")
	})
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "first line %q", line)
	return url
}

// verifyNoLeaks fails the test if goroutines other than the test's own
// are still running leakcheck.Window after it asks.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	if err := leakcheck.Wait(); err != nil {
		t.Error(err)
	}
}

// bench runs the generator with args plus -json and decodes its report.
func bench(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(args, "-json"), &out, &errOut)
	require.NoError(t, err, "stderr: %s", errOut.String())
	var res result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), "output %q", out.String())
	return res
}

func assertLatencyOrdered(t *testing.T, l latencyMicros) {
	t.Helper()
	assert.Positive(t, l.P50)
	assert.LessOrEqual(t, l.P50, l.P99)
	assert.LessOrEqual(t, l.P99, l.P999)
	assert.LessOrEqual(t, l.P999, l.Max)
}

func TestClosedModelAgainstTheCeiling(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) }) // once every server has stopped
	url := startFixed(t, "100")
	res := bench(t, "-url", url, "-target", "fixed", "-conns", "4", "-duration", "300ms", "-label", "ceiling-get")

	assert.Equal(t, "ceiling-get", res.Label)
	assert.Equal(t, "closed", res.Model)
	assert.Zero(t, res.Errors)
	assert.Greater(t, res.Requests, uint64(100), "four loopback connections manage far more than 100 requests in 300 ms")
	assert.Equal(t, res.Requests, res.Keys)
	// Never before -duration; after it, each connection finishes the request
	// it has in flight, which a busy machine can stretch by a good fraction of
	// a second, but far less than the 5 s request timeout.
	assert.GreaterOrEqual(t, res.DurationS, 0.3, "the run lasts -duration")
	assert.Less(t, res.DurationS, 3.0, "the run stops by itself after -duration")
	assert.InEpsilon(t, float64(res.Requests)/res.DurationS, res.RequestsPS, 1e-9)
	assertLatencyOrdered(t, res.Latency)
	assert.Positive(t, res.ClientCPU, "the generator reports its own CPU use")
}

// arrivalServer answers at once and records when each request arrived.
func arrivalServer(t *testing.T) (url string, arrivals func() []time.Time) {
	t.Helper()
	var mu sync.Mutex // guards times
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		mu.Lock()
		times = append(times, now)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(times)
		times = nil
		slices.SortFunc(out, time.Time.Compare)
		return out
	}
}

func TestOpenModelSendsAtTheRequestedRate(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) }) // once every server has stopped
	url, arrivals := arrivalServer(t)
	const rate = 2000
	args := []string{"-url", url, "-target", "fixed", "-conns", "4", "-duration", "500ms"}

	// What this machine manages right now, closed-model, just before and
	// after: a busy test machine cannot keep up 2,000/s, and pacing must not
	// be blamed for that. (The pacer's timing itself is checked exactly, on a
	// fake clock, in pacing_test.go.)
	before := bench(t, args...)
	arrivals()
	sched := schedule{start: time.Now(), rate: rate} // no later than the run's own start
	res := bench(t, append(args, "-rate", "2000")...)
	got := arrivals()
	after := bench(t, args...)

	assert.Equal(t, "open", res.Model)
	assert.Zero(t, res.Errors)
	// 2,000/s for 0.5 s plans 1,000 requests; a busy test machine may leave
	// some unsent at the end, which the report counts.
	assert.Equal(t, uint64(1000), res.Requests+res.Dropped)
	assert.Len(t, got, int(res.Requests), "the server saw every request reported")
	// Never early: whichever requests arrived first, the k-th arrival was
	// sent for a ticket numbered k or later, so no sooner than due(k).
	for k, at := range got {
		if at.Before(sched.due(uint64(k))) {
			t.Errorf("request %d arrived %v after the start, before its due time %v: the pacer sent too soon",
				k, at.Sub(sched.start), sched.due(uint64(k)).Sub(sched.start))
			break
		}
	}
	// Not too slow either: 90 % of the plan, or, when the machine is too
	// busy for that, half of what four closed-model connections managed in
	// the same time.
	capacity := min(before.Requests, after.Requests)
	assert.GreaterOrEqual(t, res.Requests, min(900, capacity/2),
		"sent %d of 1,000 planned; closed model managed %d and %d in the same time", res.Requests, before.Requests, after.Requests)
	t.Logf("open model sent %d of 1,000 (dropped %d); closed model %d and %d", res.Requests, res.Dropped, before.Requests, after.Requests)
	assertLatencyOrdered(t, res.Latency)
}

// fakeCache is just enough of memcached-http's API to check what the
// generator sends and counts: PUT stores, GET reads, batchGet lists hits.
type fakeCache struct {
	mu    sync.Mutex // guards items
	items map[string][]byte
}

// ServeHTTP answers the few requests the generator sends.
func (f *fakeCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/v1/ns/bench/keys/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		f.items[key] = body
		_, _ = io.WriteString(w, `{"stored":true,"cas":"1"}`)
	case r.Method == http.MethodGet:
		v, ok := f.items[key]
		if !ok {
			http.Error(w, `{"error":{"code":"not_found"}}`, http.StatusNotFound)
			return
		}
		_, _ = w.Write(v)
	case r.URL.Path == "/v1/ns/bench/keys:batchGet":
		var req struct{ Keys []string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		items := map[string]json.RawMessage{}
		for _, k := range req.Keys {
			if v, ok := f.items[k]; ok {
				items[k] = v
			}
		}
		// Over 2 KiB this goes out chunked, which the client must follow.
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	default:
		http.Error(w, "unexpected", http.StatusTeapot)
	}
}

func TestPreloadMakesEveryGetAHit(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) }) // once every server has stopped
	fake := &fakeCache{items: map[string][]byte{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	res := bench(t, "-url", srv.URL, "-conns", "3", "-keys", "500", "-duration", "200ms", "-mix", "get")
	assert.Zero(t, res.Errors, "first error: %s", res.FirstError)
	assert.Zero(t, res.Misses, "every key was stored before the measurement")
	fake.mu.Lock()
	assert.Len(t, fake.items, 500)
	assert.JSONEq(t, `{"value":"`+string(valueBytes(100))+`"}`, string(fake.items["k499"]))
	fake.mu.Unlock()
}

func TestWithoutPreloadGetsMiss(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) }) // once every server has stopped
	srv := httptest.NewServer(&fakeCache{items: map[string][]byte{}})
	defer srv.Close()

	res := bench(t, "-url", srv.URL, "-conns", "2", "-duration", "100ms", "-preload=false")
	assert.Zero(t, res.Errors)
	assert.Positive(t, res.Misses)
	assert.Equal(t, res.Requests, res.Misses, "404s are answered requests, counted as misses")
}

func TestBatchGetCountsKeysPerRequest(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) }) // once every server has stopped
	srv := httptest.NewServer(&fakeCache{items: map[string][]byte{}})
	defer srv.Close()

	res := bench(t, "-url", srv.URL, "-conns", "2", "-keys", "300", "-duration", "200ms", "-mix", "batchget", "-batch", "50")
	assert.Zero(t, res.Errors, "first error: %s", res.FirstError)
	assert.Positive(t, res.Requests)
	assert.Equal(t, 50*res.Requests, res.Keys)
	assert.Equal(t, 50, res.Batch)
	assert.InEpsilon(t, 50*res.RequestsPS, res.KeysPS, 1e-9)
}

func TestServerErrorsAreCounted(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) }) // once every server has stopped
	srv := httptest.NewServer(&fakeCache{items: map[string][]byte{}})
	defer srv.Close()

	// The fake does not know incr, so every request fails with 418.
	res := bench(t, "-url", srv.URL, "-conns", "1", "-duration", "100ms", "-mix", "incr")
	assert.Positive(t, res.Errors)
	assert.Zero(t, res.Requests)
	assert.Contains(t, res.FirstError, "incr answered 418")
}

func TestRunRefusesBadSettingsBeforeConnecting(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a target off this machine", []string{"-url", "http://192.168.1.20:8080"}, "not a loopback address"},
		{"no connections", []string{"-conns", "0"}, "-conns 0"},
		{"no duration", []string{"-duration", "0s"}, "-duration 0s"},
		{"a negative rate", []string{"-rate", "-5"}, "-rate -5"},
		{"writes against the fixed ceiling", []string{"-target", "fixed", "-mix", "set"}, "only -mix get"},
		{"a zipf exponent the generator cannot draw", []string{"-dist", "zipf", "-zipf-s", "0.9"}, "zipf exponent"},
		{"a summary without results", []string{"-summarize"}, "need -results"},
		{"stray arguments", []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard, io.Discard)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// stallingServer answers at once, except that its 50th request takes 100 ms.
func stallingServer(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex // guards n
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		stall := n == 50
		mu.Unlock()
		if stall {
			time.Sleep(100 * time.Millisecond) // the stall under test, not a wait for the test's sake
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestOpenModelCountsTheRequestsAStallHeldBack(t *testing.T) {
	t.Cleanup(func() { verifyNoLeaks(t) })
	// One connection at 1,000/s: the 100 ms stall holds back about 100
	// scheduled requests, each late by up to 100 ms, so well over 1 % of
	// the 500 requests are slower than 50 ms.
	open := bench(t, "-url", stallingServer(t), "-target", "fixed", "-conns", "1", "-duration", "500ms", "-rate", "1000")
	assert.Zero(t, open.Errors)
	assert.Greater(t, open.Latency.P99, 50_000.0, "open model p99 in µs")
	assert.Greater(t, open.Latency.P50, 0.0)

	// The closed model waits out the stall and sends nothing meanwhile: one
	// slow request among hundreds leaves its p99 below the open model's.
	// This is the blind spot the open model exists to avoid. (Not an absolute
	// bound: on a busy machine the scheduler alone delays a few closed-model
	// requests by tens of milliseconds; the open model suffers those delays
	// too, and counts each one many times.)
	closed := bench(t, "-url", stallingServer(t), "-target", "fixed", "-conns", "1", "-duration", "500ms")
	assert.Greater(t, closed.Requests, uint64(200))
	assert.Less(t, closed.Latency.P99, open.Latency.P99, "closed model p99 in µs, against the open model's")
	assert.GreaterOrEqual(t, closed.Latency.Max, 100_000.0, "the stall itself is still the maximum")
	t.Logf("p99: open model %.0f µs, closed model %.0f µs", open.Latency.P99, closed.Latency.P99)
}
