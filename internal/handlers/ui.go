package handlers

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/memcached-http/memcached-http/internal/gen"
	"github.com/memcached-http/memcached-http/internal/ui"
)

// UICSP is the Content-Security-Policy of the dashboard at /ui: like /docs,
// it runs only its embedded scripts, loads nothing from other origins and
// sends requests to this server alone. The charts draw on canvases; their
// inline styles are set through the DOM, which the policy allows, never
// through style attributes or elements.
const UICSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveUI serves the dashboard at GET /ui (and /ui/) and its assets at
// /ui/{asset}, from internal/ui's embedded files.
func serveUI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.EscapedPath(), "/ui")
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", UICSP)
	h.Set("Referrer-Policy", "no-referrer")
	if st, err := fs.Stat(ui.Files, name); err != nil || st.IsDir() {
		writeError(w, r, &apiError{status: http.StatusNotFound, code: gen.ErrorDetailCodeNotFound,
			reason: fmt.Sprintf("no dashboard asset %q", name), err: fmt.Errorf("handlers: no dashboard asset %q", name)})
		return
	}
	// Asset names do not change with their content, and the binary may be
	// replaced under them: revalidating costs one request per file.
	h.Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, ui.Files, name)
}
