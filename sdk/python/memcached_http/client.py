"""The memcache Client: App Engine's memcache.Client API over memcached-http.

Every method keeps App Engine's name, arguments, defaults and results. Bad arguments
raise TypeError/ValueError before anything is sent; a server that cannot be reached,
answers too late or answers with an error gives App Engine's failure result (None,
False, {}, DELETE_NETWORK_FAILURE, or every key listed as not set) and a warning on
the "memcached_http" logger, never an exception.
"""

import concurrent.futures
import io
import logging
import math
import os
import pickle
import threading
import urllib.parse

from . import _wire
from ._http import NetworkError, Transport
from ._wire import (  # noqa: F401  (re-exported App Engine constants)
    FLAG_COMPRESSED,
    FLAG_TYPE_MASK,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
    TYPE_BOOL,
    TYPE_INT,
    TYPE_LONG,
    TYPE_PICKLED,
    TYPE_STR,
    TYPE_UNICODE,
)

__all__ = [
    "Client",
    "RPC",
    "create_rpc",
    "DELETE_NETWORK_FAILURE",
    "DELETE_ITEM_MISSING",
    "DELETE_SUCCESSFUL",
    "STORED",
    "NOT_STORED",
    "ERROR",
    "EXISTS",
    "MAX_KEY_SIZE",
    "MAX_VALUE_SIZE",
    "STAT_HITS",
    "STAT_MISSES",
    "STAT_BYTE_HITS",
    "STAT_ITEMS",
    "STAT_BYTES",
    "STAT_OLDEST_ITEM_AGES",
    "FLAG_TYPE_MASK",
    "FLAG_COMPRESSED",
    "TYPE_STR",
    "TYPE_UNICODE",
    "TYPE_PICKLED",
    "TYPE_INT",
    "TYPE_LONG",
    "TYPE_BOOL",
    "DEFAULT_URL",
    "DEFAULT_DEADLINE",
    "URL_ENV",
    "TOKEN_ENV",
]

DELETE_NETWORK_FAILURE = 0
DELETE_ITEM_MISSING = 1
DELETE_SUCCESSFUL = 2

# Per-key results of the *_multi_async writes, numbered as App Engine's protocol.
STORED = 1
NOT_STORED = 2
ERROR = 3
EXISTS = 4

STAT_HITS = "hits"
STAT_MISSES = "misses"
STAT_BYTE_HITS = "byte_hits"
STAT_ITEMS = "items"
STAT_BYTES = "bytes"
STAT_OLDEST_ITEM_AGES = "oldest_item_age"
_STATS = (STAT_HITS, STAT_MISSES, STAT_BYTE_HITS, STAT_ITEMS, STAT_BYTES, STAT_OLDEST_ITEM_AGES)

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_DEADLINE = 5.0
URL_ENV = "MEMCACHED_HTTP_URL"
TOKEN_ENV = "MEMCACHED_HTTP_TOKEN"

# The largest time the server accepts: the end of year 9999 as a Unix time.
_MAX_TIME = 253402300799
_UINT64_END = 1 << 64
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
# Statuses with which the server answers a write it did not store.
_NOT_STORED_STATUSES = (404, 409, 412, 413)

_log = logging.getLogger("memcached_http")
# Keys per batch request: App Engine's batch calls took any number of keys, the
# server takes at most -max-batch-keys (10,000 by default) in one request, so a
# larger call is sent as several.
_BATCH_KEYS = 1000


def _chunks(seq):
    """Splits a list into batches of at most _BATCH_KEYS."""
    return [seq[i:i + _BATCH_KEYS] for i in range(0, len(seq), _BATCH_KEYS)]

_shared_lock = threading.Lock()  # guards _executor and _transports
_executor = None
_transports = {}


def _reset_after_fork():
    """Runs in a child process after fork: the parent's pool threads do not
    exist in the child, and another thread may have held the lock."""
    global _executor, _shared_lock
    _shared_lock = threading.Lock()
    _executor = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _pool():
    """Returns the thread pool shared by every client's async calls."""
    global _executor
    with _shared_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="memcached-http")
        return _executor


