// Package client holds the HTTP client and models generated from
// api/openapi.yaml for the Go SDK. Do not edit: change the spec and run
// go generate ./... at the repository root (the generator is a tool of the
// server's module, internal/gen/generate.go, so the SDK's module needs none).
package client
