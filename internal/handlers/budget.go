package handlers

import (
	"context"
	"net/http"

	"golang.org/x/sync/semaphore"
)

// Decoded, a batch body takes about batchExpansion times its JSON (items,
// keys, entries and values of a 10k-item batchSet); a single-key body, read
// and decoded once each, about twice.
const (
	batchExpansion  = 5
	singleExpansion = 2
)

// bodyMemory bounds the memory the request bodies being served take at
// once, decoded forms included: a request waits for its share, from its
// declared length (or its limit, when undeclared), before its body is read.
// A share is at most the whole bound, so the largest body still runs, alone.
// Without a bound (Config.RequestMemory 0) it is nil and never waits.
type bodyMemory struct {
	sem  *semaphore.Weighted
	size int64
}

func newBodyMemory(size int64) *bodyMemory {
	if size <= 0 {
		return nil
	}
	return &bodyMemory{sem: semaphore.NewWeighted(size), size: size}
}

// acquire waits for r's share and returns its release; it reports false
// when ctx ended first (the client is gone).
func (b *bodyMemory) acquire(ctx context.Context, r *http.Request, limit int64, batch bool) (func(), bool) {
	if b == nil || r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return func() {}, true
	}
	n := r.ContentLength
	if n < 0 {
		n = limit
	}
	if batch {
		n *= batchExpansion
	} else {
		n *= singleExpansion
	}
	n = min(n, b.size)
	if b.sem.Acquire(ctx, n) != nil {
		return nil, false
	}
	return func() { b.sem.Release(n) }, true
}
