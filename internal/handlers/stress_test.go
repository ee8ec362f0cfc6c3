package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// stress is the shared state of TestStress: what the clients did, to be
// checked against what the server ends up holding.
type stress struct {
	base    string
	client  *http.Client
	incrs   atomic.Int64 // increments of "counter" the server acknowledged
	casWins atomic.Int64 // cas writes of "cas" the server accepted
	ops     atomic.Int64
	mu      sync.Mutex // guards wonWith and failures
	wonWith map[string]bool
	// failures are unexpected answers; the test reports the first few.
	failures []string
}

func (s *stress) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// call sends one request and returns its status and body; a transport error
// is a failure.
func (s *stress) call(method, path, body string) (int, []byte) {
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.fail("%s %s: %v", method, path, err)
		return 0, nil
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.fail("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		s.fail("%s %s: read: %v", method, path, err)
	}
	s.ops.Add(1)
	return resp.StatusCode, got
}

// expect records a failure unless status is one of want.
func (s *stress) expect(op string, status int, body []byte, want ...int) bool {
	for _, w := range want {
		if status == w {
			return true
		}
	}
	s.fail("%s: status %d, want %v: %s", op, status, want, body)
	return false
}

// casIncrement reads "cas" and writes its value plus one under the CAS id it
// read; a lost race is a 412, a win must be the only one for that id.
func (s *stress) casIncrement() {
	status, body := s.call(http.MethodGet, "/v1/ns/stress/keys/cas", "")
	if !s.expect("get cas", status, body, http.StatusOK) {
		return
	}
	var item struct {
		Value int64  `json:"value"`
		Cas   string `json:"cas"`
	}
	if err := json.Unmarshal(body, &item); err != nil {
		s.fail("get cas: %v", err)
		return
	}
	status, body = s.call(http.MethodPut, "/v1/ns/stress/keys/cas?mode=cas",
		fmt.Sprintf(`{"value": %d, "cas": %q}`, item.Value+1, item.Cas))
	if !s.expect("cas", status, body, http.StatusOK, http.StatusPreconditionFailed) || status != http.StatusOK {
		return
	}
	s.casWins.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wonWith[item.Cas] {
		s.failures = append(s.failures, "two cas writes won with id "+item.Cas)
	}
	s.wonWith[item.Cas] = true
}

// client runs mixed operations until ctx is done.
func (s *stress) run(ctx context.Context, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for ctx.Err() == nil {
		key := fmt.Sprintf("k%d", rng.IntN(5000))
		switch rng.IntN(10) {
		case 0, 1:
			status, body := s.call(http.MethodGet, "/v1/ns/stress/keys/"+key, "")
			s.expect("get", status, body, http.StatusOK, http.StatusNotFound)
		case 2, 3:
			// Values up to 4 KiB over 5000 keys overflow the 1 MiB limit within
			// a few hundred writes, so writes evict.
			value := strings.Repeat("v", rng.IntN(4096))
			status, body := s.call(http.MethodPut, "/v1/ns/stress/keys/"+key, fmt.Sprintf(`{"value": %q}`, value))
			s.expect("set", status, body, http.StatusOK)
		case 4:
			status, body := s.call(http.MethodDelete, "/v1/ns/stress/keys/"+key, "")
			s.expect("delete", status, body, http.StatusOK, http.StatusNotFound)
		case 5:
			status, body := s.call(http.MethodPost, "/v1/ns/stress/keys:batchGet", fmt.Sprintf(`{"keys": [%q, "k1", "k2"]}`, key))
			s.expect("batchGet", status, body, http.StatusOK)
		case 6:
			status, body := s.call(http.MethodPost, "/v1/ns/stress/keys:batchSet",
				fmt.Sprintf(`{"items": [{"key": %q, "value": 1}, {"key": "other%d", "value": [1, 2]}]}`, key, rng.IntN(5000)))
			s.expect("batchSet", status, body, http.StatusOK)
		case 7:
			status, body := s.call(http.MethodPost, "/v1/ns/stress/keys/counter:incr", `{"delta": 1}`)
			if s.expect("incr", status, body, http.StatusOK) {
				s.incrs.Add(1)
			}
		case 8:
			status, body := s.call(http.MethodPost, "/v1/ns/stress/keys:batchOffset", `{"offsets": {"counter": 1}}`)
			if s.expect("batchOffset", status, body, http.StatusOK) {
				s.incrs.Add(1)
			}
		case 9:
			s.casIncrement()
		}
	}
}

