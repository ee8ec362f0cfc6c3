#!/usr/bin/env bash
# HTTP load benchmark of memcached-http (what `make bench` runs for issue 9).
#
# Builds memcached-http and memcached-bench, then on this machine measures, in
# three interleaved rounds (median taken):
#   ours     memcached-http: GET hits (JSON, and raw octet-stream), PUT set,
#            incr, batchGet of 100 keys
#   ceiling  memcached-bench -serve-fixed: bare net/http, fixed body of the value size
#   webdis   Webdis over Redis: the same GET and SET load (skipped, saying so,
#            when webdis/redis-server are missing and cannot be installed)
# then the p99 of GETs in the open model at half of the measured GET peak, and
# writes the tables under "## HTTP load" in BENCHMARKS.md (only that section).
# Server and load generator are pinned to separate cores with taskset when
# the machine has at least two.
#
# Environment:
#   BENCH_DURATION   measuring time per run (default 10s; a full run then takes
#                    about 4-5 minutes; e.g. BENCH_DURATION=2s for a smoke run)
#   BENCH_CONNS      keep-alive connections (default 64)
#   BENCH_KEYS       key space (default 10000), BENCH_VALUE_SIZE bytes (default 100)
#   BENCH_BATCH      keys per batchGet (default 100)
#   BENCH_ROUNDS     interleaved rounds (default 3)
#   BENCH_INSTALL    0 forbids apt-get install of webdis/redis-server (default 1)
#   BENCH_OUTPUT     file to write the section into (default BENCHMARKS.md)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

duration="${BENCH_DURATION:-10s}"
conns="${BENCH_CONNS:-64}"
keys="${BENCH_KEYS:-10000}"
value_size="${BENCH_VALUE_SIZE:-100}"
batch="${BENCH_BATCH:-100}"
rounds="${BENCH_ROUNDS:-3}"
output="${BENCH_OUTPUT:-$root/BENCHMARKS.md}"

work="$(mktemp -d)"
pids=()

# cleanup stops every process this script started, then removes its files.
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# wait_port waits up to 10 s for a listener on 127.0.0.1:$1.
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	log "nothing listens on 127.0.0.1:$1"
	return 1
}

# cores LO HI names a range of cores for the report.
cores() {
	if [ "$1" = "$2" ]; then echo "core $1"; else echo "cores $1-$2"; fi
}

# Pinning: the server side gets the first half of the cores, the load
# generator the rest, so neither steals the other's CPU.
ncpu="$(nproc)"
server_pin=()
load_pin=()
if command -v taskset >/dev/null 2>&1 && [ "$ncpu" -ge 2 ]; then
	half=$((ncpu / 2))
	server_pin=(taskset -c "0-$((half - 1))")
	load_pin=(taskset -c "$half-$((ncpu - 1))")
	pinning="servers on $(cores 0 $((half - 1))), load generator on $(cores "$half" $((ncpu - 1))) (taskset)"
else
	pinning="not pinned (taskset missing or a single core)"
fi

load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

log "building"
go build -o "$work/memcached-http" ./cmd/memcached-http
go build -o "$work/memcached-bench" ./cmd/memcached-bench
bench=("${load_pin[@]}" "$work/memcached-bench")

ours_port="$(free_port)"
"${server_pin[@]}" "$work/memcached-http" -addr "127.0.0.1:$ours_port" -log-level warn 2>"$work/memcached-http.log" &
pids+=($!)
wait_port "$ours_port"

ceiling_port="$(free_port)"
"${server_pin[@]}" "$work/memcached-bench" -serve-fixed -addr "127.0.0.1:$ceiling_port" -value-size "$value_size" >"$work/ceiling.log" 2>&1 &
pids+=($!)
wait_port "$ceiling_port"

# Webdis over Redis, installed from Debian's packages when allowed.
webdis_note=""
if ! command -v webdis >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
	if [ "${BENCH_INSTALL:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing webdis and redis-server"
		install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends webdis redis-server)
		if ! "${install[@]}" >"$work/apt.log" 2>&1; then
			# A stale package list is the usual cause; refresh once. Failing
			# again only skips the Webdis rows, reported below.
			if apt-get update >>"$work/apt.log" 2>&1; then
				"${install[@]}" >>"$work/apt.log" 2>&1 || log "apt-get install webdis redis-server failed"
			fi
		fi
	fi
fi
webdis_port=""
if command -v webdis >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
	redis_port="$(free_port)"
	"${server_pin[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no --logfile "$work/redis.log" &
	pids+=($!)
	wait_port "$redis_port"
	webdis_port="$(free_port)"
	# One Webdis thread per server core: more would only contend with Redis.
	cat >"$work/webdis.json" <<JSON
{
	"redis_host": "127.0.0.1", "redis_port": $redis_port, "redis_auth": null,
	"http_host": "127.0.0.1", "http_port": $webdis_port,
	"threads": ${half:-1}, "pool_size": 20, "daemonize": false, "database": 0,
	"acl": [{"disabled": ["DEBUG"]}],
	"verbosity": 0, "logfile": "$work/webdis.log"
}
JSON
	"${server_pin[@]}" webdis "$work/webdis.json" &
	pids+=($!)
	wait_port "$webdis_port"
	webdis_note="Webdis $(dpkg-query -W -f='${Version}' webdis 2>/dev/null || echo '?') over Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')."
