package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quotaCgroup makes a CPU cgroup with a quota of runtime µs per period µs
// and returns its cgroup.procs file, or skips (saying why) where this
// process may not: that needs root and a writable cgroup tree.
func quotaCgroup(t *testing.T, runtime, period int) string {
	t.Helper()
	name := fmt.Sprintf("memcached-http-test.%d", os.Getpid())
	var dir string
	v2 := false
	switch {
	case fileHasWord("/sys/fs/cgroup/cgroup.controllers", "cpu"):
		dir, v2 = filepath.Join("/sys/fs/cgroup", name), true
		if !fileHasWord("/sys/fs/cgroup/cgroup.subtree_control", "cpu") {
			_ = os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+cpu"), 0)
		}
	case isDir("/sys/fs/cgroup/cpu"):
		dir = filepath.Join("/sys/fs/cgroup/cpu", name)
	default:
		t.Skip("no CPU cgroup controller mounted at /sys/fs/cgroup")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a CPU cgroup (needs root and a writable cgroup tree): %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(dir) }) // after the binary's own cleanup has killed it
	var err error
	if !v2 {
		err = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(fmt.Sprint(period)), 0)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(fmt.Sprint(runtime)), 0)
		}
	} else {
		if _, statErr := os.Stat(filepath.Join(dir, "cpu.max")); statErr != nil {
			t.Skipf("the cpu controller is not enabled for new cgroups under /sys/fs/cgroup: %v", statErr)
		}
		err = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", runtime, period)), 0)
	}
	require.NoError(t, err, "setting the cgroup's quota")
	return filepath.Join(dir, "cgroup.procs")
}

func fileHasWord(file, word string) bool {
	b, err := os.ReadFile(file)
	return err == nil && strings.Contains(" "+strings.Join(strings.Fields(string(b)), " ")+" ", " "+word+" ")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// TestTheBinaryFindsItsCPUQuota runs the binary in a cgroup capped at 0.6 of
// a core, as make bench does, and checks it finds the cap and says so.
func TestTheBinaryFindsItsCPUQuota(t *testing.T) {
	procs := quotaCgroup(t, 3000, 5000)
	wrapper := filepath.Join(t.TempDir(), "capped")
	script := fmt.Sprintf("#!/bin/sh\necho $$ >%q && exec %q \"$@\"\n", procs, binary(t))
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o755))

	s := launch(t, wrapper, false)
	line := s.waitLog(t, "CPU quota")
	assert.Equal(t, "0.6 of a core (3ms of every 5ms)", line["quota"])
	assert.Equal(t, "500µs", line["accounted_every"])
}
