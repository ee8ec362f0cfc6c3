# shellcheck shell=bash
# Sourced by the bench scripts: caps the CPU the servers under test may use
# together, so that the load generator, with a whole core of its own, is
# never what sets the pace. On a machine where one wrk core is slower than
# one server core every closed row came out client-bound (wrk at 77-84 % of
# its core) and no ratio could be stated; with the servers at 0.6 of a core
# wrk used 18-43 % (make bench, 2026-12-02). Every server, ours and its
# baselines alike, gets the same cap, so the ratios compare the same budget.
#
# BENCH_SERVER_CPU   share of one core the servers get together (default
#                    0.6); 0 turns the cap off. Enforced with a CPU cgroup
#                    (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), 5 ms
#                    periods (BENCH_SERVER_CPU_PERIOD_US; 2 ms gave p99s
#                    about 10 % worse for ours, the same for Webdis), which
#                    needs root and a writable cgroup tree.
#
# After sourcing: cpucap_setup LOGFN, then "${server_cap[@]}" CMD… runs CMD
# inside the cap, $cap_note says what was done, cpucap_lift ends the cap
# for the paced rows, cpucap_cleanup removes the cgroup once every capped
# process has exited.

server_cap=()
cap_share="" # the share while capped, empty when not
cap_note="servers not capped"
cap_dir=""
cap_period=""

# cpucap_quota QUOTA sets the cgroup's quota per period (µs; "max" for none),
# in whichever of cgroup v2 or v1 it lives.
cpucap_quota() {
	if [ -f "$cap_dir/cpu.max" ]; then
		echo "$1 $cap_period" >"$cap_dir/cpu.max"
	else
		[ "$1" = max ] && set -- -1
		echo "$cap_period" >"$cap_dir/cpu.cfs_period_us" && echo "$1" >"$cap_dir/cpu.cfs_quota_us"
	fi
}

# cpucap_setup makes the cgroup; without one it leaves the servers uncapped
# and says why in $cap_note.
cpucap_setup() {
	local share="${BENCH_SERVER_CPU:-0.6}" quota base=""
	cap_period="${BENCH_SERVER_CPU_PERIOD_US:-5000}"
	if awk -v s="$share" 'BEGIN { exit !(s + 0 <= 0) }'; then
		cap_note="servers not capped (BENCH_SERVER_CPU=$share)"
		return 0
	fi
	quota="$(awk -v s="$share" -v p="$cap_period" 'BEGIN { printf "%d", s * p }')"
	if [ "$quota" -lt 1000 ]; then
		quota=1000 # the kernel's smallest quota
	fi
	if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
		base=/sys/fs/cgroup
		grep -qw cpu "$base/cgroup.subtree_control" 2>/dev/null || echo +cpu >"$base/cgroup.subtree_control" 2>/dev/null || true
	elif [ -w /sys/fs/cgroup/cpu ]; then
		base=/sys/fs/cgroup/cpu
	elif [ -w /sys/fs/cgroup/cpu,cpuacct ]; then
		base=/sys/fs/cgroup/cpu,cpuacct
	fi
	if [ -n "$base" ]; then
		cap_dir="$base/memcached-http-bench.$$"
		if ! { mkdir "$cap_dir" && cpucap_quota "$quota"; } 2>/dev/null; then
			rmdir "$cap_dir" 2>/dev/null || true
			cap_dir=""
		fi
	fi
	if [ -z "$cap_dir" ]; then
		cap_note="servers not capped: no writable CPU cgroup (needs root; BENCH_SERVER_CPU=0 silences this), so rows may come out client-bound"
		"$1" "$cap_note"
		return 0
	fi
	# The child moves itself into the cgroup, then becomes the server.
	server_cap=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cap_dir")
	cap_share="$share"
	cap_note="the servers capped together at $share of a core (a CPU cgroup: $(awk -v q="$quota" 'BEGIN { printf "%g", q / 1000 }') ms of every $((cap_period / 1000)) ms), the load generator uncapped"
}

# cpucap_lift lifts the cap (the cgroup stays, its processes in it): for
# paced rows, where the load is below what the servers can take and the
# cap's pauses would only show up as latency.
cpucap_lift() {
	[ -z "$cap_dir" ] || cpucap_quota max
}

# cpucap_cleanup removes the cgroup; call it after the capped processes exit.
cpucap_cleanup() {
	if [ -n "$cap_dir" ]; then
		rmdir "$cap_dir" 2>/dev/null || true
	fi
}
