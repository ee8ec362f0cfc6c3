package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Row labels that scripts/bench/run.sh gives its runs; the ratios below are
// defined over them. The closed-model rows are measured with wrk, the others
// with this generator.
const (
	labelOursGet       = "ours-get"
	labelOursGetRaw    = "ours-get-raw"
	labelOursSet       = "ours-set"
	labelOursIncr      = "ours-incr"
	labelOursBatchGet  = "ours-batchget"
	labelCeilingGet    = "ceiling-get"
	labelWebdisGet     = "webdis-get"
	labelWebdisSet     = "webdis-set"
	labelWebdisIncr    = "webdis-incr"
	labelOursRedisGet  = "ours-redis-get"
	labelOursRedisSet  = "ours-redis-set"
	labelOursGetHalf   = "ours-get-halfpeak"
	labelWebdisGetHalf = "webdis-get-halfpeak"
	labelOursSetHalf   = "ours-set-halfpeak"
	labelWebdisSetHalf = "webdis-set-halfpeak"
	clientBoundPercent = 70 // a generator busier than this measures itself
)

// errNoRuns is returned when a label asked for has no run in the results.
var errNoRuns = errors.New("memcached-bench: no runs with that label")

// readResults parses JSON lines written by -json, keeping file order.
func readResults(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var res result
		if err := json.Unmarshal([]byte(text), &res); err != nil {
			return nil, fmt.Errorf("memcached-bench: results line %d: %w", line, err)
		}
		out = append(out, res)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("memcached-bench: results: %w", err)
	}
	return out, nil
}

// median of xs (the lower middle one for an even count, so it is always a
// measured value); xs must not be empty.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// rowSummary is the median of each figure over the runs of one label.
type rowSummary struct {
	label                    string
	generator                string
	runs                     []result // in file order, so the i-th runs of two rows are one round
	rps, kps, p50, p99, p999 float64  // latencies in microseconds
	cpu                      float64  // client CPU, percent of one core
	serverCPU                float64  // server CPU per request, µs; 0 = not measured
	capPauses, capPauseMS    float64  // the CPU cap's stops per second and their mean length; 0 = not capped
	errors, dropped          uint64
	target, mix, model, dist string
	conns, batch             int
	raw                      bool
	rate                     float64
}

// clientBound reports whether the row's generator used more than
// clientBoundPercent of its core: such a row measures the client as much as
// the server, so no ratio uses it.
func (r rowSummary) clientBound() bool { return r.cpu > clientBoundPercent }

// summarize groups runs by label, in order of first appearance.
func summarize(results []result) []rowSummary {
	var order []string
	byLabel := map[string][]result{}
	for _, r := range results {
		if _, ok := byLabel[r.Label]; !ok {
			order = append(order, r.Label)
		}
		byLabel[r.Label] = append(byLabel[r.Label], r)
	}
	rows := make([]rowSummary, 0, len(order))
	for _, label := range order {
		runs := byLabel[label]
		pick := func(f func(result) float64) float64 {
			xs := make([]float64, len(runs))
			for i, r := range runs {
				xs[i] = f(r)
			}
			return median(xs)
		}
		gen := runs[0].Generator
		if gen == "" {
			gen = "memcached-bench"
		}
		row := rowSummary{
			label: label, generator: gen, runs: runs,
			rps:        pick(func(r result) float64 { return r.RequestsPS }),
			kps:        pick(func(r result) float64 { return r.KeysPS }),
			p50:        pick(func(r result) float64 { return r.Latency.P50 }),
			p99:        pick(func(r result) float64 { return r.Latency.P99 }),
			p999:       pick(func(r result) float64 { return r.Latency.P999 }),
			cpu:        pick(func(r result) float64 { return r.ClientCPU }),
			serverCPU:  pick(func(r result) float64 { return r.ServerCPU }),
			capPauses:  pick(func(r result) float64 { return r.CapPauses }),
			capPauseMS: pick(func(r result) float64 { return r.CapPauseMS }),
			rate:       pick(func(r result) float64 { return r.Rate }),
			target:     string(runs[0].Target), mix: runs[0].Mix, model: runs[0].Model, dist: runs[0].Dist,
			conns: runs[0].Conns, batch: runs[0].Batch, raw: runs[0].Raw,
		}
		for _, r := range runs {
			row.errors += r.Errors
			row.dropped += r.Dropped
		}
		rows = append(rows, row)
	}
	return rows
}

