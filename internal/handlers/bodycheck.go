package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
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

// arrayMembers are the members whose value is an array of objects (items),
// filled in by fieldsOf.
var arrayMembers = map[string]bool{}

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
			if f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Slice {
				arrayMembers[name] = true
			}
		} else {
			out[name] = nil
		}
	}
	return out
}

// checkJSON refuses a body that is not one JSON value of valid UTF-8, an
// object with a member its operation does not know, or any object in it
// (stored values and the offsets map included) that names a member twice:
// encoding/json keeps the last of two, other parsers the first, so what was
// meant is a guess. An empty body passes: the operations that allow one
// (incr, decr) take their defaults, the others fail in the generated decoder.
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
	if e := w.object(want, false); e != nil {
		if e.duplicate {
			return invalid(e.field, "%s is given twice; send each member once", strconv.Quote(e.field))
		}
		known, objectForArray := fieldsAt(want, e.field)
		if objectForArray {
			return nil // the generated decoder names the type mismatch: items must be an array
		}
		return unknownMember(e.field, known, want)
	}
	return nil
}

// memberError is what the walk refused: an unknown or a repeated member.
// field is its wire path (items[1].time), built as the walk unwinds, so a
// valid body costs no path building.
type memberError struct {
	field     string
	duplicate bool
}

// within prefixes the path of e with the member or element holding it.
func (e *memberError) within(outer string) *memberError {
	switch {
	case e.field == "":
		e.field = outer
	case e.field[0] == '[':
		e.field = outer + e.field
	default:
		e.field = outer + "." + e.field
	}
	return e
}

// walker reads JSON that json.Valid has accepted, so it never meets
// malformed input.
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

// value walks one value. Objects in it are checked against want unless
// open (a stored value, the offsets map, a member typed as a scalar: any
// member names, but each once).
func (w *walker) value(want fields, open bool) *memberError {
	w.ws()
	switch w.data[w.i] {
	case '{':
		return w.object(want, open)
	case '[':
		return w.array(want, open)
	case '"':
		w.str()
	default:
		for w.i < len(w.data) && strings.IndexByte(",}] \t\r\n", w.data[w.i]) < 0 {
			w.i++
		}
	}
	return nil
}

// smallObject is how many member names an object's duplicate check keeps
// on the stack before it moves them to a nameSet.
const smallObject = 16

// object walks the object at w.i, refusing a repeated member and, unless
// open, a member not in want.
func (w *walker) object(want fields, open bool) *memberError {
	var small [smallObject][2]int32 // unescaped names so far, as ranges of data
	n := 0
	var many *nameSet // every name, once there are many or one is escaped
	defer func() {
		if many != nil {
			many.release()
		}
	}()
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
		start := w.i + 1
		quoted := w.str()
		raw := quoted[1 : len(quoted)-1]
		escaped := bytes.IndexByte(raw, '\\') >= 0
		name := ""
		if escaped {
			name = unquote(quoted)
		}
		if escaped || many != nil || n == smallObject {
			if many == nil {
				many = newNameSet(w.data)
				for _, r := range small[:n] {
					many.add(nameSpan{start: r[0], end: r[1]})
				}
			}
			span := nameSpan{start: int32(start), end: int32(start + len(raw))}
			if escaped {
				span = many.escaped(name)
			}
			if many.add(span) {
				if !escaped {
					name = string(raw)
				}
				return &memberError{field: name, duplicate: true}
			}
		} else {
			for _, r := range small[:n] {
				if bytes.Equal(w.data[r[0]:r[1]], raw) {
					return &memberError{field: string(raw), duplicate: true}
				}
			}
			small[n] = [2]int32{int32(start), int32(start + len(raw))}
			n++
		}
		var sub fields
		subOpen := open
		if !open {
			var known bool
			if escaped {
				sub, known = want[name]
			} else {
				sub, known = want[string(raw)]
			}
			if !known {
				if !escaped {
					name = string(raw)
				}
				return &memberError{field: name}
			}
			subOpen = sub == nil
		}
		w.ws()
		w.i++ // :
		if e := w.value(sub, subOpen); e != nil {
			if !escaped {
				name = string(raw)
			}
			return e.within(name)
		}
	}
}

