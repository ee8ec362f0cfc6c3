package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/memcached-http/memcached-http/api"
	"github.com/memcached-http/memcached-http/internal/cache"
	"github.com/memcached-http/memcached-http/internal/gen"
)

// Server implements the strict server over a cache.Store: it decodes and
// validates, calls the store, and encodes. Cache rules live in the store.
type Server struct {
	store cache.Store
	cfg   Config
}

var _ gen.StrictServerInterface = (*Server)(nil)

// errNoBody guards the strict server's body dispatch: checkMediaType lets
// only JSON or octet-stream through, so one of the two bodies is always set.
var errNoBody = errors.New("handlers: request body not decoded")

// key builds the cache key of a path namespace and key, naming the field at fault.
func key(ns, name string) (cache.Key, error) {
	if _, err := cache.ParseNamespace(ns); err != nil {
		return cache.Key{}, onField("namespace", err)
	}
	k, err := cache.NewKey(ns, name)
	return k, onField("key", err)
}

// Get implements App Engine's get / gets.
func (s *Server) Get(ctx context.Context, req gen.GetRequestObject) (gen.GetResponseObject, error) {
	k, err := key(req.Namespace, req.Key)
	if err != nil {
		return nil, err
	}
	it, err := s.store.Get(ctx, k, nil)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if inm := req.Params.IfNoneMatch; inm != nil && noneMatchHit(*inm, it.CAS) {
		return gen.Get304Response{Headers: gen.Get304ResponseHeaders{CacheControl: noStore, ETag: etag(it.CAS)}}, nil
	}
	return itemResponse{name: req.Key, it: it, raw: wantsRaw(ctx)}, nil
}

// Set implements App Engine's set / add / replace / cas, plain or conditional.
func (s *Server) Set(ctx context.Context, req gen.SetRequestObject) (gen.SetResponseObject, error) {
	if err := check(req.Params); err != nil {
		return nil, err
	}
	k, err := key(req.Namespace, req.Key)
	if err != nil {
		return nil, err
	}
	e := cache.Entry{Key: k}
	var casText *string
	switch {
	case req.JSONBody != nil:
		b := req.JSONBody
		if err := rawOnlyParams(req.Params); err != nil {
			return nil, err
		}
		if err := check(b); err != nil {
			return nil, err
		}
		// Decoded over the request's own bytes, which Put copies into the store.
		if e.Value, e.Kind, err = decodeValue(b.Value, b.Encoding); err != nil {
			return nil, onField("value", err)
		}
		e.Flags, e.Time, casText = deref(b.Flags), deref(b.Time), b.Cas
	case req.Body != nil:
		if raw, ok := req.Body.(*rawBody); ok && raw.err == nil {
			// Read by the key router into a pooled buffer the store copies.
			e.Value = raw.data
		} else if e.Value, err = io.ReadAll(req.Body); err != nil {
			if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: gen.ErrorDetailCodeValueTooLarge, field: "value",
					reason: fmt.Sprintf("the value is larger than the request body limit of %d bytes", mb.Limit), err: fmt.Errorf("set: read raw value: %w", err)}
			}
			return nil, fmt.Errorf("set: read raw value: %w", err)
		}
		e.Kind = cache.KindBytes
		e.Flags, e.Time, casText = deref(req.Params.Flags), deref(req.Params.Time), req.Params.Cas
	default:
		return nil, errNoBody
	}
	if err := checkTime("time", e.Time); err != nil {
		return nil, err
	}
	c, err := resolveMode(req.Params, casText)
	if err != nil {
		return nil, err
	}
	e.CAS = c.cas
	id, err := s.store.Put(ctx, c.mode, e)
	if err != nil {
		return nil, c.failed(err)
	}
	return gen.Set200JSONResponse{
		Body:    gen.StoreResult{Stored: gen.StoreResultStoredTrue, Cas: strconv.FormatUint(id, 10)},
		Headers: gen.Set200ResponseHeaders{ETag: etag(id)},
	}, nil
}

// rawOnlyParams refuses time/flags/cas in the query beside a JSON body, where
// they belong in the body; silently ignoring them would lose the caller's intent.
func rawOnlyParams(p gen.SetParams) error {
	switch {
	case p.Time != nil:
		return invalid("time", "time goes in the JSON body")
	case p.Flags != nil:
		return invalid("flags", "flags go in the JSON body")
	case p.Cas != nil:
		return invalid("cas", "cas goes in the JSON body")
	}
	return nil
}

// checkTime refuses an expiration time or lock period the store would
// refuse, naming the field: cache.ExpiresAt holds the rule (its result
// depends on the clock, whether it fails does not).
func checkTime(field string, t float64) error {
	if _, err := cache.ExpiresAt(time.Time{}, t); err != nil {
		return mustBe(field, strconv.FormatFloat(t, 'g', -1, 64), err)
	}
	return nil
}

