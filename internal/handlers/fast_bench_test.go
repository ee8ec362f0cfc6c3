package handlers

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// nullWriter keeps only the status, so the benchmark measures the router.
type nullWriter struct {
	h      http.Header
	status int
}

func (w *nullWriter) Header() http.Header { return w.h }

func (w *nullWriter) WriteHeader(s int) { w.status = s }

func (w *nullWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

// BenchmarkFastPaths runs the requests each fast path of fast.go takes both
// ways in one process: through the fast path, and through the generated
// strict handler it stands in for (the same router with no fast paths). The
// figures justify each entry of fastPaths; fast.go's header quotes them.
func BenchmarkFastPaths(b *testing.B) {
	newRouters := func(b *testing.B) map[string]http.Handler {
		store, err := cache.NewMemory(cache.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = store.Close() })
		cfg := Config{}.withDefaults()
		fast := newService(store, cfg, fastPaths)
		for i := range 100 {
			r := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/v1/ns/~/keys/key-%d", i),
				strings.NewReader(`{"value": "`+strings.Repeat("v", 98)+`"}`))
			rec := httptest.NewRecorder()
			fast.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				b.Fatalf("put: %d %s", rec.Code, rec.Body)
			}
		}
		return map[string]http.Handler{"fast": fast, "generated": newService(store, cfg, [numOps]fastPath{})}
	}
	var keys strings.Builder
	keys.WriteString(`{"keys":[`)
	for i := range 100 {
		if i > 0 {
			keys.WriteByte(',')
		}
		fmt.Fprintf(&keys, `"key-%d"`, i)
	}
	keys.WriteString(`]}`)
	batch := []byte(keys.String())
	for _, tt := range []struct {
		name string
		req  func() *http.Request
	}{
		{"get", func() func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/v1/ns/~/keys/key-0", nil)
			return func() *http.Request { return r } // a GET is not consumed: one request serves every iteration
		}()},
		{"getMulti", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/ns/~/keys:batchGet", bytes.NewReader(batch))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
	} {
		routers := newRouters(b)
		for _, way := range []string{"fast", "generated"} {
			b.Run(tt.name+"/"+way, func(b *testing.B) {
				h := routers[way]
				w := &nullWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.h)
					w.status = 0
					h.ServeHTTP(w, tt.req())
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}
