package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

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

// decodeValue turns a wire value into what the store keeps: JSON compacted
// or base64 decoded, appended to dst (the value is never longer than v, so
// a dst with len(v) spare bytes is not grown: one copy of the value).
func decodeValue(dst []byte, v json.RawMessage, enc *gen.Encoding) ([]byte, cache.Kind, error) {
	if enc != nil && *enc == gen.EncodingBase64 {
		text := []byte(v)
		// Base64 text holds no character JSON must escape; a string that
		// escapes one anyway (\/ or \u0041) is unquoted by encoding/json.
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || bytes.IndexByte(v, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, 0, invalid("value", `value must be a base64 string when "encoding" is "base64", not %s`, jsonKindOf(v))
			}
			text = []byte(s)
		} else {
			text = text[1 : len(text)-1]
		}
		start := len(dst)
		dst = slices.Grow(dst, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Decode(dst[start:start+base64.StdEncoding.DecodedLen(len(text))], text)
		if err != nil {
			return nil, 0, invalid("value", "value must be standard base64 (A-Z a-z 0-9 + /, padded with =): %v", err)
		}
		return dst[start : start+n : start+n], cache.KindBytes, nil
	}
	start := len(dst)
	if len(v) >= 2 && v[0] == '"' {
		// v is one token the decoder has checked, and a string is its own
		// compact form (Compact keeps a string's bytes): copy it.
		dst = append(dst, v...)
		return dst[start:len(dst):len(dst)], cache.KindJSON, nil
	}
	buf := bytes.NewBuffer(slices.Grow(dst, len(v))[start:start])
	if err := json.Compact(buf, v); err != nil {
		return nil, 0, invalid("value", "value is not JSON: %v", err)
	}
	b := buf.Bytes()
	return b[:len(b):len(b)], cache.KindJSON, nil
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
