package memtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The full matrix (make memtest) runs with MEMTEST=full, at the limits
// MEMTEST_LIMITS lists in MiB (default 64,1024); otherwise a short version
// of three loads at 64 MiB runs inside make test. MEMTEST_BINARY
// measures another build (the BENCHMARKS.md "before" column); MEMTEST_OUT
// names a file the results are appended to as Markdown table rows. One
// limit's loads run alone with -run, as BENCHMARKS.md's 4 GiB rows were:
//
//	MEMTEST=full MEMTEST_LIMITS=4096 go test -count=1 -v -timeout 60m \
//	    -run 'TestRSSStaysWithinTheMemoryLimitBound/4096MiB/(10-byte|10k-key)' ./internal/memtest/

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// serverBinary builds cmd/memcached-http once, without the race detector,
// which would change what is measured; MEMTEST_BINARY names a build to use
// instead.
func serverBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("MEMTEST_BINARY"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "memtest")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "memcached-http")
		out, err := exec.Command("go", "build", "-o", binary, "../../cmd/memcached-http").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

type run struct {
	limit int64
	load  Load
}

func matrix(full bool) []run {
	if !full {
		return []run{
			{64 * MiB, LoadNamed("distinct 100 KB values, 16 writers")},
			{64 * MiB, LoadNamed("batchGets of 256 KiB values during writes")},
			{64 * MiB, LoadNamed("10-byte values via batchSet of 10k")},
		}
	}
	limits := []int64{64 * MiB, 1 << 30}
	if v := os.Getenv("MEMTEST_LIMITS"); v != "" {
		limits = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				panic("memtest: MEMTEST_LIMITS is a list of MiB: " + err.Error())
			}
			limits = append(limits, n*MiB)
		}
	}
	var runs []run
	for _, limit := range limits {
		for _, l := range Loads {
			runs = append(runs, run{limit, l})
		}
	}
	// The issue's own row: 700 values of 1 MiB under a 768 MiB limit.
	return append(runs, run{768 * MiB, LoadNamed("1 MiB values, 8 writers")})
}

func TestRSSStaysWithinTheMemoryLimitBound(t *testing.T) {
	full := os.Getenv("MEMTEST") == "full"
	bin := serverBinary(t)
	for _, r := range matrix(full) {
		t.Run(fmt.Sprintf("%dMiB/%s", r.limit/MiB, r.load.Name), func(t *testing.T) {
			s, err := Start(bin, r.limit, nil)
			require.NoError(t, err)
			defer s.Stop()
			require.NoError(t, r.load.Run(t.Context(), s, r.limit, !full))
			hwm, sampled, err := s.Peak()
			require.NoError(t, err)
			bound := Bound(r.limit)
			line := fmt.Sprintf("| %s | %d MiB | %.0f MiB | %.2f | %.0f MiB |", r.load.Name, r.limit/MiB,
				float64(hwm)/MiB, float64(hwm)/float64(r.limit), float64(bound)/MiB)
			t.Logf("peak RSS (VmHWM) %.1f MiB, largest sampled VmRSS %.1f MiB, bound %.1f MiB\n%s",
				float64(hwm)/MiB, float64(sampled)/MiB, float64(bound)/MiB, line)
			if out := os.Getenv("MEMTEST_OUT"); out != "" {
				f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				require.NoError(t, err)
				_, err = fmt.Fprintln(f, strings.TrimSpace(line))
				require.NoError(t, f.Close())
				require.NoError(t, err)
			}
			if hwm > bound {
				t.Errorf("peak RSS %.1f MiB is over the bound of 1.15 × %d MiB + 32 MiB = %.1f MiB",
					float64(hwm)/MiB, r.limit/MiB, float64(bound)/MiB)
			}
		})
	}
}

func TestTheSoftMemoryLimitFollowsTheFlagUnlessGOMEMLIMITIsSet(t *testing.T) {
	bin := serverBinary(t)
	const limit = 128 * MiB
	for _, c := range []struct {
		env  []string
		want float64
	}{
		{nil, limit + limit/10 + 10*MiB},
		{[]string{"GOMEMLIMIT=300MiB"}, 300 * MiB},
	} {
		s, err := Start(bin, limit, c.env)
		require.NoError(t, err)
		got, err := s.Metric(t.Context(), "go_gc_gomemlimit_bytes")
		s.Stop()
		require.NoError(t, err)
		require.Equal(t, c.want, got, "environment %q", c.env)
	}
}

func TestMetricsReportMemory(t *testing.T) {
	s, err := Start(serverBinary(t), 64*MiB, nil)
	require.NoError(t, err)
	defer s.Stop()
	require.NoError(t, putRaw(t.Context(), s, "k", 100_000, 1000, 4))
	for name, check := range map[string]func(float64) bool{
		"memcached_http_cache_memory_limit_bytes": func(v float64) bool { return v == 64*MiB },
		"memcached_http_cache_charged_bytes":      func(v float64) bool { return v > 56*MiB && v <= 64*MiB },
		"memcached_http_cache_evictions_total":    func(v float64) bool { return v > 300 },
		"process_resident_memory_bytes":           func(v float64) bool { return v > 64*MiB && v <= float64(Bound(64*MiB)) },
	} {
		v, err := s.Metric(t.Context(), name)
		require.NoError(t, err)
		require.True(t, check(v), "%s = %.0f", name, v)
	}
}
