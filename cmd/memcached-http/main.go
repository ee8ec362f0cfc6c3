// Command memcached-http serves App Engine memcache's Client API over HTTP/JSON
// from the embedded cache engine, or from a Redis/Valkey server or cluster
// that several nodes share (-store).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	memcachedhttp "github.com/memcached-http/memcached-http"
	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/redisstore"
	"github.com/memcached-http/memcached-http/internal/cpuquota"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/internal/memcached"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// config is the command line, each flag falling back to an environment variable.
type config struct {
	addr             string
	memoryLimit      int64
	maxValueSize     int
	maxBatchKeys     int
	maxBodyBytes     int64
	maxResponseBytes int64
	logLevel         slog.Level
	shutdownTimeout  time.Duration
	corsOrigins      []string
	store            string // "memory" or a Redis/Valkey URL, which may hold a password
	redisKeyPrefix   string
	redisFlushDelay  time.Duration

	authFile          string
	tokens            string // MEMCACHED_HTTP_TOKENS; never a flag, so never in ps
	insecure          bool
	metricsPublic     bool
	tlsCert, tlsKey   string
	readHeaderTimeout time.Duration
	maxConns          int
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	rateLimit         int
	rateWindow        time.Duration

	memcachedAddr      string // "" = no memcached listener
	memcachedNamespace string
	memcachedTLS       bool
	memcachedMaxConns  int

	snapshot         string // file the embedded store is saved to and loaded from; "" = none
	snapshotInterval time.Duration
	snapshotStrict   bool
	cpuQuotaTick     time.Duration

	version bool // print the version and exit, after checking the other flags
}

// stdout receives -version's line (a variable for tests).
var stdout io.Writer = os.Stdout

// version is the release this binary reports; `make release` stamps it with
// -ldflags "-X main.version=…", and other builds take VERSION's.
var version = memcachedhttp.Version

// levelFlag is -log-level: slog's levels, shown and accepted in lower case.
type levelFlag struct{ level *slog.Level }

func (f levelFlag) String() string {
	if f.level == nil {
		return ""
	}
	return strings.ToLower(f.level.String())
}

func (f levelFlag) Set(s string) error {
	if err := f.level.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("want debug, info, warn or error, got %q", s)
	}
	return nil
}

