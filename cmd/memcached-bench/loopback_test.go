package main

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeResolver answers from a table instead of DNS.
type fakeResolver map[string][]string

var errNoSuchHost = errors.New("no such host")

// LookupNetIP returns the table's addresses for host, or errNoSuchHost.
func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, errNoSuchHost
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

func TestLoopbackTargetsAreAccepted(t *testing.T) {
	r := fakeResolver{"localhost": {"127.0.0.1", "::1"}, "loop6": {"::1"}}
	tests := []struct {
		name, target, want string
	}{
		{"IPv4 loopback with a port", "http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"anywhere in 127/8", "http://127.10.20.30:9", "127.10.20.30:9"},
		{"IPv6 loopback", "http://[::1]:8080/", "[::1]:8080"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:80", "127.0.0.1:80"},
		{"a name that resolves only to loopback, dialled at its first address", "http://localhost:7379", "127.0.0.1:7379"},
		{"no port means 80", "http://loop6", "[::1]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loopbackAddr(context.Background(), r, tt.target)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNonLoopbackTargetsAreRefused(t *testing.T) {
	r := fakeResolver{
		"cache.internal": {"10.0.0.5"},
		"mixed":          {"127.0.0.1", "192.168.1.10"},
		"nothing":        {},
	}
	tests := []struct {
		name, target string
		want         error
	}{
		{"a private address", "http://10.1.2.3:8080", errNotLoopback},
		{"a public address", "http://8.8.8.8", errNotLoopback},
		{"the unspecified address, which is not an address of this host", "http://0.0.0.0:8080", errNotLoopback},
		{"IPv6 unspecified", "http://[::]:8080", errNotLoopback},
		{"a name that resolves elsewhere", "http://cache.internal:8080", errNotLoopback},
		{"a name with one address elsewhere", "http://mixed:8080", errNotLoopback},
		{"a name that resolves to nothing", "http://nothing", errNotLoopback},
		{"no host", "http://:8080", errNotLoopback},
		{"a name that does not resolve", "http://unknown:8080", errNoSuchHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loopbackAddr(context.Background(), r, tt.target)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestOnlyPlainHTTPTargetsAreAccepted(t *testing.T) {
	for _, target := range []string{"https://127.0.0.1:8443", "localhost:8080", "redis://127.0.0.1:6379"} {
		t.Run(target, func(t *testing.T) {
			_, err := loopbackAddr(context.Background(), fakeResolver{}, target)
			assert.ErrorContains(t, err, "only http://")
		})
	}
}
