package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/api"
	"github.com/memcached-http/memcached-http/internal/handlers/contracttest"
)

func TestParseConfig(t *testing.T) {
	defaults := config{
		addr: "127.0.0.1:8080", memoryLimit: 64 << 20, maxValueSize: 1 << 20,
		maxBatchKeys: 10_000, maxBodyBytes: 32 << 20, logLevel: slog.LevelInfo, shutdownTimeout: 30 * time.Second,
		store: "memory", redisKeyPrefix: "mchttp:", redisFlushDelay: 200 * time.Microsecond,
		readHeaderTimeout: 10 * time.Second, readTimeout: time.Minute, writeTimeout: time.Minute, idleTimeout: 2 * time.Minute,
		rateWindow: time.Second, memcachedMaxConns: 1024, maxConns: 4096, cpuQuotaTick: 500 * time.Microsecond,
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(c *config)
		wantErr string
	}{
		{name: "no flags and no environment give the defaults", want: func(*config) {}},
		{name: "the environment fills unset flags",
			env: map[string]string{
				"MEMCACHED_HTTP_ADDR": ":9000", "MEMCACHED_HTTP_MEMORY_LIMIT": "1000000", "MEMCACHED_HTTP_MAX_VALUE_SIZE": "2000",
				"MEMCACHED_HTTP_MAX_BATCH_KEYS": "5", "MEMCACHED_HTTP_MAX_BODY_BYTES": "4096", "MEMCACHED_HTTP_LOG_LEVEL": "debug",
				"MEMCACHED_HTTP_SHUTDOWN_TIMEOUT": "5s", "MEMCACHED_HTTP_AUTH_FILE": "/etc/tokens", "MEMCACHED_HTTP_TOKENS": "t read *",
				"MEMCACHED_HTTP_INSECURE": "true", "MEMCACHED_HTTP_METRICS_PUBLIC": "1", "MEMCACHED_HTTP_TLS_CERT": "c.pem",
				"MEMCACHED_HTTP_TLS_KEY": "k.pem", "MEMCACHED_HTTP_READ_HEADER_TIMEOUT": "1s", "MEMCACHED_HTTP_READ_TIMEOUT": "2s",
				"MEMCACHED_HTTP_WRITE_TIMEOUT": "3s", "MEMCACHED_HTTP_IDLE_TIMEOUT": "4s", "MEMCACHED_HTTP_RATE_LIMIT": "100",
				"MEMCACHED_HTTP_RATE_WINDOW": "1m", "MEMCACHED_HTTP_MAX_RESPONSE_BYTES": "8192",
			},
			want: func(c *config) {
				*c = config{addr: ":9000", memoryLimit: 1_000_000, maxValueSize: 2000, maxBatchKeys: 5,
					maxBodyBytes: 4096, maxResponseBytes: 8192, logLevel: slog.LevelDebug, shutdownTimeout: 5 * time.Second,
					store: "memory", redisKeyPrefix: "mchttp:", redisFlushDelay: 200 * time.Microsecond,
					authFile: "/etc/tokens", tokens: "t read *", insecure: true, metricsPublic: true, tlsCert: "c.pem", tlsKey: "k.pem",
					readHeaderTimeout: time.Second, readTimeout: 2 * time.Second, writeTimeout: 3 * time.Second, idleTimeout: 4 * time.Second,
					rateLimit: 100, rateWindow: time.Minute, memcachedMaxConns: 1024, maxConns: 4096, cpuQuotaTick: 500 * time.Microsecond}
			}},
		{name: "a flag overrides the environment",
			args: []string{"-addr", ":7000", "-log-level", "warn"},
			env:  map[string]string{"MEMCACHED_HTTP_ADDR": ":9000", "MEMCACHED_HTTP_LOG_LEVEL": "debug"},
			want: func(c *config) { c.addr, c.logLevel = ":7000", slog.LevelWarn }},
		{name: "a malformed environment value is an error", env: map[string]string{"MEMCACHED_HTTP_MAX_BATCH_KEYS": "many"},
			wantErr: "MEMCACHED_HTTP_MAX_BATCH_KEYS"},
		{name: "an unknown log level is an error", args: []string{"-log-level", "loud"}, wantErr: "log-level"},
		{name: "a certificate without a key is an error", args: []string{"-tls-cert", "c.pem"}, wantErr: "go together"},
		{name: "a negative rate limit is an error", args: []string{"-rate-limit", "-1"}, wantErr: "rate-limit"},
		{name: "the response limit flag overrides the environment", args: []string{"-max-response-bytes", "1000"},
			env: map[string]string{"MEMCACHED_HTTP_MAX_RESPONSE_BYTES": "2000"}, want: func(c *config) { c.maxResponseBytes = 1000 }},
		{name: "a negative response limit is an error", args: []string{"-max-response-bytes", "-1"}, wantErr: "-max-response-bytes"},
		{name: "a rate window under a second is an error", args: []string{"-rate-window", "500ms"}, wantErr: "-rate-window must be at least 1s"},
		{name: "the CPU quota tick comes from the environment, 0 turning it off",
			env:  map[string]string{"MEMCACHED_HTTP_CPU_QUOTA_TICK": "0"},
			want: func(c *config) { c.cpuQuotaTick = 0 }},
		{name: "a negative CPU quota tick is an error", args: []string{"-cpu-quota-tick", "-1ms"}, wantErr: "-cpu-quota-tick must be 0 (off) or at least 50µs"},
		{name: "a CPU quota tick under 50µs is an error", args: []string{"-cpu-quota-tick", "1ns"}, wantErr: "at least 50µs"},
		{name: "stray arguments are an error", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "CORS origins come from the environment as a comma-separated list",
			env:  map[string]string{"MEMCACHED_HTTP_CORS_ORIGINS": "https://app.example.com, http://localhost:3000"},
			want: func(c *config) { c.corsOrigins = []string{"https://app.example.com", "http://localhost:3000"} }},
		{name: "the CORS flag replaces the environment's list",
			args: []string{"-cors-origins", "*"},
			env:  map[string]string{"MEMCACHED_HTTP_CORS_ORIGINS": "https://app.example.com"},
			want: func(c *config) { c.corsOrigins = []string{"*"} }},
		{name: "a CORS origin with a path is an error", args: []string{"-cors-origins", "https://app.example.com/"},
			wantErr: "cors-origins"},
		{name: "the Redis store and its key prefix come from the environment",
			env:  map[string]string{"MEMCACHED_HTTP_STORE": "redis://:pw@cache.internal:6379/2", "MEMCACHED_HTTP_REDIS_KEY_PREFIX": "app1:"},
			want: func(c *config) { c.store, c.redisKeyPrefix = "redis://:pw@cache.internal:6379/2", "app1:" }},
		{name: "the Redis flush delay comes from the environment, 0 for none",
			env:  map[string]string{"MEMCACHED_HTTP_REDIS_FLUSH_DELAY": "0"},
			want: func(c *config) { c.redisFlushDelay = 0 }},
		{name: "the Redis flush delay flag", args: []string{"-redis-flush-delay", "1ms"},
			want: func(c *config) { c.redisFlushDelay = time.Millisecond }},
		{name: "a cluster URL with more seed nodes is a store",
			args: []string{"-store", "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000"},
			want: func(c *config) { c.store = "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000" }},
		{name: "TLS and Valkey schemes are stores", args: []string{"-store", "valkeys://cache.internal:6380"},
			want: func(c *config) { c.store = "valkeys://cache.internal:6380" }},
		{name: "the store flag overrides the environment",
			args: []string{"-store", "memory", "-redis-key-prefix", "b:"},
			env:  map[string]string{"MEMCACHED_HTTP_STORE": "redis://cache.internal:6379", "MEMCACHED_HTTP_REDIS_KEY_PREFIX": "a:"},
			want: func(c *config) { c.redisKeyPrefix = "b:" }},
		{name: "a store that is neither memory nor a Redis URL is an error", args: []string{"-store", "memcached://cache:11211"},
			wantErr: `not scheme "memcached"`},
		{name: "a bare host name is not a store", args: []string{"-store", "cache.internal"}, wantErr: "-store"},
		{name: "a Redis URL without a host is an error", env: map[string]string{"MEMCACHED_HTTP_STORE": "redis:///0"},
			wantErr: "names no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			want := defaults
			tt.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func TestStoreErrorsNeverQuoteThePassword(t *testing.T) {
	tests := []struct {
		name  string
		store string
	}{
		{name: "a malformed port", store: "redis://app:s3cret-pw@cache.internal:port/0"},
		{name: "a control character", store: "redis://app:s3cret-pw@cache.internal:6379/\x7f"},
		{name: "an unknown scheme", store: "memcache://app:s3cret-pw@cache.internal:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig([]string{"-store", tt.store}, func(string) string { return "" }, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "-store")
			assert.NotContains(t, err.Error(), "s3cret-pw")
		})
	}
}

// server is the built binary running on a free port.
type server struct {
	cmd    *exec.Cmd
	base   string
	logs   chan map[string]any // the JSON log lines, in order
	stderr *io.PipeWriter      // the process's stderr, closed once it has exited
}

// wait waits for the process to exit and for its last log line to be read.
func (s *server) wait() error {
	err := s.cmd.Wait()
	if s.stderr != nil {
		_ = s.stderr.Close()
	}
	return err
}

func startBinary(t *testing.T) *server {
	t.Helper()
	return launch(t, binary(t), true)
}

// waitLog returns the next log line with message msg.
func (s *server) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.logs:
			require.True(t, ok, "the server exited before logging %q", msg)
			if line["msg"] == msg {
				return line
			}
		case <-timeout:
			require.FailNow(t, "no log line", msg)
		}
	}
}

