"""memcache.Client against the real memcached-http binary."""

import hashlib
import json
import os
import signal
import pickle
import threading
import time
import unittest
import urllib.parse
from collections import namedtuple

from memcached_http import memcache
from tests.server import Server

_server = None


def setUpModule():
    global _server
    _server = Server()


def tearDownModule():
    _server.stop()


Point = namedtuple("Point", "x y")


class Thing:
    """A user-defined class: pickled, and equal by value."""

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Thing) and other.name == self.name


def raw_item(key, namespace="~"):
    """Reads an item past the client, as another language would see it."""
    return _server.raw("GET", "/v1/ns/%s/keys/%s" % (namespace, urllib.parse.quote(key, safe="")))


class ServerTestCase(unittest.TestCase):
    """Starts every test on an empty cache with a fresh client."""

    def setUp(self):
        self.client = memcache.Client(url=_server.url)
        self.assertTrue(self.client.flush_all())


class GetSetTest(ServerTestCase):
    def test_values_come_back_as_the_type_that_went_in(self):
        cases = [
            ("str", "hello"),
            ("non-ASCII str", "caf\u00e9 \U0001f600"),
            ("empty str", ""),
            ("str with a lone surrogate", "a\ud800"),
            ("bytes", b"\x00\xff binary"),
            ("empty bytes", b""),
            ("zero", 0),
            ("negative int", -42),
            ("int above 2**63", 2**63 + 5),
            ("largest uint64", 2**64 - 1),
            ("int above 2**64", 2**64 + 1),
            ("huge negative int", -(10**30)),
            ("True", True),
            ("False", False),
            ("float", 2.5),
            ("None", None),
            ("list", [1, "two", 3.0]),
            ("tuple", (1, 2)),
            ("dict", {"a": {"b": [1, 2]}}),
            ("set", {1, 2, 3}),
            ("namedtuple", Point(1, 2)),
            ("user-defined object", Thing("widget")),
        ]
        for name, value in cases:
            with self.subTest(name):
                self.assertTrue(self.client.set("k", value))
                got = self.client.get("k")
                self.assertEqual(value, got)
                self.assertIs(type(value), type(got))

    def test_other_languages_see_plain_json(self):
        cases = [
            ("a str is a JSON string", "hi", {"value": "hi", "flags": memcache.TYPE_UNICODE}),
            ("an int is a JSON number", 2**64 - 1, {"value": 2**64 - 1, "flags": memcache.TYPE_INT}),
            ("a bool is a JSON bool", True, {"value": True, "flags": memcache.TYPE_BOOL}),
            ("bytes are base64", b"hi", {"value": "aGk=", "encoding": "base64", "flags": memcache.TYPE_STR}),
        ]
        for name, value, want in cases:
            with self.subTest(name):
                self.assertTrue(self.client.set("k", value))
                status, item = raw_item("k")
                self.assertEqual(200, status)
                self.assertEqual(want, {k: item[k] for k in want})

    def test_items_written_by_other_clients_read_as_their_json(self):
        status, _ = _server.raw("PUT", "/v1/ns/~/keys/doc", {"value": {"name": "Ada", "n": [1, 2]}})
        self.assertEqual(200, status)
        self.assertEqual({"name": "Ada", "n": [1, 2]}, self.client.get("doc"))

    def test_a_missing_key_reads_as_none(self):
        self.assertIsNone(self.client.get("missing"))

    def test_set_overwrites(self):
        self.assertTrue(self.client.set("k", "one"))
        self.assertTrue(self.client.set("k", "two"))
        self.assertEqual("two", self.client.get("k"))

    def test_add_stores_only_a_new_key(self):
        self.assertTrue(self.client.add("k", "first"))
        self.assertFalse(self.client.add("k", "second"))
        self.assertEqual("first", self.client.get("k"))

    def test_replace_stores_only_an_existing_key(self):
        self.assertFalse(self.client.replace("k", "v"))
        self.assertIsNone(self.client.get("k"))
        self.client.set("k", "old")
        self.assertTrue(self.client.replace("k", "new"))
        self.assertEqual("new", self.client.get("k"))

    def test_an_oversize_value_raises_and_keeps_the_old_value(self):
        self.client.set("k", "old")
        with self.assertRaises(ValueError):
            self.client.set("k", b"x" * (memcache.MAX_VALUE_SIZE + 1))
        self.assertEqual("old", self.client.get("k"))

    def test_a_value_the_server_finds_too_large_is_not_stored(self):
        # A server started with a value limit below App Engine's: 600,000
        # bytes pass the client's check and are refused by the server.
        small = Server("-max-value-size", "500000")
        self.addCleanup(small.stop)
        client = memcache.Client(url=small.url)
        client.set("k", "old")
        self.assertFalse(client.set("k", "x" * 600_000))
        self.assertEqual("old", client.get("k"))
        with self.assertLogs("memcached_http", "WARNING"):
            self.assertEqual(["k", "other"], sorted(client.set_multi({"k": b"x" * 600_000, "other": 1})))
        self.assertEqual({"k": "old"}, client.get_multi(["k", "other"]))

    def test_a_value_at_app_engine_limit_is_stored(self):
        value = b"x" * memcache.MAX_VALUE_SIZE
        self.assertTrue(self.client.set("k", value))
        self.assertEqual(value, self.client.get("k"))

    def test_bad_times_raise(self):
        cases = [
            ("a negative time", -1, ValueError),
            ("an infinite time", float("inf"), ValueError),
            ("a time after year 9999", 10**12, ValueError),
            ("a string time", "60", TypeError),
        ]
        for name, when, error in cases:
            with self.subTest(name), self.assertRaises(error):
                self.client.set("k", "v", time=when)

    def test_min_compress_len_is_accepted_and_ignored(self):
        self.assertTrue(self.client.set("k", "v", min_compress_len=10))
        self.assertEqual("v", self.client.get("k"))


