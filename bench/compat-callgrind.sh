#!/usr/bin/env bash
# bench/compat-callgrind.sh [EVENTS_LOW] [EVENTS_HIGH]: instructions per event of an
# unmodified LTTng-UST application (tests/lttng/ust_bench.c, 1 thread, built against
# liblttng-ust-dev) on rttng's drop-in libraries, repeatable on a loaded host.
#
# A private rttng-sessiond (own RTTNG_RUNDIR/RTTNG_HOME), a session with a channel of
# 8 x 4 MiB sub-buffers per CPU (nothing discarded) and `rttng_bench:event` enabled, then
# `rttng run -- valgrind --tool=callgrind ust_bench --threads 1 --events N` for N = LOW
# (default 100 000) and HIGH (default 300 000); (Ir(HIGH) - Ir(LOW)) / (HIGH - LOW) cancels
# the start-up and registration. Prints that whole-process figure and, per function, the
# self cost per event of each function that costs at least half an instruction per event
# (callgrind_annotate; python3), to see where the drop-in's event path goes. With
# RTTNG_COMPAT_CALLGRIND_KEEP=DIR the two callgrind files are kept in DIR.
# Then the same binary on LTTng-UST 2.13's libraries, the same way (tests/lttng/bench-lttng-ust.sh
# with RTTNG_BENCH_WRAPPER: a private lttng-sessiond, the same channel geometry; needs root
# as that script does; RTTNG_COMPAT_CALLGRIND_NO_LTTNG=1 skips it).
# RTTNG_COMPAT_FILTER=EXPR enables the event with that `--filter` on both sides.
# Needs valgrind. Judges nothing: figures for BENCHMARKS.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
low=${1:-100000}
high=${2:-300000}
command -v valgrind >/dev/null || { echo "missing valgrind: apt-get install valgrind" >&2; exit 1; }
command -v callgrind_annotate >/dev/null || { echo "missing callgrind_annotate: apt-get install valgrind" >&2; exit 1; }
cd "$here"
cargo build --release -q -p rttng -p rttng-sessiond -p rttng-consumerd \
	-p rttng-lttng-ust -p rttng-lttng-ust-tracepoint -p rttng-lttng-ust-common -p rttng-lttng-ust-dl
bin=$here/target/release
# RTTNG_COMPAT_FILTER=EXPR: the event enabled with this `--filter` on both sides (issue 16's
# filtered-out event through the same binary).
filter=()
if [ -n "${RTTNG_COMPAT_FILTER:-}" ]; then
	filter=(--filter "$RTTNG_COMPAT_FILTER")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rttng-compat-callgrind.XXXXXX")
sessiond_pid=""
cleanup() {
	if [ -n "$sessiond_pid" ]; then
		kill -TERM "$sessiond_pid" 2>/dev/null || true
		timeout 30 tail --pid="$sessiond_pid" -f /dev/null || kill -KILL "$sessiond_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

cc -std=gnu11 -O2 -g -Wall -Wextra -I"$here/tests/lttng" -o "$work/ust_bench" \
	"$here/tests/lttng/ust_bench.c" "$here/tests/lttng/bench_tp.c" -llttng-ust -ldl -lpthread

export RTTNG_RUNDIR=$work/run RTTNG_HOME=$work/home RTTNG_UST_REGISTER_TIMEOUT=30000
mkdir -p "$RTTNG_HOME"
"$bin/rttng-sessiond" --daemonize --consumerd-path "$bin/rttng-consumerd"
sessiond_pid=$(cat "$RTTNG_RUNDIR/rttng-sessiond.pid")

run() { # run N -> total instructions; the callgrind file stays in $work/cg.N
	local n=$1 trace=$work/trace-$1
	"$bin/rttng" create b --output="$trace" >/dev/null
	"$bin/rttng" enable-channel -u --subbuf-size 4194304 --num-subbuf 8 channel0 >/dev/null
	"$bin/rttng" enable-event -u -c channel0 rttng_bench:event "${filter[@]}" >/dev/null
	"$bin/rttng" start >/dev/null
	"$bin/rttng" run -- valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$work/cg.$n" \
		"$work/ust_bench" --threads 1 --events "$n" >"$work/line.$n" 2>"$work/vg.$n" ||
		{ cat "$work/vg.$n" >&2; exit 1; }
	"$bin/rttng" stop >/dev/null
	"$bin/rttng" destroy b >/dev/null
	rm -rf "$trace"
	awk '/^(summary|totals):/ { print $2; exit }' "$work/cg.$n"
}
lttng_run() { # lttng_run N -> total instructions; the callgrind file stays in $work/cg.lttng.N
	local n=$1
	RTTNG_BENCH_WRAPPER="valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file=$work/cg.lttng.$n" \
		bash "$here/tests/lttng/bench-lttng-ust.sh" --binary "$work/ust_bench" --threads 1 --events "$n" \
		--subbuf-size 4194304 --num-subbuf 8 "${filter[@]}" >"$work/lttng-line.$n" 2>"$work/lttng-err.$n" ||
		{ cat "$work/lttng-err.$n" >&2; exit 1; }
	awk '/^(summary|totals):/ { print $2; exit }' "$work/cg.lttng.$n"
}
a=$(run "$low")
b=$(run "$high")
echo "rttng drop-in: process_instructions_per_event=$(awk -v a="$a" -v b="$b" -v d=$((high - low)) 'BEGIN { printf "%.1f", (b - a) / d }') ($(cat "$work/line.$high"))"
if [ -z "${RTTNG_COMPAT_CALLGRIND_NO_LTTNG:-}" ]; then
	la=$(lttng_run "$low")
	lb=$(lttng_run "$high")
	echo "LTTng-UST 2.13: process_instructions_per_event=$(awk -v a="$la" -v b="$lb" -v d=$((high - low)) 'BEGIN { printf "%.1f", (b - a) / d }') ($(cat "$work/lttng-line.$high"))"
fi
# Self cost per function (inlined code counts in its caller): difference of the two runs.
per_function() { # per_function LOW_FILE HIGH_FILE
python3 - "$1" "$2" $((high - low)) <<'PY'
import re, subprocess, sys
def per_fn(path):
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--inclusive=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    cost = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = re.sub(r" \[.*\]$", "", m.group(2))
        name = name.split(":", 1)[1] if ":" in name else name
        cost[name] = cost.get(name, 0) + int(m.group(1).replace(",", ""))
    return cost
a, b, d = per_fn(sys.argv[1]), per_fn(sys.argv[2]), int(sys.argv[3])
for v, k in sorted(((b.get(k, 0) - a.get(k, 0)) / d, k) for k in set(a) | set(b))[::-1]:
    if v >= 0.5:
        print("%8.1f  %s" % (v, k))
PY
}
echo "rttng drop-in, per function:"
per_function "$work/cg.$low" "$work/cg.$high"
if [ -z "${RTTNG_COMPAT_CALLGRIND_NO_LTTNG:-}" ]; then
	echo "LTTng-UST 2.13, per function:"
	per_function "$work/cg.lttng.$low" "$work/cg.lttng.$high"
fi
if [ -n "${RTTNG_COMPAT_CALLGRIND_KEEP:-}" ]; then
	mkdir -p "$RTTNG_COMPAT_CALLGRIND_KEEP"
	cp "$work"/cg.* "$RTTNG_COMPAT_CALLGRIND_KEEP/"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
