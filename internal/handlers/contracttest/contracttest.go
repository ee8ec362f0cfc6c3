// Package contracttest checks HTTP responses against api/openapi.yaml, so
// every test that talks to the service also pins the contract.
package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	rt, params := Route(doc, r.Method, r.URL.EscapedPath())
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

// Route finds the operation of the spec a request addresses, and its path
// parameters (still escaped), from the spec's own path templates alone,
// never from server code. A template matches when its literal parts match
// and each parameter spans one path segment, except {key}, which spans the
// rest of the path as "Keys in paths" in the spec's description says (so a
// key may hold '/'). When several templates match (/keys/{key} and
// /keys/{key}:incr both match …/keys/a:incr), the ones defining the
// method are kept; the most literal of those wins. Parameters may be empty
// here: the operation, not the router, refuses an empty key or namespace.
func Route(doc *openapi3.T, method, escaped string) (*routers.Route, map[string]string) {
	if method == http.MethodHead {
		method = http.MethodGet // the spec's description: HEAD works wherever GET does
	}
	var best *routers.Route
	var bestParams map[string]string
	bestLiteral := -1
	for _, t := range compiled(doc) {
		sub := t.re.FindStringSubmatch(escaped)
		if sub == nil {
			continue
		}
		rt := operation(doc, method, t.path)
		if rt == nil {
			continue
		}
		if t.literal > bestLiteral {
			params := map[string]string{}
			for i, name := range t.re.SubexpNames() {
				if name != "" {
					params[name] = sub[i]
				}
			}
			best, bestParams, bestLiteral = rt, params, t.literal
		}
	}
	return best, bestParams
}

// PathKnown reports whether some template of the spec matches the path,
// whatever the method: a request there with another method is a 405.
func PathKnown(doc *openapi3.T, escaped string) bool {
	for _, t := range compiled(doc) {
		if t.re.MatchString(escaped) {
			return true
		}
	}
	return false
}

// spanning are the path parameters that take the rest of the path.
var spanning = map[string]bool{"key": true}

type template struct {
	path    string
	re      *regexp.Regexp
	literal int // literal characters: more is more specific
}

var (
	templatesOnce sync.Once
	templates     []template
	param         = regexp.MustCompile(`\{([^}]+)\}`)
)

func compiled(doc *openapi3.T) []template {
	templatesOnce.Do(func() {
		for path := range doc.Paths.Map() {
			var b strings.Builder
			b.WriteString("^")
			last := 0
			for _, loc := range param.FindAllStringSubmatchIndex(path, -1) {
				b.WriteString(regexp.QuoteMeta(path[last:loc[0]]))
				name := path[loc[2]:loc[3]]
				if spanning[name] {
					fmt.Fprintf(&b, "(?P<%s>.*)", name)
				} else {
					fmt.Fprintf(&b, "(?P<%s>[^/]*)", name)
				}
				last = loc[1]
			}
			b.WriteString(regexp.QuoteMeta(path[last:]))
			b.WriteString("$")
			templates = append(templates, template{path: path, re: regexp.MustCompile(b.String()),
				literal: len(param.ReplaceAllString(path, ""))})
		}
	})
	return templates
}

func operation(doc *openapi3.T, method, path string) *routers.Route {
	item := doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return nil
	}
	return &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}
}