class KeyTest(ServerTestCase):
    def test_keys_with_url_syntax_round_trip_through_every_operation(self):
        keys = ["a/b", "user:42", "100%", "what?", "#hash", "two words", "caf\u00e9", "ends:incr", "%3A", "..", "."]
        for key in keys:
            with self.subTest(key=key):
                self.assertTrue(self.client.set(key, "1"))
                self.assertEqual("1", self.client.get(key))
                self.assertEqual(2, self.client.incr(key))
                self.assertEqual({key: "2"}, self.client.get_multi([key]))
                self.assertEqual(memcache.DELETE_SUCCESSFUL, self.client.delete(key))
                self.assertIsNone(self.client.get(key))

    def test_str_bytes_and_pair_keys_name_the_same_item(self):
        self.client.set("k\u00e9", "v")
        self.assertEqual("v", self.client.get("k\u00e9".encode("utf-8")))
        self.assertEqual("v", self.client.get((99, "k\u00e9")))

    def test_a_key_over_250_bytes_is_stored_under_its_sha1(self):
        key = "k" * 300
        self.assertTrue(self.client.set(key, "long"))
        self.assertEqual("long", self.client.get(key))
        status, item = raw_item(hashlib.sha1(key.encode()).hexdigest())
        self.assertEqual(200, status)
        self.assertEqual("long", item["value"])

    def test_key_prefix_is_hashed_with_a_long_key(self):
        key = "k" * 245  # 252 bytes with the prefix
        self.assertEqual([], self.client.set_multi({key: "v"}, key_prefix="prefix:"))
        self.assertEqual({key: "v"}, self.client.get_multi([key], key_prefix="prefix:"))
        status, _ = raw_item(hashlib.sha1(b"prefix:" + key.encode()).hexdigest())
        self.assertEqual(200, status)

    def test_a_binary_key_is_stored_under_its_sha1(self):
        key = b"\xff\x00\xfe"
        self.assertTrue(self.client.set(key, "bin"))
        self.assertEqual("bin", self.client.get(key))
        status, _ = raw_item(hashlib.sha1(key).hexdigest())
        self.assertEqual(200, status)

    def test_bogus_keys_raise_type_error_from_every_method(self):
        calls = [
            ("get", lambda: self.client.get(42)),
            ("set", lambda: self.client.set(None, "v")),
            ("add", lambda: self.client.add(4.2, "v")),
            ("delete", lambda: self.client.delete(["k"])),
            ("get_multi", lambda: self.client.get_multi([1])),
            ("set_multi", lambda: self.client.set_multi({1: "v"})),
            ("incr", lambda: self.client.incr(3)),
            ("offset_multi", lambda: self.client.offset_multi({2: 1})),
            ("key_prefix", lambda: self.client.get_multi(["k"], key_prefix=1)),
        ]
        for name, call in calls:
            with self.subTest(name), self.assertRaises(TypeError):
                call()


