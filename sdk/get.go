package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// Get stores the value under key in dst, a non-nil pointer, as json.Unmarshal
// would (see the package documentation for how types are kept). It reports
// whether dst now holds the value: false with ErrCacheMiss on a miss (dst
// untouched), false with the decoding error when the value does not fit dst.
// Options: WithNamespace, ForCAS.
func (c *Client) Get(ctx context.Context, key, dst any, opts ...CallOption) (bool, error) {
	o, err := applyOptions(ctx, "Get", optNamespace|optForCAS, opts)
	if err != nil {
		return false, err
	}
	return c.get(ctx, "Get", key, dst, o)
}

// Gets is Get that also remembers the item's CAS id for CAS. Options: WithNamespace.
func (c *Client) Gets(ctx context.Context, key, dst any, opts ...CallOption) (bool, error) {
	o, err := applyOptions(ctx, "Gets", optNamespace, opts)
	if err != nil {
		return false, err
	}
	o.forCAS = true
	return c.get(ctx, "Gets", key, dst, o)
}

// GetAs returns the value under key as a T, or ErrCacheMiss. It is Get for
// callers who prefer a result to a destination pointer.
func GetAs[T any](ctx context.Context, c *Client, key any, opts ...CallOption) (T, error) {
	var v T
	_, err := c.Get(ctx, key, &v, opts...)
	return v, err
}

func (c *Client) get(ctx context.Context, op string, key, dst any, o callOptions) (bool, error) {
	if v := reflect.ValueOf(dst); v.Kind() != reflect.Pointer || v.IsNil() {
		return false, invalidf("%s: destination is a %T, not a non-nil pointer", op, dst)
	}
	k, err := resolveKey(key, "")
	if err != nil {
		return false, err
	}
	params := &client.GetParams{}
	if o.forCAS {
		params.ForCas = &o.forCAS
	}
	resp, err := c.api.GetWithResponse(c.pinPath(ctx, o.namespace, k.wire, ""), o.namespace, k.wire, params)
	if err != nil {
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, err)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
	case http.StatusNotFound:
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, ErrCacheMiss)
	default:
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, answerError(resp.StatusCode(), resp.Body))
	}
	if resp.JSON200 == nil {
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, errUnreadable(resp.StatusCode()))
	}
	it, err := fromWire(*resp.JSON200)
	if err != nil {
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, err)
	}
	if o.forCAS {
		c.rememberCAS(o.namespace, k.wire, it.cas)
	}
	if err := it.decode(dst); err != nil {
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, err)
	}
	return true, nil
}

// GetMulti returns the live items among keys (a slice of strings, []byte or
// Keys), keyed by the caller's keys without the prefix; misses are absent.
// Values come back as the Go type they were stored as (see the package
// documentation); use GetMultiAs for one static type. On failure the map is
// empty and the error says why. Options: WithNamespace, WithKeyPrefix, ForCAS.
func (c *Client) GetMulti(ctx context.Context, keys any, opts ...CallOption) (map[string]any, error) {
	return c.getMulti(ctx, keys, opts)(ctx)
}

// GetMultiAsync is GetMulti run in the background.
func (c *Client) GetMultiAsync(ctx context.Context, keys any, opts ...CallOption) *Future[map[string]any] {
	return start(ctx, c.getMulti(ctx, keys, opts))
}

// GetMultiAs is GetMulti decoding every value into a T. Items that do not
// decode are left out and reported, joined, in the error.
func GetMultiAs[T any](ctx context.Context, c *Client, keys any, opts ...CallOption) (map[string]T, error) {
	items, err := c.getMultiItems(ctx, "GetMultiAs", keys, opts)(ctx)
	out := make(map[string]T, len(items))
	var errs []error
	for name, it := range items {
		var v T
		if derr := it.decode(&v); derr != nil {
			errs = append(errs, fmt.Errorf("sdk: GetMultiAs %q: %w", name, derr))
			continue
		}
		out[name] = v
	}
	return out, errors.Join(append([]error{err}, errs...)...)
}

func (c *Client) getMulti(ctx context.Context, keys any, opts []CallOption) call[map[string]any] {
	items := c.getMultiItems(ctx, "GetMulti", keys, opts)
	return func(ctx context.Context) (map[string]any, error) {
		got, err := items(ctx)
		out := make(map[string]any, len(got))
		var errs []error
		for name, it := range got {
			v, verr := it.value()
			if verr != nil {
				errs = append(errs, fmt.Errorf("sdk: GetMulti %q: %w", name, verr))
				continue
			}
			out[name] = v
		}
		return out, errors.Join(append([]error{err}, errs...)...)
	}
}

// getMultiItems prepares a batch get returning raw items keyed by the caller's keys.
func (c *Client) getMultiItems(ctx context.Context, op string, keys any, opts []CallOption) call[map[string]item] {
	o, err := applyOptions(ctx, op, optNamespace|optKeyPrefix|optForCAS, opts)
	if err != nil {
		return failed[map[string]item](nil, err)
	}
	wks, err := resolveKeys(keys, o.keyPrefix)
	if err != nil {
		return failed[map[string]item](nil, err)
	}
	names := make(map[string]string, len(wks))
	body := client.BatchGetRequest{Keys: make([]string, len(wks))}
	for i, k := range wks {
		names[k.wire] = k.name
		body.Keys[i] = k.wire
	}
	if o.forCAS {
		body.ForCas = &o.forCAS
	}
	return func(ctx context.Context) (map[string]item, error) {
		if len(wks) == 0 {
			return nil, nil
		}
		resp, err := c.api.GetMultiWithResponse(c.pinPath(ctx, o.namespace, "", ":batchGet"), o.namespace, body)
		switch {
		case err != nil:
			return nil, fmt.Errorf("sdk: %s: %w", op, err)
		case resp.StatusCode() != http.StatusOK:
			return nil, fmt.Errorf("sdk: %s: %w", op, answerError(resp.StatusCode(), resp.Body))
		case resp.JSON200 == nil:
			return nil, fmt.Errorf("sdk: %s: %w", op, errUnreadable(resp.StatusCode()))
		}
		out := make(map[string]item, len(resp.JSON200.Items))
		var errs []error
		for wire, wit := range resp.JSON200.Items {
			name, ok := names[wire]
			if !ok {
				errs = append(errs, fmt.Errorf("sdk: %s: %w: unrequested key %q", op, ErrServerError, wire))
				continue
			}
			it, err := fromWire(wit)
			if err != nil {
				errs = append(errs, fmt.Errorf("sdk: %s %q: %w", op, name, err))
				continue
			}
			if o.forCAS {
				c.rememberCAS(o.namespace, wire, it.cas)
			}
			out[name] = it
		}
		return out, errors.Join(errs...)
	}
}
