package cache

import (
	"fmt"
	"unicode/utf8"
)

const (
	// MaxKeyBytes is the longest key, key_prefix included, in bytes.
	MaxKeyBytes = 250
	// MaxNamespaceLen is the longest namespace name.
	MaxNamespaceLen = 100
	// DefaultNamespace is the wire name of the seed's empty namespace.
	DefaultNamespace = "default"
)

// Key addresses one item. Build it with NewKey so every key a Store sees is valid.
type Key struct {
	Namespace string
	Name      string // key_prefix + the caller's key
}

// NewKey validates a namespace and a key name (key_prefix already applied).
// An empty namespace is the seed's default one.
func NewKey(namespace, name string) (Key, error) {
	k, err := NewBinaryKey(namespace, name)
	if err != nil {
		return Key{}, err
	}
	if !utf8.ValidString(name) {
		return Key{}, fmt.Errorf("%w: key must be valid UTF-8", ErrInvalidArgument)
	}
	return k, nil
}

// NewBinaryKey is NewKey for names that are bytes rather than text, as
// memcached keys are (its base64 keys are binary): the name need not be
// UTF-8. HTTP, whose keys are JSON strings, reaches only the UTF-8 ones.
func NewBinaryKey(namespace, name string) (Key, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if err := ValidateNamespace(namespace); err != nil {
		return Key{}, err
	}
	switch {
	case name == "":
		return Key{}, fmt.Errorf("%w: key must not be empty", ErrInvalidArgument)
	case len(name) > MaxKeyBytes:
		return Key{}, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrKeyTooLong, len(name), MaxKeyBytes)
	}
	return Key{Namespace: namespace, Name: name}, nil
}

// ValidateNamespace checks the namespace grammar: 1–100 characters of [0-9A-Za-z._-].
func ValidateNamespace(ns string) error {
	if len(ns) == 0 || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("%w: namespace must be 1-%d characters", ErrInvalidArgument, MaxNamespaceLen)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: namespace may hold only [0-9A-Za-z._-]", ErrInvalidArgument)
		}
	}
	return nil
}
