package handlers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/handlers"
)

// TestMain fails the package if a test leaves goroutines behind (a store
// not closed, a handler still running).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ExampleNewRouter() {
	store, err := cache.NewMemory(cache.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	h := handlers.NewRouter(store, handlers.Config{})

	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/user:42", strings.NewReader(`{"value": {"name": "Ada"}}`)),
		httptest.NewRequest(http.MethodPost, "/v1/ns/~/keys/visits:incr", strings.NewReader(`{"initial_value": 41}`)),
		httptest.NewRequest(http.MethodGet, "/v1/ns/~/keys/user:42", nil),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 {"cas":"1","stored":true}
	// 200 {"value":42}
	// 200 {"cas":"1","expires":null,"flags":0,"key":"user:42","value":{"name":"Ada"}}
}

func BenchmarkGet(b *testing.B) {
	store, err := cache.NewMemory(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := handlers.NewRouter(store, handlers.Config{})
	put := httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/user:42", strings.NewReader(`{"value": {"name": "Ada"}}`))
	h.ServeHTTP(httptest.NewRecorder(), put)

	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/ns/~/keys/user:42", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	store, err := cache.NewMemory(cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := handlers.NewRouter(store, handlers.Config{})
	const body = `{"value": {"name": "Ada", "visits": 3}, "time": 3600}`

	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v1/ns/~/keys/user:42", strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
