#!/usr/bin/env bash
# filter-reference.sh WORKDIR: real LTTng 2.13 as the oracle of rttng-filter.
#
# Inputs written by the test into WORKDIR: values.tsv (one event per line,
# read by filter_app.c), filters.txt (one filter expression per line).
# For each filter K (0-based line number) it creates channel cK of one
# session with `enable-event -u 'rttng_filt:*' --filter EXPR` and records the
# command's exit status and standard error in WORKDIR/out/K.status and
# K.stderr; channel `all` records every event. filter_app runs once, and each
# channel is read with babeltrace2 into WORKDIR/out/K.events (and
# all.events): one "EVENT IDX" line per event, e.g. "ev 3". WORKDIR/out/pid holds the app's PID. Uses a private session daemon
# (lttng-env.sh) that it stops by PID; leaves nothing running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 1 ]; then
	echo "usage: $0 WORKDIR" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/filter-reference.sh" "$@"
rttng_private_mounts

work=$(cd "$1" && pwd)
out="$work/out"
mkdir -p "$out" "$work/home" "$work/traces"
[ -f "$work/values.tsv" ] && [ -f "$work/filters.txt" ] ||
	rttng_die "$work needs values.tsv and filters.txt"

cc -std=gnu11 -O1 -Wall -Wextra -I"$here" -o "$work/filter_app" \
	"$here/filter_app.c" -llttng-ust -ldl ||
	rttng_die "cannot compile filter_app; install: $RTTNG_INSTALL_HINT"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

# One session: channel `all` records every event; channel cK has the rule
# of filter K (a refused filter leaves its channel empty: no rule). Small
# buffers: one app, a few hundred events.
rttng_lttng create filt --output="$work/traces/filt" >/dev/null
channel() {
	rttng_lttng enable-channel -u -s filt --subbuf-size=16384 --num-subbuf=4 "$1" >/dev/null
}
channel all
rttng_lttng enable-event -u -s filt -c all 'rttng_filt:*' >/dev/null
channels=(all)
k=0
while IFS= read -r expr; do
	channel "c$k"
	status=0
	timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" lttng --no-sessiond enable-event -u -s filt -c "c$k" \
		'rttng_filt:*' --filter "$expr" </dev/null >"$out/$k.stdout" 2>"$out/$k.stderr" || status=$?
	echo "$status" >"$out/$k.status"
	[ "$status" != 0 ] || channels+=("c$k")
	k=$((k + 1))
done <"$work/filters.txt"

rttng_lttng start filt >/dev/null
"$work/filter_app" "$work/values.tsv" >"$out/app.stdout" ||
	rttng_die "filter_app failed"
sed -n 's/^pid //p' "$out/app.stdout" >"$out/pid"
rttng_lttng stop filt >/dev/null
rttng_lttng destroy filt >/dev/null

# Each channel read on its own: the trace's metadata with that channel's
# stream files only.
meta=$(find "$work/traces/filt" -name metadata -print -quit)
[ -n "$meta" ] || rttng_die "no trace written under $work/traces/filt"
for c in "${channels[@]}"; do
	dir="$work/read/$c"
	mkdir -p "$dir"
	cp "$meta" "$dir/"
	find "$(dirname "$meta")" -maxdepth 1 -name "${c}_*" -exec cp {} "$dir/" \;
	name=${c#c}
	babeltrace2 "$dir" 2>"$out/$name.bt-stderr" |
		sed -n 's/.* rttng_filt:\([a-z]*\): .*idx = \([0-9]*\).*/\1 \2/p' >"$out/$name.events"
done
