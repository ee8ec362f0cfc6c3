"""Drop-in replacement for google.appengine.api.namespace_manager.

    from memcached_http import namespace_manager

    namespace_manager.set_namespace("tenant-42")
    memcache.incr("hits", initial_value=0)   # counted in namespace "tenant-42"

As in App Engine, every memcache function and Client method whose namespace
is None uses get_namespace() at the time of the call. The current namespace is
held in a contextvars.ContextVar rather than in os.environ, so threads and
asyncio tasks each have their own, and setting it in one never changes
another's; a task starts with the namespace current when it was created. App
Engine reset it for every request; a server that reuses worker threads should
set it at the start of every request.
"""

import contextvars
import os
import re

__all__ = [
    "BadValueError",
    "enable_request_namespace",
    "get_namespace",
    "google_apps_namespace",
    "set_namespace",
    "validate_namespace",
]

_NAMESPACE_MAX_LENGTH = 100
_NAMESPACE_PATTERN = r"^[0-9A-Za-z._-]{0,%d}$" % _NAMESPACE_MAX_LENGTH
_NAMESPACE_RE = re.compile(_NAMESPACE_PATTERN)

# App Engine put the Google Apps domain of a request in this variable.
_ENV_DEFAULT_NAMESPACE = "HTTP_X_APPENGINE_DEFAULT_NAMESPACE"

_current = contextvars.ContextVar("memcached_http.namespace_manager", default=None)


class BadValueError(ValueError):
    """An invalid namespace name, as App Engine's datastore_errors.BadValueError.

    It is also a ValueError, which this package raised for bad namespaces before.
    """


def validate_namespace(value, exception=BadValueError):
    """Raises exception unless value is a namespace name: [0-9A-Za-z._-]{0,100}."""
    if not isinstance(value, str):
        raise exception("value should be a string; received %r (a %s):" % (value, type(value).__name__))
    if not _NAMESPACE_RE.fullmatch(value):
        raise exception('value "%s" does not match regex "%s"' % (value, _NAMESPACE_PATTERN))


def set_namespace(namespace):
    """Sets the namespace of the current thread or task; None unsets it.

    Raises BadValueError for a name outside [0-9A-Za-z._-]{0,100}.
    """
    if namespace is not None:
        validate_namespace(namespace)
    _current.set(namespace)


def get_namespace():
    """Returns the current namespace, "" (the empty namespace) when none is set."""
    namespace = _current.get()
    return "" if namespace is None else namespace


def google_apps_namespace():
    """Returns the Google Apps domain namespace App Engine passed in the
    environment ($HTTP_X_APPENGINE_DEFAULT_NAMESPACE), or None."""
    return os.environ.get(_ENV_DEFAULT_NAMESPACE)


def enable_request_namespace():
    """Sets the namespace to google_apps_namespace() when none is set yet (deprecated in App Engine too)."""
    if _current.get() is None:
        namespace = google_apps_namespace()
        if namespace is not None:
            set_namespace(namespace)
