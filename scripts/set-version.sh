#!/usr/bin/env bash
# Copies the release version from VERSION (the one place it is set) into each
# SDK, which must carry it in its own files: run after editing VERSION.
# version_test.go fails while a copy differs.
set -euo pipefail
cd "$(dirname "$0")/.."
v="$(tr -d '[:space:]' < VERSION)"
[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "VERSION: $v is not a semantic version" >&2; exit 1; }

sed -i -E "s/^const Version = \".*\"/const Version = \"$v\"/" sdk/version.go
sed -i -E "s/^export const VERSION = \".*\";/export const VERSION = \"$v\";/" sdk/ts/src/version.ts
sed -i -E "0,/^  \"version\": \".*\",/s//  \"version\": \"$v\",/" sdk/ts/package.json
sed -i -E "0,/^  \"version\": \".*\",/s//  \"version\": \"$v\",/" sdk/ts/package-lock.json
sed -i -E "0,/^      \"version\": \".*\",/s//      \"version\": \"$v\",/" sdk/ts/package-lock.json
sed -i -E "s/^__version__ = \".*\"/__version__ = \"$v\"/" sdk/python/memcached_http/__init__.py
sed -i -E "0,/^  version: .*/s//  version: $v/" api/openapi.yaml
# README's install lines and the version lines its examples print.
sed -i -E 's/(sdk@v)[0-9][0-9A-Za-z.-]*/\1'"$v"'/g; s/^(#   (@memcached-http\/client|memcached_http|memcached-http)) [0-9][0-9A-Za-z.-]*/\1 '"$v"'/' README.md
echo "version $v written to the Go, TypeScript and Python SDKs, the spec and README.md"
