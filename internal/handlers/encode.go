package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// The hot responses (an item, a batch of items) are encoded by hand: the
// generated encoder goes through reflection, sorts map keys and re-compacts
// values the store already holds compact, which was over half of a GET's CPU.
// The bytes are those encoding/json would write (HTML-escaped strings and
// values, a final newline); only a batch's items come in request order
// instead of sorted, which JSON objects do not distinguish.

// Header values shared by every response that sends them. They are assigned
// straight into the header map (already canonical keys, no per-request
// slice); net/http only reads them, and h.Set or h.Add replace or copy them
// (cap equals len), so no request can change another's.
var (
	hdrJSON    = []string{"application/json"}
	hdrOctet   = []string{"application/octet-stream"}
	hdrNoStore = []string{noStore}
	hdrNoSniff = []string{"nosniff"}
)

// maxPooledBuf is the largest buffer kept for reuse; a rare huge value or
// batch should not pin its buffer in every P's pool.
const maxPooledBuf = 256 << 10

// bufPool recycles the byte buffers of store reads and encoded responses.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// largePool recycles the buffers of bodies from maxPooledBuf to
// maxLargeBuf (raw values up to the default value limit and their JSON), so
// a large write is read without an allocation of its size. It holds at most
// the buffers of the large bodies served at once, which the request memory
// bounds, and loses them within two garbage collections.
var largePool sync.Pool

// maxLargeBuf is the largest buffer largePool keeps: a 1 MiB value as
// base64 JSON, with room to spare.
const maxLargeBuf = 2 << 20

// putBodyBuf is putBuf for a buffer a request body was read into: a large
// one goes to largePool, where growTo finds it for the next large body.
// Only bodies come back this way, so the pool never fills with buffers
// that no body asks for (a GET of a large value drops its own).
func putBodyBuf(b *[]byte) {
	if c := cap(*b); c > maxPooledBuf && c <= maxLargeBuf {
		*b = (*b)[:0]
		largePool.Put(b)
		return
	}
	putBuf(b)
}

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes encoding/json writes unescaped in a string
// with HTML escaping on: printable, and none of " \ < > &.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		safe[c] = true
	}
	for _, c := range `"\<>&` {
		safe[c] = false
	}
	return safe
}()

