package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
)

// errNotLoopback is returned for a target that is not on this machine's
// loopback interface: a load generator must never flood another host.
var errNotLoopback = errors.New("memcached-bench: target is not a loopback address")

// resolver is the part of *net.Resolver the guard needs, so tests can answer
// without DNS.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// loopbackAddr accepts a target URL only if its host is, or resolves only
// to, loopback addresses (127.0.0.0/8 or ::1), and returns the ip:port to dial,
// so the connection goes to the address that was checked. A name that
// resolves to any other address is refused, even if one of its addresses is
// loopback.
func loopbackAddr(ctx context.Context, r resolver, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("memcached-bench: target %q: %w", target, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("memcached-bench: target %q: only http:// is supported", target)
	}
	host := u.Hostname()
	if host == "" {
		return "", fmt.Errorf("memcached-bench: target %q has no host: %w", target, errNotLoopback)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return "", fmt.Errorf("memcached-bench: resolve %q: %w", host, err)
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("memcached-bench: %q resolves to nothing: %w", host, errNotLoopback)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return "", fmt.Errorf("memcached-bench: %q is %s: %w", host, a, errNotLoopback)
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(addrs[0].Unmap().String(), port), nil
}
