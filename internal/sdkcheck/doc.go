// Package sdkcheck tests the Go SDK (its own module, in sdk/) against the
// real router over HTTP, on the embedded store with a fake clock. The tests
// live in the server's module because they need its internal packages, which
// the SDK's module must not depend on.
package sdkcheck
