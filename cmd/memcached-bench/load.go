package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig is one measurement: which server, what load, for how long.
type loadConfig struct {
	url       string
	kind      targetKind
	conns     int
	duration  time.Duration
	keySpace  uint64
	valueSize int
	dist      string  // "uniform" or "zipf"
	zipfS     float64 // zipf exponent, > 1
	mix       mix
	batch     int     // keys per batchGet
	rate      float64 // requests/s for the open model; 0 = closed model
	namespace string
	raw       bool // octet-stream values instead of JSON
	preload   bool
	seed      uint64
	label     string
	timeout   time.Duration // per request, so a hung server cannot stall the run
}

// latencyMicros holds percentiles in microseconds for the JSON report.
type latencyMicros struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// result is what one run reports, also as one JSON line for scripts.
type result struct {
	Label string `json:"label,omitempty"`
	// Generator names the load generator: memcached-bench, or wrk for the
	// rows scripts/bench/wrk.lua writes in this format.
	Generator  string        `json:"generator,omitempty"`
	Target     targetKind    `json:"target"`
	URL        string        `json:"url"`
	Mix        string        `json:"mix"`
	Model      string        `json:"model"`
	Conns      int           `json:"conns"`
	Batch      int           `json:"batch,omitempty"`
	Raw        bool          `json:"raw,omitempty"`
	ValueSize  int           `json:"value_size"`
	KeySpace   uint64        `json:"key_space"`
	Dist       string        `json:"dist"`
	Rate       float64       `json:"rate,omitempty"`
	DurationS  float64       `json:"duration_s"`
	Requests   uint64        `json:"requests"`
	Keys       uint64        `json:"keys"`
	Errors     uint64        `json:"errors"`
	Misses     uint64        `json:"misses"`
	Dropped    uint64        `json:"dropped,omitempty"`
	RequestsPS float64       `json:"requests_per_s"`
	KeysPS     float64       `json:"keys_per_s"`
	Latency    latencyMicros `json:"latency_us"`
	FirstError string        `json:"first_error,omitempty"`
	// ClientCPU is the generator's own CPU use in percent of one core: near
	// 100 × its cores means the client, not the server, set the pace.
	ClientCPU float64 `json:"client_cpu_percent"`
	// ServerCPU is the CPU time the serving processes (the server, and for
	// Webdis or the Redis store the redis-server too) spent per request
	// answered, in microseconds; 0 when not measured. run.sh adds it to wrk's
	// rows from /proc/PID/stat. Unlike requests/s it does not fall when other
	// work takes the server core from the server.
	ServerCPU float64 `json:"server_cpu_us_per_request,omitempty"`
	// CapPauses and CapPauseMS are how often, per second, the CPU cap
	// stopped the servers during the run and how long each stop lasted on
	// average (the cgroup's cpu.stat); 0 when not capped. Under the cap a
	// closed row's p99 is mostly that pause (BENCHMARKS.md, "HTTP load:
	// where the time goes").
	CapPauses   float64 `json:"cap_pauses_per_s,omitempty"`
	CapPauseMS  float64 `json:"cap_pause_ms,omitempty"`
	hist        *histogram
	elapsedTime time.Duration
}

// workerStats is one connection's share of a run, merged at the end.
type workerStats struct {
	hist     *histogram
	requests uint64
	keys     uint64
	errors   uint64
	misses   uint64
	firstErr error
}

// worker owns one connection and the buffers its requests are built in.
type worker struct {
	cfg   *loadConfig
	addr  string
	c     *conn
	b     *builder
	keys  keyChooser
	rng   *rand.Rand
	buf   []byte
	stats workerStats
}

