package memcachedhttp

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// Every SDK reports the version in VERSION; scripts/set-version.sh copies it.
func TestEverySDKCarriesVERSION(t *testing.T) {
	require.Regexp(t, `^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`, Version)

	copies := map[string]*regexp.Regexp{
		"sdk/version.go":                        regexp.MustCompile(`(?m)^const Version = "([^"]*)"$`),
		"sdk/ts/src/version.ts":                 regexp.MustCompile(`(?m)^export const VERSION = "([^"]*)";$`),
		"sdk/python/memcached_http/__init__.py": regexp.MustCompile(`(?m)^__version__ = "([^"]*)"$`),
	}
	for path, re := range copies {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		m := re.FindSubmatch(b)
		require.NotNil(t, m, "%s: no version constant", path)
		assert.Equal(t, Version, string(m[1]), "%s differs from VERSION: run scripts/set-version.sh", path)
	}

	for _, path := range []string{"sdk/ts/package.json", "sdk/ts/package-lock.json"} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var pkg struct {
			Version  string `json:"version"`
			Packages map[string]struct {
				Version string `json:"version"`
			} `json:"packages"`
		}
		require.NoError(t, json.Unmarshal(b, &pkg), path)
		assert.Equal(t, Version, pkg.Version, "%s differs from VERSION: run scripts/set-version.sh", path)
		if root, ok := pkg.Packages[""]; ok {
			assert.Equal(t, Version, root.Version, "%s differs from VERSION: run scripts/set-version.sh", path)
		}
	}

	b, err := os.ReadFile("api/openapi.yaml")
	require.NoError(t, err)
	var spec struct {
		Info struct {
			Version string `yaml:"version"`
		} `yaml:"info"`
	}
	require.NoError(t, yaml.Unmarshal(b, &spec))
	assert.Equal(t, Version, spec.Info.Version, "api/openapi.yaml info.version differs from VERSION: run scripts/set-version.sh")
}
