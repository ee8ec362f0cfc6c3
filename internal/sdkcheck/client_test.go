package sdkcheck

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/auth"
	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
	"github.com/memcached-http/memcached-http/sdk"
)

func TestFlushAllAndStats(t *testing.T) {
	e := newEnv(t)
	e.set("a", "12345") // key 1 byte + value 7 bytes of JSON
	e.set("b", []byte("xy"))
	e.set("other", 1, sdk.WithNamespace("ns"))
	assert.Equal(t, "12345", e.get("a"))
	assert.Nil(t, e.get("missing"))
	_, err := e.c.GetMulti(e.ctx, []string{"a", "b", "none"})
	require.NoError(t, err)

	stats, err := e.c.GetStats(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, &sdk.Stats{Hits: 3, Misses: 2, ByteHits: 8 + 8 + 3, Items: 3, Bytes: 8 + 3 + 6, OldestItemAge: 0}, stats)

	ok, err := e.c.FlushAll(e.ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Nil(t, e.get("other", sdk.WithNamespace("ns")), "flush empties every namespace")

	stats, err = e.c.GetStats(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, &sdk.Stats{Misses: 1}, stats, "flush resets the counters; the miss above counts")
}

func TestAsyncFormsGiveTheSyncResults(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx

	notStored, err := e.c.SetMultiAsync(ctx, map[string]int{"a": 1, "b": 2}).GetResult()
	require.NoError(t, err)
	assert.Empty(t, notStored)

	notStored, err = e.c.AddMultiAsync(ctx, map[string]int{"a": 9, "c": 3}).GetResult()
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, notStored)

	notStored, err = e.c.ReplaceMultiAsync(ctx, map[string]int{"a": 10, "z": 0}).GetResult()
	require.NoError(t, err)
	assert.Equal(t, []string{"z"}, notStored)

	got, err := e.c.GetMultiAsync(ctx, []string{"a", "b", "c", "z"}, sdk.ForCAS()).GetResult()
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": 10, "b": 2, "c": 3}, got)

	notStored, err = e.c.CASMultiAsync(ctx, map[string]int{"a": 11}).GetResult()
	require.NoError(t, err)
	assert.Empty(t, notStored, "GetMultiAsync with ForCAS remembered the ids")

	n, err := e.c.IncrAsync(ctx, "a", 4).GetResult()
	require.NoError(t, err)
	assert.Equal(t, uint64(15), n)

	n, err = e.c.DecrAsync(ctx, "a", 5).GetResult()
	require.NoError(t, err)
	assert.Equal(t, uint64(10), n)

	_, err = e.c.IncrAsync(ctx, "missing", 1).GetResult()
	assert.ErrorIs(t, err, sdk.ErrCacheMiss)

	values, err := e.c.OffsetMultiAsync(ctx, map[string]int{"b": -1, "missing": 1}).GetResult()
	require.NoError(t, err)
	assert.Equal(t, map[string]*uint64{"b": ptr[uint64](1), "missing": nil}, values)

	statuses, err := e.c.DeleteMultiAsync(ctx, []string{"b", "missing"}).GetResult()
	require.NoError(t, err)
	assert.Equal(t, map[string]sdk.DeleteStatus{"b": sdk.DeleteSuccessful, "missing": sdk.DeleteItemMissing}, statuses)

	stats, err := e.c.GetStatsAsync(ctx).GetResult()
	require.NoError(t, err)
	assert.Equal(t, uint64(2), stats.Items)

	ok, err := e.c.FlushAllAsync(ctx).GetResult()
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Nil(t, e.get("a"))
}

