#!/usr/bin/env bash
# bench/ust.sh [EVENTS]: rttng-ust against LTTng-UST in the same run.
#
# Runs `rttng-bench ust` (rttng-ust on the real stack: a private rttng-sessiond and
# rttng-consumerd, a session with the event enabled on the default channel, the consumer
# writing to disk; `RTTNG_BENCH_LOCAL=1` uses the in-process local session instead) and
# tests/lttng/bench-lttng-ust.sh (liblttng-ust 2.13 with a real session, the same
# int64/int32/uint8/short-string event) for 1 thread, 2 threads and a disabled event,
# and prints a table with both columns and the ratios (LTTng / rttng for time: > 1 means
# rttng is faster), a paced row (1M events/s), the 1 -> 2 thread scaling of each, and
# the CPU time rttng-consumerd takes per event (which bounds the 2-thread scaling). EVENTS per thread defaults to 1000000. Needs root for the LTTng run
# (private namespaces, see tests/lttng/README.md). Then ROUNDS (default 7) more one-thread
# rounds, alternating, with medians. Asserts nothing: figures only.
# RTTNG_BENCH_BIN=PATH runs that rttng-bench instead (with its own rttng, rttng-sessiond and
# rttng-consumerd next to it) and builds nothing, e.g. a saved build of an older commit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
events=${1:-1000000}
cd "$here"
bench=${RTTNG_BENCH_BIN:-target/release/rttng-bench}
[ -n "${RTTNG_BENCH_BIN:-}" ] ||
	cargo build --release -q -p rttng-bench -p rttng -p rttng-sessiond -p rttng-consumerd
mode=()
[ "${RTTNG_BENCH_LOCAL:-0}" = 1 ] && mode=(--local)

field() { # field NAME LINE
	sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}

