package sdkcheck

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/sdk"
)

type profile struct {
	Name   string            `json:"name"`
	Visits int               `json:"visits"`
	Tags   []string          `json:"tags"`
	Extra  map[string]string `json:"extra,omitempty"`
}

type celsius float64

func TestValuesReadBackAsTheirGoType(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		value any
		want  any // what an *any destination gets back
	}{
		{"bytes stay bytes", []byte{0, 1, 0xff, 'a'}, []byte{0, 1, 0xff, 'a'}},
		{"empty bytes stay bytes", []byte{}, []byte{}},
		{"a string stays a string", "héllo <b>&</b>", "héllo <b>&</b>"},
		{"a string of invalid UTF-8 keeps its bytes", "a\xffb", "a\xffb"},
		{"a digit string stays a string", "42", "42"},
		{"an int stays an int", 42, 42},
		{"an int8 stays an int8", int8(-8), int8(-8)},
		{"an int64 minimum stays exact", int64(math.MinInt64), int64(math.MinInt64)},
		{"a uint64 maximum stays exact", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"a uint16 stays a uint16", uint16(65535), uint16(65535)},
		{"a bool stays a bool", true, true},
		{"a float64 stays a float64", 2.5, 2.5},
		{"a whole float64 stays a float64", 3.0, 3.0},
		{"a float32 stays a float32", float32(1.25), float32(1.25)},
		{"a named float comes back as its kind", celsius(21.5), 21.5},
		{"a duration comes back as its kind", 90 * time.Second, int64(90 * time.Second)},
		{"nil stays nil", nil, nil},
		{"a map comes back as JSON builds it", map[string]int{"a": 1}, map[string]any{"a": 1.0}},
		{"a slice comes back as JSON builds it", []string{"x", "y"}, []any{"x", "y"}},
		{"a struct comes back as a JSON object", profile{Name: "Ada", Visits: 3},
			map[string]any{"name": "Ada", "visits": 3.0, "tags": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.set(tt.name, tt.value)
			assert.Equal(t, tt.want, e.get(tt.name), "value %#v", tt.value)
		})
	}
}

func TestTypedDestinationsRoundTrip(t *testing.T) {
	e := newEnv(t)
	check := func(t *testing.T, key string, value, dst any) {
		t.Helper()
		e.set(key, value)
		found, err := e.c.Get(e.ctx, key, dst)
		require.NoError(t, err)
		require.True(t, found)
	}
	t.Run("a struct decodes into the same struct", func(t *testing.T) {
		want := profile{Name: "Ada", Visits: 3, Tags: []string{"a"}, Extra: map[string]string{"k": "v"}}
		var got profile
		check(t, "struct", want, &got)
		assert.Equal(t, want, got)
	})
	t.Run("a map decodes into the same map type", func(t *testing.T) {
		want := map[string][]int{"a": {1, 2}, "b": nil}
		var got map[string][]int
		check(t, "map", want, &got)
		assert.Equal(t, want, got)
	})
	t.Run("a uint64 decodes without losing precision", func(t *testing.T) {
		var got uint64
		check(t, "u64", uint64(math.MaxUint64-1), &got)
		assert.Equal(t, uint64(math.MaxUint64-1), got)
	})
	t.Run("bytes decode into a string as their text", func(t *testing.T) {
		var got string
		check(t, "bytes-as-string", []byte("raw"), &got)
		assert.Equal(t, "raw", got)
	})
	t.Run("a JSON string decodes into bytes as its text", func(t *testing.T) {
		var got []byte
		check(t, "string-as-bytes", "text", &got)
		assert.Equal(t, []byte("text"), got)
	})
	t.Run("a JSON object decodes into bytes as its encoding", func(t *testing.T) {
		var got []byte
		check(t, "object-as-bytes", map[string]int{"a": 1}, &got)
		assert.JSONEq(t, `{"a":1}`, string(got))
	})
	t.Run("JSON text stored as bytes decodes into a struct", func(t *testing.T) {
		var got profile
		check(t, "json-bytes", []byte(`{"name":"Bo","visits":2}`), &got)
		assert.Equal(t, profile{Name: "Bo", Visits: 2}, got)
	})
	t.Run("json.RawMessage keeps the JSON", func(t *testing.T) {
		var got json.RawMessage
		check(t, "raw", json.RawMessage(`[1,{"b":true}]`), &got)
		assert.JSONEq(t, `[1,{"b":true}]`, string(got))
	})
	t.Run("GetAs returns the typed value", func(t *testing.T) {
		e.set("as", profile{Name: "Cy"})
		got, err := sdk.GetAs[profile](e.ctx, e.c, "as")
		require.NoError(t, err)
		assert.Equal(t, profile{Name: "Cy"}, got)
	})
}

