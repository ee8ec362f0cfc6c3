package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// Client talks to one memcached-http server with the methods of App Engine's
// memcache Client. It is safe for concurrent use, CAS bookkeeping included.
type Client struct {
	api      *client.ClientWithResponses
	http     *http.Client
	token    string
	basePath string // the base URL's path, ending in "/"

	mu     sync.Mutex        // guards casIDs
	casIDs map[casKey]uint64 // ids remembered by Gets and ForCAS reads, for CAS
}

// casKey names an item for CAS bookkeeping: its wire namespace and key.
type casKey struct{ namespace, key string }

// New returns a Client for the server at baseURL (http://host:port, with an
// optional path prefix). It sends nothing until the first call.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalidf("base URL %q is not http(s)://host[:port][/path]", baseURL)
	}
	c := &Client{basePath: strings.TrimSuffix(u.Path, "/") + "/", casIDs: make(map[casKey]uint64)}
	for _, opt := range opts {
		opt(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	c.api, err = client.NewClientWithResponses(baseURL,
		client.WithHTTPClient(c.http), client.WithRequestEditorFn(c.edit))
	if err != nil {
		return nil, fmt.Errorf("sdk: new client: %w", err)
	}
	return c, nil
}

// edit adds the bearer token and puts a pinned path (see pinPath) in place.
func (c *Client) edit(ctx context.Context, req *http.Request) error {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if raw, ok := ctx.Value(pathKey{}).(string); ok {
		path, err := url.PathUnescape(raw)
		if err != nil {
			return fmt.Errorf("sdk: pinned path %q: %w", raw, err)
		}
		req.URL.Path, req.URL.RawPath = path, raw
	}
	return nil
}

// pathKey is the context key of a request's pinned, escaped path.
type pathKey struct{}

// pinPath sends a request whose namespace or key is "." or ".." to the path
// the contract names. The generated client resolves its path as a URL
// reference, which would drop such dot segments and address another
// resource; pinned, they travel as %2E. key is "" for batch requests; suffix
// follows the key (":incr") or the keys collection (":batchGet").
func (c *Client) pinPath(ctx context.Context, namespace, key, suffix string) context.Context {
	if !dotSegment(namespace) && !dotSegment(key) {
		return ctx
	}
	p := c.basePath + "v1/ns/" + escapeSegment(namespace) + "/keys"
	if key != "" {
		p += "/" + escapeSegment(key)
	}
	return context.WithValue(ctx, pathKey{}, p+suffix)
}

func dotSegment(s string) bool { return s == "." || s == ".." }

func escapeSegment(s string) string {
	if dotSegment(s) {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// CASReset forgets every CAS id this Client remembered, so CAS and CASMulti
// refuse until the keys are fetched again with Gets or ForCAS.
func (c *Client) CASReset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.casIDs)
}

func (c *Client) rememberCAS(namespace, key string, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.casIDs[casKey{namespace, key}] = id
}

func (c *Client) casID(namespace, key string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.casIDs[casKey{namespace, key}]
	return id, ok
}

// SetServers is accepted for compatibility: the server is the one given to New.
func (c *Client) SetServers(servers []string) {}

// DisconnectAll closes idle connections to the server; the next call reconnects.
func (c *Client) DisconnectAll() { c.http.CloseIdleConnections() }

// ForgetDeadHosts is accepted for compatibility: there is one server and no dead-host list.
func (c *Client) ForgetDeadHosts() {}

// DebugLog is accepted for compatibility and logs nothing, as in App Engine.
func (c *Client) DebugLog(args ...any) {}

// FlushAll removes every item in every namespace, every delete lock, and
// resets the stats. It reports whether the server flushed (App Engine's result).
func (c *Client) FlushAll(ctx context.Context) (bool, error) {
	return c.flushAll(ctx)
}

// FlushAllAsync is FlushAll run in the background.
func (c *Client) FlushAllAsync(ctx context.Context) *Future[bool] {
	return start(ctx, c.flushAll)
}

func (c *Client) flushAll(ctx context.Context) (bool, error) {
	resp, err := c.api.FlushAllWithResponse(ctx)
	if err != nil {
		return false, fmt.Errorf("sdk: FlushAll: %w", err)
	}
	if resp.StatusCode() != http.StatusOK {
		return false, fmt.Errorf("sdk: FlushAll: %w", answerError(resp.StatusCode(), resp.Body))
	}
	return true, nil
}

// Stats are the server's cache counters: App Engine's get_stats dictionary.
type Stats struct {
	Hits          uint64 // lookups that found a live item
	Misses        uint64 // lookups that found none
	ByteHits      uint64 // key and value bytes of the hits
	Items         uint64 // live items now
	Bytes         uint64 // key and value bytes of the live items now
	OldestItemAge int64  // seconds since the least recently accessed item was accessed
}

// GetStats returns the server's counters, or nil and an error wrapping both
// ErrNoStats and the cause (App Engine answered None).
func (c *Client) GetStats(ctx context.Context) (*Stats, error) {
	return c.getStats(ctx)
}

// GetStatsAsync is GetStats run in the background.
func (c *Client) GetStatsAsync(ctx context.Context) *Future[*Stats] {
	return start(ctx, c.getStats)
}

func (c *Client) getStats(ctx context.Context) (*Stats, error) {
	resp, err := c.api.GetStatsWithResponse(ctx)
	switch {
	case err != nil:
	case resp.StatusCode() != http.StatusOK:
		err = answerError(resp.StatusCode(), resp.Body)
	case resp.JSON200 == nil:
		err = errUnreadable(resp.StatusCode())
	default:
		s := resp.JSON200
		return &Stats{Hits: s.Hits, Misses: s.Misses, ByteHits: s.ByteHits,
			Items: s.Items, Bytes: s.Bytes, OldestItemAge: s.OldestItemAge}, nil
	}
	return nil, fmt.Errorf("sdk: GetStats: %w", errors.Join(ErrNoStats, err))
}

// Future is the pending result of an …Async call; only those methods make one.
type Future[T any] struct {
	done   chan struct{}
	result T
	err    error
}

// call is one prepared request: arguments are checked and encoded when it is
// made, so an Async call does not read the caller's maps after returning.
type call[T any] func(context.Context) (T, error)

// failed is a call that only reports an error found while preparing.
func failed[T any](result T, err error) call[T] {
	return func(context.Context) (T, error) { return result, err }
}

func start[T any](ctx context.Context, f call[T]) *Future[T] {
	fu := &Future[T]{done: make(chan struct{})}
	go func() {
		defer close(fu.done)
		fu.result, fu.err = f(ctx)
	}()
	return fu
}

// GetResult waits for the call and returns what the synchronous method returns.
func (f *Future[T]) GetResult() (T, error) {
	<-f.done
	return f.result, f.err
}

// Done is closed once the result is ready, for use in select.
func (f *Future[T]) Done() <-chan struct{} { return f.done }
