//go:build race

package handlers_test

// raceEnabled is true under the race detector, whose sync.Pool drops a
// quarter of what it is given, so pooled buffers are allocated again.
const raceEnabled = true
