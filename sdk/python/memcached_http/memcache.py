"""Drop-in replacement for google.appengine.api.memcache.

    from memcached_http import memcache

    memcache.set("greeting", "hello", time=60)
    memcache.get("greeting")           # "hello"

The module-level functions are bound to a shared Client built at import time from
$MEMCACHED_HTTP_URL and $MEMCACHED_HTTP_TOKEN; setup_client() swaps it. As in App
Engine, gets/cas/cas_multi and the *_async methods exist only on Client objects,
because CAS state belongs to one client. A call whose namespace is None uses
namespace_manager.get_namespace() (memcached_http.namespace_manager).
"""

from .client import *  # noqa: F401,F403  (App Engine's Client, constants and create_rpc)
from .client import Client

# The functions setup_client() binds, as App Engine's module offers them.
_MODULE_FUNCTIONS = (
    "set_servers",
    "disconnect_all",
    "forget_dead_hosts",
    "debuglog",
    "get",
    "get_multi",
    "set",
    "set_multi",
    "add",
    "add_multi",
    "replace",
    "replace_multi",
    "delete",
    "delete_multi",
    "incr",
    "decr",
    "flush_all",
    "get_stats",
    "offset_multi",
)

_CLIENT = None


def setup_client(client_obj):
    """Makes client_obj the Client behind every module-level function.

    Use it to choose the server URL, token or deadline in code, or custom
    pickling (pid/pload).
    """
    global _CLIENT
    _CLIENT = client_obj
    namespace = globals()
    for name in _MODULE_FUNCTIONS:
        namespace[name] = getattr(client_obj, name)


setup_client(Client())
