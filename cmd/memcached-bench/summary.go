package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Row labels that scripts/bench/run.sh gives its runs; the ratios below are
// defined over them.
const (
	labelOursGet      = "ours-get"
	labelOursGetRaw   = "ours-get-raw"
	labelOursSet      = "ours-set"
	labelOursBatchGet = "ours-batchget"
	labelCeilingGet   = "ceiling-get"
	labelWebdisGet    = "webdis-get"
	labelWebdisSet    = "webdis-set"
	labelOursGetHalf  = "ours-get-halfpeak"
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
	runs                     int
	rps, kps, p50, p99, p999 float64 // latencies in microseconds
	cpu                      float64 // client CPU, percent of one core
	errors, dropped          uint64
	target, mix, model       string
	conns, batch             int
	raw                      bool
	rate                     float64
}

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
		row := rowSummary{
			label: label, runs: len(runs),
			rps:    pick(func(r result) float64 { return r.RequestsPS }),
			kps:    pick(func(r result) float64 { return r.KeysPS }),
			p50:    pick(func(r result) float64 { return r.Latency.P50 }),
			p99:    pick(func(r result) float64 { return r.Latency.P99 }),
			p999:   pick(func(r result) float64 { return r.Latency.P999 }),
			cpu:    pick(func(r result) float64 { return r.ClientCPU }),
			rate:   pick(func(r result) float64 { return r.Rate }),
			target: string(runs[0].Target), mix: runs[0].Mix, model: runs[0].Model,
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
	name   string
	value  func(rows map[string]rowSummary) (float64, bool)
	format string // how to print value
	target string
	met    func(v float64) bool // nil: no target
}

// of divides one label's figure by another's, if both were run.
func of(num, den string, f func(rowSummary) float64) func(map[string]rowSummary) (float64, bool) {
	return func(rows map[string]rowSummary) (float64, bool) {
		n, ok1 := rows[num]
		d, ok2 := rows[den]
		if !ok1 || !ok2 || f(d) == 0 {
			return 0, false
		}
		return f(n) / f(d), true
	}
}

var ratios = []ratio{
	{
		name:   "GET hit ÷ ceiling (requests/s)",
		value:  of(labelOursGet, labelCeilingGet, func(r rowSummary) float64 { return r.rps }),
		format: "%.2f×", target: "≥ 0.80×", met: func(v float64) bool { return v >= 0.80 },
	},
	{
		name:   "raw GET hit (octet-stream) ÷ ceiling (requests/s)",
		value:  of(labelOursGetRaw, labelCeilingGet, func(r rowSummary) float64 { return r.rps }),
		format: "%.2f×", target: "—",
	},
	{
		name:   "GET hit ÷ Webdis GET (requests/s)",
		value:  of(labelOursGet, labelWebdisGet, func(r rowSummary) float64 { return r.rps }),
		format: "%.2f×", target: "≥ 1.0×", met: func(v float64) bool { return v >= 1.0 },
	},
	{
		name:   "PUT set ÷ Webdis SET (requests/s)",
		value:  of(labelOursSet, labelWebdisSet, func(r rowSummary) float64 { return r.rps }),
		format: "%.2f×", target: "—",
	},
	{
		name:   "batchGet keys/s ÷ single-GET keys/s",
		value:  of(labelOursBatchGet, labelOursGet, func(r rowSummary) float64 { return r.kps }),
		format: "%.1f×", target: "≥ 20×", met: func(v float64) bool { return v >= 20 },
	},
	{
		name: "GET p99 at half of peak (open model)",
		value: func(rows map[string]rowSummary) (float64, bool) {
			r, ok := rows[labelOursGetHalf]
			return r.p99 / 1e3, ok
		},
		format: "%.2f ms", target: "≤ 1.5 ms", met: func(v float64) bool { return v <= 1.5 },
	},
}

// writeMarkdown renders the rows and the ratio verdicts as two tables.
func writeMarkdown(w io.Writer, results []result) error {
	rows := summarize(results)
	byLabel := make(map[string]rowSummary, len(rows))
	var sb strings.Builder
	sb.WriteString("| row | target | load | runs | requests/s | keys/s | p50 ms | p99 ms | p99.9 ms | errors | client CPU |\n")
	sb.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		byLabel[r.label] = r
		load := fmt.Sprintf("%s, %d conns", r.mix, r.conns)
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
		fmt.Fprintf(&sb, "| %s | %s | %s | %d | %.0f | %.0f | %.3f | %.3f | %.3f | %s | %.0f %% |\n",
			r.label, r.target, load, r.runs, r.rps, r.kps, r.p50/1e3, r.p99/1e3, r.p999/1e3, errs, r.cpu)
	}
	sb.WriteString("\n| ratio | value | target | met |\n|---|---:|---|---|\n")
	for _, q := range ratios {
		v, ok := q.value(byLabel)
		value, met := "not run", "—"
		if ok {
			value = fmt.Sprintf(q.format, v)
			if q.met != nil {
				met = map[bool]string{true: "yes", false: "no"}[q.met(v)]
			}
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", q.name, value, q.target, met)
	}
	_, err := io.WriteString(w, sb.String())
	if err != nil {
		return fmt.Errorf("memcached-bench: write summary: %w", err)
	}
	return nil
}
