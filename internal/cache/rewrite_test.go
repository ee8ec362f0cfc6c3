package cache

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRewrittenItemsSurviveAScanOfNewKeys(t *testing.T) {
	cases := []struct {
		name    string
		rewrite func(t *testing.T, m *Memory, name string)
	}{
		{"a set over the item", func(t *testing.T, m *Memory, name string) { set(t, m, name, "wwww", 0) }},
		{"an incr of the item", func(t *testing.T, m *Memory, name string) {
			_, err := m.Offset(t.Context(), mustKey(t, name), Delta{Amount: 1}, nil)
			require.NoError(t, err)
		}},
		{"a set that grows the item", func(t *testing.T, m *Memory, name string) { set(t, m, name, "wwwwwww", 0) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Room for one item more than is stored, so a rewrite that grows
			// an item evicts nothing.
			m := tinyStore(t, newFakeClock(), 21)
			m.maxValue = 8
			for i := range 20 {
				set(t, m, fmt.Sprintf("k%02d", i), "1000", 0)
			}
			for i := range 5 {
				c.rewrite(t, m, fmt.Sprintf("k%02d", i))
			}
			for i := 20; i < 99; i++ {
				set(t, m, fmt.Sprintf("k%02d", i), "vvvv", 0)
			}
			for i := range 5 {
				assert.True(t, has(t, m, fmt.Sprintf("k%02d", i)), "k%02d was written before the scan", i)
			}
			assert.False(t, has(t, m, "k05"), "untouched k05 was evicted by the scan")
			checkShards(t, m)
		})
	}
}
