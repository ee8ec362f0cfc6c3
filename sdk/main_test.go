package sdk_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// serverBinary is memcached-http built from the checkout this module sits in
// (the SDK module has no dependency on the server's packages, so the
// examples talk to the real binary).
var serverBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sdk-examples")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBinary = filepath.Join(dir, "memcached-http")
	if _, err := os.Stat("../cmd/memcached-http"); err != nil {
		// Outside a checkout (a copy of the module alone) there is no server to build.
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "sdk tests: ../cmd/memcached-http not found; run them from a memcached-http checkout")
			return 1
		}
		fmt.Fprintln(os.Stderr, "sdk tests: SKIPPED: ../cmd/memcached-http not found (not in a memcached-http checkout)")
		return 0
	}
	build := exec.Command("go", "build", "-o", serverBinary, "./cmd/memcached-http")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "sdk tests: go build ./cmd/memcached-http: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
