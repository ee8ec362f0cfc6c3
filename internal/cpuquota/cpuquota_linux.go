package cpuquota

import (
	"os"
	"syscall"
	"time"
)

// Find returns the quota on this process's cgroups; ok is false when there
// is none.
func Find() (q Quota, ok bool, err error) { return find(os.DirFS("/")) }

// processCPU is the CPU time, user and system, this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// yield is sched_yield(2), which has the kernel account the CPU the calling
// thread has used, throttling it at once if the quota is spent; with nothing
// else runnable on its CPU it returns at once.
func yield() { _, _, _ = syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
