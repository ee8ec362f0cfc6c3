package memcached_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/memcached"
)

// TestPrometheusMemcachedExporterReadsTheListener scrapes the listener with
// the Prometheus memcached_exporter (pinned in testdata/exporter), a client
// no one here wrote: it must find the server up and export every series it
// exports for memcached itself, but those of memcached's LRU crawler and
// slab allocator, which the listener does not have (README, "Not as in
// memcached"), with counts that follow the commands sent.
func TestPrometheusMemcachedExporterReadsTheListener(t *testing.T) {
	exporter := buildExporter(t)
	ours, _ := startServer(t, memcached.Config{})
	theirs := startMemcached(t)
	for _, addr := range []string{ours, theirs} {
		c := dial(t, addr)
		c.do("set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a b none\r\nincr a 5\r\n")
	}
	got, want := scrape(t, exporter, ours), scrape(t, exporter, theirs)
	assert.Equal(t, "1", got["memcached_up"], "the exporter reaches the listener")
	assert.Equal(t, "2", got["memcached_items_total"], "total_items counts the two sets")
	assert.Equal(t, want[`memcached_commands_total{command="get",status="hit"}`], got[`memcached_commands_total{command="get",status="hit"}`])
	assert.Equal(t, "1", got[`memcached_commands_total{command="get",status="miss"}`])
	assert.Equal(t, "1", got[`memcached_commands_total{command="incr",status="hit"}`])
	assert.Equal(t, "2", got["memcached_current_items"])
	absent := regexp.MustCompile(`^memcached_(lru_crawler_|direct_reclaims_total|slab_)`)
	for name := range want {
		base, _, _ := strings.Cut(name, "{")
		if absent.MatchString(base) {
			continue
		}
		if !slices.ContainsFunc(keys(got), func(n string) bool { return strings.HasPrefix(n, base) }) {
			t.Errorf("the exporter has %s for memcached but not for the listener", base)
		}
	}
}

// buildExporter builds the pinned memcached_exporter from testdata/exporter
// (the module proxy or the module cache provides it).
func buildExporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "memcached_exporter")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/prometheus/memcached_exporter/cmd/memcached_exporter")
	cmd.Dir = filepath.Join("testdata", "exporter")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the memcached_exporter: %s", out)
	return bin
}

// scrape runs the exporter against a memcached-protocol address and returns
// its memcached_ samples, series to value.
func scrape(t *testing.T, exporter, addr string) map[string]string {
	t.Helper()
	cmd := exec.Command(exporter, "--memcached.address="+addr, "--web.listen-address=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// It logs the address it bound: "msg=\"Listening on\" address=127.0.0.1:PORT".
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log(sc.Text())
			if _, a, ok := strings.Cut(sc.Text(), `msg="Listening on" address=`); ok {
				listening <- strings.Fields(a)[0]
			}
		}
	}()
	var web string
	select {
	case web = <-listening:
	case <-time.After(60 * time.Second):
		t.Fatal("the memcached_exporter did not start listening within 60 s")
	}
	resp, err := http.Get("http://" + web + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	samples := map[string]string{}
	for line := range strings.Lines(string(body)) {
		if !strings.HasPrefix(line, "memcached_") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			samples[line[:i]] = strings.TrimSpace(line[i+1:])
		}
	}
	return samples
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
