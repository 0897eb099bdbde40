#!/usr/bin/env bash
# bench/live-event-path.sh [PAIRS] [EVENTS]: the event path of an app recording into a live
# session (`rttng create --live`, streaming to rttng-relayd) against a local session (`-o DIR`),
# in the same run, on the real stack (rttng-bench ust, whose process is the app):
#   instructions per event: callgrind, counting only inside the emitting loop
#     (`--toggle-collect=*ust::emit*`), as the difference between a 300 000 and a 100 000
#     event run (the first event's registration cancels out), for each kind of session;
#   wall time per event: PAIRS (default 3) alternating local/live runs of EVENTS (default
#     1 000 000) events, each line as rttng-bench prints it, with 16 × 4 MiB sub-buffers per
#     CPU so that no event is discarded however late the consumer (discarded events cost less
#     and would skew the comparison).
# Needs valgrind and release binaries (cargo build --release -p rttng -p rttng-sessiond
# -p rttng-consumerd -p rttng-relayd -p rttng-bench). It judges nothing; figures go to
# BENCHMARKS.md.
set -euo pipefail
pairs=${1:-3}
events=${2:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/target/release/rttng-bench"
command -v valgrind >/dev/null || { echo "missing valgrind: apt-get install valgrind" >&2; exit 1; }
out=$(mktemp -d /tmp/rttng-live-event-path.XXXXXX)
trap 'rm -rf "$out"' EXIT

# ir KIND N: instructions inside the emitting loop for N events (KIND: local or live).
ir() {
	local flag=()
	[ "$1" = live ] && flag=(--live)
	valgrind --tool=callgrind --toggle-collect='*ust::emit*' --callgrind-out-file="$out/cg.$1.$2" \
		"$bench" ust --events "$2" "${flag[@]}" >"$out/line.$1.$2" 2>"$out/vg.$1.$2" ||
		{ cat "$out/vg.$1.$2" >&2; exit 1; }
	awk '/^(summary|totals):/ { print $2; exit }' "$out/cg.$1.$2"
}

for kind in local live; do
	a=$(ir "$kind" 100000)
	b=$(ir "$kind" 300000)
	echo "$kind: instructions_per_event=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 200000 }') ($(cat "$out/line.$kind.300000"))"
done
for _ in $(seq "$pairs"); do
	echo "local: $("$bench" ust --events "$events" --subbuf-size 4194304 --num-subbuf 16)"
	echo "live:  $("$bench" ust --events "$events" --subbuf-size 4194304 --num-subbuf 16 --live)"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