// appendJSONString appends s as a JSON string exactly as encoding/json does:
// short escapes for \b \f \n \r \t " \, \u00XX for other control bytes and
// < > &, \u2028 and \u2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028', r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONValue appends a stored JSON value, which is compact already, with
// the HTML escaping encoding/json applies to a json.RawMessage: < > & and
// U+2028/U+2029 can only occur inside its strings, where \uXXXX means the same.
func appendJSONValue(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, "null"...)
	}
	// Most values hold none of these bytes; four vectorised scans beat one
	// byte-by-byte pass.
	if bytes.IndexByte(v, '<') < 0 && bytes.IndexByte(v, '>') < 0 && bytes.IndexByte(v, '&') < 0 && bytes.IndexByte(v, 0xE2) < 0 {
		return append(dst, v...)
	}
	start := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8:
			dst = append(dst, v[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

// appendItem appends the wire form of an item (schema Item) stored under the
// caller's key name, fields in the order encoding/json writes gen.Item.
func appendItem(dst []byte, name string, it cache.Item) []byte {
	dst = append(dst, `{"cas":"`...)
	dst = strconv.AppendUint(dst, it.CAS, 10)
	dst = append(dst, '"')
	if it.Kind == cache.KindBytes {
		dst = append(dst, `,"encoding":"base64"`...)
	}
	dst = append(dst, `,"expires":`...)
	if it.Expires != 0 {
		dst = strconv.AppendInt(dst, it.Expires, 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"flags":`...)
	dst = strconv.AppendUint(dst, uint64(it.Flags), 10)
	dst = append(dst, `,"key":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"value":`...)
	if it.Kind == cache.KindBytes {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, it.Value)
		dst = append(dst, '"')
	} else {
		dst = appendJSONValue(dst, it.Value)
	}
	return append(dst, '}')
}

// itemOverhead is the longest an item's encoding gets beyond its key and
// value: field names, punctuation, cas, expires and flags.
const itemOverhead = len(`"":{"cas":"18446744073709551615","encoding":"base64","expires":-9223372036854775808,"flags":4294967295,"key":"","value":""},`)

// itemHeaders sets the headers of a 200 carrying an item: the generated
// ones (Cache-Control, ETag, Memcache-Flags, X-Content-Type-Options) and,
// for a raw body, its length. The per-item strings share one allocation.
func itemHeaders(h http.Header, it cache.Item, raw bool) {
	var buf [64]byte
	b := append(buf[:0], '"')
	b = strconv.AppendUint(b, it.CAS, 10)
	b = append(b, '"')
	tagEnd := len(b)
	b = strconv.AppendUint(b, uint64(it.Flags), 10)
	flagsEnd := len(b)
	if raw {
		b = strconv.AppendInt(b, int64(len(it.Value)), 10)
	}
	s := string(b)
	vals := new([3]string)
	vals[0], vals[1], vals[2] = s[:tagEnd], s[tagEnd:flagsEnd], s[flagsEnd:]
	h["Cache-Control"] = hdrNoStore
	h["Etag"] = vals[0:1:1]
	h["Memcache-Flags"] = vals[1:2:2]
	h["X-Content-Type-Options"] = hdrNoSniff
	if !raw {
		h["Content-Type"] = hdrJSON
		return
	}
	h["Content-Type"] = hdrOctet
	if len(it.Value) != 0 {
		h["Content-Length"] = vals[2:3:3]
	}
}

// writeItem answers 200 with item it under the caller's key name: as JSON,
// or as its bare bytes when the client prefers raw values.
func writeItem(w http.ResponseWriter, name string, it cache.Item, raw bool) {
	itemHeaders(w.Header(), it, raw)
	w.WriteHeader(http.StatusOK)
	if raw {
		_, _ = w.Write(it.Value)
		return
	}
	out := getBuf()
	*out = append(appendItem(*out, name, it), '\n')
	_, _ = w.Write(*out)
	putBuf(out)
}

// itemResponse is a GET's 200 for the generated strict server, written by
// writeItem so that every route to an item sends the same bytes.
type itemResponse struct {
	name string
	it   cache.Item
	raw  bool
}

func (r itemResponse) VisitGetResponse(w http.ResponseWriter) error {
	writeItem(w, r.name, r.it, r.raw)
	return nil
}

// The wire form of a BatchGetResult around its items.
const (
	batchGetOpen  = `{"items":{`
	batchGetClose = "}}\n"
)

// itemsEncoder appends the members of a BatchGetResult's items. A name
// listed twice is one member: the found map tells (an entry is deleted once
// written).
type itemsEncoder struct {
	b []byte
	n int // members written
}

// add appends the items of found among keys, each under the caller's name
// (names[i] for keys[i]), in order. It stops at the first item that takes the
// encoding, closed, over budget bytes and returns its index; -1 otherwise.
func (e *itemsEncoder) add(names []string, keys []cache.Key, found map[cache.Key]cache.Item, budget int) int {
	// Room for the items up front: growing a 100-item response step by step
	// copied it several times over.
	size := 0
	for _, it := range found {
		size += 4*len(it.Value)/3 + itemOverhead
	}
	for i := range names {
		size += 2 * len(names[i])
	}
	e.b = slices.Grow(e.b, min(size, max(0, budget-len(e.b))))
	for i, k := range keys {
		it, ok := found[k]
		if !ok {
			continue
		}
		delete(found, k)
		if e.n > 0 {
			e.b = append(e.b, ',')
		}
		e.n++
		e.b = appendJSONString(e.b, names[i])
		e.b = append(e.b, ':')
		e.b = appendItem(e.b, names[i], it)
		if len(e.b)+len(batchGetClose) > budget {
			return i
		}
	}
	return -1
}

// batchGetResponse is get_multi's 200 (schema BatchGetResult), encoded by
// Server.GetMulti into a pooled buffer: the items found, each under the
// caller's name without the prefix, in request order.
type batchGetResponse struct {
	out *[]byte
}

func (r batchGetResponse) VisitGetMultiResponse(w http.ResponseWriter) error {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	// With its length the answer is one write; net/http would chunk one
	// past 2 KiB, its last chunk a write of its own.
	h["Content-Length"] = []string{strconv.Itoa(len(*r.out))}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(*r.out)
	putBuf(r.out)
	return err
}

// readGetMulti serves a batchGet from a store that can peek (cache.Peeker)
// with one lookup per key, each counted in the stats once. The items are read
// and encoded in request order into one buffer; a response done within
// streamFlush bytes (most) is answered from it, with its Content-Length. Past
// that, the keys left are checked against the budget without copying a value
// (PeekMulti): values over room bytes in all fail with cache.ErrBatchTooLarge,
// as GetMulti would; a response that cannot pass budget bytes whatever the
// values left hold is streamed, the part read first, so it holds one value
// and a small buffer in memory however large it is; one that could come near
// the budget (values escaping to several times their length) is read on into
// the buffer with an exact check. The encoding only grows, so a response
// found over budget fails with cache.ErrBatchTooLarge at once; the keys read
// until then have counted as hits.
func readGetMulti(ctx context.Context, p cache.Peeker, store cache.Store, names []string, keys []cache.Key, budget, room int) (gen.GetMultiResponseObject, error) {
	r := &batchReader{ctx: ctx, store: store, names: names, keys: keys, out: getBuf(), val: getBuf(), budget: budget}
	r.b = append((*r.out)[:0], batchGetOpen...)
	if len(keys) > 1 {
		// Every key of a batch is in one namespace: the name tells them apart.
		r.seen = seenPool.Get().(map[string]struct{})
	}
	next, err := r.read(0, func(b []byte) (bool, error) {
		if len(b)+len(batchGetClose) > budget {
			return false, fmt.Errorf("handlers: response over %d bytes: %w", budget, cache.ErrBatchTooLarge)
		}
		return len(b) >= streamFlush, nil
	})
	if err != nil {
		r.release()
		return nil, err
	}
	if next < len(keys) {
		values, bound, largest := r.values, len(r.b)+len(batchGetClose), 0
		err := p.PeekMulti(ctx, keys[next:], func(i int, it cache.Item, n int) {
			values += n
			// The name is written twice, each byte escaped to at most 6.
			item := itemOverhead + 12*len(names[next+i])
			if it.Kind == cache.KindBytes {
				item += (n + 2) / 3 * 4
			} else {
				item += 6 * n
			}
			bound += item
			largest = max(largest, item)
		})
		switch {
		case err != nil:
			r.release()
			return nil, err
		case values > room:
			r.release()
			return nil, fmt.Errorf("handlers: %d value bytes: %w", values, cache.ErrBatchTooLarge)
		case bound <= budget:
			r.next = next
			return streamedBatchGet{r: r}, nil
		}
		// Near the budget: read on, checking every item.
		if _, err := r.read(next, func(b []byte) (bool, error) {
			if len(b)+len(batchGetClose) > budget {
				return false, fmt.Errorf("handlers: response over %d bytes: %w", budget, cache.ErrBatchTooLarge)
			}
			return false, nil
		}); err != nil {
			r.release()
			return nil, err
		}
	}
	putBuf(r.val)
	r.dropScratch()
	*r.out = append(r.b, batchGetClose...)
	return batchGetResponse{out: r.out}, nil
}

// streamFlush is how many encoded bytes a streamed batchGet gathers
// before writing them.
const streamFlush = 32 << 10

// batchReader reads and encodes a batchGet's items, key after key.
type batchReader struct {
	ctx    context.Context
	store  cache.Store
	names  []string
	keys   []cache.Key
	seen   map[string]struct{} // names read so far; nil for a single key
	out    *[]byte             // the pooled buffer b lives in
	val    *[]byte             // a pooled buffer for one value
	b      []byte
	chunk  *readChunkState // read's room for a chunk of keys; nil until needed
	big    *[]byte         // a pooled buffer for a value read alone; nil until needed
	budget int             // the response's limit in bytes
	n      int             // items encoded
	values int             // their value bytes
	next   int             // the first key not read yet
}

// read encodes the items of keys[from:] into r.b until stop, called after
// each item, says to; it returns the index of the first key not read. A
// store that reads batches (cache.BatchReader) is asked for up to
// readChunk keys at a time; when stop says done in the middle of a chunk,
// the rest of it waits in r for the next call, which continues from the
// index returned.
func (r *batchReader) read(from int, stop func(b []byte) (bool, error)) (int, error) {
	br, ok := r.store.(cache.BatchReader)
	if !ok {
		return r.readEach(from, stop)
	}
	if r.chunk == nil {
		r.chunk = chunkPool.Get().(*readChunkState)
	}
	c := r.chunk
	i, j := from, 0
	if c.n > 0 {
		// The rest of the chunk a done cut short.
		i, j = c.next, c.pos
	}
	for {
		for ; j < c.n; j++ {
			it := c.items[j]
			switch c.got[j] {
			case cache.Missed:
				continue
			case cache.Deferred:
				// A value too long to gather with the others is read alone.
				if r.big == nil {
					r.big = getBuf()
				}
				alone, found, err := r.readAlone(c.at[j], r.big)
				if err != nil {
					return c.at[j], err
				}
				if !found {
					continue
				}
				it = alone
			}
			done, err := r.encode(c.at[j], it, stop)
			if err != nil {
				return c.at[j] + 1, err
			}
			if done {
				if j+1 < c.n {
					c.pos, c.next = j+1, i
					return c.at[j+1], nil
				}
				c.n = 0
				return i, nil
			}
		}
		c.n, j = 0, 0
		if i >= len(r.keys) {
			return len(r.keys), nil
		}
		// The next chunk of keys not named before.
		n, names := 0, 0
		for ; i < len(r.keys) && n < readChunk; i++ {
			if r.firstTime(r.keys[i].Name) {
				c.keys[n], c.at[n] = r.keys[i], i
				names += len(r.names[i])
				n++
			}
		}
		if n == 0 {
			continue
		}
		c.used = max(c.used, n)
		// Each key gets an equal share of the value bytes the chunk may
		// gather: at most chunkRoom in all, and little enough that every
		// item, escaped at worst, still fits the budget. A longer value is
		// read alone, in request order, as a store without batches reads
		// every key, so a batch that passes its budget stops where that one
		// would, with the same keys counted.
		worst := r.budget - len(r.b) - len(batchGetClose) - n*itemOverhead - 12*names
		maxLen := max(min(chunkRoom/n, worst/(6*n)), 0)
		buf, err := br.ReadBatch(r.ctx, c.keys[:n], c.items[:n], c.got[:n], (*r.val)[:0], maxLen)
		*r.val = buf[:0]
		if err != nil {
			return c.at[0], fmt.Errorf("handlers: keys %d-%d of %d: %w", c.at[0]+1, c.at[n-1]+1, len(r.keys), err)
		}
		c.n = n
	}
}

// readEach is read for a store without cache.BatchReader: one Get a key.
func (r *batchReader) readEach(from int, stop func(b []byte) (bool, error)) (int, error) {
	for i := from; i < len(r.keys); i++ {
		if !r.firstTime(r.keys[i].Name) {
			continue
		}
		it, found, err := r.readAlone(i, r.val)
		if err != nil {
			return i, err
		}
		if !found {
			continue
		}
		done, err := r.encode(i, it, stop)
		if err != nil {
			return i + 1, err
		}
		if done {
			return i + 1, nil
		}
	}
	return len(r.keys), nil
}

// readAlone reads key i with the store's Get, its value into buf (kept for
// the next read); found is false for a miss.
func (r *batchReader) readAlone(i int, buf *[]byte) (it cache.Item, found bool, err error) {
	it, err = r.store.Get(r.ctx, r.keys[i], *buf)
	if errors.Is(err, cache.ErrNotFound) {
		return cache.Item{}, false, nil
	}
	if err != nil {
		return cache.Item{}, false, fmt.Errorf("handlers: key %d of %d: %w", i+1, len(r.keys), err)
	}
	*buf = it.Value[:0]
	return it, true, nil
}

// firstTime reports whether a batch names key name for the first time.
func (r *batchReader) firstTime(name string) bool {
	if r.seen == nil {
		return true
	}
	// One map operation: a name already there leaves the size as it was.
	n := len(r.seen)
	r.seen[name] = struct{}{}
	return len(r.seen) > n
}

// encode appends the item of key i to r.b and returns what stop says.
func (r *batchReader) encode(i int, it cache.Item, stop func(b []byte) (bool, error)) (bool, error) {
	if r.n > 0 {
		r.b = append(r.b, ',')
	}
	r.n++
	r.values += len(it.Value)
	r.b = appendJSONString(r.b, r.names[i])
	r.b = append(r.b, ':')
	r.b = appendItem(r.b, r.names[i], it)
	return stop(r.b)
}

// readChunk is how many keys read asks a cache.BatchReader for at once, and
// chunkRoom how many value bytes it may gather for them: larger values are
// read one at a time, so a batch of large values holds one in memory.
const (
	readChunk = 128
	chunkRoom = streamFlush
)

// readChunkState is read's room for one chunk, pooled: 128 keys and items
// are about 11 KB, too much to allocate per batchGet.
type readChunkState struct {
	keys  [readChunk]cache.Key
	items [readChunk]cache.Item
	got   [readChunk]cache.Outcome
	at    [readChunk]int // the index in the batch of each key
	used  int            // how many of keys and items were filled
	// n keys are read; those from pos on wait to be encoded, and the key
	// after them is next. n is 0 once all are.
	n, pos, next int
}

var chunkPool = sync.Pool{New: func() any { return new(readChunkState) }}

func (r *batchReader) release() {
	*r.out = r.b[:0]
	putBuf(r.out)
	putBuf(r.val)
	r.dropScratch()
}

// dropScratch returns the set of names read, the chunk's room and the
// buffer of a value read alone to their pools.
func (r *batchReader) dropScratch() {
	if r.seen != nil {
		clear(r.seen)
		seenPool.Put(r.seen)
		r.seen = nil
	}
	if r.chunk != nil {
		// The items alias the value buffers: drop them with the chunk.
		clear(r.chunk.items[:r.chunk.used])
		clear(r.chunk.keys[:r.chunk.used])
		r.chunk.used, r.chunk.n = 0, 0
		chunkPool.Put(r.chunk)
		r.chunk = nil
	}
	if r.big != nil {
		putBuf(r.big)
		r.big = nil
	}
}

// seenPool recycles the sets batchReader tells duplicate keys apart with:
// cleared, a set keeps its room, so a batch inserts its keys without
// growing one (make and growth were 4 % of a 100-key batchGet's CPU).
var seenPool = sync.Pool{New: func() any { return make(map[string]struct{}, 128) }}

// streamedBatchGet is get_multi's 200 past streamFlush bytes: the part read
// goes out first, then the rest is read and encoded item by item as it is
// written.
type streamedBatchGet struct{ r *batchReader }

func (s streamedBatchGet) VisitGetMultiResponse(w http.ResponseWriter) error {
	r := s.r
	defer r.release()
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusOK)
	write := func() error {
		_, err := w.Write(r.b)
		r.b = r.b[:0]
		return err
	}
	if err := write(); err != nil {
		return err
	}
	var werr error
	if _, err := r.read(r.next, func(b []byte) (bool, error) {
		if len(b) >= streamFlush {
			werr = write()
		}
		return werr != nil, werr
	}); err != nil {
		return err
	}
	r.b = append(r.b, batchGetClose...)
	return write()
}
