// Package gen holds the chi server, strict server and models generated from
// api/openapi.yaml. Do not edit: change the spec and run go generate.
package gen

//go:generate go tool oapi-codegen -config cfg.yaml ../../api/openapi.yaml