// unquote is the text of an escaped member name, as encoding/json reads it.
// Escaped names are rare; the variable it decodes into lives on the heap,
// so it is not object's own (which would then be, for every member).
func unquote(quoted []byte) string {
	var name string
	_ = json.Unmarshal(quoted, &name)
	return name
}

// nameSet is the set of an object's member names for the duplicate check
// of an object with many: an open-addressed table of indexes into their
// spans, pooled, so checking a large stored value allocates nothing in
// proportion to it (a map of strings did: its keys were copies).
type nameSet struct {
	data  []byte // the text the unescaped names are spans of
	esc   []byte // the escaped names, unescaped
	spans []nameSpan
	slots []int32 // 1 + an index into spans; 0 is free; a power of two long
}

// nameSpan is a name's bytes in data, or in esc when esc is set.
type nameSpan struct {
	start, end int32
	esc        bool
}

// maxPooledSlots bounds the table a released nameSet keeps (4 MiB).
const maxPooledSlots = 1 << 20

var (
	nameSets = sync.Pool{New: func() any { return new(nameSet) }}
	nameSeed = maphash.MakeSeed()
)

func newNameSet(data []byte) *nameSet {
	s := nameSets.Get().(*nameSet)
	s.data, s.esc, s.spans, s.slots = data, s.esc[:0], s.spans[:0], s.slots[:0]
	return s
}

func (s *nameSet) release() {
	if cap(s.slots) > maxPooledSlots {
		return
	}
	s.data = nil
	nameSets.Put(s)
}

func (s *nameSet) bytes(n nameSpan) []byte {
	if n.esc {
		return s.esc[n.start:n.end]
	}
	return s.data[n.start:n.end]
}

// escaped keeps the text of an escaped name and returns its span.
func (s *nameSet) escaped(name string) nameSpan {
	start := len(s.esc)
	s.esc = append(s.esc, name...)
	return nameSpan{start: int32(start), end: int32(len(s.esc)), esc: true}
}

// add adds a name and reports whether it was in the set already.
func (s *nameSet) add(name nameSpan) bool {
	if 2*(len(s.spans)+1) > len(s.slots) {
		s.grow()
	}
	b := s.bytes(name)
	mask := len(s.slots) - 1
	for i := int(maphash.Bytes(nameSeed, b)) & mask; ; i = (i + 1) & mask {
		j := s.slots[i]
		if j == 0 {
			s.spans = append(s.spans, name)
			s.slots[i] = int32(len(s.spans))
			return false
		}
		if bytes.Equal(s.bytes(s.spans[j-1]), b) {
			return true
		}
	}
}

// grow doubles the table and puts every name back in it.
func (s *nameSet) grow() {
	n := max(4*smallObject, 2*len(s.slots))
	if cap(s.slots) >= n {
		s.slots = s.slots[:n]
		clear(s.slots)
	} else {
		s.slots = make([]int32, n)
	}
	mask := n - 1
	for k, sp := range s.spans {
		i := int(maphash.Bytes(nameSeed, s.bytes(sp))) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = int32(k + 1)
	}
}

// array walks an array; object elements are checked against want unless open.
func (w *walker) array(want fields, open bool) *memberError {
	w.i++ // [
	for n := 0; ; n++ {
		w.ws()
		switch w.data[w.i] {
		case ']':
			w.i++
			return nil
		case ',':
			w.i++
		}
		if e := w.value(want, open); e != nil {
			return e.within("[" + strconv.Itoa(n) + "]")
		}
	}
}

// pathAt is the wire path (items[1].flags, offsets.hits) of the innermost
// value of data, JSON that checkJSON accepted, whose bytes end at or after
// off and begin before it: the value a json.UnmarshalTypeError's Offset
// points into. encoding/json's own Field has no array indexes and stops at
// a map ("items.flags", "offsets"). It is "" when no value holds off.
func pathAt(data []byte, off int) string {
	w := walker{data: data}
	path, _ := w.pathAt(off, "")
	return path
}

