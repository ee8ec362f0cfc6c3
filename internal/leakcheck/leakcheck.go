// Package leakcheck waits for a test binary's goroutines to end, the way
// goleak checks them, but with time for a busy machine.
package leakcheck

import (
	"time"

	"go.uber.org/goleak"
)

// Window is how long Wait gives goroutines to end. goleak.Find alone retries
// for about 0.4 s, which a busy machine can take to wind down a closed
// store's or a stopped server's goroutines; a leaked one still fails, later.
const Window = 10 * time.Second

// Wait returns nil once goleak.Find (with opts) finds no stray goroutine,
// or its last error when Window has passed.
func Wait(opts ...goleak.Option) error { return wait(Window, opts...) }

func wait(window time.Duration, opts ...goleak.Option) error {
	deadline := time.Now().Add(window)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
