#!/usr/bin/env bash
# HTTP load benchmark of memcached-http (what `make bench` runs).
#
# Builds memcached-http and memcached-bench, starts on this machine
#   ours        memcached-http with the embedded store
#   ours-redis  memcached-http with -store redis://… on the redis-server below
#   ceiling     memcached-bench -serve-fixed: bare net/http, fixed body of the value size
#   webdis      Webdis over the same redis-server (the like-for-like peer)
# and measures, in interleaved rounds (each row's median taken, each ratio the
# median of its per-round ratios):
#   closed model, with wrk (scripts/bench/wrk.lua): GET hits (JSON, and raw
#            octet-stream), PUT set, incr, batchGet of 100 keys; the same
#            GET/SET/INCR on Webdis; GET and PUT set on ours-redis; the ceiling
#   memcached-bench: once a get:90,set:10 zipf mix; in interleaved rounds
#            the p99 of GETs and SETs, ours and Webdis's, in the open model
#            at half of ours' GET peak
# Every row reports its load generator's CPU; a row whose generator used more
# than 70 % of its core is marked client-bound and no ratio uses it. The
# tables go under "## HTTP load" in BENCHMARKS.md (only that section).
# Servers and load generator are pinned to separate cores with taskset when
# the machine has at least two; the load average is recorded with each round.
#
# Environment:
#   BENCH_DURATION   measuring time per run (default 5s; a full run then takes
#                    about 5 minutes; e.g. BENCH_DURATION=1s BENCH_ROUNDS=1 for a smoke run)
#   BENCH_CONNS      keep-alive connections (default 64)
#   BENCH_KEYS       key space (default 10000), BENCH_VALUE_SIZE bytes (default 100)
#   BENCH_BATCH      keys per batchGet (default 100)
#   BENCH_ROUNDS     interleaved rounds (default 5)
#   BENCH_SERVER_CPU share of one core the servers get together (default 0.6,
#                    0 for no cap; scripts/bench/cpucap.sh says why)
#   BENCH_INSTALL    0 forbids apt-get install of wrk/webdis/redis-server (default 1)
#   BENCH_OUTPUT     file to write the section into (default BENCHMARKS.md)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

duration="${BENCH_DURATION:-5s}"
conns="${BENCH_CONNS:-64}"
keys="${BENCH_KEYS:-10000}"
value_size="${BENCH_VALUE_SIZE:-100}"
batch="${BENCH_BATCH:-100}"
rounds="${BENCH_ROUNDS:-5}"
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
	cpucap_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }

# shellcheck source=scripts/bench/cpucap.sh
. "$root/scripts/bench/cpucap.sh"

