package cache

import (
	"unicode/utf8"
)

// MaxKeyBytes is the longest key, key_prefix included, in bytes.
const MaxKeyBytes = 250

// Key addresses one item. Build it with NewKey so every key a Store sees is valid.
type Key struct {
	Namespace string // as spelled on the wire: DefaultNamespace (`~`) for App Engine's empty one
	Name      string // key_prefix + the caller's key
}

// NewKey validates a namespace and a key name (key_prefix already applied).
// The namespace is an App Engine name ("" for the empty namespace) or its
// wire spelling (`~` for the empty namespace).
func NewKey(namespace, name string) (Key, error) {
	in, err := InNamespace(namespace)
	if err != nil {
		return Key{}, err
	}
	return in.Key(name)
}

// NewBinaryKey is NewKey for names that are bytes rather than text, as
// memcached keys are (its base64 keys are binary): the name need not be
// UTF-8. HTTP, whose keys are JSON strings, reaches only the UTF-8 ones.
func NewBinaryKey(namespace, name string) (Key, error) {
	in, err := InNamespace(namespace)
	if err != nil {
		return Key{}, err
	}
	return in.BinaryKey(name)
}

// Namespaced builds the keys of one validated namespace: a batch's keys
// share theirs, so it is checked once, not once per key.
type Namespaced struct{ wire string }

// InNamespace validates a namespace as NewKey does and returns the builder
// of its keys.
func InNamespace(namespace string) (Namespaced, error) {
	wire, err := ParseNamespace(WireNamespace(namespace))
	if err != nil {
		return Namespaced{}, err
	}
	return Namespaced{wire: wire}, nil
}

// Key is NewKey in this namespace.
func (n Namespaced) Key(name string) (Key, error) {
	k, err := n.BinaryKey(name)
	if err != nil {
		return Key{}, err
	}
	if !utf8.ValidString(name) {
		return Key{}, Refuse(ErrInvalidArgument, "key must be valid UTF-8")
	}
	return k, nil
}

// BinaryKey is NewBinaryKey in this namespace.
func (n Namespaced) BinaryKey(name string) (Key, error) {
	switch {
	case n.wire == "":
		return Key{}, Refuse(ErrInvalidArgument, "namespace not validated: build keys with InNamespace")
	case name == "":
		return Key{}, Refuse(ErrInvalidArgument, "key must not be empty")
	case len(name) > MaxKeyBytes:
		return Key{}, Refuse(ErrKeyTooLong, "%d bytes, at most %d allowed", len(name), MaxKeyBytes)
	}
	return Key{Namespace: n.wire, Name: name}, nil
}
