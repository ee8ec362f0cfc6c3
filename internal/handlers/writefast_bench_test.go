package handlers

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// nopWriter keeps only the status of an answer, so the benchmark measures
// the handler rather than a recorder's buffers.
type nopWriter struct {
	h      http.Header
	status int
}

func (d *nopWriter) Header() http.Header { return d.h }

func (d *nopWriter) WriteHeader(status int) { d.status = status }

func (d *nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// batchSetBody is a batchSet of 100 items holding value.
func batchSetBody(value string) string {
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"key":"b` + strconv.Itoa(i) + `","value":` + value + `}`)
	}
	sb.WriteString(`]}`)
	return sb.String()
}

// BenchmarkWriteFastPaths runs a PUT of a 100-byte JSON string and an incr,
// the bodies memcached-bench and scripts/bench/wrk.lua send, through the
// whole router twice in one process: with the fast paths (fast) and with
// none registered, so the generated strict handler serves them (generated).
// A batchSet of 100 such values has no fast path; it runs both ways too.
//
//	go test -run '^$' -bench WriteFastPaths -benchmem -count 3 ./internal/handlers/
func BenchmarkWriteFastPaths(b *testing.B) {
	store, err := cache.NewMemory(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	value := `"` + strings.Repeat("v", 98) + `"`
	ops := []struct{ name, method, prefix, suffix, body string }{
		{"set", http.MethodPut, "k", "", `{"value":` + value + `}`},
		{"incr", http.MethodPost, "n", ":incr", `{"delta":1,"initial_value":0}`},
		{"setMulti", http.MethodPost, "", "", batchSetBody(value)},
	}
	for _, way := range []struct {
		name string
		fast [numOps]fastPath
	}{{"fast", fastPaths}, {"generated", [numOps]fastPath{}}} {
		h := newService(store, Config{}.withDefaults(), way.fast)
		for _, o := range ops {
			b.Run(o.name+"/"+way.name, func(b *testing.B) {
				body := []byte(o.body)
				rd := bytes.NewReader(body)
				w := &nopWriter{h: http.Header{}}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					rd.Reset(body)
					path := "/v1/ns/bench/keys/" + o.prefix + strconv.Itoa(i%1000) + o.suffix
					if o.name == "setMulti" {
						path = "/v1/ns/bench/keys:batchSet"
					}
					r, _ := http.NewRequest(o.method, path, rd)
					r.Header["Content-Type"] = []string{"application/json"}
					r.ContentLength = int64(len(body))
					clear(w.h)
					w.status = 0
					h.ServeHTTP(w, r)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}
