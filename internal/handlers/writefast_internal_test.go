package handlers

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPlainStoreBodies(t *testing.T) {
	for body, want := range map[string]*plainStore{
		`{"value":"abc"}`:                             {value: []byte(`"abc"`)},
		" {\n\"value\" : \"a b\" ,\"flags\":0 } ":     {value: []byte(`"a b"`)},
		`{"time":3600,"value":"","flags":4294967295}`: {value: []byte(`""`), time: 3600, flags: 4294967295},
		`{"value":"é🙂<&>"}`:                           {value: []byte(`"é🙂<&>"`)},
		// Not plain: the generated way decodes these.
		`{"value":"a\"b"}`:                 nil, // an escape
		`{"value":{"a":1}}`:                nil, // not a string
		`{"value":1}`:                      nil,
		`{"value":null}`:                   nil,
		`{"flags":1}`:                      nil, // no value
		`{"value":"a","value":"b"}`:        nil, // a member twice
		`{"value":"a","encoding":"json"}`:  nil, // another member
		`{"value":"a","time":1.5}`:         nil, // a fraction
		`{"value":"a","time":1e3}`:         nil, // an exponent
		`{"value":"a","time":-1}`:          nil, // a sign
		`{"value":"a","flags":01}`:         nil, // a leading zero
		`{"value":"a","flags":4294967296}`: nil, // over uint32
		`{"value":"a"} x`:                  nil, // trailing data
		`{"value":"a",}`:                   nil,
		`["value"]`:                        nil,
	} {
		var got plainStore
		ok := parsePlainStore([]byte(body), &got)
		assert.Equal(t, want != nil, ok, "%s", body)
		if want != nil && ok {
			assert.Equal(t, *want, got, "%s", body)
		}
	}
}

func TestPlainOffsetBodies(t *testing.T) {
	for body, want := range map[string]*plainOffset{
		`{}`:                             {},
		`{"delta":1,"initial_value":0}`:  {delta: 1, hasDelta: true, initial: 0, hasInitial: true},
		`{"initial_value":7}`:            {initial: 7, hasInitial: true},
		`{"delta":18446744073709551615}`: {delta: 18446744073709551615, hasDelta: true},
		`{"delta":18446744073709551616}`: nil,
		`{"delta":1,"delta":2}`:          nil,
		`{"delta":null}`:                 nil,
		`{"delta":"1"}`:                  nil,
		`{"delta":1,"initial_value":-1}`: nil,
		`{"d\u0065lta":1}`:               nil,
		`{"delta":1}{}`:                  nil,
	} {
		var got plainOffset
		ok := parsePlainOffset([]byte(body), &got)
		assert.Equal(t, want != nil, ok, "%s", body)
		if want != nil && ok {
			assert.Equal(t, *want, got, "%s", body)
		}
	}
}