func (s *server) call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, got := contracttest.Do(t, http.DefaultClient, req)
	var v map[string]any
	require.NoError(t, json.Unmarshal(got, &v))
	return resp.StatusCode, v
}

func TestBinaryServesAndDrainsOnSIGTERM(t *testing.T) {
	s := startBinary(t)

	status, body := s.call(t, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["ok"])
	status, _ = s.call(t, http.MethodPut, "/v1/ns/default/keys/user:42", `{"value": {"name": "Ada"}}`)
	assert.Equal(t, http.StatusOK, status)
	status, body = s.call(t, http.MethodGet, "/v1/ns/default/keys/user:42", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"name": "Ada"}, body["value"])
	status, body = s.call(t, http.MethodPost, "/v1/ns/default/keys/visits:incr", `{"initial_value": 0}`)
	assert.Equal(t, http.StatusOK, status)
	assert.InDelta(t, 1, body["value"], 0)
	line := s.waitLog(t, "request")
	assert.Equal(t, "/healthz", line["path"], "one log line per request, in order")

	req, err := http.NewRequest(http.MethodGet, s.base+"/openapi.yaml", nil)
	require.NoError(t, err)
	_, spec := contracttest.Do(t, http.DefaultClient, req)
	assert.Equal(t, api.OpenAPI, spec, "the binary serves the contract it embeds")

	// A raw upload that is still arriving when SIGTERM lands must complete.
	// Expect: 100-continue tells us when the handler has started reading it.
	bodyR, bodyW := io.Pipe()
	req, err = http.NewRequest(http.MethodPut, s.base+"/v1/ns/default/keys/slow", bodyR)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Expect", "100-continue")
	reading := make(chan struct{})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { close(reading) }})
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 30 * time.Second}}
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp: resp, body: b, err: err}
	}()
	select {
	case <-reading:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the server never started reading the upload")
	}
	_, err = bodyW.Write([]byte("first half, "))
	require.NoError(t, err)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	s.waitLog(t, "shutting down")
	_, err = bodyW.Write([]byte("second half"))
	require.NoError(t, err)
	require.NoError(t, bodyW.Close())

	res := <-done
	require.NoError(t, res.err)
	contracttest.Check(t, req, res.resp.StatusCode, res.resp.Header, res.body)
	assert.Equal(t, http.StatusOK, res.resp.StatusCode, "the in-flight request finishes: %s", res.body)
	assert.Contains(t, string(res.body), `"stored":true`)
	line = s.waitLog(t, "request")
	for line["path"] != "/v1/ns/default/keys/slow" {
		line = s.waitLog(t, "request")
	}
	assert.InDelta(t, http.StatusOK, line["status"], 0)
	s.waitLog(t, "stopped")

	require.NoError(t, s.wait(), "the process exits 0 after draining")
	assert.Equal(t, 0, s.cmd.ProcessState.ExitCode())
}

func TestFlushDelayZeroMeansNoWait(t *testing.T) {
	assert.Equal(t, time.Duration(-1), flushDelay(0), "the store reads a negative delay as none, zero as its default")
	assert.Equal(t, time.Millisecond, flushDelay(time.Millisecond))
}
