// Package client holds the HTTP client and models generated from
// api/openapi.yaml for the Go SDK. Do not edit: change the spec and run go generate.
package client

//go:generate go tool oapi-codegen -config cfg.yaml ../../api/openapi.yaml
