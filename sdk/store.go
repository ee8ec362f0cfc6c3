package sdk

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// Set stores value under key unconditionally (over a delete lock too). It
// reports whether the value was stored. Options: WithNamespace, WithTime or
// WithExpiration.
func (c *Client) Set(ctx context.Context, key, value any, opts ...CallOption) (bool, error) {
	return c.store(ctx, "Set", client.SetParamsModeSet, key, value, opts)
}

// Add stores value only if key holds no live item and is not delete-locked;
// otherwise it returns false and ErrNotStored. Options as Set.
func (c *Client) Add(ctx context.Context, key, value any, opts ...CallOption) (bool, error) {
	return c.store(ctx, "Add", client.SetParamsModeAdd, key, value, opts)
}

// Replace stores value only if key holds a live, unlocked item; otherwise it
// returns false and ErrNotStored. Options as Set.
func (c *Client) Replace(ctx context.Context, key, value any, opts ...CallOption) (bool, error) {
	return c.store(ctx, "Replace", client.SetParamsModeReplace, key, value, opts)
}

// CAS stores value only if the item still carries the CAS id this Client
// remembered when it fetched key with Gets (or Get with ForCAS). It returns
// false and ErrCASConflict if the item changed, expired, was deleted or
// locked since, and false and ErrNotStored if no id is remembered. Options as Set.
func (c *Client) CAS(ctx context.Context, key, value any, opts ...CallOption) (bool, error) {
	return c.store(ctx, "CAS", client.SetParamsModeCas, key, value, opts)
}

func (c *Client) store(ctx context.Context, op string, mode client.SetParamsMode, key, value any, opts []CallOption) (bool, error) {
	o, err := applyOptions(ctx, op, optNamespace|optTime, opts)
	if err != nil {
		return false, err
	}
	k, err := resolveKey(key, "")
	if err != nil {
		return false, err
	}
	w, err := encodeValue(value)
	if err != nil {
		return false, err
	}
	body := client.StoreRequest{Value: w.value, Encoding: w.encoding, Flags: &w.flags}
	if o.time != 0 {
		body.Time = &o.time
	}
	if mode == client.SetParamsModeCas {
		id, ok := c.casID(o.namespace, k.wire)
		if !ok {
			return false, fmt.Errorf("sdk: %s %q: no CAS id remembered (fetch the key with Gets first): %w", op, k.name, ErrNotStored)
		}
		cas := strconv.FormatUint(id, 10)
		body.Cas = &cas
	}
	resp, err := c.api.SetWithResponse(c.pinPath(ctx, o.namespace, k.wire, ""), o.namespace, k.wire, &client.SetParams{Mode: &mode}, body)
	if err != nil {
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, err)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound, http.StatusConflict:
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, ErrNotStored)
	case http.StatusPreconditionFailed:
		return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, ErrCASConflict)
	}
	return false, fmt.Errorf("sdk: %s %q: %w", op, k.name, answerError(resp.StatusCode(), resp.Body))
}

// SetMulti stores every value of mapping (a map from strings or Keys to
// values) under its key, in one request. It returns the caller's keys that
// were not stored: none normally, every key when the call failed, with the
// error saying why. Options: WithNamespace, WithKeyPrefix, WithTime or
// WithExpiration.
func (c *Client) SetMulti(ctx context.Context, mapping any, opts ...CallOption) ([]string, error) {
	return c.storeMulti(ctx, "SetMulti", client.BatchSetRequestModeSet, mapping, opts)(ctx)
}

// SetMultiAsync is SetMulti run in the background.
func (c *Client) SetMultiAsync(ctx context.Context, mapping any, opts ...CallOption) *Future[[]string] {
	return start(ctx, c.storeMulti(ctx, "SetMulti", client.BatchSetRequestModeSet, mapping, opts))
}

// AddMulti is SetMulti with Add's condition per key; keys already live or
// locked are returned as not stored.
func (c *Client) AddMulti(ctx context.Context, mapping any, opts ...CallOption) ([]string, error) {
	return c.storeMulti(ctx, "AddMulti", client.BatchSetRequestModeAdd, mapping, opts)(ctx)
}

