package cache

import (
	"math"
	"time"
)

const (
	// MaxRelativeSeconds is the largest time read as relative (30 days); larger
	// values are absolute Unix times.
	MaxRelativeSeconds = 30 * 24 * 60 * 60
	// maxAbsoluteSeconds bounds absolute times (end of year 9999) so the
	// conversion never overflows.
	maxAbsoluteSeconds = 253402300799
)

// ExpiresAt converts App Engine's time (or delete lock seconds) into the Unix
// second at which the item expires; 0 means never. Fractions round up, so a
// relative t lives at least t seconds: ceil(now + t).
func ExpiresAt(now time.Time, t float64) (int64, error) {
	switch {
	case math.IsNaN(t) || math.IsInf(t, 0):
		return 0, Refuse(ErrInvalidArgument, "time must be a finite number")
	case t < 0:
		return 0, Refuse(ErrInvalidArgument, "time must not be negative")
	case t == 0:
		return 0, nil
	case t <= MaxRelativeSeconds:
		ns := now.UnixNano() + int64(math.Ceil(t*1e9))
		return (ns + 1e9 - 1) / 1e9, nil
	case t <= maxAbsoluteSeconds:
		return int64(math.Ceil(t)), nil
	default:
		return 0, Refuse(ErrInvalidArgument, "time beyond year 9999")
	}
}