// TestStress drives 64 clients of mixed operations through the real router
// and engine over HTTP, under -race, and checks that no increment is lost, no
// CAS id wins twice, the cache stays within its memory limit and no
// goroutine is left behind.
func TestStress(t *testing.T) {
	const (
		clients = 64
		limit   = 1 << 20
	)
	duration := 10 * time.Second
	if testing.Short() {
		duration = 2 * time.Second
	}
	store, err := cache.NewMemory(cache.Options{MemoryLimit: limit, MaxValueSize: 8 << 10})
	require.NoError(t, err)
	srv := httptest.NewServer(handlers.NewRouter(store, handlers.Config{}))
	s := &stress{
		base:    srv.URL,
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second},
		wonWith: map[string]bool{},
	}
	status, body := s.call(http.MethodPut, "/v1/ns/stress/keys/cas", `{"value": 0}`)
	require.Equal(t, http.StatusOK, status, "body: %s", body)
	status, body = s.call(http.MethodPost, "/v1/ns/stress/keys/counter:incr", `{"delta": 0, "initial_value": 0}`)
	require.Equal(t, http.StatusOK, status, "body: %s", body)

	// The load runs for duration and then, on a machine too busy to have
	// overflowed the cache by then, until it has evicted (bounded), so the
	// eviction check below tests the engine rather than the machine's speed.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		defer cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(duration):
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for store.Counters().Evictions == 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { s.run(ctx, uint64(i)) })
	}
	// Check the memory bound while the clients run, not only at rest.
	var peak uint64
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			st, err := store.Stats(ctx)
			if err == nil {
				peak = max(peak, st.Bytes+st.Items*cache.ItemOverhead)
			}
		}
	})
	wg.Wait()

	assert.Empty(t, s.failures)
	t.Logf("%d operations by %d clients in at least %s; %d increments, %d cas wins, peak %d bytes charged of %d",
		s.ops.Load(), clients, duration, s.incrs.Load(), s.casWins.Load(), peak, limit)
	assert.Greater(t, s.ops.Load(), int64(clients), "every client got through")

	counter := getJSON(t, s, "/v1/ns/stress/keys/counter")
	assert.InDelta(t, s.incrs.Load(), counter, 0, "no increment is lost")
	casValue := getJSON(t, s, "/v1/ns/stress/keys/cas")
	assert.InDelta(t, s.casWins.Load(), casValue, 0, "each cas win added exactly one")
	assert.Positive(t, s.casWins.Load())

	st, err := store.Stats(context.Background())
	require.NoError(t, err)
	assert.LessOrEqual(t, peak, uint64(limit))
	assert.LessOrEqual(t, st.Bytes+st.Items*cache.ItemOverhead, uint64(limit))
	assert.Positive(t, store.Counters().Evictions, "the load overflowed the cache, so it evicted")

	s.client.CloseIdleConnections()
	srv.Close()
	require.NoError(t, store.Close())
	goleak.VerifyNone(t)
}

// getJSON reads the number under path. The counter and cas keys are touched
// by every client all the time, so segmented CLOCK keeps them in its
// protected segment and the load evicts only cold keys; were one evicted,
// the next incr or cas read would already have failed with 404.
func getJSON(t *testing.T, s *stress, path string) float64 {
	t.Helper()
	status, body := s.call(http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, status, "body: %s", body)
	var item struct{ Value json.Number }
	require.NoError(t, json.NewDecoder(bytes.NewReader(body)).Decode(&item))
	v, err := item.Value.Float64()
	require.NoError(t, err)
	return v
}
