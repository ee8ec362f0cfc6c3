package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// trickyStrings need every kind of escape encoding/json knows.
var trickyStrings = []string{
	"", "user:42", `say "hi" \ back`, "\x00\x01\x1f\x7f", "\b\f\n\r\t", "<script>&amp;</script>",
	"é 日本 🙂", "line\u2028sep\u2029", "\xff", "a\xe2\x80", "\xed\xa0\x80", "key with / : % ? # space",
}

func TestAppendJSONStringWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range trickyStrings {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			want, err := json.Marshal(s)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(appendJSONString(nil, s)))
		})
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString([]byte("x"), s)[1:]))
	})
}

// generatedItem is the item as the generated encoder was given it before
// the hand-written one replaced it: the reference appendItem must match.
func generatedItem(name string, it cache.Item) gen.Item {
	out := gen.Item{Key: name, Flags: it.Flags, Cas: strconv.FormatUint(it.CAS, 10), Value: it.Value}
	if it.Expires != 0 {
		out.Expires = &it.Expires
	}
	if it.Kind == cache.KindBytes {
		enc := gen.ItemEncodingBase64
		out.Encoding = &enc
		out.Value = json.RawMessage(strconv.Quote(base64.StdEncoding.EncodeToString(it.Value)))
	}
	return out
}