// Delete implements App Engine's delete, with an optional lock period.
func (s *Server) Delete(ctx context.Context, req gen.DeleteRequestObject) (gen.DeleteResponseObject, error) {
	k, err := key(req.Namespace, req.Key)
	if err != nil {
		return nil, err
	}
	if err := checkTime("seconds", deref(req.Params.Seconds)); err != nil {
		return nil, err
	}
	err = s.store.Delete(ctx, k, deref(req.Params.Seconds))
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return gen.Delete404JSONResponse{Status: gen.DeleteItemMissing, Error: detail(fmt.Errorf("delete: %w", err))}, nil
	case err != nil:
		return nil, fmt.Errorf("delete: %w", err)
	}
	return gen.Delete200JSONResponse{Status: gen.DeleteSuccessful}, nil
}

// Incr implements App Engine's incr.
func (s *Server) Incr(ctx context.Context, req gen.IncrRequestObject) (gen.IncrResponseObject, error) {
	v, err := s.offset(ctx, req.Namespace, req.Key, req.Body, false)
	if err != nil {
		return nil, err
	}
	return gen.Incr200JSONResponse{Body: gen.OffsetResult{Value: v}, Headers: gen.Incr200ResponseHeaders{CacheControl: noStore}}, nil
}

// Decr implements App Engine's decr.
func (s *Server) Decr(ctx context.Context, req gen.DecrRequestObject) (gen.DecrResponseObject, error) {
	v, err := s.offset(ctx, req.Namespace, req.Key, req.Body, true)
	if err != nil {
		return nil, err
	}
	return gen.Decr200JSONResponse{Body: gen.OffsetResult{Value: v}, Headers: gen.Decr200ResponseHeaders{CacheControl: noStore}}, nil
}

func (s *Server) offset(ctx context.Context, ns, name string, body *gen.OffsetRequest, decrement bool) (uint64, error) {
	k, err := key(ns, name)
	if err != nil {
		return 0, err
	}
	d := cache.Delta{Amount: 1, Decrement: decrement}
	var initial *uint64
	if body != nil {
		if body.Delta != nil {
			d.Amount = *body.Delta
		}
		initial = body.InitialValue
	}
	v, err := s.store.Offset(ctx, k, d, initial)
	if err != nil {
		return 0, fmt.Errorf("offset: %w", err)
	}
	return v, nil
}

// batchKeys checks the batch limit and builds the cache keys of
// prefix+name; fieldOf names the request field of the i-th name.
func (s *Server) batchKeys(ns string, prefix *string, names []string, field string, fieldOf func(i int) string) ([]cache.Key, error) {
	if len(names) > s.cfg.MaxBatchKeys {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: gen.ErrorDetailCodeBatchTooLarge, field: field,
			reason: fmt.Sprintf("%d keys in one batch, at most %d allowed", len(names), s.cfg.MaxBatchKeys),
			err:    fmt.Errorf("handlers: %d keys in one batch, at most %d allowed", len(names), s.cfg.MaxBatchKeys)}
	}
	if _, err := cache.ParseNamespace(ns); err != nil {
		return nil, onField("namespace", err)
	}
	in, _ := cache.InNamespace(ns) // accepts every name ParseNamespace did
	pre := deref(prefix)
	keys := make([]cache.Key, len(names))
	for i, name := range names {
		// A key is a non-empty string; the prefix alone is not one.
		if name == "" {
			return nil, invalid(fieldOf(i), "a key must not be empty")
		}
		if pre != "" {
			name = pre + name
		}
		k, err := in.Key(name)
		if err != nil {
			return nil, onField(fieldOf(i), err)
		}
		keys[i] = k
	}
	return keys, nil
}

// indexed names the i-th element of an array field.
func indexed(field string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s[%d]", field, i) }
}

