package handlers

// Fast paths: the operations served without the generated strict handler
// when a request is plain enough, registered per operation in fastPaths.
// Each reports false, having written nothing and read nothing, for any
// request it does not take; that request then goes the generated way
// (service.serveGenerated), which answers it the same
// (TestGetFastPathAnswersAsTheGeneratedPath and
// TestBatchGetAnswersPlainAndEscapedBodiesAlike compare the two). Each
// exists because a benchmark shows the generated way costs more on the
// busiest requests:
//
//   - get: a GET or HEAD without query and If-None-Match. No route context,
//     no request copies, no strict-server round trip, and the value read
//     into a pooled buffer. BenchmarkFastPaths/get: see the figures below.
//   - getMulti: a batchGet whose body is plain (an object of "keys" of
//     strings without escapes, and optionally "key_prefix" and "for_cas",
//     each once) in a namespace without escapes. Decoding that by hand costs
//     a scan and one allocation for all the keys, where encoding/json's
//     reflection was a fifth of a batchGet. BenchmarkFastPaths/getMulti.
//   - set: a PUT whose JSON body is plain (any JSON value, or base64, with
//     flags, time and cas as plain scalars): served in place without query
//     or conditional header, else through the generated parameter binding
//     with the body decoded. incr, decr: one without query whose body is
//     plain. See writefast.go, where they live, BenchmarkWriteFastPaths and
//     TestJSONWritesAllocateAboutOneValue.
//   - setMulti: a batchSet whose body is plain (writefast.go), decoded by a
//     scan and served by the same Server.SetMulti.
//
// BenchmarkFastPaths (fast_bench_test.go) runs each request both ways in
// one process. Measured as CPU time per request (GOMAXPROCS=1, median of 5
// interleaved runs, on the shared 2-core development machine, where wall
// times swung too much under load):
//
//	get       fast  1.15 µs,   4 allocs   generated  3.75 µs,  24 allocs  (3.3×)
//	getMulti  fast  57.5 µs,  29 allocs   generated  97.5 µs, 150 allocs  (1.7×, 100 keys)
//
//	go test -run '^$' -bench '^BenchmarkFastPaths$' -benchmem ./internal/handlers/

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// fastPath serves a request of its operation and reports true, or reports
// false having written and read nothing.
type fastPath func(s *service, w http.ResponseWriter, r *http.Request, m *match) bool

// fastPaths are the fast paths by operation; the others have none.
var fastPaths = [numOps]fastPath{
	opGet:      (*service).getFast,
	opGetMulti: (*service).batchGetFast,
	opSet:      (*service).setFast,
	opIncr:     (*service).incrFast,
	opDecr:     (*service).decrFast,
	opSetMulti: (*service).batchSetFast,
}

// getFast answers the common GET, one without query or If-None-Match, in
// place. It declines any other GET, which takes the generated path (binding
// for_cas, If-None-Match and their errors) to the same response writer.
func (s *service) getFast(w http.ResponseWriter, r *http.Request, m *match) bool {
	if r.URL.RawQuery != "" || r.URL.ForceQuery || m.ns == "" || m.key == "" {
		return false
	}
	if _, ok := r.Header["If-None-Match"]; ok {
		return false
	}
	ns, err := url.PathUnescape(m.ns)
	if err != nil {
		return false
	}
	name, err := url.PathUnescape(m.key)
	if err != nil {
		return false
	}
	ck, err := key(ns, name)
	if err != nil {
		writeError(w, r, err)
		return true
	}
	buf := getBuf()
	defer putBuf(buf)
	it, err := s.srv.store.Get(r.Context(), ck, *buf)
	if err != nil {
		writeError(w, r, fmt.Errorf("get: %w", err))
		return true
	}
	*buf = it.Value[:0]
	writeItem(w, name, it, prefersRaw(r.Header["Accept"]))
	return true
}

