package memcached_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/memcached"
)

// TestMemcapable runs libmemcached's memcapable, memcached's own protocol
// conformance tool, against the listener: every ASCII test must pass.
func TestMemcapable(t *testing.T) {
	bin := requireTool(t, "memccapable", "libmemcached-tools")
	addr, _ := startServer(t, memcached.Config{})
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-a", "-h", host, "-p", port).CombinedOutput()
	t.Logf("memccapable -a:\n%s", out)
	require.NoError(t, err, "memccapable -a failed")
	report := string(out)
	assert.NotContains(t, report, "[FAIL]")
	assert.Contains(t, report, "All tests passed")
}