# free_port prints a loopback TCP port nobody listens on, below the kernel's
# ephemeral range, where an outgoing connection may hold a port without
# listening on it (and bind would then fail).
free_port() {
	local port lo
	lo="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % (lo > 21000 ? lo - 20000 : 1000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# wait_port waits up to 30 s for a listener on 127.0.0.1:$1.
wait_port() {
	for _ in $(seq 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	log "nothing listens on 127.0.0.1:$1${2:+ ($2 did not start; its log follows)}"
	[ -n "${2:-}" ] && [ -f "$2" ] && cat "$2" >&2
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

cpucap_setup log

load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

# Debian packages the rows need, installed when allowed: wrk for every closed
# row; webdis and redis-server for the Webdis and over-Redis rows.
missing=()
for cmd in wrk webdis redis-server; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ "${#missing[@]}" -gt 0 ] && [ "${BENCH_INSTALL:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	log "installing ${missing[*]}"
	install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}")
	if ! "${install[@]}" >"$work/apt.log" 2>&1; then
		# A stale package list is the usual cause; refresh once.
		if apt-get update >>"$work/apt.log" 2>&1; then
			"${install[@]}" >>"$work/apt.log" 2>&1 || log "apt-get install ${missing[*]} failed"
		fi
	fi
fi
if ! command -v wrk >/dev/null 2>&1; then
	log "wrk not found: the closed-model rows need it. Install it: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk (macOS)"
	exit 1
fi
wrk_version="$( (wrk -v 2>&1 || true) | sed -n '1s/^wrk \([^ ]*\).*/\1/p')"
clk_tck="$(getconf CLK_TCK 2>/dev/null || echo 100)"

log "building"
go build -o "$work/memcached-http" ./cmd/memcached-http
go build -o "$work/memcached-bench" ./cmd/memcached-bench
bench=("${load_pin[@]}" "$work/memcached-bench")

# serving[PORT] lists the processes that serve a row's requests, whose CPU
# per request each wrk row reports (Webdis and the Redis store count their
# redis-server too).
declare -A serving
ours_port="$(free_port)"
"${server_pin[@]}" "${server_cap[@]}" "$work/memcached-http" -addr "127.0.0.1:$ours_port" -log-level warn 2>"$work/memcached-http.log" &
pids+=($!)
serving[$ours_port]=$!
wait_port "$ours_port" "$work/memcached-http.log"

ceiling_port="$(free_port)"
"${server_pin[@]}" "${server_cap[@]}" "$work/memcached-bench" -serve-fixed -addr "127.0.0.1:$ceiling_port" -value-size "$value_size" >"$work/ceiling.log" 2>&1 &
pids+=($!)
serving[$ceiling_port]=$!
wait_port "$ceiling_port" "$work/ceiling.log"

webdis_port=""
redis_port=""
ours_redis_port=""
if command -v webdis >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
	redis_port="$(free_port)"
	"${server_pin[@]}" "${server_cap[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no --logfile "$work/redis.log" &
	pids+=($!)
	redis_pid=$!
	wait_port "$redis_port" "$work/redis.log"
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
	"${server_pin[@]}" "${server_cap[@]}" webdis "$work/webdis.json" &
	pids+=($!)
	serving[$webdis_port]="$! $redis_pid"
	wait_port "$webdis_port" "$work/webdis.log"
	ours_redis_port="$(free_port)"
	"${server_pin[@]}" "${server_cap[@]}" "$work/memcached-http" -addr "127.0.0.1:$ours_redis_port" -log-level warn \
		-store "redis://127.0.0.1:$redis_port/0" 2>"$work/memcached-http-redis.log" &
	pids+=($!)
	serving[$ours_redis_port]="$! $redis_pid"
	wait_port "$ours_redis_port" "$work/memcached-http-redis.log"
	webdis_note="Webdis $(dpkg-query -W -f='${Version}' webdis 2>/dev/null || echo '?') and \`memcached-http -store redis://…\` over one Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), all on the server cores."
else
	webdis_note="Webdis and over-Redis rows skipped: webdis or redis-server is not installed and could not be (BENCH_INSTALL=0, not root, or apt-get failed)."
	log "$webdis_note"
fi

results="$work/results.jsonl"
common=(-duration "$duration" -conns "$conns" -keys "$keys" -value-size "$value_size" -json)

# measure LABEL ARGS… runs memcached-bench once and appends its JSON line.
measure() {
	local label="$1"
	shift
	log "$label: memcached-bench $*"
	"${bench[@]}" "${common[@]}" -label "$label" "$@" >>"$results"
}

# preload URL ARGS… stores every key once (memcached-bench's preload, then a
# moment of GETs), so the GET rows hit.
preload() {
	local url="$1"
	shift
	log "preloading $url"
	"${bench[@]}" -url "$url" -mix get -duration 200ms -conns "$conns" -keys "$keys" -value-size "$value_size" "$@" >/dev/null
}

# cpu_ticks PID… prints the user + system clock ticks the processes have used
# (every thread), from /proc/PID/stat.
cpu_ticks() {
	local pid total=0 rest
	for pid in "$@"; do
		# Fields after the command name, which is in parentheses; utime and
		# stime are the 12th and 13th of them.
		rest="$(sed 's/^.*) //' "/proc/$pid/stat")"
		total=$((total + $(awk '{ print $12 + $13 }' <<<"$rest")))
	done
	echo "$total"
}

# cap_stat prints the cap cgroup's throttle count and throttled time in µs
# (cpu.stat: v1 has throttled_time in ns, v2 throttled_usec), or nothing when
# the servers are not capped.
cap_stat() {
	[ -n "$cap_share" ] && [ -f "$cap_dir/cpu.stat" ] || return 0
	awk '$1 == "nr_throttled" { n = $2 } $1 == "throttled_time" { us = $2 / 1000 } $1 == "throttled_usec" { us = $2 }
		END { printf "%.0f %.0f\n", n, us }' "$cap_dir/cpu.stat"
}

# wrk_row LABEL TARGET OP PORT [raw] runs wrk once (one thread per load core,
# $conns connections) and appends the JSON line scripts/bench/wrk.lua prints,
# with the CPU the row's serving processes used per request added.
wrk_row() {
	local label="$1" target="$2" op="$3" port="$4" raw=0
	[ "${5:-}" = raw ] && raw=1
	log "$label: wrk $target $op"
	local out before after line requests cap_before cap_after
	# shellcheck disable=SC2086 # serving holds a list of pids
	before="$(cpu_ticks ${serving[$port]})"
	cap_before="$(cap_stat)"
	out="$(BENCH_WRK_LABEL="$label" BENCH_WRK_TARGET="$target" BENCH_WRK_OP="$op" BENCH_WRK_RAW="$raw" \
		BENCH_WRK_KEYS="$keys" BENCH_WRK_VALUE="$value_size" BENCH_WRK_CONNS="$conns" BENCH_WRK_HZ="$clk_tck" BENCH_WRK_BATCH="$batch" \
		"${load_pin[@]}" wrk -t "$wrk_threads" -c "$conns" -d "$duration" --timeout 5s \
		-s "$root/scripts/bench/wrk.lua" "http://127.0.0.1:$port/")"
	if ! grep -q '^BENCHJSON ' <<<"$out"; then
		log "$label: wrk printed no result:"
		printf '%s\n' "$out" >&2
		return 1
	fi
	# shellcheck disable=SC2086
	after="$(cpu_ticks ${serving[$port]})"
	cap_after="$(cap_stat)"
	line="$(sed -n 's/^BENCHJSON //p' <<<"$out")"
	if [ -n "$cap_before" ] && [ -n "$cap_after" ]; then
		# shellcheck disable=SC2086 # two numbers each
		# Per second of the run as wrk timed it (its duration_s).
		line="${line%\}}$(awk -v s="$(sed -n 's/.*"duration_s":\([0-9.]*\).*/\1/p' <<<"$line")" -v b="$cap_before" -v a="$cap_after" 'BEGIN {
			split(b, x, " "); split(a, y, " "); n = y[1] - x[1]; us = y[2] - x[2]
			if (n > 0 && s > 0) printf ",\"cap_pauses_per_s\":%.1f,\"cap_pause_ms\":%.3f", n / s, us / n / 1000 }')}"
	fi
	requests="$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$line")"
	if [ "${requests:-0}" -gt 0 ]; then
		line="${line%\}},\"server_cpu_us_per_request\":$(awk -v t="$((after - before))" -v hz="$clk_tck" -v n="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')}"
	fi
	printf '%s\n' "$line" >>"$results"
}
wrk_threads=$((ncpu - ${half:-0}))

