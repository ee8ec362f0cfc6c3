"""Network failures, deadlines and the transport, against stand-in HTTP servers.

Cache behaviour is tested against the real binary in test_client.py; these tests
need servers that misbehave on purpose.
"""

import http.server
import json
import os
import socket
import threading
import time
import unittest
from unittest import mock

from memcached_http import memcache
from tests.server import free_port


class _StandIn(http.server.ThreadingHTTPServer):
    """A loopback HTTP server whose handler answers with a fixed status and body,
    recording every request's method, path and headers."""

    daemon_threads = True

    def __init__(self, status=200, body=None, handler=None):
        self.status = status
        self.body = body if body is not None else {}
        self.close_after_response = False
        self.requests = []
        super().__init__(("127.0.0.1", 0), handler or _Handler)
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self._thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers), body, self.client_address))
        payload = json.dumps(self.server.body).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        # Closing without "Connection: close" is what a server's idle timeout
        # looks like to a client that keeps the connection for its next request.
        self.close_connection = self.server.close_after_response

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


def _every_method(client):
    """Calls every seed method; returns name -> result (async ones via get_result)."""
    return {
        "get": client.get("k"),
        "gets": client.gets("k"),
        "get_multi": client.get_multi(["a", "b"]),
        "set": client.set("k", "v"),
        "add": client.add("k", "v"),
        "replace": client.replace("k", "v"),
        "cas": client.cas("k", "v"),
        "set_multi": sorted(client.set_multi({"a": 1, "b": 2})),
        "add_multi": sorted(client.add_multi({"a": 1, "b": 2})),
        "replace_multi": sorted(client.replace_multi({"a": 1, "b": 2})),
        "cas_multi": sorted(client.cas_multi({"a": 1, "b": 2})),
        "delete": client.delete("k"),
        "delete_multi": client.delete_multi(["a"]),
        "incr": client.incr("k"),
        "decr": client.decr("k"),
        "incr list": client.incr(["a", "b"]),
        "offset_multi": client.offset_multi({"a": 1, "b": -1}),
        "flush_all": client.flush_all(),
        "get_stats": client.get_stats(),
        "get_multi_async": client.get_multi_async(["a"]).get_result(),
        "set_multi_async": client.set_multi_async({"a": 1}).get_result(),
        "add_multi_async": client.add_multi_async({"a": 1}).get_result(),
        "replace_multi_async": client.replace_multi_async({"a": 1}).get_result(),
        "cas_multi_async": client.cas_multi_async({"a": 1}).get_result(),
        "delete_multi_async": client.delete_multi_async(["a"]).get_result(),
        "incr_async": client.incr_async("k").get_result(),
        "decr_async": client.decr_async("k").get_result(),
        "offset_multi_async": client.offset_multi_async({"a": 1}).get_result(),
        "get_stats_async": client.get_stats_async().get_result(),
        "flush_all_async": client.flush_all_async().get_result(),
    }


# The seed's results when the service cannot be reached.
_FAILURE_RESULTS = {
    "get": None,
    "gets": None,
    "get_multi": {},
    "set": False,
    "add": False,
    "replace": False,
    "cas": False,
    "set_multi": ["a", "b"],
    "add_multi": ["a", "b"],
    "replace_multi": ["a", "b"],
    "cas_multi": ["a", "b"],
    "delete": memcache.DELETE_NETWORK_FAILURE,
    "delete_multi": False,
    "incr": None,
    "decr": None,
    "incr list": {"a": None, "b": None},
    "offset_multi": {"a": None, "b": None},
    "flush_all": False,
    "get_stats": None,
    "get_multi_async": {},
    "set_multi_async": None,
    "add_multi_async": None,
    "replace_multi_async": None,
    "cas_multi_async": {"a": memcache.NOT_STORED},
    "delete_multi_async": None,
    "incr_async": None,
    "decr_async": None,
    "offset_multi_async": {"a": None},
    "get_stats_async": None,
    "flush_all_async": False,
}


