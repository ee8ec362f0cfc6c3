package sdkcheck

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/sdk"
)

// TestAppEngineCASExample is App Engine's example: two clients fetch the same key
// with Gets; the first CAS wins and the second gets false.
func TestAppEngineCASExample(t *testing.T) {
	e := newEnv(t)
	e.set("counter", 0)
	first, second := e.client(), e.client()

	var a, b int
	_, err := first.Gets(e.ctx, "counter", &a)
	require.NoError(t, err)
	_, err = second.Gets(e.ctx, "counter", &b)
	require.NoError(t, err)

	ok, err := first.CAS(e.ctx, "counter", a+1)
	require.NoError(t, err)
	assert.True(t, ok, "the first CAS wins")

	ok, err = second.CAS(e.ctx, "counter", b+1)
	assert.False(t, ok, "the second CAS loses")
	assert.ErrorIs(t, err, sdk.ErrCASConflict)
	assert.Equal(t, 1, e.get("counter"))
}

func TestCASBookkeeping(t *testing.T) {
	tests := []struct {
		name    string
		steps   func(e *env) (bool, error) // fetch, maybe interfere, then CAS
		wantOK  bool
		wantErr error
	}{
		{"CAS without a fetch is not stored", func(e *env) (bool, error) {
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrNotStored},
		{"CAS after Gets stores", func(e *env) (bool, error) {
			_, err := e.c.Gets(e.ctx, "k", new(any))
			require.NoError(e.t, err)
			return e.c.CAS(e.ctx, "k", "new")
		}, true, nil},
		{"CAS after Get with ForCAS stores", func(e *env) (bool, error) {
			_, err := e.c.Get(e.ctx, "k", new(any), sdk.ForCAS())
			require.NoError(e.t, err)
			return e.c.CAS(e.ctx, "k", "new")
		}, true, nil},
		{"CAS after a plain Get is not stored", func(e *env) (bool, error) {
			_, err := e.c.Get(e.ctx, "k", new(any))
			require.NoError(e.t, err)
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrNotStored},
		{"CAS after CASReset is not stored", func(e *env) (bool, error) {
			_, err := e.c.Gets(e.ctx, "k", new(any))
			require.NoError(e.t, err)
			e.c.CASReset()
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrNotStored},
		{"a second CAS from one fetch conflicts", func(e *env) (bool, error) {
			_, err := e.c.Gets(e.ctx, "k", new(any))
			require.NoError(e.t, err)
			ok, err := e.c.CAS(e.ctx, "k", "first")
			require.NoError(e.t, err)
			require.True(e.t, ok)
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrCASConflict},
		{"CAS after an incr conflicts", func(e *env) (bool, error) {
			e.set("k", 1)
			_, err := e.c.Gets(e.ctx, "k", new(any))
			require.NoError(e.t, err)
			_, err = e.c.Incr(e.ctx, "k", 1)
			require.NoError(e.t, err)
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrCASConflict},
		{"CAS after a delete conflicts", func(e *env) (bool, error) {
			_, err := e.c.Gets(e.ctx, "k", new(any))
			require.NoError(e.t, err)
			_, err = e.c.Delete(e.ctx, "k")
			require.NoError(e.t, err)
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrCASConflict},
		{"ids are per namespace", func(e *env) (bool, error) {
			e.set("k", "other", sdk.WithNamespace("other"))
			_, err := e.c.Gets(e.ctx, "k", new(any), sdk.WithNamespace("other"))
			require.NoError(e.t, err)
			return e.c.CAS(e.ctx, "k", "new")
		}, false, sdk.ErrNotStored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.set("k", "old")
			ok, err := tt.steps(e)
			assert.Equal(t, tt.wantOK, ok)
			if tt.wantErr == nil {
				assert.NoError(t, err)
				assert.Equal(t, "new", e.get("k"))
			} else {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.NotEqual(t, "new", e.get("k"))
			}
		})
	}
}

func TestCASMulti(t *testing.T) {
	e := newEnv(t)
	_, err := e.c.SetMulti(e.ctx, map[string]int{"a": 1, "b": 2, "c": 3}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	got, err := e.c.GetMulti(e.ctx, []string{"a", "b"}, sdk.WithKeyPrefix("p:"), sdk.ForCAS())
	require.NoError(t, err)
	require.Len(t, got, 2)
	e.set("p:b", 20) // b changes after the fetch; c was never fetched for CAS

	notStored, err := e.c.CASMulti(e.ctx, map[string]int{"a": 10, "b": 21, "c": 30}, sdk.WithKeyPrefix("p:"))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"b", "c"}, notStored)
	assert.Equal(t, 10, e.get("p:a"))
	assert.Equal(t, 20, e.get("p:b"))
	assert.Equal(t, 3, e.get("p:c"))

	e.c.CASReset()
	notStored, err = e.c.CASMulti(e.ctx, map[string]int{"a": 11})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, notStored, "nothing is sent when no key has an id")
}

// TestConcurrentCASCountsEveryWin runs Gets/CAS loops on separate Clients;
// the counter must equal the number of wins. (Goroutines sharing one Client
// share its remembered ids, as threads did in App Engine, so one may CAS with
// another's fetch; TestSharedClientIsSafeForConcurrentUse covers that.)
func TestConcurrentCASCountsEveryWin(t *testing.T) {
	e := newEnv(t)
	e.set("n", 0)
	clients := []*sdk.Client{e.c, e.client(), e.client(), e.client()}
	var (
		mu   sync.Mutex // guards wins
		wins int
		wg   sync.WaitGroup
	)
	for _, c := range clients {
		wg.Go(func() {
			for range 20 {
				var n int
				_, err := c.Gets(e.ctx, "n", &n)
				if !assert.NoError(t, err) {
					return
				}
				ok, err := c.CAS(e.ctx, "n", n+1)
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !assert.ErrorIs(t, err, sdk.ErrCASConflict) {
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Positive(t, wins)
	assert.Equal(t, wins, e.get("n"))
}

// TestSharedClientIsSafeForConcurrentUse runs CAS bookkeeping from many
// goroutines on one Client under the race detector.
func TestSharedClientIsSafeForConcurrentUse(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				key := []string{"a", "b"}[(g+i)%2]
				_, err := e.c.Set(e.ctx, key, i)
				assert.NoError(t, err)
				_, err = e.c.Gets(e.ctx, key, new(any))
				assert.NoError(t, err)
				// Another goroutine's write conflicts; its CASReset leaves no id.
				ok, err := e.c.CAS(e.ctx, key, g)
				assert.True(t, ok || errors.Is(err, sdk.ErrCASConflict) || errors.Is(err, sdk.ErrNotStored),
					"CAS gave %v, %v", ok, err)
				if i%5 == 0 {
					e.c.CASReset()
				}
			}
		})
	}
	wg.Wait()
}