func TestDecodeFailuresAreReported(t *testing.T) {
	e := newEnv(t)
	e.set("text", "not a number")
	tests := []struct {
		name string
		dst  any
		want error
	}{
		{"a nil destination is refused", nil, sdk.ErrInvalidArgument},
		{"a non-pointer destination is refused", 0, sdk.ErrInvalidArgument},
		{"a nil pointer destination is refused", (*int)(nil), sdk.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, err := e.c.Get(e.ctx, "text", tt.dst)
			assert.False(t, found)
			assert.ErrorIs(t, err, tt.want)
		})
	}
	t.Run("a value of another type is a decode error, not a miss", func(t *testing.T) {
		var n int
		found, err := e.c.Get(e.ctx, "text", &n)
		assert.False(t, found)
		require.Error(t, err)
		assert.NotErrorIs(t, err, sdk.ErrCacheMiss)
		var typeErr *json.UnmarshalTypeError
		assert.ErrorAs(t, err, &typeErr)
	})
	t.Run("a value that cannot be encoded is refused before sending", func(t *testing.T) {
		ok, err := e.c.Set(e.ctx, "nan", math.NaN())
		assert.False(t, ok)
		assert.ErrorIs(t, err, sdk.ErrInvalidArgument)
		assert.Nil(t, e.get("nan"))
	})
}

// TestPythonSDKItemsReadBack writes items as the Python SDK does (its TYPE_*
// flags, no Go kind) through the raw HTTP API, and reads them with the Go SDK.
func TestPythonSDKItemsReadBack(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		body string
		want any
	}{
		{"a TYPE_INT number is an int64", `{"value": 7, "flags": 3}`, int64(7)},
		{"a TYPE_INT beyond int64 is a uint64", `{"value": 18446744073709551615, "flags": 3}`, uint64(math.MaxUint64)},
		{"a TYPE_LONG digit string is a big.Int", `{"value": "123456789012345678901234567890", "flags": 4}`,
			func() *big.Int { n, _ := new(big.Int).SetString("123456789012345678901234567890", 10); return n }()},
		{"a TYPE_UNICODE string is a string", `{"value": "hi", "flags": 1}`, "hi"},
		{"a TYPE_BOOL is a bool", `{"value": false, "flags": 5}`, false},
		{"TYPE_STR bytes are bytes", `{"value": "AAE=", "encoding": "base64", "flags": 0}`, []byte{0, 1}},
		{"a TYPE_PICKLED value is its bytes", `{"value": "gAQ=", "encoding": "base64", "flags": 2}`, []byte{0x80, 4}},
		{"a JSON object without flags is a map", `{"value": {"a": [1]}}`, map[string]any{"a": []any{1.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			putRaw(t, e, tt.name, tt.body)
			assert.Equal(t, tt.want, e.get(tt.name))
		})
	}
}

func TestWireFormKeepsAppEngineTypeNumbers(t *testing.T) {
	e := newEnv(t)
	const kind = 1 << 8 // the Go kind lives above App Engine's TYPE_* bits
	tests := []struct {
		name      string
		value     any
		wantValue any
		wantFlags float64
		wantBytes bool
	}{
		{"bytes are TYPE_STR in base64", []byte("hi"), "aGk=", 0 + 23*kind, true},
		{"a string is TYPE_UNICODE JSON", "hi", "hi", 1 + 24*kind, false},
		{"an int is TYPE_INT JSON", 5, 5.0, 3 + 2*kind, false},
		{"a uint64 is TYPE_INT JSON", uint64(6), 6.0, 3 + 11*kind, false},
		{"a bool is TYPE_BOOL JSON", true, true, 5 + 1*kind, false},
		{"a map is plain JSON", map[string]int{"a": 1}, map[string]any{"a": 1.0}, 6 + 21*kind, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.set(tt.name, tt.value)
			item := getRaw(t, e, "~", tt.name)
			assert.Equal(t, tt.wantValue, item["value"])
			assert.Equal(t, tt.wantFlags, item["flags"])
			if tt.wantBytes {
				assert.Equal(t, "base64", item["encoding"])
			} else {
				assert.NotContains(t, item, "encoding")
			}
		})
	}
}
