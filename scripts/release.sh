#!/usr/bin/env bash
# Builds the release: static memcached-http binaries for linux and darwin on
# amd64 and arm64, stamped with VERSION, in dist/, with their SHA-256 sums in
# dist/SHA256SUMS (check with: cd dist && sha256sum -c SHA256SUMS).
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
version="$(tr -d '[:space:]' < VERSION)"
platforms="${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"

rm -rf dist && mkdir -p dist
for p in $platforms; do
	os="${p%/*}" arch="${p#*/}"
	out="dist/memcached-http_${version}_${os}_${arch}"
	echo "release: $out"
	# CGO off makes the binary static (no libc to match on the host);
	# -trimpath keeps the build machine's paths out of it.
	CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" "$GO" build -trimpath \
		-ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/memcached-http
done
(
	cd dist
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum memcached-http_* > SHA256SUMS
	else
		shasum -a 256 memcached-http_* > SHA256SUMS # macOS
	fi
)
cat dist/SHA256SUMS
