package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// stdDecodeValue is decodeValue as the standard library spells it: the
// string encoding/json unquotes, base64 decoded whole, or json.Compact.
func stdDecodeValue(v []byte, enc *gen.Encoding) ([]byte, cache.Kind, error) {
	if enc != nil && *enc == gen.EncodingBase64 {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, 0, invalid("value", `value must be a base64 string when "encoding" is "base64", not %s`, jsonKindOf(v))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, 0, invalid("value", "value must be standard base64 (A-Z a-z 0-9 + /, padded with =): %v", err)
		}
		return b, cache.KindBytes, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return nil, 0, invalid("value", "value is not JSON: %v", err)
	}
	return buf.Bytes(), cache.KindJSON, nil
}

func checkDecodeValue(t *testing.T, v string, enc *gen.Encoding) {
	t.Helper()
	want, wantKind, wantErr := stdDecodeValue([]byte(v), enc)
	got, kind, err := decodeValue([]byte(v), enc) // a copy: it decodes over it
	if wantErr != nil {
		if assert.Error(t, err, "%.80q", v) {
			assert.Equal(t, wantErr.Error(), err.Error(), "%.80q", v)
		}
		return
	}
	if assert.NoError(t, err, "%.80q", v) {
		assert.Equal(t, wantKind, kind, "%.80q", v)
		assert.True(t, bytes.Equal(want, got), "%.80q: got %.80q, want %.80q", v, got, want)
		assert.Equal(t, len(got), cap(got), "a value ends at its capacity, so nothing appends over the body")
	}
}

// TestDecodeValueAnswersAsTheStandardLibrary checks the in-place decoding
// against json.Compact and encoding/json's unquoting with base64's whole
// decoding: the same bytes, or the same error, offsets included, in texts
// longer than a chunk and with errors on either side of a chunk's end.
func TestDecodeValueAnswersAsTheStandardLibrary(t *testing.T) {
	b64 := gen.EncodingBase64
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff, 0, 'x', 7}, 5000)) // 26668 characters
	for _, v := range []string{
		`"abc"`, `{ "a" : [ 1 , 2 ] , "b" : "x y\"z" }`, "[\n\t1,\r\n2 ]", `-1.5e3`, `null`, ` true `,
		`{"a":"\u00e9 \\"}`, `[]`, `{}`,
	} {
		checkDecodeValue(t, v, nil)
		checkDecodeValue(t, v, &b64)
	}
	for _, text := range []string{
		"", "AP8=", "AP8", "AP8==", "A", "AP8=AP8=", "!!!!", "AP 8", `\/w==`, `\/\/\/\/`, `A\u0050\u0038=`,
		`AP8=\n`, `AP\r8=`, `AP\t8=`, `AP8=\u00e9`, `\b\f`, `\"`,
		long, long[:base64Chunk], long[:base64Chunk+4], long[:base64Chunk-1],
		long[:base64Chunk-4] + "AA==" + long[:8],                       // padding at a chunk's end, then more
		long[:base64Chunk-4] + "AA==",                                  // padding at the very end
		long[:base64Chunk-2] + "==" + long[:8],                         // padding across a chunk's end
		long[:base64Chunk+10] + "!" + long[:100],                       // an error in the second chunk
		long[:2*base64Chunk] + "A",                                     // a short last quantum
		strings.ReplaceAll(long, "/", `\/`),                            // escapes throughout
		strings.ReplaceAll(long[:3*base64Chunk], "/", `\/`) + `\u0021`, // and an error after them
		long[:base64Chunk-1] + `\n` + long[:base64Chunk],               // a line break base64 skips
	} {
		checkDecodeValue(t, `"`+text+`"`, &b64)
	}
	checkDecodeValue(t, `12`, &b64)
	checkDecodeValue(t, `{"a":1}`, &b64)
}

// FuzzDecodeValue holds decodeValue to the standard library's answers for
// any valid JSON value, as JSON and as base64.
func FuzzDecodeValue(f *testing.F) {
	for _, seed := range []string{`"AP8="`, `{"a": [1, " "]}`, `"\/w=="`, `"AP8=\n"`, `"A"`} {
		f.Add(seed)
	}
	b64 := gen.EncodingBase64
	f.Fuzz(func(t *testing.T, v string) {
		if !json.Valid([]byte(v)) {
			return
		}
		v = strings.Trim(v, " \t\r\n")
		checkDecodeValue(t, v, nil)
		checkDecodeValue(t, v, &b64)
		if s, err := json.Marshal(v); err == nil {
			// v's text as a string's, then as base64 of itself.
			checkDecodeValue(t, string(s), &b64)
			checkDecodeValue(t, `"`+base64.StdEncoding.EncodeToString([]byte(v))+`"`, &b64)
		}
	})
}
