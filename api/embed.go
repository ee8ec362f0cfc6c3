// Package api embeds the OpenAPI contract so the binary serves exactly the
// document it was built from.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml as committed.
//
//go:embed openapi.yaml
var OpenAPI []byte
