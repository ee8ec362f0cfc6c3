package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// A raw PUT reads its value once into a pooled buffer, which the store
// copies: about one value's worth of allocation per write, not the two or
// more of reading into a fresh buffer first.
func TestARawPutAllocatesAboutOneValue(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{MemoryLimit: 256 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	h := handlers.NewRouter(mem, handlers.Config{})
	value := bytes.Repeat([]byte("v"), 1<<20)
	put := func(i int) {
		req := httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/k"+strconv.Itoa(i), bytes.NewReader(value))
		req.Header.Set("Content-Type", "application/octet-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	put(-1) // the pooled buffer's first allocation
	const n = 40
	// One P, as in TestJSONWritesAllocateAboutOneValue: a pooled buffer
	// stays with the P that put it.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		put(i)
	}
	runtime.ReadMemStats(&after)
	perPut := float64(after.TotalAlloc-before.TotalAlloc) / n
	// The race detector's pools drop a quarter of what they are given.
	assert.Less(t, perPut, 1.6*float64(len(value)), "bytes allocated per 1 MiB PUT")
}

// jsonValues are wire values of about size bytes of each kind a JSON write
// carries: the plain string the first fast path took, and the others, which
// took the generated decoder (a json.RawMessage copy, json.Compact, the
// decoder's own buffer) before they took a span of the body too.
func jsonValues(size int) []struct{ name, value, encoding string } {
	digits := strings.Repeat("1234567890", size/10)
	var obj strings.Builder
	obj.WriteString(`{`)
	for i := 0; obj.Len() < size-40; i++ {
		if i > 0 {
			obj.WriteString(`, `)
		}
		// Many members: the duplicate check must not keep their names.
		obj.WriteString(`"m` + strconv.Itoa(i) + `": [1, "two", {"three": 3.5e1}]`)
	}
	obj.WriteString(`}`)
	var arr strings.Builder
	arr.WriteString(`[`)
	for i := 0; arr.Len() < size-40; i++ {
		if i > 0 {
			arr.WriteString(` , `)
		}
		arr.WriteString(`{"id": ` + strconv.Itoa(i) + `, "ok": true}`)
	}
	arr.WriteString(`]`)
	return []struct{ name, value, encoding string }{
		{"a plain string", `"` + strings.Repeat("v", size-2) + `"`, ""},
		{"an escaped string", `"` + strings.Repeat(`a\"\u00e9\n`, (size-2)/11) + `"`, ""},
		{"an object", obj.String(), ""},
		{"an array", arr.String(), ""},
		{"a number", digits[:size-2] + ".5", ""},
		{"base64", `"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0, 0xff, 'x'}, size/4)) + `"`, "base64"},
		// PHP's json_encode escapes every slash: 1 in 4 characters here.
		{"base64 with escaped slashes", `"` + strings.ReplaceAll(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff, 0, 'x'}, size/5)), "/", `\/`) + `"`, "base64"},
	}
}

// Every JSON write of a value, whatever its kind and however it is sent (a
// plain PUT, one with a query or a conditional header, a batchSet), reads
// the body once into a pooled buffer, compacts or decodes the value over the
// body's own bytes and leaves one allocation of its size: the store's copy.
// Before, every kind went through encoding/json or a copy of the whole body
// as a string, which allocated three to twelve times the value.
func TestJSONWritesAllocateAboutOneValue(t *testing.T) {
	mem, err := cache.NewMemory(cache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mem.Close() })
	h := handlers.NewRouter(copyingStore{mem}, handlers.Config{})
	bound := 1.3
	if raceEnabled {
		bound = 3.0 // pooled buffers (the body's, a large object's names, grown again) are dropped a quarter of the time
	}
	const size = 1<<20 - 4<<10
	for _, v := range jsonValues(size) {
		enc := ""
		if v.encoding != "" {
			enc = `,"encoding":"` + v.encoding + `"`
		}
		for _, way := range []struct {
			name, method, path, body string
			header                   map[string]string
		}{
			{name: "PUT", method: http.MethodPut, path: "/v1/ns/a/keys/k", body: `{"value": ` + v.value + enc + `, "flags": 1}`},
			{name: "PUT with a query", method: http.MethodPut, path: "/v1/ns/a/keys/k?mode=set", body: `{"value": ` + v.value + enc + `}`},
			{name: "PUT If-Match: *", method: http.MethodPut, path: "/v1/ns/a/keys/k", body: `{"value": ` + v.value + enc + `}`,
				header: map[string]string{"If-Match": "*"}},
			{name: "batchSet", method: http.MethodPost, path: "/v1/ns/a/keys:batchSet",
				body: `{"items": [{"key": "k", "value": ` + v.value + enc + `}], "time": 0}`},
		} {
			t.Run(v.name+"/"+way.name, func(t *testing.T) {
				body := []byte(way.body)
				put := func(i int) {
					path := strings.Replace(way.path, "/keys/k", "/keys/k"+strconv.Itoa(i), 1)
					if way.method == http.MethodPost {
						path = "/v1/ns/a" + strconv.Itoa(i) + "/keys:batchSet"
					}
					req := httptest.NewRequest(way.method, path, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					for k, v := range way.header {
						req.Header.Set(k, v)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					require.Equal(t, http.StatusOK, rec.Code, "%.200s", rec.Body.String())
					if way.method == http.MethodPost {
						require.JSONEq(t, `{"not_stored":[]}`, rec.Body.String())
					}
				}
				const n = 12
				for i := -2; i < 0; i++ {
					put(i) // the pooled buffers' first allocations
				}
				// A collection would empty the pools, and count their
				// buffers again; there is none while this measures. One P:
				// a sync.Pool keeps a buffer in the P that put it, so a
				// goroutine moved to the other P (beside CPU hogs, often)
				// allocates a new one, which is the scheduler's doing, not
				// the write's.
				defer debug.SetGCPercent(debug.SetGCPercent(-1))
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for i := range n {
					put(i)
				}
				runtime.ReadMemStats(&after)
				perWrite := float64(after.TotalAlloc-before.TotalAlloc) / n
				t.Logf("%.2f × the value allocated per write", perWrite/float64(len(v.value)))
				assert.Less(t, perWrite, bound*float64(len(v.value)), "bytes allocated per write of a %d-byte value", len(v.value))
			})
		}
	}
}

// copyingStore stands for a store whose write copies each value once,
// exactly, and keeps nothing (the engine's arena allocates by pages, which
// a few writes would measure unevenly); every write succeeds.
type copyingStore struct{ *cache.Memory }

// copied keeps the last copy reachable, so it is not optimised away.
var copied []byte

func (copyingStore) Put(_ context.Context, _ cache.Mode, e cache.Entry) (uint64, error) {
	copied = bytes.Clone(e.Value)
	return 1, nil
}

func (copyingStore) PutMulti(_ context.Context, _ cache.Mode, entries []cache.Entry) ([]error, error) {
	for _, e := range entries {
		copied = bytes.Clone(e.Value)
	}
	return make([]error, len(entries)), nil
}
