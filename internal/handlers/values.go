package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// validate checks the constraints the spec declares through
// x-oapi-codegen-extra-tags; field names in its errors are the wire names.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			return f.Name
		}
		return name
	})
	return v
}()

// check validates a decoded request struct and reports the first violation
// against its wire field name.
func check(v any) error {
	err := validate.Struct(v)
	if err == nil {
		return nil
	}
	if ve, ok := errors.AsType[validator.ValidationErrors](err); ok && len(ve) > 0 {
		fe := ve[0]
		// Namespace is "Type.field.sub"; the wire path starts after the type.
		_, field, _ := strings.Cut(fe.Namespace(), ".")
		switch {
		case fe.Tag() == "required":
			return invalid(field, "%s is required: %s", field, wantedOf(field))
		case fe.Tag() == "oneof":
			return mustBe(field, strconv.Quote(fmt.Sprint(reflect.Indirect(reflect.ValueOf(fe.Value())))), err)
		case fe.Param() != "":
			return invalid(field, "%s fails %s=%s", field, fe.Tag(), fe.Param())
		}
		return invalid(field, "%s fails %s", field, fe.Tag())
	}
	return fmt.Errorf("handlers: validate %T: %w", v, err)
}

// modes maps the wire mode names, already checked by validate, to store modes.
var modes = map[string]cache.Mode{
	"set":     cache.ModeSet,
	"add":     cache.ModeAdd,
	"replace": cache.ModeReplace,
	"cas":     cache.ModeCAS,
}

// decodeValue turns a wire value into what the store keeps, JSON compacted
// or base64 decoded, in place: v is the request's own bytes (a span of its
// body, or the generated decoder's json.RawMessage), which it overwrites,
// so the store's copy is the only allocation of the value's size. Its
// answers are those of json.Compact, and of base64 decoding the string
// encoding/json would unquote (TestDecodeValueAnswersAsTheStandardLibrary).
func decodeValue(v json.RawMessage, enc *gen.Encoding) ([]byte, cache.Kind, error) {
	if enc != nil && *enc == gen.EncodingBase64 {
		b, err := decodeBase64Value(v)
		return b, cache.KindBytes, err
	}
	if len(v) >= 2 && v[0] == '"' {
		// v is one token the decoder has checked, and a string is its own
		// compact form (Compact keeps a string's bytes).
		return v[:len(v):len(v)], cache.KindJSON, nil
	}
	if !json.Valid(v) {
		// Never so after the decoder or the plain parser; kept for the
		// wording, should a caller change.
		var buf bytes.Buffer
		err := json.Compact(&buf, v)
		return nil, 0, invalid("value", "value is not JSON: %v", err)
	}
	b := compactInPlace(v)
	return b[:len(b):len(b)], cache.KindJSON, nil
}

// compactInPlace removes the insignificant whitespace of valid JSON over
// itself, as json.Compact without HTML escaping does, and returns it.
func compactInPlace(v []byte) []byte {
	n := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			end := i + 1
			for v[end] != '"' {
				if v[end] == '\\' {
					end++
				}
				end++
			}
			n += copy(v[n:], v[i:end+1])
			i = end
			continue
		}
		v[n] = v[i]
		n++
	}
	return v[:n]
}

// decodeBase64Value decodes a base64 string value over itself. A string
// with escapes (\/ from PHP's json_encode, say) is unescaped in place first;
// the rare one whose escapes base64 would skip or refuse anyway (a newline,
// a non-ASCII character), and null, are unquoted by encoding/json instead.
func decodeBase64Value(v []byte) ([]byte, error) {
	var text []byte
	ok := len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"'
	if ok {
		text = v[1 : len(v)-1]
		if bytes.IndexByte(text, '\\') >= 0 {
			text, ok = unescapeASCII(text)
		}
	}
	if !ok {
		// null, which encoding/json unquotes as "", is the empty value.
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalid("value", `value must be a base64 string when "encoding" is "base64", not %s`, jsonKindOf(v))
		}
		text = []byte(s)
	}
	n, err := decodeBase64InPlace(text)
	if err != nil {
		return nil, invalid("value", "value must be standard base64 (A-Z a-z 0-9 + /, padded with =): %v", err)
	}
	return text[:n:n], nil
}

