#!/usr/bin/env bash
# Runs the Python SDK tests against the real memcached-http binary, which they
# build with `go build ./cmd/memcached-http` (or take from $MEMCACHED_HTTP_BIN).
# $PYTHON picks the interpreter (default python3); Python 3.9+ is required.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "sdk/python/run_tests.sh: '$PYTHON' not found; install Python 3.9+ or set PYTHON" >&2
	exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
	echo "sdk/python/run_tests.sh: $("$PYTHON" --version 2>&1) is too old; Python 3.9+ is required" >&2
	exit 1
fi
if [ -z "${MEMCACHED_HTTP_BIN:-}" ] && ! command -v go >/dev/null 2>&1; then
	echo "sdk/python/run_tests.sh: 'go' not found to build the server; install Go or set MEMCACHED_HTTP_BIN" >&2
	exit 1
fi

exec "$PYTHON" -X dev -m tests