// batchGetFast reads a batchGet's body and serves it in place when it is
// plain (parseBatchGet); it then runs the same Server.GetMulti and response
// as the generated route. Any other body (escapes, unknown or repeated
// members, null, trailing data) is handed, already read, to the body checks
// and the generated decoder; either way it answers the request.
func (s *service) batchGetFast(w http.ResponseWriter, r *http.Request, m *match) bool {
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
	var body gen.BatchGetRequest
	if _, err := cache.ParseNamespace(m.ns); err == nil && strings.IndexByte(m.ns, '%') < 0 && parseBatchGet(data, &body) {
		resp, err := s.srv.GetMulti(r.Context(), gen.GetMultiRequestObject{Namespace: m.ns, Body: &body})
		if err != nil {
			responseError(w, r, err)
			return true
		}
		if err := resp.VisitGetMultiResponse(w); err != nil {
			responseError(w, r, err)
		}
		return true
	}
	replay(r, data)
	s.serveBatch(w, r, m, data)
	return true
}

// readAll appends all of src to dst, as io.ReadAll does into a new slice.
func readAll(dst []byte, src io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := src.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// parseBatchGet decodes the plain form of a BatchGetRequest into body and
// reports whether data was in that form; when it was, body is what
// encoding/json would decode. The keys share one string of the body.
func parseBatchGet(data []byte, body *gen.BatchGetRequest) bool {
	p := plainParser{data: data, shared: string(data)}
	var seenKeys, seenPrefix, seenForCas bool
	if !p.object(func(name []byte) (ok bool) {
		switch {
		case string(name) == "keys" && !seenKeys:
			seenKeys = true
			if body.Keys, ok = p.strs(); !ok {
				return false
			}
		case string(name) == "key_prefix" && !seenPrefix:
			seenPrefix = true
			prefix, ok := p.str()
			if !ok {
				return false
			}
			body.KeyPrefix = &prefix
		case string(name) == "for_cas" && !seenForCas:
			seenForCas = true
			forCas, ok := p.boolean()
			if !ok {
				return false
			}
			body.ForCas = &forCas
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

// plainParser reads the subset of JSON the plain parsers accept.
type plainParser struct {
	data []byte
	// shared is data as one string, which the strings read share (a
	// batchGet's body is nearly all keys). Without it, each string kept is
	// copied into kept instead, so that a write's values, most of its
	// body, are not copied along with its keys.
	shared string
	kept   strings.Builder
	i      int
}

func (p *plainParser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// skip consumes c after whitespace, if it is next.
func (p *plainParser) skip(c byte) bool {
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// span reads a string without escapes, control bytes or invalid UTF-8 and
// returns its text, unquoted, as a slice of data.
func (p *plainParser) span() ([]byte, bool) {
	if !p.skip('"') {
		return nil, false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.data); p.i++ {
		switch c := p.data[p.i]; {
		case c == '"':
			b := p.data[start:p.i]
			p.i++
			return b, ascii || utf8.Valid(b)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// str reads a string as span does and keeps it (see shared).
func (p *plainParser) str() (string, bool) {
	b, ok := p.span()
	if !ok {
		return "", false
	}
	if p.shared != "" {
		start := p.i - 1 - len(b)
		return p.shared[start : start+len(b)], true
	}
	n := p.kept.Len()
	p.kept.Write(b)
	// Later writes go past n, so the string returned never changes.
	return p.kept.String()[n:], true
}

// object reads a JSON object, handing each member's name to member, which
// reads the member's value and reports whether it was plain.
func (p *plainParser) object(member func(name []byte) bool) bool {
	if !p.skip('{') {
		return false
	}
	for first := true; ; first = false {
		if p.skip('}') {
			return true
		}
		if !first && !p.skip(',') {
			return false
		}
		name, ok := p.span()
		if !ok || !p.skip(':') || !member(name) {
			return false
		}
	}
}

// strs reads an array of plain strings.
func (p *plainParser) strs() ([]string, bool) {
	if !p.skip('[') {
		return nil, false
	}
	// encoding/json decodes [] into an empty, non-nil slice.
	out := make([]string, 0, bytes.Count(p.data[p.i:], []byte{','})+1)
	for first := true; ; first = false {
		if p.skip(']') {
			return out, true
		}
		if !first && !p.skip(',') {
			return nil, false
		}
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
}

func (p *plainParser) boolean() (bool, bool) {
	p.ws()
	rest := p.data[p.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		p.i += len("true")
		return true, true
	case bytes.HasPrefix(rest, []byte("false")):
		p.i += len("false")
		return false, true
	}
	return false, false
}
