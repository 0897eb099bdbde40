#!/usr/bin/env bash
# bench/ust-callgrind.sh [RTTNG_BENCH...]: instructions per event of the native Rust event path
# (`tracepoint!`), repeatable on a loaded host. For each rttng-bench binary given (default
# target/release/rttng-bench, built here; each needs its rttng, rttng-sessiond and
# rttng-consumerd next to it), callgrind counts instructions inside `Callsite::emit`
# (`--toggle-collect=*ust::emit*`, inclusive) of `rttng-bench ust` on the real stack (a
# private session daemon and consumer, the event enabled on a channel of 8 x 4 MiB
# sub-buffers per CPU so nothing is discarded), for 100 000 and 300 000 events; the
# difference / 200 000 cancels the first event's registration. Also the whole process's
# difference, for reference. Needs valgrind. Judges nothing: figures for BENCHMARKS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "missing valgrind: apt-get install valgrind" >&2; exit 1; }
benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
	(cd "$root" && cargo build --release -q -p rttng-bench -p rttng -p rttng-sessiond -p rttng-consumerd)
	benches=("$root/target/release/rttng-bench")
fi
out=$(mktemp -d /tmp/rttng-ust-callgrind.XXXXXX)
trap 'rm -rf "$out"' EXIT
# ir BENCH N TOGGLE: total instructions callgrind collected.
ir() {
	local toggle=()
	[ "$3" = emit ] && toggle=(--toggle-collect='*ust::emit*')
	valgrind --tool=callgrind "${toggle[@]}" --callgrind-out-file="$out/cg" \
		"$1" ust --events "$2" --subbuf-size 4194304 --num-subbuf 8 >"$out/line" 2>"$out/vg" ||
		{ cat "$out/vg" >&2; exit 1; }
	awk '/^(summary|totals):/ { print $2; exit }' "$out/cg"
}
for b in "${benches[@]}"; do
	e1=$(ir "$b" 100000 emit)
	e3=$(ir "$b" 300000 emit)
	w1=$(ir "$b" 100000 all)
	w3=$(ir "$b" 300000 all)
	echo "$b: emit_instructions_per_event=$(awk -v a="$e1" -v b="$e3" 'BEGIN { printf "%.1f", (b - a) / 200000 }') process_instructions_per_event=$(awk -v a="$w1" -v b="$w3" 'BEGIN { printf "%.1f", (b - a) / 200000 }') ($(cat "$out/line"))"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
