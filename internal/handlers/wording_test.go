package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Common mistakes and what the server answers: the status, the code, the
// field and the whole message, which says what is wanted (the form a value
// must take, and the fix where there is one), not only what is wrong. The
// messages are pinned word for word: changing one is a decision, made here.
func TestErrorWordingOfCommonMistakes(t *testing.T) {
	const (
		timeForm    = "a number of seconds: 0 (or absent) never expires, up to 2592000 (30 days) is relative to now, larger is a Unix time"
		secondsForm = "a number of seconds to keep the key locked after the delete: 0 (or absent) for no lock, up to 2592000 (30 days) relative to now, larger a Unix time"
		u64Form     = "an integer from 0 to 18446744073709551615"
		casForm     = `the item's CAS token as a JSON string of digits, e.g. "12" (a get answers it as "cas" and as the ETag)`
		setMembers  = "cas, encoding, flags, time, value"
	)
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
		msg    string
	}{
		{"time as a JSON string", request{method: "PUT", path: keyPath("k"), body: `{"value": 1, "time": "60"}`},
			400, "invalid_argument", "time", "time must be " + timeForm + ", not a JSON string"},
		{"a negative time", request{method: "PUT", path: keyPath("k"), body: `{"value": 1, "time": -5}`},
			400, "invalid_argument", "time", "time must be " + timeForm + ", not -5"},
		{"a negative lock period on delete answers about seconds", request{method: "DELETE", path: keyPath("k") + "?seconds=-1"},
			400, "invalid_argument", "seconds", "seconds must be " + secondsForm + ", not -1"},
		{"a lock period that is not a number", request{method: "DELETE", path: keyPath("k") + "?seconds=soon"},
			400, "invalid_argument", "seconds", "seconds must be " + secondsForm + `, not "soon"`},
		{"a negative incr delta points to decr", request{method: "POST", path: keyPath("k") + ":incr", body: `{"delta": -1}`},
			400, "invalid_argument", "delta", "delta must be " + u64Form + ", not -1; to subtract, POST …/keys/{key}:decr, or use keys:batchOffset, which takes signed deltas"},
		{"a delta as a JSON string", request{method: "POST", path: keyPath("k") + ":incr", body: `{"delta": "1"}`},
			400, "invalid_argument", "delta", "delta must be " + u64Form + ", not a JSON string"},
		{"a negative initial value", request{method: "POST", path: keyPath("k") + ":incr", body: `{"initial_value": -1}`},
			400, "invalid_argument", "initial_value", "initial_value must be " + u64Form + ", not -1"},
		{"batchSet items as an object", request{method: "POST", path: "/v1/ns/~/keys:batchSet", body: `{"items": {"a": 1}}`},
			400, "invalid_argument", "items", `items must be an array of objects such as {"key": "user:42", "value": 1}, not a JSON object`},
		{"an unknown member names the members and the one meant", request{method: "PUT", path: keyPath("k"), body: `{"value": 1, "ttl": 60}`},
			400, "invalid_argument", "ttl", `unknown member "ttl"; the members here are ` + setMembers + " (for ttl, send time)"},
		{"an unknown member inside an item", request{method: "POST", path: "/v1/ns/~/keys:batchSet", body: `{"items": [{"key": "a", "value": 1, "expires": 5}]}`},
			400, "invalid_argument", "items[0].expires", `unknown member "items[0].expires"; the members here are cas, encoding, flags, key, value (for expires, send time, beside items: it applies to the whole request)`},
		{"a namespace member in the body", request{method: "POST", path: "/v1/ns/~/keys:batchGet", body: `{"keys": ["a"], "namespace": "app"}`},
			400, "invalid_argument", "namespace", `unknown member "namespace"; the members here are for_cas, key_prefix, keys (the namespace goes in the path: /v1/ns/{namespace}/…)`},
		{"415 names the Content-Types wanted", request{method: "PUT", path: keyPath("k"), body: "hi", header: map[string]string{"Content-Type": "text/plain"}},
			415, "unsupported_media_type", "Content-Type", "Content-Type text/plain is not supported here: send JSON with Content-Type: application/json, or the raw value with Content-Type: application/octet-stream (time, flags and cas then in the query)"},
		{"415 on a batch names JSON only", request{method: "POST", path: "/v1/ns/~/keys:batchGet", body: "keys=a", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
			415, "unsupported_media_type", "Content-Type", "Content-Type application/x-www-form-urlencoded is not supported here: send JSON with Content-Type: application/json"},
		{"a missing value", request{method: "PUT", path: keyPath("k"), body: `{}`},
			400, "invalid_argument", "value", `value is required: any JSON value, or with "encoding": "base64" a base64 string`},
		{"an unknown mode", request{method: "PUT", path: keyPath("k") + "?mode=upsert", body: `{"value": 1}`},
			400, "invalid_argument", "mode", `mode must be set, add, replace or cas, not "upsert"`},
		{"an unknown batch mode", request{method: "POST", path: "/v1/ns/~/keys:batchSet", body: `{"mode": "upsert", "items": []}`},
			400, "invalid_argument", "mode", `mode must be set, add, replace or cas, not "upsert"`},
		{"mode=cas without a token", request{method: "PUT", path: keyPath("k") + "?mode=cas", body: `{"value": 1}`},
			400, "invalid_argument", "cas", `mode=cas needs the item's CAS token: send "cas": "<token>" from a get (its "cas", or its ETag), or the header If-Match: "<token>"`},
		{"a cas token as a JSON number", request{method: "PUT", path: keyPath("k") + "?mode=cas", body: `{"value": 1, "cas": 5}`},
			400, "invalid_argument", "cas", "cas must be " + casForm + ", not a JSON number"},
		{"negative flags", request{method: "PUT", path: keyPath("k"), body: `{"value": 1, "flags": -1}`},
			400, "invalid_argument", "flags", "flags must be an integer from 0 to 4294967295, not -1"},
		{"flags over 32 bits", request{method: "PUT", path: keyPath("k"), body: `{"value": 1, "flags": 4294967296}`},
			400, "invalid_argument", "flags", "flags must be an integer from 0 to 4294967295, not 4294967296"},
		{"an unknown encoding", request{method: "PUT", path: keyPath("k"), body: `{"value": "x", "encoding": "hex"}`},
			400, "invalid_argument", "encoding", `encoding must be json or base64, not "hex"`},
		{"bad base64", request{method: "PUT", path: keyPath("k"), body: `{"value": "!!", "encoding": "base64"}`},
			400, "invalid_argument", "value", "value must be standard base64 (A-Z a-z 0-9 + /, padded with =): illegal base64 data at input byte 0"},
		{"base64 that is not a string", request{method: "PUT", path: keyPath("k"), body: `{"value": 5, "encoding": "base64"}`},
			400, "invalid_argument", "value", `value must be a base64 string when "encoding" is "base64", not a JSON number`},
		{"batchGet keys as a string", request{method: "POST", path: "/v1/ns/~/keys:batchGet", body: `{"keys": "a"}`},
			400, "invalid_argument", "keys", `keys must be an array of key strings, e.g. ["user:42", "user:43"], not a JSON string`},
		{"batchGet without keys", request{method: "POST", path: "/v1/ns/~/keys:batchGet", body: `{}`},
			400, "invalid_argument", "keys", `keys is required: an array of key strings, e.g. ["user:42", "user:43"]`},
		{"batchOffset offsets as an array", request{method: "POST", path: "/v1/ns/~/keys:batchOffset", body: `{"offsets": [1]}`},
			400, "invalid_argument", "offsets", `offsets must be an object mapping each key to a signed integer delta, e.g. {"hits": 1, "credits": -3}, not a JSON array`},
		{"a namespace outside App Engine's grammar", request{method: "GET", path: "/v1/ns/a%20b/keys/k"},
			400, "invalid_argument", "namespace", `namespace "a b": App Engine namespaces are [0-9A-Za-z._-]{0,100}, and ~ is the empty namespace`},
		{"a key over 250 bytes", request{method: "GET", path: keyPath(strings.Repeat("k", 300))},
			400, "key_too_long", "key", "key too long: 300 bytes, at most 250 allowed"},
		{"a body that is a JSON array", request{method: "PUT", path: keyPath("k"), body: `[1]`},
			400, "invalid_argument", "", "the request body must be a JSON object, not a JSON array"},
		{"for_cas that is not a boolean", request{method: "GET", path: keyPath("k") + "?for_cas=maybe"},
			400, "invalid_argument", "for_cas", `for_cas must be true or false, not "maybe"`},
		{"a listing limit that is not a number", request{method: "GET", path: "/v1/ns/~/keys?limit=abc"},
			400, "invalid_argument", "limit", `limit must be an integer from 1 to 1000, not "abc"`},
		{"for_cas given twice, the first valid", request{method: "GET", path: keyPath("k") + "?for_cas=true&for_cas=false"},
			400, "invalid_argument", "for_cas", "for_cas is given 2 times; send it once"},
		{"a delete lock given twice", request{method: "DELETE", path: keyPath("k") + "?seconds=5&seconds=6"},
			400, "invalid_argument", "seconds", "seconds is given 2 times; send it once"},
		{"time in the query beside a JSON body", request{method: "PUT", path: keyPath("k") + "?time=60", body: `{"value": 1}`},
			400, "invalid_argument", "time", "time goes in the JSON body"},
	}
	require.GreaterOrEqual(t, len(tests), 20)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do(tt.req)
			require.Equal(t, tt.status, res.status, "%s", res.body)
			var body struct {
				Error struct {
					Code, Message string
					Field         *string
				}
			}
			require.NoError(t, json.Unmarshal(res.body, &body), "%s", res.body)
			assert.Equal(t, tt.code, body.Error.Code)
			field := ""
			if body.Error.Field != nil {
				field = *body.Error.Field
			}
			assert.Equal(t, tt.field, field)
			assert.Equal(t, tt.msg, body.Error.Message)
			assert.NotContains(t, strings.ToLower(body.Error.Message), "seed")
			if tt.status == http.StatusBadRequest && tt.field != "" {
				assert.Contains(t, body.Error.Message, tt.field, "the message names its field")
			}
		})
	}
}