// runLoad preloads the key space, then drives cfg.conns keep-alive
// connections for cfg.duration and reports throughput and latency.
func runLoad(ctx context.Context, cfg loadConfig) (*result, error) {
	addr, err := loopbackAddr(ctx, net.DefaultResolver, cfg.url)
	if err != nil {
		return nil, err
	}
	workers := make([]*worker, cfg.conns)
	defer func() {
		for _, w := range workers {
			if w != nil && w.c != nil {
				w.c.Close()
			}
		}
	}()
	for i := range workers {
		b, err := newBuilder(cfg.kind, addr, cfg.namespace, cfg.valueSize, cfg.batch, cfg.raw)
		if err != nil {
			return nil, err
		}
		keys, err := newKeyChooser(cfg.dist, cfg.keySpace, cfg.zipfS, cfg.seed+uint64(i))
		if err != nil {
			return nil, err
		}
		c, err := dial(addr, cfg.timeout)
		if err != nil {
			return nil, err
		}
		workers[i] = &worker{
			cfg: &cfg, addr: addr, c: c, b: b, keys: keys,
			rng:   rand.New(rand.NewPCG(cfg.seed+uint64(i), 1)),
			buf:   make([]byte, 0, 4096),
			stats: workerStats{hist: newHistogram()},
		}
	}
	if cfg.preload && cfg.kind != targetFixed && (cfg.mix.has(opGet) || cfg.mix.has(opBatchGet)) {
		if err := preload(ctx, workers); err != nil {
			return nil, err
		}
	}

	if cfg.rate > 0 && runtime.GOMAXPROCS(0) < 2 {
		// The pacer's sleeping thread holds a P while in its syscall, so
		// the workers need another one even on a single pinned core.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	var stop atomic.Bool
	cpuBefore := cpuTime()
	start := time.Now()
	timer := time.AfterFunc(cfg.duration, func() { stop.Store(true) })
	defer timer.Stop()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-runCtx.Done()
		stop.Store(true)
	}()

	var (
		wg      sync.WaitGroup
		pacer   sync.WaitGroup
		sent    atomic.Uint64
		sched   = schedule{start: start, rate: cfg.rate}
		planned uint64
		tickets chan uint64
	)
	if cfg.rate > 0 {
		planned = sched.count(cfg.duration)
		// The pacer never waits for a worker: requests that fall due while
		// every connection is busy queue here and are measured from their
		// due time once sent.
		tickets = make(chan uint64, min(planned, 1<<20))
		pacer.Go(func() { pace(wallClock{}, sched, planned, &stop, runCtx.Done(), tickets) })
	}
	for _, w := range workers {
		wg.Go(func() {
			if cfg.rate > 0 {
				w.runOpen(&stop, tickets, sched, &sent)
			} else {
				w.runClosed(&stop)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuBefore
	cancel()
	pacer.Wait()

	res := &result{
		Label: cfg.label, Generator: "memcached-bench", Target: cfg.kind, URL: cfg.url, Mix: cfg.mix.String(),
		Model: "closed", Conns: cfg.conns, ValueSize: cfg.valueSize, KeySpace: cfg.keySpace,
		Dist: cfg.dist, Raw: cfg.raw, hist: newHistogram(), elapsedTime: elapsed,
		ClientCPU: 100 * cpu.Seconds() / elapsed.Seconds(),
	}
	if cfg.mix.has(opBatchGet) {
		res.Batch = cfg.batch
	}
	var firstErr error
	for _, w := range workers {
		res.hist.merge(w.stats.hist)
		res.Requests += w.stats.requests
		res.Keys += w.stats.keys
		res.Errors += w.stats.errors
		res.Misses += w.stats.misses
		if firstErr == nil {
			firstErr = w.stats.firstErr
		}
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if cfg.rate > 0 {
		res.Model = "open"
		res.Rate = cfg.rate
		res.Dropped = planned - min(sent.Load(), planned)
	}
	res.fill()
	return res, ctx.Err()
}

// fill derives rates and percentiles from the counters.
func (r *result) fill() {
	secs := r.elapsedTime.Seconds()
	r.DurationS = secs
	if secs > 0 {
		r.RequestsPS = float64(r.Requests) / secs
		r.KeysPS = float64(r.Keys) / secs
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	r.Latency = latencyMicros{
		Mean: us(r.hist.mean()),
		P50:  us(r.hist.quantile(0.50)),
		P99:  us(r.hist.quantile(0.99)),
		P999: us(r.hist.quantile(0.999)),
		Max:  us(time.Duration(r.hist.max)),
	}
	if r.hist.total == 0 {
		r.Latency.Max = 0
	}
}

// preload stores every key once, spread over the connections, so GETs hit.
func preload(ctx context.Context, workers []*worker) error {
	n := uint64(len(workers))
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() {
			keys := &strideKeys{cur: uint64(i), step: n}
			for keys.cur < w.cfg.keySpace && ctx.Err() == nil {
				w.buf = w.b.build(w.buf[:0], opSet, keys)
				status, _, err := w.c.do(w.buf)
				if err != nil {
					errs[i] = fmt.Errorf("memcached-bench: preload: %w", err)
					return
				}
				if status/100 != 2 {
					errs[i] = fmt.Errorf("memcached-bench: preload: set answered %d", status)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// strideKeys yields start, start+step, … so workers split the key space.
type strideKeys struct {
	cur, step uint64
}

func (s *strideKeys) next() uint64 {
	v := s.cur
	s.cur += s.step
	return v
}

// runClosed sends the next request as soon as the previous one is answered.
func (w *worker) runClosed(stop *atomic.Bool) {
	for !stop.Load() {
		begin := time.Now()
		ok, alive := w.send()
		if ok {
			w.stats.hist.record(time.Since(begin))
		}
		if !alive {
			return
		}
	}
}

// clock is the time the pacer reads and waits on; tests substitute a fake.
type clock interface {
	now() time.Time
	sleep(d time.Duration)
}

// wallClock is real time with preciseSleep's resolution.
type wallClock struct{}

func (wallClock) now() time.Time        { return time.Now() }
func (wallClock) sleep(d time.Duration) { preciseSleep(d) }

// pace hands out request numbers at their due times until all planned
// requests are out or the run stops, then closes tickets. done ends it even
// when tickets is full and no worker is left to take one.
func pace(clk clock, sched schedule, planned uint64, stop *atomic.Bool, done <-chan struct{}, tickets chan<- uint64) {
	defer close(tickets)
	for i := uint64(0); i < planned && !stop.Load(); i++ {
		// A loop, not one sleep: a wake-up a little early must not send early.
		for wait := sched.due(i).Sub(clk.now()); wait > 0; wait = sched.due(i).Sub(clk.now()) {
			clk.sleep(wait)
		}
		select {
		case tickets <- i:
		case <-done:
			return
		}
	}
}

// runOpen sends each ticket's request and records latency from the ticket's
// due time, so a slow reply also delays the measurement of every request
// that should have gone out meanwhile (no coordinated omission).
func (w *worker) runOpen(stop *atomic.Bool, tickets <-chan uint64, sched schedule, sent *atomic.Uint64) {
	for i := range tickets {
		if stop.Load() {
			return
		}
		sent.Add(1)
		ok, alive := w.send()
		if ok {
			w.stats.hist.record(time.Since(sched.due(i)))
		}
		if !alive {
			return
		}
	}
}

// send builds and performs one request of the mix and counts its outcome.
// ok means it was answered with success or a miss, so its latency counts
// (the histogram then holds exactly the requests reported); alive is false
// once the connection is lost and cannot be reopened.
func (w *worker) send() (ok, alive bool) {
	o := w.cfg.mix.pick(w.rng)
	w.buf = w.b.build(w.buf[:0], o, w.keys)
	if w.cfg.timeout > 0 {
		// One deadline per request: a hung server ends the run with errors
		// instead of blocking it past -duration.
		_ = w.c.nc.SetDeadline(time.Now().Add(w.cfg.timeout))
	}
	status, _, err := w.c.do(w.buf)
	if err != nil && !errors.Is(err, errClosed) {
		w.fail(err)
		return false, w.reconnect()
	}
	switch {
	case status == 404 && o == opGet:
		ok = true
		w.stats.misses++
		w.stats.requests++
	case status/100 == 2:
		ok = true
		w.stats.requests++
		if o == opBatchGet {
			w.stats.keys += uint64(w.cfg.batch)
		} else {
			w.stats.keys++
		}
	default:
		w.fail(fmt.Errorf("memcached-bench: %s answered %d", o, status))
	}
	if errors.Is(err, errClosed) {
		// The reply was complete; only the connection has to be replaced.
		return ok, w.reconnect()
	}
	return ok, true
}

// fail counts an error and keeps the first one for the report.
func (w *worker) fail(err error) {
	w.stats.errors++
	if w.stats.firstErr == nil {
		w.stats.firstErr = err
	}
}

// reconnect replaces a broken connection; false means the server is gone.
func (w *worker) reconnect() bool {
	w.c.Close()
	c, err := dial(w.addr, w.cfg.timeout)
	if err != nil {
		w.fail(err)
		w.c = nil
		return false
	}
	w.c = c
	return true
}
