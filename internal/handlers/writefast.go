package handlers

// Write fast paths: a PUT of a JSON body, an incr/decr and a batchSet, the
// busiest writes, served without the generated decoders. Under wrk the
// generated way of a PUT (binding, encoding/json decoding by reflection,
// the validator, json.Compact, the strict handler's response encoder, a route
// context and two request copies) was a fifth of the server's CPU per
// request; the store's Put was 2 %. And encoding/json's decoding into a
// json.RawMessage allocated two to four times a value's size (its own
// buffer, grown by doubling, then the copy), where the plain parsers take
// the value as a span of the body already read, decoded over itself, so
// the store's copy is the only allocation of its size
// (TestJSONWritesAllocateAboutOneValue). Each declines, having answered
// nothing, any request that is not plain, which then takes the generated
// way and gets the same answer (TestWriteFastPaths… and FuzzWriteFastPaths
// compare the two).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// plainStore is a StoreRequest body in its plain form: an object with
// "value" (any JSON value, see plainParser.jsonValue), and optionally
// "encoding" ("json" or "base64") and "cas" as strings without escapes,
// and "flags" and "time" as unsigned decimal integers, each member once.
// Its value is a span of the body, as the body has it.
type plainStore struct {
	value    []byte
	encoding gen.Encoding // "" when absent
	flags    uint32
	time     float64
	cas      string
	hasFlags bool
	hasTime  bool
	hasCas   bool
}

// request is the body as the generated decoder makes it. Its members are
// copies, so that b, which the plain PUT keeps on the stack, is not moved to
// the heap for the few PUTs that take this way.
func (b *plainStore) request() *gen.StoreRequest {
	req := &gen.StoreRequest{Value: b.value}
	if b.encoding != "" {
		enc := b.encoding
		req.Encoding = &enc
	}
	if b.hasFlags {
		flags := b.flags
		req.Flags = &flags
	}
	if b.hasTime {
		t := b.time
		req.Time = &t
	}
	if b.hasCas {
		cas := b.cas
		req.Cas = &cas
	}
	return req
}

// parsePlainStore decodes data into body and reports whether it was plain;
// when it was, body holds what the generated decoder would make of it.
func parsePlainStore(data []byte, body *plainStore) bool {
	p := plainParser{data: data}
	var seenValue, seenEnc bool
	if !p.object(func(name []byte) (ok bool) {
		switch {
		case string(name) == "value" && !seenValue:
			seenValue = true
			body.value, ok = p.jsonValue()
			return ok
		case string(name) == "encoding" && !seenEnc:
			seenEnc = true
			enc, ok := p.span()
			// Another encoding is the validator's to refuse.
			switch string(enc) {
			case string(gen.EncodingJson):
				body.encoding = gen.EncodingJson
			case string(gen.EncodingBase64):
				body.encoding = gen.EncodingBase64
			default:
				return false
			}
			return ok
		case string(name) == "flags" && !body.hasFlags:
			body.hasFlags = true
			n, ok := p.uint(32)
			body.flags = uint32(n)
			return ok
		case string(name) == "time" && !body.hasTime:
			body.hasTime = true
			n, ok := p.uint(53) // exactly a float64, as encoding/json decodes it
			body.time = float64(n)
			return ok
		case string(name) == "cas" && !body.hasCas:
			body.hasCas = true
			body.cas, ok = p.str()
			return ok
		}
		return false
	}) {
		return false
	}
	p.ws()
	return seenValue && p.i == len(data)
}

