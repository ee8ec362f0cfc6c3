package sdk

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/memcached-http/memcached-http/sdk/client"
)

// Listing keys and namespaces is an operator's view of the cache (the
// dashboard's key browser): it needs an admin token, and it is not part of
// App Engine's memcache API.

// KeyInfo is one listed item: its metadata, never its value.
type KeyInfo struct {
	Key     string    // the key as stored (key_prefix included)
	Raw     []byte    // the key's bytes when it is not UTF-8 (written through the memcached listener); nil otherwise
	Size    int       // bytes of the stored value
	Bytes   bool      // a byte value (Get returns it into []byte); false for a JSON value
	Flags   uint32    // the item's flags
	CASID   uint64    // the item's CAS id
	Expires time.Time // when the item expires; the zero Time for never
}

// KeyPage is one page of ListKeys: at most the limit asked for, possibly
// fewer (even none) before the listing ends. Next is "" on the last page,
// otherwise the cursor of the next one.
type KeyPage struct {
	Keys []KeyInfo
	Next string
}

// ListKeys returns one page of the live items whose keys start with prefix,
// in the call's namespace: limit 1 to 1000 keys (0 for the server's default,
// 100), from cursor ("" for the first page, else the Next of the page
// before). An item live for the whole listing appears in exactly one page.
// Needs an admin token covering the namespace. Options: WithNamespace.
func (c *Client) ListKeys(ctx context.Context, prefix string, limit int, cursor string, opts ...CallOption) (*KeyPage, error) {
	o, err := applyOptions(ctx, "ListKeys", optNamespace, opts)
	if err != nil {
		return nil, err
	}
	if limit < 0 || limit > 1000 {
		return nil, invalidf("ListKeys: limit %d: a page holds 1 to 1000 keys (0 for the server's default)", limit)
	}
	params := &client.ListKeysParams{}
	if prefix != "" {
		params.Prefix = &prefix
	}
	if limit > 0 {
		params.Limit = &limit
	}
	if cursor != "" {
		params.Cursor = &cursor
	}
	resp, err := c.api.ListKeysWithResponse(c.pinPath(ctx, o.namespace, "", ""), o.namespace, params)
	switch {
	case err != nil:
	case resp.StatusCode() != http.StatusOK:
		err = answerError(resp.StatusCode(), resp.Body)
	case resp.JSON200 == nil:
		err = errUnreadable(resp.StatusCode())
	default:
		page := &KeyPage{Keys: make([]KeyInfo, 0, len(resp.JSON200.Keys))}
		for _, k := range resp.JSON200.Keys {
			id, perr := strconv.ParseUint(k.Cas, 10, 64)
			if perr != nil {
				return nil, fmt.Errorf("sdk: ListKeys: %w", errUnreadable(resp.StatusCode()))
			}
			info := KeyInfo{Key: k.Key, Size: k.Size, Bytes: k.Kind == client.KeyInfoKindBytes, Flags: k.Flags, CASID: id}
			if k.KeyBase64 != nil {
				info.Raw = *k.KeyBase64
			}
			if k.Expires != nil {
				info.Expires = time.Unix(*k.Expires, 0)
			}
			page.Keys = append(page.Keys, info)
		}
		if resp.JSON200.NextCursor != nil {
			page.Next = *resp.JSON200.NextCursor
		}
		return page, nil
	}
	return nil, fmt.Errorf("sdk: ListKeys: %w", err)
}

// Keys lists every live item whose key starts with prefix, following
// ListKeys page by page; a failed page ends the sequence with its error.
// Options: WithNamespace.
func (c *Client) Keys(ctx context.Context, prefix string, opts ...CallOption) iter.Seq2[KeyInfo, error] {
	return func(yield func(KeyInfo, error) bool) {
		cursor := ""
		for {
			page, err := c.ListKeys(ctx, prefix, 1000, cursor, opts...)
			if err != nil {
				yield(KeyInfo{}, err)
				return
			}
			for _, k := range page.Keys {
				if !yield(k, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			cursor = page.Next
		}
	}
}

// NamespaceInfo is one namespace holding live items.
type NamespaceInfo struct {
	Namespace string // App Engine's name: "" for the empty namespace
	Items     uint64 // live items in it
}

// Namespaces returns the namespaces holding live items, the empty one first,
// and whether the server had more than it returned (at most 1000). Needs an
// admin token for every namespace (*).
func (c *Client) Namespaces(ctx context.Context) ([]NamespaceInfo, bool, error) {
	resp, err := c.api.ListNamespacesWithResponse(ctx)
	switch {
	case err != nil:
	case resp.StatusCode() != http.StatusOK:
		err = answerError(resp.StatusCode(), resp.Body)
	case resp.JSON200 == nil:
		err = errUnreadable(resp.StatusCode())
	default:
		out := make([]NamespaceInfo, len(resp.JSON200.Namespaces))
		for i, n := range resp.JSON200.Namespaces {
			name := n.Namespace
			if name == wireEmptyNamespace {
				name = ""
			}
			out[i] = NamespaceInfo{Namespace: name, Items: n.Items}
		}
		return out, resp.JSON200.Truncated, nil
	}
	return nil, false, fmt.Errorf("sdk: Namespaces: %w", err)
}
