// Package memcachedhttp holds what belongs to the whole project rather than
// to one of its packages: the release version.
package memcachedhttp

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var versionFile string

// Version is the release version in VERSION, the one place it is set; the
// SDKs carry copies that scripts/set-version.sh writes and a test compares.
var Version = strings.TrimSpace(versionFile)
