package memcachedhttp

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// User-facing text says "App Engine memcache", never the internal shorthand
// "seed"; and the repository stands on its own, citing no brief outside it.
func TestUserFacingTextSaysAppEngine(t *testing.T) {
	out, err := exec.Command("git", "ls-files").Output()
	require.NoError(t, err)
	seed := regexp.MustCompile(`(?i)\bseed`)
	citation := regexp.MustCompile(`SEMANTICS\.md|\bAPI\.md`)
	userFacing := func(path string) bool {
		switch {
		case strings.HasSuffix(path, ".md"), path == "api/openapi.yaml":
			return true
		case strings.HasPrefix(path, "sdk/") && !strings.Contains(path, "/tests/") && !strings.Contains(path, "/test/") &&
			(strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".py")):
			return true // the SDKs' doc comments and docstrings
		}
		return false
	}
	checked := 0
	for _, path := range strings.Fields(string(out)) {
		if strings.HasPrefix(path, "node_modules/") || strings.Contains(path, "/testdata/") || path == "wording_test.go" {
			continue
		}
		b, err := os.ReadFile(filepath.FromSlash(path))
		if err != nil {
			continue // listed but deleted in the work tree
		}
		if loc := citation.FindIndex(b); loc != nil {
			t.Errorf("%s cites %s, a file outside the repository: cite docs/ instead", path, b[loc[0]:loc[1]])
		}
		if userFacing(path) {
			checked++
			if loc := seed.FindIndex(b); loc != nil {
				line := strings.Count(string(b[:loc[0]]), "\n") + 1
				t.Errorf("%s:%d says %q: say App Engine memcache", path, line, b[loc[0]:loc[1]])
			}
		}
	}
	assert.Greater(t, checked, 20)

	help, _ := exec.Command("go", "run", "./cmd/memcached-http", "-h").CombinedOutput()
	require.Contains(t, string(help), "-addr")
	assert.NotRegexp(t, seed, string(help), "memcached-http -h")
}
