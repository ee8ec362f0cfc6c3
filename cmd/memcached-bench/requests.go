package main

import (
	"fmt"
	"strconv"
)

// targetKind says which HTTP dialect the generator speaks.
type targetKind string

const (
	// targetMemcached is memcached-http's /v1 API (api/openapi.yaml).
	targetMemcached targetKind = "memcached"
	// targetWebdis is Webdis's command-in-the-URL form over Redis.
	targetWebdis targetKind = "webdis"
	// targetFixed is the -serve-fixed ceiling, which answers any path.
	targetFixed targetKind = "fixed"
)

// op is one kind of request in the mix.
type op uint8

const (
	opGet op = iota
	opSet
	opIncr
	opBatchGet
)

var opNames = map[string]op{"get": opGet, "set": opSet, "incr": opIncr, "batchget": opBatchGet}

// String is the operation's name as -mix spells it.
func (o op) String() string {
	for name, v := range opNames {
		if v == o {
			return name
		}
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// builder appends complete HTTP/1.1 requests into a caller's buffer. Everything
// that does not depend on the key is rendered once in newBuilder, so building
// a request is a few appends into reused memory.
type builder struct {
	kind      targetKind
	host      string // Host header line, "Host: …\r\n"
	keyPath   string // path up to the key, e.g. "/v1/ns/bench/keys/"
	batchPath string // "/v1/ns/bench/keys:batchGet"
	getSuffix string // path suffix and headers that end a GET's request head
	setHead   []byte // "Content-Type…Content-Length…\r\n\r\n" of a set
	setBody   []byte // a set's body: the value, framed as the target wants
	incrBody  []byte
	batch     int
	body      []byte // scratch for batch bodies, reused
}

// valueBytes is the value every set stores: printable, so it travels as-is in
// a JSON string, a raw body or a Redis argument.
func valueBytes(size int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	v := make([]byte, size)
	for i := range v {
		v[i] = alphabet[i%len(alphabet)]
	}
	return v
}

// newBuilder prepares the request templates for one target. raw selects
// application/octet-stream values instead of JSON ones on memcached-http (and
// Webdis's .txt form, which returns the bare value).
func newBuilder(kind targetKind, hostport, namespace string, valueSize, batch int, raw bool) (*builder, error) {
	b := &builder{kind: kind, host: "Host: " + hostport + "\r\n", batch: batch}
	value := valueBytes(valueSize)
	switch kind {
	case targetMemcached:
		b.keyPath = "/v1/ns/" + namespace + "/keys/"
		b.batchPath = "/v1/ns/" + namespace + "/keys:batchGet"
		if raw {
			b.getSuffix = " HTTP/1.1\r\n" + b.host + "Accept: application/octet-stream\r\n\r\n"
			b.setBody = value
			b.setHead = []byte("Content-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(value)) + "\r\n\r\n")
		} else {
			b.getSuffix = " HTTP/1.1\r\n" + b.host + "\r\n"
			b.setBody = []byte(`{"value":"` + string(value) + `"}`)
			b.setHead = []byte("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(b.setBody)) + "\r\n\r\n")
		}
		b.incrBody = []byte(`{"delta":1,"initial_value":0}`)
	case targetWebdis:
		if raw {
			b.getSuffix = ".txt HTTP/1.1\r\n" + b.host + "\r\n"
		} else {
			b.getSuffix = " HTTP/1.1\r\n" + b.host + "\r\n"
		}
		b.setBody = value
		b.setHead = []byte("Content-Length: " + strconv.Itoa(len(value)) + "\r\n\r\n")
	case targetFixed:
		b.keyPath = "/"
		b.getSuffix = " HTTP/1.1\r\n" + b.host + "\r\n"
	default:
		return nil, fmt.Errorf("memcached-bench: unknown target %q (want memcached, webdis or fixed)", kind)
	}
	return b, nil
}

// appendKey appends the name of key i ("k42"); counters live under "n42"
// so incr never meets the string values that sets store.
func appendKey(dst []byte, prefix byte, i uint64) []byte {
	return strconv.AppendUint(append(dst, prefix), i, 10)
}

// build appends one request of kind o to dst, drawing its key(s) from keys.
func (b *builder) build(dst []byte, o op, keys keyChooser) []byte {
	switch b.kind {
	case targetFixed:
		dst = append(dst, "GET "...)
		dst = append(dst, b.keyPath...)
		return append(dst, b.getSuffix...)
	case targetWebdis:
		return b.buildWebdis(dst, o, keys)
	}
	switch o {
	case opGet:
		dst = append(dst, "GET "...)
		dst = appendKey(append(dst, b.keyPath...), 'k', keys.next())
		return append(dst, b.getSuffix...)
	case opSet:
		dst = append(dst, "PUT "...)
		dst = appendKey(append(dst, b.keyPath...), 'k', keys.next())
		dst = append(dst, " HTTP/1.1\r\n"...)
		dst = append(append(dst, b.host...), b.setHead...)
		return append(dst, b.setBody...)
	case opIncr:
		dst = append(dst, "POST "...)
		dst = appendKey(append(dst, b.keyPath...), 'n', keys.next())
		dst = append(dst, ":incr HTTP/1.1\r\n"...)
		dst = append(dst, b.host...)
		dst = append(dst, "Content-Type: application/json\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(b.incrBody)), 10)
		dst = append(dst, "\r\n\r\n"...)
		return append(dst, b.incrBody...)
	default: // opBatchGet
		body := append(b.body[:0], `{"keys":[`...)
		for i := range b.batch {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(appendKey(append(body, '"'), 'k', keys.next()), '"')
		}
		body = append(body, "]}"...)
		b.body = body
		dst = append(dst, "POST "...)
		dst = append(dst, b.batchPath...)
		dst = append(dst, " HTTP/1.1\r\n"...)
		dst = append(dst, b.host...)
		dst = append(dst, "Content-Type: application/json\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, "\r\n\r\n"...)
		return append(dst, body...)
	}
}

// buildWebdis renders o in Webdis's URL form: GET /GET/k1, PUT /SET/k1 with
// the value as body, GET /INCR/n1 and GET /MGET/k1/k2/….
func (b *builder) buildWebdis(dst []byte, o op, keys keyChooser) []byte {
	switch o {
	case opGet:
		dst = append(dst, "GET /GET/"...)
		dst = appendKey(dst, 'k', keys.next())
		return append(dst, b.getSuffix...)
	case opSet:
		dst = append(dst, "PUT /SET/"...)
		dst = appendKey(dst, 'k', keys.next())
		dst = append(dst, " HTTP/1.1\r\n"...)
		dst = append(append(dst, b.host...), b.setHead...)
		return append(dst, b.setBody...)
	case opIncr:
		dst = append(dst, "GET /INCR/"...)
		dst = appendKey(dst, 'n', keys.next())
		return append(dst, b.getSuffix...)
	default: // opBatchGet
		dst = append(dst, "GET /MGET"...)
		for range b.batch {
			dst = appendKey(append(dst, '/'), 'k', keys.next())
		}
		return append(dst, b.getSuffix...)
	}
}
