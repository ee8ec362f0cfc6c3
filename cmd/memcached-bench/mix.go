package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// mix is a weighted choice of operations, e.g. "get:90,set:10".
type mix struct {
	ops        []op
	cumulative []int // running sum of weights, parallel to ops
}

// parseMix reads "op[:weight],…"; a weight defaults to 1, so "get" alone is a
// pure GET load.
func parseMix(spec string) (mix, error) {
	var m mix
	total := 0
	for part := range strings.SplitSeq(spec, ",") {
		name, weight, hasWeight := strings.Cut(strings.TrimSpace(part), ":")
		o, ok := opNames[strings.ToLower(name)]
		if !ok {
			return mix{}, fmt.Errorf("memcached-bench: mix %q: unknown operation %q (want get, set, incr or batchget)", spec, name)
		}
		w := 1
		if hasWeight {
			var err error
			w, err = strconv.Atoi(weight)
			if err != nil || w <= 0 {
				return mix{}, fmt.Errorf("memcached-bench: mix %q: weight %q must be a positive integer", spec, weight)
			}
		}
		total += w
		m.ops = append(m.ops, o)
		m.cumulative = append(m.cumulative, total)
	}
	return m, nil
}

// pick draws an operation with probability proportional to its weight.
func (m mix) pick(r *rand.Rand) op {
	if len(m.ops) == 1 {
		return m.ops[0]
	}
	x := r.IntN(m.cumulative[len(m.cumulative)-1])
	for i, c := range m.cumulative {
		if x < c {
			return m.ops[i]
		}
	}
	return m.ops[len(m.ops)-1]
}

// has reports whether o is part of the mix.
func (m mix) has(o op) bool {
	for _, x := range m.ops {
		if x == o {
			return true
		}
	}
	return false
}

// String renders the mix in the form parseMix reads.
func (m mix) String() string {
	var sb strings.Builder
	prev := 0
	for i, o := range m.ops {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s:%d", o, m.cumulative[i]-prev)
		prev = m.cumulative[i]
	}
	return sb.String()
}
