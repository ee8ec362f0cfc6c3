package sdk

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// Option configures a Client in New.
type Option func(*Client)

// WithToken sends token as a bearer token (Authorization: Bearer …) on every request.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithHTTPClient sends every request through hc, so callers can share its
// connection pool and transport; the default is a new http.Client.
// Timeouts belong in each call's context, not in hc.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// CallOption is one of App Engine's keyword arguments (namespace, key_prefix,
// time, for_cas, initial_value, seconds). Each method accepts the options the
// App Engine method takes and refuses the others with ErrInvalidArgument, as
// App Engine refused unknown keyword arguments.
type CallOption func(*callOptions)

// optSet is a set of CallOption kinds.
type optSet uint8

const (
	optNamespace optSet = 1 << iota
	optKeyPrefix
	optTime
	optForCAS
	optInitialValue
	optLockSeconds
)

var optNames = []struct {
	opt  optSet
	name string
}{
	{optNamespace, "WithNamespace"},
	{optKeyPrefix, "WithKeyPrefix"},
	{optTime, "WithTime/WithExpiration"},
	{optForCAS, "ForCAS"},
	{optInitialValue, "WithInitialValue"},
	{optLockSeconds, "WithLockSeconds"},
}

// maxRelative is the longest relative expiration (30 days); larger times are
// absolute Unix times, as in App Engine.
const maxRelative = 30 * 24 * time.Hour

// callOptions holds one call's options after they are applied.
type callOptions struct {
	given       optSet
	namespace   string
	keyPrefix   string
	time        float64
	forCAS      bool
	initial     *uint64
	lockSeconds float64
	err         error // the first bad option value, reported by the method
}

// WithNamespace puts the call's keys in namespace, overriding the context's
// (see Namespace). "" is App Engine's empty namespace, sent as `~`;
// "default" is an ordinary namespace apart from it.
func WithNamespace(namespace string) CallOption {
	return func(o *callOptions) { o.given |= optNamespace; o.namespace = namespace }
}

// WithKeyPrefix prepends prefix to every key of a *Multi call; results stay
// keyed by the caller's keys.
func WithKeyPrefix(prefix string) CallOption {
	return func(o *callOptions) { o.given |= optKeyPrefix; o.keyPrefix = prefix }
}

// WithTime is App Engine's time argument: 0 never expires, up to 2,592,000
// (30 days) is seconds from now, larger is an absolute Unix time; fractions
// round up on the server.
func WithTime(seconds float64) CallOption {
	return func(o *callOptions) {
		o.given |= optTime
		o.time = seconds
		o.check("WithTime", seconds)
	}
}

// WithExpiration sets the expiration as a duration from now (0 never expires).
// Durations over 30 days are sent as the absolute time they end at, since the
// App Engine reads such large numbers as Unix times.
func WithExpiration(d time.Duration) CallOption {
	return func(o *callOptions) {
		o.given |= optTime
		switch {
		case d < 0:
			o.fail(invalidf("WithExpiration(%v): negative duration", d))
		case d <= maxRelative:
			o.time = d.Seconds()
		default:
			o.time = float64(time.Now().Add(d).UnixNano()) / 1e9
		}
	}
}

// ForCAS makes Get and GetMulti remember each item's CAS id for CAS and
// CASMulti, as Gets does.
func ForCAS() CallOption {
	return func(o *callOptions) { o.given |= optForCAS; o.forCAS = true }
}

// WithInitialValue makes Incr, Decr and OffsetMulti create a missing counter
// with value v before applying the delta.
func WithInitialValue(v uint64) CallOption {
	return func(o *callOptions) { o.given |= optInitialValue; o.initial = &v }
}

// WithLockSeconds is App Engine's delete seconds argument: after removing a live
// item, the key stays locked against add, replace and cas for that period
// (same relative/absolute rules as WithTime).
func WithLockSeconds(seconds float64) CallOption {
	return func(o *callOptions) {
		o.given |= optLockSeconds
		o.lockSeconds = seconds
		o.check("WithLockSeconds", seconds)
	}
}

func (o *callOptions) check(name string, seconds float64) {
	if seconds < 0 || math.IsNaN(seconds) || math.IsInf(seconds, 0) {
		o.fail(invalidf("%s(%v): seconds must be a finite number ≥ 0", name, seconds))
	}
}

func (o *callOptions) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// applyOptions applies opts for method, refusing the options it does not take,
// and resolves the namespace (the option's, else ctx's) to its wire name.
func applyOptions(ctx context.Context, method string, allowed optSet, opts []CallOption) (callOptions, error) {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.err != nil {
		return o, o.err
	}
	if extra := o.given &^ allowed; extra != 0 {
		var names []string
		for _, n := range optNames {
			if extra&n.opt != 0 {
				names = append(names, n.name)
			}
		}
		return o, invalidf("%s does not take %s", method, strings.Join(names, ", "))
	}
	if o.given&optNamespace == 0 {
		o.namespace = NamespaceFromContext(ctx)
	}
	wire, err := wireNamespace(o.namespace)
	if err != nil {
		return o, fmt.Errorf("%s: %w", method, err)
	}
	o.namespace = wire
	return o, nil
}
