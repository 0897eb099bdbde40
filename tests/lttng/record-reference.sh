#!/usr/bin/env bash
# record-reference.sh OUTDIR [LOOPS]: records reference traces of ref_app with
# real LTTng 2.13, for rttng's oracle tests.
#
# Builds ref_app into OUTDIR/build, starts a private lttng-sessiond (see
# lttng-env.sh), records one run of ref_app into two sessions at once:
#   OUTDIR/trace      per-user buffers (the default layout)
#   OUTDIR/trace-pid  per-process buffers (--buffers-pid)
# both with the vpid, vtid and procname contexts, then stops everything it
# started and prints the two trace paths, one per line (per-user first).
# It checks with babeltrace2 that each trace holds exactly the events ref_app
# emits. It deliberately does not trace the kernel, and does not remove OUTDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUTDIR [LOOPS]" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/record-reference.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
loops=${2:-3}
case $loops in
'' | *[!0-9]*) rttng_die "LOOPS must be a non-negative integer" ;;
esac
build="$out/build"
work="$out/lttng-run"
trace_uid="$out/trace"
trace_pid="$out/trace-pid"
[ ! -e "$trace_uid" ] && [ ! -e "$trace_pid" ] ||
	rttng_die "$trace_uid or $trace_pid already exists; give an empty OUTDIR"
mkdir -p "$build" "$work/home"

cc -std=gnu11 -O1 -Wall -Wextra -I"$here" -o "$build/ref_app" \
	"$here/ref_app.c" "$here/ref_tp.c" -llttng-ust -ldl -lm ||
	rttng_die "cannot compile ref_app; install: $RTTNG_INSTALL_HINT"

export LTTNG_HOME="$work/home"
# The app waits this long (ms) at start for the daemon to enable its events.
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

rttng_lttng create rttng-ref-uid --output="$trace_uid" >/dev/null
rttng_lttng enable-channel -u -s rttng-ref-uid --buffers-uid channel0 >/dev/null
rttng_lttng enable-event -u -s rttng-ref-uid -c channel0 'rttng_ref:*' >/dev/null
rttng_lttng add-context -u -s rttng-ref-uid -c channel0 -t vpid -t vtid -t procname >/dev/null

rttng_lttng create rttng-ref-pid --output="$trace_pid" >/dev/null
rttng_lttng enable-channel -u -s rttng-ref-pid --buffers-pid channel0 >/dev/null
rttng_lttng enable-event -u -s rttng-ref-pid -c channel0 'rttng_ref:*' >/dev/null
rttng_lttng add-context -u -s rttng-ref-pid -c channel0 -t vpid -t vtid -t procname >/dev/null

rttng_lttng start rttng-ref-uid >/dev/null
rttng_lttng start rttng-ref-pid >/dev/null
(cd "$build" && exec timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" ./ref_app "$loops" 6<&-) ||
	rttng_die "ref_app failed"
# `lttng stop` waits until the consumer has written all the data.
rttng_lttng stop rttng-ref-uid >/dev/null
rttng_lttng stop rttng-ref-pid >/dev/null
rttng_lttng destroy rttng-ref-uid >/dev/null
rttng_lttng destroy rttng-ref-pid >/dev/null
rttng_sessiond_stop
trap - EXIT

# ref_app emits 3 events once, then 7 per loop.
expected=$((3 + 7 * loops))
for trace in "$trace_uid" "$trace_pid"; do
	total=$(babeltrace2 "$trace" -c sink.utils.counter 2>"$work/counter.err" |
		awk '$2 == "Event" && $3 == "messages" { n = $1 } END { print n + 0 }')
	count_lines=$(babeltrace2 "$trace" 2>>"$work/counter.err" | grep -c 'rttng_ref:' || true)
	[ "$count_lines" = "$expected" ] ||
		rttng_die "$trace holds $count_lines rttng_ref events, expected $expected (counter said $total)"
done

echo "$trace_uid"
echo "$trace_pid"
