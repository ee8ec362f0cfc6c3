package memcachedhttp

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Dockerfile is built only where a container engine runs
// (scripts/docker-check.sh); this holds it to its promises everywhere.
func TestDockerfileIsMultiStageStaticNonRoot(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	var from, copies []string
	var user, entrypoint string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			from = append(from, fields[1])
		case "COPY":
			if !strings.HasPrefix(fields[1], "--from=") {
				copies = append(copies, fields[1:len(fields)-1]...)
			}
		case "USER":
			user = fields[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		}
	}
	require.Len(t, from, 2, "a build stage and a run stage")
	assert.Regexp(t, `^golang:1\.\d+`, from[0])
	assert.Regexp(t, `^(gcr\.io/distroless/static[-a-z0-9]*(:nonroot)?|scratch)$`, from[1], "a minimal base for a static binary")
	assert.Contains(t, string(b), "CGO_ENABLED=0 go build", "the binary is static")
	assert.Regexp(t, `^[1-9][0-9]*(:[1-9][0-9]*)?$`, user, "a numeric non-root user, which Kubernetes' runAsNonRoot can verify")
	assert.Equal(t, `["/usr/local/bin/memcached-http"]`, entrypoint)
	for _, src := range copies {
		if src == "." {
			continue
		}
		_, err := os.Stat(src)
		assert.NoError(t, err, "COPY %s", src)
	}

	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	goLine := regexp.MustCompile(`(?m)^go (1\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, goLine)
	assert.Equal(t, "golang:"+string(goLine[1]), from[0], "the build image's Go release is go.mod's")

	ignore, err := os.ReadFile(".dockerignore")
	require.NoError(t, err)
	for _, p := range []string{".git", "**/node_modules", "dist"} {
		assert.Contains(t, strings.Fields(string(ignore)), p, ".dockerignore keeps %s out of the build context", p)
	}
}
