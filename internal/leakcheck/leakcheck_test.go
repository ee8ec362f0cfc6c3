package leakcheck

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaitLetsAGoroutineEndAndReportsOneThatDoesNot(t *testing.T) {
	ending := make(chan struct{})
	go func() { <-ending }()
	go close(ending)
	require.NoError(t, Wait(), "a goroutine that ends in time is no leak")

	stuck := make(chan struct{})
	go func() { <-stuck }()
	err := wait(200 * time.Millisecond)
	close(stuck)
	assert.ErrorContains(t, err, "found unexpected goroutines", "a goroutine still running after the window is a leak")
}
