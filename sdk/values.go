package sdk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// An item's flags record the Go value's type so it reads back as the same
// type. The low three bits are App Engine's TYPE_* numbers, shared with the
// Python SDK so either reads what the other wrote; bits 8-15 hold the Go
// reflect.Kind, which the Python SDK ignores.
const (
	flagTypeMask = 7
	typeBytes    = 0 // TYPE_STR: a byte string
	typeString   = 1 // TYPE_UNICODE: a text string
	typeInt      = 3 // TYPE_INT: an integer, a JSON number
	typeLong     = 4 // TYPE_LONG: an integer too big for 64 bits, a JSON digit string
	typeBool     = 5 // TYPE_BOOL
	typeJSON     = 6 // Go SDK only: any other value, as its JSON encoding
	kindShift    = 8
)

// wireValue is a Go value in its wire form.
type wireValue struct {
	value    json.RawMessage
	encoding *client.Encoding
	flags    uint32
}

// encodeValue gives the wire form of v: []byte as base64 bytes, strings,
// integers and bools as their JSON values (so incr and decr work on integers
// stored with Set), anything else as its JSON encoding.
func encodeValue(v any) (wireValue, error) {
	kind := uint32(0)
	if v != nil {
		kind = uint32(reflect.TypeOf(v).Kind()) << kindShift
	}
	switch x := v.(type) {
	case []byte:
		return bytesValue(x, typeBytes|kind), nil
	case string:
		// JSON would replace invalid UTF-8 with U+FFFD; bytes keep them.
		if !utf8.ValidString(x) {
			return bytesValue([]byte(x), typeString|kind), nil
		}
		return jsonValue(x, typeString|kind)
	case bool:
		return jsonValue(x, typeBool|kind)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return jsonValue(x, typeInt|kind)
	}
	return jsonValue(v, typeJSON|kind)
}

func bytesValue(b []byte, flags uint32) wireValue {
	enc := client.EncodingBase64
	text, _ := json.Marshal(base64.StdEncoding.EncodeToString(b)) // a string always marshals
	return wireValue{value: text, encoding: &enc, flags: flags}
}

func jsonValue(v any, flags uint32) (wireValue, error) {
	text, err := json.Marshal(v)
	if err != nil {
		return wireValue{}, invalidf("value of type %T: %v", v, err)
	}
	return wireValue{value: text, flags: flags}, nil
}

// item is a value read from the server, before it is decoded.
type item struct {
	raw     []byte // the bytes of a byte value, or the JSON text of a JSON value
	isBytes bool
	flags   uint32
	cas     uint64
}

// fromWire reads a wire item.
func fromWire(it client.Item) (item, error) {
	cas, err := strconv.ParseUint(it.Cas, 10, 64)
	if err != nil {
		return item{}, fmt.Errorf("%w: cas %q: %v", ErrServerError, it.Cas, err)
	}
	out := item{raw: it.Value, flags: it.Flags, cas: cas}
	if it.Encoding != nil && *it.Encoding == client.ItemEncodingBase64 {
		var text string
		if err := json.Unmarshal(it.Value, &text); err != nil {
			return item{}, fmt.Errorf("%w: base64 value: %v", ErrServerError, err)
		}
		if out.raw, err = base64.StdEncoding.DecodeString(text); err != nil {
			return item{}, fmt.Errorf("%w: base64 value: %v", ErrServerError, err)
		}
		out.isBytes = true
	}
	return out, nil
}

// decode stores the item's value in dst, a non-nil pointer, as json.Unmarshal
// does, with these additions: *any gets the Go type the writer stored (from
// the flags); *[]byte gets a byte value's bytes, a JSON string's text, or
// another JSON value's encoding; a byte value decodes into other types as the
// JSON text it holds (as App Engine Go's JSON codec stored it).
func (it item) decode(dst any) error {
	switch d := dst.(type) {
	case *any:
		v, err := it.value()
		if err != nil {
			return err
		}
		*d = v
		return nil
	case *[]byte:
		if it.isBytes {
			*d = bytes.Clone(it.raw)
			return nil
		}
		var s string
		if json.Unmarshal(it.raw, &s) == nil {
			*d = []byte(s)
			return nil
		}
		*d = bytes.Clone(it.raw)
		return nil
	case *string:
		if it.isBytes {
			*d = string(it.raw)
			return nil
		}
	}
	if v := reflect.ValueOf(dst); v.Kind() != reflect.Pointer || v.IsNil() {
		return invalidf("destination is a %T, not a non-nil pointer", dst)
	}
	if err := json.Unmarshal(it.raw, dst); err != nil {
		return fmt.Errorf("sdk: decode into %T: %w", dst, err)
	}
	return nil
}

// kindTypes are the Go types a number is rebuilt as, by the kind in its flags.
var kindTypes = map[reflect.Kind]reflect.Type{
	reflect.Int: reflect.TypeFor[int](), reflect.Int8: reflect.TypeFor[int8](),
	reflect.Int16: reflect.TypeFor[int16](), reflect.Int32: reflect.TypeFor[int32](),
	reflect.Int64: reflect.TypeFor[int64](), reflect.Uint: reflect.TypeFor[uint](),
	reflect.Uint8: reflect.TypeFor[uint8](), reflect.Uint16: reflect.TypeFor[uint16](),
	reflect.Uint32: reflect.TypeFor[uint32](), reflect.Uint64: reflect.TypeFor[uint64](),
	reflect.Float32: reflect.TypeFor[float32](), reflect.Float64: reflect.TypeFor[float64](),
}

// value rebuilds the value as the Go type its flags record: []byte, string,
// bool, the exact integer or float type, and for other JSON values what
// json.Unmarshal gives an any (map[string]any, []any, float64, …). Integers
// without a Go kind (written by the Python SDK, by a client that sets no
// flags, or created by Incr's initial value) come back as int64, or uint64
// above its range, and TYPE_LONG digit strings as *big.Int.
func (it item) value() (any, error) {
	typ := it.flags & flagTypeMask
	if it.isBytes {
		if typ == typeString {
			return string(it.raw), nil
		}
		return bytes.Clone(it.raw), nil
	}
	kind := reflect.Kind(it.flags >> kindShift & 0xff)
	if t, ok := kindTypes[kind]; ok {
		p := reflect.New(t)
		if json.Unmarshal(it.raw, p.Interface()) == nil {
			return p.Elem().Interface(), nil
		}
	}
	switch {
	case typ == typeInt, it.flags == 0: // no flags: another client's or a counter the server created
		if v, ok := plainInteger(it.raw); ok {
			return v, nil
		}
	case typ == typeLong:
		var digits string
		if json.Unmarshal(it.raw, &digits) == nil {
			if n, ok := new(big.Int).SetString(digits, 10); ok {
				return n, nil
			}
		}
	}
	var v any
	if err := json.Unmarshal(it.raw, &v); err != nil {
		return nil, fmt.Errorf("%w: value: %v", ErrServerError, err)
	}
	return v, nil
}

// plainInteger reads a JSON integer as int64, or as uint64 above its range.
func plainInteger(raw []byte) (any, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return nil, false
	}
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return i, true
	}
	if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
		return u, true
	}
	return nil, false
}
