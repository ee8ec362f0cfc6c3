package handlers

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPathAtNamesTheInnermostValue: every offset of a body maps to the value
// whose bytes end at or after it and begin before it, and none panics.
func TestPathAtNamesTheInnermostValue(t *testing.T) {
	body := ` {"items":[{"key":"a","value":{"x":[1,2]}},{"key":"b\"c","flags":7}],"offsets":{"o.1":-3}} `
	want := map[string]string{
		`-3`:      "offsets.o.1",
		`7`:       "items[1].flags",
		`"b\"c"`:  "items[1].key",
		`2`:       "items[0].value.x[1]",
		`{"x":`:   "items[0].value",
		`"a"`:     "items[0].key",
		`{"key":`: "items[0]",
	}
	for value, path := range want {
		end := strings.Index(body, value) + len(value)
		assert.Equal(t, path, pathAt([]byte(body), end), "the value ending at %d (%s)", end, value)
	}
	for off := range len(body) + 2 {
		assert.NotPanics(t, func() { _ = pathAt([]byte(body), off) })
	}
	assert.Equal(t, "", pathAt([]byte(body), 0), "before every value")
}
