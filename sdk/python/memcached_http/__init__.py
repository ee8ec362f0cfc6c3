"""memcached-http for Python: App Engine's memcache API served over HTTP.

Port App Engine code by changing one import:

    from memcached_http import memcache   # was: from google.appengine.api import memcache
    from memcached_http import namespace_manager   # was: from google.appengine.api import namespace_manager
"""

__version__ = "1.0.0"

from .client import RPC, Client, create_rpc  # noqa: E402  (needs __version__ first)

__all__ = ["Client", "RPC", "create_rpc", "__version__"]