// unescapeASCII unescapes the text of a JSON string over itself when every
// escape in it stands for an ASCII character other than a line break (which
// base64 decoding skips, so the text's offsets would move); it reports false,
// having written nothing, otherwise.
func unescapeASCII(text []byte) ([]byte, bool) {
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' {
			continue
		}
		i++
		switch text[i] {
		case '"', '\\', '/', 'b', 'f', 't':
		case 'u':
			r, ok := hex4(text[i+1:])
			if !ok || r >= utf8.RuneSelf || r == '\n' || r == '\r' {
				return nil, false
			}
			i += 4
		default:
			return nil, false
		}
	}
	n := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\\' {
			i++
			switch c = text[i]; c {
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 't':
				c = '\t'
			case 'u':
				r, _ := hex4(text[i+1:])
				c = byte(r)
				i += 4
			}
		}
		text[n] = c
		n++
	}
	return text[:n], true
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n), err == nil
}

// base64Chunk is how much base64 text decodeBase64InPlace decodes at once:
// a multiple of 4, so every chunk but the last is whole quanta.
const base64Chunk = 4 << 10

// decodeBase64InPlace decodes standard base64 text over itself, a chunk at a
// time through a buffer on the stack: a chunk's bytes land before the next
// chunk's text (3/4 of what was read), so no text is overwritten unread. It
// returns the decoded length, or the error, offset included, that decoding
// the whole text at once gives.
func decodeBase64InPlace(text []byte) (int, error) {
	var out [base64Chunk / 4 * 3]byte
	n := 0
	for r := 0; r < len(text); r += base64Chunk {
		end := min(r+base64Chunk, len(text))
		m, err := base64.StdEncoding.Decode(out[:], text[r:end])
		// Padding is only right at the very end, which a chunk alone
		// cannot tell; line breaks, which Decode skips, are not in text.
		if err != nil || end < len(text) && text[end-1] == '=' {
			// The chunks before r were whole quanta without padding, so
			// decoding the whole text fails as decoding text[r:] does,
			// offset by r.
			rest := text[r:]
			tail := make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
			m, err := base64.StdEncoding.Decode(tail, rest)
			if ce, ok := errors.AsType[base64.CorruptInputError](err); ok {
				return 0, base64.CorruptInputError(int64(ce) + int64(r))
			} else if err != nil {
				return 0, fmt.Errorf("decode base64: %w", err)
			}
			return n + copy(text[n:], tail[:m]), nil
		}
		n += copy(text[n:], out[:m])
	}
	return n, nil
}

// etag is the strong entity tag of a CAS id.
func etag(cas uint64) string {
	return `"` + strconv.FormatUint(cas, 10) + `"`
}

// noneMatchHit applies If-None-Match to a GET: weak comparison, so W/"7"
// matches "7", and * matches any live item.
func noneMatchHit(header string, cas uint64) bool {
	current := etag(cas)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == current {
			return true
		}
	}
	return false
}

// writeRule is the storage rule of one PUT, and whether it came from a
// conditional header (whose failure is 412 precondition_failed).
type writeRule struct {
	mode        cache.Mode
	cas         uint64
	conditional bool
}

// failed labels a write the store refused: a conditional request's refusal
// is a failed precondition (RFC 9110), whatever the cache rule behind it.
func (w writeRule) failed(err error) error {
	if w.conditional && (errors.Is(err, cache.ErrCASMismatch) || errors.Is(err, cache.ErrNotFound) || errors.Is(err, cache.ErrExists)) {
		return &apiError{status: http.StatusPreconditionFailed, code: gen.ErrorDetailCodePreconditionFailed,
			err: fmt.Errorf("set: precondition failed: %w", err)}
	}
	return fmt.Errorf("set: %w", err)
}