func TestAsyncCallsRunConcurrentlyAndCanBeAwaitedInSelect(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"values": {"k": 1}}`)
	})
	// A failed check below must not leave the handlers waiting for ever,
	// holding the server's Close.
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	first := c.OffsetMultiAsync(t.Context(), map[string]int{"k": 1})
	second := c.OffsetMultiAsync(t.Context(), map[string]int{"k": 1})
	require.Eventually(t, func() bool { return inFlight.Load() == 2 }, 5*time.Second, time.Millisecond,
		"both requests are in flight before either answers")
	select {
	case <-first.Done():
		t.Fatal("the result is ready before the server answered")
	default:
	}
	unblock()
	for _, f := range []*sdk.Future[map[string]*uint64]{first, second} {
		<-f.Done()
		values, err := f.GetResult()
		require.NoError(t, err)
		assert.Equal(t, map[string]*uint64{"k": ptr[uint64](1)}, values)
	}
}

func TestAsyncCallsDoNotReadTheCallersMapLater(t *testing.T) {
	e := newEnv(t)
	mapping := map[string]int{"a": 1}
	f := e.c.SetMultiAsync(e.ctx, mapping)
	mapping["a"] = 2 // the race detector flags a read after the call returned
	delete(mapping, "a")
	_, err := f.GetResult()
	require.NoError(t, err)
	assert.Equal(t, 1, e.get("a"))
}

// TestFailuresGiveAppEngineFailureResults checks each method against a server
// that cannot be reached: App Engine's failure result, plus the cause.
func TestFailuresGiveAppEngineFailureResults(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	c, err := sdk.New(base)
	require.NoError(t, err)
	ctx := t.Context()

	found, err := c.Get(ctx, "k", new(any))
	assert.False(t, found)
	assert.Error(t, err)
	assert.NotErrorIs(t, err, sdk.ErrCacheMiss, "a failure is not a miss")

	ok, err := c.Set(ctx, "k", 1)
	assert.False(t, ok)
	assert.Error(t, err)

	status, err := c.Delete(ctx, "k")
	assert.Equal(t, sdk.DeleteNetworkFailure, status)
	assert.Error(t, err)

	_, err = c.Incr(ctx, "k", 1)
	assert.Error(t, err)

	got, err := c.GetMulti(ctx, []string{"a", "b"})
	assert.Empty(t, got)
	assert.NotNil(t, got, "an empty map, as App Engine's {}")
	assert.Error(t, err)

	notStored, err := c.SetMulti(ctx, map[string]int{"a": 1, "b": 2})
	assert.Equal(t, []string{"a", "b"}, notStored, "every key is not stored")
	assert.Error(t, err)

	statuses, err := c.DeleteMulti(ctx, []string{"a", "b"})
	assert.Equal(t, map[string]sdk.DeleteStatus{"a": sdk.DeleteNetworkFailure, "b": sdk.DeleteNetworkFailure}, statuses)
	assert.Error(t, err)

	values, err := c.OffsetMulti(ctx, map[string]int{"a": 1})
	assert.Equal(t, map[string]*uint64{"a": nil}, values)
	assert.Error(t, err)

	flushed, err := c.FlushAll(ctx)
	assert.False(t, flushed)
	assert.Error(t, err)

	stats, err := c.GetStats(ctx)
	assert.Nil(t, stats)
	assert.ErrorIs(t, err, sdk.ErrNoStats)
}

func TestServerErrorsAreReported(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error": {"code": "unavailable", "message": "cache: backend unavailable"}}`)
	})
	ctx := t.Context()
	_, err := c.Get(ctx, "k", new(any))
	assert.ErrorIs(t, err, sdk.ErrServerError)
	var apiErr *sdk.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, &sdk.Error{StatusCode: 503, Code: "unavailable", Message: "cache: backend unavailable"}, apiErr)

	_, err = c.SetMulti(ctx, map[string]int{"a": 1})
	assert.ErrorIs(t, err, sdk.ErrServerError)
	stats, err := c.GetStats(ctx)
	assert.Nil(t, stats)
	assert.ErrorIs(t, err, sdk.ErrNoStats)
	assert.ErrorIs(t, err, sdk.ErrServerError, "GetStats wraps the cause too")
}

func TestBearerTokensAgainstTheServersAuth(t *testing.T) {
	const (
		admin  = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
		reader = "3f9a1c0e5b7d2a64c8e1f0b9d7a5c3e1"
	)
	var tokens auth.Tokens
	require.NoError(t, tokens.ParseList("test", admin+" admin *;"+reader+" read *"))
	store, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	srv := httptest.NewServer(handlers.NewRouter(store, handlers.Config{Tokens: &tokens}))
	t.Cleanup(srv.Close)
	client := func(opts ...sdk.Option) *sdk.Client {
		c, err := sdk.New(srv.URL, append([]sdk.Option{sdk.WithHTTPClient(srv.Client())}, opts...)...)
		require.NoError(t, err)
		return c
	}
	ctx := t.Context()

	ok, err := client(sdk.WithToken(admin)).Set(ctx, "k", "v")
	require.NoError(t, err)
	assert.True(t, ok, "the admin token may write")
	v, err := sdk.GetAs[string](ctx, client(sdk.WithToken(reader)), "k")
	require.NoError(t, err)
	assert.Equal(t, "v", v, "the read token may read")

	tests := []struct {
		name     string
		opts     []sdk.Option
		wantCode string
	}{
		{"no token is unauthenticated", nil, "unauthenticated"},
		{"an unknown token is unauthenticated", []sdk.Option{sdk.WithToken("nope")}, "unauthenticated"},
		{"a read token may not write", []sdk.Option{sdk.WithToken(reader)}, "permission_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := client(tt.opts...).Set(ctx, "k", "other")
			assert.False(t, ok)
			var apiErr *sdk.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantCode, apiErr.Code)
		})
	}
}