class NamespaceTest(ServerTestCase):
    def test_the_same_key_in_two_namespaces_is_two_items(self):
        self.client.set("k", "a", namespace="alpha")
        self.client.set("k", "b", namespace="beta")
        self.assertEqual("a", self.client.get("k", namespace="alpha"))
        self.assertEqual("b", self.client.get("k", namespace="beta"))
        self.assertIsNone(self.client.get("k"))
        self.assertEqual(memcache.DELETE_SUCCESSFUL, self.client.delete("k", namespace="alpha"))
        self.assertEqual("b", self.client.get("k", namespace="beta"))

    def test_none_and_empty_are_the_empty_namespace_not_default(self):
        self.client.set("k", "v", namespace="")
        self.assertEqual("v", self.client.get("k"))
        self.assertIsNone(self.client.get("k", namespace="default"))
        status, _ = raw_item("k", "~")
        self.assertEqual(200, status)
        status, _ = raw_item("k", "default")
        self.assertEqual(404, status)

    def test_multi_and_counter_calls_honour_the_namespace(self):
        self.assertEqual([], self.client.set_multi({"a": 1, "b": 2}, namespace="ns1"))
        self.assertEqual({}, self.client.get_multi(["a", "b"]))
        self.assertEqual({"a": 1, "b": 2}, self.client.get_multi(["a", "b"], namespace="ns1"))
        self.assertEqual({"a": 11, "b": 12}, self.client.offset_multi({"a": 10, "b": 10}, namespace="ns1"))
        self.assertEqual(13, self.client.incr("b", namespace="ns1"))
        self.assertTrue(self.client.delete_multi(["a"], namespace="ns1"))
        self.assertEqual({"b": 13}, self.client.get_multi(["a", "b"], namespace="ns1"))

    def test_an_invalid_namespace_raises_value_error(self):
        with self.assertRaises(ValueError):
            self.client.get("k", namespace="no/slash")


class ExpiryTest(ServerTestCase):
    def test_an_absolute_time_in_the_past_stores_an_expired_item(self):
        self.assertTrue(self.client.set("k", "v", time=1_000_000_000))
        self.assertIsNone(self.client.get("k"))
        self.assertTrue(self.client.add("k", "fresh"), "an expired item behaves as missing for add")
        self.assertEqual("fresh", self.client.get("k"))

    def test_a_relative_time_is_reported_as_an_absolute_expiry(self):
        before = time.time()
        self.assertTrue(self.client.set("k", "v", time=3600))
        _, item = raw_item("k")
        self.assertGreaterEqual(item["expires"], before + 3600)
        self.assertLessEqual(item["expires"], time.time() + 3601)

    def test_a_fractional_time_rounds_up(self):
        before = time.time()
        self.assertTrue(self.client.set("k", "v", time=0.2))
        _, item = raw_item("k")
        self.assertGreaterEqual(item["expires"], before + 0.2)
        self.assertLessEqual(item["expires"], time.time() + 2)

    def test_time_zero_never_expires(self):
        self.client.set("k", "v", time=0)
        _, item = raw_item("k")
        self.assertIsNone(item["expires"])

    def test_a_relative_time_expires_the_item(self):
        # An item lives at least its time: one with minutes to live is there
        # right after the set, however slow the machine.
        self.assertTrue(self.client.set("long", "v", time=600))
        self.assertEqual("v", self.client.get("long"))
        # A one-second item expires one or two seconds on (ceil(now + 1)),
        # and is gone once the clock, which the server shares, passes that.
        before = time.time()
        self.assertTrue(self.client.set("k", "v", time=1))
        _, item = raw_item("k")
        expires = item["expires"]
        self.assertGreaterEqual(expires, before + 1)
        self.assertLessEqual(expires, time.time() + 2)
        time.sleep(max(0.0, expires - time.time()) + 0.05)
        self.assertIsNone(self.client.get("k"))
        self.assertEqual("v", self.client.get("long"))

    def test_multi_writes_apply_time_to_every_key(self):
        self.assertEqual([], self.client.set_multi({"a": 1, "b": 2}, time=1_000_000_000))
        self.assertEqual({}, self.client.get_multi(["a", "b"]))


