package redisstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// peekScript: KEYS item, meta; ARGV[1] now (ms). Returns {value length,
// kind, flags, cas, expires} of a live item, or nil for a lock, an expired
// item or one of an older generation. It reads only: no stats, no LRU touch,
// no TTL renewal, so listing keys changes nothing a client sees.
const peekScript = itemLua + `
local t = dec(redis.call('GET', KEYS[1]))
if not t or t.g ~= (redis.call('HGET', KEYS[2], 'g') or '0') or t.l ~= '' then return false end
local e = tonumber(t.e) or 0
if e ~= 0 and tonumber(ARGV[1]) >= e * 1000 then return false end
return {#t.v, t.k, t.f, t.c, t.e}
`

var peekLua = newScript(peekScript)

// listScanSteps bounds the SCAN calls of one page, so a prefix matching few
// keys of a large keyspace costs many short pages rather than one long one.
const listScanSteps = 16

// redisCursor is where a listing stands: the node (in address order), that
// node's SCAN cursor, whether its scan has begun, and the item keys SCAN
// returned that did not fit the page before.
type redisCursor struct {
	Node    int      `json:"n"`
	Scan    uint64   `json:"c,omitempty"`
	Started bool     `json:"s,omitempty"`
	Pending []string `json:"p,omitempty"`
}

// redisCursorTag starts every cursor of this store.
const redisCursorTag = "r1."

func (c redisCursor) encode() string {
	b, _ := json.Marshal(c) // a struct of plain fields always marshals
	return redisCursorTag + base64.RawURLEncoding.EncodeToString(b)
}