// AddMultiAsync is AddMulti run in the background.
func (c *Client) AddMultiAsync(ctx context.Context, mapping any, opts ...CallOption) *Future[[]string] {
	return start(ctx, c.storeMulti(ctx, "AddMulti", client.BatchSetRequestModeAdd, mapping, opts))
}

// ReplaceMulti is SetMulti with Replace's condition per key; keys without a
// live item are returned as not stored.
func (c *Client) ReplaceMulti(ctx context.Context, mapping any, opts ...CallOption) ([]string, error) {
	return c.storeMulti(ctx, "ReplaceMulti", client.BatchSetRequestModeReplace, mapping, opts)(ctx)
}

// ReplaceMultiAsync is ReplaceMulti run in the background.
func (c *Client) ReplaceMultiAsync(ctx context.Context, mapping any, opts ...CallOption) *Future[[]string] {
	return start(ctx, c.storeMulti(ctx, "ReplaceMulti", client.BatchSetRequestModeReplace, mapping, opts))
}

// CASMulti is SetMulti with CAS's condition per key; keys that changed since
// Gets/GetMulti with ForCAS, or that have no remembered CAS id, are returned
// as not stored.
func (c *Client) CASMulti(ctx context.Context, mapping any, opts ...CallOption) ([]string, error) {
	return c.storeMulti(ctx, "CASMulti", client.BatchSetRequestModeCas, mapping, opts)(ctx)
}

// CASMultiAsync is CASMulti run in the background.
func (c *Client) CASMultiAsync(ctx context.Context, mapping any, opts ...CallOption) *Future[[]string] {
	return start(ctx, c.storeMulti(ctx, "CASMulti", client.BatchSetRequestModeCas, mapping, opts))
}

// storeMulti prepares a batch store. Values are encoded, and CAS ids read,
// now; the request is sent when the call runs.
func (c *Client) storeMulti(ctx context.Context, op string, mode client.BatchSetRequestMode, mapping any, opts []CallOption) call[[]string] {
	o, err := applyOptions(ctx, op, optNamespace|optKeyPrefix|optTime, opts)
	if err != nil {
		return failed[[]string](nil, err)
	}
	entries, err := resolveMapping(mapping, o.keyPrefix)
	if err != nil {
		return failed[[]string](nil, err)
	}
	all := make([]string, len(entries))
	sent := make(map[string]bool, len(entries)) // wire keys in the request
	var noID []string                           // CAS keys without a remembered id: never sent
	items := make([]client.BatchSetItem, 0, len(entries))
	for i, e := range entries {
		all[i] = e.key.name
		w, err := encodeValue(e.value)
		if err != nil {
			return failed(all, fmt.Errorf("sdk: %s %q: %w", op, e.key.name, err))
		}
		it := client.BatchSetItem{Key: e.key.wire, Value: w.value, Encoding: w.encoding, Flags: &w.flags}
		if mode == client.BatchSetRequestModeCas {
			id, ok := c.casID(o.namespace, e.key.wire)
			if !ok {
				noID = append(noID, e.key.name)
				continue
			}
			cas := strconv.FormatUint(id, 10)
			it.Cas = &cas
		}
		sent[e.key.wire] = true
		items = append(items, it)
	}
	body := client.BatchSetRequest{Mode: &mode, Items: items}
	if o.time != 0 {
		body.Time = &o.time
	}
	return func(ctx context.Context) ([]string, error) {
		if len(items) == 0 {
			return noID, nil
		}
		resp, err := c.api.SetMultiWithResponse(c.pinPath(ctx, o.namespace, "", ":batchSet"), o.namespace, body)
		switch {
		case err != nil:
			return all, fmt.Errorf("sdk: %s: %w", op, err)
		case resp.StatusCode() != http.StatusOK:
			return all, fmt.Errorf("sdk: %s: %w", op, answerError(resp.StatusCode(), resp.Body))
		case resp.JSON200 == nil:
			return all, fmt.Errorf("sdk: %s: %w", op, errUnreadable(resp.StatusCode()))
		}
		refused := make(map[string]bool, len(resp.JSON200.NotStored))
		for _, wire := range resp.JSON200.NotStored {
			refused[wire] = true
		}
		notStored := slices.Clone(noID)
		for _, e := range entries {
			if sent[e.key.wire] && refused[e.key.wire] {
				notStored = append(notStored, e.key.name)
			}
		}
		return notStored, nil
	}
}
