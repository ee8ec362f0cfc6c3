#!/usr/bin/env bash
# Installs each SDK from this checkout the way README.md says, into a scratch
# project outside the repository, and uses it against a real server:
#   Go:         go mod edit -replace …=<checkout>/sdk; go get …/sdk@v<VERSION>
#   TypeScript: npm install <checkout>/sdk/ts, then a typed program checked by tsc
#   Python:     pip install <checkout>/sdk/python into a fresh venv, offline
# Each prints the SDK's reported version, which must be VERSION's.
# ONLY=go|ts|python runs one. Without Node.js or Python the check says NOT RUN,
# and fails under CI.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
GO="${GO:-go}"
version="$(tr -d '[:space:]' < "$repo/VERSION")"
work="$(mktemp -d)"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "sdk-install-check: $*" >&2; exit 1; }
missing() {
	if [ -n "${CI:-}" ]; then fail "$1 not found; CI needs it for the $2 install check"; fi
	echo "sdk-install-check: $2: NOT RUN ($1 not found)"
}
want() { case " ${ONLY:-go ts python} " in *" $1 "*) return 0;; esac; return 1; }

(cd "$repo" && "$GO" build -o "$work/memcached-http" ./cmd/memcached-http)
"$work/memcached-http" -addr 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
	addr="$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$work/server.log")"
	[ -n "$addr" ] && break
	sleep 0.1
done
[ -n "$addr" ] || fail "the server did not start: $(cat "$work/server.log")"
url="http://$addr"

if want go; then
	# sdk/go.mod's go line must not force consumers onto a newer Go than the
	# oldest release still supported (Go supports the two newest: this
	# toolchain's and the one before it).
	sdk_go="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$repo/sdk/go.mod")"
	have="$("$GO" env GOVERSION | sed 's/^go\([0-9]*\)\.\([0-9]*\).*/\1 \2/')"
	read -r major minor <<<"$have"
	oldest="$major.$((minor - 1))"
	[ "$(printf '%s\n%s\n' "$sdk_go" "$oldest" | sort -V | tail -1)" = "$oldest" ] ||
		fail "sdk/go.mod says go $sdk_go, newer than go $oldest, the oldest supported release"
	! grep -q 'memcached-http/memcached-http \|go-chi\|rueidis\|prometheus\|validator\|kin-openapi' "$repo/sdk/go.mod" ||
		fail "sdk/go.mod requires a server dependency: $(cat "$repo/sdk/go.mod")"

	mkdir "$work/go" && cd "$work/go"
	"$GO" mod init example.com/try-sdk >/dev/null 2>&1
	"$GO" mod edit -go="$sdk_go"
	"$GO" mod edit -replace "github.com/memcached-http/memcached-http/sdk=$repo/sdk"
	"$GO" get "github.com/memcached-http/memcached-http/sdk@v$version" >/dev/null 2>&1 ||
		fail "go get github.com/memcached-http/memcached-http/sdk@v$version failed: $("$GO" get "github.com/memcached-http/memcached-http/sdk@v$version" 2>&1)"
	cat > main.go <<'GO'
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/memcached-http/memcached-http/sdk"
)

func main() {
	ctx := context.Background()
	c, err := sdk.New(os.Args[1])
	if err != nil {
		panic(err)
	}
	if _, err := c.Set(ctx, "go-install", "hello"); err != nil {
		panic(err)
	}
	var got string
	if _, err := c.Get(ctx, "go-install", &got); err != nil {
		panic(err)
	}
	n, err := c.Incr(ctx, "go-install-hits", 1, sdk.WithInitialValue(41))
	if err != nil {
		panic(err)
	}
	fmt.Println(sdk.Version, got, n)
}
GO
	got="$("$GO" run . "$url")"
	[ "$got" = "$version hello 42" ] || fail "Go SDK program printed '$got', want '$version hello 42'"
	deps="$("$GO" list -deps .)"
	! grep -E 'memcached-http/memcached-http/internal|go-chi|rueidis|prometheus|validator|kin-openapi' <<<"$deps" ||
		fail "the Go SDK pulls in server packages"
	echo "sdk-install-check: Go: go get from the checkout (go $sdk_go module), program printed: $got"
fi

if want ts; then
	if ! command -v npm >/dev/null 2>&1; then
		missing npm TypeScript
	else
		mkdir "$work/ts" && cd "$work/ts"
		npm init -y >/dev/null
		npm pkg set type=module >/dev/null
		npm install --no-audit --no-fund --loglevel=error "$repo/sdk/ts" >/dev/null 2>"$work/npm.log" ||
			fail "npm install $repo/sdk/ts failed: $(cat "$work/npm.log")"
		cat > try.ts <<'TS'
import { Client, MemcacheError, VERSION } from "@memcached-http/client";

const argv = (globalThis as unknown as { process: { argv: string[] } }).process.argv;
const mc = new Client({ baseUrl: argv[2] ?? "" });
const stored: boolean = await mc.set("ts-install", { name: "Ada" });
const got = await mc.get("ts-install");
const hits = await mc.incr("ts-install-hits", 1, { initialValue: 41 });
// @ts-expect-error: the package is typed; a key is a string, not a number
void (() => mc.get(42));
let refused = "";
try {
  await mc.set("", 1);
} catch (err) {
  refused = err instanceof MemcacheError ? "MemcacheError" : String(err);
}
console.log(VERSION, stored, JSON.stringify(got), hits, refused);
TS
		cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
  "strict": true, "lib": ["ES2022", "DOM"], "types": [], "outDir": "out", "skipLibCheck": false },
  "files": ["try.ts"] }
JSON
		# The compiler comes with the SDK's own (dev) dependencies, installed by
		# its prepare script; a project would use its own TypeScript.
		node "$repo/sdk/ts/node_modules/typescript/bin/tsc" -p tsconfig.json ||
			fail "a typed program against the installed package does not compile"
		got="$(node out/try.js "$url")"
		[ "$got" = "$version true {\"name\":\"Ada\"} 42 MemcacheError" ] ||
			fail "TypeScript SDK program printed '$got', want '$version true {\"name\":\"Ada\"} 42 MemcacheError'"
		echo "sdk-install-check: TypeScript: npm install of the checkout, typed program printed: $got"
	fi
fi

if want python; then
	if ! command -v python3 >/dev/null 2>&1; then
		missing python3 Python
	else
		python3 -m venv "$work/venv" || fail "python3 -m venv failed (Debian: apt-get install -y python3-venv)"
		# No package index: the install must need nothing from PyPI.
		PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$work/venv/bin/pip" install -q "$repo/sdk/python" >"$work/pip.log" 2>&1 ||
			fail "pip install $repo/sdk/python failed: $(cat "$work/pip.log")"
		cd "$work"
		got="$(MEMCACHED_HTTP_URL="$url" "$work/venv/bin/python" - <<'PY'
import memcached_http
from memcached_http import memcache

memcache.set("py-install", "hello")
print(memcached_http.__version__, memcache.get("py-install"), memcache.incr("py-install-hits", initial_value=41))
PY
)"
		[ "$got" = "$version hello 42" ] || fail "Python SDK program printed '$got', want '$version hello 42'"
		echo "sdk-install-check: Python: pip install into a fresh venv, offline; program printed: $got"
	fi
fi
