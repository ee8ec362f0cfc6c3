"""namespace_manager: App Engine's per-request namespace, and how memcache calls use it."""

import asyncio
import http.server
import json
import os
import threading
import unittest
import urllib.parse
from unittest import mock

from memcached_http import memcache, namespace_manager
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


def _in_fresh_context(test):
    """Runs a test method in its own copy of the context, so set_namespace in
    one test never leaks into the next."""

    def run(self):
        import contextvars

        contextvars.Context().run(test, self)

    run.__name__ = test.__name__
    return run


class ValidateNamespaceTest(unittest.TestCase):
    def test_valid_names_pass(self):
        for name in ("", "a", "default", "tenant-1.eu_west", "n" * 100):
            with self.subTest(name=name):
                namespace_manager.validate_namespace(name)

    def test_invalid_names_raise_bad_value_error(self):
        for name in ("~", "a b", "a/b", "\u00e9", "n" * 101, "a\n"):
            with self.subTest(name=name), self.assertRaises(namespace_manager.BadValueError) as ctx:
                namespace_manager.validate_namespace(name)
            self.assertIn("[0-9A-Za-z._-]{0,100}", str(ctx.exception))

    def test_non_strings_raise_and_the_exception_class_can_be_chosen(self):
        with self.assertRaises(namespace_manager.BadValueError):
            namespace_manager.validate_namespace(3)
        with self.assertRaises(KeyError):
            namespace_manager.validate_namespace("a b", exception=KeyError)

    def test_bad_value_error_is_a_value_error(self):
        self.assertTrue(issubclass(namespace_manager.BadValueError, ValueError))


