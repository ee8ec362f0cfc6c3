package handlers_test

import (
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

// plainStore hides the engine's cache.Peeker, so batchGet takes the
// buffered GetMulti path.
type plainStore struct{ cache.Store }

func TestStreamedBatchGetSendsTheBufferedBytes(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	streamed := handlers.NewRouter(mem, handlers.Config{MaxResponseBytes: 4 << 20})
	buffered := handlers.NewRouter(plainStore{mem}, handlers.Config{MaxResponseBytes: 4 << 20})
	do := func(h http.Handler, method, path, ct, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
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
