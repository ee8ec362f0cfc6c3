package cache_test

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

var namespaceRE = regexp.MustCompile(`^[0-9A-Za-z._-]{0,100}$`)

// FuzzNewKey checks that NewKey accepts exactly the keys docs/behaviour.md allows
// and refuses the rest with the matching sentinel, never panicking.
func FuzzNewKey(f *testing.F) {
	for _, s := range [][2]string{
		{"", "k"}, {"~", "k"}, {"default", "user:42"}, {"~~", "k"}, {"~a", "k"}, {"team-a.b_c", "a/b c?d#e%"}, {"ns", ""},
		{"bad ns", "k"}, {"ns", strings.Repeat("x", 251)}, {"ns", "\xff\xfe"}, {strings.Repeat("n", 101), "k"},
		{"ns", "日本語"}, {"ns/x", "k"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ns, name string) {
		k, err := cache.NewKey(ns, name)
		// The oracle: App Engine's grammar, with `~` (and "") the empty namespace.
		wantNS, nsErr := ns, error(nil)
		if ns == "" || ns == "~" {
			wantNS = "~"
		} else if !namespaceRE.MatchString(ns) {
			nsErr = cache.ErrInvalidArgument
		}
		switch {
		case nsErr != nil:
			require.ErrorIs(t, err, cache.ErrInvalidArgument, "namespace %q", ns)
		case len(name) > cache.MaxKeyBytes:
			require.ErrorIs(t, err, cache.ErrKeyTooLong, "key of %d bytes", len(name))
		case name == "" || !utf8.ValidString(name):
			require.ErrorIs(t, err, cache.ErrInvalidArgument, "key %q", name)
		default:
			require.NoError(t, err)
			assert.Equal(t, cache.Key{Namespace: wantNS, Name: name}, k)
			return
		}
		assert.Equal(t, cache.Key{}, k, "a refused key is the zero Key")
	})
}

// FuzzExpiresAt checks the expiration rules for any time and any clock: 0 is
// never, up to 30 days is relative and rounds up, larger is absolute, and
// negative or non-finite values are refused.
func FuzzExpiresAt(f *testing.F) {
	for _, s := range []struct {
		sec, nsec int64
		t         float64
	}{
		{1_700_000_000, 250_000_000, 0}, {1_700_000_000, 250_000_000, 1}, {1_700_000_000, 0, 0.5},
		{1_700_000_000, 999_999_999, cache.MaxRelativeSeconds}, {1_700_000_000, 1, cache.MaxRelativeSeconds + 1},
		{1_700_000_000, 0, -1}, {0, 0, math.NaN()}, {0, 0, math.Inf(1)}, {0, 0, 1e300}, {0, 0, 5e-324},
		{1_700_000_000, 0, 253402300799}, {1_700_000_000, 0, 253402300800},
	} {
		f.Add(s.sec, s.nsec, s.t)
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64, ttl float64) {
		// Clocks between 1970 and 2100, as a server would have.
		if sec < 0 || sec > 4_102_444_800 || nsec < 0 || nsec >= 1e9 {
			return
		}
		now := time.Unix(sec, nsec)
		got, err := cache.ExpiresAt(now, ttl)
		switch {
		case math.IsNaN(ttl) || math.IsInf(ttl, 0) || ttl < 0 || ttl > 253402300799:
			require.ErrorIs(t, err, cache.ErrInvalidArgument, "time %v", ttl)
			assert.Zero(t, got)
		case ttl == 0:
			require.NoError(t, err)
			assert.Zero(t, got, "0 never expires")
		case ttl <= cache.MaxRelativeSeconds:
			require.NoError(t, err)
			exact := float64(sec) + float64(nsec)/1e9 + ttl
			assert.GreaterOrEqual(t, float64(got), math.Floor(exact), "lives at least %v s from %v", ttl, now)
			assert.Less(t, float64(got), exact+1.000001, "rounds up by less than a second")
			assert.Greater(t, got, sec, "a relative time is in the future")
		default:
			require.NoError(t, err)
			assert.Equal(t, int64(math.Ceil(ttl)), got, "absolute time %v", ttl)
		}
	})
}