ours="http://127.0.0.1:$ours_port"
preload "$ours"
if [ -n "$webdis_port" ]; then
	preload "http://127.0.0.1:$webdis_port" -target webdis
	preload "http://127.0.0.1:$ours_redis_port"
fi

round_loads=()
for round in $(seq "$rounds"); do
	round_loads+=("$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')")
	log "round $round of $rounds (load average ${round_loads[-1]})"
	wrk_row ceiling-get fixed get "$ceiling_port"
	wrk_row ours-get memcached get "$ours_port"
	[ -z "$webdis_port" ] || wrk_row webdis-get webdis get "$webdis_port"
	[ -z "$webdis_port" ] || wrk_row ours-redis-get memcached get "$ours_redis_port"
	wrk_row ours-get-raw memcached get "$ours_port" raw
	wrk_row ours-set memcached set "$ours_port"
	[ -z "$webdis_port" ] || wrk_row webdis-set webdis set "$webdis_port"
	[ -z "$webdis_port" ] || wrk_row ours-redis-set memcached set "$ours_redis_port"
	wrk_row ours-incr memcached incr "$ours_port"
	[ -z "$webdis_port" ] || wrk_row webdis-incr webdis incr "$webdis_port"
	# By wrk too, so batchGet and single GET keys/s come from one generator.
	wrk_row ours-batchget memcached batchget "$ours_port"
done

peak="$("$work/memcached-bench" -results "$results" -median ours-get)"
# The open model is paced, below what the server can take, so it runs
# uncapped: the cap's pauses (2 ms in every 5) would be its p99. Its rate
# stays half the peak measured under the cap: scaled to a whole core
# (peak / share / 2) memcached-bench, slower than wrk, used 70 % of its core
# and the row came out client-bound.
paced_note="at half the median GET peak"
if [ -n "$cap_share" ]; then
	paced_note="with the cap lifted (a paced load, where the cap's pauses would only show as latency), at half the median GET peak measured under the cap, so about $(awk -v s="$cap_share" 'BEGIN { printf "%.2f", s / 2 }') of what the server takes on a whole core"
