package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/cache/cachetest"
)

// FuzzWriteFastPaths sends one body as a PUT (plain, with a query, with
// If-Match: *), an incr and a batchSet to a service with the fast paths and
// to one without (the generated way), each
// over its own store on the same fake clock, and wants the same status,
// headers and body from both (CAS ids aside), then the same item stored.
func FuzzWriteFastPaths(f *testing.F) {
	for _, seed := range []string{
		`{"value":"abc"}`, `{"value":"a","flags":7,"time":3600}`, `{"value":"x","time":9007199254740993}`,
		`{"delta":5,"initial_value":1}`, `{}`, `{"delta":18446744073709551615}`,
		`{"items":[{"key":"a","value":"x"},{"key":"a","value":"y"}]}`, `{"mode":"add","items":[{"key":"k","value":"v"}]}`,
		`{"value":"a" ,"value":"b"}`, `{"value":"\u00e9"}`, "{\"value\":\"\xff\"}",
		`{"value": {"a": [1, null, "\""]}, "flags": 2}`, `{"value":[{"a":1,"a":2}]}`, `{"value":-0.5e1}`, `{"value":null}`,
		`{"value":"\/w==","encoding":"base64"}`, `{"value":"AP8=AP8=","encoding":"base64"}`, `{"value":"x","cas":"1"}`,
		`{"items":[{"key":"a","value":{"b":[]}},{"key":"c","value":"AP8=","encoding":"base64"}]}`,
	} {
		f.Add(seed)
	}
	casID := regexp.MustCompile(`"\d+"`)
	f.Fuzz(func(t *testing.T, body string) {
		clock := cachetest.NewClock()
		var answers [2][]string
		for i, fast := range [][numOps]fastPath{fastPaths, {}} {
			store, err := cache.NewMemory(cache.Options{Clock: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			h := newService(store, Config{}.withDefaults(), fast)
			for _, req := range []struct{ method, path, ifMatch string }{
				{http.MethodPut, "/v1/ns/f/keys/k", ""},
				{http.MethodPut, "/v1/ns/f/keys/k?mode=replace", ""},
				{http.MethodPut, "/v1/ns/f/keys/k", "*"},
				{http.MethodPost, "/v1/ns/f/keys/n:incr", ""},
				{http.MethodPost, "/v1/ns/f/keys:batchSet", ""},
				{http.MethodGet, "/v1/ns/f/keys/k", ""},
				{http.MethodGet, "/v1/ns/f/keys/n", ""},
				{http.MethodGet, "/v1/ns/f/keys/a", ""},
			} {
				r := httptest.NewRequest(req.method, req.path, strings.NewReader(body))
				if req.method != http.MethodGet {
					r.Header.Set("Content-Type", "application/json")
				}
				if req.ifMatch != "" {
					r.Header.Set("If-Match", req.ifMatch)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				w.Header().Del("X-Request-Id")
				answers[i] = append(answers[i], req.method+" "+req.path+" "+http.StatusText(w.Code)+" "+
					casID.ReplaceAllString(fmt.Sprint(w.Header())+" "+w.Body.String(), `"N"`))
			}
			_ = store.Close()
		}
		for j := range answers[0] {
			if answers[0][j] != answers[1][j] {
				t.Fatalf("body %q:\nfast      %s\ngenerated %s", body, answers[0][j], answers[1][j])
			}
		}
	})
}