// jsonValue reads any JSON value and returns it, as a span of data capped
// at its end: a string without escapes at once, any other value once it has
// been found to be what the body checks (checkJSON) let through, valid
// UTF-8 and JSON, with no object in it naming a member twice, so that
// encoding/json and the stored value agree on what it means.
func (p *plainParser) jsonValue() ([]byte, bool) {
	p.ws()
	start := p.i
	if _, ok := p.span(); ok {
		return p.data[start:p.i:p.i], true
	}
	p.i = start
	depth := 0
	for ; p.i < len(p.data); p.i++ {
		switch p.data[p.i] {
		case '"':
			for p.i++; p.i < len(p.data) && p.data[p.i] != '"'; p.i++ {
				if p.data[p.i] == '\\' {
					p.i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return p.checkedValue(start) // a scalar, before its container's end
			}
			if depth--; depth == 0 {
				p.i++
				return p.checkedValue(start)
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return p.checkedValue(start)
			}
		}
	}
	return p.checkedValue(start)
}

// checkedValue is the value from start to p.i if it passes the body checks.
func (p *plainParser) checkedValue(start int) ([]byte, bool) {
	if p.i > len(p.data) {
		return nil, false // an escape at the very end
	}
	v := p.data[start:p.i:p.i]
	if len(v) == 0 || !utf8.Valid(v) || !json.Valid(v) {
		return nil, false
	}
	w := walker{data: v}
	return v, w.value(nil, true) == nil
}

// plainOffset is an OffsetRequest body in its plain form: an object with
// optional "delta" and "initial_value", unsigned decimal integers, each once.
type plainOffset struct {
	delta      uint64
	hasDelta   bool
	initial    uint64
	hasInitial bool
}

// parsePlainOffset decodes data into body and reports whether it was plain.
// Its loop is written out rather than going through plainParser.object: a
// member callback is a closure, which costs every incr an allocation.
func parsePlainOffset(data []byte, body *plainOffset) bool {
	p := plainParser{data: data}
	if !p.skip('{') {
		return false
	}
	for first := true; ; first = false {
		if p.skip('}') {
			break
		}
		if !first && !p.skip(',') {
			return false
		}
		name, ok := p.span()
		if !ok || !p.skip(':') {
			return false
		}
		switch {
		case string(name) == "delta" && !body.hasDelta:
			body.hasDelta = true
			if body.delta, ok = p.uint(64); !ok {
				return false
			}
		case string(name) == "initial_value" && !body.hasInitial:
			body.hasInitial = true
			if body.initial, ok = p.uint(64); !ok {
				return false
			}
		default:
			return false
		}
	}
	p.ws()
	return p.i == len(data)
}

// uint reads an unsigned decimal integer (JSON's grammar: no sign, no
// leading zero) that fits in bits bits.
func (p *plainParser) uint(bits int) (uint64, bool) {
	p.ws()
	start := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	digits := p.data[start:p.i]
	if len(digits) == 0 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	// A fraction or an exponent is a number the plain form does not take.
	if p.i < len(p.data) && (p.data[p.i] == '.' || p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), 10, bits)
	return n, err == nil
}

