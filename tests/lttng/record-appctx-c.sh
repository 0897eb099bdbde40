#!/usr/bin/env bash
# record-appctx-c.sh OUTDIR APP: records, with real LTTng 2.13, APP (appctx_app.c, built
# against liblttng-ust-dev) with `rttng_ref:tick` enabled and the contexts
# `$app.capp:u64`, vpid, `$app.capp:{flt,s16,u8,str,other}` and `$app.nobody:x` added in
# the user-space domain, in that order. Uses a private lttng-sessiond (see lttng-env.sh), stops what it started, prints
# the trace path. It deliberately does not trace the kernel, and does not remove OUTDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 OUTDIR APP" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/record-appctx-c.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
app=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
work="$out/lttng-run"
trace="$out/trace"
[ ! -e "$trace" ] || rttng_die "$trace already exists; give an empty OUTDIR"
mkdir -p "$work/home"
export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"
s=rttng-appctx-c
rttng_lttng create "$s" --output="$trace" >/dev/null
rttng_lttng enable-event -s "$s" -u rttng_ref:tick >/dev/null
rttng_lttng add-context -s "$s" -u -t '$app.capp:u64' >/dev/null
rttng_lttng add-context -s "$s" -u -t vpid >/dev/null
for c in flt s16 u8 str other; do
	rttng_lttng add-context -s "$s" -u -t "\$app.capp:$c" >/dev/null
done
rttng_lttng add-context -s "$s" -u -t '$app.nobody:x' >/dev/null
rttng_lttng start "$s" >/dev/null
timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" "$app" 6<&- || rttng_die "$app failed"
rttng_lttng stop "$s" >/dev/null
rttng_lttng destroy "$s" >/dev/null
rttng_sessiond_stop
trap - EXIT
echo "$trace"
