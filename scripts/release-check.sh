#!/usr/bin/env bash
# Checks `make release`'s output: one binary per platform, each built static
# (CGO_ENABLED=0) for its GOOS/GOARCH with VERSION stamped, sums that verify,
# and the host's binary reporting the version.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
version="$(tr -d '[:space:]' < VERSION)"
fail() { echo "release-check: $*" >&2; exit 1; }

[ -s dist/SHA256SUMS ] || fail "dist/SHA256SUMS missing: run make release"
(cd dist && sha256sum -c --quiet SHA256SUMS) || fail "dist/SHA256SUMS does not match the binaries"
for p in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
	os="${p%/*}" arch="${p#*/}"
	bin="dist/memcached-http_${version}_${os}_${arch}"
	[ -f "$bin" ] || fail "$bin missing"
	grep -q " memcached-http_${version}_${os}_${arch}\$" dist/SHA256SUMS || fail "$bin has no sum"
	info="$("$GO" version -m "$bin")"
	for want in "build	CGO_ENABLED=0" "build	GOOS=$os" "build	GOARCH=$arch"; do
		grep -qF -- "$want" <<<"$info" || fail "$bin: build info lacks '$want':
$info"
	done
	# -trimpath keeps -ldflags out of the build info; the stamped string is in the binary.
	grep -qaF "$version" "$bin" || fail "$bin does not contain the version $version"
done
host="dist/memcached-http_${version}_$("$GO" env GOOS)_$("$GO" env GOARCH)"
if [ -x "$host" ]; then
	got="$("$host" -version)"
	[[ "$got" == "memcached-http $version ("* ]] || fail "$host -version says '$got', want memcached-http $version"
	echo "release-check: $got"
fi
if [ "$("$GO" env GOOS)" = linux ] && command -v readelf >/dev/null 2>&1; then
	for arch in amd64 arm64; do
		bin="dist/memcached-http_${version}_linux_${arch}"
		! readelf -l "$bin" | grep -q 'Requesting program interpreter' || fail "$bin is dynamically linked"
	done
fi
echo "release-check: 4 static binaries of $version and their SHA-256 sums are good"
