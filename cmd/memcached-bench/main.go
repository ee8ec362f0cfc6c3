// Command memcached-bench is the HTTP load generator of memcached-http's
// benchmarks: closed- or open-model load over keep-alive HTTP/1.1 against
// memcached-http, Webdis, or its own fixed-body ceiling server (-serve-fixed).
// It only ever sends traffic to loopback addresses.
//
//	memcached-bench -url http://127.0.0.1:8080 -mix get -conns 64 -duration 10s
//	memcached-bench -url http://127.0.0.1:8080 -mix get -rate 20000 -json
//	memcached-bench -serve-fixed -addr 127.0.0.1:0 -value-size 100
//	memcached-bench -results runs.jsonl -summarize
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		stop()
		os.Exit(1)
	}
}

// run parses args and does what they ask: serve the ceiling, summarize
// results, or measure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("memcached-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       loadConfig
		kind      = fs.String("target", string(targetMemcached), "what -url is: memcached (memcached-http), webdis, or fixed (a -serve-fixed ceiling)")
		mixSpec   = fs.String("mix", "get", `operations and weights, e.g. "get:90,set:10"; ops: get, set, incr, batchget`)
		asJSON    = fs.Bool("json", false, "print the result as one JSON line")
		fixed     = fs.Bool("serve-fixed", false, "serve a fixed body of -value-size bytes on -addr instead of generating load")
		addr      = fs.String("addr", "127.0.0.1:0", "listen address for -serve-fixed")
		results   = fs.String("results", "", "JSON-lines file of earlier -json runs, for -summarize or -median")
		summarize = fs.Bool("summarize", false, "print -results as markdown tables of medians and ratios")
		medianOf  = fs.String("median", "", "print the median requests/s of the -results runs with this label")
		keySpace  uint
	)
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "server to load (loopback only)")
	fs.IntVar(&cfg.conns, "conns", 64, "keep-alive connections, each with one request in flight")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to measure, after the preload")
	fs.UintVar(&keySpace, "keys", 10000, "number of distinct keys")
	fs.IntVar(&cfg.valueSize, "value-size", 100, "value size in bytes")
	fs.StringVar(&cfg.dist, "dist", "uniform", "key distribution: uniform or zipf")
	fs.Float64Var(&cfg.zipfS, "zipf-s", 1.1, "zipf exponent (> 1); key i is drawn with weight 1/(i+1)^s")
	fs.IntVar(&cfg.batch, "batch", 100, "keys per batchget request")
	fs.Float64Var(&cfg.rate, "rate", 0, "open model: requests per second in total, latency measured from each request's scheduled time; 0 = closed model")
	fs.StringVar(&cfg.namespace, "ns", "bench", "memcached-http namespace")
	fs.BoolVar(&cfg.raw, "raw", false, "send and ask for application/octet-stream values instead of JSON (Webdis: the .txt form)")
	fs.BoolVar(&cfg.preload, "preload", true, "store every key once before measuring, so reads hit")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed of key and operation choice")
	fs.StringVar(&cfg.label, "label", "", "name of this run in -json output, grouped by -summarize")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "dial and per-request timeout")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("memcached-bench: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("memcached-bench: unexpected arguments %q", fs.Args())
	}

	switch {
	case *fixed:
		if cfg.valueSize < 0 {
			return fmt.Errorf("memcached-bench: -value-size %d must not be negative", cfg.valueSize)
		}
		return serveFixed(ctx, *addr, cfg.valueSize, stdout)
	case *summarize || *medianOf != "":
		return report(*results, *summarize, *medianOf, stdout)
	}

	cfg.kind = targetKind(*kind)
	cfg.keySpace = uint64(keySpace)
	m, err := parseMix(*mixSpec)
	if err != nil {
		return err
	}
	cfg.mix = m
	if err := validate(cfg); err != nil {
		return err
	}
	res, err := runLoad(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		line, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("memcached-bench: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", line)
		return err
	}
	return writeText(stdout, res)
}

// validate rejects settings that would make a run meaningless.
func validate(cfg loadConfig) error {
	switch {
	case cfg.conns < 1:
		return fmt.Errorf("memcached-bench: -conns %d must be at least 1", cfg.conns)
	case cfg.duration <= 0:
		return fmt.Errorf("memcached-bench: -duration %v must be positive", cfg.duration)
	case cfg.valueSize < 0:
		return fmt.Errorf("memcached-bench: -value-size %d must not be negative", cfg.valueSize)
	case cfg.batch < 1:
		return fmt.Errorf("memcached-bench: -batch %d must be at least 1", cfg.batch)
	case cfg.rate < 0:
		return fmt.Errorf("memcached-bench: -rate %v must not be negative", cfg.rate)
	case cfg.kind == targetFixed && (len(cfg.mix.ops) != 1 || cfg.mix.ops[0] != opGet):
		return fmt.Errorf("memcached-bench: -target fixed serves only -mix get")
	}
	// The chooser's own checks (key space, zipf exponent) run here so a bad
	// flag fails before any connection is opened.
	_, err := newKeyChooser(cfg.dist, cfg.keySpace, cfg.zipfS, cfg.seed)
	return err
}

// report prints -summarize tables or a -median figure from a results file.
func report(path string, summarize bool, label string, stdout io.Writer) error {
	if path == "" {
		return fmt.Errorf("memcached-bench: -summarize and -median need -results")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("memcached-bench: %w", err)
	}
	defer f.Close()
	results, err := readResults(f)
	if err != nil {
		return err
	}
	if label != "" {
		rps, err := medianRPS(results, label)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%.0f\n", rps)
		return err
	}
	return writeMarkdown(stdout, results)
}

// writeText prints a run for a person.
func writeText(w io.Writer, r *result) error {
	ms := func(us float64) string { return fmt.Sprintf("%.3fms", us/1e3) }
	model := fmt.Sprintf("closed model, %d conns", r.Conns)
	if r.Model == "open" {
		model = fmt.Sprintf("open model at %.0f req/s, %d conns", r.Rate, r.Conns)
	}
	_, err := fmt.Fprintf(w,
		"%s %s: %s, %.1fs\n"+
			"  %.0f requests/s, %.0f keys/s (%d requests, %d errors, %d misses, %d not sent in time)\n"+
			"  latency p50 %s  p99 %s  p99.9 %s  max %s  mean %s\n"+
			"  client CPU %.0f%% of one core (GOMAXPROCS %d)\n",
		r.Target, r.Mix, model, r.DurationS,
		r.RequestsPS, r.KeysPS, r.Requests, r.Errors, r.Misses, r.Dropped,
		ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.P999), ms(r.Latency.Max), ms(r.Latency.Mean),
		r.ClientCPU, runtime.GOMAXPROCS(0))
	if err == nil && r.FirstError != "" {
		_, err = fmt.Fprintf(w, "  first error: %s\n", r.FirstError)
	}
	if err != nil {
		return fmt.Errorf("memcached-bench: %w", err)
	}
	return nil
}
