package main

import (
	"errors"
	"syscall"
	"time"
)

// preciseSleep blocks the calling thread for d with the kernel's timer
// precision (tens of microseconds). time.Sleep is not enough for pacing: on
// Linux the Go runtime waits for timers in epoll with millisecond resolution,
// so a 100 µs sleep takes about 1 ms.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var left syscall.Timespec
		err := syscall.Nanosleep(&ts, &left)
		if !errors.Is(err, syscall.EINTR) {
			return
		}
		ts = left // a signal (e.g. the runtime's preemption) cut the sleep short
	}
}

// cpuTime is the CPU time (user + system) this process has used so far, to
// report how busy the load generator itself was.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
