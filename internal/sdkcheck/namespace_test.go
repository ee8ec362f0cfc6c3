package sdkcheck

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/sdk"
)

// recorder is a stub server remembering the escaped path of every request.
type recorder struct {
	mu    sync.Mutex
	paths []string
}

func (r *recorder) handler(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.EscapedPath())
	r.mu.Unlock()
	http.Error(w, `{"error":{"code":"unavailable","message":"stub"}}`, http.StatusServiceUnavailable)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.paths
	r.paths = nil
	return p
}

// TestEmptyNamespaceIsSentAsTilde: every method sends "" as ~, never as
// "default", which is an ordinary namespace.
func TestEmptyNamespaceIsSentAsTilde(t *testing.T) {
	rec := &recorder{}
	c := stub(t, rec.handler)
	ctx := t.Context()
	emptyCtx, err := sdk.Namespace(ctx, "")
	require.NoError(t, err)
	calls := map[string]func(ctx context.Context, opts ...sdk.CallOption){
		"Get":          func(ctx context.Context, o ...sdk.CallOption) { c.Get(ctx, "k", new(any), o...) },
		"Gets":         func(ctx context.Context, o ...sdk.CallOption) { c.Gets(ctx, "k", new(any), o...) },
		"Set":          func(ctx context.Context, o ...sdk.CallOption) { c.Set(ctx, "k", 1, o...) },
		"Add":          func(ctx context.Context, o ...sdk.CallOption) { c.Add(ctx, "k", 1, o...) },
		"Replace":      func(ctx context.Context, o ...sdk.CallOption) { c.Replace(ctx, "k", 1, o...) },
		"Delete":       func(ctx context.Context, o ...sdk.CallOption) { c.Delete(ctx, "k", o...) },
		"Incr":         func(ctx context.Context, o ...sdk.CallOption) { c.Incr(ctx, "k", 1, o...) },
		"Decr":         func(ctx context.Context, o ...sdk.CallOption) { c.Decr(ctx, "k", 1, o...) },
		"GetMulti":     func(ctx context.Context, o ...sdk.CallOption) { c.GetMulti(ctx, []string{"k"}, o...) },
		"SetMulti":     func(ctx context.Context, o ...sdk.CallOption) { c.SetMulti(ctx, map[string]int{"k": 1}, o...) },
		"DeleteMulti":  func(ctx context.Context, o ...sdk.CallOption) { c.DeleteMulti(ctx, []string{"k"}, o...) },
		"OffsetMulti":  func(ctx context.Context, o ...sdk.CallOption) { c.OffsetMulti(ctx, map[string]int{"k": 1}, o...) },
		"AddMulti":     func(ctx context.Context, o ...sdk.CallOption) { c.AddMulti(ctx, map[string]int{"k": 1}, o...) },
		"ReplaceMulti": func(ctx context.Context, o ...sdk.CallOption) { c.ReplaceMulti(ctx, map[string]int{"k": 1}, o...) },
	}
	for name, call := range calls {
		for _, way := range []struct {
			name string
			ctx  context.Context
			opts []sdk.CallOption
		}{
			{"no namespace", ctx, nil},
			{`WithNamespace("")`, ctx, []sdk.CallOption{sdk.WithNamespace("")}},
			{`Namespace(ctx, "")`, emptyCtx, nil},
		} {
			call(way.ctx, way.opts...)
			paths := rec.take()
			require.NotEmpty(t, paths, "%s with %s sends a request", name, way.name)
			for _, p := range paths {
				assert.Regexp(t, `^/v1/ns/~/keys[/:]`, p, "%s with %s", name, way.name)
				assert.NotContains(t, p, "default", "%s with %s", name, way.name)
			}
		}
	}
}

func TestContextNamespaceIsTheDefaultAndAnOptionOverridesIt(t *testing.T) {
	e := newEnv(t)
	teamA, err := sdk.Namespace(e.ctx, "team-a")
	require.NoError(t, err)
	assert.Equal(t, "team-a", sdk.NamespaceFromContext(teamA))
	assert.Equal(t, "", sdk.NamespaceFromContext(e.ctx), "no namespace is the empty one")

	ok, err := e.c.Set(teamA, "k", "in team-a")
	require.NoError(t, err)
	require.True(t, ok)
	e.set("k", "in the empty namespace")

	var v any
	_, err = e.c.Get(teamA, "k", &v)
	require.NoError(t, err)
	assert.Equal(t, "in team-a", v, "the context's namespace applies")
	assert.Equal(t, "in team-a", e.get("k", sdk.WithNamespace("team-a")), "it is the namespace the server holds")
	_, err = e.c.Get(teamA, "k", &v, sdk.WithNamespace(""))
	require.NoError(t, err)
	assert.Equal(t, "in the empty namespace", v, "an explicit namespace beats the context's")

	n, err := e.c.Incr(teamA, "hits", 1, sdk.WithInitialValue(0))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n)
	n, err = e.c.Incr(e.ctx, "hits", 1, sdk.WithInitialValue(0))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n, "a counter of its own in the empty namespace")

	got, err := e.c.GetMultiAsync(teamA, []string{"k", "hits"}).GetResult()
	require.NoError(t, err)
	assert.Equal(t, "in team-a", got["k"], "async calls read the namespace from their context")
	assert.Contains(t, got, "hits")

	for _, bad := range []string{"~", "a b", "default/x"} {
		_, err := sdk.Namespace(e.ctx, bad)
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument, "namespace %q", bad)
		assert.ErrorContains(t, err, "[0-9A-Za-z._-]{0,100}")
	}
}
