// Package sdk is the Go client of memcached-http: App Engine memcache's Client
// API over HTTP. Code written against App Engine's API ports by renaming
// methods (get_multi → GetMulti) and constructing a Client with New; every
// method takes a context first, which carries its timeout.
//
// # Results and errors
//
// Every method returns App Engine's result first, already in App Engine's
// failure form when the call fails (false, nil, DeleteNetworkFailure, every
// key not stored), so `ok, _ := c.Add(…)` behaves like App Engine. The error
// says why the result is not the successful one:
//
//   - ErrCacheMiss: Get, Gets, GetAs, Incr, Decr and Delete on a missing,
//     expired or delete-locked key.
//   - ErrNotStored: Add on a live or locked key, Replace on a missing one, CAS
//     on a key with no remembered CAS id.
//   - ErrCASConflict: CAS on an item that changed since Gets.
//   - ErrNotANumber: Incr or Decr on a value that is not a counter.
//   - ErrNoStats: GetStats failed.
//   - ErrServerError (and *Error for 5xx): the server failed or answered
//     something this client cannot read.
//   - ErrInvalidArgument (and *Error for 400/413): a bad key, namespace,
//     option, value or destination.
//   - *Error alone for other refusals: a missing or refused token (401,
//     403) or a rate limit (429); its Code names which.
//   - otherwise the transport's or the context's error.
//
// The *Multi methods answer per key and return an error only when the whole
// call failed: SetMulti and friends list the keys not stored, GetMulti leaves
// misses out, DeleteMulti and OffsetMulti give a status or nil per key.
//
// # Keys
//
// A key is a string, a []byte or a Key (App Engine's (hash, key) pair, hash
// ignored); lists of keys are slices of those, mappings are maps keyed by
// strings or Keys. Results are keyed by the caller's key, without the
// WithKeyPrefix prefix. A prefixed key over 250 bytes, or not valid UTF-8, is
// sent as the hex SHA-1 of its bytes, as App Engine's Python client did.
//
// # Values
//
// Any Go value can be stored, and reads back as its type. []byte travels as
// bytes (base64 on the wire), strings, integers and bools as JSON values (so
// Incr works on an integer stored with Set), anything else as its JSON
// encoding. The item's flags record App Engine's TYPE_* number and the Go kind,
// so reading into an *any (or GetMulti's map) gives back the stored type:
// []byte, string, bool, the exact integer or float type; maps, slices and
// structs come back as json.Unmarshal builds them in an any. Reading into a
// typed destination (Get's dst, GetAs[T], GetMultiAs[T]) decodes the JSON into
// that type, so structs and maps round-trip exactly.
//
// # Namespaces
//
// Namespaces are App Engine's: "" is the empty namespace (sent as `~`), and
// "default" is an ordinary name apart from it. A call's WithNamespace wins;
// without one, the call uses the namespace Namespace put in its context, as
// App Engine Go's appengine.Namespace does, else the empty namespace.
//
// # CAS
//
// Gets, and Get or GetMulti with ForCAS, remember each item's CAS id per
// namespace and key on the Client; CAS and CASMulti send it; CASReset forgets
// them all. Every successful write gives an item a new id, so a second CAS
// from the same fetch fails.
package sdk
