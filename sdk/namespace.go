package sdk

import (
	"context"
	"regexp"
)

// Namespaces are App Engine's: a name is [0-9A-Za-z._-]{0,100} and "" is the
// empty namespace. The server spells the empty namespace `~` (a spelling no
// name can have), so "" and "default" stay two namespaces; this file is the
// one place the client maps between them.

// wireEmptyNamespace is how the empty namespace is spelled in request paths.
const wireEmptyNamespace = "~"

// namespacePattern is App Engine's namespace grammar, checked here so a bad
// name fails before any request.
var namespacePattern = regexp.MustCompile(`^[0-9A-Za-z._-]{0,100}$`)

// namespaceKey is the context key of the namespace set by Namespace.
type namespaceKey struct{}

// Namespace returns a copy of ctx whose calls use namespace when they carry
// no WithNamespace option, as App Engine Go's appengine.Namespace does; ""
// is App Engine's empty namespace. A name outside [0-9A-Za-z._-]{0,100}
// fails with ErrInvalidArgument.
func Namespace(ctx context.Context, namespace string) (context.Context, error) {
	if _, err := wireNamespace(namespace); err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, namespaceKey{}, namespace), nil
}

// NamespaceFromContext returns the namespace Namespace put in ctx, or "" (the
// empty namespace) when there is none.
func NamespaceFromContext(ctx context.Context) string {
	ns, _ := ctx.Value(namespaceKey{}).(string)
	return ns
}

// wireNamespace validates an App Engine namespace name and returns its
// spelling in request paths: `~` for "".
func wireNamespace(namespace string) (string, error) {
	if !namespacePattern.MatchString(namespace) {
		return "", invalidf(`namespace %q: App Engine namespaces are [0-9A-Za-z._-]{0,100}, and "" is the empty namespace`, namespace)
	}
	if namespace == "" {
		return wireEmptyNamespace, nil
	}
	return namespace, nil
}
