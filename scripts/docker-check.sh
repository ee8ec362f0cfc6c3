#!/usr/bin/env bash
# Builds the container image and checks it where a docker or podman engine can
# run: it starts, reports VERSION, runs as a non-root user, refuses to listen
# without tokens unless -insecure, and answers /healthz through a published
# port. Where no engine can run, it says so and exits 0, unless
# REQUIRE_CONTAINER=1 (then it fails).
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(tr -d '[:space:]' < VERSION)"
fail() { echo "docker-check: $*" >&2; exit 1; }

engine=""
for e in docker podman; do
	if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then engine="$e"; break; fi
done
if [ -z "$engine" ]; then
	why="no docker or podman found"
	for e in docker podman; do
		command -v "$e" >/dev/null 2>&1 && why="'$e info' fails: no container engine is running here"
	done
	msg="docker-check: NOT RUN ($why); the Dockerfile was not built. Run it where docker or podman works."
	if [ "${REQUIRE_CONTAINER:-}" = 1 ]; then fail "${msg#docker-check: }"; fi
	echo "$msg"
	exit 0
fi

tag="memcached-http:check-$$"
name="memcached-http-check-$$"
trap '"$engine" rm -f "$name" >/dev/null 2>&1 || true; "$engine" rmi -f "$tag" >/dev/null 2>&1 || true' EXIT
"$engine" build -q -t "$tag" . >/dev/null || fail "$engine build failed"

got="$("$engine" run --rm "$tag" -version)"
[[ "$got" == "memcached-http $version ("* ]] || fail "the image's -version says '$got'"
user="$("$engine" image inspect -f '{{.Config.User}}' "$tag")"
[[ -n "$user" && "$user" != 0* && "$user" != root* ]] || fail "the image runs as '$user', want a non-root user"
if "$engine" run --rm "$tag" >/dev/null 2>&1; then fail "the image started without tokens or -insecure"; fi

"$engine" run -d --name "$name" -p 127.0.0.1::8080 "$tag" -insecure >/dev/null
port="$("$engine" port "$name" 8080/tcp | head -1 | sed 's/.*://')"
for _ in $(seq 50); do
	if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
		echo "docker-check: $engine image $tag: $got, user $user, /healthz answers"
		exit 0
	fi
	sleep 0.2
done
"$engine" logs "$name" >&2 || true
fail "the container never answered /healthz on port $port"
