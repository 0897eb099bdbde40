#!/usr/bin/env bash
# bench-lttng-ust.sh [--threads T] [--events N] [--disabled] [--keep DIR]
#                    [--subbuf-size BYTES] [--num-subbuf N] [--pin-cpu C]
#                    [--filter EXPR] [--binary UST_BENCH]:
# the LTTng-UST baseline for rttng's tracer benchmark.
#
# Builds ust_bench, starts a private lttng-sessiond (see lttng-env.sh), creates
# a session with the default channel (discard mode, default sub-buffers, the
# consumer writing to disk), enables rttng_bench:event (unless --disabled:
# then the channel exists but the event stays disabled), runs
#   ust_bench --threads T --events N [--disabled]
# and prints one line: ust_bench's line followed by
#   recorded=R discarded=D bytes_per_event=B
# R is babeltrace2's event count, D the sum of babeltrace2's "discarded N
# events" warnings, B the size of the trace's stream files on disk divided by R.
# Defaults: T=1, N=1000000. Works in a temporary directory, removed at the end
# unless --keep DIR names a directory to use (and keep) instead. It
# deliberately does not trace the kernel nor add contexts. --subbuf-size and
# --num-subbuf are passed to enable-channel (default: LTTng's defaults);
# --pin-cpu C to ust_bench (emitting thread t on CPU (C + t) mod CPUs);
# --filter EXPR to enable-event (then R is what the filter keeps). --binary
# runs that ust_bench instead of building one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

threads=1
events=1000000
disabled=""
keep=""
binary=""
pin=()
filter=()
channel_opts=()
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--threads) threads=${2:?--threads needs a value}; shift 2 ;;
	--events) events=${2:?--events needs a value}; shift 2 ;;
	--disabled) disabled=--disabled; shift ;;
	--keep) keep=${2:?--keep needs a directory}; shift 2 ;;
	--subbuf-size) channel_opts+=("--subbuf-size=${2:?--subbuf-size needs a value}"); shift 2 ;;
	--num-subbuf) channel_opts+=("--num-subbuf=${2:?--num-subbuf needs a value}"); shift 2 ;;
	--pin-cpu) pin=(--pin-cpu "${2:?--pin-cpu needs a CPU}"); shift 2 ;;
	--filter) filter=(--filter "${2:?--filter needs an expression}"); shift 2 ;;
	--binary) binary=$(cd "$(dirname "${2:?--binary needs a path}")" && pwd)/$(basename "$2"); shift 2 ;;
	*)
		echo "usage: $0 [--threads T] [--events N] [--disabled] [--keep DIR] [--subbuf-size BYTES] [--num-subbuf N] [--pin-cpu C] [--filter EXPR] [--binary UST_BENCH]" >&2
		exit 2
		;;
	esac
done
rttng_require_tools
rttng_isolate "$here/bench-lttng-ust.sh" "${args[@]}"
rttng_private_mounts

rttng_bench_dir rttng-bench-lttng-ust "$keep"

build="$dir/build"
work="$dir/lttng-run"
trace="$dir/trace"
[ ! -e "$trace" ] || rttng_die "$trace already exists"
mkdir -p "$work/home"
rttng_build_ust_bench "$build" "$binary"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
rttng_sessiond_start "$work"

rttng_lttng create rttng-bench --output="$trace" >/dev/null
rttng_lttng enable-channel -u -s rttng-bench "${channel_opts[@]}" channel0 >/dev/null
if [ -z "$disabled" ]; then
	rttng_lttng enable-event -u -s rttng-bench -c channel0 rttng_bench:event "${filter[@]}" >/dev/null
fi
rttng_lttng start rttng-bench >/dev/null
# RTTNG_BENCH_WRAPPER: a command prefix for ust_bench (e.g. "valgrind --tool=callgrind
# --callgrind-out-file=F", as bench/compat-callgrind.sh does); split on spaces.
read -r -a wrapper <<<"${RTTNG_BENCH_WRAPPER:-}"
line=$(cd "$build" && timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" "${wrapper[@]}" ./ust_bench \
	--threads "$threads" --events "$events" $disabled "${pin[@]}" 6<&-) ||
	rttng_die "ust_bench failed"
rttng_lttng stop rttng-bench >/dev/null
rttng_lttng destroy rttng-bench >/dev/null
rttng_sessiond_stop

# babeltrace2 warns once per gap: "... Tracer discarded N events between ...".
babeltrace2 "$trace" >/dev/null 2>"$work/babeltrace2.err" ||
	rttng_die "babeltrace2 cannot read $trace: $(head -c 2000 "$work/babeltrace2.err")"
# Each warning is the difference between the events_discarded counters of two
# consecutive packets of a stream. LTTng-UST's counter can step backwards
# between packets when threads race on a sub-buffer switch, and babeltrace2
# then prints the unsigned difference (close to 2^64); summing modulo 2^64
# (bash arithmetic wraps) still gives each stream's final counter.
discarded=0
backsteps=0
while read -r n; do
	if [ "${#n}" -ge 19 ] && [ $((n)) -lt 0 ]; then
		backsteps=$((backsteps + 1))
	fi
	discarded=$((discarded + n))
done < <(grep -o 'discarded [0-9]* event' "$work/babeltrace2.err" | awk '{ print $2 }')
if [ "$backsteps" -gt 0 ]; then
	echo "$(basename "$0"): note: the discarded-events counter stepped back $backsteps times" >&2
fi
# The counter sink prints running totals as it goes; the last one is final.
recorded=$(babeltrace2 -c sink.utils.counter "$trace" 2>/dev/null |
	awk '$2 == "Event" && $3 == "messages" { n = $1 } END { print n }')
if [ -z "$recorded" ] && [ "${#filter[@]}" -gt 0 ]; then
	recorded=0 # a filter that keeps nothing: no event message at all
fi
[ -n "$recorded" ] || rttng_die "babeltrace2's counter printed no event count"
# Stream files: everything in the trace but the metadata and the indexes.
bytes=$(find "$trace" -type f ! -name metadata ! -name '*.idx' -printf '%s\n' |
	awk '{ n += $1 } END { print n + 0 }')
if [ "$recorded" -gt 0 ]; then
	bytes_per_event=$(awk -v b="$bytes" -v r="$recorded" 'BEGIN { printf "%.2f", b / r }')
else
	bytes_per_event=0
fi
expected=$((threads * events))
if [ -z "$disabled" ] && [ "${#filter[@]}" -eq 0 ] && [ $((recorded + discarded)) -ne "$expected" ]; then
	echo "$(basename "$0"): warning: recorded ($recorded) + discarded ($discarded) != emitted ($expected)" >&2
fi
echo "$line recorded=$recorded discarded=$discarded bytes_per_event=$bytes_per_event"
