//go:build !linux

package main

import "time"

// preciseSleep falls back to time.Sleep where no finer sleep is wired up;
// open-model latencies then include the runtime's timer slack.
func preciseSleep(d time.Duration) { time.Sleep(d) }

// cpuTime is not measured here; reports then show 0 % client CPU.
func cpuTime() time.Duration { return 0 }
