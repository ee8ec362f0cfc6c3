package sdk

import (
	"context"
	"fmt"
	"net/http"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// DeleteStatus is App Engine's result of a delete.
type DeleteStatus int

// App Engine's DELETE_* values, with its numbers.
const (
	DeleteNetworkFailure DeleteStatus = 0 // the call failed; the error says why
	DeleteItemMissing    DeleteStatus = 1 // no live item was there
	DeleteSuccessful     DeleteStatus = 2 // a live item (or a delete lock) was removed
)

// String returns App Engine's name of the status.
func (s DeleteStatus) String() string {
	switch s {
	case DeleteNetworkFailure:
		return "DELETE_NETWORK_FAILURE"
	case DeleteItemMissing:
		return "DELETE_ITEM_MISSING"
	case DeleteSuccessful:
		return "DELETE_SUCCESSFUL"
	}
	return fmt.Sprintf("DeleteStatus(%d)", int(s))
}

// Delete removes the item under key. It returns DeleteSuccessful, or
// DeleteItemMissing with ErrCacheMiss, or DeleteNetworkFailure with the
// error that stopped it. Options: WithNamespace, WithLockSeconds (lock the
// key against Add, Replace and CAS for that long after removing a live item).
func (c *Client) Delete(ctx context.Context, key any, opts ...CallOption) (DeleteStatus, error) {
	o, err := applyOptions(ctx, "Delete", optNamespace|optLockSeconds, opts)
	if err != nil {
		return DeleteNetworkFailure, err
	}
	k, err := resolveKey(key, "")
	if err != nil {
		return DeleteNetworkFailure, err
	}
	params := &client.DeleteParams{}
	if o.lockSeconds != 0 {
		params.Seconds = &o.lockSeconds
	}
	resp, err := c.api.DeleteWithResponse(c.pinPath(ctx, o.namespace, k.wire, ""), o.namespace, k.wire, params)
	if err != nil {
		return DeleteNetworkFailure, fmt.Errorf("sdk: Delete %q: %w", k.name, err)
	}
	switch {
	case resp.StatusCode() == http.StatusOK:
		return DeleteSuccessful, nil
	case resp.JSON404 != nil && resp.JSON404.Status == client.DeleteItemMissing:
		return DeleteItemMissing, fmt.Errorf("sdk: Delete %q: %w", k.name, ErrCacheMiss)
	}
	return DeleteNetworkFailure, fmt.Errorf("sdk: Delete %q: %w", k.name, answerError(resp.StatusCode(), resp.Body))
}

// DeleteMulti deletes every key of keys (a slice of strings, []byte or Keys)
// in one request and returns each caller's key's status. App Engine's True is
// err == nil; when the call fails every key is DeleteNetworkFailure.
// Options: WithNamespace, WithKeyPrefix, WithLockSeconds.
func (c *Client) DeleteMulti(ctx context.Context, keys any, opts ...CallOption) (map[string]DeleteStatus, error) {
	return c.deleteMulti(ctx, keys, opts)(ctx)
}

// DeleteMultiAsync is DeleteMulti run in the background.
func (c *Client) DeleteMultiAsync(ctx context.Context, keys any, opts ...CallOption) *Future[map[string]DeleteStatus] {
	return start(ctx, c.deleteMulti(ctx, keys, opts))
}

func (c *Client) deleteMulti(ctx context.Context, keys any, opts []CallOption) call[map[string]DeleteStatus] {
	o, err := applyOptions(ctx, "DeleteMulti", optNamespace|optKeyPrefix|optLockSeconds, opts)
	if err != nil {
		return failed[map[string]DeleteStatus](nil, err)
	}
	wks, err := resolveKeys(keys, o.keyPrefix)
	if err != nil {
		return failed[map[string]DeleteStatus](nil, err)
	}
	body := client.BatchDeleteRequest{Keys: make([]string, len(wks))}
	for i, k := range wks {
		body.Keys[i] = k.wire
	}
	if o.lockSeconds != 0 {
		body.Seconds = &o.lockSeconds
	}
	return func(ctx context.Context) (map[string]DeleteStatus, error) {
		out := make(map[string]DeleteStatus, len(wks))
		if len(wks) == 0 {
			return out, nil
		}
		resp, err := c.api.DeleteMultiWithResponse(c.pinPath(ctx, o.namespace, "", ":batchDelete"), o.namespace, body)
		switch {
		case err != nil:
		case resp.StatusCode() != http.StatusOK:
			err = answerError(resp.StatusCode(), resp.Body)
		case resp.JSON200 == nil:
			err = errUnreadable(resp.StatusCode())
		default:
			for _, k := range wks {
				switch resp.JSON200.Statuses[k.wire] {
				case client.DeleteSuccessful:
					out[k.name] = DeleteSuccessful
				case client.DeleteItemMissing:
					out[k.name] = DeleteItemMissing
				default:
					out[k.name] = DeleteNetworkFailure
					err = fmt.Errorf("%w: no status for key %q", ErrServerError, k.name)
				}
			}
			if err == nil {
				return out, nil
			}
		}
		for _, k := range wks {
			out[k.name] = DeleteNetworkFailure
		}
		return out, fmt.Errorf("sdk: DeleteMulti: %w", err)
	}
}