printf '| case | rttng-ust ns/event | LTTng-UST ns/event | ratio (LTTng/rttng) | rttng B/event | LTTng B/event | rttng discarded | LTTng discarded |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
declare -A ns cpu
for spec in "1:" "2:" "1:--disabled"; do
	threads=${spec%%:*}
	extra=${spec#*:}
	n=$events
	[ -n "$extra" ] && n=$((events * 10))
	ours=$("$bench" ust "${mode[@]}" --threads "$threads" --events "$n" $extra)
	theirs=$(bash tests/lttng/bench-lttng-ust.sh --threads "$threads" --events "$n" $extra | grep '^lttng-ust ')
	o_ns=$(field ns_per_event "$ours")
	t_ns=$(field ns_per_event "$theirs")
	ns[ours$threads$extra]=$o_ns
	[ -z "$extra" ] && cpu[$threads]=$(field consumer_cpu_ns_per_event "$ours")
	ns[theirs$threads$extra]=$t_ns
	ratio=$(awk -v a="$t_ns" -v b="$o_ns" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	label="enabled, $threads thread(s)"
	[ -n "$extra" ] && label="disabled, $threads thread"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$o_ns" "$t_ns" "$ratio" \
		"$(field bytes_per_event "$ours")" "$(field bytes_per_event "$theirs")" \
		"$(field discarded "$ours")" "$(field discarded "$theirs")"
	echo "  rttng: $ours" >&2
	echo "  lttng: $theirs" >&2
done
# Paced: 1M events/s (one thread) with the default buffers must lose nothing. The
# LTTng-UST baseline program has no pacing option, so this row is rttng only.
paced=$("$bench" ust "${mode[@]}" --threads 1 --events "$events" --rate 1000000)
printf '| paced 1M events/s, 1 thread | %s (wall) | - | - | %s | - | %s | - |\n' \
	"$(field ns_per_event "$paced")" "$(field bytes_per_event "$paced")" "$(field discarded "$paced")"
echo "  rttng: $paced" >&2
scaling() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# The 2-thread bound: on 2 vCPUs the two emitters and the consumer daemon share the same
# two CPUs, so with E = 1-thread ns/event and C = consumer CPU ns per event, the aggregate
# cannot beat (E + C) / 2 ns, a scaling of at most 2E / (E + C).
bound=$(awk -v e="${ns[ours1]}" -v c="${cpu[2]:-0}" 'BEGIN { if (e + c > 0) printf "%.2f", 2 * e / (e + c); else print "-" }')
printf '\nScaling 1 -> 2 threads (1-thread ns / 2-thread aggregate ns): rttng-ust %s, LTTng-UST %s. rttng-consumerd CPU per event while emitting: %s ns (1 thread), %s ns (2 threads); bound 2E/(E+C) = %s\n' \
	"$(scaling "${ns[ours1]}" "${ns[ours2]}")" "$(scaling "${ns[theirs1]}" "${ns[theirs2]}")" \
	"${cpu[1]:--}" "${cpu[2]:--}" "$bound"

# The event path alone: the same 1 -> 2 thread scaling with channels that hold the whole
# run (2 x 32 MiB per CPU for 1M events of 25 bytes per thread), so that no packet
# completes while the threads emit and neither consumer takes CPU from them; and the
# machine's own scaling right now (`rttng-bench spin`: an integer loop, no memory, no
# system call). The bound above is about the consumer; this line is about the writers.
whole=(--subbuf-size 33554432 --num-subbuf 2)
if [ "$events" -le 1000000 ]; then
	o1=$(field ns_per_event "$("$bench" ust "${mode[@]}" --threads 1 --events "$events" "${whole[@]}")")
	o2=$(field ns_per_event "$("$bench" ust "${mode[@]}" --threads 2 --events "$events" "${whole[@]}")")
	t1=$(field ns_per_event "$(bash tests/lttng/bench-lttng-ust.sh --threads 1 --events "$events" "${whole[@]}" | grep '^lttng-ust ')")
	t2=$(field ns_per_event "$(bash tests/lttng/bench-lttng-ust.sh --threads 2 --events "$events" "${whole[@]}" | grep '^lttng-ust ')")
	s1=$(field ns_per_iteration "$("$bench" spin --threads 1)")
	s2=$(field ns_per_iteration "$("$bench" spin --threads 2)")
	printf '\nWriters alone (channel holding the run, 2 x 32 MiB per CPU): rttng-ust %s -> %s ns (scaling %s), LTTng-UST %s -> %s ns (scaling %s); machine (spin) %s -> %s ns (scaling %s)\n' \
		"$o1" "$o2" "$(scaling "$o1" "$o2")" "$t1" "$t2" "$(scaling "$t1" "$t2")" "$s1" "$s2" "$(scaling "$s1" "$s2")"
fi

# Rounds: single runs move with the host's load (BENCHMARKS.md), so the one-thread case is
# also run ROUNDS more times (default 7), rttng then LTTng-UST in each round, and the medians
# and the median of the per-round ratios are printed. ROUNDS=0 skips this.
rounds=${ROUNDS:-7}
if [ "$rounds" -gt 0 ]; then
	ours_all=() theirs_all=() ratios=()
	for ((r = 1; r <= rounds; r++)); do
		o=$(field ns_per_event "$("$bench" ust "${mode[@]}" --threads 1 --events "$events")")
		t=$(field ns_per_event "$(bash tests/lttng/bench-lttng-ust.sh --threads 1 --events "$events" | grep '^lttng-ust ')")
		ours_all+=("$o") theirs_all+=("$t")
		ratios+=("$(awk -v a="$t" -v b="$o" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print 0 }')")
	done
	median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	printf '\n%s rounds, enabled, 1 thread (rttng then LTTng-UST each round):\n' "$rounds"
	printf '  rttng-ust ns/event: %s (median %s)\n' "${ours_all[*]}" "$(median "${ours_all[@]}")"
	printf '  LTTng-UST ns/event: %s (median %s)\n' "${theirs_all[*]}" "$(median "${theirs_all[@]}")"
	printf '  ratio LTTng/rttng per round: %s (median %s)\n' "${ratios[*]}" "$(median "${ratios[@]}")"
fi
