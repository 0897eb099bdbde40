#!/usr/bin/env bash
# bench/agents.sh [PY_CALLS] [JUL_CALLS] [ROUNDS]: the LTTng agents' cost per log call on
# LTTng 2.13 and on rttng, in one run.
#
# The same programs (tests/lttng/agent_bench.py, JulAgentBench.java: N calls to a logger
# a rule enables, then N to one no rule enables, timed inside the process) run under
#   LTTng: tests/lttng/bench-lttng-agents.sh (a private lttng-sessiond, `-p/-j
#          bench.enabled`, the consumer writing to disk);
#   rttng: a private rttng-sessiond (own RTTNG_RUNDIR/RTTNG_HOME/LTTNG_HOME), the same
#          rules, `rttng run -- ...` (the drop-in libraries under the agents).
# ROUNDS (default 3) alternating rounds; prints each and the medians with the ratio
# rttng/LTTng (< 1: rttng faster): the logging thread's CPU time per call, then the wall
# time (which a loaded host inflates). Asserts nothing: figures only. Needs root for the
# LTTng side (private namespaces, see tests/lttng/README.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py_calls=${1:-20000}
jul_calls=${2:-200000}
rounds=${3:-3}
cd "$here"
cargo build --release -q -p rttng -p rttng-sessiond -p rttng-consumerd \
	-p rttng-lttng-ust -p rttng-lttng-ust-tracepoint -p rttng-lttng-ust-common -p rttng-lttng-ust-dl
bin=$here/target/release
work=$(mktemp -d "${TMPDIR:-/tmp}/rttng-bench-agents.XXXXXX")
sessiond_pid=""
cleanup() {
	if [ -n "$sessiond_pid" ]; then
		kill -TERM "$sessiond_pid" 2>/dev/null || true
		timeout 30 tail --pid="$sessiond_pid" -f /dev/null || kill -KILL "$sessiond_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
jars=/usr/share/java/lttng-ust-agent-common.jar:/usr/share/java/lttng-ust-agent-jul.jar
mkdir -p "$work/build"
javac -d "$work/build" -cp "$jars" tests/lttng/JulAgentBench.java

field() { # field NAME LINE
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

export RTTNG_RUNDIR=$work/run RTTNG_HOME=$work/home LTTNG_HOME=$work/lttng-home RTTNG_UST_REGISTER_TIMEOUT=30000
mkdir -p "$RTTNG_HOME" "$LTTNG_HOME"
"$bin/rttng-sessiond" --daemonize --consumerd-path "$bin/rttng-consumerd"
sessiond_pid=$(cat "$RTTNG_RUNDIR/rttng-sessiond.pid")

rttng_round() { # prints the two benchmark lines
	local trace=$work/trace-$RANDOM$RANDOM
	"$bin/rttng" create b --output="$trace" >/dev/null
	"$bin/rttng" enable-event -p bench.enabled >/dev/null
	"$bin/rttng" enable-event -j bench.enabled >/dev/null
	"$bin/rttng" start >/dev/null
	"$bin/rttng" run -- /usr/bin/python3 tests/lttng/agent_bench.py "$py_calls"
	"$bin/rttng" run -- java -cp "$jars:$work/build" JulAgentBench "$jul_calls"
	"$bin/rttng" stop >/dev/null
	"$bin/rttng" destroy b >/dev/null
	rm -rf "$trace"
}

printf '| round | agent | case | LTTng CPU ns/call | rttng CPU ns/call | rttng/LTTng | LTTng wall ns/call | rttng wall ns/call |\n|---|---|---|---:|---:|---:|---:|---:|\n'
declare -A all
for r in $(seq 1 "$rounds"); do
	theirs=$(bash tests/lttng/bench-lttng-agents.sh "$work/build" "$py_calls" "$jul_calls")
	ours=$(rttng_round)
	for agent in python jul; do
		t=$(grep "^$agent " <<<"$theirs")
		o=$(grep "^$agent " <<<"$ours")
		for c in enabled quiet; do
			tn=$(field "${c}_ns" " $t")
			on=$(field "${c}_ns" " $o")
			tw=$(field "${c}_wall_ns" " $t")
			ow=$(field "${c}_wall_ns" " $o")
			all[$agent.$c.t]+="$tn "
			all[$agent.$c.o]+="$on "
			all[$agent.$c.tw]+="$tw "
			all[$agent.$c.ow]+="$ow "
			printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$agent" "$c" "$tn" "$on" \
				"$(awk -v o="$on" -v t="$tn" 'BEGIN { printf "%.2f", o / t }')" "$tw" "$ow"
		done
	done
done
for agent in python jul; do
	for c in enabled quiet; do
		tn=$(tr ' ' '\n' <<<"${all[$agent.$c.t]}" | grep . | median)
		on=$(tr ' ' '\n' <<<"${all[$agent.$c.o]}" | grep . | median)
		tw=$(tr ' ' '\n' <<<"${all[$agent.$c.tw]}" | grep . | median)
		ow=$(tr ' ' '\n' <<<"${all[$agent.$c.ow]}" | grep . | median)
		printf '| median | %s | %s | %s | %s | %s | %s | %s |\n' "$agent" "$c" "$tn" "$on" \
			"$(awk -v o="$on" -v t="$tn" 'BEGIN { printf "%.2f", o / t }')" "$tw" "$ow"
	done
done