def _shared_transport(url, token):
    """Returns one transport per server and token, so short-lived clients (one per
    request, as App Engine recommends for CAS) reuse each thread's connection."""
    with _shared_lock:
        transport = _transports.get((url, token))
        if transport is None:
            transport = _transports[(url, token)] = Transport(url, token)
        return transport


def create_rpc(deadline=None, callback=None):
    """Creates an RPC to pass as rpc= to an *_async method.

    Args:
      deadline: seconds the call may take; None uses the client's deadline.
      callback: callable run with no arguments, once, by the first wait() or
        get_result() after the call completes.
    """
    return RPC(deadline, callback)


class RPC:
    """An asynchronous memcache call; get_result() gives the method's result."""

    def __init__(self, deadline=None, callback=None):
        self.deadline = deadline
        self.callback = callback
        self._future = None
        self._lock = threading.Lock()  # guards _future and _callback_pending
        self._callback_pending = callback is not None

    def _start(self, call, client_deadline):
        deadline = client_deadline if self.deadline is None else self.deadline
        with self._lock:
            if self._future is not None:
                raise ValueError("this RPC already carries a call; create another with create_rpc()")
            self._future = _pool().submit(call, deadline)

    def wait(self):
        """Blocks until the call completes, then runs the callback if it has not run."""
        with self._lock:
            future = self._future
        if future is None:
            raise ValueError("no call was made with this RPC")
        concurrent.futures.wait([future])
        with self._lock:
            run, self._callback_pending = self._callback_pending, False
        if run:
            self.callback()

    def get_result(self):
        """Waits for the call and returns its result (App Engine's failure value on errors)."""
        self.wait()
        return self._future.result()


def _expiration(value, what):
    """Validates App Engine's time/seconds argument and rounds it up, as App Engine did."""
    if not isinstance(value, (int, float)):
        raise TypeError("%s must be a number." % what)
    if math.isnan(value) or math.isinf(value):
        raise ValueError("%s must be a finite number." % what)
    if value < 0:
        raise ValueError("%s must not be negative." % what)
    seconds = int(math.ceil(value))
    if seconds > _MAX_TIME:
        raise ValueError("%s must not be later than year 9999." % what)
    return seconds


def _check_delta(delta):
    if not isinstance(delta, int):
        raise TypeError("Delta must be an integer or long, received %r" % (delta,))
    if delta < 0:
        raise ValueError("Delta must not be negative.")
    if delta >= _UINT64_END:
        raise ValueError("Delta must be less than 2**64.")


def _check_offset(delta):
    if not isinstance(delta, int):
        raise TypeError("Delta must be an integer or long, received %r" % (delta,))
    # The server takes offset_multi deltas as signed 64-bit integers.
    if not _INT64_MIN <= delta <= _INT64_MAX:
        raise ValueError("Delta must be a signed 64-bit integer.")


def _check_initial_value(initial_value):
    if initial_value is None:
        return None
    if not isinstance(initial_value, int):
        raise TypeError("initial_value must be an integer")
    if not 0 <= initial_value < _UINT64_END:
        raise ValueError("initial_value must be >= 0 and < 2**64")
    return int(initial_value)


def _is_key_collection(key):
    """Reports whether incr/decr got several keys rather than one (a (hash, key)
    pair with an int hash is one key)."""
    if isinstance(key, (str, bytes)):
        return False
    if _wire.is_pair(key) and isinstance(key[0], int) and isinstance(key[1], (str, bytes)):
        return False
    try:
        iter(key)
    except TypeError:
        return False
    return True


def _key_path(namespace, wire_key):
    return "/v1/ns/%s/keys/%s" % (namespace, urllib.parse.quote(wire_key, safe=""))


def _batch_path(namespace, verb):
    return "/v1/ns/%s/keys:%s" % (namespace, verb)


def _as_uint(value):
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _with_persistent_id(pickler, pid):
    """Returns a pickler class that asks pid for persistent ids. A subclass,
    because Python 3.13's C Pickler no longer lets instances set persistent_id."""

    class PersistentIdPickler(pickler):
        def persistent_id(self, obj):
            return pid(obj)

    return PersistentIdPickler


