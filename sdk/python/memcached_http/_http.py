"""A small HTTP/JSON transport: one keep-alive connection per thread and server."""

import http.client
import json
import os
import select
import threading
import urllib.parse
import weakref

from . import __version__

_USER_AGENT = "memcached-http-python/" + __version__

# Errors a server closing an idle keep-alive connection produces on the next
# request. Such a request usually never reached a handler, but it may have:
# the server can apply it and fail before answering. So only a request whose
# repetition changes nothing (resend=True: reads, set, replace, flush) is sent
# once more; any other (incr, decr, offset_multi, add, cas, delete, the
# write multis) fails with the caller's App Engine failure result instead of
# risking being applied twice.
_STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class NetworkError(Exception):
    """The server could not be reached or did not answer in time."""


class Response:
    """A server answer: the HTTP status and the decoded JSON body (None if empty)."""

    __slots__ = ("status", "body")

    def __init__(self, status, body):
        self.status = status
        self.body = body

    def error_code(self):
        """Returns the error code of the API's error shape, or None."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


class _ThreadConnection:
    """Holds one thread's connection and closes it when the thread's locals are
    dropped, so threads that end leave no socket open."""

    __slots__ = ("conn",)

    def __init__(self):
        self.conn = None

    def __del__(self):
        if self.conn is not None:
            self.conn.close()


# Every transport, so a forked child can drop the connections it inherited.
_all_transports = weakref.WeakSet()


def _forget_connections():
    """Runs in a child process after fork: the parent's connections are the
    parent's (a child writing on one would read answers meant for the parent or
    a sibling), so every transport opens its own from now on. The child's copies
    of the sockets are closed as their holders are dropped."""
    for transport in list(_all_transports):
        transport._local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections)


class Transport:
    """Sends JSON requests to one memcached-http server; safe for concurrent use,
    and across fork (a child process opens its own connections)."""

    def __init__(self, url, token=None):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("memcached-http URL must be http(s)://host[:port][/path], got %r" % url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if token:
            self._headers["Authorization"] = "Bearer " + token
        self._local = threading.local()  # .held: the calling thread's _ThreadConnection
        _all_transports.add(self)

    def request(self, method, path, body, timeout, resend=False):
        """Sends one request and returns its Response; raises NetworkError.

        resend says the request may be sent twice (its repetition changes
        nothing), so a kept connection the server closed is retried once.
        """
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            reused = self._held().conn is not None
            try:
                status, data = self._roundtrip(method, path, payload, headers, timeout)
            except _STALE_CONNECTION_ERRORS:
                if not (reused and resend):
                    raise
                status, data = self._roundtrip(method, path, payload, headers, timeout)
        except (OSError, http.client.HTTPException) as err:
            raise NetworkError("%s %s: %s" % (method, path, err)) from err
        return Response(status, _decode_body(method, path, data))

    def close(self):
        """Closes the calling thread's connection; the next request opens a new one."""
        held = self._held()
        conn, held.conn = held.conn, None
        if conn is not None:
            conn.close()

    def _held(self):
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _ThreadConnection()
        return held

    def _roundtrip(self, method, path, payload, headers, timeout):
        held = self._held()
        conn = held.conn
        if conn is not None and _peer_closed(conn.sock):
            # The server closed the kept connection while it was idle (its
            # idle timeout): reconnect before sending, not after.
            self.close()
            conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = held.conn = cls(self._host, self._port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, self._base + path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            # A half-used connection cannot carry another request.
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, data


def _peer_closed(sock):
    """Reports whether an idle connection's peer has closed it (or sent
    something unasked, which makes it unusable too)."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    # Readable while idle: the peer closed or reset it, or sent data unasked.
    return bool(readable)


def _decode_body(method, path, data):
    if not data:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as err:
        raise NetworkError("%s %s: response is not JSON: %s" % (method, path, err)) from err