class DeleteTest(ServerTestCase):
    def test_delete_reports_whether_an_item_was_removed(self):
        self.client.set("k", "v")
        self.assertEqual(memcache.DELETE_SUCCESSFUL, self.client.delete("k"))
        self.assertEqual(memcache.DELETE_ITEM_MISSING, self.client.delete("k"))
        self.assertIsNone(self.client.get("k"))

    def test_a_delete_lock_blocks_add_replace_and_cas_but_not_set(self):
        self.client.set("k", "v")
        self.assertEqual("v", self.client.gets("k"))
        self.assertEqual(memcache.DELETE_SUCCESSFUL, self.client.delete("k", seconds=60))
        self.assertIsNone(self.client.get("k"))
        self.assertFalse(self.client.add("k", "added"))
        self.assertFalse(self.client.replace("k", "replaced"))
        self.assertFalse(self.client.cas("k", "cas"))
        self.assertIsNone(self.client.incr("k"))
        self.assertEqual(5, self.client.incr("k", initial_value=4), "initial_value creates over a lock")
        self.assertTrue(self.client.set("k", "set"))
        self.assertEqual("set", self.client.get("k"))

    def test_set_clears_a_delete_lock(self):
        self.client.set("k", "v")
        self.client.delete("k", seconds=60)
        self.client.set("k", "again")
        self.client.delete("k")
        self.assertTrue(self.client.add("k", "added"))

    def test_deleting_a_missing_key_with_seconds_locks_nothing(self):
        self.assertEqual(memcache.DELETE_ITEM_MISSING, self.client.delete("k", seconds=60))
        self.assertTrue(self.client.add("k", "v"))

    def test_an_absolute_lock_time_in_the_past_locks_nothing(self):
        self.client.set("k", "v")
        self.assertEqual(memcache.DELETE_SUCCESSFUL, self.client.delete("k", seconds=1_000_000_000))
        self.assertTrue(self.client.add("k", "v"))

    def test_delete_multi_removes_every_key_with_the_prefix(self):
        self.client.set_multi({"a": 1, "b": 2, "c": 3}, key_prefix="p:")
        self.assertTrue(self.client.delete_multi(["a", "b", "missing"], key_prefix="p:"))
        self.assertEqual({"c": 3}, self.client.get_multi(["a", "b", "c"], key_prefix="p:"))

    def test_delete_multi_with_seconds_locks_the_keys(self):
        self.client.set_multi({"a": 1, "b": 2})
        self.assertTrue(self.client.delete_multi(["a", "b"], seconds=60))
        self.assertEqual(["a", "b"], sorted(self.client.add_multi({"a": 1, "b": 2})))

    def test_delete_multi_of_no_keys_succeeds(self):
        self.assertTrue(self.client.delete_multi([]))

    def test_bad_delete_timeouts_raise(self):
        with self.assertRaises(ValueError):
            self.client.delete("k", seconds=-1)
        with self.assertRaises(TypeError):
            self.client.delete_multi(["k"], seconds="1")


