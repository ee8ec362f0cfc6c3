"""Runs the real memcached-http binary for the integration tests.

The binary is built once per test process with `go build ./cmd/memcached-http`
from the repository root, or taken from $MEMCACHED_HTTP_BIN when that is set.
Each Server listens on a loopback port of the kernel's choosing (-addr
127.0.0.1:0), found in the "listening" line it logs, so no other process can
take the port between its choice and the bind; it is stopped by stop(), and
on Linux the kernel also stops it if the test process dies first.
"""

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
START_TIMEOUT = 60.0

_binary = None

if sys.platform.startswith("linux"):
    _libc = ctypes.CDLL(None, use_errno=True)
    _PR_SET_PDEATHSIG = 1

    def _die_with_parent():
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

else:
    _die_with_parent = None


def binary():
    """Returns the path of the server binary, building it on first use."""
    global _binary
    if _binary is None:
        _binary = os.environ.get("MEMCACHED_HTTP_BIN") or _build()
    return _binary


def _build():
    out_dir = tempfile.mkdtemp(prefix="memcached-http-pytest-")
    atexit.register(shutil.rmtree, out_dir, True)
    path = os.path.join(out_dir, "memcached-http")
    subprocess.run(
        ["go", "build", "-o", path, "./cmd/memcached-http"],
        cwd=REPO_ROOT,
        check=True,
    )
    return path


def free_port():
    """Returns a loopback TCP port that nothing listens on right now (and
    that anything may take the moment after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One running memcached-http process."""

    def __init__(self, *args, env=None):
        self.port = None
        self.url = None
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [binary(), "-addr", "127.0.0.1:0", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})),
            preexec_fn=_die_with_parent,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError("memcached-http exited with %d:\n%s" % (self._proc.returncode, self.output()))
            if self.url is None:
                self._find_address()
            if self.url is not None:
                try:
                    with urllib.request.urlopen(self.url + "/healthz", timeout=5) as resp:
                        if resp.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("memcached-http not healthy after %.0fs:\n%s" % (START_TIMEOUT, self.output()))
            time.sleep(0.05)

    def _find_address(self):
        """Sets port and url from the "listening" log line, once there is one."""
        for line in self.output().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if isinstance(entry, dict) and entry.get("msg") == "listening":
                host, _, port = entry["addr"].rpartition(":")
                self.port = int(port)
                self.url = "http://%s:%d" % (host, self.port)
                return

    def output(self):
        """Returns what the server printed so far."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def raw(self, method, path, body=None):
        """Sends a request past the client; returns (status, decoded JSON or None)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, payload = err.code, err.read()
        return status, (json.loads(payload) if payload else None)

    def stop(self):
        """Stops the server and waits for it to exit."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
