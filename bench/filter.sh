#!/usr/bin/env bash
# bench/filter.sh [EVENTS]: the cost of `--filter` on the event path, rttng-ust against
# LTTng-UST 2.13 in the same run (issue 16).
#
# The same event as bench/ust.sh (rttng_bench:event {a int64, b int32 = thread id 0,
# c uint8, s "rttng"}), one thread, EVENTS (default 1000000) events, recorded by the real
# stack of each (rttng: `rttng-bench ust`, private rttng-sessiond + rttng-consumerd;
# LTTng: tests/lttng/bench-lttng-ust.sh, private lttng-sessiond, the C app ust_bench) with
# a two-comparison filter on an integer and a string field:
#   rejected: b >= 0 && s == "other"   (both comparisons run, the event is dropped)
#   kept:     b >= 0 && s == "rttng"   (both comparisons run, the event is recorded)
#   none:     no filter (the unfiltered event path, for reference)
# ROUNDS (default 5) rounds, rttng then LTTng in each; prints every reading, the medians,
# and the ratio of the medians rttng/LTTng (the issue's target for a rejected event:
# <= 0.25). Needs root for the LTTng runs (private namespaces). Asserts nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
events=${1:-1000000}
rounds=${ROUNDS:-5}
cd "$here"
cargo build --release -q -p rttng-bench -p rttng -p rttng-sessiond -p rttng-consumerd
bench=target/release/rttng-bench

field() { # field NAME LINE
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A filter=(
	[rejected]='b >= 0 && s == "other"'
	[kept]='b >= 0 && s == "rttng"'
)
printf '| case | rttng-ust ns/event (median) | LTTng-UST ns/event (median) | rttng / LTTng | rttng recorded | LTTng recorded |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for case in rejected kept none; do
	ours=() theirs=()
	args=()
	[ "$case" != none ] && args=(--filter "${filter[$case]}")
	for ((r = 1; r <= rounds; r++)); do
		o=$("$bench" ust --threads 1 --events "$events" "${args[@]}")
		t=$(bash tests/lttng/bench-lttng-ust.sh --threads 1 --events "$events" "${args[@]}" | grep '^lttng-ust ')
		ours+=("$(field ns_per_event "$o")")
		theirs+=("$(field ns_per_event "$t")")
		echo "  $case round $r: rttng: $o" >&2
		echo "  $case round $r: lttng: $t" >&2
	done
	mo=$(median "${ours[@]}")
	mt=$(median "${theirs[@]}")
	printf '| %s | %s (%s) | %s (%s) | %s | %s | %s |\n' "$case" "$mo" "${ours[*]}" "$mt" "${theirs[*]}" \
		"$(awk -v a="$mo" -v b="$mt" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')" \
		"$(field recorded "$o")" "$(field recorded "$t")"
done
