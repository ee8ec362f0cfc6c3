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


def memcache_http_peer_closed(client):
    from memcached_http import _http

    conn = client._transport._held().conn
    return conn is not None and _http._peer_closed(conn.sock)


def _every_method(client):
    """Calls every App Engine method; returns name -> result (async ones via get_result)."""
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


# App Engine's results when the service cannot be reached.
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

    def test_an_unreachable_server_gives_app_engine_failure_results(self):
        self.assert_failure_results(memcache.Client(url="http://127.0.0.1:%d" % free_port()))

    def test_server_errors_give_app_engine_failure_results(self):
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


class _AppliesThenHangsUpHandler(_Handler):
    """Reads a POST (incr, batch writes), records it as applied, and closes the
    connection without answering: what a server that applied a request and
    failed before its answer looks like."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers), body, self.client_address))
        self.close_connection = True


class NoResendTest(unittest.TestCase):
    """A request that may have been applied is never sent twice: App Engine's
    failure result comes back instead."""

    def setUp(self):
        self.server = _StandIn(200, {"hits": 0, "misses": 0, "byte_hits": 0, "items": 0, "bytes": 0,
                                     "oldest_item_age": 0}, handler=_AppliesThenHangsUpHandler)
        self.addCleanup(self.server.stop)
        self.client = memcache.Client(url=self.server.url)
        self.client.get_stats()  # a kept connection, reused by the call under test

    def _posts(self):
        return [r for r in self.server.requests if r[0] == "POST"]

    def test_incr_reset_after_sending_is_not_resent(self):
        self.assertIsNone(self.client.incr("hits"))
        self.assertEqual(1, len(self._posts()), "the increment reached the server once")

    def test_decr_and_offset_multi_are_not_resent(self):
        self.assertIsNone(self.client.decr("hits"))
        self.assertEqual({"a": None}, self.client.offset_multi({"a": 1}))
        self.assertEqual(2, len(self._posts()))

    def test_write_multis_are_not_resent(self):
        self.assertEqual(["a"], self.client.add_multi({"a": 1}))
        self.client.get_stats()
        self.assertEqual(["a"], self.client.set_multi({"a": 1}))
        self.client.get_stats()
        self.assertFalse(self.client.delete_multi(["a"]))
        self.assertEqual(3, len(self._posts()))


class _OnlyOnceHandler(_Handler):
    """Answers PUT add/cas and DELETE once per connection, then hangs up on the
    next request without answering."""

    def _answer(self):
        if getattr(self, "answered", False):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            self.server.requests.append((self.command, self.path, dict(self.headers), body, self.client_address))
            self.close_connection = True
            return
        self.answered = True
        super()._answer()

    do_GET = do_PUT = do_POST = do_DELETE = _answer


class NoResendSingleWritesTest(unittest.TestCase):
    def setUp(self):
        self.server = _StandIn(200, {"stored": True, "cas": "1", "status": "DELETE_SUCCESSFUL"}, handler=_OnlyOnceHandler)
        self.addCleanup(self.server.stop)

    def _second_call(self, call):
        client = memcache.Client(url=self.server.url)
        self.assertTrue(client.set("warm", 1))  # answered; the connection is kept
        result = call(client)
        self.assertEqual(2, len(self.server.requests), "the second request reached the server once")
        return result

    def test_add_is_not_resent(self):
        self.assertFalse(self._second_call(lambda c: c.add("k", 1)))

    def test_delete_is_not_resent(self):
        self.assertEqual(memcache.DELETE_NETWORK_FAILURE, self._second_call(lambda c: c.delete("k")))

    def test_set_is_resent_since_repeating_it_changes_nothing(self):
        client = memcache.Client(url=self.server.url)
        self.assertTrue(client.set("warm", 1))
        self.assertTrue(client.set("k", 2))
        self.assertEqual(3, len(self.server.requests), "sent, hung up on, sent again on a new connection")


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

    def test_single_writes_send_app_engine_fields(self):
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

    def test_an_idle_connection_the_server_closed_is_replaced_before_an_incr(self):
        # The server's idle timeout closed the kept connection: the incr must
        # not be lost to it, nor sent twice.
        server = _StandIn(200, {"value": 7})
        self.addCleanup(server.stop)
        server.close_after_response = True
        client = memcache.Client(url=server.url)
        self.assertEqual(7, client.incr("hits"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until the close has reached us
            if client._transport._held().conn is None or memcache_http_peer_closed(client):
                break
            time.sleep(0.01)
        self.assertEqual(7, client.incr("hits"))
        self.assertEqual(2, len(server.requests))

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
