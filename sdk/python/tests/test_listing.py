"""list_keys, iter_keys and list_namespaces against the real binary."""

import unittest

from memcached_http import memcache
from tests.server import Server

_server = None


def setUpModule():
    global _server
    _server = Server()


def tearDownModule():
    _server.stop()


class ListingTest(unittest.TestCase):
    def setUp(self):
        self.client = memcache.Client(url=_server.url)
        self.assertTrue(self.client.flush_all())

    def test_list_keys_pages_through_a_prefix_each_key_once(self):
        for i in range(12):
            self.assertTrue(self.client.set("user:%d" % i, i, namespace="py-list"))
        self.assertTrue(self.client.set("other", b"raw", namespace="py-list", time=60))
        seen, pages, cursor = [], 0, None
        while True:
            page = self.client.list_keys("user:", limit=5, cursor=cursor, namespace="py-list")
            self.assertIsNotNone(page)
            self.assertLessEqual(len(page["keys"]), 5)
            seen.extend(k["key"] for k in page["keys"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(sorted("user:%d" % i for i in range(12)), sorted(seen))
        self.assertGreaterEqual(pages, 3)
        every = {k["key"]: k for k in self.client.iter_keys(namespace="py-list")}
        self.assertEqual(13, len(every))
        self.assertIsNotNone(every["other"]["expires"])

    def test_list_namespaces_spells_the_empty_one_as_empty(self):
        self.assertTrue(self.client.set("a", 1))
        self.assertTrue(self.client.set("b", 1, namespace="default"))
        self.assertEqual([("", 1), ("default", 1)], self.client.list_namespaces())

    def test_bad_input(self):
        with self.assertRaises(ValueError):
            self.client.list_keys(limit=0)
        with self.assertLogs("memcached_http", level="WARNING"):
            self.assertIsNone(self.client.list_keys(cursor="nonsense"))
        # A failed page makes iter_keys raise instead of ending as if complete.
        client = memcache.Client(url=_server.url)
        client.list_keys = lambda *a, **k: None
        with self.assertRaises(RuntimeError):
            list(client.iter_keys())


if __name__ == "__main__":
    unittest.main()