class CounterTest(ServerTestCase):
    def test_incr_and_decr_keep_the_stored_type(self):
        cases = [
            ("an int", 10, 11, 10),
            ("a digit str", "10", "11", "10"),
            ("digit bytes", b"10", b"11", b"10"),
            ("leading zeros", "007", "8", "7"),
        ]
        for name, start, after_incr, after_decr in cases:
            with self.subTest(name):
                self.client.set("n", start)
                self.assertEqual(int(after_incr), self.client.incr("n"))
                self.assertEqual(after_incr, self.client.get("n"))
                self.assertEqual(int(after_decr), self.client.decr("n"))
                self.assertEqual(after_decr, self.client.get("n"))

    def test_counters_wrap_and_floor(self):
        self.client.set("n", 2**64 - 1)
        self.assertEqual(1, self.client.incr("n", 2))
        self.assertEqual(0, self.client.decr("n", 5))
        self.assertEqual(0, self.client.get("n"))

    def test_a_missing_key_is_created_only_with_initial_value(self):
        self.assertIsNone(self.client.incr("n"))
        self.assertIsNone(self.client.get("n"))
        self.assertEqual(15, self.client.incr("n", delta=5, initial_value=10))
        self.assertEqual(15, self.client.get("n"))
        self.assertEqual(7, self.client.decr("m", delta=3, initial_value=10))

    def test_values_that_are_not_numbers_are_not_incremented(self):
        for value in ("text", -1, 1.5, {"n": 1}, True):
            with self.subTest(value=value):
                self.client.set("n", value)
                self.assertIsNone(self.client.incr("n"))
                self.assertEqual(value, self.client.get("n"))

    def test_incr_on_a_list_of_keys_returns_a_dict(self):
        self.client.set_multi({"a": 1, "b": 10})
        self.assertEqual({"a": 3, "b": 12, "c": None}, self.client.incr(["a", "b", "c"], delta=2))
        self.assertEqual({"a": 2, "b": 11}, self.client.decr(("a", "b")))
        self.assertEqual({"c": 100}, self.client.incr(["c"], initial_value=99))

    def test_a_pair_with_an_int_hash_is_one_key(self):
        self.client.set("a", 1)
        self.assertEqual(2, self.client.incr((7, "a")))

    def test_offset_multi_applies_signed_deltas(self):
        self.client.set_multi({"a": 10, "b": 10}, key_prefix="c:")
        got = self.client.offset_multi({"a": 5, "b": -3, "c": 1}, key_prefix="c:")
        self.assertEqual({"a": 15, "b": 7, "c": None}, got)
        got = self.client.offset_multi({"c": -1, "d": 4}, key_prefix="c:", initial_value=10)
        self.assertEqual({"c": 9, "d": 14}, got)

    def test_bad_deltas_raise(self):
        cases = [
            ("a negative incr delta", lambda: self.client.incr("n", -1), ValueError),
            ("a negative decr delta", lambda: self.client.decr("n", -1), ValueError),
            ("a delta of 2**64", lambda: self.client.incr("n", 2**64), ValueError),
            ("a float delta", lambda: self.client.incr("n", 1.0), TypeError),
            ("a negative initial_value", lambda: self.client.incr("n", initial_value=-1), ValueError),
            ("a str initial_value", lambda: self.client.incr("n", initial_value="1"), TypeError),
            ("an offset beyond int64", lambda: self.client.offset_multi({"n": 2**63}), ValueError),
            ("a str offset", lambda: self.client.offset_multi({"n": "1"}), TypeError),
        ]
        for name, call, error in cases:
            with self.subTest(name), self.assertRaises(error):
                call()

    def test_incr_changes_the_cas_id(self):
        self.client.set("n", 1)
        self.client.gets("n")
        self.assertEqual(2, self.client.incr("n"))
        self.assertFalse(self.client.cas("n", 100), "a stale id must not overwrite the increment")
        self.assertEqual(2, self.client.get("n"))


class MultiTest(ServerTestCase):
    def test_set_multi_stores_every_key(self):
        mapping = {"a": 1, "b": "two", "c": b"three", (5, "d"): [4]}
        self.assertEqual([], self.client.set_multi(mapping))
        self.assertEqual({"a": 1, "b": "two", "c": b"three", "d": [4]}, self.client.get_multi(["a", "b", "c", (5, "d")]))

    def test_get_multi_leaves_out_misses_and_the_prefix(self):
        self.client.set_multi({"a": 1, "b": 2}, key_prefix="user:")
        self.assertEqual({"a": 1, "b": 2}, self.client.get_multi(["a", "b", "missing"], key_prefix="user:"))
        self.assertEqual(1, self.client.get("user:a"))

    def test_add_multi_returns_the_keys_that_existed(self):
        self.client.set("a", "old")
        self.assertEqual(["a"], self.client.add_multi({"a": "new", "b": "new"}))
        self.assertEqual({"a": "old", "b": "new"}, self.client.get_multi(["a", "b"]))

    def test_replace_multi_returns_the_keys_that_were_missing(self):
        self.client.set("a", "old")
        self.assertEqual(["b"], self.client.replace_multi({"a": "new", "b": "new"}))
        self.assertEqual({"a": "new"}, self.client.get_multi(["a", "b"]))

    def test_empty_batches_need_no_request(self):
        self.assertEqual([], self.client.set_multi({}))
        self.assertEqual({}, self.client.get_multi([]))
        self.assertEqual({}, self.client.offset_multi({}))

    def test_an_oversize_value_in_a_batch_raises_and_stores_nothing(self):
        with self.assertRaises(ValueError):
            self.client.set_multi({"a": 1, "b": b"x" * (memcache.MAX_VALUE_SIZE + 1)})
        self.assertEqual({}, self.client.get_multi(["a", "b"]))


