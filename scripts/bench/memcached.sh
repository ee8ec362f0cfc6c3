#!/usr/bin/env bash
# memcached protocol benchmark (run by `make bench` after scripts/bench/run.sh).
#
# Measures memcached-http's memcached listener (-memcached-addr, embedded
# store) against memcached 1.6 itself (`memcached -t 1`) with memcaslap
# (libmemcached's memaslap): 90 % get / 10 % set, 32-byte keys, 100-byte
# values. Both servers are pinned to the same core (ours with GOMAXPROCS=1),
# memcaslap to another; rounds are interleaved, the order alternating, so
# each ratio is the median of per-round ratios taken under the same load.
# Latency percentiles come from memcaslap's log2 histogram of all commands:
# the upper bound of the bucket holding the percentile, so they are exact to
# a factor of two and compare like with like. Every row reports memcaslap's
# own CPU use; a row over 70 % of its core is client-bound (memcaslap set the
# pace) and no ratio uses it. The tables go under "## memcached protocol" in
# BENCHMARKS.md (only that section).
#
# Environment:
#   BENCH_MC_DURATION     time per run (default 10s)
#   BENCH_MC_ROUNDS       interleaved rounds (default 5)
#   BENCH_MC_CONCURRENCY  memcaslap connections (default 16)
#   BENCH_SERVER_CPU      share of one core the two servers get together
#                         (default 0.6, 0 for none; scripts/bench/cpucap.sh)
#   BENCH_INSTALL         0 forbids apt-get install of memcached/libmemcached-tools (default 1)
#   BENCH_OUTPUT          file to write the section into (default BENCHMARKS.md)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

duration="${BENCH_MC_DURATION:-10s}"
rounds="${BENCH_MC_ROUNDS:-5}"
concurrency="${BENCH_MC_CONCURRENCY:-16}"
output="${BENCH_OUTPUT:-$root/BENCHMARKS.md}"

work="$(mktemp -d)"
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	cpucap_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-memcached: $*" >&2; }

# shellcheck source=scripts/bench/cpucap.sh
. "$root/scripts/bench/cpucap.sh"
cpucap_setup log

# need installs a Debian package for a missing tool when allowed, or stops.
need() {
	local tool="$1" pkg="$2"
	command -v "$tool" >/dev/null 2>&1 && return 0
	if [ "${BENCH_INSTALL:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing $pkg for $tool"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
		return 0
	fi
	log "$tool not found: install it (apt-get install -y $pkg)"
	exit 1
}
need memcaslap libmemcached-tools
need memcached memcached
[ -x /usr/bin/time ] || need /usr/bin/time time

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	local port="$1" i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	log "nothing listens on port $port"
	exit 1
}

ncpu="$(getconf _NPROCESSORS_ONLN)"
if command -v taskset >/dev/null 2>&1 && [ "$ncpu" -ge 2 ]; then
	server_core=$((ncpu - 1))
	server_pin=(taskset -c "$server_core")
	load_pin=(taskset -c 0)
	pinning="both servers on CPU $server_core, memcaslap on CPU 0 (taskset)"
else
	server_pin=()
	load_pin=()
	pinning="not pinned (taskset missing or a single core)"
fi

log "building memcached-http"
go build -o "$work/memcached-http" ./cmd/memcached-http

http_port="$(free_port)"
ours_port="$(free_port)"
theirs_port="$(free_port)"
GOMAXPROCS=1 "${server_pin[@]}" "${server_cap[@]}" "$work/memcached-http" -addr "127.0.0.1:$http_port" \
	-memcached-addr "127.0.0.1:$ours_port" -memory-limit $((64 << 20)) -log-level warn 2>"$work/ours.log" &
pids+=($!)
memcached_args=(-l 127.0.0.1 -p "$theirs_port" -U 0 -t 1 -m 64)
[ "$(id -u)" = 0 ] && memcached_args+=(-u nobody)
"${server_pin[@]}" "${server_cap[@]}" memcached "${memcached_args[@]}" &
pids+=($!)
wait_port "$ours_port"
wait_port "$theirs_port"
memcached_version="$(printf 'version\r\nquit\r\n' | python3 -c '
import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); print(s.makefile().readline().split()[1])' "$theirs_port")"

cat >"$work/mix.cfg" <<'EOF'
key
32 32 1
value
100 100 1
cmd
0 0.1
1 0.9
EOF

results="$work/results.tsv" # round target tps p50 p99 cpu
: >"$results"
round_loads=()

