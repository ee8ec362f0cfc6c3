package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// do serves one request with a body of type ct and returns its status and body.
func do(h http.Handler, method, path, ct, body string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// plainStore hides the engine's cache.Peeker, so batchGet takes the
// buffered GetMulti path.
type plainStore struct{ cache.Store }

func TestStreamedBatchGetSendsTheBufferedBytes(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	streamed := handlers.NewRouter(mem, handlers.Config{MaxResponseBytes: 4 << 20})
	buffered := handlers.NewRouter(plainStore{mem}, handlers.Config{MaxResponseBytes: 4 << 20})
	code, _ := do(streamed, http.MethodPost, batchSet, "application/json",
		`{"items":[{"key":"a","value":{"html":"<b>&</b>"}},{"key":"b","value":"QUJD","encoding":"base64"},{"key":"c","value":[1,2,3]}]}`)
	require.Equal(t, http.StatusOK, code)
	big := strings.Repeat("v", 300<<10) // past a write of the stream
	code, _ = do(streamed, http.MethodPut, "/v1/ns/~/keys/big", "application/octet-stream", big)
	require.Equal(t, http.StatusOK, code)

	for _, body := range []string{
		`{"keys":["a","b","missing","a","c","big"]}`,
		`{"keys":["c"],"for_cas":true}`,
		`{"keys":["missing"]}`,
		`{"keys": ["\u0061", "b"]}`, // not plain: the generated decoder's route
	} {
		sc, sb := do(streamed, http.MethodPost, batchGet, "application/json", body)
		bc, bb := do(buffered, http.MethodPost, batchGet, "application/json", body)
		assert.Equal(t, http.StatusOK, sc, body)
		assert.Equal(t, bc, sc, body)
		assert.Equal(t, bb, sb, "%s: the same bytes either way", body)
	}
	st, err := mem.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uint64(2*(4+1+0+2)), st.Hits, "each distinct key counts once per request, streamed or not")

	// Over the limit: 413 before anything is sent, either way.
	small := handlers.NewRouter(mem, handlers.Config{MaxResponseBytes: 200 << 10})
	code, resp := do(small, http.MethodPost, batchGet, "application/json", `{"keys":["a","big"]}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Contains(t, resp, "batch_too_large")
}

// failingGets lets PeekMulti through and fails every Get and ReadBatch, as a store that
// loses its backend between the size check and the reads would.
type failingGets struct{ *cache.Memory }

func (f failingGets) Get(context.Context, cache.Key, []byte) (cache.Item, error) {
	return cache.Item{}, fmt.Errorf("lost the backend: %w", cache.ErrUnavailable)
}

func (f failingGets) ReadBatch(_ context.Context, _ []cache.Key, _ []cache.Item, _ []cache.Outcome, buf []byte, _ int) ([]byte, error) {
	return buf, fmt.Errorf("lost the backend: %w", cache.ErrUnavailable)
}

func TestStreamedBatchGetSetsContentLengthWhenItFitsOneWrite(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	h := handlers.NewRouter(mem, handlers.Config{MaxResponseBytes: 4 << 20})
	put := func(name, value string) {
		req := httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/"+name, strings.NewReader(value))
		req.Header.Set("Content-Type", "application/octet-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	}
	put("a", strings.Repeat("s", 10<<10)) // past net/http's own 2 KiB, under one write
	put("big", strings.Repeat("v", 300<<10))
	put("c", "after")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(h string, body string) *http.Response {
		resp, err := http.Post(h+batchGet, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	small := get(srv.URL, `{"keys":["a","missing"]}`)
	b, err := io.ReadAll(small.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, small.StatusCode)
	assert.Equal(t, int64(len(b)), small.ContentLength, "one write, its length known")
	assert.Empty(t, small.TransferEncoding)

	large := get(srv.URL, `{"keys":["a","big","c"]}`)
	b, err = io.ReadAll(large.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, large.StatusCode)
	assert.Equal(t, int64(-1), large.ContentLength, "written as it is encoded, past the first write")
	assert.Equal(t, []string{"chunked"}, large.TransferEncoding)
	assert.Greater(t, len(b), 300<<10)

	// A lookup failing before anything was written gets an error status,
	// not a 200 with a broken body.
	failing := httptest.NewServer(handlers.NewRouter(failingGets{mem}, handlers.Config{MaxResponseBytes: 4 << 20}))
	t.Cleanup(failing.Close)
	resp := get(failing.URL, `{"keys":["a"]}`)
	b, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", b)
	assert.Contains(t, string(b), `"error"`)
}

func TestBatchGetPastOneWriteIsCheckedAgainstItsLimitAsTheBufferedOne(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	const budget = 100 << 10
	cfg := handlers.Config{MaxResponseBytes: budget}
	read, buffered := handlers.NewRouter(mem, cfg), handlers.NewRouter(plainStore{mem}, cfg)
	for _, k := range []string{"big1", "big2", "big3"} {
		// 40 KiB JSON strings: one is past a write, and the rest could
		// escape to six times its length, so two are read on with an
		// exact check.
		code, _ := do(read, http.MethodPut, "/v1/ns/~/keys/"+k, "application/json", `{"value":"`+strings.Repeat("v", 40<<10)+`"}`)
		require.Equal(t, http.StatusOK, code)
	}
	code, body := do(read, http.MethodPost, batchGet, "application/json", `{"keys":["big1","big2","missing"]}`)
	bcode, bbody := do(buffered, http.MethodPost, batchGet, "application/json", `{"keys":["big1","big2","missing"]}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, bcode, code)
	assert.Equal(t, bbody, body, "the same bytes either way")

	// 120 KiB of values left past the first read: over the limit whatever
	// their encoding, refused before they are copied.
	before, err := mem.Stats(t.Context())
	require.NoError(t, err)
	code, body = do(read, http.MethodPost, batchGet, "application/json", `{"keys":["big1","big2","big3"]}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Contains(t, body, "batch_too_large")
	after, err := mem.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, before.Hits+1, after.Hits, "only the key read before the check counted")
}

// peekOnly is the engine without cache.BatchReader: batchGet then reads
// its keys one Get at a time.
type peekOnly struct {
	cache.Store
	p cache.Peeker
}

func (s peekOnly) PeekMulti(ctx context.Context, keys []cache.Key, fn func(int, cache.Item, int)) error {
	return s.p.PeekMulti(ctx, keys, fn)
}

// TestBatchGetReadInChunksAnswersAsOneKeyAtATime compares batchGets served
// from the engine's ReadBatch, in chunks of keys, with the same batchGets
// read one Get at a time: the same status, the same bytes, the same hits
// counted (but for a batch refused past its first write). The batches cross chunks, name keys twice, miss, hold values too
// long to gather with the others, pass the first write in the middle of a
// chunk (streamed), and come near or over the response limit.
func TestBatchGetReadInChunksAnswersAsOneKeyAtATime(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	names := make([]string, 0, 400)
	for i := range 300 {
		name := fmt.Sprintf("key-%d", i)
		names = append(names, fmt.Sprintf("%q", name))
		if i%9 == 0 {
			continue // missing
		}
		size := 150
		if i%17 == 0 || i >= 150 {
			size = 3000 // longer than a key's share of a chunk
		}
		code, _ := do(handlers.NewRouter(mem, handlers.Config{}), http.MethodPut, "/v1/ns/~/keys/"+name, "application/json",
			`{"value":"`+strings.Repeat(string(rune('a'+i%26)), size)+`"}`)
		require.Equal(t, http.StatusOK, code)
	}
	names = append(names, names[3], names[200], names[7]) // named twice
	all := `{"keys":[` + strings.Join(names, ",") + `]}`
	small := `{"keys":[` + strings.Join(names[:40], ",") + `]}`
	hits := func() uint64 {
		st, err := mem.Stats(t.Context())
		require.NoError(t, err)
		return st.Hits
	}
	for _, tt := range []struct {
		name   string
		budget int64
		body   string
	}{
		{"a few keys in one write", 4 << 20, small},
		{"300 keys, streamed past the first write", 4 << 20, all},
		{"300 keys near the limit", 60 << 10, all},
		{"300 keys over the limit only past the first chunk", 200 << 10, all},
		{"a limit passed inside the first chunk", 9 << 10, small},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := handlers.Config{MaxResponseBytes: tt.budget}
			chunked, each := handlers.NewRouter(mem, cfg), handlers.NewRouter(peekOnly{Store: mem, p: mem}, cfg)
			h0 := hits()
			ccode, cbody := do(chunked, http.MethodPost, batchGet, "application/json", tt.body)
			h1 := hits()
			ecode, ebody := do(each, http.MethodPost, batchGet, "application/json", tt.body)
			h2 := hits()
			assert.Equal(t, ecode, ccode)
			assert.Equal(t, ebody, cbody, "the same bytes either way")
			if ecode == http.StatusOK {
				assert.Equal(t, h2-h1, h1-h0, "the same hits counted")
			} else {
				// Refused past the first write: the keys of the chunk read
				// by then count, which one Get at a time had not reached.
				assert.GreaterOrEqual(t, h1-h0, h2-h1)
				assert.LessOrEqual(t, h1-h0, h2-h1+128)
			}
			assert.NotZero(t, h1-h0)
		})
	}
}
