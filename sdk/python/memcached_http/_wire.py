"""Keys and values as the App Engine client saw them, mapped onto memcached-http's wire.

Keys: App Engine keys were byte strings; memcached-http keys are UTF-8 strings of at
most 250 bytes. A key that does not fit (too long, or bytes that are not UTF-8) is
replaced by the hex SHA-1 of key_prefix + key, as App Engine's client did for long
keys, so ported code keeps working.

Values: the item's flags record the Python type with App Engine's TYPE_* numbers, and
the wire form is chosen so that other languages read sensible JSON and the server's
incr/decr still work on counters stored by set:

    Python value              wire value                     flags
    bytes                     base64 bytes                   TYPE_STR
    str                       JSON string (base64 of its      TYPE_UNICODE
                              UTF-8 when escapes would take
                              it past the size limit)
    bool                      JSON true/false                TYPE_BOOL
    int in [-2**63, 2**64)    JSON number                    TYPE_INT
    any other int             JSON string of digits          TYPE_LONG
    anything else             base64 of its pickle           TYPE_PICKLED

Items written by other clients (flags without a matching wire form) decode as their
natural JSON value, or as bytes.
"""

import base64
import hashlib
import json
import re

from . import namespace_manager

MAX_KEY_SIZE = 250
MAX_VALUE_SIZE = 10 ** 6

FLAG_TYPE_MASK = 7
FLAG_COMPRESSED = 1 << 3

TYPE_STR = 0
TYPE_UNICODE = 1
TYPE_PICKLED = 2
TYPE_INT = 3
TYPE_LONG = 4
TYPE_BOOL = 5

# EMPTY_NAMESPACE is how the wire spells App Engine's empty namespace.
EMPTY_NAMESPACE = "~"

_INT_MIN = -(1 << 63)
_UINT_END = 1 << 64
_DIGITS_RE = re.compile(rb"[0-9]+\Z")


def is_pair(obj):
    """Reports whether obj is App Engine's (hash_value, key) pair."""
    return isinstance(obj, tuple) and len(obj) == 2


def user_key(key):
    """Returns the key a caller sees in results: a pair's second element, else key."""
    return key[1] if is_pair(key) else key


def _key_bytes(value, what):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # surrogatepass keeps lone surrogates distinct (they then fail UTF-8
        # decoding below and are hashed) instead of raising.
        return value.encode("utf-8", "surrogatepass")
    raise TypeError("%s must be a string instance, received %r" % (what, value))


def wire_key(key, key_prefix=""):
    """Returns the key sent to the server for a caller's key and key_prefix.

    Raises TypeError for a key that is not str, bytes or a (hash, key) pair, and
    ValueError for an empty key.
    """
    raw = _key_bytes(key_prefix, "key_prefix") + _key_bytes(user_key(key), "Key")
    if not raw:
        raise ValueError("Key must not be empty")
    if len(raw) <= MAX_KEY_SIZE:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return hashlib.sha1(raw).hexdigest()


def wire_namespace(namespace):
    """Returns the wire name of a namespace, read at call time.

    None is namespace_manager.get_namespace(); the empty namespace is sent as
    "~", a spelling no namespace name can have, so "" and "default" stay apart.
    Raises namespace_manager.BadValueError (a ValueError) for a bad name.
    """
    if namespace is None:
        namespace = namespace_manager.get_namespace()
    if isinstance(namespace, bytes):
        namespace = namespace.decode("ascii", "replace")
    if not isinstance(namespace, str):
        raise TypeError("namespace must be a string, received %r" % (namespace,))
    namespace_manager.validate_namespace(namespace)
    return namespace or EMPTY_NAMESPACE


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


def encode_value(value, do_pickle):
    """Returns the wire fields (value, encoding, flags) of a Python value.

    Raises ValueError when the stored form is larger than MAX_VALUE_SIZE bytes,
    as App Engine did, and whatever do_pickle raises for unpicklable values.
    """
    if isinstance(value, bytes):
        raw, flags = value, TYPE_STR
    elif isinstance(value, str):
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates have no JSON string form that survives a
            # round-trip, so they travel as bytes.
            raw = value.encode("utf-8", "surrogatepass")
        else:
            _check_size(len(raw))
            if len(raw) <= MAX_VALUE_SIZE // 6 or len(_json_text(value)) <= MAX_VALUE_SIZE:
                return {"value": value, "flags": TYPE_UNICODE}
            # The server measures a JSON value as sent, escapes included, so
            # text App Engine took (quotes, backslashes, control characters:
            # json.dumps output) could be refused as too large: it travels as
            # its UTF-8 bytes instead, and reads back as the same str.
        flags = TYPE_UNICODE
    elif isinstance(value, bool):
        return {"value": bool(value), "flags": TYPE_BOOL}
    elif isinstance(value, int):
        if _INT_MIN <= value < _UINT_END:
            return {"value": int(value), "flags": TYPE_INT}
        digits = str(int(value))
        _check_size(len(digits))
        return {"value": digits, "flags": TYPE_LONG}
    else:
        raw, flags = do_pickle(value), TYPE_PICKLED
    _check_size(len(raw))
    return {"value": _b64(raw), "encoding": "base64", "flags": flags}


def _json_text(value):
    """The JSON form of a str as the transport sends it (an escape is at most
    6 bytes, so text of up to MAX_VALUE_SIZE // 6 bytes never needs this)."""
    return json.dumps(value, ensure_ascii=False)


def _check_size(size):
    if size > MAX_VALUE_SIZE:
        raise ValueError(
            "Values may not be more than %d bytes in length; received %d bytes"
            % (MAX_VALUE_SIZE, size)
        )


def decode_value(item, do_unpickle):
    """Returns the Python value of a wire item (a dict with value, encoding, flags)."""
    value = item.get("value")
    kind = (item.get("flags") or 0) & FLAG_TYPE_MASK
    if item.get("encoding") == "base64":
        raw = base64.b64decode(value)
        if kind == TYPE_PICKLED:
            return do_unpickle(raw)
        if kind == TYPE_UNICODE:
            return raw.decode("utf-8", "surrogatepass")
        if kind in (TYPE_INT, TYPE_LONG) and _DIGITS_RE.match(raw):
            return int(raw)
        if kind == TYPE_BOOL and raw in (b"0", b"1"):
            return raw == b"1"
        return raw
    if kind in (TYPE_INT, TYPE_LONG):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            return int(value)
    if kind == TYPE_BOOL and isinstance(value, (bool, int)):
        return bool(value)
    return value