func TestRefusedTokensAreReportedWithTheirCode(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error": {"code": "unauthenticated", "message": "auth: bad token"}}`)
	}, sdk.WithToken("wrong"))
	ok, err := c.Set(t.Context(), "k", 1)
	assert.False(t, ok)
	var apiErr *sdk.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, &sdk.Error{StatusCode: http.StatusUnauthorized, Code: "unauthenticated", Message: "auth: bad token"}, apiErr)
	assert.NotErrorIs(t, err, sdk.ErrServerError)
	assert.NotErrorIs(t, err, sdk.ErrNotStored, "a refused token is not a refused store")
}

func TestUnreadableAnswersAreServerErrors(t *testing.T) {
	badCAS := stub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"key": "k", "value": 1, "flags": 0, "cas": "not a number", "expires": null}`)
	})
	found, err := badCAS.Get(t.Context(), "k", new(any))
	assert.False(t, found)
	assert.ErrorIs(t, err, sdk.ErrServerError, "a CAS token that is not a number")

	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "not the contract")
	})
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := c.Get(ctx, "k", new(any)); return err }},
		{"GetMulti", func() error { _, err := c.GetMulti(ctx, []string{"k"}); return err }},
		{"SetMulti", func() error { _, err := c.SetMulti(ctx, map[string]int{"k": 1}); return err }},
		{"DeleteMulti", func() error { _, err := c.DeleteMulti(ctx, []string{"k"}); return err }},
		{"Incr", func() error { _, err := c.Incr(ctx, "k", 1); return err }},
		{"Decr", func() error { _, err := c.Decr(ctx, "k", 1); return err }},
		{"OffsetMulti", func() error { _, err := c.OffsetMulti(ctx, map[string]int{"k": 1}); return err }},
		{"GetStats", func() error { _, err := c.GetStats(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.call(), sdk.ErrServerError)
		})
	}
}

func TestRequestErrorsFromTheServer(t *testing.T) {
	store, err := cache.NewMemory(cache.Options{MaxValueSize: 16})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	srv := httptest.NewServer(handlers.NewRouter(store, handlers.Config{MaxBatchKeys: 2}))
	t.Cleanup(srv.Close)
	c, err := sdk.New(srv.URL, sdk.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	ctx := t.Context()

	ok, err := c.Set(ctx, "k", strings.Repeat("x", 100))
	assert.False(t, ok)
	assert.ErrorIs(t, err, sdk.ErrInvalidArgument)
	var apiErr *sdk.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.StatusCode)
	assert.Equal(t, "value_too_large", apiErr.Code)

	notStored, err := c.SetMulti(ctx, map[string]int{"a": 1, "b": 2, "c": 3})
	assert.ElementsMatch(t, []string{"a", "b", "c"}, notStored)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "batch_too_large", apiErr.Code)
}

func TestNewAndTransportOptions(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "::"} {
		_, err := sdk.New(bad)
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "base URL %q", bad)
	}

	var auth atomic.Value
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}, sdk.WithToken("s3cret"))
	ok, err := c.FlushAll(t.Context())
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "Bearer s3cret", auth.Load())

	t.Run("a base URL with a path prefix", func(t *testing.T) {
		store, err := cache.NewMemory(cache.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, store.Close()) })
		mux := http.NewServeMux()
		mux.Handle("/cache/", http.StripPrefix("/cache", handlers.NewRouter(store, handlers.Config{})))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		for _, base := range []string{srv.URL + "/cache", srv.URL + "/cache/"} {
			c, err := sdk.New(base, sdk.WithHTTPClient(srv.Client()))
			require.NoError(t, err)
			ok, err := c.Set(t.Context(), "..", base)
			require.NoError(t, err)
			assert.True(t, ok)
			v, err := sdk.GetAs[string](t.Context(), c, "..")
			require.NoError(t, err)
			assert.Equal(t, base, v)
		}
	})
}

func TestContextBoundsEveryCall(t *testing.T) {
	release := make(chan struct{})
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		// Read to the end of the body: only then does net/http watch the
		// connection and cancel r.Context() when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// Registered after stub's server, so it runs before the server's Close,
	// which waits for this handler: a request the client canceled after it
	// was sent otherwise held the test until its timeout (seen beside CPU
	// hogs, where the request got out before the cancel).
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(t.Context())
	f := c.GetMultiAsync(ctx, []string{"k"})
	cancel()
	got, err := f.GetResult()
	assert.Empty(t, got)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCompatibilityMethodsAreHarmless(t *testing.T) {
	e := newEnv(t)
	e.set("k", "v")
	e.c.SetServers([]string{"127.0.0.1:11211"})
	e.c.ForgetDeadHosts()
	e.c.DebugLog("message")
	e.c.DisconnectAll()
	assert.Equal(t, "v", e.get("k"), "the client still works afterwards")
}
