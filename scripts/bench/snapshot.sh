#!/usr/bin/env bash
# Snapshot benchmark (what `make bench-snapshot` runs).
#
# 1. Engine: write and load of a snapshot of 1 GiB of 100-byte and of 10 KB
#    values, in interleaved rounds against a plain write+fsync of as many
#    bytes (the disk) and Put of the same items (the engine's insert speed):
#    BenchmarkSnapshot1GiB in internal/cache/snapshot.
# 2. Server: two memcached-http processes load the same 1 GiB snapshot of
#    100-byte values (the load time is read from their logs); one also runs
#    -snapshot-interval 1s, so it is writing a periodic snapshot all the
#    time. wrk GETs random keys of each in turn (interleaved rounds); the p99
#    ratio of each round is "during a periodic snapshot" over "normal".
#
# Environment:
#   SNAPSHOT_BENCH_BYTES  value bytes (default 1073741824)
#   BENCH_DURATION        wrk time per run (default 10s), BENCH_ROUNDS (default 5)
#   BENCH_CONNS           wrk connections (default 16), BENCH_KEYS wrk key space (default 200000)
#   BENCH_SKIP_ENGINE=1   skip part 1
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bytes="${SNAPSHOT_BENCH_BYTES:-1073741824}"
duration="${BENCH_DURATION:-10s}"
rounds="${BENCH_ROUNDS:-5}"
conns="${BENCH_CONNS:-16}"
keys="${BENCH_KEYS:-200000}"

log() { printf 'bench-snapshot: %s\n' "$*" >&2; }
if ! command -v wrk >/dev/null 2>&1; then
	log "wrk not found: install it: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk (macOS)"
	exit 1
fi

work="$(mktemp -d)"
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_SKIP_ENGINE:-0}" != 1 ]; then
	log "engine: write and load of $bytes value bytes (takes several minutes)"
	SNAPSHOT_BENCH_BYTES="$bytes" SNAPSHOT_BENCH_DIR="$work" \
		go test -run '^$' -bench Snapshot1GiB -benchtime 1x -timeout 60m ./internal/cache/snapshot/ | grep -E '^Benchmark|^(goos|goarch|cpu):'
fi

go build -o "$work/memcached-http" ./cmd/memcached-http
go run ./scripts/bench/snapgen -out "$work/a.snapshot" -bytes "$bytes" -value 100 -ns bench >&2
cp "$work/a.snapshot" "$work/b.snapshot"
limit=$(( bytes / 100 * 260 + (256 << 20) ))

# start NAME ARGS... starts a server on a free port, waits until /readyz
# is 200 (the snapshot is loaded) and sets port_NAME. Logs are at warn, so
# request lines do not cost the run; the load time is measured here, from
# the process start to the first 200 from /readyz.
start() {
	local name="$1"
	shift
	local t0
	t0="$(date +%s.%N)"
	# -addr :0 picks the port; the "listening" line is the only info line
	# needed, so the level drops to warn right after it through the env.
	"$work/memcached-http" -addr 127.0.0.1:0 -memory-limit "$limit" -log-level warn "$@" 2>"$work/$name.log" &
	pids+=($!)
	local pid=$! port="" i
	for i in $(seq 3000); do
		port="$(ss -ltnpH 2>/dev/null | sed -n "s/.*127.0.0.1:\([0-9]*\) .*pid=$pid,.*/\1/p" | head -1)"
		[ -n "$port" ] && curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.02
	done
	[ -n "$port" ] || { log "$name never listened"; cat "$work/$name.log" >&2; exit 1; }
	log "$name: ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s (process start, snapshot load, /readyz 200)"
	printf -v "port_$name" '%s' "$port"
}
start normal -snapshot "$work/a.snapshot"
start periodic -snapshot "$work/b.snapshot" -snapshot-interval 1s

run_wrk() {
	BENCH_WRK_LABEL="$1" BENCH_WRK_TARGET=memcached BENCH_WRK_OP=get BENCH_WRK_RAW=1 BENCH_WRK_NS=bench \
		BENCH_WRK_KEYS="$keys" BENCH_WRK_VALUE=100 BENCH_WRK_CONNS="$conns" BENCH_WRK_HZ="$(getconf CLK_TCK)" \
		wrk -t 1 -c "$conns" -d "$duration" --timeout 5s -s "$root/scripts/bench/wrk.lua" "http://127.0.0.1:$2/" 2>/dev/null |
		sed -n 's/^BENCHJSON //p'
}
p99() { sed -n 's/.*"p99":\([0-9.]*\).*/\1/p'; }
rps() { sed -n 's/.*"requests_per_s":\([0-9.]*\).*/\1/p'; }
cpu() { sed -n 's/.*"client_cpu_percent":\([0-9.]*\).*/\1/p'; }

printf '| round | load avg | normal p99 µs | normal req/s | during snapshot p99 µs | during req/s | p99 ratio | snapshot being written | snapshots completed | wrk CPU %% |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
ratios=()
for round in $(seq "$rounds"); do
	a="$(run_wrk normal "$port_normal")"
	# How much of the run a periodic snapshot was being written (its
	# temporary file exists), sampled every 0.1 s, and how many completed
	# (each renames a new file, with a new inode, over b.snapshot).
	(
		last="" n=0 on=0 all=0
		while :; do
			ino="$(stat -c %i "$work/b.snapshot" 2>/dev/null || true)"
			if [ -n "$last" ] && [ "$ino" != "$last" ]; then n=$((n + 1)); fi
			last="$ino"
			all=$((all + 1))
			[ -e "$work/b.snapshot.tmp" ] && on=$((on + 1))
			echo "$n $((100 * on / all))" >"$work/count"
			sleep 0.1
		done
	) &
	watcher=$!
	echo "0 0" >"$work/count"
	b="$(run_wrk periodic "$port_periodic")"
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	read -r done_n busy <"$work/count"
	ratio="$(awk -v a="$(p99 <<<"$a")" -v b="$(p99 <<<"$b")" 'BEGIN { printf "%.2f", b / a }')"
	ratios+=("$ratio")
	printf '| %d | %s | %s | %s | %s | %s | %s | %s %% of the run | %s | %s / %s |\n' "$round" "$(cut -d' ' -f1 /proc/loadavg)" \
		"$(p99 <<<"$a")" "$(rps <<<"$a")" "$(p99 <<<"$b")" "$(rps <<<"$b")" "$ratio" "$busy" "$done_n" "$(cpu <<<"$a")" "$(cpu <<<"$b")"
done
printf '\nMedian p99 ratio (during a periodic snapshot / normal) over %d rounds: %s (target ≤ 2)\n' "$rounds" \
	"$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
t0="$(date +%s.%N)"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || true
log "normal: SIGTERM to exit (drain and the snapshot at shutdown) $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
