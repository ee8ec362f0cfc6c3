package main

import (
	"fmt"
	"math/rand/v2"
)

// keyChooser picks the index of the next key in [0, keySpace).
type keyChooser interface {
	next() uint64
}

// uniformKeys picks every key with the same probability.
type uniformKeys struct {
	r *rand.Rand
	n uint64
}

func (u *uniformKeys) next() uint64 { return u.r.Uint64N(u.n) }

// zipfKeys picks key i with probability proportional to 1/(i+1)^s, so key 0
// is the hottest: the skew of a real cache's traffic.
type zipfKeys struct {
	z *rand.Zipf
}

func (z *zipfKeys) next() uint64 { return z.z.Uint64() }

// newKeyChooser returns a chooser over keySpace keys for the named
// distribution ("uniform" or "zipf" with exponent s > 1), seeded so that each
// worker draws its own reproducible sequence.
func newKeyChooser(dist string, keySpace uint64, s float64, seed uint64) (keyChooser, error) {
	if keySpace == 0 {
		return nil, fmt.Errorf("memcached-bench: key space must be at least 1")
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	switch dist {
	case "uniform":
		return &uniformKeys{r: r, n: keySpace}, nil
	case "zipf":
		// rand.NewZipf needs s > 1 and returns nil otherwise.
		if !(s > 1) {
			return nil, fmt.Errorf("memcached-bench: zipf exponent %v must be greater than 1", s)
		}
		return &zipfKeys{z: rand.NewZipf(r, s, 1, keySpace-1)}, nil
	default:
		return nil, fmt.Errorf("memcached-bench: unknown key distribution %q (want uniform or zipf)", dist)
	}
}
