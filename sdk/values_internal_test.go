package sdk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// viaWire passes a value through its wire form as the server echoes it back.
func viaWire(t *testing.T, v any) item {
	t.Helper()
	w, err := encodeValue(v)
	require.NoError(t, err)
	wit := client.Item{Value: w.value, Flags: w.flags, Cas: "1"}
	if w.encoding != nil {
		enc := client.ItemEncoding(*w.encoding)
		wit.Encoding = &enc
	}
	it, err := fromWire(wit)
	require.NoError(t, err)
	return it
}

// FuzzScalarsRoundTrip checks that strings (valid UTF-8 or not), bytes and
// 64-bit integers come back exactly, as their own type, through *any and
// through a typed destination.
func FuzzScalarsRoundTrip(f *testing.F) {
	f.Add("héllo", []byte{0, 0xff}, int64(-1), uint64(1<<63))
	f.Add("a\xffb\x00", []byte{}, int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, s string, b []byte, i int64, u uint64) {
		for _, v := range []any{s, b, i, u} {
			got, err := viaWire(t, v).value()
			require.NoError(t, err)
			assert.Equal(t, v, got, "through *any")
		}
		var gotS string
		require.NoError(t, viaWire(t, s).decode(&gotS))
		assert.Equal(t, s, gotS)
		var gotB []byte
		require.NoError(t, viaWire(t, b).decode(&gotB))
		assert.Equal(t, b, gotB)
		var gotI int64
		require.NoError(t, viaWire(t, i).decode(&gotI))
		assert.Equal(t, i, gotI)
		var gotU uint64
		require.NoError(t, viaWire(t, u).decode(&gotU))
		assert.Equal(t, u, gotU)
	})
}
