package cache

import "strconv"

// Counter is a stored value as incr/decr read it: an unsigned 64-bit decimal,
// and whether it was a JSON string ("42") rather than a bare number or bytes,
// so the result is written back in the type it came in.
type Counter struct {
	N      uint64
	Quoted bool
}

// ParseCounter reads the counter held by a value of the given kind. It accepts
// a JSON integer, a JSON string of ASCII digits, or a byte string of ASCII
// digits; leading zeros are allowed. Anything else (sign, fraction, exponent,
// escapes, empty, text, 2^64 or more) is ErrNotANumber, returned unwrapped so
// the hot path does not allocate.
func ParseCounter(kind Kind, v []byte) (Counter, error) {
	quoted := kind == KindJSON && len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"'
	if quoted {
		v = v[1 : len(v)-1]
	}
	if len(v) == 0 {
		return Counter{}, ErrNotANumber
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return Counter{}, ErrNotANumber
		}
		d := uint64(c - '0')
		// n*10 + d must stay below 2^64.
		if n > (1<<64-1-d)/10 {
			return Counter{}, ErrNotANumber
		}
		n = n*10 + d
	}
	return Counter{N: n, Quoted: quoted}, nil
}

// Append appends the counter's encoding to dst: plain digits, or digits in
// double quotes when the value was a JSON string. Leading zeros are not kept,
// as memcached does not keep them either.
func (c Counter) Append(dst []byte) []byte {
	if c.Quoted {
		dst = append(dst, '"')
	}
	dst = strconv.AppendUint(dst, c.N, 10)
	if c.Quoted {
		dst = append(dst, '"')
	}
	return dst
}

// Apply returns n changed by d: an increment wraps modulo 2^64 and a
// decrement stops at 0, as memcached and App Engine do.
func (d Delta) Apply(n uint64) uint64 {
	if d.Decrement {
		if d.Amount > n {
			return 0
		}
		return n - d.Amount
	}
	return n + d.Amount
}

// NewCounterValue is the value an incr/decr with an initial value creates for
// a missing key: a JSON number (KindJSON) holding n, with no flags and no
// expiry, so it reads back as the integer the caller asked for.
func NewCounterValue(dst []byte, n uint64) []byte {
	return Counter{N: n}.Append(dst)
}