func decodeRedisCursor(s string) (redisCursor, error) {
	var c redisCursor
	if s == "" {
		return c, nil
	}
	raw, ok := strings.CutPrefix(s, redisCursorTag)
	if !ok {
		return c, cache.BadCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Node < 0 || len(c.Pending) > 16*cache.MaxListLimit { // a SCAN step returns about COUNT (≤ the limit) keys; this bounds what a cursor can make a page hold
		return redisCursor{}, cache.BadCursor()
	}
	return c, nil
}

// globEscape escapes s for a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// nodes returns the store's nodes in address order, so a cursor's node
// index names the same node on the next page.
func (s *Store) nodes() []rueidis.Client {
	m := s.client.Nodes()
	addrs := make([]string, 0, len(m))
	for a := range m {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	out := make([]rueidis.Client, len(addrs))
	for i, a := range addrs {
		out[i] = m[a]
	}
	return out
}

// splitItemKey recovers the bucket, namespace and name of an item key.
func (s *Store) splitItemKey(key string) (b int, ns, name string, ok bool) {
	b, ok = s.lay.bucketOf(key)
	if !ok {
		return 0, "", "", false
	}
	rest, ok := strings.CutPrefix(key, s.lay.itemPrefix(b))
	if !ok {
		return 0, "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":") // namespaces never hold ':'
	return b, ns, name, ok
}

// peek returns the live items among item keys (SCAN's replies), in order.
func (s *Store) peek(ctx context.Context, keys []string) ([]cache.KeyInfo, []string, error) {
	if len(keys) == 0 {
		return nil, nil, nil
	}
	_, ms, _ := s.clock()
	calls := make([]call, 0, len(keys))
	names := make([]string, 0, len(keys))
	nss := make([]string, 0, len(keys))
	for _, k := range keys {
		b, ns, name, ok := s.splitItemKey(k)
		if !ok {
			continue
		}
		calls = append(calls, call{keys: []string{k, s.lay.bookkeeping(b)[0]}, args: []string{ms}})
		names = append(names, name)
		nss = append(nss, ns)
	}
	var infos []cache.KeyInfo
	var infoNS []string
	for i, res := range s.eval(ctx, peekLua, calls) {
		reply, err := res.ToArray()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, nil, s.fail("list keys", err)
		}
		if len(reply) != 5 {
			return nil, nil, fmt.Errorf("redisstore: list keys: %d fields in reply, want 5", len(reply))
		}
		var str [5]string
		for j := range reply {
			if str[j], err = reply[j].ToString(); err != nil {
				if n, ierr := reply[j].AsInt64(); ierr == nil {
					str[j], err = strconv.FormatInt(n, 10), nil
				} else {
					return nil, nil, fmt.Errorf("redisstore: list keys: field %d: %w", j, err)
				}
			}
		}
		size, err1 := strconv.Atoi(str[0])
		it, err2 := decodeItem([5]string{"", str[1], str[2], str[3], str[4]}, nil)
		if err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("redisstore: list keys: malformed item %q", names[i])
		}
		infos = append(infos, cache.KeyInfo{Name: names[i], Size: size, Kind: it.Kind, Flags: it.Flags, CAS: it.CAS, Expires: it.Expires})
		infoNS = append(infoNS, nss[i])
	}
	return infos, infoNS, nil
}

// ListKeys follows SCAN over each node in turn, matching the namespace and
// prefix in the pattern, and keeps the live items. SCAN returns every key
// present for the whole scan at least once; a page drops repeats within it,
// and keys SCAN returned past the page's limit wait in the cursor.
func (s *Store) ListKeys(ctx context.Context, opts cache.ListOptions) (cache.KeyPage, error) {
	if err := cache.CheckListOptions(opts); err != nil {
		return cache.KeyPage{}, fmt.Errorf("redisstore: list keys: %w", err)
	}
	cur, err := decodeRedisCursor(opts.Cursor)
	if err != nil {
		return cache.KeyPage{}, fmt.Errorf("redisstore: list keys: %w", err)
	}
	// Keys waiting in a cursor come from the client: keep only those of this
	// namespace and prefix, so no cursor lists another namespace's keys.
	kept := cur.Pending[:0]
	for _, k := range cur.Pending {
		if _, ns, name, ok := s.splitItemKey(k); ok && ns == opts.Namespace && strings.HasPrefix(name, opts.Prefix) {
			kept = append(kept, k)
		}
	}
	cur.Pending = kept
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	nodes := s.nodes()
	pattern := globEscape(s.lay.prefix) + "{*}:" + itemInfix + globEscape(opts.Namespace) + ":" + globEscape(opts.Prefix) + "*"
	var page cache.KeyPage
	seen := map[string]bool{}
	for steps := 0; len(page.Keys) < opts.Limit; {
		if len(cur.Pending) == 0 {
			if cur.Node >= len(nodes) || steps == listScanSteps {
				break
			}
			if cur.Started && cur.Scan == 0 {
				cur = redisCursor{Node: cur.Node + 1}
				continue
			}
			node := nodes[cur.Node]
			entry, err := node.Do(ctx, node.B().Scan().Cursor(cur.Scan).Match(pattern).Count(int64(max(opts.Limit-len(page.Keys), 16))).Build()).AsScanEntry()
			if err != nil {
				return cache.KeyPage{}, s.fail("list keys: scan", err)
			}
			steps++
			cur.Scan, cur.Started, cur.Pending = entry.Cursor, true, entry.Elements
		}
		take := min(len(cur.Pending), opts.Limit-len(page.Keys))
		batch := cur.Pending[:take]
		cur.Pending = cur.Pending[take:]
		infos, _, err := s.peek(ctx, batch)
		if err != nil {
			return cache.KeyPage{}, err
		}
		for _, in := range infos {
			if !seen[in.Name] {
				seen[in.Name] = true
				page.Keys = append(page.Keys, in)
			}
		}
	}
	if len(cur.Pending) == 0 && cur.Started && cur.Scan == 0 {
		cur = redisCursor{Node: cur.Node + 1} // that node's scan is complete
	}
	if len(cur.Pending) > 0 || cur.Node < len(nodes) {
		page.Next = cur.encode()
	}
	return page, nil
}

// Namespaces scans every item key of every node and counts the live items
// of each namespace.
func (s *Store) Namespaces(ctx context.Context, limit int) ([]cache.NamespaceInfo, bool, error) {
	if err := cache.CheckNamespacesLimit(limit); err != nil {
		return nil, false, fmt.Errorf("redisstore: namespaces: %w", err)
	}
	pattern := s.lay.itemPattern()
	counts := map[string]uint64{}
	for _, node := range s.nodes() {
		var cursor uint64
		for {
			opCtx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
			entry, err := node.Do(opCtx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				cancel()
				return nil, false, s.fail("namespaces: scan", err)
			}
			_, nss, err := s.peek(opCtx, entry.Elements)
			cancel()
			if err != nil {
				return nil, false, err
			}
			for _, ns := range nss {
				counts[ns]++
			}
			if cursor = entry.Cursor; cursor == 0 {
				break
			}
		}
	}
	return cache.NamespaceList(counts, limit)
}
