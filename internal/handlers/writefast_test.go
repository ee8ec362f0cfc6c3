package handlers_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowBody spells body so that the write fast paths decline it (a member
// name with a JSON escape is not plain) while it means the same: the
// generated strict server then answers, and is the oracle for the fast one.
func slowBody(body string) string {
	for _, m := range []string{`"value"`, `"delta"`, `"initial_value"`, `"flags"`} {
		if strings.Contains(body, m) {
			return strings.Replace(body, m, fmt.Sprintf(`"\u%04x`, m[1])+m[2:], 1)
		}
	}
	return body
}

var casDigits = regexp.MustCompile(`"\d+"`)

// manyMembers is n members of an object, more than its duplicate check
// keeps on the stack.
func manyMembers(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf(`"m%d":%d`, i, i)
	}
	return strings.Join(m, ",")
}

// TestWriteFastPathsAnswerAsTheGeneratedPath sends each PUT and incr/decr
// body once plain (the fast path) and once spelled so that only the
// generated way takes it, to keys in the same state, and wants the same
// status, headers, body (CAS ids aside) and stored item.
func TestWriteFastPathsAnswerAsTheGeneratedPath(t *testing.T) {
	require.Equal(t, `{"\u0076alue": "x"}`, slowBody(`{"value": "x"}`))
	require.Equal(t, `{"\u0064elta": 2}`, slowBody(`{"delta": 2}`))

	for _, tt := range []struct {
		name, method, suffix, body string
		before                     string            // JSON value stored first, "" for none
		header                     map[string]string // sent with the write
	}{
		{name: "a plain string", method: http.MethodPut, body: `{"value":"abcdefghij"}`},
		{name: "HTML and unicode kept verbatim", method: http.MethodPut, body: `{ "value" : "<b>&é🙂\u2028" , "flags": 7 }`},
		{name: "flags and time", method: http.MethodPut, body: `{"value":"x","flags":4294967295,"time":3600}`},
		{name: "an absolute time", method: http.MethodPut, body: `{"time":1800000000,"value":"x"}`},
		{name: "a time in the past stores nothing", method: http.MethodPut, body: `{"value":"x","time":1000000000}`},
		{name: "a time out of range", method: http.MethodPut, body: `{"value":"x","time":9007199254740991}`},
		{name: "flags too large", method: http.MethodPut, body: `{"value":"x","flags":4294967296}`},
		{name: "an overwrite", method: http.MethodPut, body: `{"value":"new"}`, before: `"old"`},
		{name: "an object, whitespace and all", method: http.MethodPut, body: "{\"value\": { \"a\" : [1, 2.50, -0, 1e40],\n\"b\": {\"c\": null} }, \"flags\": 3}"},
		{name: "an array", method: http.MethodPut, body: `{"value":[ true , null, "x" ]}`},
		{name: "a number", method: http.MethodPut, body: `{"value": 18446744073709551616}`},
		{name: "null", method: http.MethodPut, body: `{"value": null}`},
		{name: "an escaped string", method: http.MethodPut, body: `{"value":"a\"b\\c\u00e9\ud83d\ude42\n"}`},
		{name: "a member twice in the value", method: http.MethodPut, body: `{"value":{"a":1,"b":{"c":1,"c":2}}}`},
		{name: "many members, one twice", method: http.MethodPut, body: `{"value":{` + manyMembers(40) + `,"m7":0}}`},
		{name: "many members", method: http.MethodPut, body: `{"value":{` + manyMembers(40) + `}}`},
		{name: "a value that is not JSON", method: http.MethodPut, body: `{"value":{"a":1,}}`},
		{name: "encoding json", method: http.MethodPut, body: `{"value":{"a":1},"encoding":"json"}`},
		{name: "base64", method: http.MethodPut, body: `{"value":"AP8=","encoding":"base64","flags":2}`},
		{name: "base64 with escaped slashes", method: http.MethodPut, body: `{"value":"\/\/8A\u0041A==","encoding":"base64"}`},
		{name: "base64 with an escaped line break", method: http.MethodPut, body: `{"value":"AP8=\n","encoding":"base64"}`},
		{name: "base64 with a non-ASCII escape", method: http.MethodPut, body: `{"value":"AP8=\u00e9","encoding":"base64"}`},
		{name: "base64 badly padded", method: http.MethodPut, body: `{"value":"AP8=AP8=","encoding":"base64"}`},
		{name: "base64 that is not base64", method: http.MethodPut, body: `{"value":"A!P8","encoding":"base64"}`},
		{name: "base64 of a number", method: http.MethodPut, body: `{"value":12,"encoding":"base64"}`},
		{name: "base64 of null", method: http.MethodPut, body: `{"value":null,"encoding":"base64"}`},
		{name: "an unknown encoding", method: http.MethodPut, body: `{"value":"x","encoding":"hex"}`},
		{name: "a cas without mode cas", method: http.MethodPut, body: `{"value":"x","cas":"5"}`},
		{name: "a query", method: http.MethodPut, suffix: "?mode=replace", body: `{"value":{"a": 1}}`, before: `"old"`},
		{name: "a query that fails", method: http.MethodPut, suffix: "?mode=add", body: `{"value":[1]}`, before: `"old"`},
		{name: "a query beside time", method: http.MethodPut, suffix: "?time=5", body: `{"value":"x"}`},
		{name: "If-Match: *", method: http.MethodPut, body: `{"value":"x"}`, before: `1`, header: map[string]string{"If-Match": "*"}},
		{name: "If-Match: * of nothing", method: http.MethodPut, body: `{"value":"x"}`, header: map[string]string{"If-Match": "*"}},
		{name: "If-None-Match: * over an item", method: http.MethodPut, body: `{"value":"x"}`, before: `1`, header: map[string]string{"If-None-Match": "*"}},
		{name: "a stale If-Match", method: http.MethodPut, body: `{"value":"x","cas":"999999"}`, before: `1`, header: map[string]string{"If-Match": `"999999"`}},
		{name: "incr creating the counter", method: http.MethodPost, suffix: ":incr", body: `{"delta":5,"initial_value":10}`},
		{name: "incr of a missing counter", method: http.MethodPost, suffix: ":incr", body: `{"delta":5}`},
		{name: "incr by the default 1", method: http.MethodPost, suffix: ":incr", body: `{}`, before: `41`},
		{name: "decr below zero stops at zero", method: http.MethodPost, suffix: ":decr", body: `{"delta":100}`, before: `7`},
		{name: "incr wraps at 2^64", method: http.MethodPost, suffix: ":incr", body: `{"delta":18446744073709551615}`, before: `2`},
		{name: "incr of a string", method: http.MethodPost, suffix: ":incr", body: `{"delta":1}`, before: `"abc"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			answers := make([]response, 2)
			items := make([]response, 2)
			for i, body := range []string{slowBody(tt.body), tt.body} {
				path := keyPath([]string{"slow", "fast"}[i])
				if tt.before != "" {
					res := e.do(request{method: http.MethodPut, path: path, body: `{"value":` + tt.before + `}`})
					require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
				}
				answers[i] = e.do(request{method: tt.method, path: path + tt.suffix, body: body, header: tt.header})
				items[i] = e.do(request{method: http.MethodGet, path: path})
			}
			slow, fast := answers[0], answers[1]
			assert.Equal(t, slow.status, fast.status, "slow %s, fast %s", slow.body, fast.body)
			slowTag, fastTag := slow.header.Get("ETag"), fast.header.Get("ETag")
			assert.Equal(t, slowTag == "", fastTag == "", "an ETag on both or neither")
			for _, r := range []response{slow, fast} {
				r.header.Del("X-Request-Id")
				r.header.Del("Etag")
			}
			assert.Equal(t, slow.header, fast.header)
			assert.Equal(t, casDigits.ReplaceAllString(string(slow.body), `"N"`), casDigits.ReplaceAllString(string(fast.body), `"N"`))
			if tt.method == http.MethodPut && fast.status == http.StatusOK {
				assert.Equal(t, `"`+fast.json(t)["cas"].(string)+`"`, fastTag)
			}
			assert.Equal(t, items[0].status, items[1].status)
			if items[0].status == http.StatusOK {
				a, b := items[0].json(t), items[1].json(t)
				for _, m := range []map[string]any{a, b} {
					delete(m, "key")
					delete(m, "cas")
				}
				assert.Equal(t, a, b, "the item stored")
			}
		})
	}
}

// TestBatchSetFastPathAnswersAsTheGeneratedPath sends each batchSet body
// plain (the fast path) and spelled with an escaped "items" (the generated
// way) to two namespaces in the same state, and wants the same answer and
// the same items stored.
func TestBatchSetFastPathAnswersAsTheGeneratedPath(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		before     []string // keys stored first
		read       []string // keys read back afterwards
	}{
		{name: "plain items", body: `{"items":[{"key":"a","value":"x"},{"key":"b","value":"<&>é","flags":9}]}`, read: []string{"a", "b"}},
		{name: "prefix and time", body: ` { "key_prefix" : "p:", "time": 3600, "items": [ {"value": "v", "key": "a"} ] } `, read: []string{"p:a"}},
		{name: "add over an existing key", body: `{"mode":"add","items":[{"key":"a","value":"new"},{"key":"c","value":"c"}]}`, before: []string{"a"}, read: []string{"a", "c"}},
		{name: "base64", body: `{"items":[{"key":"a","value":"AP8=","encoding":"base64"}]}`, read: []string{"a"}},
		{name: "every kind of value", body: `{"items":[{"key":"a","value": {"x" : [1, null]} },{"key":"b","value":-2.5e3},` +
			`{"key":"c","value":"\"q\"\u00e9"},{"key":"d","value":null},{"key":"e","value":"\/w==","encoding":"base64"},{"key":"f","value":[ ]}]}`,
			read: []string{"a", "b", "c", "d", "e", "f"}},
		{name: "a member twice in a value", body: `{"items":[{"key":"a","value":{"x":1,"x":2}}]}`, read: []string{"a"}},
		{name: "bad base64 in an escaped string", body: `{"items":[{"key":"a","value":"AP8=","encoding":"base64"},{"key":"b","value":"\/\/==x","encoding":"base64"}]}`, read: []string{"a", "b"}},
		{name: "base64 of an object", body: `{"items":[{"key":"a","value":{},"encoding":"base64"}]}`, read: []string{"a"}},
		{name: "no items", body: `{"items":[]}`},
		{name: "a key twice", body: `{"items":[{"key":"a","value":"1"},{"key":"a","value":"2"}]}`, read: []string{"a"}},
		{name: "an unknown mode", body: `{"mode":"nope","items":[{"key":"a","value":"1"}]}`, read: []string{"a"}},
		{name: "no value", body: `{"items":[{"key":"a"}]}`, read: []string{"a"}},
		{name: "bad base64", body: `{"items":[{"key":"a","value":"!!","encoding":"base64"}]}`, read: []string{"a"}},
		{name: "a cas without mode cas", body: `{"items":[{"key":"a","value":"1","cas":"5"}]}`, read: []string{"a"}},
		{name: "a key too long", body: `{"items":[{"key":"` + strings.Repeat("k", 300) + `","value":"1"}]}`},
		{name: "no items member", body: `{"mode":"set"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			answers := make([]response, 2)
			for i, ns := range []string{"slow", "fast"} {
				for _, k := range tt.before {
					res := e.do(request{method: http.MethodPut, path: "/v1/ns/" + ns + "/keys/" + k, body: `{"value":"old"}`})
					require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
				}
				body := tt.body
				if i == 0 {
					body = strings.Replace(body, `"items"`, `"\u0069tems"`, 1)
					if !strings.Contains(body, `\u0069tems`) {
						body = strings.Replace(body, `"mode"`, `"\u006dode"`, 1)
					}
				}
				answers[i] = e.do(request{method: http.MethodPost, path: "/v1/ns/" + ns + "/keys:batchSet", body: body})
			}
			slow, fast := answers[0], answers[1]
			assert.Equal(t, slow.status, fast.status, "slow %s, fast %s", slow.body, fast.body)
			slow.header.Del("X-Request-Id")
			fast.header.Del("X-Request-Id")
			assert.Equal(t, slow.header, fast.header)
			assert.Equal(t, string(slow.body), string(fast.body))
			for _, k := range tt.read {
				a := e.do(request{method: http.MethodGet, path: "/v1/ns/slow/keys/" + k})
				b := e.do(request{method: http.MethodGet, path: "/v1/ns/fast/keys/" + k})
				require.Equal(t, a.status, b.status, "key %s", k)
				if a.status == http.StatusOK {
					x, y := a.json(t), b.json(t)
					delete(x, "cas")
					delete(y, "cas")
					assert.Equal(t, x, y, "key %s", k)
				}
			}
		})
	}
}