func (w *walker) pathAt(off int, path string) (string, bool) {
	w.ws()
	if w.i >= len(w.data) {
		return "", false
	}
	start := w.i
	switch w.data[w.i] {
	case '{':
		w.i++
		for {
			w.ws()
			switch w.data[w.i] {
			case '}':
				w.i++
				return path, start < off && off <= w.i
			case ',':
				w.i++
				w.ws()
			}
			name := unquote(w.str())
			w.ws()
			w.i++ // :
			inner := name
			if path != "" {
				inner = path + "." + name
			}
			if p, ok := w.pathAt(off, inner); ok {
				return p, true
			}
		}
	case '[':
		w.i++
		for n := 0; ; n++ {
			w.ws()
			switch w.data[w.i] {
			case ']':
				w.i++
				return path, start < off && off <= w.i
			case ',':
				w.i++
			}
			if p, ok := w.pathAt(off, path+"["+strconv.Itoa(n)+"]"); ok {
				return p, true
			}
		}
	case '"':
		w.str()
	default:
		for w.i < len(w.data) && strings.IndexByte(",}] \t\r\n", w.data[w.i]) < 0 {
			w.i++
		}
	}
	return path, start < off && off <= w.i
}

// maxUpFront bounds the buffer grown from a declared Content-Length before
// its bytes arrive; beyond it the buffer grows with the bytes read.
const maxUpFront = 1 << 20

// readRaw reads a request body into buf, whose storage the caller keeps
// until the request is answered. It answers a read error itself (413 past
// the limit) and reports false.
func readRaw(w http.ResponseWriter, r *http.Request, buf *[]byte) ([]byte, bool) {
	if r.ContentLength > 0 {
		*buf = growTo(*buf, int(min(r.ContentLength+1, maxUpFront)))
	}
	data, err := readAll(*buf, r.Body)
	*buf = data[:0]
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, r, tooLarge(w, err))
		} else {
			writeError(w, r, badRequest("", "the request body could not be read", fmt.Errorf("read body: %w", err)))
		}
		return nil, false
	}
	return data, true
}

// readBody reads a JSON request body into buf (see readRaw), checks it for
// op and replaces r.Body with the bytes read. It answers the error itself
// and reports false when the body is refused.
func readBody(w http.ResponseWriter, r *http.Request, buf *[]byte, o op) ([]byte, bool) {
	data, ok := readRaw(w, r, buf)
	if !ok {
		return nil, false
	}
	if err := checkJSON(data, requestFields[o]); err != nil {
		writeError(w, r, err)
		return nil, false
	}
	replay(r, data)
	return data, true
}

// replay makes r.Body the bytes already read.
func replay(r *http.Request, data []byte) {
	body := &replayBody{data: data}
	body.Reset(data)
	r.Body = body
}

// replayBody replays a body already read: a bytes.Reader with Close, in one
// allocation.
type replayBody struct {
	bytes.Reader
	data []byte // what it replays, for pathAt
}

func (*replayBody) Close() error { return nil }

// growTo returns b emptied if it holds n bytes, else an empty buffer that
// does: for a body over maxPooledBuf, a large pooled one when it is big
// enough. A large buffer is made a multiple of largeStep long, so bodies of
// about one size find each other's; one found too small is dropped, so the
// pool's buffers keep up with its bodies instead of missing them.
func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:0]
	}
	if n > maxPooledBuf && n <= maxLargeBuf {
		if p, ok := largePool.Get().(*[]byte); ok && cap(*p) >= n {
			return (*p)[:0]
		}
		return make([]byte, 0, min(maxLargeBuf, (n+largeStep-1)/largeStep*largeStep))
	}
	return make([]byte, 0, n)
}

// largeStep is what the length of a large pooled buffer is a multiple of.
const largeStep = 64 << 10

// readRawBody reads a raw (octet-stream) value into buf, grown once to the
// declared length, and replaces r.Body with a rawBody holding the bytes, so
// Server.Set stores them without reading them again: one copy from the
// connection into a pooled buffer, one into the store. A read error is
// kept and replayed after the bytes, for Server.Set to answer.
func readRawBody(r *http.Request, buf *[]byte) {
	if r.ContentLength > 0 {
		*buf = growTo(*buf, int(r.ContentLength)+1)
	}
	data, err := readAll(*buf, r.Body)
	*buf = data[:0]
	body := &rawBody{data: data, err: err}
	body.Reset(data)
	r.Body = body
}

// rawBody is a raw value already read, and the error that ended the read.
type rawBody struct {
	bytes.Reader
	data []byte
	err  error
}

func (b *rawBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (*rawBody) Close() error { return nil }
