package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// A refusal says what is wanted, not only what is wrong: the field, the form
// its value must take, and the fix where there is one. wanted holds the form
// of every request member and parameter, by the last element of its wire path
// (items[1].time is "time"), so each is worded once.
var wanted = map[string]string{
	"time":          "a number of seconds: 0 (or absent) never expires, up to 2592000 (30 days) is relative to now, larger is a Unix time",
	"seconds":       "a number of seconds to keep the key locked after the delete: 0 (or absent) for no lock, up to 2592000 (30 days) relative to now, larger a Unix time",
	"flags":         "an integer from 0 to 4294967295",
	"delta":         "an integer from 0 to 18446744073709551615",
	"initial_value": "an integer from 0 to 18446744073709551615",
	"cas":           `the item's CAS token as a JSON string of digits, e.g. "12" (a get answers it as "cas" and as the ETag)`,
	"key_prefix":    "a string",
	"key":           "a non-empty string",
	"keys":          `an array of key strings, e.g. ["user:42", "user:43"]`,
	"items":         `an array of objects such as {"key": "user:42", "value": 1}`,
	"offsets":       `an object mapping each key to a signed integer delta, e.g. {"hits": 1, "credits": -3}`,
	"offset":        "an integer from -9223372036854775808 to 9223372036854775807",
	"for_cas":       "true or false",
	"limit":         "an integer from 1 to 1000",
	"prefix":        "a string of at most 250 bytes",
	"cursor":        `the "next_cursor" of the page before`,
	"mode":          "set, add, replace or cas",
	"encoding":      "json or base64",
	"value":         `any JSON value, or with "encoding": "base64" a base64 string`,
	"namespace":     "~ (App Engine's empty namespace) or an App Engine namespace name: " + cache.NamespaceGrammar,
}

// fixes are hints for a mistake that has a better way out than a valid
// value: a negative delta is a decr.
var fixes = map[string]string{
	"delta": "to subtract, POST …/keys/{key}:decr, or use keys:batchOffset, which takes signed deltas",
}

var index = regexp.MustCompile(`\[\d+\]`)

// wantedOf is the form field's value must take ("" when it has none on file).
func wantedOf(field string) string {
	if strings.HasPrefix(field, "offsets.") {
		return wanted["offset"]
	}
	leaf := index.ReplaceAllString(field, "")
	if i := strings.LastIndexByte(leaf, '.'); i >= 0 {
		leaf = leaf[i+1:]
	}
	return wanted[leaf]
}

// mustBe refuses field's value got (already worded: `"abc"`, `-1`, `a JSON
// string`), saying the form it must take and, where there is one, the fix.
func mustBe(field, got string, cause error) *apiError {
	msg := field + " must be " + wantedOf(field)
	if wantedOf(field) == "" {
		msg = field + " is not valid"
	}
	if got != "" {
		msg += ", not " + got
	}
	if fix, ok := fixes[field]; ok && strings.HasPrefix(got, "-") {
		msg += "; " + fix
	}
	if cause == nil {
		return badRequest(field, msg, errors.New(msg))
	}
	// The cause goes to the log line as it is (the cache's words included).
	return &apiError{status: http.StatusBadRequest, code: gen.ErrorDetailCodeInvalidArgument, field: field, reason: msg, err: cause}
}

// jsonKind words the Value of a json.UnmarshalTypeError ("string", "number
// -1", "object") as what was sent.
func jsonKind(value string) string {
	if n, ok := strings.CutPrefix(value, "number "); ok {
		return n
	}
	return "a JSON " + value
}

// unknownMember refuses a member no operation's body declares, naming the
// ones it takes and the likely one meant.
func unknownMember(path string, known, top fields) *apiError {
	name := path
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		name = strings.TrimPrefix(path[i+1:], ".")
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names)
	msg := fmt.Sprintf("unknown member %s", strconv.Quote(path))
	if len(names) > 0 {
		msg += "; the members here are " + strings.Join(names, ", ")
	}
	switch meant, ok := meantFor[strings.ToLower(name)]; {
	case ok && meant == "":
		msg += " (the namespace goes in the path: /v1/ns/{namespace}/…)"
	case ok:
		if _, ok := known[meant]; ok {
			msg += fmt.Sprintf(" (for %s, send %s)", name, meant)
		} else if _, ok := top[meant]; ok {
			msg += fmt.Sprintf(" (for %s, send %s, beside %s: it applies to the whole request)", name, meant, strings.SplitN(path, "[", 2)[0])
		}
	}
	return badRequest(path, msg, fmt.Errorf("%s", msg))
}

// meantFor maps names other caches and APIs use to ours.
var meantFor = map[string]string{
	"ttl": "time", "expiry": "time", "expires": "time", "expiration": "time", "exptime": "time",
	"flag": "flags", "data": "value", "val": "value", "cas_id": "cas", "casid": "cas",
	"prefix": "key_prefix", "keyprefix": "key_prefix", "initial": "initial_value", "initialvalue": "initial_value",
	"amount": "delta", "by": "delta", "lock": "seconds", "namespace": "", "ns": "",
}

// jsonKindOf words the kind of a raw JSON value ("a JSON number").
func jsonKindOf(v []byte) string {
	t := strings.TrimLeft(string(v), " \t\r\n")
	switch {
	case t == "":
		return "nothing"
	case t[0] == '"':
		return "a JSON string"
	case t[0] == '{':
		return "a JSON object"
	case t[0] == '[':
		return "a JSON array"
	case t[0] == 't' || t[0] == 'f':
		return "a JSON boolean"
	case t[0] == 'n':
		return "null"
	}
	return "a JSON number"
}

// fieldsAt returns the members of the object holding path's last element
// (items[1].ttl → the members of an item), and whether path's parent is an
// array member given an object instead (items.a: items sent as an object).
func fieldsAt(want fields, path string) (known fields, objectForArray bool) {
	parts := strings.Split(path, ".")
	known = want
	for i, p := range parts[:len(parts)-1] {
		name, indexed := p, false
		if j := strings.IndexByte(p, '['); j >= 0 {
			name, indexed = p[:j], true
		}
		if arrayMembers[name] && !indexed && i == len(parts)-2 {
			return nil, true
		}
		known = known[name]
	}
	return known, false
}
