"""The memcache module: drop-in module-level functions over a shared client."""

import importlib
import os
import unittest
from unittest import mock

from memcached_http import memcache
from tests.server import Server

_server = None
_original_client = None


def setUpModule():
    global _server, _original_client
    _server = Server()
    _original_client = memcache._CLIENT
    memcache.setup_client(memcache.Client(url=_server.url))


def tearDownModule():
    memcache.setup_client(_original_client)
    _server.stop()


class ModuleFunctionTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(memcache.flush_all())

    def test_module_functions_cover_app_engine_operations(self):
        self.assertTrue(memcache.set("k", "v", time=60))
        self.assertFalse(memcache.add("k", "other"))
        self.assertTrue(memcache.replace("k", "new"))
        self.assertEqual("new", memcache.get("k"))
        self.assertEqual([], memcache.set_multi({"a": 1, "b": 2}, key_prefix="p:"))
        self.assertEqual(["a"], memcache.add_multi({"a": 5, "c": 3}, key_prefix="p:"))
        self.assertEqual(["z"], memcache.replace_multi({"b": 20, "z": 0}, key_prefix="p:"))
        self.assertEqual({"a": 1, "b": 20, "c": 3}, memcache.get_multi(["a", "b", "c"], key_prefix="p:"))
        self.assertEqual(2, memcache.incr("p:a"))
        self.assertEqual(19, memcache.decr("p:b"))
        self.assertEqual({"a": 12, "c": 0}, memcache.offset_multi({"a": 10, "c": -7}, key_prefix="p:"))
        self.assertEqual(memcache.DELETE_SUCCESSFUL, memcache.delete("k"))
        self.assertTrue(memcache.delete_multi(["a", "b"], key_prefix="p:"))
        self.assertEqual({"c": 0}, memcache.get_multi(["a", "b", "c"], key_prefix="p:"))
        self.assertEqual(1, memcache.get_stats()[memcache.STAT_ITEMS])
        self.assertIsNone(memcache.set_servers(["x:1"]))
        self.assertIsNone(memcache.disconnect_all())
        self.assertIsNone(memcache.forget_dead_hosts())
        self.assertIsNone(memcache.debuglog())

    def test_cas_and_async_methods_are_not_module_functions(self):
        for name in ("gets", "cas", "cas_multi", "get_multi_async", "set_multi_async", "incr_async"):
            with self.subTest(name):
                self.assertFalse(hasattr(memcache, name))

    def test_setup_client_rebinds_every_function(self):
        other = memcache.Client(url=_server.url)
        previous = memcache._CLIENT
        memcache.setup_client(other)
        try:
            for name in memcache._MODULE_FUNCTIONS:
                with self.subTest(name):
                    self.assertIs(other, getattr(memcache, name).__self__)
        finally:
            memcache.setup_client(previous)

    def test_app_engine_constants_keep_their_values(self):
        self.assertEqual((0, 1, 2), (memcache.DELETE_NETWORK_FAILURE, memcache.DELETE_ITEM_MISSING, memcache.DELETE_SUCCESSFUL))
        self.assertEqual((1, 2, 3, 4), (memcache.STORED, memcache.NOT_STORED, memcache.ERROR, memcache.EXISTS))
        self.assertEqual((250, 10**6), (memcache.MAX_KEY_SIZE, memcache.MAX_VALUE_SIZE))
        self.assertEqual(
            (0, 1, 2, 3, 4, 5),
            (memcache.TYPE_STR, memcache.TYPE_UNICODE, memcache.TYPE_PICKLED, memcache.TYPE_INT, memcache.TYPE_LONG, memcache.TYPE_BOOL),
        )
        self.assertEqual(
            ("hits", "misses", "byte_hits", "items", "bytes", "oldest_item_age"),
            (memcache.STAT_HITS, memcache.STAT_MISSES, memcache.STAT_BYTE_HITS, memcache.STAT_ITEMS, memcache.STAT_BYTES, memcache.STAT_OLDEST_ITEM_AGES),
        )


class ImportTest(unittest.TestCase):
    def test_the_shared_client_reads_the_environment_at_import(self):
        with mock.patch.dict(os.environ, {memcache.URL_ENV: _server.url}):
            fresh = importlib.reload(memcache)
        try:
            self.assertEqual(_server.url, fresh._CLIENT.url)
            self.assertTrue(fresh.set("k", "from env"))
            self.assertEqual("from env", fresh.get("k"))
        finally:
            fresh.setup_client(memcache.Client(url=_server.url))

    def test_the_package_exports_the_client(self):
        import memcached_http

        self.assertIs(memcache.Client, memcached_http.Client)
        self.assertIs(memcache.create_rpc, memcached_http.create_rpc)


if __name__ == "__main__":
    unittest.main()