// medianRPS is the median requests/s of one label's runs, which run.sh
// halves to set the open model's rate.
func medianRPS(results []result, label string) (float64, error) {
	for _, row := range summarize(results) {
		if row.label == label {
			return row.rps, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", errNoRuns, label)
}

// ratio is one line of the verdict table: ours over a reference, against the
// target the issue set.
type ratio struct {
	name     string
	num, den string               // labels; den "" means value reads num alone
	figure   func(result) float64 // the figure compared, per run
	format   string               // how to print the value
	target   string
	met      func(v float64) bool // nil: no target
}

func rps(r result) float64 { return r.RequestsPS }

// perServerCPU is requests answered per second of server CPU (NaN when the
// run did not measure it): when the server core is the bottleneck the
// requests/s ratio of two servers is this figure's ratio, but this one does
// not move when other work on the machine takes the core for a while.
func perServerCPU(r result) float64 {
	if r.ServerCPU <= 0 {
		return math.NaN()
	}
	return 1e6 / r.ServerCPU
}
func kps(r result) float64   { return r.KeysPS }
func p99ms(r result) float64 { return r.Latency.P99 / 1e3 }

// value computes the ratio from the rows. Rows run in interleaved rounds, so
// the i-th run of one row and the i-th of the other shared the machine's
// state: with as many runs on both sides the value is the median of the
// per-round ratios (lo and hi their range), otherwise the ratio of medians.
// A client-bound row yields no value; why is returned instead.
func (q ratio) value(rows map[string]rowSummary) (v, lo, hi float64, why string) {
	n, ok := rows[q.num]
	if !ok {
		return 0, 0, 0, "not run"
	}
	if n.clientBound() {
		return 0, 0, 0, fmt.Sprintf("not used: %s is client-bound", q.num)
	}
	if q.den == "" {
		xs := make([]float64, len(n.runs))
		for i, r := range n.runs {
			xs[i] = q.figure(r)
		}
		v = median(xs)
		return v, slices.Min(xs), slices.Max(xs), ""
	}
	d, ok := rows[q.den]
	if !ok {
		return 0, 0, 0, "not run"
	}
	if d.clientBound() {
		return 0, 0, 0, fmt.Sprintf("not used: %s is client-bound", q.den)
	}
	if len(n.runs) == len(d.runs) {
		xs := make([]float64, 0, len(n.runs))
		unmeasured := false
		for i := range n.runs {
			num, den := q.figure(n.runs[i]), q.figure(d.runs[i])
			if math.IsNaN(num) || math.IsNaN(den) {
				unmeasured = true
			} else if den != 0 {
				xs = append(xs, num/den)
			}
		}
		if len(xs) > 0 {
			v = median(xs)
			return v, slices.Min(xs), slices.Max(xs), ""
		}
		if unmeasured {
			return 0, 0, 0, "not measured"
		}
		return 0, 0, 0, "not run"
	}
	num := make([]float64, len(n.runs))
	for i, r := range n.runs {
		num[i] = q.figure(r)
	}
	den := make([]float64, len(d.runs))
	for i, r := range d.runs {
		den[i] = q.figure(r)
	}
	if math.IsNaN(median(num)) || math.IsNaN(median(den)) {
		return 0, 0, 0, "not measured"
	}
	if median(den) == 0 {
		return 0, 0, 0, "not run"
	}
	v = median(num) / median(den)
	return v, v, v, ""
}

func atLeast(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
func atMost(x float64) func(float64) bool  { return func(v float64) bool { return v <= x } }

var ratios = []ratio{
	{name: "GET hit ÷ ceiling (requests/s)", num: labelOursGet, den: labelCeilingGet, figure: rps,
		format: "%.2f×", target: "≥ 0.85×", met: atLeast(0.85)},
	{name: "raw GET hit (octet-stream) ÷ ceiling (requests/s)", num: labelOursGetRaw, den: labelCeilingGet, figure: rps,
		format: "%.2f×", target: "—"},
	{name: "GET hit ÷ Webdis GET (requests/s)", num: labelOursGet, den: labelWebdisGet, figure: rps,
		format: "%.2f×", target: "≥ 1.2×", met: atLeast(1.2)},
	{name: "PUT set ÷ Webdis SET (requests/s)", num: labelOursSet, den: labelWebdisSet, figure: rps,
		format: "%.2f×", target: "≥ 1.0×", met: atLeast(1.0)},
	{name: "incr ÷ Webdis INCR (requests/s)", num: labelOursIncr, den: labelWebdisIncr, figure: rps,
		format: "%.2f×", target: "≥ 1.0×", met: atLeast(1.0)},
	{name: "GET p99 ÷ Webdis GET p99", num: labelOursGet, den: labelWebdisGet, figure: p99ms,
		format: "%.2f×", target: "≤ 1.0×", met: atMost(1.0)},
	{name: "PUT set p99 ÷ Webdis SET p99", num: labelOursSet, den: labelWebdisSet, figure: p99ms,
		format: "%.2f×", target: "≤ 1.0×", met: atMost(1.0)},
	{name: "over Redis: GET hit ÷ Webdis GET (requests/s)", num: labelOursRedisGet, den: labelWebdisGet, figure: rps,
		format: "%.2f×", target: "≥ 1.0×", met: atLeast(1.0)},
	{name: "over Redis: PUT set ÷ Webdis SET (requests/s)", num: labelOursRedisSet, den: labelWebdisSet, figure: rps,
		format: "%.2f×", target: "≥ 1.0×", met: atLeast(1.0)},
	{name: "batchGet keys/s ÷ single-GET keys/s", num: labelOursBatchGet, den: labelOursGet, figure: kps,
		format: "%.1f×", target: "≥ 20×", met: atLeast(20)},
	// The same comparisons by server CPU per request: not verdicts, but the
	// figure the verdicts above follow when the server core is saturated,
	// and one that other work on the machine moves less.
	{name: "GET hit ÷ ceiling (requests per server CPU-second)", num: labelOursGet, den: labelCeilingGet, figure: perServerCPU,
		format: "%.2f×", target: "—"},
	{name: "GET hit ÷ Webdis GET (requests per server CPU-second)", num: labelOursGet, den: labelWebdisGet, figure: perServerCPU,
		format: "%.2f×", target: "—"},
	{name: "PUT set ÷ Webdis SET (requests per server CPU-second)", num: labelOursSet, den: labelWebdisSet, figure: perServerCPU,
		format: "%.2f×", target: "—"},
	{name: "incr ÷ Webdis INCR (requests per server CPU-second)", num: labelOursIncr, den: labelWebdisIncr, figure: perServerCPU,
		format: "%.2f×", target: "—"},
	{name: "over Redis: GET hit ÷ Webdis GET (requests per server CPU-second)", num: labelOursRedisGet, den: labelWebdisGet, figure: perServerCPU,
		format: "%.2f×", target: "—"},
	{name: "over Redis: PUT set ÷ Webdis SET (requests per server CPU-second)", num: labelOursRedisSet, den: labelWebdisSet, figure: perServerCPU,
		format: "%.2f×", target: "—"},
	{name: "GET p99 at half of peak (open model)", num: labelOursGetHalf, figure: p99ms,
		format: "%.2f ms", target: "≤ 1.5 ms", met: atMost(1.5)},
	// Tail latency at one offered load for both servers, uncapped: in the
	// closed rows each server runs flat out under the CPU cap, so their p99
	// is mostly how long the cap's throttling stalls each (BENCHMARKS.md,
	// "HTTP load: where the time goes"); here neither is saturated.
	{name: "GET p99 ÷ Webdis GET p99, one offered load (open model)", num: labelOursGetHalf, den: labelWebdisGetHalf, figure: p99ms,
		format: "%.2f×", target: "—"},
	{name: "PUT set p99 ÷ Webdis SET p99, one offered load (open model)", num: labelOursSetHalf, den: labelWebdisSetHalf, figure: p99ms,
		format: "%.2f×", target: "—"},
}

// writeMarkdown renders the rows and the ratio verdicts as two tables.
func writeMarkdown(w io.Writer, results []result) error {
	rows := summarize(results)
	byLabel := make(map[string]rowSummary, len(rows))
	var sb strings.Builder
	sb.WriteString("| row | generator | target | load | runs | requests/s | keys/s | p50 ms | p99 ms | p99.9 ms | errors | client CPU | server CPU µs/request | cap's pauses |\n")
	sb.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		byLabel[r.label] = r
		load := fmt.Sprintf("%s, %d conns", r.mix, r.conns)
		if r.dist != "" && r.dist != "uniform" {
			load += ", " + r.dist + " keys"
		}
		if r.raw {
			load += ", octet-stream"
		}
		if r.batch > 0 {
			load += fmt.Sprintf(", batch %d", r.batch)
		}
		if r.model == "open" {
			load += fmt.Sprintf(", open model at %.0f/s", r.rate)
		}
		errs := fmt.Sprint(r.errors)
		if r.dropped > 0 {
			errs += fmt.Sprintf(" (+%d not sent in time)", r.dropped)
		}
		cpu := fmt.Sprintf("%.0f %%", r.cpu)
		if r.clientBound() {
			cpu += " **client-bound**"
		}
		serverCPU := "—"
		if r.serverCPU > 0 {
			serverCPU = fmt.Sprintf("%.1f", r.serverCPU)
		}
		pauses := "—"
		if r.capPauses > 0 {
			pauses = fmt.Sprintf("%.0f/s of %.2f ms", r.capPauses, r.capPauseMS)
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %d | %.0f | %.0f | %.3f | %.3f | %.3f | %s | %s | %s | %s |\n",
			r.label, r.generator, r.target, load, len(r.runs), r.rps, r.kps, r.p50/1e3, r.p99/1e3, r.p999/1e3, errs, cpu, serverCPU, pauses)
	}
	sb.WriteString("\n| ratio | value | per round | target | met |\n|---|---:|---|---|---|\n")
	for _, q := range ratios {
		v, lo, hi, why := q.value(byLabel)
		value, spread, met := why, "", "—"
		if why == "" {
			value = fmt.Sprintf(q.format, v)
			if lo != hi {
				spread = fmt.Sprintf(q.format+" – "+q.format, lo, hi)
			}
			if q.met != nil {
				met = map[bool]string{true: "yes", false: "no"}[q.met(v)]
			}
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s |\n", q.name, value, spread, q.target, met)
	}
	_, err := io.WriteString(w, sb.String())
	if err != nil {
		return fmt.Errorf("memcached-bench: write summary: %w", err)
	}
	return nil
}