// resolveMode combines mode, the body's or query's cas and the conditional
// headers into one storage rule; contradictions are the client's error.
func resolveMode(p gen.SetParams, casText *string) (writeRule, error) {
	var rule writeRule
	switch {
	case p.IfMatch != nil && p.IfNoneMatch != nil:
		return rule, invalid("If-Match", "If-Match and If-None-Match cannot be combined")
	case p.IfNoneMatch != nil:
		if *p.IfNoneMatch != gen.Asterisk {
			return rule, invalid("If-None-Match", "only If-None-Match: * is supported on PUT")
		}
		rule = writeRule{mode: cache.ModeAdd, conditional: true}
	case p.IfMatch != nil && strings.TrimSpace(*p.IfMatch) == "*":
		rule = writeRule{mode: cache.ModeReplace, conditional: true}
	case p.IfMatch != nil:
		cas, err := parseIfMatch(*p.IfMatch)
		if err != nil {
			return rule, err
		}
		rule = writeRule{mode: cache.ModeCAS, cas: cas, conditional: true}
	}
	if !rule.conditional {
		rule.mode = cache.ModeSet
		if p.Mode != nil {
			rule.mode = modes[string(*p.Mode)]
		}
		cas, err := casFor(rule.mode, casText, "cas")
		rule.cas = cas
		return rule, err
	}
	if p.Mode != nil && modes[string(*p.Mode)] != rule.mode {
		return rule, invalid("mode", "mode=%s contradicts the conditional header", *p.Mode)
	}
	if casText != nil {
		if rule.mode != cache.ModeCAS {
			return rule, invalid("cas", "a cas token contradicts If-Match: * and If-None-Match: *")
		}
		if cas, err := strconv.ParseUint(*casText, 10, 64); err != nil || cas != rule.cas {
			return rule, invalid("cas", "cas %q contradicts If-Match", *casText)
		}
	}
	return rule, nil
}

// parseIfMatch reads one strong entity tag. A weak tag or one no item can
// carry never matches (strong comparison), which is a failed precondition;
// a list or a malformed tag is a bad request.
func parseIfMatch(header string) (uint64, error) {
	tag := strings.TrimSpace(header)
	switch {
	case strings.Contains(tag, ","):
		return 0, invalid("If-Match", "a list of entity tags is not supported")
	case strings.HasPrefix(tag, "W/"):
		return 0, preconditionFailed("weak entity tag %s never matches strongly", tag)
	case len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"':
		return 0, invalid("If-Match", "%q is not a quoted entity tag", tag)
	}
	cas, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64)
	if err != nil {
		return 0, preconditionFailed("entity tag %s matches no item", tag)
	}
	return cas, nil
}

func preconditionFailed(format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	return &apiError{status: http.StatusPreconditionFailed, code: gen.ErrorDetailCodePreconditionFailed, field: "If-Match",
		reason: reason, err: errors.New("handlers: " + reason)}
}

// casFor reads the CAS token a write needs: required for cas, refused for
// other modes so a forgotten mode=cas is not silently a set.
func casFor(mode cache.Mode, text *string, field string) (uint64, error) {
	switch {
	case mode == cache.ModeCAS && text == nil:
		return 0, invalid(field, `mode=cas needs the item's CAS token: send "cas": "<token>" from a get (its "cas", or its ETag), or the header If-Match: "<token>"`)
	case mode != cache.ModeCAS && text != nil:
		return 0, invalid(field, "a cas token needs mode=cas (PUT …/keys/{key}?mode=cas); without it, leave cas out")
	case text == nil:
		return 0, nil
	}
	cas, err := strconv.ParseUint(*text, 10, 64)
	if err != nil {
		return 0, invalid(field, "cas %q is not an unsigned 64-bit decimal", *text)
	}
	return cas, nil
}