fi
half_rate=$((peak / 2))
measure ours-mix -url "$ours" -mix get:90,set:10 -dist zipf
cpucap_lift
# The same paced load to Webdis, GET and SET, in interleaved rounds: a p99
# comparison at one offered load, which the cap does not decide (the closed
# rows' p99 are mostly how long the cap stalls each server).
for round in $(seq "$rounds"); do
	measure ours-get-halfpeak -url "$ours" -mix get -rate "$half_rate"
	[ -z "$webdis_port" ] || measure webdis-get-halfpeak -url "http://127.0.0.1:$webdis_port" -target webdis -mix get -rate "$half_rate"
	measure ours-set-halfpeak -url "$ours" -mix set -rate "$half_rate"
	[ -z "$webdis_port" ] || measure webdis-set-halfpeak -url "http://127.0.0.1:$webdis_port" -target webdis -mix set -rate "$half_rate"
done

# Requests the servers counted as failures (5xx), from their own metrics: a
# clean run has none, and a client closing its connections at the end of a
# run must not show up here as a backend error.
server_errors() {
	curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null |
		awk '/^memcached_http_requests_total\{/ && /code="5/ { n += $NF } END { print n + 0 }'
}
errors_note="5xx answers counted by memcached-http's own metrics over the whole run: $(server_errors "$ours_port") with the embedded store"
if [ -n "$ours_redis_port" ]; then
	errors_note="$errors_note, $(server_errors "$ours_redis_port") over Redis"
fi

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
	echo "- Machine: $ncpu CPUs (${cpu_model:-unknown CPU}), $(go version | cut -d' ' -f3-), $pinning, $cap_note; load average $load_before before, $load_after after$busy_note"
	echo "- Load: keep-alive HTTP/1.1, $conns connections, $keys keys (uniform unless noted), $value_size-byte values stored as JSON strings and read as JSON, preloaded so GETs hit. Closed-model rows, batchGet among them, are wrk $wrk_version (\`scripts/bench/wrk.lua\`, $wrk_threads thread(s) on the load core(s); a batchGet asks for $batch keys drawn at random from the key space, one of 1000 bodies rendered up front); the mix and the open model are \`memcached-bench\`. Each row is the median of its runs, $duration each; rounds interleaved, so each ratio is the median of its per-round ratios (their range beside it)."
	echo "- Load average (1 min) at the start of each round: ${round_loads[*]}."
	echo "- Ceiling: \`memcached-bench -serve-fixed\`, a bare net/http handler returning a fixed $value_size-byte body. $webdis_note"
	echo "- Rows: \`ours-*\` is memcached-http with the embedded store (\`ours-get-raw\` reads with \`Accept: application/octet-stream\`, as the ceiling's bare body), \`ours-redis-*\` the same binary with \`-store redis://…\`, \`ceiling-get\` the fixed-body server, \`webdis-*\` Webdis's \`GET /GET/k\`, \`PUT /SET/k\` and \`GET /INCR/n\`. Client CPU is the generator's own use of its core (user + system time over the run); a row over 70 % is **client-bound**, since the generator then sets the pace, and no ratio uses it. Server CPU per request is the user + system time the serving processes used over the run (memcached-http; the fixed-body server; Webdis plus redis-server; memcached-http plus redis-server over Redis) divided by the requests wrk counted: the ratios \"per server CPU-second\" compare that, which other work on the machine moves less than requests/s, and are what the requests/s ratios come to when the server core is the bottleneck."
	echo "- $errors_note."
	echo "- Half peak: $paced_note; the open model at $half_rate requests/s, latency measured from each request's scheduled send time. The \`*-halfpeak\` rows offer that one load to ours and to Webdis, GETs and SETs, in $rounds interleaved rounds."
	echo
	"$work/memcached-bench" -results "$results" -summarize
	echo
	echo "One row by hand (the generator refuses any target off loopback):"
	echo
	echo '```sh'
	echo 'go run ./cmd/memcached-bench -serve-fixed -addr 127.0.0.1:9000 -value-size 100 &   # the ceiling'
	echo 'go run ./cmd/memcached-bench -url http://127.0.0.1:8080 -mix get -duration 200ms  # preload the keys'
	echo 'BENCH_WRK_OP=get wrk -t1 -c64 -d5s -s scripts/bench/wrk.lua http://127.0.0.1:8080/'
	echo 'BENCH_WRK_TARGET=webdis BENCH_WRK_OP=set wrk -t1 -c64 -d5s -s scripts/bench/wrk.lua http://127.0.0.1:7379/'
	echo 'go run ./cmd/memcached-bench -url http://127.0.0.1:8080 -mix batchget -batch 100 -conns 64 -duration 10s'
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
