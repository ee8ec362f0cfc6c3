// Package gen holds the chi server, strict server and models generated from
// api/openapi.yaml. Do not edit: change the spec and run go generate.
package gen

//go:generate go tool oapi-codegen -config cfg.yaml ../../api/openapi.yaml

// The Go SDK's wire client (sdk/client) is generated here too: the SDK is its
// own module, without the generator among its dependencies.
//go:generate go tool oapi-codegen -config ../../sdk/client/cfg.yaml ../../api/openapi.yaml
