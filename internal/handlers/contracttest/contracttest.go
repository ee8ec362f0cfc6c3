// Package contracttest checks HTTP responses against api/openapi.yaml, so
// every test that talks to the service also pins the contract.
package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/api"
)

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// Spec returns the embedded contract, loaded and validated once.
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		spec, specErr = openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if specErr == nil {
			specErr = spec.Validate(context.Background())
		}
	})
	require.NoError(t, specErr)
	return spec
}

// Check asserts that one response to r is what the contract allows: a
// declared status with its declared headers and body schema. Responses that
// match no operation must be the router's 404 or 405 in the error shape.
func Check(t testing.TB, r *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	doc := Spec(t)
	rt, params := route(doc, r.Method, r.URL.EscapedPath())
	if rt == nil {
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, status)
		var v any
		require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
		assert.NoError(t, doc.Components.Schemas["Error"].Value.VisitJSON(v), "body: %s", body)
		return
	}
	assert.NotEqual(t, http.StatusInternalServerError, status, "body: %s", body)
	if status == http.StatusNotModified {
		// kin-openapi does not validate 304s; the contract gives them no body and an ETag.
		assert.Empty(t, body, "304 carries no body")
		assert.NotEmpty(t, header.Get("ETag"))
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: rt},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input),
		"%s %s → %d %s", r.Method, r.URL.EscapedPath(), status, body)
}

// Do sends req with client, checks the response with Check, and returns it
// with its body read.
func Do(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	Check(t, req, resp.StatusCode, resp.Header, body)
	return resp, body
}

// templates turns the spec's path templates into patterns once.
var templates = regexp.MustCompile(`\\\{[^}]+\\\}`)

// route finds the operation a request addresses the way the server does: the
// key is the rest of the path, and a final :incr/:decr on POST picks the method.
func route(doc *openapi3.T, method, escaped string) (*routers.Route, map[string]string) {
	if rest, ok := strings.CutPrefix(escaped, "/v1/ns/"); ok {
		if ns, tail, ok := strings.Cut(rest, "/"); ok {
			if key, ok := strings.CutPrefix(tail, "keys/"); ok {
				path := "/v1/ns/{namespace}/keys/{key}"
				if method == http.MethodPost {
					for _, verb := range []string{":incr", ":decr"} {
						if k, ok := strings.CutSuffix(key, verb); ok {
							path, key = path+verb, k
							break
						}
					}
				}
				return operation(doc, method, path), map[string]string{"namespace": ns, "key": key}
			}
		}
	}
	for path := range doc.Paths.Map() {
		if strings.Contains(path, "{key}") {
			continue
		}
		pattern := "^" + templates.ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + "$"
		if regexp.MustCompile(pattern).MatchString(escaped) {
			return operation(doc, method, path), nil
		}
	}
	return nil, nil
}

func operation(doc *openapi3.T, method, path string) *routers.Route {
	item := doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return nil
	}
	return &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}
}
