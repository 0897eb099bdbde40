#!/usr/bin/env bash
# record-appfilter.sh WORKDIR APP: real LTTng 2.13 as the oracle of `$app` filters.
#
# WORKDIR/filters.txt (written by the test) holds one filter expression per
# line. For each filter K (0-based line number) it creates channel cK of one
# session with `enable-event -u rttng_ref:tick --filter EXPR` (its exit status
# in WORKDIR/out/K.status); channel `all` records every event. APP
# (appfilter_app.c, built against liblttng-ust-dev) runs once, and each
# channel is read with babeltrace2 into WORKDIR/out/K.seqs (and all.seqs): the
# `seq` of every event it kept, one per line. Uses a private session daemon
# (lttng-env.sh) that it stops by PID; leaves nothing running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 WORKDIR APP" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/record-appfilter.sh" "$@"
rttng_private_mounts

work=$(cd "$1" && pwd)
app=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
out="$work/out"
mkdir -p "$out" "$work/home" "$work/traces"
[ -f "$work/filters.txt" ] || rttng_die "$work needs filters.txt"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

rttng_lttng create appfilt --output="$work/traces/appfilt" >/dev/null
channel() {
	rttng_lttng enable-channel -u -s appfilt --subbuf-size=16384 --num-subbuf=4 "$1" >/dev/null
}
channel all
rttng_lttng enable-event -u -s appfilt -c all rttng_ref:tick >/dev/null
channels=(all)
k=0
while IFS= read -r expr; do
	channel "c$k"
	status=0
	timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" lttng --no-sessiond enable-event -u -s appfilt -c "c$k" \
		rttng_ref:tick --filter "$expr" </dev/null >/dev/null 2>"$out/$k.stderr" || status=$?
	echo "$status" >"$out/$k.status"
	[ "$status" != 0 ] || channels+=("c$k")
	k=$((k + 1))
done <"$work/filters.txt"

rttng_lttng start appfilt >/dev/null
timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" "$app" 6<&- >/dev/null || rttng_die "$app failed"
rttng_lttng stop appfilt >/dev/null
rttng_lttng destroy appfilt >/dev/null

# Each channel read on its own: the trace's metadata with that channel's
# stream files only.
meta=$(find "$work/traces/appfilt" -name metadata -print -quit)
[ -n "$meta" ] || rttng_die "no trace written under $work/traces/appfilt"
for c in "${channels[@]}"; do
	dir="$work/read/$c"
	mkdir -p "$dir"
	cp "$meta" "$dir/"
	find "$(dirname "$meta")" -maxdepth 1 -name "${c}_*" -exec cp {} "$dir/" \;
	name=${c#c}
	babeltrace2 "$dir" 2>"$out/$name.bt-stderr" |
		sed -n 's/.* rttng_ref:tick: .*seq = \([0-9]*\).*/\1/p' >"$out/$name.seqs"
done
