"""Every App Engine method keeps App Engine's parameter names, order and defaults."""

import inspect
import pickle
import unittest

from memcached_http import memcache

_KEY_OPTS = [("namespace", None)]
_WRITE = [("key", inspect.Parameter.empty), ("value", inspect.Parameter.empty), ("time", 0),
          ("min_compress_len", 0), ("namespace", None)]
_MULTI_WRITE = [("mapping", inspect.Parameter.empty), ("time", 0), ("key_prefix", ""),
                ("min_compress_len", 0), ("namespace", None)]
_COUNTER = [("key", inspect.Parameter.empty), ("delta", 1), ("namespace", None), ("initial_value", None)]
_OFFSET = [("mapping", inspect.Parameter.empty), ("key_prefix", ""), ("namespace", None), ("initial_value", None)]
_RPC = [("rpc", None)]
_E = inspect.Parameter.empty

# Parameters (name, default) of App Engine's memcache.Client methods, self excluded.
APP_ENGINE_SIGNATURES = {
    "set_servers": [("servers", _E)],
    "disconnect_all": [],
    "forget_dead_hosts": [],
    "debuglog": [],
    "cas_reset": [],
    "get_stats": [],
    "get_stats_async": _RPC,
    "flush_all": [],
    "flush_all_async": _RPC,
    "get": [("key", _E), ("namespace", None), ("for_cas", False)],
    "gets": [("key", _E)] + _KEY_OPTS,
    "get_multi": [("keys", _E), ("key_prefix", ""), ("namespace", None), ("for_cas", False)],
    "get_multi_async": [("keys", _E), ("key_prefix", ""), ("namespace", None), ("for_cas", False)] + _RPC,
    "delete": [("key", _E), ("seconds", 0), ("namespace", None)],
    "delete_multi": [("keys", _E), ("seconds", 0), ("key_prefix", ""), ("namespace", None)],
    "delete_multi_async": [("keys", _E), ("seconds", 0), ("key_prefix", ""), ("namespace", None)] + _RPC,
    "set": _WRITE,
    "add": _WRITE,
    "replace": _WRITE,
    "cas": _WRITE,
    "set_multi": _MULTI_WRITE,
    "add_multi": _MULTI_WRITE,
    "replace_multi": _MULTI_WRITE,
    "cas_multi": _MULTI_WRITE,
    "set_multi_async": _MULTI_WRITE + _RPC,
    "add_multi_async": _MULTI_WRITE + _RPC,
    "replace_multi_async": _MULTI_WRITE + _RPC,
    "cas_multi_async": _MULTI_WRITE + _RPC,
    "incr": _COUNTER,
    "decr": _COUNTER,
    "incr_async": _COUNTER + _RPC,
    "decr_async": _COUNTER + _RPC,
    "offset_multi": _OFFSET,
    "offset_multi_async": _OFFSET + _RPC,
}


def _params(func):
    return [(p.name, p.default) for p in inspect.signature(func).parameters.values() if p.name != "self"]


class SignatureTest(unittest.TestCase):
    def test_client_methods_match_app_engine(self):
        for name, want in APP_ENGINE_SIGNATURES.items():
            with self.subTest(name):
                self.assertEqual(want, _params(getattr(memcache.Client, name)))

    def test_the_constructor_starts_with_app_engine_arguments(self):
        want = [
            ("servers", None),
            ("debug", 0),
            ("pickleProtocol", pickle.HIGHEST_PROTOCOL),
            ("pickler", pickle.Pickler),
            ("unpickler", pickle.Unpickler),
            ("pload", None),
            ("pid", None),
            ("make_sync_call", None),
        ]
        params = inspect.signature(memcache.Client).parameters.values()
        positional = [(p.name, p.default) for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        self.assertEqual(want, positional)
        extra = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        self.assertEqual(["url", "token", "deadline"], extra)

    def test_module_functions_match_the_client_methods(self):
        for name in memcache._MODULE_FUNCTIONS:
            with self.subTest(name):
                self.assertEqual(APP_ENGINE_SIGNATURES[name], _params(getattr(memcache, name)))


if __name__ == "__main__":
    unittest.main()
