// Package testserver helps tests that run server processes (redis-server,
// memcached-http) choose a loopback port and see that the server they
// started is the one listening on it.
//
// A server that can listen on port 0 and say which port it got should be
// started that way: memcached-http logs its address ("listening"), memcached
// writes it to $MEMCACHED_PORT_FILENAME. redis-server cannot, so its port is
// chosen up front with PickPort, and StartRedis starts it again on another
// port when the one chosen was taken meanwhile.
package testserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The range PickPort draws from, and the room above it that Redis Cluster's
// bus port (the client port + 10000) needs below the ephemeral range.
const (
	pickLow, pickHigh = 16384, 22768
	busOffset         = 10000
)

// PickPort returns a loopback TCP port that nothing listens on now, for a
// server that must be given its port up front.
//
// A port the kernel hands out for port 0 comes from the ephemeral range
// (net.ipv4.ip_local_port_range), the same range every other bind to port 0
// and every outgoing connection on the machine draws from: once the probe
// closes, any of them may take it before the server binds it, and on a busy
// CI machine with test packages running side by side they do. So when the
// ephemeral range starts above pickHigh+busOffset (Linux's default starts at
// 32768) the port is drawn at random from [pickLow, pickHigh) instead, which
// only a process that names that port can take. Elsewhere it falls back to
// the kernel's choice.
func PickPort() (int, error) {
	if low, ok := ephemeralLow(); ok && low >= pickHigh+busOffset {
		for range 100 {
			port := pickLow + rand.IntN(pickHigh-pickLow)
			if free(port) {
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// free reports whether a listener can bind 127.0.0.1:port now.
func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// ephemeralLow is the first port of Linux's ephemeral range.
func ephemeralLow() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	low, err := strconv.Atoi(f[0])
	return low, err == nil
}

// ErrPortInUse is WaitRedis's answer when redis-server could not bind its
// port (or, on a cluster node, its bus port) and exited: the caller may
// start it again on another port.
var ErrPortInUse = errors.New("redis-server: port already in use")

// WaitRedis waits until the redis-server logging to logFile (its --logfile)
// is ready to accept connections, and returns ErrPortInUse as soon as it
// reports that a port it was to listen on is taken. Reading its own log,
// rather than pinging the port, tells this server apart from another one
// that took the port first.
func WaitRedis(logFile string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		b, _ := os.ReadFile(logFile)
		log := string(b)
		switch {
		case strings.Contains(log, "Ready to accept connections"):
			return nil
		case strings.Contains(log, "Address already in use"):
			return fmt.Errorf("%w:\n%s", ErrPortInUse, log)
		case time.Now().After(deadline):
			return fmt.Errorf("redis-server not ready after %v; its log:\n%s", limit, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