def _with_persistent_load(unpickler, pload):
    """Returns an unpickler class that loads persistent ids with pload."""

    class PersistentLoadUnpickler(unpickler):
        def persistent_load(self, persistent_id):
            return pload(persistent_id)

    return PersistentLoadUnpickler


class Client:
    """Memcache client object, through which one invokes all memcache operations.

    Keys may be str, bytes or App Engine's (hash_value, key) pair (the hash is
    ignored). Values may be str, bytes, int, bool or any picklable object, and come
    back as the type that went in.

    The client is safe for concurrent use, CAS bookkeeping included; the CAS ids
    it remembers grow with every key fetched for CAS, so keep a client for CAS no
    longer than one unit of work, or call cas_reset().
    """

    def __init__(
        self,
        servers=None,
        debug=0,
        pickleProtocol=pickle.HIGHEST_PROTOCOL,
        pickler=pickle.Pickler,
        unpickler=pickle.Unpickler,
        pload=None,
        pid=None,
        make_sync_call=None,
        *,
        url=None,
        token=None,
        deadline=DEFAULT_DEADLINE,
    ):
        """Creates a client; no argument is required.

        Args:
          servers: Ignored; only for compatibility.
          debug: Ignored; only for compatibility.
          pickleProtocol: Pickle protocol used for values that are pickled.
          pickler: pickle.Pickler sub-class used for pickling.
          unpickler: pickle.Unpickler sub-class used for unpickling.
          pload: Callable used to load objects by persistent id.
          pid: Callable giving the persistent id of objects, if any.
          make_sync_call: Ignored; only for compatibility.
          url: memcached-http base URL; default $MEMCACHED_HTTP_URL, else DEFAULT_URL.
          token: bearer token sent with every request; default $MEMCACHED_HTTP_TOKEN.
          deadline: seconds a call may take before it counts as a network failure.
        """
        self._pickler_factory = pickler if pid is None else _with_persistent_id(pickler, pid)
        self._unpickler_factory = unpickler if pload is None else _with_persistent_load(unpickler, pload)
        self._pickle_protocol = pickleProtocol
        self.url = url or os.environ.get(URL_ENV) or DEFAULT_URL
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        self._transport = _shared_transport(self.url, token)
        self._deadline = deadline
        self._cas_lock = threading.Lock()  # guards _cas_ids
        self._cas_ids = {}  # (wire namespace, wire key) -> CAS token

    # Compatibility methods of the python-memcached API App Engine kept.

    def set_servers(self, servers):
        """Sets the pool of memcache servers; a no-op kept for compatibility."""

    def disconnect_all(self):
        """Closes the calling thread's connection; the next call reconnects."""
        self._transport.close()

    def forget_dead_hosts(self):
        """Resets all servers to the alive status; a no-op kept for compatibility."""

    def debuglog(self):
        """Logs debugging information; a no-op kept for compatibility."""

    def cas_reset(self):
        """Clears the remembered CAS ids."""
        with self._cas_lock:
            self._cas_ids.clear()

    # Plumbing.

    def _do_pickle(self, value):
        data = io.BytesIO()
        self._pickler_factory(data, protocol=self._pickle_protocol).dump(value)
        return data.getvalue()

    def _do_unpickle(self, value):
        return self._unpickler_factory(io.BytesIO(value)).load()

    def _decode(self, item):
        return _wire.decode_value(item, self._do_unpickle)

    def _remember_cas(self, namespace, wire_key, token):
        with self._cas_lock:
            self._cas_ids[(namespace, wire_key)] = token

    def _cas_id(self, namespace, wire_key):
        with self._cas_lock:
            return self._cas_ids.get((namespace, wire_key))

    def _request(self, method, path, body, deadline, *expected, resend=False):
        """Sends a request; returns the Response if its status is 200 or in
        expected, else logs why and returns None. resend marks a request whose
        repetition changes nothing, which may be sent again on a connection
        the server closed (see _http)."""
        try:
            resp = self._transport.request(method, path, body, deadline, resend=resend)
        except NetworkError as err:
            _log.warning("memcached-http unreachable at %s: %s", self.url, err)
            return None
        if resp.status == 200 and isinstance(resp.body, dict):
            return resp
        if resp.status in expected:
            return resp
        _log.warning(
            "memcached-http %s %s: unexpected status %d (%s)",
            method,
            path,
            resp.status,
            resp.error_code() or resp.body,
        )
        return None

    def _async(self, call, rpc):
        rpc = rpc if rpc is not None else RPC()
        rpc._start(call, self._deadline)
        return rpc

    # Whole-cache operations.

    def get_stats(self):
        """Gets memcache statistics: a dict of the STAT_* names, or None on error."""
        return self._get_stats_call()(self._deadline)

    def get_stats_async(self, rpc=None):
        """Async version of get_stats()."""
        return self._async(self._get_stats_call(), rpc)

    def _get_stats_call(self):
        def call(deadline):
            resp = self._request("GET", "/v1/stats", None, deadline, resend=True)
            if resp is None:
                return None
            return {name: resp.body.get(name, 0) for name in _STATS}

        return call

    def flush_all(self):
        """Deletes everything in every namespace; True on success, False on error."""
        return self._flush_all_call()(self._deadline)

    def flush_all_async(self, rpc=None):
        """Async version of flush_all()."""
        return self._async(self._flush_all_call(), rpc)

    def _flush_all_call(self):
        def call(deadline):
            return self._request("POST", "/v1/flush", {}, deadline, resend=True) is not None

        return call

    # Listing (an operator's view, as the dashboard's key browser; not App
    # Engine's API). Both need an admin token.

    def list_keys(self, prefix="", limit=None, cursor=None, namespace=None):
        """Lists one page of the live keys of a namespace starting with prefix.

        Returns {"keys": [...], "next_cursor": str or None, "now": int}: each
        key a dict of key, size, kind ("json" or "bytes"), flags, cas and
        expires (Unix seconds or None). Pass next_cursor back as cursor until
        it is None. A page holds at most limit keys (1-1000; the server's
        default is 100), possibly fewer; an item live for the whole listing
        appears in exactly one page. None on error.
        """
        ns = _wire.wire_namespace(namespace)
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 1000):
            raise ValueError("limit must be an int from 1 to 1000, received %r" % (limit,))
        query = {}
        if prefix:
            query["prefix"] = prefix
        if limit is not None:
            query["limit"] = str(limit)
        if cursor:
            query["cursor"] = cursor
        path = "/v1/ns/%s/keys" % ns
        if query:
            path += "?" + urllib.parse.urlencode(query)
        resp = self._request("GET", path, None, self._deadline)
        if resp is None:
            return None
        return {
            "keys": resp.body.get("keys", []),
            "next_cursor": resp.body.get("next_cursor"),
            "now": resp.body.get("now"),
        }

    def iter_keys(self, prefix="", namespace=None):
        """Yields every live key's dict (see list_keys), page by page.

        Raises RuntimeError if a page fails, rather than ending early as if
        the listing were complete.
        """
        cursor = None
        while True:
            page = self.list_keys(prefix, limit=1000, cursor=cursor, namespace=namespace)
            if page is None:
                raise RuntimeError("memcached-http: listing keys failed (see the log)")
            for key in page["keys"]:
                yield key
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def list_namespaces(self):
        """Returns [(namespace, items)] of the namespaces holding live items,
        "" (the empty namespace) first; None on error."""
        resp = self._request("GET", "/v1/namespaces", None, self._deadline)
        if resp is None:
            return None
        out = []
        for n in resp.body.get("namespaces", []):
            name = n.get("namespace")
            out.append(("" if name == _wire.EMPTY_NAMESPACE else name, n.get("items", 0)))
        return out

    # Reads.

    def get(self, key, namespace=None, for_cas=False):
        """Looks up a single key; returns its value, or None on a miss or error.

        With for_cas=True the item's CAS id is remembered for cas().
        """
        ns = _wire.wire_namespace(namespace)
        wkey = _wire.wire_key(key)
        resp = self._request("GET", _key_path(ns, wkey), None, self._deadline, 404, resend=True)
        if resp is None or resp.status != 200:
            return None
        if for_cas:
            self._remember_cas(ns, wkey, resp.body.get("cas"))
        return self._decode(resp.body)

    def gets(self, key, namespace=None):
        """An alias for get(..., for_cas=True)."""
        return self.get(key, namespace=namespace, for_cas=True)

    def get_multi(self, keys, key_prefix="", namespace=None, for_cas=False):
        """Looks up several keys in one request.

        Returns a dict of the caller's keys (without key_prefix) to values for the
        keys found; {} on error.
        """
        return self._get_multi_call(keys, key_prefix, namespace, for_cas)(self._deadline)

    def get_multi_async(self, keys, key_prefix="", namespace=None, for_cas=False, rpc=None):
        """Async version of get_multi()."""
        return self._async(self._get_multi_call(keys, key_prefix, namespace, for_cas), rpc)

    def _get_multi_call(self, keys, key_prefix, namespace, for_cas):
        ns = _wire.wire_namespace(namespace)
        users = {_wire.wire_key(key, key_prefix): _wire.user_key(key) for key in keys}

        def call(deadline):
            result = {}
            for chunk in _chunks(list(users)):
                body = {"keys": chunk, "for_cas": bool(for_cas)}
                resp = self._request("POST", _batch_path(ns, "batchGet"), body, deadline, resend=True)
                if resp is None:
                    continue  # that batch's keys read as misses, as App Engine's failed call did
                for wkey, item in (resp.body.get("items") or {}).items():
                    if wkey not in users:
                        continue
                    if for_cas:
                        self._remember_cas(ns, wkey, item.get("cas"))
                    result[users[wkey]] = self._decode(item)
            return result

        return call

    # Deletes.

    def delete(self, key, seconds=0, namespace=None):
        """Deletes a key.

        Args:
          seconds: lock the key against add/replace/cas for this long (relative
            seconds up to 30 days, else an absolute Unix time).

        Returns:
          DELETE_SUCCESSFUL (2) if an item was removed, DELETE_ITEM_MISSING (1) if
          there was none, DELETE_NETWORK_FAILURE (0) on error.
        """
        secs = _expiration(seconds, "Delete timeout")
        ns = _wire.wire_namespace(namespace)
        path = _key_path(ns, _wire.wire_key(key))
        if secs:
            path += "?seconds=%d" % secs
        resp = self._request("DELETE", path, None, self._deadline, 404)
        if resp is None:
            return DELETE_NETWORK_FAILURE
        if resp.status == 200:
            return DELETE_SUCCESSFUL
        if isinstance(resp.body, dict) and resp.body.get("status") == "DELETE_ITEM_MISSING":
            return DELETE_ITEM_MISSING
        _log.warning("memcached-http DELETE %s: 404 without a delete status", path)
        return DELETE_NETWORK_FAILURE

    def delete_multi(self, keys, seconds=0, key_prefix="", namespace=None):
        """Deletes several keys; True if the server answered, False on error."""
        return self._delete_multi_call(keys, seconds, key_prefix, namespace)(self._deadline) is not None

    def delete_multi_async(self, keys, seconds=0, key_prefix="", namespace=None, rpc=None):
        """Async version of delete_multi(); note the different result.

        get_result() gives a list with one DELETE_* status per key, in order, or
        None on error.
        """
        return self._async(self._delete_multi_call(keys, seconds, key_prefix, namespace), rpc)

    def _delete_multi_call(self, keys, seconds, key_prefix, namespace):
        secs = _expiration(seconds, "Delete timeout")
        ns = _wire.wire_namespace(namespace)
        wkeys = [_wire.wire_key(key, key_prefix) for key in keys]
        codes = {"DELETE_SUCCESSFUL": DELETE_SUCCESSFUL, "DELETE_ITEM_MISSING": DELETE_ITEM_MISSING}

        def call(deadline):
            statuses = {}
            for chunk in _chunks(wkeys):
                resp = self._request("POST", _batch_path(ns, "batchDelete"), {"keys": chunk, "seconds": secs}, deadline)
                if resp is None:
                    return None
                statuses.update(resp.body.get("statuses") or {})
            return [codes.get(statuses.get(wkey), DELETE_NETWORK_FAILURE) for wkey in wkeys]

        return call

    # Writes.

    def set(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Sets a key's value regardless of what the cache holds; True if set.

        time: expiration as relative seconds (up to 30 days) or an absolute Unix
        time; 0 never expires. min_compress_len is ignored, for compatibility.
        """
        return self._set_one("set", key, value, time, namespace)

    def add(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Sets a key's value only if the cache holds no item for it; True if added."""
        return self._set_one("add", key, value, time, namespace)

    def replace(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Sets a key's value only if the cache holds an item for it; True if replaced."""
        return self._set_one("replace", key, value, time, namespace)

    def cas(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Compare-and-set: stores only if the item is unchanged since this client
        fetched it with gets() or get(..., for_cas=True); True if stored."""
        return self._set_one("cas", key, value, time, namespace)

    def _set_one(self, mode, key, value, time, namespace):
        secs = _expiration(time, "Expiration")
        ns = _wire.wire_namespace(namespace)
        wkey = _wire.wire_key(key)
        body = _wire.encode_value(value, self._do_pickle)
        body["time"] = secs
        if mode == "cas":
            cas_id = self._cas_id(ns, wkey)
            if cas_id is None:
                return False
            body["cas"] = cas_id
        path = _key_path(ns, wkey) + "?mode=" + mode
        resp = self._request("PUT", path, body, self._deadline, *_NOT_STORED_STATUSES, resend=mode in ("set", "replace"))
        return resp is not None and resp.status == 200

    def set_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """Sets several keys; returns the list of keys not set (all of them on error)."""
        return self._set_multi("set", mapping, time, key_prefix, namespace)

    def set_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None, rpc=None):
        """Async version of set_multi(); note the different result.

        get_result() gives a dict of the caller's keys to STORED, NOT_STORED or
        EXISTS, or None on error.
        """
        return self._async(self._set_multi_call("set", mapping, time, key_prefix, namespace)[0], rpc)

    def add_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """Adds several keys; returns the list of keys not added (all on error)."""
        return self._set_multi("add", mapping, time, key_prefix, namespace)

    def add_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None, rpc=None):
        """Async version of add_multi(); get_result() as set_multi_async()."""
        return self._async(self._set_multi_call("add", mapping, time, key_prefix, namespace)[0], rpc)

    def replace_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """Replaces several keys; returns the list of keys not replaced (all on error)."""
        return self._set_multi("replace", mapping, time, key_prefix, namespace)

    def replace_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None, rpc=None):
        """Async version of replace_multi(); get_result() as set_multi_async()."""
        return self._async(self._set_multi_call("replace", mapping, time, key_prefix, namespace)[0], rpc)

    def cas_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """Compare-and-set for several keys; returns the list of keys not stored."""
        return self._set_multi("cas", mapping, time, key_prefix, namespace)

    def cas_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None, rpc=None):
        """Async version of cas_multi(); get_result() as set_multi_async()."""
        return self._async(self._set_multi_call("cas", mapping, time, key_prefix, namespace)[0], rpc)

    def _set_multi(self, mode, mapping, time, key_prefix, namespace):
        call, users = self._set_multi_call(mode, mapping, time, key_prefix, namespace)
        statuses = call(self._deadline)
        if statuses is None:
            return list(users.values())
        return [user for user, status in statuses.items() if status != STORED]

    def _set_multi_call(self, mode, mapping, time, key_prefix, namespace):
        """Returns the call and the map of wire keys to the caller's keys."""
        secs = _expiration(time, "Expiration")
        ns = _wire.wire_namespace(namespace)
        users = {}
        items = []
        missing_cas = []  # caller's keys cas cannot store: never fetched for CAS
        for key, value in mapping.items():
            wkey = _wire.wire_key(key, key_prefix)
            users[wkey] = _wire.user_key(key)
            item = _wire.encode_value(value, self._do_pickle)
            item["key"] = wkey
            if mode == "cas":
                cas_id = self._cas_id(ns, wkey)
                if cas_id is None:
                    missing_cas.append(users[wkey])
                    continue
                item["cas"] = cas_id
            items.append(item)
        refused = EXISTS if mode == "cas" else NOT_STORED

        def call(deadline):
            statuses = {user: NOT_STORED for user in missing_cas}
            for chunk in _chunks(items):
                resp = self._request("POST", _batch_path(ns, "batchSet"), {"mode": mode, "items": chunk, "time": secs}, deadline)
                if resp is None:
                    return None
                not_stored = set(resp.body.get("not_stored") or ())
                for item in chunk:
                    statuses[users[item["key"]]] = refused if item["key"] in not_stored else STORED
            return statuses

        return call, users

    # Counters.

    def incr(self, key, delta=1, namespace=None, initial_value=None):
        """Atomically increments a key's unsigned 64-bit value, wrapping at 2**64.

        Without initial_value a missing key is not created. key may also be a
        collection of keys, which gives a dict of key to result.

        Returns:
          The new value, or None on a miss, a value that is not a number, or error.
        """
        return self._incrdecr_call(key, False, delta, namespace, initial_value)(self._deadline)

    def incr_async(self, key, delta=1, namespace=None, initial_value=None, rpc=None):
        """Async version of incr()."""
        return self._async(self._incrdecr_call(key, False, delta, namespace, initial_value), rpc)

    def decr(self, key, delta=1, namespace=None, initial_value=None):
        """Atomically decrements a key's unsigned value, flooring at 0; see incr()."""
        return self._incrdecr_call(key, True, delta, namespace, initial_value)(self._deadline)

    def decr_async(self, key, delta=1, namespace=None, initial_value=None, rpc=None):
        """Async version of decr()."""
        return self._async(self._incrdecr_call(key, True, delta, namespace, initial_value), rpc)

    def _incrdecr_call(self, key, is_negative, delta, namespace, initial_value):
        _check_delta(delta)
        if _is_key_collection(key):
            offset = -delta if is_negative else delta
            return self._offset_multi_call({k: offset for k in key}, "", namespace, initial_value)
        init = _check_initial_value(initial_value)
        ns = _wire.wire_namespace(namespace)
        path = _key_path(ns, _wire.wire_key(key)) + (":decr" if is_negative else ":incr")
        body = {"delta": int(delta)}
        if init is not None:
            body["initial_value"] = init

        def call(deadline):
            resp = self._request("POST", path, body, deadline, 404, 409)
            if resp is None or resp.status != 200:
                return None
            return _as_uint(resp.body.get("value"))

        return call

    def offset_multi(self, mapping, key_prefix="", namespace=None, initial_value=None):
        """Applies signed deltas to several keys in one request.

        Returns a dict of the caller's keys to new values, None for a key that was
        missing (without initial_value) or not a number, or for every key on error.
        """
        return self._offset_multi_call(mapping, key_prefix, namespace, initial_value)(self._deadline)

    def offset_multi_async(self, mapping, key_prefix="", namespace=None, initial_value=None, rpc=None):
        """Async version of offset_multi()."""
        return self._async(self._offset_multi_call(mapping, key_prefix, namespace, initial_value), rpc)

    def _offset_multi_call(self, mapping, key_prefix, namespace, initial_value):
        init = _check_initial_value(initial_value)
        ns = _wire.wire_namespace(namespace)
        offsets = {}
        wkeys = []  # (caller's key, wire key), in the mapping's order
        for key, delta in mapping.items():
            _check_offset(delta)
            wkey = _wire.wire_key(key, key_prefix)
            offsets[wkey] = int(delta)
            wkeys.append((key, wkey))

        def call(deadline):
            values = {}
            for chunk in _chunks([wkey for _, wkey in wkeys]):
                body = {"offsets": {wkey: offsets[wkey] for wkey in chunk}}
                if init is not None:
                    body["initial_value"] = init
                resp = self._request("POST", _batch_path(ns, "batchOffset"), body, deadline)
                if resp is not None:
                    values.update(resp.body.get("values") or {})
            return {key: _as_uint(values.get(wkey)) for key, wkey in wkeys}

        return call
