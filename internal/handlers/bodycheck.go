package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/memcached-http/memcached-http/internal/gen"
)

// The generated decoders (runtime.BindJSONBody) read one JSON value with
// encoding/json, which ignores data after it and unknown members, and turns
// invalid UTF-8 into U+FFFD (or, inside a json.RawMessage value, keeps it).
// checkJSON refuses all three before they run, on the body already read
// under the size limit: one UTF-8 scan, one syntax scan and one walk over
// member names, without decoding values.

// fields is the set of member names a request object may carry; a name's
// entry describes its value's members when the value is an object (or an
// array of objects), and is nil when the value is free (a stored value, the
// offsets map, a scalar).
type fields map[string]fields

// requestFields are the members each JSON-bodied operation accepts, read
// from the generated request types so they follow the spec.
var requestFields = [numOps]fields{
	opSet:         fieldsOf(reflect.TypeFor[gen.SetJSONRequestBody]()),
	opIncr:        fieldsOf(reflect.TypeFor[gen.IncrJSONRequestBody]()),
	opDecr:        fieldsOf(reflect.TypeFor[gen.DecrJSONRequestBody]()),
	opGetMulti:    fieldsOf(reflect.TypeFor[gen.GetMultiJSONRequestBody]()),
	opSetMulti:    fieldsOf(reflect.TypeFor[gen.SetMultiJSONRequestBody]()),
	opDeleteMulti: fieldsOf(reflect.TypeFor[gen.DeleteMultiJSONRequestBody]()),
	opOffsetMulti: fieldsOf(reflect.TypeFor[gen.OffsetMultiJSONRequestBody]()),
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// fieldsOf lists the JSON member names of struct type t, recursing into
// struct and slice-of-struct members.
func fieldsOf(t reflect.Type) fields {
	out := fields{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice && ft != rawMessage {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out[name] = fieldsOf(ft)
		} else {
			out[name] = nil
		}
	}
	return out
}

// checkJSON refuses a body that is not one JSON value of valid UTF-8, or an
// object with a member its operation does not know. An empty body passes:
// the operations that allow one (incr, decr) take their defaults, the
// others fail in the generated decoder.
func checkJSON(data []byte, want fields) error {
	if len(bytes.TrimLeft(data, " \t\r\n")) == 0 {
		return nil
	}
	if !utf8.Valid(data) {
		return invalid("", "the request body is not valid UTF-8")
	}
	if !json.Valid(data) {
		var v json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&v); err != nil {
			return invalid("", "the request body is not valid JSON: %v", err)
		}
		return invalid("", "the request body has data after its JSON value, at byte %d", dec.InputOffset())
	}
	w := walker{data: data}
	w.ws()
	if w.data[w.i] != '{' {
		return nil // the generated decoder names the type mismatch
	}
	return w.object(want, "", -1)
}

// walker reads member names of JSON that json.Valid has accepted, so it
// never meets malformed input.
type walker struct {
	data []byte
	i    int
}

func (w *walker) ws() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// str consumes a string and returns it quotes included.
func (w *walker) str() []byte {
	start := w.i
	for w.i++; w.data[w.i] != '"'; w.i++ {
		if w.data[w.i] == '\\' {
			w.i++
		}
	}
	w.i++
	return w.data[start:w.i]
}

// skip consumes one value.
func (w *walker) skip() {
	w.ws()
	switch w.data[w.i] {
	case '"':
		w.str()
	case '{', '[':
		depth := 0
		for {
			switch w.data[w.i] {
			case '"':
				w.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			w.i++
			if depth == 0 {
				return
			}
		}
	default:
		for w.i < len(w.data) && strings.IndexByte(",}] \t\r\n", w.data[w.i]) < 0 {
			w.i++
		}
	}
}

// object walks the object at w.i, refusing members not in want. Its wire
// path is parent, or parent[idx] for an array element (idx >= 0); paths
// are built only for an error or a nested schema, so a valid body costs no
// allocation here.
func (w *walker) object(want fields, parent string, idx int) error {
	w.i++ // {
	for {
		w.ws()
		switch w.data[w.i] {
		case '}':
			w.i++
			return nil
		case ',':
			w.i++
			w.ws()
		}
		quoted := w.str()
		raw := quoted[1 : len(quoted)-1]
		sub, known := want[string(raw)]
		if !known && bytes.IndexByte(raw, '\\') >= 0 {
			// Escaped names are rare; encoding/json reads them as their text.
			var name string
			_ = json.Unmarshal(quoted, &name)
			sub, known = want[name]
			raw = []byte(name)
		}
		if !known {
			field := memberPath(parent, idx, string(raw))
			return invalid(field, "unknown field %s", strconv.Quote(field))
		}
		w.ws()
		w.i++ // :
		w.ws()
		var err error
		switch {
		case sub != nil && w.data[w.i] == '{':
			err = w.object(sub, memberPath(parent, idx, string(raw)), -1)
		case sub != nil && w.data[w.i] == '[':
			err = w.array(sub, memberPath(parent, idx, string(raw)))
		default:
			w.skip()
		}
		if err != nil {
			return err
		}
	}
}

// memberPath is the wire path of member name in the object at parent
// (element idx of it when idx >= 0).
func memberPath(parent string, idx int, name string) string {
	if idx >= 0 {
		parent += "[" + strconv.Itoa(idx) + "]"
	}
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// array walks an array whose object elements must carry members of want.
func (w *walker) array(want fields, path string) error {
	w.i++ // [
	for n := 0; ; n++ {
		w.ws()
		switch w.data[w.i] {
		case ']':
			w.i++
			return nil
		case ',':
			w.i++
			w.ws()
		}
		if w.data[w.i] != '{' {
			w.skip()
			continue
		}
		if err := w.object(want, path, n); err != nil {
			return err
		}
	}
}

// readBody reads a JSON request body into buf (grown to its declared
// length), replaces r.Body with the bytes read, and checks them for op. It
// answers the error itself and reports false when the body is refused.
func readBody(w http.ResponseWriter, r *http.Request, buf *[]byte, o op) ([]byte, bool) {
	if r.ContentLength > 0 {
		*buf = growTo(*buf, int(r.ContentLength)+1)
	}
	data, err := readAll(*buf, r.Body)
	*buf = data[:0]
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, r, tooLarge(r, err))
		} else {
			writeError(w, r, badRequest("", "the request body could not be read", fmt.Errorf("read body: %w", err)))
		}
		return nil, false
	}
	if err := checkJSON(data, requestFields[o]); err != nil {
		writeError(w, r, err)
		return nil, false
	}
	body := new(replayBody)
	body.Reset(data)
	r.Body = body
	return data, true
}

// replayBody replays a body already read: a bytes.Reader with Close, in one
// allocation.
type replayBody struct{ bytes.Reader }

func (*replayBody) Close() error { return nil }

func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b
	}
	return make([]byte, 0, n)
}
