package sdk

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"reflect"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// Incr adds delta to the counter under key, wrapping modulo 2^64, and returns
// its new value. A missing key gives ErrCacheMiss unless WithInitialValue
// creates it; a value that is not an unsigned decimal integer gives
// ErrNotANumber. Options: WithNamespace, WithInitialValue.
func (c *Client) Incr(ctx context.Context, key any, delta uint64, opts ...CallOption) (uint64, error) {
	return c.offset(ctx, "Incr", c.sendIncr, key, delta, opts)(ctx)
}

// IncrAsync is Incr run in the background.
func (c *Client) IncrAsync(ctx context.Context, key any, delta uint64, opts ...CallOption) *Future[uint64] {
	return start(ctx, c.offset(ctx, "Incr", c.sendIncr, key, delta, opts))
}

// Decr subtracts delta from the counter under key, flooring at 0, and returns
// its new value; errors and options as Incr.
func (c *Client) Decr(ctx context.Context, key any, delta uint64, opts ...CallOption) (uint64, error) {
	return c.offset(ctx, "Decr", c.sendDecr, key, delta, opts)(ctx)
}

// DecrAsync is Decr run in the background.
func (c *Client) DecrAsync(ctx context.Context, key any, delta uint64, opts ...CallOption) *Future[uint64] {
	return start(ctx, c.offset(ctx, "Decr", c.sendDecr, key, delta, opts))
}

// offsetAnswer is the server's answer to an incr or decr.
type offsetAnswer struct {
	status int
	body   []byte
	result *client.OffsetResult
}

// offsetSender sends one incr or decr request.
type offsetSender func(ctx context.Context, namespace, key string, body client.OffsetRequest) (offsetAnswer, error)

func (c *Client) sendIncr(ctx context.Context, namespace, key string, body client.OffsetRequest) (offsetAnswer, error) {
	resp, err := c.api.IncrWithResponse(c.pinPath(ctx, namespace, key, ":incr"), namespace, key, body)
	if err != nil {
		return offsetAnswer{}, err
	}
	return offsetAnswer{resp.StatusCode(), resp.Body, resp.JSON200}, nil
}

func (c *Client) sendDecr(ctx context.Context, namespace, key string, body client.OffsetRequest) (offsetAnswer, error) {
	resp, err := c.api.DecrWithResponse(c.pinPath(ctx, namespace, key, ":decr"), namespace, key, body)
	if err != nil {
		return offsetAnswer{}, err
	}
	return offsetAnswer{resp.StatusCode(), resp.Body, resp.JSON200}, nil
}

func (c *Client) offset(ctx context.Context, op string, send offsetSender, key any, delta uint64, opts []CallOption) call[uint64] {
	o, err := applyOptions(ctx, op, optNamespace|optInitialValue, opts)
	if err != nil {
		return failed[uint64](0, err)
	}
	k, err := resolveKey(key, "")
	if err != nil {
		return failed[uint64](0, err)
	}
	body := client.OffsetRequest{Delta: &delta, InitialValue: o.initial}
	return func(ctx context.Context) (uint64, error) {
		a, err := send(ctx, o.namespace, k.wire, body)
		switch {
		case err != nil:
		case a.status == http.StatusOK && a.result != nil:
			return a.result.Value, nil
		case a.status == http.StatusOK:
			err = errUnreadable(a.status)
		case a.status == http.StatusNotFound:
			err = ErrCacheMiss
		case a.status == http.StatusConflict:
			err = ErrNotANumber
		default:
			err = answerError(a.status, a.body)
		}
		return 0, fmt.Errorf("sdk: %s %q: %w", op, k.name, err)
	}
}

// OffsetMulti adds a signed delta to each counter of mapping (a map from
// strings or Keys to integers) in one request. It returns each caller's key's
// new value, or nil for a key that is missing (without WithInitialValue) or
// not a number; when the call fails every value is nil and the error says why.
// Options: WithNamespace, WithKeyPrefix, WithInitialValue.
func (c *Client) OffsetMulti(ctx context.Context, mapping any, opts ...CallOption) (map[string]*uint64, error) {
	return c.offsetMulti(ctx, mapping, opts)(ctx)
}

// OffsetMultiAsync is OffsetMulti run in the background.
func (c *Client) OffsetMultiAsync(ctx context.Context, mapping any, opts ...CallOption) *Future[map[string]*uint64] {
	return start(ctx, c.offsetMulti(ctx, mapping, opts))
}

func (c *Client) offsetMulti(ctx context.Context, mapping any, opts []CallOption) call[map[string]*uint64] {
	o, err := applyOptions(ctx, "OffsetMulti", optNamespace|optKeyPrefix|optInitialValue, opts)
	if err != nil {
		return failed[map[string]*uint64](nil, err)
	}
	entries, err := resolveMapping(mapping, o.keyPrefix)
	if err != nil {
		return failed[map[string]*uint64](nil, err)
	}
	body := client.BatchOffsetRequest{Offsets: make(map[string]int64, len(entries)), InitialValue: o.initial}
	for _, e := range entries {
		d, ok := signedDelta(e.value)
		if !ok {
			return failed[map[string]*uint64](nil, invalidf("OffsetMulti %q: delta %v is not an integer in the int64 range", e.key.name, e.value))
		}
		body.Offsets[e.key.wire] = d
	}
	return func(ctx context.Context) (map[string]*uint64, error) {
		out := make(map[string]*uint64, len(entries))
		for _, e := range entries {
			out[e.key.name] = nil
		}
		if len(entries) == 0 {
			return out, nil
		}
		resp, err := c.api.OffsetMultiWithResponse(c.pinPath(ctx, o.namespace, "", ":batchOffset"), o.namespace, body)
		switch {
		case err != nil:
			return out, fmt.Errorf("sdk: OffsetMulti: %w", err)
		case resp.StatusCode() != http.StatusOK:
			return out, fmt.Errorf("sdk: OffsetMulti: %w", answerError(resp.StatusCode(), resp.Body))
		case resp.JSON200 == nil:
			return out, fmt.Errorf("sdk: OffsetMulti: %w", errUnreadable(resp.StatusCode()))
		}
		for _, e := range entries {
			out[e.key.name] = resp.JSON200.Values[e.key.wire]
		}
		return out, nil
	}
}

// signedDelta reads an offset of any integer type that fits the wire's int64.
func signedDelta(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return int64(u), true
		}
	}
	return 0, false
}
