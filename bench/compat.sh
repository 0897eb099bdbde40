#!/usr/bin/env bash
# bench/compat.sh [EVENTS] [ROUNDS]: the same unmodified LTTng-UST binary on LTTng-UST
# 2.13's libraries and on rttng's drop-in libraries, in one run.
#
# Builds tests/lttng/ust_bench.c once against liblttng-ust-dev (the `rttng_bench:event`
# event: int64, int32, uint8, short string; 1 thread), then per round, alternating:
#   LTTng: tests/lttng/bench-lttng-ust.sh --binary THAT_BINARY (a private lttng-sessiond,
#          the default channel, the consumer writing to disk);
#   rttng: a private rttng-sessiond (own RTTNG_RUNDIR/RTTNG_HOME), the default channel,
#          `rttng run -- THAT_BINARY`.
# Each runs EVENTS events (default 5000000) enabled, then 10x EVENTS with the event
# disabled. Prints one row per round and the medians: ns/event of each and the ratio
# rttng/LTTng (< 1: rttng faster), recorded and discarded events. Asserts nothing:
# figures only. Needs root for the LTTng side (private namespaces, see
# tests/lttng/README.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
events=${1:-5000000}
rounds=${2:-3}
cd "$here"
cargo build --release -q -p rttng -p rttng-sessiond -p rttng-consumerd \
	-p rttng-lttng-ust -p rttng-lttng-ust-tracepoint -p rttng-lttng-ust-common -p rttng-lttng-ust-dl
bin=$here/target/release

work=$(mktemp -d "${TMPDIR:-/tmp}/rttng-bench-compat.XXXXXX")
sessiond_pid=""
cleanup() {
	if [ -n "$sessiond_pid" ]; then
		kill -TERM "$sessiond_pid" 2>/dev/null || true
		timeout 30 tail --pid="$sessiond_pid" -f /dev/null || kill -KILL "$sessiond_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

cc -std=gnu11 -O2 -Wall -Wextra -I"$here/tests/lttng" -o "$work/ust_bench" \
	"$here/tests/lttng/ust_bench.c" "$here/tests/lttng/bench_tp.c" -llttng-ust -ldl -lpthread

field() { # field NAME LINE
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}

# rttng side: one private daemon for the whole run, a fresh session per measurement.
export RTTNG_RUNDIR=$work/run RTTNG_HOME=$work/home RTTNG_UST_REGISTER_TIMEOUT=30000
mkdir -p "$RTTNG_HOME"
"$bin/rttng-sessiond" --daemonize --consumerd-path "$bin/rttng-consumerd"
sessiond_pid=$(cat "$RTTNG_RUNDIR/rttng-sessiond.pid")

rttng_run() { # rttng_run N [--disabled] -> "ns recorded discarded"
	local n=$1 disabled=${2:-} trace=$work/trace-$RANDOM$RANDOM line recorded discarded
	"$bin/rttng" create b --output="$trace" >/dev/null
	if [ -z "$disabled" ]; then
		"$bin/rttng" enable-event -u rttng_bench:event >/dev/null
	else
		"$bin/rttng" enable-channel -u channel0 >/dev/null
	fi
	"$bin/rttng" start >/dev/null
	line=$("$bin/rttng" run -- "$work/ust_bench" --threads 1 --events "$n" $disabled)
	"$bin/rttng" stop >/dev/null
	discarded=$("$bin/rttng" list b | sed -n 's/.*Discarded events: *\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
	"$bin/rttng" destroy b >/dev/null
	recorded=$("$bin/rttng" view --count "$trace" | awk '$1 == "total" { print $2 }')
	rm -rf "$trace"
	echo "$(field ns_per_event "$line") ${recorded:-0} $discarded"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '| round | case | LTTng-UST ns/event | rttng drop-in ns/event | rttng/LTTng | LTTng recorded | LTTng discarded | rttng recorded | rttng discarded |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
declare -a en_l en_r dis_l dis_r
for r in $(seq 1 "$rounds"); do
	for spec in "enabled:$events:" "disabled:$((events * 10)):--disabled"; do
		IFS=: read -r name n extra <<<"$spec"
		theirs=$(bash tests/lttng/bench-lttng-ust.sh --binary "$work/ust_bench" --threads 1 --events "$n" $extra | grep '^lttng-ust ')
		read -r o_ns o_rec o_dis <<<"$(rttng_run "$n" $extra)"
		t_ns=$(field ns_per_event "$theirs")
		ratio=$(awk -v o="$o_ns" -v t="$t_ns" 'BEGIN { printf "%.3f", o / t }')
		if [ "$name" = enabled ]; then
			en_l+=("$t_ns"); en_r+=("$o_ns")
		else
			dis_l+=("$t_ns"); dis_r+=("$o_ns")
		fi
		printf '| %s | %s, 1 thread, %s events | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$name" "$n" "$t_ns" "$o_ns" "$ratio" \
			"$(field recorded "$theirs")" "$(field discarded "$theirs")" "$o_rec" "$o_dis"
	done
done
el=$(printf '%s\n' "${en_l[@]}" | median); er=$(printf '%s\n' "${en_r[@]}" | median)
dl=$(printf '%s\n' "${dis_l[@]}" | median); dr=$(printf '%s\n' "${dis_r[@]}" | median)
echo
echo "medians over $rounds rounds: enabled LTTng $el ns, rttng $er ns, ratio $(awk -v o="$er" -v t="$el" 'BEGIN { printf "%.3f", o / t }');" \
	"disabled LTTng $dl ns, rttng $dr ns, ratio $(awk -v o="$dr" -v t="$dl" 'BEGIN { printf "%.3f", o / t }')"
