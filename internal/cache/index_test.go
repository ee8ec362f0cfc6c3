package cache

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reachable reports whether a lookup for fp, walking the probe run from
// fp's home, would reach slot i's entry.
func (x *index) reachable(fp uint32, i int32) bool {
	if len(x.entries) == 0 {
		return false
	}
	mask := len(x.entries) - 1
	for p := x.home(fp); x.entries[p] != 0; p = (p + 1) & mask {
		if x.entries[p] == makeEntry(fp, i) {
			return true
		}
	}
	return false
}

func TestIndexAgainstAMap(t *testing.T) {
	cases := []struct {
		name string
		fps  uint32 // fingerprints drawn from [0, fps)
	}{
		{"many equal fingerprints", 16},
		{"mostly distinct fingerprints", 1 << 31},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(c.fps)))
			var x index
			model := map[int32]uint32{} // slot → fingerprint
			next := int32(0)
			for step := range 20000 {
				if len(model) > 0 && rng.IntN(100) < 45 {
					for i, fp := range model { // map order picks a random victim
						x.remove(fp, i)
						delete(model, i)
						assert.False(t, x.reachable(fp, i), "step %d: slot %d removed", step, i)
						break
					}
				} else {
					fp := rng.Uint32N(c.fps)
					x.insert(fp, next)
					model[next] = fp
					next++
				}
				if step%997 == 0 {
					for i, fp := range model {
						require.True(t, x.reachable(fp, i), "step %d: slot %d with fingerprint %d", step, i, fp)
					}
				}
			}
			assert.Equal(t, len(model), x.n)
			assert.LessOrEqual(t, x.n*100, len(x.entries)*maxLoadPercent, "load stays bounded")
			for i, fp := range model {
				assert.True(t, x.reachable(fp, i), "slot %d", i)
			}
		})
	}
}