class CasTest(ServerTestCase):
    def test_cas_stores_after_gets(self):
        self.client.set("k", 1)
        self.assertEqual(1, self.client.gets("k"))
        self.assertTrue(self.client.cas("k", 2))
        self.assertEqual(2, self.client.get("k"))

    def test_the_first_of_two_racing_clients_wins(self):
        first = memcache.Client(url=_server.url)
        second = memcache.Client(url=_server.url)
        self.client.set("counter", 0)
        self.assertEqual(0, first.gets("counter"))
        self.assertEqual(0, second.gets("counter"))
        self.assertTrue(first.cas("counter", 1))
        self.assertFalse(second.cas("counter", 1))
        self.assertEqual(1, self.client.get("counter"))

    def test_cas_without_a_fetched_id_fails(self):
        self.client.set("k", 1)
        self.assertFalse(self.client.cas("k", 2))
        self.assertEqual(1, self.client.get("k"))

    def test_get_for_cas_remembers_the_id(self):
        self.client.set("k", 1)
        self.client.get("k", for_cas=True)
        self.assertTrue(self.client.cas("k", 2))

    def test_a_plain_get_remembers_nothing(self):
        self.client.set("k", 1)
        self.client.get("k")
        self.assertFalse(self.client.cas("k", 2))

    def test_a_stale_id_fails_after_any_write(self):
        self.client.set("k", 1)
        self.client.gets("k")
        self.assertTrue(self.client.cas("k", 2))
        self.assertFalse(self.client.cas("k", 3), "the remembered id is the one fetched, now stale")

    def test_cas_on_a_deleted_item_fails(self):
        self.client.set("k", 1)
        self.client.gets("k")
        self.client.delete("k")
        self.assertFalse(self.client.cas("k", 2))
        self.assertIsNone(self.client.get("k"))

    def test_cas_reset_forgets_the_ids(self):
        self.client.set("k", 1)
        self.client.gets("k")
        self.client.cas_reset()
        self.assertFalse(self.client.cas("k", 2))

    def test_ids_are_remembered_per_namespace(self):
        self.client.set("k", "a", namespace="one")
        self.client.set("k", "b", namespace="two")
        self.client.gets("k", namespace="one")
        self.assertFalse(self.client.cas("k", "x", namespace="two"))
        self.assertTrue(self.client.cas("k", "x", namespace="one"))

    def test_cas_multi_stores_the_unchanged_keys(self):
        self.client.set_multi({"a": 1, "b": 1, "c": 1}, key_prefix="p:")
        self.assertEqual({"a": 1, "b": 1}, self.client.get_multi(["a", "b"], key_prefix="p:", for_cas=True))
        self.client.set("p:b", 5)
        not_set = self.client.cas_multi({"a": 2, "b": 2, "c": 2}, key_prefix="p:")
        self.assertEqual(["b", "c"], sorted(not_set))
        self.assertEqual({"a": 2, "b": 5, "c": 1}, self.client.get_multi(["a", "b", "c"], key_prefix="p:"))

    def test_cas_with_a_long_key_uses_the_hashed_key(self):
        key = "k" * 300
        self.client.set(key, 1)
        self.client.gets(key)
        self.assertTrue(self.client.cas(key, 2))
        self.assertEqual(2, self.client.get(key))

    def test_concurrent_cas_from_many_clients_loses_no_update(self):
        self.client.set("n", 0)
        workers, rounds = 4, 10

        def bump():
            client = memcache.Client(url=_server.url)
            for _ in range(rounds):
                while True:
                    value = client.gets("n")
                    if client.cas("n", value + 1):
                        break

        threads = [threading.Thread(target=bump) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(workers * rounds, self.client.get("n"))


    def test_one_client_shared_by_threads_keeps_each_keys_cas_id(self):
        keys = ["k%d" % i for i in range(6)]
        self.client.set_multi({k: 0 for k in keys})
        failures = []

        def bump(key):
            for _ in range(20):
                value = self.client.gets(key)
                if not self.client.cas(key, value + 1):
                    failures.append(key)

        threads = [threading.Thread(target=bump, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], failures, "no other key's gets may disturb a key's CAS id")
        self.assertEqual({k: 20 for k in keys}, self.client.get_multi(keys))


class AsyncTest(ServerTestCase):
    def test_async_methods_give_the_documented_results(self):
        c = self.client
        self.assertEqual({"a": memcache.STORED, "b": memcache.STORED}, c.set_multi_async({"a": 1, "b": 2}).get_result())
        self.assertEqual({"a": memcache.NOT_STORED, "n": memcache.STORED}, c.add_multi_async({"a": 9, "n": 3}).get_result())
        self.assertEqual({"a": memcache.STORED, "z": memcache.NOT_STORED}, c.replace_multi_async({"a": 5, "z": 1}).get_result())
        self.assertEqual({"a": 5, "b": 2}, c.get_multi_async(["a", "b", "z"], for_cas=True).get_result())
        c.set("b", 7)
        self.assertEqual({"a": memcache.STORED, "b": memcache.EXISTS}, c.cas_multi_async({"a": 6, "b": 8}).get_result())
        self.assertEqual(7, c.incr_async("a").get_result())
        self.assertEqual(6, c.decr_async("a").get_result())
        self.assertEqual({"a": 7, "b": 8}, c.incr_async(["a", "b"]).get_result())
        self.assertEqual({"a": 5, "z": None}, c.offset_multi_async({"a": -2, "z": 1}).get_result())
        stats = c.get_stats_async().get_result()
        self.assertEqual(3, stats[memcache.STAT_ITEMS])
        self.assertEqual(
            [memcache.DELETE_SUCCESSFUL, memcache.DELETE_ITEM_MISSING],
            c.delete_multi_async(["a", "z"]).get_result(),
        )
        self.assertTrue(c.flush_all_async().get_result())
        self.assertEqual({}, c.get_multi(["b", "n"]))

    def test_async_calls_run_concurrently_with_the_caller(self):
        rpcs = [self.client.set_multi_async({"k%d" % i: i}) for i in range(20)]
        self.assertEqual([{"k%d" % i: memcache.STORED} for i in range(20)], [r.get_result() for r in rpcs])
        self.assertEqual(20, self.client.get_stats()[memcache.STAT_ITEMS])

    def test_bad_arguments_raise_before_the_call_starts(self):
        with self.assertRaises(TypeError):
            self.client.get_multi_async([object()])
        with self.assertRaises(ValueError):
            self.client.incr_async("k", -1)

    def test_create_rpc_runs_the_callback_once(self):
        calls = []
        rpc = memcache.create_rpc(deadline=2, callback=lambda: calls.append(1))
        self.assertIs(rpc, self.client.set_multi_async({"a": 1}, rpc=rpc))
        self.assertEqual({"a": memcache.STORED}, rpc.get_result())
        rpc.wait()
        self.assertEqual([1], calls)

    def test_an_rpc_carries_one_call(self):
        rpc = memcache.create_rpc()
        self.client.flush_all_async(rpc=rpc)
        with self.assertRaises(ValueError):
            self.client.flush_all_async(rpc=rpc)
        self.assertTrue(rpc.get_result())

    def test_waiting_on_an_unused_rpc_raises(self):
        with self.assertRaises(ValueError):
            memcache.create_rpc().get_result()


class StatsTest(ServerTestCase):
    def test_stats_count_hits_misses_and_items(self):
        self.client.set("a", "12345")
        self.assertEqual("12345", self.client.get("a"))
        self.assertIsNone(self.client.get("missing"))
        self.client.get_multi(["a", "b"])
        stats = self.client.get_stats()
        self.assertEqual(
            {
                memcache.STAT_HITS: 2,
                memcache.STAT_MISSES: 2,
                memcache.STAT_ITEMS: 1,
            },
            {k: stats[k] for k in (memcache.STAT_HITS, memcache.STAT_MISSES, memcache.STAT_ITEMS)},
        )
        self.assertGreater(stats[memcache.STAT_BYTES], 0)
        self.assertGreater(stats[memcache.STAT_BYTE_HITS], 0)
        self.assertGreaterEqual(stats[memcache.STAT_OLDEST_ITEM_AGES], 0)

    def test_flush_all_empties_every_namespace_and_resets_stats(self):
        self.client.set("a", 1)
        self.client.set("a", 1, namespace="other")
        self.client.get("a")
        self.assertTrue(self.client.flush_all())
        self.assertIsNone(self.client.get("a", namespace="other"))
        stats = self.client.get_stats()
        self.assertEqual(0, stats[memcache.STAT_ITEMS])
        self.assertEqual(0, stats[memcache.STAT_HITS])


class CompatibilityTest(ServerTestCase):
    def test_app_engine_constructor_arguments_are_accepted(self):
        client = memcache.Client(["127.0.0.1:11211"], 1, 2, url=_server.url, make_sync_call=object())
        self.assertTrue(client.set("k", {"v": 1}))
        self.assertEqual({"v": 1}, client.get("k"))

    def test_no_op_methods_return_none_and_leave_the_client_working(self):
        self.client.set("k", "v")
        self.assertIsNone(self.client.set_servers(["a:1"]))
        self.assertIsNone(self.client.forget_dead_hosts())
        self.assertIsNone(self.client.debuglog())
        self.assertIsNone(self.client.disconnect_all())
        self.assertEqual("v", self.client.get("k"))

    def test_pid_and_pload_persist_objects_by_id(self):
        registry = {"db-conn": object()}

        def pid(obj):
            for name, known in registry.items():
                if obj is known:
                    return name
            return None

        client = memcache.Client(url=_server.url, pid=pid, pload=registry.__getitem__)
        self.assertTrue(client.set("k", {"conn": registry["db-conn"]}))
        self.assertIs(registry["db-conn"], client.get("k")["conn"])

    def test_custom_pickler_and_protocol_are_used(self):
        used = []

        class RecordingPickler(pickle.Pickler):
            def __init__(self, file, protocol=None):
                used.append(protocol)
                super().__init__(file, protocol=protocol)

        client = memcache.Client(pickleProtocol=2, pickler=RecordingPickler, url=_server.url)
        client.set("k", [1])
        self.assertEqual([2], used)
        self.assertEqual([1], client.get("k"))

    def test_concurrent_incr_from_many_threads_counts_every_call(self):
        self.client.set("n", 0)
        threads = [
            threading.Thread(target=lambda: [self.client.incr("n") for _ in range(25)]) for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(200, self.client.get("n"))


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
class ForkTest(ServerTestCase):
    """Worker processes forked after the client connected (gunicorn --preload,
    multiprocessing) must not share the parent's connection: each would read
    answers meant for another."""

    def test_children_forked_after_use_read_their_own_answers(self):
        for i in range(2):
            self.assertTrue(self.client.set("child%d" % i, "value-of-child%d" % i))
        self.assertEqual(self.client.get("child0"), "value-of-child0")  # the parent is connected
        pids = []
        for i in range(2):
            pid = os.fork()
            if pid == 0:
                signal.alarm(30)  # a child that hangs (an async call on the parent's pool) dies
                code = 0
                try:
                    for _ in range(300):
                        if self.client.get("child%d" % i) != "value-of-child%d" % i:
                            code = 1
                            break
                    rpc = self.client.get_multi_async(["child%d" % i])
                    if rpc.get_result() != {"child%d" % i: "value-of-child%d" % i}:
                        code = 2
                finally:
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0,
                             "a child read another process's answer (1) or its async call failed (2)")
        self.assertEqual(self.client.get("child1"), "value-of-child1", "the parent's connection still works")


class EscapedTextTest(ServerTestCase):
    """Text App Engine accepted (at most 1,000,000 bytes of UTF-8) is stored even
    when its JSON form, escapes included, is past the server's limit."""

    def test_text_full_of_escapes_is_stored_and_reads_back(self):
        cases = {
            "quotes": '"' * 600000,
            "control characters": "\x01" * 200000,
            "json.dumps output": json.dumps(["a\"b\\c\n"] * 90000)[:999990],
        }
        for name, text in cases.items():
            with self.subTest(name):
                self.assertLessEqual(len(text.encode("utf-8")), 1000000)
                self.assertTrue(self.client.set("k", text))
                self.assertEqual(self.client.get("k"), text)
        self.assertEqual(self.client.set_multi({"q": '"' * 600000, "small": 1}), [])
        self.assertEqual(self.client.get_multi(["q", "small"]), {"q": '"' * 600000, "small": 1})


class LargeBatchTest(ServerTestCase):
    """App Engine's batch calls took any number of keys; the server takes at most
    -max-batch-keys (10,000) per request, so the client splits larger calls."""

    def test_batches_past_the_server_key_limit(self):
        n = 10_001
        mapping = {"k%d" % i: i for i in range(n)}
        self.assertEqual(self.client.set_multi(mapping), [])
        got = self.client.get_multi(list(mapping))
        self.assertEqual(len(got), n)
        self.assertEqual(got["k10000"], 10000)
        offsets = self.client.offset_multi({"k%d" % i: 1 for i in range(n)})
        self.assertEqual(offsets["k0"], 1)
        self.assertEqual(offsets["k10000"], 10001)
        self.assertTrue(self.client.delete_multi(list(mapping)))
        self.assertEqual(self.client.get_multi(["k0", "k5000", "k10000"]), {})