class ManagerStateTest(unittest.TestCase):
    @_in_fresh_context
    def test_the_namespace_is_empty_until_set_and_none_unsets_it(self):
        self.assertEqual("", namespace_manager.get_namespace())
        namespace_manager.set_namespace("tenant")
        self.assertEqual("tenant", namespace_manager.get_namespace())
        namespace_manager.set_namespace(None)
        self.assertEqual("", namespace_manager.get_namespace())

    @_in_fresh_context
    def test_a_bad_name_is_refused_and_the_namespace_kept(self):
        namespace_manager.set_namespace("kept")
        with self.assertRaises(namespace_manager.BadValueError):
            namespace_manager.set_namespace("not valid")
        self.assertEqual("kept", namespace_manager.get_namespace())

    @_in_fresh_context
    def test_google_apps_namespace_comes_from_the_environment(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("HTTP_X_APPENGINE_DEFAULT_NAMESPACE", None)
            self.assertIsNone(namespace_manager.google_apps_namespace())
            namespace_manager.enable_request_namespace()
            self.assertEqual("", namespace_manager.get_namespace())
            os.environ["HTTP_X_APPENGINE_DEFAULT_NAMESPACE"] = "example.com"
            self.assertEqual("example.com", namespace_manager.google_apps_namespace())
            namespace_manager.enable_request_namespace()
            self.assertEqual("example.com", namespace_manager.get_namespace())
            namespace_manager.set_namespace("mine")
            namespace_manager.enable_request_namespace()
            self.assertEqual("mine", namespace_manager.get_namespace(), "an explicit namespace is kept")

    def test_threads_start_in_the_empty_namespace(self):
        seen = []

        def worker(name):
            seen.append((name, namespace_manager.get_namespace()))
            namespace_manager.set_namespace(name)
            seen.append((name, namespace_manager.get_namespace()))

        threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertCountEqual([("a", ""), ("a", "a"), ("b", ""), ("b", "b")], seen)
        self.assertEqual("", namespace_manager.get_namespace(), "no thread changed this one's namespace")

    def test_asyncio_tasks_never_see_each_others_namespace(self):
        async def task(name, out):
            namespace_manager.set_namespace(name)
            for _ in range(5):
                await asyncio.sleep(0)  # let the other task run and set its own
                out.append((name, namespace_manager.get_namespace()))

        async def main():
            out = []
            await asyncio.gather(task("a", out), task("b", out))
            return out

        out = asyncio.run(main())
        self.assertEqual(10, len(out))
        for name, seen in out:
            self.assertEqual(name, seen)


class MemcacheUsesTheManagerTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(memcache.flush_all())

    @_in_fresh_context
    def test_counters_in_a_named_and_the_empty_namespace_are_apart(self):
        namespace_manager.set_namespace("a")
        self.assertEqual(1, memcache.incr("hits", initial_value=0))
        namespace_manager.set_namespace("")
        self.assertEqual(1, memcache.incr("hits", initial_value=0))
        self.assertEqual(1, memcache.get("hits", namespace="a"))
        self.assertEqual(1, memcache.get("hits", namespace=""))
        self.assertIsNone(memcache.get("hits", namespace="default"))
        status, body = _server.raw("GET", "/v1/ns/a/keys/hits")
        self.assertEqual((200, 1), (status, body["value"]))
        status, body = _server.raw("GET", "/v1/ns/~/keys/hits")
        self.assertEqual((200, 1), (status, body["value"]))

    @_in_fresh_context
    def test_an_explicit_namespace_beats_the_manager(self):
        namespace_manager.set_namespace("managed")
        self.assertTrue(memcache.set("k", "explicit", namespace="other"))
        self.assertTrue(memcache.set("k", "empty", namespace=""))
        self.assertIsNone(memcache.get("k"), "nothing was written in the managed namespace")
        self.assertEqual("explicit", memcache.get("k", namespace="other"))
        self.assertEqual("empty", memcache.get("k", namespace=""))

    @_in_fresh_context
    def test_client_methods_read_the_namespace_at_call_time(self):
        client = memcache.Client(url=_server.url)
        namespace_manager.set_namespace("first")
        rpc = client.set_multi_async({"k": "v"})
        namespace_manager.set_namespace("second")
        self.assertEqual({"k": memcache.STORED}, rpc.get_result())
        self.assertEqual("v", client.get("k", namespace="first"), "an async call keeps the namespace it was made in")
        self.assertIsNone(client.get("k"))
        self.assertTrue(client.set("k", "w"))
        self.assertEqual("w", client.get("k", namespace="second"))
        self.assertEqual("w", client.gets("k"))
        self.assertTrue(client.cas("k", "x"))
        self.assertEqual("x", client.get("k", namespace="second"))

    def test_two_threads_interleaving_writes_never_cross(self):
        writes = 1000
        turns = {"a": threading.Semaphore(1), "b": threading.Semaphore(0)}
        other = {"a": "b", "b": "a"}
        errors = []

        def worker(name):
            try:
                namespace_manager.set_namespace(name)
                for i in range(writes):
                    turns[name].acquire()
                    try:
                        if not memcache.set("k%d" % i, name):
                            errors.append("%s: set k%d failed" % (name, i))
                    finally:
                        turns[other[name]].release()
            except Exception as err:  # reported below; a thread cannot fail the test itself
                errors.append(repr(err))

        threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        keys = ["k%d" % i for i in range(writes)]
        for name in ("a", "b"):
            got = memcache.get_multi(keys, namespace=name)
            self.assertEqual({k: name for k in keys}, got, "namespace %s holds only its thread's writes" % name)
        self.assertEqual({}, memcache.get_multi(keys, namespace=""), "nothing leaked into the empty namespace")


class _Recorder(http.server.ThreadingHTTPServer):
    """A stand-in server that answers every request with {} and records its path."""

    daemon_threads = True

    def __init__(self):
        self.paths = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self._thread.join()


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.paths.append(self.path)
        payload = json.dumps({}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


def _every_keyed_call(client, **ns):
    """Calls every method that addresses a namespace, with the given namespace argument."""
    client.get("k", **ns)
    client.gets("k", **ns)
    client.get_multi(["a"], **ns)
    client.set("k", "v", **ns)
    client.add("k", "v", **ns)
    client.replace("k", "v", **ns)
    client.set_multi({"a": 1}, **ns)
    client.add_multi({"a": 1}, **ns)
    client.replace_multi({"a": 1}, **ns)
    client.cas_multi({"a": 1}, **ns)
    client.delete("k", **ns)
    client.delete_multi(["a"], **ns)
    client.incr("k", **ns)
    client.decr("k", **ns)
    client.incr(["a", "b"], **ns)
    client.offset_multi({"a": 1}, **ns)
    client.get_multi_async(["a"], **ns).get_result()
    client.set_multi_async({"a": 1}, **ns).get_result()
    client.delete_multi_async(["a"], **ns).get_result()
    client.incr_async("k", **ns).get_result()
    client.offset_multi_async({"a": 1}, **ns).get_result()


class WireSpellingTest(unittest.TestCase):
    """No method sends "default" for the empty namespace: it is "~" on the wire."""

    def setUp(self):
        self.server = _Recorder()
        self.addCleanup(self.server.stop)
        self.client = memcache.Client(url=self.server.url)

    def namespaces_sent(self):
        sent = []
        for path in self.server.paths:
            parts = urllib.parse.urlsplit(path).path.split("/")
            self.assertEqual(["", "v1", "ns"], parts[:3], path)
            sent.append(parts[3])
        self.server.paths.clear()
        return sent

    @_in_fresh_context
    def test_none_and_empty_are_sent_as_tilde(self):
        for ns in ({}, {"namespace": None}, {"namespace": ""}):
            with self.subTest(ns=ns):
                _every_keyed_call(self.client, **ns)
                sent = self.namespaces_sent()
                self.assertGreaterEqual(len(sent), 20)
                self.assertEqual({"~"}, set(sent))

    @_in_fresh_context
    def test_the_managers_namespace_is_sent_when_none_is_given(self):
        namespace_manager.set_namespace("tenant")
        _every_keyed_call(self.client)
        self.assertEqual({"tenant"}, set(self.namespaces_sent()))
        namespace_manager.set_namespace("default")
        _every_keyed_call(self.client)
        self.assertEqual({"default"}, set(self.namespaces_sent()), "default is an ordinary name")
        _every_keyed_call(self.client, namespace="")
        self.assertEqual({"~"}, set(self.namespaces_sent()), "an explicit empty namespace beats the manager")


if __name__ == "__main__":
    unittest.main()
