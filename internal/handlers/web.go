package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/cors"
	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/memcached-http/memcached-http/internal/gen"
)

// DocsCSP is the Content-Security-Policy of /docs: the page runs only the
// embedded Swagger UI scripts, loads nothing from other origins, and may send
// requests ("Try it out") to this server alone.
const DocsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsPage is the Swagger UI page. Its script is a separate file, not inline,
// so the CSP needs no 'unsafe-inline'.
const docsPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>memcached-http API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="stylesheet" href="/docs/index.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`

// docsInit starts Swagger UI on the served contract. BaseLayout has no box to
// load another document, and validatorUrl null keeps the page from calling
// the public validator (which the CSP would block anyway).
const docsInit = `window.ui = SwaggerUIBundle({
  url: "/openapi.yaml",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
`

// docsAssets are the files of github.com/swaggo/files that the page uses;
// nothing else of that package (source maps, other bundles) is served.
var docsAssets = map[string]bool{
	"swagger-ui.css":       true,
	"swagger-ui-bundle.js": true,
	"index.css":            true,
	"favicon-32x32.png":    true,
	"favicon-16x16.png":    true,
}

// serveDocs serves Swagger UI at GET /docs (and /docs/) and its assets at
// /docs/{asset}, all from the binary.
func serveDocs(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.EscapedPath(), "/docs")
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		serveDocsPage(w, r)
		return
	}
	serveDocsAsset(w, r, name)
}

func docsHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", DocsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func serveDocsPage(w http.ResponseWriter, _ *http.Request) {
	docsHeaders(w)
	// The page is tiny and changes with the binary; revalidating it costs little.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(docsPage))
}

func serveDocsAsset(w http.ResponseWriter, r *http.Request, name string) {
	docsHeaders(w)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	switch {
	case name == "init.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write([]byte(docsInit))
	case docsAssets[name]:
		http.ServeFileFS(w, r, swaggerfiles.FS, name)
	default:
		w.Header().Del("Cache-Control")
		writeError(w, r, &apiError{status: http.StatusNotFound, code: gen.ErrorDetailCodeNotFound,
			reason: fmt.Sprintf("no docs asset %q", name), err: fmt.Errorf("handlers: no docs asset %q", name)})
	}
}

// corsExposed are the response headers scripts on other origins may read:
// the CAS token, the request id, a raw value's flags and the rate limiter's
// back-off and budget.
var corsExposed = []string{"ETag", "X-Request-Id", "Memcache-Flags", "Retry-After", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"}

// allowOrigins answers CORS requests from origins; with none it adds nothing,
// so browsers keep refusing cross-origin reads. It has to run before
// authentication, because preflight requests carry no credentials.
func allowOrigins(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete},
		AllowedHeaders: []string{"Accept", "Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-Id"},
		ExposedHeaders: corsExposed,
		// Browsers cap this (Chromium at 2 hours); 10 minutes keeps a
		// changed origin list from lingering long in caches.
		MaxAge: 600,
	})
}

// ParseCORSOrigins reads a comma-separated list of allowed origins:
// scheme://host[:port] each, with at most one * standing for any part of the
// host (https://*.example.com), or a lone * for every origin. Empty input
// allows none.
func ParseCORSOrigins(list string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			if err := checkOrigin(o); err != nil {
				return nil, err
			}
		}
		origins = append(origins, o)
	}
	return origins, nil
}

// checkOrigin refuses what a browser never sends as Origin (paths, trailing
// slashes, user info), since such an entry would silently match nothing.
func checkOrigin(origin string) error {
	if strings.Count(origin, "*") > 1 {
		return fmt.Errorf("handlers: CORS origin %q: at most one *", origin)
	}
	u, err := url.Parse(strings.Replace(origin, "*", "x", 1))
	switch {
	case err != nil:
		return fmt.Errorf("handlers: CORS origin %q: %w", origin, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("handlers: CORS origin %q: scheme must be http or https", origin)
	case u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("handlers: CORS origin %q: want scheme://host[:port] and nothing more", origin)
	}
	return nil
}
