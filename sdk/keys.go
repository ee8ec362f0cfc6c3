package sdk

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"reflect"
	"slices"
	"unicode/utf8"
)

// maxKeySize is the longest key the server accepts, in bytes after the prefix.
const maxKeySize = 250

// Key is App Engine's (hash_value, key) pair. Every method taking a key accepts
// a string, a []byte or a Key; the hash is ignored, since the server places
// keys itself.
type Key struct {
	Hash int    // ignored, kept so ported code compiles unchanged
	Name string // the key
}

// wireKey is one caller key resolved for the wire.
type wireKey struct {
	name string // the caller's key, as results are keyed
	wire string // prefix + name, or its SHA-1 when that cannot travel as is
}

// resolveKey resolves one caller key (string, []byte or Key) under prefix.
// A prefixed key over 250 bytes, or not valid UTF-8, is replaced by the hex
// SHA-1 of its bytes, as App Engine's Python client did for long keys, so
// ported code keeps working (and both SDKs find the same item).
func resolveKey(key any, prefix string) (wireKey, error) {
	var name string
	switch k := key.(type) {
	case string:
		name = k
	case []byte:
		name = string(k)
	case Key:
		name = k.Name
	default:
		// Named string types (type UserID string) are keys too.
		v := reflect.ValueOf(key)
		if v.Kind() != reflect.String {
			return wireKey{}, invalidf("key %v is a %T, not a string, []byte or Key", key, key)
		}
		name = v.String()
	}
	if name == "" {
		return wireKey{}, invalidf("empty key")
	}
	wire := prefix + name
	if len(wire) > maxKeySize || !utf8.ValidString(wire) {
		sum := sha1.Sum([]byte(wire))
		wire = hex.EncodeToString(sum[:])
	}
	return wireKey{name: name, wire: wire}, nil
}

// resolveKeys resolves a list of keys: a slice of strings, []byte, Keys, or
// of any holding those. Repeated keys are sent once.
func resolveKeys(keys any, prefix string) ([]wireKey, error) {
	v := reflect.ValueOf(keys)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return nil, invalidf("keys are a %T, not a slice", keys)
	}
	out := make([]wireKey, 0, v.Len())
	seen := make(map[string]bool, v.Len())
	for i := range v.Len() {
		k, err := resolveKey(v.Index(i).Interface(), prefix)
		if err != nil {
			return nil, err
		}
		if !seen[k.wire] {
			seen[k.wire] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// mapEntry is one key and value of a caller's mapping.
type mapEntry struct {
	key   wireKey
	value any
}

// resolveMapping resolves a mapping of keys to values: any map whose keys are
// strings, Keys, or any holding a string, []byte or Key. Entries come back
// sorted by wire key, so requests do not depend on map order.
func resolveMapping(mapping any, prefix string) ([]mapEntry, error) {
	v := reflect.ValueOf(mapping)
	if v.Kind() != reflect.Map {
		return nil, invalidf("mapping is a %T, not a map", mapping)
	}
	out := make([]mapEntry, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		k, err := resolveKey(it.Key().Interface(), prefix)
		if err != nil {
			return nil, err
		}
		out = append(out, mapEntry{key: k, value: it.Value().Interface()})
	}
	slices.SortFunc(out, func(a, b mapEntry) int { return cmp.Compare(a.key.wire, b.key.wire) })
	return out, nil
}
