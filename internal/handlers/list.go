package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// defaultListLimit is a page's size when the request names none.
const defaultListLimit = 100

// serveListKeys hands GET /v1/ns/{namespace}/keys to the generated wrapper,
// which binds the query, with the namespace cut from the raw path.
func (s *service) serveListKeys(w http.ResponseWriter, r *http.Request, m *match) {
	ns, err := url.PathUnescape(m.ns)
	if err != nil {
		writeError(w, r, invalid("namespace", "namespace is not percent-encoded correctly: %v", err))
		return
	}
	rctx := chi.NewRouteContext()
	rctx.URLParams.Add("namespace", ns)
	r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
	u := *r.URL
	u.RawPath = "" // the namespace is unescaped already
	r.URL = &u
	s.ops.ListKeys(w, r)
}

// ListKeys serves one page of a namespace's keys (the dashboard's key browser).
func (s *Server) ListKeys(ctx context.Context, req gen.ListKeysRequestObject) (gen.ListKeysResponseObject, error) {
	if _, err := cache.ParseNamespace(req.Namespace); err != nil {
		return nil, onField("namespace", err)
	}
	opts := cache.ListOptions{Namespace: req.Namespace, Prefix: deref(req.Params.Prefix), Limit: defaultListLimit, Cursor: deref(req.Params.Cursor)}
	if req.Params.Limit != nil {
		opts.Limit = *req.Params.Limit
	}
	if err := cache.CheckListLimit(opts.Limit); err != nil {
		return nil, onField("limit", err)
	}
	if err := cache.CheckListPrefix(opts.Prefix); err != nil {
		return nil, onField("prefix", err)
	}
	page, err := s.store.ListKeys(ctx, opts)
	if err != nil {
		// Namespace, limit and prefix passed above: what is left to refuse is the cursor.
		if status, _ := classify(err); status == http.StatusBadRequest {
			return nil, onField("cursor", fmt.Errorf("list_keys: %w", err))
		}
		return nil, fmt.Errorf("list_keys: %w", err)
	}
	body := gen.KeyList{Keys: make([]gen.KeyInfo, len(page.Keys)), Now: time.Now().Unix()}
	for i, k := range page.Keys {
		body.Keys[i] = keyInfo(k)
	}
	if page.Next != "" {
		body.NextCursor = &page.Next
	}
	return gen.ListKeys200JSONResponse{Body: body, Headers: gen.ListKeys200ResponseHeaders{CacheControl: noStore}}, nil
}

// keyInfo is the wire form of a listed item.
func keyInfo(k cache.KeyInfo) gen.KeyInfo {
	info := gen.KeyInfo{
		Key:   k.Name,
		Size:  k.Size,
		Kind:  gen.KeyInfoKindJson,
		Flags: k.Flags,
		Cas:   fmt.Sprint(k.CAS),
	}
	if k.Kind == cache.KindBytes {
		info.Kind = gen.KeyInfoKindBytes
	}
	if k.Expires != 0 {
		info.Expires = &k.Expires
	}
	if !utf8.ValidString(k.Name) { // a binary memcached key: text for people, bytes for programs
		info.Key = strings.ToValidUTF8(k.Name, "\uFFFD")
		raw := []byte(k.Name)
		info.KeyBase64 = &raw
	}
	return info
}

// ListNamespaces serves the namespaces holding live items.
func (s *Server) ListNamespaces(ctx context.Context, _ gen.ListNamespacesRequestObject) (gen.ListNamespacesResponseObject, error) {
	nss, truncated, err := s.store.Namespaces(ctx, cache.MaxNamespaces)
	if err != nil {
		return nil, fmt.Errorf("list_namespaces: %w", err)
	}
	body := gen.NamespaceList{Namespaces: make([]gen.NamespaceInfo, len(nss)), Truncated: truncated}
	for i, ns := range nss {
		body.Namespaces[i] = gen.NamespaceInfo{Namespace: ns.Name, Items: ns.Items}
	}
	return gen.ListNamespaces200JSONResponse{Body: body, Headers: gen.ListNamespaces200ResponseHeaders{CacheControl: noStore}}, nil
}