// trickyItems are stored items whose wire form needs escapes, base64, an
// expiry or large numbers.
var trickyItems = []struct {
	name string
	key  string
	it   cache.Item
}{
	{"a string value needing escapes", `k"\`, cache.Item{Value: []byte(`"a\"b\\c\n\u0001"`), CAS: 1}},
	{"HTML and line separators inside a value", "<k>", cache.Item{Value: []byte("{\"h\":\"<b>&</b>\",\"s\":\"\u2028\u2029\"}"), CAS: 2}},
	{"unicode in key and value", "日本 🙂", cache.Item{Value: []byte(`["é","🙂"]`), CAS: 3, Flags: 7}},
	{"nulls nested in arrays and objects", "n", cache.Item{Value: []byte(`{"a":[true,null],"b":{"c":null}}`), CAS: 4}},
	{"a top-level null", "null", cache.Item{Value: []byte(`null`), CAS: 5}},
	{"a number with exponent and sign", "num", cache.Item{Value: []byte(`-1.5e+300`), CAS: 6}},
	{"bytes as base64", "bytes", cache.Item{Value: []byte{0, 0xff, 0xfe, '<'}, Kind: cache.KindBytes, CAS: 7}},
	{"empty bytes", "empty", cache.Item{Value: []byte{}, Kind: cache.KindBytes, CAS: 8}},
	{"an expiry and the largest flags and cas", "exp", cache.Item{Value: []byte(`1`), CAS: 1<<64 - 1, Flags: 1<<32 - 1, Expires: 1_700_000_100}},
}

func TestWriteItemSendsTheGeneratedResponse(t *testing.T) {
	for _, tt := range trickyItems {
		t.Run(tt.name, func(t *testing.T) {
			headers := gen.Get200ResponseHeaders{CacheControl: noStore, ETag: etag(tt.it.CAS), MemcacheFlags: tt.it.Flags, XContentTypeOptions: "nosniff"}
			want := httptest.NewRecorder()
			require.NoError(t, gen.Get200JSONResponse{Body: generatedItem(tt.key, tt.it), Headers: headers}.VisitGetResponse(want))
			got := httptest.NewRecorder()
			writeItem(got, tt.key, tt.it, false)
			assert.Equal(t, want.Code, got.Code)
			assert.Equal(t, want.Header(), got.Header())
			assert.Equal(t, want.Body.String(), got.Body.String())

			wantRaw := httptest.NewRecorder()
			require.NoError(t, gen.Get200ApplicationoctetStreamResponse{Body: bytes.NewReader(tt.it.Value), Headers: headers,
				ContentLength: int64(len(tt.it.Value))}.VisitGetResponse(wantRaw))
			gotRaw := httptest.NewRecorder()
			writeItem(gotRaw, tt.key, tt.it, true)
			assert.Equal(t, wantRaw.Code, gotRaw.Code)
			assert.Equal(t, wantRaw.Header(), gotRaw.Header())
			assert.Equal(t, wantRaw.Body.Bytes(), gotRaw.Body.Bytes())
		})
	}
}

func TestBatchGetResponseHoldsEachFoundItemOnce(t *testing.T) {
	names := make([]string, 0, len(trickyItems)+2)
	keys := make([]cache.Key, 0, len(trickyItems)+2)
	found := map[cache.Key]cache.Item{}
	want := map[string]gen.Item{}
	for _, tt := range trickyItems {
		k, err := cache.NewKey("", "p/"+tt.key)
		require.NoError(t, err)
		names, keys = append(names, tt.key), append(keys, k)
		found[k] = tt.it
		want[tt.key] = generatedItem(tt.key, tt.it)
	}
	missing, err := cache.NewKey("", "p/missing")
	require.NoError(t, err)
	// A name listed twice and a miss: one member, and none.
	names, keys = append(names, trickyItems[0].key, "missing"), append(keys, keys[0], missing)

	wantRec := httptest.NewRecorder()
	require.NoError(t, gen.GetMulti200JSONResponse{Body: gen.BatchGetResult{Items: want},
		Headers: gen.GetMulti200ResponseHeaders{CacheControl: noStore}}.VisitGetMultiResponse(wantRec))
	got := httptest.NewRecorder()
	enc := itemsEncoder{b: []byte(batchGetOpen)}
	require.Equal(t, -1, enc.add(names, keys, found, math.MaxInt), "no budget to exceed")
	out := append(enc.b, batchGetClose...)
	require.NoError(t, batchGetResponse{out: &out}.VisitGetMultiResponse(got))

	assert.Equal(t, http.StatusOK, got.Code)
	assert.Equal(t, strconv.Itoa(got.Body.Len()), got.Header().Get("Content-Length"), "sent with its length, in one write")
	got.Header().Del("Content-Length")
	assert.Equal(t, wantRec.Header(), got.Header())
	assert.JSONEq(t, wantRec.Body.String(), got.Body.String())
	assert.ElementsMatch(t, itemNames(t, got.Body.Bytes()), names[:len(trickyItems)], "the repeated name is one member, the miss none")
	assert.Equal(t, byte('\n'), got.Body.Bytes()[got.Body.Len()-1], "ends in a newline as the generated encoder's output")
}

// itemNames lists the member names of a batch result's items in order,
// duplicates included (which decoding into a map would hide).
func itemNames(t *testing.T, body []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	for _, want := range []json.Token{json.Delim('{'), "items", json.Delim('{')} {
		tok, err := d.Token()
		require.NoError(t, err)
		require.Equal(t, want, tok)
	}
	var names []string
	for d.More() {
		tok, err := d.Token()
		require.NoError(t, err)
		names = append(names, tok.(string))
		var item json.RawMessage
		require.NoError(t, d.Decode(&item))
	}
	return names
}

// batchGetBodies are plain bodies the fast decoder takes and bodies it must
// leave to encoding/json.
var batchGetBodies = []struct {
	body  string
	plain bool
}{
	{`{"keys":["a","b"]}`, true},
	{" {\n\t\"keys\" : [ \"a\" , \"é 日本\" ] , \"key_prefix\" : \"p:\" , \"for_cas\" : true } \n", true},
	{`{"keys":[],"for_cas":false}`, true},
	{`{"for_cas":true,"key_prefix":"","keys":["x"]}`, true},
	{`{"keys":["a\"b"]}`, false},
	{`{"keys":["\u0041"]}`, false},
	{`{"keys":["a"],"keys":["b"]}`, false},
	{`{"Keys":["a"]}`, false},
	{`{"keys":null}`, false},
	{`{"keys":["a"],"other":1}`, false},
	{`{"keys":["a"]} trailing`, false},
	{`{"keys":["a"],}`, false},
	{`{"keys":[1]}`, false},
	{`{"keys":["a"],"for_cas":"true"}`, false},
	{"{\"keys\":[\"\xff\"]}", false},
	{"{\"keys\":[\"a\tb\"]}", false},
	{`{"keys":["a"]`, false},
	{``, false},
}

func TestParseBatchGetDecodesWhatEncodingJSONDecodes(t *testing.T) {
	for _, tt := range batchGetBodies {
		t.Run(strconv.Quote(tt.body), func(t *testing.T) {
			var got gen.BatchGetRequest
			require.Equal(t, tt.plain, parseBatchGet([]byte(tt.body), &got))
			if !tt.plain {
				return
			}
			var want gen.BatchGetRequest
			require.NoError(t, json.Unmarshal([]byte(tt.body), &want))
			assert.Equal(t, want, got)
		})
	}
}

func FuzzParseBatchGet(f *testing.F) {
	for _, tt := range batchGetBodies {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got gen.BatchGetRequest
		if !parseBatchGet(body, &got) {
			return
		}
		var want gen.BatchGetRequest
		require.NoError(t, json.NewDecoder(bytes.NewReader(body)).Decode(&want), "the fast decoder took %q", body)
		assert.Equal(t, want, got, "body %q", body)
	})
}

func TestPrefersRawTakesWhicheverOfOctetStreamAndJSONComesFirst(t *testing.T) {
	for _, tt := range []struct {
		accept []string
		raw    bool
	}{
		{nil, false},
		{[]string{"application/octet-stream"}, true},
		{[]string{"text/html, Application/Octet-Stream;q=0.5 , application/json"}, true},
		{[]string{"application/json, application/octet-stream"}, false},
		{[]string{"*/*", "application/octet-stream"}, true},
		{[]string{"text/plain,", ",application/json", "application/octet-stream"}, false},
		{[]string{"application/octet-ſtream"}, false},
	} {
		t.Run(strings.Join(tt.accept, " | "), func(t *testing.T) {
			assert.Equal(t, tt.raw, prefersRaw(tt.accept))
		})
	}
}
