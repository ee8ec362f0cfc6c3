package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodyMemoryMakesRequestsWaitForTheirShare(t *testing.T) {
	b := newBodyMemory(1 << 20)
	post := func(n int) *http.Request {
		return httptest.NewRequest(http.MethodPost, "/v1/ns/x/keys:batchSet", strings.NewReader(strings.Repeat("x", n)))
	}
	// waits reports whether a request would wait: its share is not free
	// within the given time. A request expected to go through gets a long
	// one: the semaphore fails a call whose deadline has passed even when
	// the share is free, and on a busy machine the test's goroutine can be
	// descheduled past a short deadline. One expected to wait needs only a
	// short one.
	const wait, noWait = 20 * time.Millisecond, 10 * time.Second
	waits := func(r *http.Request, limit int64, batch bool, within time.Duration) bool {
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		release, ok := b.acquire(ctx, r, limit, batch)
		if ok {
			release()
		}
		return !ok
	}
	ctx := t.Context()

	first, ok := b.acquire(ctx, post(150<<10), 32<<20, true) // 750 KiB decoded
	require.True(t, ok, "the first batch finds the memory free")
	assert.True(t, waits(post(150<<10), 32<<20, true, wait), "a second batch of the same size waits")
	small, ok := b.acquire(ctx, post(100<<10), 1<<20, false) // 200 KiB
	require.True(t, ok, "a single-key body that fits beside it does not")
	first()
	small()
	huge, ok := b.acquire(ctx, post(4<<20), 32<<20, true)
	require.True(t, ok, "a body larger than the bound runs alone")
	assert.True(t, waits(post(10), 32<<20, false, wait), "nothing runs beside it")
	huge()
	assert.False(t, waits(post(10), 32<<20, false, noWait), "released, the memory is free again")

	var none *bodyMemory
	release, ok := none.acquire(ctx, post(1<<30), 32<<20, true)
	require.True(t, ok, "without a bound nothing waits")
	release()
}
