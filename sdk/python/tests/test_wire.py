"""Key and value mapping between Python and the wire, without a server."""

import hashlib
import pickle
import unittest

from memcached_http import _wire


def _pickle(value):
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


class WireKeyTest(unittest.TestCase):
    def test_keys_map_to_the_wire_key(self):
        long_key = "k" * 251
        cases = [
            ("a str key is sent as is", "user:42", "", "user:42"),
            ("a bytes key is decoded as UTF-8", "caf\u00e9".encode("utf-8"), "", "caf\u00e9"),
            ("a (hash, key) pair ignores the hash", (12345, "user:42"), "", "user:42"),
            ("key_prefix is prepended", "42", "user:", "user:42"),
            ("a bytes prefix joins a str key", "42", b"user:", "user:42"),
            ("exactly 250 bytes is kept", "k" * 250, "", "k" * 250),
            ("251 bytes is hashed", long_key, "", hashlib.sha1(long_key.encode()).hexdigest()),
            (
                "the prefix counts towards the limit and is hashed with the key",
                "k" * 240,
                "p" * 20,
                hashlib.sha1(b"p" * 20 + b"k" * 240).hexdigest(),
            ),
            (
                "250 bytes of multi-byte characters is measured in bytes",
                "\u00e9" * 126,
                "",
                hashlib.sha1(("\u00e9" * 126).encode()).hexdigest(),
            ),
            ("bytes that are not UTF-8 are hashed", b"\xff\xfe", "", hashlib.sha1(b"\xff\xfe").hexdigest()),
            (
                "a lone surrogate is hashed",
                "a\ud800",
                "",
                hashlib.sha1("a\ud800".encode("utf-8", "surrogatepass")).hexdigest(),
            ),
        ]
        for name, key, prefix, want in cases:
            with self.subTest(name):
                self.assertEqual(want, _wire.wire_key(key, prefix))

    def test_bogus_keys_raise_type_error(self):
        for bogus in (None, 42, 4.2, ["a"], {"a": 1}, (1, 2, 3), (1, 2)):
            with self.subTest(key=bogus), self.assertRaises(TypeError):
                _wire.wire_key(bogus)

    def test_a_bogus_prefix_raises_type_error(self):
        with self.assertRaises(TypeError):
            _wire.wire_key("a", 7)

    def test_an_empty_key_raises_value_error(self):
        for key in ("", b"", (1, "")):
            with self.subTest(key=key), self.assertRaises(ValueError):
                _wire.wire_key(key)

    def test_user_key_strips_the_hash_of_a_pair(self):
        self.assertEqual("k", _wire.user_key((7, "k")))
        self.assertEqual(b"k", _wire.user_key(b"k"))


class WireNamespaceTest(unittest.TestCase):
    def test_namespaces_map_to_their_wire_name(self):
        cases = [
            ("None is the manager's namespace, empty when none is set", None, "~"),
            ("the empty namespace is spelled ~", "", "~"),
            ("default is an ordinary name", "default", "default"),
            ("a valid name is kept", "tenant-1.eu_west", "tenant-1.eu_west"),
            ("bytes are decoded", b"tenant", "tenant"),
            ("100 characters is the longest", "n" * 100, "n" * 100),
        ]
        for name, namespace, want in cases:
            with self.subTest(name):
                self.assertEqual(want, _wire.wire_namespace(namespace))

    def test_invalid_namespaces_raise_value_error(self):
        for namespace in ("a/b", "sp ace", "\u00e9", "n" * 101, "~", "a\n"):
            with self.subTest(namespace=namespace), self.assertRaises(ValueError):
                _wire.wire_namespace(namespace)

    def test_a_non_string_namespace_raises_type_error(self):
        with self.assertRaises(TypeError):
            _wire.wire_namespace(3)


class WireValueTest(unittest.TestCase):
    def test_values_take_the_documented_wire_form(self):
        cases = [
            ("bytes travel as base64", b"\x00hi", {"value": "AGhp", "encoding": "base64", "flags": _wire.TYPE_STR}),
            ("str is a JSON string", "h\u00e9", {"value": "h\u00e9", "flags": _wire.TYPE_UNICODE}),
            ("bool is a JSON bool", True, {"value": True, "flags": _wire.TYPE_BOOL}),
            ("int is a JSON number", -5, {"value": -5, "flags": _wire.TYPE_INT}),
            ("2**64-1 is still a JSON number", 2**64 - 1, {"value": 2**64 - 1, "flags": _wire.TYPE_INT}),
            ("2**64 is a digit string", 2**64, {"value": str(2**64), "flags": _wire.TYPE_LONG}),
            ("below -2**63 is a digit string", -(2**63) - 1, {"value": str(-(2**63) - 1), "flags": _wire.TYPE_LONG}),
        ]
        for name, value, want in cases:
            with self.subTest(name):
                self.assertEqual(want, _wire.encode_value(value, _pickle))

    def test_other_objects_are_pickled(self):
        got = _wire.encode_value({"a": (1, 2)}, _pickle)
        self.assertEqual(_wire.TYPE_PICKLED, got["flags"])
        self.assertEqual("base64", got["encoding"])

    def test_values_round_trip_with_their_type(self):
        values = [b"", b"\xff\x00", "", "caf\u00e9 \U0001f600", "a\ud800b", 0, -1, 2**63, 2**64 - 1,
                  2**64, 10**40, -(10**40), True, False, None, 1.5, [1, "a"], (1, 2), {"k": {1, 2}}]
        for value in values:
            with self.subTest(value=value):
                got = _wire.decode_value(_wire.encode_value(value, _pickle), pickle.loads)
                self.assertEqual(value, got)
                self.assertIs(type(value), type(got))

    def test_values_over_app_engine_limit_raise_value_error(self):
        for value in (b"x" * (_wire.MAX_VALUE_SIZE + 1), "\u00e9" * (_wire.MAX_VALUE_SIZE // 2 + 1)):
            with self.subTest(size=len(value)), self.assertRaises(ValueError):
                _wire.encode_value(value, _pickle)

    def test_a_value_at_app_engine_limit_is_accepted(self):
        got = _wire.encode_value(b"x" * _wire.MAX_VALUE_SIZE, _pickle)
        self.assertEqual(_wire.TYPE_STR, got["flags"])

    def test_items_from_other_writers_decode_as_their_natural_value(self):
        cases = [
            ("a JSON object without flags", {"value": {"a": [1, 2.5]}, "flags": 0}, {"a": [1, 2.5]}),
            ("a JSON number without flags", {"value": 7, "flags": 0}, 7),
            ("bytes without flags", {"value": "aGk=", "encoding": "base64", "flags": 0}, b"hi"),
            ("a digit string flagged int", {"value": "12", "flags": _wire.TYPE_INT}, 12),
            ("digit bytes flagged int", {"value": "MTI=", "encoding": "base64", "flags": _wire.TYPE_INT}, 12),
            ("text flagged int stays text", {"value": "ab", "flags": _wire.TYPE_INT}, "ab"),
            ("digit bytes flagged bool", {"value": "MQ==", "encoding": "base64", "flags": _wire.TYPE_BOOL}, True),
            ("a number flagged bool", {"value": 0, "flags": _wire.TYPE_BOOL}, False),
            ("missing flags", {"value": "x"}, "x"),
        ]
        for name, item, want in cases:
            with self.subTest(name):
                got = _wire.decode_value(item, pickle.loads)
                self.assertEqual(want, got)
                self.assertIs(type(want), type(got))


if __name__ == "__main__":
    unittest.main()