// putPlain serves a PUT whose body parsed as plainStore without a cas, with
// no query and no conditional header: mode set, as the generated Set would
// run it. It decodes the value over the body.
func (s *Server) putPlain(w http.ResponseWriter, r *http.Request, ns, name string, body *plainStore) {
	k, err := key(ns, name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var enc *gen.Encoding
	if body.encoding != "" {
		enc = &body.encoding
	}
	value, kind, err := decodeValue(body.value, enc)
	if err != nil {
		writeError(w, r, onField("value", err))
		return
	}
	if err := checkTime("time", body.time); err != nil {
		writeError(w, r, err)
		return
	}
	id, err := s.store.Put(r.Context(), cache.ModeSet,
		cache.Entry{Key: k, Value: value, Kind: kind, Flags: body.flags, Time: body.time})
	if err != nil {
		writeError(w, r, writeRule{mode: cache.ModeSet}.failed(err))
		return
	}
	writeStored(w, id)
}

// writeStored answers a PUT's 200: the bytes of gen.Set200JSONResponse.
func writeStored(w http.ResponseWriter, id uint64) {
	var buf [64]byte
	b := append(buf[:0], `{"cas":"`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","stored":true}`+"\n"...)
	tag := make([]byte, 0, 22)
	tag = append(strconv.AppendUint(append(tag, '"'), id, 10), '"')
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Etag"] = []string{string(tag)}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// offsetPlain serves an incr or decr whose body parsed as plainOffset, as
// the generated Incr and Decr would run it.
func (s *Server) offsetPlain(w http.ResponseWriter, r *http.Request, ns, name string, body *plainOffset, decrement bool) {
	k, err := key(ns, name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	d := cache.Delta{Amount: 1, Decrement: decrement}
	if body.hasDelta {
		d.Amount = body.delta
	}
	var initial *uint64
	if body.hasInitial {
		initial = &body.initial
	}
	v, err := s.store.Offset(r.Context(), k, d, initial)
	if err != nil {
		writeError(w, r, offsetFailed(err))
		return
	}
	var buf [40]byte
	b := append(buf[:0], `{"value":`...)
	b = append(strconv.AppendUint(b, v, 10), "}\n"...)
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// offsetFailed wraps a store error of incr/decr as the generated way does.
func offsetFailed(err error) error { return fmt.Errorf("offset: %w", err) }

// setFast serves a PUT with a plain JSON body (plainStore) in place: itself
// when it has no query, no conditional header and no cas (mode set), else
// through the generated parameter binding, handed the body decoded
// (decodedWrites). It declines, having read nothing, a PUT of a raw value
// or one the generated way refuses before reading; once it has read the
// body it answers: a body that is not plain goes on, already read, to the
// generated way.
func (s *service) setFast(w http.ResponseWriter, r *http.Request, m *match) bool {
	if m.ns == "" || m.key == "" || !jsonBody(r) {
		return false
	}
	buf := getBuf()
	defer putBodyBuf(buf)
	data, ok := readRaw(w, r, buf)
	if !ok {
		return true
	}
	var body plainStore
	ns, name, unescaped := unescapeKey(m)
	if !unescaped || !parsePlainStore(data, &body) {
		s.handOn(w, r, m, data)
		return true
	}
	// A plain body is valid JSON of known members, once each: what the
	// body checks would find, so they are not run again.
	_, ifMatch := r.Header["If-Match"]
	_, ifNoneMatch := r.Header["If-None-Match"]
	if r.URL.RawQuery == "" && !r.URL.ForceQuery && !ifMatch && !ifNoneMatch && !body.hasCas {
		s.srv.putPlain(w, r, ns, name, &body)
		return true
	}
	r.Body = &decodedBody{store: body.request()}
	s.serveKeyRead(w, r, m, s.decoded)
	return true
}

// jsonBody reports whether r's body is JSON, once checkMediaType has
// rewritten its Content-Type to the bare media type (which costs an
// allocation, so the usual exact header is not rewritten).
func jsonBody(r *http.Request) bool {
	if ct := r.Header["Content-Type"]; len(ct) == 1 && ct[0] == "application/json" {
		return true
	}
	return checkMediaType(r, true) == nil && r.Header.Get("Content-Type") == "application/json"
}

// handOn gives a write whose body (data) a fast path read but declined to
// the generated way, which checks it first.
func (s *service) handOn(w http.ResponseWriter, r *http.Request, m *match, data []byte) {
	if err := checkJSON(data, requestFields[m.op]); err != nil {
		writeError(w, r, err)
		return
	}
	replay(r, data)
	s.serveKeyRead(w, r, m, s.ops)
}

// decodedBody is a request body that a fast path has read and decoded as
// the generated decoder would.
type decodedBody struct {
	store *gen.StoreRequest
}

func (*decodedBody) Read([]byte) (int, error) { return 0, io.EOF }

func (*decodedBody) Close() error { return nil }

// decodedWrites is the generated strict handlers, but for Set given a
// decodedBody: it runs the strict handler's steps (its middleware, Server.Set,
// the response or the error) on the body as decoded, where the generated
// one would decode it again with encoding/json.
type decodedWrites struct {
	gen.ServerInterface
	srv *Server
}

func (d decodedWrites) Set(w http.ResponseWriter, r *http.Request, namespace gen.Namespace, key gen.Key, params gen.SetParams) {
	body, ok := r.Body.(*decodedBody)
	if !ok {
		d.ServerInterface.Set(w, r, namespace, key, params)
		return
	}
	req := gen.SetRequestObject{Namespace: namespace, Key: key, Params: params, JSONBody: body.store}
	handler := negotiate(func(ctx context.Context, _ http.ResponseWriter, _ *http.Request, req any) (any, error) {
		return d.srv.Set(ctx, req.(gen.SetRequestObject))
	}, "Set")
	resp, err := handler(r.Context(), w, r, req)
	if err != nil {
		responseError(w, r, err)
	} else if valid, ok := resp.(gen.SetResponseObject); ok {
		if err := valid.VisitSetResponse(w); err != nil {
			responseError(w, r, err)
		}
	} else if resp != nil {
		responseError(w, r, fmt.Errorf("unexpected response type: %T", resp))
	}
}

// incrFast and decrFast serve an incr or decr with a plain JSON body
// (plainOffset) and no query in place, declining or handing on as setFast.
func (s *service) incrFast(w http.ResponseWriter, r *http.Request, m *match) bool {
	return s.offsetFast(w, r, m, false)
}

func (s *service) decrFast(w http.ResponseWriter, r *http.Request, m *match) bool {
	return s.offsetFast(w, r, m, true)
}

func (s *service) offsetFast(w http.ResponseWriter, r *http.Request, m *match, decrement bool) bool {
	if !plainWrite(r, m) {
		return false
	}
	buf := getBuf()
	defer putBodyBuf(buf)
	data, ok := readRaw(w, r, buf)
	if !ok {
		return true
	}
	var body plainOffset
	ns, name, unescaped := unescapeKey(m)
	if !unescaped || !parsePlainOffset(data, &body) {
		s.handOn(w, r, m, data)
		return true
	}
	s.srv.offsetPlain(w, r, ns, name, &body, decrement)
	return true
}

// plainWrite reports whether a single-key write may take a fast path before
// its body is read: no query, a namespace and a key, and a JSON body.
func plainWrite(r *http.Request, m *match) bool {
	return r.URL.RawQuery == "" && !r.URL.ForceQuery && m.ns != "" && m.key != "" &&
		r.Header.Get("Content-Type") == "application/json"
}

// unescapeKey unescapes the namespace and key of m.
func unescapeKey(m *match) (ns, name string, ok bool) {
	ns, err := url.PathUnescape(m.ns)
	if err != nil {
		return "", "", false
	}
	name, err = url.PathUnescape(m.key)
	return ns, name, err == nil
}

// batchSetFast reads a batchSet's body and serves it with the generated
// way's Server.SetMulti when the body is plain (parseBatchSet): encoding/json's
// decoding by reflection is skipped (two fifths of a batchSet of 100 values),
// and so is the validator when validBatchSet shows it would pass (it was nine
// tenths of the allocations left: five per item). Any other body is handed, already read, to the
// body checks and the generated decoder; either way it answers the request.
func (s *service) batchSetFast(w http.ResponseWriter, r *http.Request, m *match) bool {
	if err := checkMediaType(r, false); err != nil {
		writeError(w, r, err)
		return true
	}
	buf := getBuf()
	defer putBodyBuf(buf)
	data, ok := readRaw(w, r, buf)
	if !ok {
		return true
	}
	var body gen.BatchSetRequest
	if strings.IndexByte(m.ns, '%') < 0 && cache.ValidateNamespace(m.ns) == nil && parseBatchSet(data, &body) {
		var resp gen.SetMultiResponseObject
		var err error
		if validBatchSet(&body) {
			resp, err = s.srv.setMulti(r.Context(), m.ns, &body)
		} else {
			resp, err = s.srv.SetMulti(r.Context(), gen.SetMultiRequestObject{Namespace: m.ns, Body: &body})
		}
		if err != nil {
			responseError(w, r, err)
			return true
		}
		if err := resp.VisitSetMultiResponse(w); err != nil {
			responseError(w, r, err)
		}
		return true
	}
	replay(r, data)
	s.serveBatch(w, r, m, data)
	return true
}

// parseBatchSet decodes the plain form of a BatchSetRequest into body and
// reports whether data was in that form: an object of "items" (objects of
// "value" as any JSON value (plainParser.jsonValue), "key", "encoding" and
// "cas" as strings without escapes and "flags" as an unsigned integer, each
// member once) and optionally
// "key_prefix" and "mode" (such strings) and "time" (an unsigned integer),
// each once. When it was, body is what encoding/json would decode; the
// checks of values, modes and keys stay with SetMulti.
func parseBatchSet(data []byte, body *gen.BatchSetRequest) bool {
	p := plainParser{data: data}
	var seenItems, seenPrefix, seenMode, seenTime bool
	if !p.object(func(name []byte) (ok bool) {
		switch {
		case string(name) == "items" && !seenItems:
			seenItems = true
			if body.Items, ok = p.batchSetItems(); !ok {
				return false
			}
		case string(name) == "key_prefix" && !seenPrefix:
			seenPrefix = true
			prefix, ok := p.str()
			if !ok {
				return false
			}
			body.KeyPrefix = &prefix
		case string(name) == "mode" && !seenMode:
			seenMode = true
			mode, ok := p.str()
			if !ok {
				return false
			}
			body.Mode = (*gen.BatchSetRequestMode)(&mode)
		case string(name) == "time" && !seenTime:
			seenTime = true
			n, ok := p.uint(53)
			if !ok {
				return false
			}
			t := float64(n)
			body.Time = &t
		default:
			return false
		}
		return true
	}) {
		return false
	}
	p.ws()
	return p.i == len(data)
}

// validBatchSet reports whether body passes the validate tags of
// gen.BatchSetRequest and gen.BatchSetItem, which it mirrors
// (TestValidBatchSetMirrorsTheGeneratedTags fails when they change): items
// present, mode and each encoding absent or one of theirs, every value
// present. It may say false for a valid body, never true for an invalid one.
func validBatchSet(body *gen.BatchSetRequest) bool {
	if body.Items == nil {
		return false
	}
	if body.Mode != nil {
		if _, ok := modes[string(*body.Mode)]; !ok {
			return false
		}
	}
	for i := range body.Items {
		it := &body.Items[i]
		if len(it.Value) == 0 {
			return false
		}
		if it.Encoding != nil && *it.Encoding != gen.EncodingJson && *it.Encoding != gen.EncodingBase64 {
			return false
		}
	}
	return true
}

// batchSetItems reads an array of plain BatchSetItems.
func (p *plainParser) batchSetItems() ([]gen.BatchSetItem, bool) {
	if !p.skip('[') {
		return nil, false
	}
	// encoding/json decodes [] into an empty, non-nil slice. A value
	// holding the text "value" counts too, but an item takes 20 bytes.
	rest := p.data[p.i:]
	n := min(bytes.Count(rest, []byte(`"value"`)), len(rest)/20)
	items := make([]gen.BatchSetItem, 0, n)
	// Room for keys of up to 16 bytes each, so the kept strings are
	// usually one allocation rather than a doubling per size.
	p.kept.Grow(min(16*n, len(rest)))
	for first := true; ; first = false {
		if p.skip(']') {
			return items, true
		}
		if !first && !p.skip(',') {
			return nil, false
		}
		it, ok := p.batchSetItem()
		if !ok {
			return nil, false
		}
		items = append(items, it)
	}
}

func (p *plainParser) batchSetItem() (gen.BatchSetItem, bool) {
	var it gen.BatchSetItem
	var seenKey, seenValue, seenFlags, seenCas, seenEnc bool
	ok := p.object(func(name []byte) (ok bool) {
		switch {
		case string(name) == "key" && !seenKey:
			seenKey = true
			if it.Key, ok = p.str(); !ok {
				return false
			}
		case string(name) == "value" && !seenValue:
			seenValue = true
			if it.Value, ok = p.jsonValue(); !ok {
				return false
			}
		case string(name) == "flags" && !seenFlags:
			seenFlags = true
			n, ok := p.uint(32)
			if !ok {
				return false
			}
			flags := uint32(n)
			it.Flags = &flags
		case string(name) == "cas" && !seenCas:
			seenCas = true
			cas, ok := p.str()
			if !ok {
				return false
			}
			it.Cas = &cas
		case string(name) == "encoding" && !seenEnc:
			seenEnc = true
			enc, ok := p.str()
			if !ok {
				return false
			}
			it.Encoding = (*gen.Encoding)(&enc)
		default:
			return false
		}
		return true
	})
	return it, ok
}
