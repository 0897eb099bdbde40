#!/usr/bin/env bash
# context-reference.sh WORKDIR CONTEXT...: real LTTng 2.13's user-space context fields.
#
# Builds ref_app, starts a private session daemon (lttng-env.sh), records one run of
# `ref_app 1` in a session whose channel has the given contexts (`add-context -u -t C`,
# in order), and writes babeltrace2's text of the trace to WORKDIR/out/bt.txt and the
# app's PID to WORKDIR/out/pid. The test compares the context fields' names, order and
# value shapes with rttng's. Stops everything it started, by PID.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -lt 2 ]; then
	echo "usage: $0 WORKDIR CONTEXT..." >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/context-reference.sh" "$@"
rttng_private_mounts

work=$(cd "$1" && pwd)
shift
out="$work/out"
mkdir -p "$out" "$work/home" "$work/build"
cc -std=gnu11 -O1 -Wall -Wextra -I"$here" -o "$work/build/ref_app" \
	"$here/ref_app.c" "$here/ref_tp.c" -llttng-ust -ldl -lm ||
	rttng_die "cannot compile ref_app; install: $RTTNG_INSTALL_HINT"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

rttng_lttng create ctx --output="$work/trace" >/dev/null
rttng_lttng enable-event -u -s ctx 'rttng_ref:*' >/dev/null
for c in "$@"; do
	rttng_lttng add-context -u -s ctx -t "$c" >/dev/null
done
rttng_lttng start ctx >/dev/null
(cd "$work/build" && exec timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" ./ref_app 1 6<&-) &
app=$!
echo "$app" >"$out/pid"
wait "$app" || rttng_die "ref_app failed"
rttng_lttng stop ctx >/dev/null
rttng_lttng destroy ctx >/dev/null
babeltrace2 "$work/trace" >"$out/bt.txt" 2>"$out/bt.err" || rttng_die "babeltrace2 failed: $(cat "$out/bt.err")"
