// Package memtest measures the memcached-http binary as an operator would:
// it starts the real binary with a -memory-limit, drives a load over HTTP,
// and reads the process's resident memory (VmRSS, sampled, and VmHWM, the
// kernel's peak) from /proc/PID/status. The bound every load must keep is
// Bound(limit): 1.15 × the limit + 32 MiB.
package memtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MiB is a mebibyte.
const MiB = 1 << 20

// Bound is the most resident memory a server with the given -memory-limit
// may reach: 1.15 × the limit plus 32 MiB for the runtime, the binary and
// requests in flight.
func Bound(limit int64) int64 { return limit + limit*15/100 + 32*MiB }

// Server is a running memcached-http binary.
type Server struct {
	cmd    *exec.Cmd
	URL    string
	client *http.Client

	mu      sync.Mutex
	maxRSS  int64
	stopped chan struct{}
	sampled chan struct{}
}

// Start runs bin with -memory-limit limit and extra flags on a free
// loopback port, with env added to the environment (MEMCACHED_HTTP_* and
// GOMEMLIMIT are not inherited), and samples its VmRSS until Stop.
func Start(bin string, limit int64, env []string, flags ...string) (*Server, error) {
	args := append([]string{"-addr", "127.0.0.1:0", "-memory-limit", strconv.FormatInt(limit, 10)}, flags...)
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMCACHED_HTTP_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("memtest: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("memtest: start %s: %w", bin, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		if !sent {
			close(addr)
		}
	}()
	s := &Server{
		cmd:     cmd,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		stopped: make(chan struct{}),
		sampled: make(chan struct{}),
	}
	select {
	case a, ok := <-addr:
		if !ok {
			_ = cmd.Wait()
			return nil, fmt.Errorf("memtest: %s exited before listening: %v", bin, cmd.ProcessState)
		}
		s.URL = "http://" + a
	case <-time.After(30 * time.Second):
		s.kill()
		return nil, errors.New("memtest: the server did not log its address within 30s")
	}
	go s.sample()
	return s, nil
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// sample records the largest VmRSS seen every 20 ms.
func (s *Server) sample() {
	defer close(s.sampled)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, _, err := s.Status(); err == nil {
			s.mu.Lock()
			s.maxRSS = max(s.maxRSS, rss)
			s.mu.Unlock()
		}
		select {
		case <-s.stopped:
			return
		case <-t.C:
		}
	}
}

// Status reads the server's VmRSS and VmHWM in bytes.
func (s *Server) Status() (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, fmt.Errorf("memtest: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("memtest: %s: %w", name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// Peak is the server's resident memory so far: the kernel's high-water
// mark and the largest sampled VmRSS.
func (s *Server) Peak() (hwm, sampled int64, err error) {
	_, hwm, err = s.Status()
	s.mu.Lock()
	defer s.mu.Unlock()
	return hwm, s.maxRSS, err
}

// Stop ends the server.
func (s *Server) Stop() {
	close(s.stopped)
	<-s.sampled
	s.kill()
}

// Metric returns the value of an unlabelled sample from /metrics.
func (s *Server) Metric(ctx context.Context, name string) (float64, error) {
	body, err := s.do(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("memtest: /metrics has no %s", name)
}

// do sends one request and returns the body of a 2xx response.
func (s *Server) do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("memtest: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("memtest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("memtest: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("memtest: %s %s: %s: %.200s", method, path, resp.Status, out)
	}
	return out, nil
}

// parallel runs n workers until each returns, and returns the first error;
// an error stops the others through ctx.
func parallel(ctx context.Context, n int, work func(ctx context.Context, w int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			if err := work(ctx, w); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// counter hands out request numbers to workers until total.
type counter struct {
	next  atomic.Int64
	total int64
}

func (c *counter) take() (int64, bool) {
	n := c.next.Add(1) - 1
	return n, n < c.total
}