// GetMulti implements App Engine's get_multi. The store stops copying values
// once they alone would not fit in MaxResponseBytes, and the response is
// encoded as the items arrive and checked against the same limit; past it
// the request fails 413 rather than the server holding a response of any
// size.
func (s *Server) GetMulti(ctx context.Context, req gen.GetMultiRequestObject) (gen.GetMultiResponseObject, error) {
	if err := check(req.Body); err != nil {
		return nil, err
	}
	names := req.Body.Keys
	keys, err := s.batchKeys(req.Namespace, req.Body.KeyPrefix, names, "keys", indexed("keys"))
	if err != nil {
		return nil, err
	}
	budget := int(s.cfg.MaxResponseBytes)
	tooLarge := func(err error) error {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: gen.ErrorDetailCodeBatchTooLarge, field: "keys",
			reason: fmt.Sprintf("the response would be larger than the limit of %d bytes; ask for fewer keys per batchGet", budget),
			err:    err}
	}
	// Every value is encoded in at least its own length, so values past the
	// room left beside the wrapper can only make a response over budget. The
	// room stays positive: a budget of 0 would ask the store for no bound.
	room := max(1, budget-len(batchGetOpen)-len(batchGetClose))
	if p, ok := s.store.(cache.Peeker); ok {
		resp, err := readGetMulti(ctx, p, s.store, names, keys, budget, room)
		if errors.Is(err, cache.ErrBatchTooLarge) {
			err = tooLarge(fmt.Errorf("handlers: get_multi over the budget: %w", err))
		}
		if err != nil {
			return nil, fmt.Errorf("get_multi: %w", err)
		}
		return resp, nil
	}
	found, err := s.store.GetMulti(ctx, keys, room)
	if errors.Is(err, cache.ErrBatchTooLarge) {
		err = tooLarge(fmt.Errorf("handlers: get_multi values over %d bytes: %w", room, err))
	}
	if err != nil {
		return nil, fmt.Errorf("get_multi: %w", err)
	}
	out := getBuf()
	enc := itemsEncoder{b: append(*out, batchGetOpen...)}
	if i := enc.add(names, keys, found, budget); i >= 0 {
		*out = enc.b[:0]
		putBuf(out)
		return nil, fmt.Errorf("get_multi: %w", tooLarge(fmt.Errorf("handlers: get_multi response over %d bytes at key %d of %d", budget, i+1, len(keys))))
	}
	*out = append(enc.b, batchGetClose...)
	return batchGetResponse{out: out}, nil
}

// SetMulti implements App Engine's set_multi / add_multi / replace_multi / cas_multi.
func (s *Server) SetMulti(ctx context.Context, req gen.SetMultiRequestObject) (gen.SetMultiResponseObject, error) {
	if err := check(req.Body); err != nil {
		return nil, err
	}
	return s.setMulti(ctx, req.Namespace, req.Body)
}

// setMulti is SetMulti after the body's validation.
func (s *Server) setMulti(ctx context.Context, ns string, b *gen.BatchSetRequest) (gen.SetMultiResponseObject, error) {
	names := make([]string, len(b.Items))
	for i, it := range b.Items {
		names[i] = it.Key
	}
	keys, err := s.batchKeys(ns, b.KeyPrefix, names, "items",
		func(i int) string { return fmt.Sprintf("items[%d].key", i) })
	if err != nil {
		return nil, err
	}
	// A mapping (App Engine's set_multi dict) cannot hold a key twice; which
	// of two items should win is not the server's guess to make.
	at := make(map[string]int, len(names))
	for i, name := range names {
		if j, dup := at[name]; dup {
			return nil, invalid(fmt.Sprintf("items[%d].key", i), "duplicate key %q: items[%d] has it too", name, j)
		}
		at[name] = i
	}
	if err := checkTime("time", deref(b.Time)); err != nil {
		return nil, err
	}
	mode := cache.ModeSet
	if b.Mode != nil {
		mode = modes[string(*b.Mode)]
	}
	entries := make([]cache.Entry, len(b.Items))
	// Every value is decoded over the request's own bytes, which PutMulti
	// copies from.
	for i, it := range b.Items {
		e := cache.Entry{Key: keys[i], Flags: deref(it.Flags), Time: deref(b.Time)}
		if e.Value, e.Kind, err = decodeValue(it.Value, it.Encoding); err != nil {
			return nil, onField(fmt.Sprintf("items[%d].value", i), err)
		}
		// Without mode cas and a token there is no CAS to check, and the
		// item's field name, built only for an error, is not needed.
		if mode == cache.ModeCAS || it.Cas != nil {
			if e.CAS, err = casFor(mode, it.Cas, fmt.Sprintf("items[%d].cas", i)); err != nil {
				return nil, err
			}
		}
		entries[i] = e
	}
	errs, err := s.store.PutMulti(ctx, mode, entries)
	if err != nil {
		return nil, fmt.Errorf("set_multi: %w", err)
	}
	notStored := make([]string, 0)
	for i, err := range errs {
		if err != nil {
			notStored = append(notStored, b.Items[i].Key)
		}
	}
	return gen.SetMulti200JSONResponse{NotStored: notStored}, nil
}