// parseConfig reads flags; a flag left unset takes its MEMCACHED_HTTP_* variable,
// then the default.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("memcached-http", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address (env MEMCACHED_HTTP_ADDR)")
	fs.Int64Var(&c.memoryLimit, "memory-limit", cache.DefaultMemoryLimit, "cache memory limit in bytes; the process stays within 1.15 × it + 32 MiB, the Go runtime's soft memory limit being derived from it unless GOMEMLIMIT is set; memory store only, ignored with Redis, whose maxmemory applies (env MEMCACHED_HTTP_MEMORY_LIMIT)")
	fs.IntVar(&c.maxValueSize, "max-value-size", cache.DefaultMaxValueSize, "largest value in bytes (env MEMCACHED_HTTP_MAX_VALUE_SIZE)")
	fs.IntVar(&c.maxBatchKeys, "max-batch-keys", handlers.DefaultMaxBatchKeys, "keys per batch request (env MEMCACHED_HTTP_MAX_BATCH_KEYS)")
	fs.Int64Var(&c.maxBodyBytes, "max-body-bytes", handlers.DefaultMaxBodyBytes, "bytes per request body (env MEMCACHED_HTTP_MAX_BODY_BYTES)")
	fs.Int64Var(&c.maxResponseBytes, "max-response-bytes", 0, "bytes of one batchGet response, over which it fails 413 batch_too_large; 0 means -max-body-bytes (env MEMCACHED_HTTP_MAX_RESPONSE_BYTES)")
	c.logLevel = slog.LevelInfo
	fs.Var(levelFlag{&c.logLevel}, "log-level", "log `level`: debug, info, warn or error (env MEMCACHED_HTTP_LOG_LEVEL)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may finish after SIGTERM (env MEMCACHED_HTTP_SHUTDOWN_TIMEOUT)")
	fs.Func("cors-origins", "comma-separated `origins` whose scripts may call the API, e.g. https://app.example.com,https://*.example.org or *; none by default (env MEMCACHED_HTTP_CORS_ORIGINS)", func(v string) error {
		origins, err := handlers.ParseCORSOrigins(v)
		c.corsOrigins = origins
		return err
	})
	fs.StringVar(&c.store, "store", "memory", "where items live: memory (this process only) or a redis://, rediss://, valkey:// or valkeys:// URL shared by every node, e.g. redis://:password@host:6379/0, or a cluster as redis://host1:6379?addr=host2:6379&addr=host3:6379 (env MEMCACHED_HTTP_STORE)")
	fs.StringVar(&c.redisKeyPrefix, "redis-key-prefix", redisstore.DefaultKeyPrefix, "prefix of every Redis key the service writes; nodes sharing a cache must use the same one; ignored by the memory store (env MEMCACHED_HTTP_REDIS_KEY_PREFIX)")
	fs.DurationVar(&c.redisFlushDelay, "redis-flush-delay", redisstore.DefaultFlushDelay, "how long a Redis connection waits after a write for other requests' calls to send with the next, when several are in flight (never for a lone call); fewer system calls under load; 0 means no wait; ignored by the memory store (env MEMCACHED_HTTP_REDIS_FLUSH_DELAY)")
	fs.StringVar(&c.authFile, "auth-file", "", "file of bearer tokens, one `token role ns-pattern,...` per line; with no tokens (here or in env MEMCACHED_HTTP_TOKENS) authentication is off (env MEMCACHED_HTTP_AUTH_FILE)")
	fs.BoolVar(&c.insecure, "insecure", false, "allow listening on a non-loopback address without authentication (env MEMCACHED_HTTP_INSECURE)")
	fs.BoolVar(&c.metricsPublic, "metrics-public", false, "serve /metrics without a token even when tokens are configured (env MEMCACHED_HTTP_METRICS_PUBLIC)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate (chain) file; with -tls-key, serve HTTPS and HTTP/2 (env MEMCACHED_HTTP_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of -tls-cert (env MEMCACHED_HTTP_TLS_KEY)")
	fs.IntVar(&c.maxConns, "max-conns", handlers.DefaultMaxConns, "open HTTP connections at once; a connection past it is closed at once (env MEMCACHED_HTTP_MAX_CONNS)")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time to read a request's headers; cuts off slow-loris clients (env MEMCACHED_HTTP_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&c.readTimeout, "read-timeout", 60*time.Second, "time to read a whole request, body included (env MEMCACHED_HTTP_READ_TIMEOUT)")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 60*time.Second, "time from the end of the request headers to the end of the response (env MEMCACHED_HTTP_WRITE_TIMEOUT)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive connection stays open (env MEMCACHED_HTTP_IDLE_TIMEOUT)")
	fs.IntVar(&c.rateLimit, "rate-limit", 0, "requests per -rate-window per token, or per client IP without tokens; 0 means no limit (env MEMCACHED_HTTP_RATE_LIMIT)")
	fs.DurationVar(&c.rateWindow, "rate-window", time.Second, "window of -rate-limit (env MEMCACHED_HTTP_RATE_WINDOW)")
	fs.StringVar(&c.memcachedAddr, "memcached-addr", "", "also serve memcached's text and meta protocols on this address, e.g. 127.0.0.1:11211, over the same store; off by default (env MEMCACHED_HTTP_MEMCACHED_ADDR)")
	fs.StringVar(&c.memcachedNamespace, "memcached-namespace", "", "App Engine namespace of memcached keys; empty means App Engine's empty namespace (env MEMCACHED_HTTP_MEMCACHED_NAMESPACE)")
	fs.BoolVar(&c.memcachedTLS, "memcached-tls", false, "serve the memcached protocols over TLS with -tls-cert and -tls-key (env MEMCACHED_HTTP_MEMCACHED_TLS)")
	fs.IntVar(&c.memcachedMaxConns, "memcached-max-conns", memcached.DefaultMaxConns, "open memcached connections at once; more are refused (env MEMCACHED_HTTP_MEMCACHED_MAX_CONNS)")
	fs.StringVar(&c.snapshot, "snapshot", "", "file the embedded store's items and delete locks are saved to after the drain at SIGTERM/SIGINT and loaded from at start, so a restart keeps the cache; memory store only (env MEMCACHED_HTTP_SNAPSHOT)")
	fs.DurationVar(&c.snapshotInterval, "snapshot-interval", 0, "also save -snapshot this often while serving, e.g. 5m, so a crash loses only what changed since; 0 means only at shutdown (env MEMCACHED_HTTP_SNAPSHOT_INTERVAL)")
	fs.BoolVar(&c.snapshotStrict, "snapshot-strict", false, "exit 1 when -snapshot holds a damaged, truncated or foreign file, instead of moving it aside and starting empty (env MEMCACHED_HTTP_SNAPSHOT_STRICT)")
	fs.DurationVar(&c.cpuQuotaTick, "cpu-quota-tick", cpuquota.DefaultTick, "under a CPU quota (a container's CPU limit), how often the kernel is asked to count the CPU this busy process has used, so the quota's throttling comes as short pauses, not long ones; 0 turns it off (env MEMCACHED_HTTP_CPU_QUOTA_TICK)")
	fs.BoolVar(&c.version, "version", false, "print the version and exit (after checking the other flags and environment)")
	env := map[string]string{
		"addr":               "MEMCACHED_HTTP_ADDR",
		"memory-limit":       "MEMCACHED_HTTP_MEMORY_LIMIT",
		"max-value-size":     "MEMCACHED_HTTP_MAX_VALUE_SIZE",
		"max-batch-keys":     "MEMCACHED_HTTP_MAX_BATCH_KEYS",
		"max-body-bytes":     "MEMCACHED_HTTP_MAX_BODY_BYTES",
		"max-response-bytes": "MEMCACHED_HTTP_MAX_RESPONSE_BYTES",
		"log-level":          "MEMCACHED_HTTP_LOG_LEVEL",
		"shutdown-timeout":   "MEMCACHED_HTTP_SHUTDOWN_TIMEOUT",
		"cors-origins":       "MEMCACHED_HTTP_CORS_ORIGINS",
		"store":              "MEMCACHED_HTTP_STORE",
		"redis-key-prefix":   "MEMCACHED_HTTP_REDIS_KEY_PREFIX",
		"redis-flush-delay":  "MEMCACHED_HTTP_REDIS_FLUSH_DELAY",

		"auth-file":           "MEMCACHED_HTTP_AUTH_FILE",
		"insecure":            "MEMCACHED_HTTP_INSECURE",
		"metrics-public":      "MEMCACHED_HTTP_METRICS_PUBLIC",
		"tls-cert":            "MEMCACHED_HTTP_TLS_CERT",
		"tls-key":             "MEMCACHED_HTTP_TLS_KEY",
		"read-header-timeout": "MEMCACHED_HTTP_READ_HEADER_TIMEOUT",
		"read-timeout":        "MEMCACHED_HTTP_READ_TIMEOUT",
		"write-timeout":       "MEMCACHED_HTTP_WRITE_TIMEOUT",
		"idle-timeout":        "MEMCACHED_HTTP_IDLE_TIMEOUT",
		"rate-limit":          "MEMCACHED_HTTP_RATE_LIMIT",
		"rate-window":         "MEMCACHED_HTTP_RATE_WINDOW",

		"memcached-addr":      "MEMCACHED_HTTP_MEMCACHED_ADDR",
		"memcached-namespace": "MEMCACHED_HTTP_MEMCACHED_NAMESPACE",
		"memcached-tls":       "MEMCACHED_HTTP_MEMCACHED_TLS",
		"memcached-max-conns": "MEMCACHED_HTTP_MEMCACHED_MAX_CONNS",
		"max-conns":           "MEMCACHED_HTTP_MAX_CONNS",
		"snapshot":            "MEMCACHED_HTTP_SNAPSHOT",
		"snapshot-interval":   "MEMCACHED_HTTP_SNAPSHOT_INTERVAL",
		"snapshot-strict":     "MEMCACHED_HTTP_SNAPSHOT_STRICT",
		"cpu-quota-tick":      "MEMCACHED_HTTP_CPU_QUOTA_TICK",
	}
	c.tokens = getenv(tokensEnv)
	// Environment values are set as flag values first, so they are checked
	// exactly like flags, and flags given on the command line override them.
	for name, variable := range env {
		if v := getenv(variable); v != "" {
			if err := fs.Set(name, v); err != nil {
				return c, fmt.Errorf("memcached-http: %s=%q: %w", variable, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("memcached-http: %w", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("memcached-http: unexpected arguments %q", fs.Args())
	}
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return c, errors.New("memcached-http: -tls-cert and -tls-key go together")
	case c.maxResponseBytes < 0:
		return c, errors.New("memcached-http: -max-response-bytes must not be negative")
	case c.rateLimit < 0:
		return c, errors.New("memcached-http: -rate-limit must not be negative")
	case c.memcachedTLS && c.tlsCert == "":
		return c, errors.New("memcached-http: -memcached-tls needs -tls-cert and -tls-key")
	case c.memcachedTLS && c.memcachedAddr == "":
		return c, errors.New("memcached-http: -memcached-tls needs -memcached-addr")
	case c.maxConns < 1:
		return c, errors.New("memcached-http: -max-conns must be at least 1")
	case c.memcachedMaxConns < 1:
		return c, errors.New("memcached-http: -memcached-max-conns must be at least 1")
	case c.cpuQuotaTick < 0 || c.cpuQuotaTick > 0 && c.cpuQuotaTick < cpuquota.MinTick:
		return c, fmt.Errorf("memcached-http: -cpu-quota-tick must be 0 (off) or at least %v", cpuquota.MinTick)
	case c.rateWindow < time.Second:
		// Retry-After counts whole seconds; a shorter window would tell clients 0.
		return c, errors.New("memcached-http: -rate-window must be at least 1s")
	}
	if c.store != "memory" {
		if _, err := parseStoreURL(c.store); err != nil {
			return c, err
		}
	}
	if err := checkSnapshotFlags(c); err != nil {
		return c, err
	}
	return c, nil
}

// run serves until ctx is done, then lets in-flight requests finish.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if c.version {
		fmt.Fprintf(stdout, "memcached-http %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))
	slog.SetDefault(logger)

	tokens, err := loadTokens(c)
	if err != nil {
		return err
	}
	if err := checkExposure(c.addr, tokens.Enabled(), c.insecure); err != nil {
		return err
	}
	if err := checkMemcachedExposure(c); err != nil {
		return err
	}

	store, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	setSoftMemoryLimit(c, getenv, logger)

	snaps, err := newSnapshots(c, store, logger)
	if err != nil {
		return err
	}
	mc, err := startMemcached(c, snaps.gated(store), logger)
	if err != nil {
		return err
	}
	var collectors []prometheus.Collector
	if mc != nil {
		defer mc.srv.Close()
		collectors = append(collectors, mc.srv.Stats())
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("memcached-http: %w", err)
	}
	hcfg := handlers.Config{
		Collectors:       collectors,
		MaxBatchKeys:     c.maxBatchKeys,
		MaxBodyBytes:     c.maxBodyBytes,
		MaxResponseBytes: c.maxResponseBytes,
		RequestMemory:    requestMemory(c),
		MaxValueSize:     c.maxValueSize,
		Logger:           logger,
		CORSOrigins:      c.corsOrigins,
		Tokens:           tokens,
		MetricsPublic:    c.metricsPublic,
		RateLimit:        c.rateLimit,
		RateWindow:       c.rateWindow,
	}
	handler := snaps.handler(handlers.NewRouter(store, hcfg), func() http.Handler { return handlers.NewRouter(loadingStore{}, hcfg) })
	srv, err := newServer(c, handler, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	apiURL := baseURL(ln.Addr(), srv.TLSConfig != nil)
	logger.Info("listening", "addr", ln.Addr().String(), "url", apiURL+"/v1", "docs", apiURL+"/docs",
		"version", version, "tls", srv.TLSConfig != nil, "tokens", tokens.Len())
	defer startCPUAccounting(c.cpuQuotaTick, logger)()

	served := make(chan error, 1)
	front := handlers.NewFront(srv)
	go func() {
		// The listener caps connections, does the TLS handshakes and
		// watches HTTP/1 framing (see handlers.Listener); the front
		// serves plain connections' simple requests (handlers.Front).
		served <- front.Serve(handlers.NewListener(ln, c.maxConns, srv.TLSConfig, c.readHeaderTimeout))
	}()
	loading := snaps.begin(ctx)
	for serving := true; serving; {
		select {
		case err := <-served:
			return fmt.Errorf("memcached-http: serve: %w", err)
		case err := <-mc.served():
			return fmt.Errorf("memcached-http: memcached listener: %w", err)
		case <-loading:
			loading = nil
			if snaps.failed != nil {
				_ = front.Close()
				return snaps.failed
			}
		case <-ctx.Done():
			serving = false
		}
	}
	// memcached clients retry elsewhere on a closed connection: the
	// listener stops at once, HTTP requests get the drain.
	if mc != nil {
		_ = mc.srv.Close()
	}

	logger.Info("shutting down", "timeout", c.shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	drainErr := front.Shutdown(shutdownCtx)
	// The snapshot follows the drain, so it holds every write that was
	// acknowledged; it is written even when the drain ran out of time.
	if err := snaps.finish(); err != nil {
		return err
	}
	if drainErr != nil {
		return fmt.Errorf("memcached-http: shutdown: %w", drainErr)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("memcached-http: serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// baseURL is the URL clients reach the listener at; a wildcard address
// (":8080", "0.0.0.0:8080") is shown as localhost, which a browser can open.
func baseURL(addr net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// parseStoreURL checks a -store URL. Its errors never quote the URL, which
// may hold a password (url.Parse's own errors quote it whole).
func parseStoreURL(store string) (*url.URL, error) {
	u, err := url.Parse(store)
	if uerr, ok := errors.AsType[*url.Error](err); ok {
		err = uerr.Err
	}
	if err != nil {
		return nil, fmt.Errorf("memcached-http: -store: not a URL: %w", err)
	}
	switch u.Scheme {
	case "redis", "rediss", "valkey", "valkeys":
	default:
		return nil, fmt.Errorf("memcached-http: -store: want memory or a redis://, rediss://, valkey:// or valkeys:// URL, not scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("memcached-http: -store: the %s URL names no host", u.Scheme)
	}
	return u, nil
}

// openStore opens the store -store names. It logs the store's kind and, for
// Redis, the hosts it connects to: never the URL, whose credentials must not
// reach the logs.
func openStore(ctx context.Context, c config, logger *slog.Logger) (cache.Store, error) {
	if c.store == "memory" {
		store, err := cache.NewMemory(cache.Options{MemoryLimit: c.memoryLimit, MaxValueSize: c.maxValueSize, Shards: snapshotShards(c)})
		if err != nil {
			return nil, fmt.Errorf("memcached-http: embedded store (-memory-limit %d, -max-value-size %d): %w", c.memoryLimit, c.maxValueSize, err)
		}
		logger.Info("store", "kind", "memory", "memory_limit", c.memoryLimit)
		return store, nil
	}
	u, err := parseStoreURL(c.store)
	if err != nil {
		return nil, err
	}
	hosts := append([]string{u.Host}, u.Query()["addr"]...)
	store, err := redisstore.Open(ctx, c.store, redisstore.Options{KeyPrefix: c.redisKeyPrefix, MaxValueSize: c.maxValueSize, FlushDelay: flushDelay(c.redisFlushDelay)})
	if err != nil {
		return nil, fmt.Errorf("memcached-http: store %s at %s: %w", u.Scheme, strings.Join(hosts, ","), err)
	}
	logger.Info("store", "kind", u.Scheme, "hosts", hosts, "key_prefix", c.redisKeyPrefix)
	return store, nil
}

// flushDelay maps -redis-flush-delay to redisstore.Options.FlushDelay, where
// zero means the default and a negative value no wait.
func flushDelay(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
