#!/usr/bin/env bash
# Throughput of this tree against an earlier build, in one interleaved run:
# the GET and PUT rows of `make bench` (wrk, scripts/bench/wrk.lua, 100-byte
# JSON values over 10000 preloaded keys) alternating between the two servers
# round after round, so both see the same machine load. Prints each round's
# requests/s and requests per server CPU-second (which a busy machine
# disturbs far less) with their after ÷ before ratios, then each op's
# median ratios.
#
# Usage: scripts/bench/before-after.sh BEFORE
#   BEFORE is a memcached-http binary or a git revision (built here).
# Environment: BENCH_DURATION (default 5s), BENCH_ROUNDS (default 5),
#   BENCH_CONNS (default 64), BENCH_KEYS (default 10000), BENCH_VALUE_SIZE
#   (default 100), BENCH_PORTS (a LO-HI range for the two servers; default random).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
[ $# -eq 1 ] || { echo "usage: $0 BEFORE (a memcached-http binary or a git revision)" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

duration="${BENCH_DURATION:-5s}"
rounds="${BENCH_ROUNDS:-5}"
conns="${BENCH_CONNS:-64}"
keys="${BENCH_KEYS:-10000}"
value_size="${BENCH_VALUE_SIZE:-100}"

work="$(mktemp -d)"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/after" ./cmd/memcached-http
go build -o "$work/memcached-bench" ./cmd/memcached-bench
if [ -x "$1" ]; then
	cp "$1" "$work/before"
else
	mkdir "$work/src"
	git archive "$1" | tar -x -C "$work/src"
	(cd "$work/src" && go build -o "$work/before" ./cmd/memcached-http)
fi

server_pin=() load_pin=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	server_pin=(taskset -c 0) load_pin=(taskset -c 1)
fi

# free_port prints a loopback port nobody listens on, from BENCH_PORTS
# (e.g. 18310-18319) or at random.
free_port() {
	local lo=20000 hi=59999 p
	if [ -n "${BENCH_PORTS:-}" ]; then lo="${BENCH_PORTS%-*}" hi="${BENCH_PORTS#*-}"; fi
	for _ in $(seq 200); do
		p=$((lo + RANDOM % (hi - lo + 1)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	echo "no free port in $lo-$hi" >&2
	return 1
}

declare -A port pid
for build in before after; do
	port[$build]="$(free_port)"
	"${server_pin[@]}" "$work/$build" -addr "127.0.0.1:${port[$build]}" -log-level warn 2>"$work/$build.log" &
	pids+=($!)
	pid[$build]=$!
	for _ in $(seq 300); do
		(exec 3<>"/dev/tcp/127.0.0.1/${port[$build]}") 2>/dev/null && break
		sleep 0.1
	done
	"${load_pin[@]}" "$work/memcached-bench" -url "http://127.0.0.1:${port[$build]}" -mix get -duration 200ms \
		-conns "$conns" -keys "$keys" -value-size "$value_size" >/dev/null
done

# cpu BUILD prints the server's user+system CPU seconds so far.
cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/${pid[$1]}/stat"
}

# run BUILD OP runs wrk once and prints its requests/s and the requests per
# server CPU-second, which a busy machine disturbs far less than the rate.
run() {
	local c0 c1 out
	c0="$(cpu "$1")"
	out="$(BENCH_WRK_LABEL="$1-$2" BENCH_WRK_TARGET=memcached BENCH_WRK_OP="$2" BENCH_WRK_KEYS="$keys" \
		BENCH_WRK_VALUE="$value_size" BENCH_WRK_CONNS="$conns" \
		"${load_pin[@]}" wrk -t 1 -c "$conns" -d "$duration" --timeout 5s -s scripts/bench/wrk.lua \
		"http://127.0.0.1:${port[$1]}/" 2>/dev/null | sed -n 's/^BENCHJSON //p')"
	c1="$(cpu "$1")"
	awk -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" -v line="$out" 'BEGIN {
		match(line, /"requests":[0-9]+/); n = substr(line, RSTART + 11, RLENGTH - 11)
		match(line, /"requests_per_s":[0-9.]+/); r = substr(line, RSTART + 17, RLENGTH - 17)
		printf "%.1f %.1f\n", r, n / c
	}'
}

# median prints the median of its arguments.
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A rates cpus
for round in $(seq "$rounds"); do
	for op in get set; do
		# Alternate which build goes first, so neither always runs on the warmer machine.
		if [ $((round % 2)) -eq 1 ]; then
			b="$(run before "$op")" a="$(run after "$op")"
		else
			a="$(run after "$op")" b="$(run before "$op")"
		fi
		read -r br bc <<<"$b"
		read -r ar ac <<<"$a"
		rr="$(awk -v a="$ar" -v b="$br" 'BEGIN { printf "%.3f", a / b }')"
		cr="$(awk -v a="$ac" -v b="$bc" 'BEGIN { printf "%.3f", a / b }')"
		rates[$op]+="$rr "
		cpus[$op]+="$cr "
		printf 'round %d %s: before %.0f/s (%.0f per CPU-s), after %.0f/s (%.0f per CPU-s): after/before %s, per CPU-s %s (load %s)\n' \
			"$round" "$op" "$br" "$bc" "$ar" "$ac" "$rr" "$cr" "$(cut -d' ' -f1 /proc/loadavg)"
	done
done
for op in get set; do
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	printf '%s: median after/before %s requests/s, %s requests per server CPU-second, over %d rounds\n' \
		"$op" "$(median ${rates[$op]})" "$(median ${cpus[$op]})" "$rounds"
done