else
	webdis_note="Webdis rows skipped: webdis or redis-server is not installed and could not be (BENCH_INSTALL=0, not root, or apt-get failed)."
	log "$webdis_note"
fi

results="$work/results.jsonl"
common=(-duration "$duration" -conns "$conns" -keys "$keys" -value-size "$value_size" -json)

# measure LABEL ARGS… runs the generator once and appends its JSON line.
measure() {
	local label="$1"
	shift
	log "$label: $*"
	"${bench[@]}" "${common[@]}" -label "$label" "$@" >>"$results"
}

ours="http://127.0.0.1:$ours_port"
for round in $(seq "$rounds"); do
	log "round $round of $rounds"
	measure ours-get -url "$ours" -mix get
	measure ours-get-raw -url "$ours" -mix get -raw
	measure ceiling-get -url "http://127.0.0.1:$ceiling_port" -target fixed
	if [ -n "$webdis_port" ]; then
		measure webdis-get -url "http://127.0.0.1:$webdis_port" -target webdis -mix get
	fi
	measure ours-set -url "$ours" -mix set
	if [ -n "$webdis_port" ]; then
		measure webdis-set -url "http://127.0.0.1:$webdis_port" -target webdis -mix set
	fi
	measure ours-incr -url "$ours" -mix incr
	measure ours-batchget -url "$ours" -mix batchget -batch "$batch"
done

peak="$("$work/memcached-bench" -results "$results" -median ours-get)"
half_rate=$((peak / 2))
measure ours-get-halfpeak -url "$ours" -mix get -rate "$half_rate"

load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
# A 1-minute load average above the core count means other work shared the
# cores with the benchmark, which the reader should know.
busy_note=""
if awk -v a="${load_before%% *}" -v b="${load_after%% *}" -v n="$ncpu" 'BEGIN { exit !(a + 0 > n || b + 0 > n) }'; then
	busy_note=" (above $ncpu: other work shared the cores, so the figures are noisy)"
fi
tree_state=""
if [ -n "$(git status --porcelain -- cmd internal go.mod go.sum 2>/dev/null)" ]; then
	tree_state=" plus uncommitted changes in the working tree"
fi
command_line="BENCH_DURATION=$duration BENCH_CONNS=$conns BENCH_KEYS=$keys BENCH_VALUE_SIZE=$value_size BENCH_BATCH=$batch BENCH_ROUNDS=$rounds scripts/bench/run.sh"
cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
section="$work/section.md"
{
	echo "## HTTP load"
	echo
	echo "Written by \`scripts/bench/run.sh\` (\`make bench\`); rerun it to refresh this section."
	echo
	echo "- Command: \`$command_line\`"
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$tree_state"
	echo "- Machine: $ncpu CPUs (${cpu_model:-unknown CPU}), $(go version | cut -d' ' -f3-), $pinning; load average $load_before before, $load_after after$busy_note"
	echo "- Load: memcached-bench, keep-alive HTTP/1.1, closed model unless noted, $keys keys (uniform), $value_size-byte values stored as JSON strings and read as JSON, preloaded so GETs hit; each row is the median of its runs, $duration each, rounds interleaved."
	echo "- Ceiling: \`memcached-bench -serve-fixed\`, a bare net/http handler returning a fixed $value_size-byte body. $webdis_note"
	echo "- Rows: \`ours-*\` is memcached-http (\`ours-get-raw\` reads with \`Accept: application/octet-stream\`, as the ceiling's bare body), \`ceiling-get\` the fixed-body server, \`webdis-*\` Webdis's \`GET /GET/k\` and \`PUT /SET/k\`. Client CPU is the generator's own use of its core: near 100 % would mean the client, not the server, set the pace."
	echo "- Half peak: open model at half the median GET peak ($half_rate requests/s), latency measured from each request's scheduled send time."
	echo
	"$work/memcached-bench" -results "$results" -summarize
	echo
	echo "One row by hand (the generator refuses any target off loopback):"
	echo
	echo '```sh'
	echo 'go run ./cmd/memcached-bench -serve-fixed -addr 127.0.0.1:9000 -value-size 100 &   # the ceiling'
	echo 'go run ./cmd/memcached-bench -url http://127.0.0.1:8080 -mix get -conns 64 -duration 10s'
	echo 'go run ./cmd/memcached-bench -url http://127.0.0.1:8080 -mix get:90,set:10 -dist zipf -rate 20000'
	echo 'go run ./cmd/memcached-bench -url http://127.0.0.1:7379 -target webdis -mix set'
	echo '```'
	echo
} >"$section"

# Replace only our section: from "## HTTP load" to the next "## " heading.
if [ -f "$output" ] && grep -q '^## HTTP load[[:space:]]*$' "$output"; then
	awk -v section="$section" '
		/^## HTTP load[[:space:]]*$/ { while ((getline line < section) > 0) print line; skip = 1; next }
		skip && /^## / { skip = 0 }
		!skip { print }
	' "$output" >"$work/out.md"
	cat "$work/out.md" >"$output"
elif [ -f "$output" ]; then
	{ echo; cat "$section"; } >>"$output"
else
	{ echo "# Benchmarks"; echo; cat "$section"; } >"$output"
fi
log "wrote the HTTP load section of $output"
cat "$section"
