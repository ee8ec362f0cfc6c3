package testserver

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestPickPortIsFreeAndOutsideTheEphemeralRange(t *testing.T) {
	for range 20 {
		port, err := PickPort()
		if err != nil {
			t.Fatal(err)
		}
		if low, ok := ephemeralLow(); ok && low >= pickHigh+busOffset && (port < pickLow || port >= pickHigh) {
			t.Errorf("port %d outside [%d, %d) though the ephemeral range starts at %d", port, pickLow, pickHigh, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		_ = l.Close()
	}
}

func TestWaitRedisReadsTheServersOwnLog(t *testing.T) {
	dir := t.TempDir()
	write := func(name, log string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ready := write("ready", "1:M 07 Dec 2026 00:40:07.567 * Ready to accept connections tcp\n")
	if err := WaitRedis(ready, time.Second); err != nil {
		t.Errorf("ready: %v", err)
	}
	taken := write("taken", "1:M # Warning: Could not create server TCP listening socket 127.0.0.1:17001: bind: Address already in use\n"+
		"1:M # Failed listening on port 17001 (tcp), aborting.\n")
	if err := WaitRedis(taken, time.Second); !errors.Is(err, ErrPortInUse) {
		t.Errorf("port taken: %v, want ErrPortInUse", err)
	}
	start := time.Now()
	err := WaitRedis(filepath.Join(dir, "never-written"), 100*time.Millisecond)
	if err == nil || errors.Is(err, ErrPortInUse) {
		t.Errorf("no log: %v, want a timeout", err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("no log: gave up after %v, before its limit", time.Since(start))
	}
}

// A real redis-server on a port someone holds reports it in its log.
func TestWaitRedisSeesARedisServerLoseItsPort(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not found")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	logFile := filepath.Join(t.TempDir(), "redis.log")
	cmd := exec.Command(bin, "--port", strconv.Itoa(l.Addr().(*net.TCPAddr).Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--logfile", logFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := WaitRedis(logFile, 60*time.Second); !errors.Is(err, ErrPortInUse) {
		t.Errorf("got %v, want ErrPortInUse", err)
	}
}