class NetworkFailureTest(unittest.TestCase):
    def assert_failure_results(self, client):
        with self.assertLogs("memcached_http", "WARNING"):
            got = _every_method(client)
        for name, want in _FAILURE_RESULTS.items():
            with self.subTest(name):
                self.assertEqual(want, got[name])

    def test_an_unreachable_server_gives_the_seed_failure_results(self):
        self.assert_failure_results(memcache.Client(url="http://127.0.0.1:%d" % free_port()))

    def test_server_errors_give_the_seed_failure_results(self):
        for status, code in ((503, "unavailable"), (500, "internal"), (401, "unauthenticated"), (429, "rate_limited")):
            server = _StandIn(status, {"error": {"code": code, "message": "no"}})
            try:
                with self.subTest(status=status):
                    self.assert_failure_results(memcache.Client(url=server.url))
            finally:
                server.stop()

    def test_a_response_that_is_not_json_is_a_failure(self):
        server = _StandIn(handler=_NotJSONHandler)
        try:
            client = memcache.Client(url=server.url)
            with self.assertLogs("memcached_http", "WARNING"):
                self.assertIsNone(client.get("k"))
                self.assertFalse(client.set("k", "v"))
        finally:
            server.stop()

    def test_a_silent_server_is_a_failure_after_the_deadline(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        try:
            client = memcache.Client(url="http://127.0.0.1:%d" % listener.getsockname()[1], deadline=0.3)
            start = time.monotonic()
            with self.assertLogs("memcached_http", "WARNING"):
                self.assertIsNone(client.get("k"))
            self.assertLess(time.monotonic() - start, 2.0)

            rpc = memcache.create_rpc(deadline=0.2)
            start = time.monotonic()
            with self.assertLogs("memcached_http", "WARNING"):
                self.assertIsNone(client.get_stats_async(rpc=rpc).get_result())
            self.assertLess(time.monotonic() - start, 2.0)
        finally:
            listener.close()


class _NotJSONHandler(_Handler):
    def _answer(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"not json{")

    do_GET = do_PUT = do_POST = do_DELETE = _answer


class TransportTest(unittest.TestCase):
    def setUp(self):
        self.server = _StandIn(200, {"hits": 1, "misses": 2, "byte_hits": 3, "items": 4, "bytes": 5, "oldest_item_age": 6})
        self.addCleanup(self.server.stop)

    def test_the_token_is_sent_as_a_bearer_credential(self):
        memcache.Client(url=self.server.url, token="s3cret").get_stats()
        headers = self.server.requests[-1][2]
        self.assertEqual("Bearer s3cret", headers["Authorization"])

    def test_no_token_sends_no_credential(self):
        with mock.patch.dict(os.environ, {memcache.TOKEN_ENV: ""}):
            memcache.Client(url=self.server.url).get_stats()
        self.assertNotIn("Authorization", self.server.requests[-1][2])

    def test_url_and_token_come_from_the_environment(self):
        env = {memcache.URL_ENV: self.server.url + "/", memcache.TOKEN_ENV: "from-env"}
        with mock.patch.dict(os.environ, env):
            client = memcache.Client()
        self.assertEqual({"hits": 1, "misses": 2, "byte_hits": 3, "items": 4, "bytes": 5, "oldest_item_age": 6},
                         client.get_stats())
        self.assertEqual("Bearer from-env", self.server.requests[-1][2]["Authorization"])

    def test_a_base_path_in_the_url_prefixes_every_request(self):
        memcache.Client(url=self.server.url + "/cache/").get_stats()
        self.assertEqual("/cache/v1/stats", self.server.requests[-1][1])

    def test_keys_are_percent_encoded_in_paths(self):
        client = memcache.Client(url=self.server.url)
        client.incr("a/b:c d%\u00e9")
        self.assertEqual("/v1/ns/~/keys/a%2Fb%3Ac%20d%25%C3%A9:incr", self.server.requests[-1][1])

    def test_single_writes_send_the_seed_fields(self):
        client = memcache.Client(url=self.server.url)
        client.set("k", 5, time=1.2, namespace="ns")
        method, path, headers, body, _ = self.server.requests[-1]
        self.assertEqual(("PUT", "/v1/ns/ns/keys/k?mode=set"), (method, path))
        self.assertEqual("application/json", headers["Content-Type"])
        self.assertEqual({"value": 5, "flags": memcache.TYPE_INT, "time": 2}, json.loads(body))

    def test_a_connection_closed_by_the_server_is_reopened_once(self):
        self.server.close_after_response = True
        client = memcache.Client(url=self.server.url)
        for _ in range(3):
            self.assertEqual(4, client.get_stats()[memcache.STAT_ITEMS])
        self.assertEqual(3, len(self.server.requests), "each call reaches the server exactly once")

    def test_a_kept_connection_serves_the_next_request(self):
        client = memcache.Client(url=self.server.url)
        client.get_stats()
        client.get_stats()
        first, second = (r[4] for r in self.server.requests)
        self.assertEqual(first, second, "both requests should share one connection")

    def test_disconnect_all_makes_the_next_call_reconnect(self):
        client = memcache.Client(url=self.server.url)
        client.get_stats()
        client.disconnect_all()
        self.assertEqual(4, client.get_stats()[memcache.STAT_ITEMS])
        first, second = (r[4] for r in self.server.requests)
        self.assertNotEqual(first, second)

    def test_clients_of_one_server_share_each_thread_connection(self):
        memcache.Client(url=self.server.url).get_stats()
        memcache.Client(url=self.server.url).get_stats()
        first, second = (r[4] for r in self.server.requests)
        self.assertEqual(first, second)

    def test_a_url_that_is_not_http_is_rejected(self):
        for url in ("ftp://host", "127.0.0.1:8080", "http://"):
            with self.subTest(url=url), self.assertRaises(ValueError):
                memcache.Client(url=url)


if __name__ == "__main__":
    unittest.main()
