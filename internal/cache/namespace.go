package cache

// Namespaces are App Engine's: a name is 0-100 characters of
// [0-9A-Za-z._-], and the empty name is App Engine's default namespace. On
// the wire (HTTP paths, token patterns) and in a Key, the empty namespace is
// spelled DefaultNamespace, `~`: no App Engine name can hold it, and it is
// unreserved in URLs, so it needs no percent-encoding. A namespace named
// "default" is therefore an ordinary one, apart from the empty namespace, as
// in App Engine. This file is the one place that spelling rule lives.
const (
	// MaxNamespaceLen is the longest namespace name.
	MaxNamespaceLen = 100
	// DefaultNamespace is App Engine's empty namespace as spelled on the
	// wire and held in Key.Namespace.
	DefaultNamespace = "~"
	// NamespaceGrammar is App Engine's namespace grammar, as error messages name it.
	NamespaceGrammar = "[0-9A-Za-z._-]{0,100}"
)

// ValidateNamespace checks an App Engine namespace name: 0-100 characters of
// [0-9A-Za-z._-] ("" is the empty namespace; `~` is not a name).
func ValidateNamespace(name string) error {
	if len(name) > MaxNamespaceLen {
		return Refuse(ErrInvalidArgument, "namespace of %d characters: App Engine namespaces are %s, and ~ is the empty namespace", len(name), NamespaceGrammar)
	}
	for i := 0; i < len(name); i++ {
		if !isNamespaceByte(name[i]) {
			return Refuse(ErrInvalidArgument, "namespace %q: App Engine namespaces are %s, and ~ is the empty namespace", name, NamespaceGrammar)
		}
	}
	return nil
}

// ParseNamespace reads a namespace as spelled on the wire, `~` for the empty
// namespace or else a non-empty App Engine name, and returns the spelling a
// Key holds (the same string).
func ParseNamespace(wire string) (string, error) {
	switch wire {
	case DefaultNamespace:
		return wire, nil
	case "":
		return "", Refuse(ErrInvalidArgument, "namespace is empty: App Engine's empty namespace is spelled ~, other namespaces are %s", NamespaceGrammar)
	}
	return wire, ValidateNamespace(wire)
}

// WireNamespace returns the wire spelling of an App Engine namespace name:
// `~` for "", the name itself otherwise.
func WireNamespace(name string) string {
	if name == "" {
		return DefaultNamespace
	}
	return name
}

func isNamespaceByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == '-'
}
