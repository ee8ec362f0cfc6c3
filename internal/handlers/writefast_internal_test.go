package handlers

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/gen"
)

func TestPlainStoreBodies(t *testing.T) {
	for body, want := range map[string]*plainStore{
		`{"value":"abc"}`:                         {value: []byte(`"abc"`)},
		" {\n\"value\" : \"a b\" ,\"flags\":0 } ": {value: []byte(`"a b"`), hasFlags: true},
		`{"time":3600,"value":"","flags":4294967295}`: {value: []byte(`""`), time: 3600, flags: 4294967295,
			hasTime: true, hasFlags: true},
		`{"value":"é🙂<&>"}`: {value: []byte(`"é🙂<&>"`)},
		// Any JSON value, as a span of the body, whitespace inside kept.
		`{"value":"a\"b\u00e9"}`:                    {value: []byte(`"a\"b\u00e9"`)},
		`{"value": {"a": [1, {"b": null}]} }`:       {value: []byte(`{"a": [1, {"b": null}]}`)},
		`{"value":[ ],"flags":1}`:                   {value: []byte(`[ ]`), flags: 1, hasFlags: true},
		`{"value":-1.5e3}`:                          {value: []byte(`-1.5e3`)},
		`{"value":null}`:                            {value: []byte(`null`)},
		`{"value":true }`:                           {value: []byte(`true`)},
		`{"value":"AP8=","encoding":"base64"}`:      {value: []byte(`"AP8="`), encoding: gen.EncodingBase64},
		`{"encoding":"json","value":"a","cas":"7"}`: {value: []byte(`"a"`), encoding: gen.EncodingJson, cas: "7", hasCas: true},
		// Not plain: the generated way decodes these.
		`{"flags":1}`:                      nil, // no value
		`{"value":"a","value":"b"}`:        nil, // a member twice
		`{"value":{"a":1,"a":2}}`:          nil, // a member twice, in the value
		`{"value":{"a":1,}}`:               nil, // a value that is not JSON
		`{"value":nul}`:                    nil,
		`{"value":"\x"}`:                   nil,
		`{"value":"a` + "\xff" + `b\n"}`:   nil, // invalid UTF-8 in a string with an escape
		"{\"value\":[\"\xff\"]}":           nil, // and in an array
		`{"value":"a","encoding":"hex"}`:   nil, // the validator's to refuse
		`{"value":"a","cas":7}`:            nil,
		`{"value":"a","ttl":1}`:            nil, // an unknown member
		`{"value":"a","time":1.5}`:         nil, // a fraction
		`{"value":"a","time":1e3}`:         nil, // an exponent
		`{"value":"a","time":-1}`:          nil, // a sign
		`{"value":"a","flags":01}`:         nil, // a leading zero
		`{"value":"a","flags":4294967296}`: nil, // over uint32
		`{"value":"a"} x`:                  nil, // trailing data
		`{"value":1 2}`:                    nil,
		`{"value":"a",}`:                   nil,
		`{"value":[1}`:                     nil,
		`{"value":"\`:                      nil, // an escape at the very end
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

func TestPlainBatchSetBodies(t *testing.T) {
	var body gen.BatchSetRequest
	require.True(t, parseBatchSet([]byte(` {"key_prefix":"p:","mode":"add","time":60,"items":[{"key":"a","value":"x","flags":3,"cas":"7","encoding":"json"},{"value":"y","key":"b"}]} `), &body))
	assert.Equal(t, "p:", *body.KeyPrefix)
	assert.Equal(t, gen.BatchSetRequestMode("add"), *body.Mode)
	assert.Equal(t, 60.0, *body.Time)
	require.Len(t, body.Items, 2)
	assert.Equal(t, "a", body.Items[0].Key)
	assert.Equal(t, `"x"`, string(body.Items[0].Value))
	assert.Equal(t, uint32(3), *body.Items[0].Flags)
	assert.Equal(t, "7", *body.Items[0].Cas)
	assert.Equal(t, gen.Encoding("json"), *body.Items[0].Encoding)
	assert.Equal(t, `"y"`, string(body.Items[1].Value))

	body = gen.BatchSetRequest{}
	require.True(t, parseBatchSet([]byte(`{"items":[{"key":"a","value": {"o": [1, "\""]} },{"value":-0.5,"key":"b"}]}`), &body))
	require.Len(t, body.Items, 2)
	assert.Equal(t, `{"o": [1, "\""]}`, string(body.Items[0].Value), "any JSON value, as the body has it")
	assert.Equal(t, `-0.5`, string(body.Items[1].Value))

	body = gen.BatchSetRequest{}
	require.True(t, parseBatchSet([]byte(`{"items":[]}`), &body))
	assert.NotNil(t, body.Items, "[] decodes to an empty, non-nil slice, as encoding/json makes it")

	for _, notPlain := range []string{
		`{"items":[{"key":"a","value":{"o":1,"o":2}}]}`, // a member twice, in a value
		`{"items":[{"key":"a","value":{"o":1}]}`,        // a value that is not JSON
		`{"items":[{"key":"a","value":"x","value":"y"}]}`,
		`{"items":[{"key":"a","value":"x"}],"items":[]}`,
		`{"items":[{"key":"a\n","value":"x"}]}`, // an escape
		`{"items":[{"key":"a","value":"x","ttl":1}]}`,
		`{"items":null}`,
		`{"items":[{"key":"a","value":"x"}],"time":1.5}`,
		`{"items":[{"key":"a","value":"x"}]} {}`,
	} {
		assert.False(t, parseBatchSet([]byte(notPlain), &gen.BatchSetRequest{}), "%s", notPlain)
	}
}

// TestValidBatchSetMirrorsTheGeneratedTags pins the validate tags that
// validBatchSet mirrors, and checks that it never passes a body the
// validator refuses.
func TestValidBatchSetMirrorsTheGeneratedTags(t *testing.T) {
	tags := func(v any) map[string]string {
		out := map[string]string{}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if tag := rt.Field(i).Tag.Get("validate"); tag != "" {
				out[rt.Field(i).Name] = tag
			}
		}
		return out
	}
	assert.Equal(t, map[string]string{"Items": "required,dive", "Mode": "omitempty,oneof=set add replace cas"},
		tags(gen.BatchSetRequest{}), "validBatchSet mirrors these: update it with them")
	assert.Equal(t, map[string]string{"Encoding": "omitempty,oneof=json base64", "Value": "required"},
		tags(gen.BatchSetItem{}), "validBatchSet mirrors these: update it with them")

	for _, body := range []string{
		`{"items":[]}`, `{"mode":"cas","items":[{"key":"a","value":"x","cas":"1"}]}`,
		`{"mode":"","items":[{"key":"a","value":"x"}]}`, `{"mode":"SET","items":[{"key":"a","value":"x"}]}`,
		`{"items":[{"key":"a","value":"x","encoding":"base64"},{"key":"b","value":"y","encoding":"hex"}]}`,
		`{"items":[{"key":"a"}]}`, `{"mode":"add"}`,
	} {
		var b gen.BatchSetRequest
		require.True(t, parseBatchSet([]byte(body), &b), "%s", body)
		if validBatchSet(&b) {
			assert.NoError(t, check(&b), "%s passes validBatchSet, so it must pass the validator", body)
		} else {
			assert.Error(t, check(&b), "%s: validBatchSet refuses only what the validator refuses, for these", body)
		}
	}
}