# run_one measures one target once and appends its row to $results.
run_one() {
	local round="$1" target="$2" port="$3" out="$work/$2-$1.txt"
	/usr/bin/time -f '%e %U %S' -o "$work/time" "${load_pin[@]}" memcaslap -s "127.0.0.1:$port" \
		-T 1 -c "$concurrency" -t "$duration" -S "$duration" -F "$work/mix.cfg" >"$out" 2>&1 || {
		log "memcaslap against $target failed:"
		tail -20 "$out" >&2
		exit 1
	}
	awk -v round="$round" -v target="$target" -v timefile="$work/time" '
		/^Total Statistics \(/ { total = 1; next }
		total && /Log2 Dist:/ { dist = 1; next }
		dist && /^ *[0-9]+:/ {
			k = $1 + 0
			for (i = 2; i <= NF; i++) { n[k + i - 2] = $i; sum += $i; if (k + i - 2 > maxk) maxk = k + i - 2 }
			next
		}
		dist && !/^ *[0-9]+:/ { dist = 0; total = 0 }
		/^Run time:/ { for (i = 1; i <= NF; i++) if ($i == "TPS:") tps = $(i + 1) }
		END {
			getline t < timefile; split(t, tm, " ")
			cpu = tm[1] > 0 ? 100 * (tm[2] + tm[3]) / tm[1] : 0
			c = 0; p50 = p99 = 0
			for (k = 0; k <= maxk; k++) {
				c += n[k]
				if (!p50 && c >= 0.50 * sum) p50 = 2 ^ (k + 1)
				if (!p99 && c >= 0.99 * sum) p99 = 2 ^ (k + 1)
			}
			printf "%s\t%s\t%d\t%d\t%d\t%.0f\n", round, target, tps, p50, p99, cpu
		}' "$out" >>"$results"
	log "round $round $target: $(tail -1 "$results" | cut -f3-)"
}

for round in $(seq "$rounds"); do
	round_loads+=("$(cut -d' ' -f1 /proc/loadavg)")
	if [ $((round % 2)) = 1 ]; then
		run_one "$round" memcached "$theirs_port"
		run_one "$round" ours "$ours_port"
	else
		run_one "$round" ours "$ours_port"
		run_one "$round" memcached "$theirs_port"
	fi
done

section="$work/section.md"
{
	echo "## memcached protocol"
	echo
	echo "Written by \`scripts/bench/memcached.sh\` (\`make bench\`); rerun it to refresh this section."
	echo
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- Machine: $ncpu CPUs, $(go version | cut -d' ' -f3-), $pinning, $cap_note; load average (1 min) at the start of each round: ${round_loads[*]}."
	echo "- Servers: \`memcached-http -memcached-addr\` (embedded store, 64 MiB, GOMAXPROCS=1) against memcached $memcached_version (\`memcached -t 1 -m 64\`), on the same core."
	busy="$(awk -v n="$ncpu" '{ for (i = 1; i <= NF; i++) if ($i + 0 > n) { print "yes"; exit } }' <<<"${round_loads[*]}")"
	if [ "$busy" = yes ]; then
		echo "- **Busy machine**: the load average passed the CPU count, so both servers shared their core with other work. The Go listener then has its runtime's other threads (network poller, garbage collector, blocked syscalls) to be scheduled as well, memcached's worker only one thread, which may favour ours; a quiet machine is the stricter test of these ratios."
	fi
	echo "- Load: \`memcaslap -T 1 -c $concurrency -t $duration\`, text protocol, 90 % get / 10 % set, 32-byte keys, 100-byte values; $rounds interleaved rounds. Latency is memcaslap's log2 histogram over all commands (upper bound of the percentile's bucket, µs). Client CPU is memcaslap's user + system time over the run."
	echo
	awk -F'\t' '
		{ tps[$1, $2] = $3; p50[$1, $2] = $4; p99[$1, $2] = $5; cpu[$1, $2] = $6; if ($1 > rounds) rounds = $1 }
		function median(a, n,    i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END {
			print "| round | memcached ops/s | ours ops/s | throughput ratio | memcached p50 / p99 (µs) | ours p50 / p99 (µs) | p99 ratio | memcaslap CPU (memcached / ours) |"
			print "|---|---|---|---|---|---|---|---|"
			m = 0
			for (r = 1; r <= rounds; r++) {
				bound = (cpu[r, "memcached"] > 70 || cpu[r, "ours"] > 70)
				tr = tps[r, "memcached"] ? tps[r, "ours"] / tps[r, "memcached"] : 0
				pr = p99[r, "memcached"] ? p99[r, "ours"] / p99[r, "memcached"] : 0
				note = bound ? " (client-bound, not used)" : ""
				printf "| %d | %d | %d | %.2f%s | %d / %d | %d / %d | %.2f | %d %% / %d %% |\n", r, tps[r, "memcached"], tps[r, "ours"], tr, note, p50[r, "memcached"], p99[r, "memcached"], p50[r, "ours"], p99[r, "ours"], pr, cpu[r, "memcached"], cpu[r, "ours"]
				if (!bound) { m++; trs[m] = tr; prs[m] = pr }
			}
			print ""
			if (m == 0) { print "Every round was client-bound: no ratio."; exit }
			t = median(trs, m); p = median(prs, m)
			printf "Median of %d rounds: throughput **%.2f×** memcached (target ≥ 0.8×: %s), p99 **%.2f×** memcached (target ≤ 2×: %s).\n", m, t, (t >= 0.8 ? "met" : "missed"), p, (p <= 2 ? "met" : "missed")
		}' "$results"
	echo
	echo "One run by hand:"
	echo
	echo '```sh'
	echo 'go run ./cmd/memcached-http -memcached-addr 127.0.0.1:11211 &'
	echo 'memcaslap -s 127.0.0.1:11211 -T 1 -c 16 -t 10s -S 10s   # default mix: 90 % get / 10 % set'
	echo '```'
	echo
} >"$section"

# Replace only our section: from "## memcached protocol" to the next "## " heading.
if [ -f "$output" ] && grep -q '^## memcached protocol[[:space:]]*$' "$output"; then
	awk -v section="$section" '
		/^## memcached protocol[[:space:]]*$/ { while ((getline line < section) > 0) print line; skip = 1; next }
		skip && /^## / { skip = 0 }
		!skip { print }
	' "$output" >"$work/out.md"
	cat "$work/out.md" >"$output"
elif [ -f "$output" ]; then
	{ echo; cat "$section"; } >>"$output"
else
	{ echo "# Benchmarks"; echo; cat "$section"; } >"$output"
fi
log "wrote the memcached protocol section of $output"
cat "$section"
