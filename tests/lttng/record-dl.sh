#!/usr/bin/env bash
# record-dl.sh OUTDIR BUILDDIR [LIB]: records, with real LTTng 2.13, BUILDDIR/dlopen_app
# loading and unloading BUILDDIR/LIB (default libdl_tp.so) under LTTng's dlopen wrapper
# (LD_PRELOAD=liblttng-ust-dl.so), in one session with `lttng_ust_lib:*`,
# `lttng_ust_dl:*` and `rttng_ref:tick` enabled and the vpid and ip contexts. Uses a
# private lttng-sessiond (see lttng-env.sh), stops what it started, prints the trace
# path. It deliberately does not trace the kernel, and does not remove OUTDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 2 ] && [ $# -ne 3 ]; then
	echo "usage: $0 OUTDIR BUILDDIR [LIB]" >&2
	exit 2
fi
rttng_require_tools
wrapper=$(ls /usr/lib/*/liblttng-ust-dl.so.1 2>/dev/null | head -n 1)
[ -n "$wrapper" ] || rttng_die "LTTng's dlopen wrapper is missing; install: apt-get install liblttng-ust1"
rttng_isolate "$here/record-dl.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
build=$(cd "$2" && pwd)
lib=${3:-libdl_tp.so}
work="$out/lttng-run"
trace="$out/trace"
[ ! -e "$trace" ] || rttng_die "$trace already exists; give an empty OUTDIR"
mkdir -p "$work/home"
export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"
s=rttng-dl
rttng_lttng create "$s" --output="$trace" >/dev/null
rttng_lttng enable-event -s "$s" -u 'lttng_ust_lib:*,lttng_ust_dl:*,rttng_ref:tick' >/dev/null
rttng_lttng add-context -s "$s" -u -t vpid -t ip >/dev/null
rttng_lttng start "$s" >/dev/null
LD_PRELOAD=$wrapper timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" "$build/dlopen_app" "$build/$lib" 6<&- ||
	rttng_die "dlopen_app failed"
rttng_lttng stop "$s" >/dev/null
rttng_lttng destroy "$s" >/dev/null
rttng_sessiond_stop
trap - EXIT
echo "$trace"