// DeleteMulti implements App Engine's delete_multi. Each distinct key is
// deleted once: a second delete of a name listed twice would report the
// item missing although this request removed it.
func (s *Server) DeleteMulti(ctx context.Context, req gen.DeleteMultiRequestObject) (gen.DeleteMultiResponseObject, error) {
	if err := check(req.Body); err != nil {
		return nil, err
	}
	keys, err := s.batchKeys(req.Namespace, req.Body.KeyPrefix, req.Body.Keys, "keys", indexed("keys"))
	if err != nil {
		return nil, err
	}
	if err := checkTime("seconds", deref(req.Body.Seconds)); err != nil {
		return nil, err
	}
	statuses := make(map[string]gen.DeleteStatus, len(keys))
	names := make([]string, 0, len(keys))
	distinct := keys[:0:0]
	for i, name := range req.Body.Keys {
		if _, dup := statuses[name]; !dup {
			statuses[name] = ""
			names = append(names, name)
			distinct = append(distinct, keys[i])
		}
	}
	errs, err := s.store.DeleteMulti(ctx, distinct, deref(req.Body.Seconds))
	if err != nil {
		return nil, fmt.Errorf("delete_multi: %w", err)
	}
	for i, err := range errs {
		switch {
		case err == nil:
			statuses[names[i]] = gen.DeleteSuccessful
		case errors.Is(err, cache.ErrNotFound):
			statuses[names[i]] = gen.DeleteItemMissing
		default:
			return nil, fmt.Errorf("delete_multi %q: %w", names[i], err)
		}
	}
	return gen.DeleteMulti200JSONResponse{Statuses: statuses}, nil
}

// OffsetMulti implements App Engine's offset_multi: signed deltas, null for
// keys that are missing or not counters.
func (s *Server) OffsetMulti(ctx context.Context, req gen.OffsetMultiRequestObject) (gen.OffsetMultiResponseObject, error) {
	if err := check(req.Body); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(req.Body.Offsets))
	for name := range req.Body.Offsets {
		names = append(names, name)
	}
	slices.Sort(names) // a stable order keeps store calls reproducible
	keys, err := s.batchKeys(req.Namespace, req.Body.KeyPrefix, names, "offsets",
		func(i int) string { return "offsets." + names[i] })
	if err != nil {
		return nil, err
	}
	deltas := make([]cache.Delta, len(names))
	for i, name := range names {
		deltas[i] = signedDelta(req.Body.Offsets[name])
	}
	values, errs, err := s.store.OffsetMulti(ctx, keys, deltas, req.Body.InitialValue)
	if err != nil {
		return nil, fmt.Errorf("offset_multi: %w", err)
	}
	out := make(map[string]*uint64, len(names))
	for i, name := range names {
		switch {
		case errs[i] == nil:
			out[name] = &values[i]
		case errors.Is(errs[i], cache.ErrNotFound), errors.Is(errs[i], cache.ErrNotANumber):
			out[name] = nil
		default:
			return nil, fmt.Errorf("offset_multi %q: %w", name, errs[i])
		}
	}
	return gen.OffsetMulti200JSONResponse{Body: gen.BatchOffsetResult{Values: out}, Headers: gen.OffsetMulti200ResponseHeaders{CacheControl: noStore}}, nil
}

// signedDelta turns offset_multi's signed delta into the store's unsigned
// one; -MinInt64 does not fit an int64, so the magnitude is taken in uint64.
func signedDelta(d int64) cache.Delta {
	if d < 0 {
		return cache.Delta{Amount: uint64(-(d + 1)) + 1, Decrement: true}
	}
	return cache.Delta{Amount: uint64(d)}
}

// FlushAll implements App Engine's flush_all.
func (s *Server) FlushAll(ctx context.Context, _ gen.FlushAllRequestObject) (gen.FlushAllResponseObject, error) {
	if err := s.store.FlushAll(ctx); err != nil {
		return nil, fmt.Errorf("flush_all: %w", err)
	}
	return gen.FlushAll200JSONResponse{Ok: gen.FlushResultOkTrue}, nil
}

// GetStats implements App Engine's get_stats.
func (s *Server) GetStats(ctx context.Context, _ gen.GetStatsRequestObject) (gen.GetStatsResponseObject, error) {
	st, err := s.store.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("get_stats: %w", err)
	}
	return gen.GetStats200JSONResponse{
		Body:    gen.Stats{Hits: st.Hits, Misses: st.Misses, ByteHits: st.ByteHits, Items: st.Items, Bytes: st.Bytes, OldestItemAge: st.OldestItemAge},
		Headers: gen.GetStats200ResponseHeaders{CacheControl: noStore},
	}, nil
}

// Health answers the liveness probe.
func (s *Server) Health(context.Context, gen.HealthRequestObject) (gen.HealthResponseObject, error) {
	return gen.Health200JSONResponse{Ok: gen.HealthOkTrue}, nil
}

// GetContract serves the embedded OpenAPI document.
func (s *Server) GetContract(context.Context, gen.GetContractRequestObject) (gen.GetContractResponseObject, error) {
	return gen.GetContract200ApplicationyamlResponse{Body: bytes.NewReader(api.OpenAPI), ContentLength: int64(len(api.OpenAPI))}, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
