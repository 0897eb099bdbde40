#!/usr/bin/env bash
# record-appctx.sh OUTDIR: records, with real LTTng 2.13 and its JUL agent, the trace of
# JulContextApp (a context retriever "myprov" answering text, num, int, dbl, flag and nul)
# with `-j ctx.logger` enabled and the application contexts
# `$app.myprov:{text,num,int,dbl,flag,nul,absent}` and `$app.noprov:x` added to the JUL
# channel. Compiles JulContextApp.java into OUTDIR/build, uses a private lttng-sessiond
# (see lttng-env.sh), stops what it started, prints the trace path.
# It deliberately does not trace the kernel, and does not remove OUTDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
rttng_require_tools
for tool in javac java; do
	command -v "$tool" >/dev/null 2>&1 ||
		rttng_die "missing $tool; install: apt-get install default-jdk-headless liblttng-ust-agent-java"
done
jars=/usr/share/java/lttng-ust-agent-common.jar:/usr/share/java/lttng-ust-agent-jul.jar
for jar in ${jars//:/ }; do
	[ -e "$jar" ] || rttng_die "missing $jar; install: apt-get install liblttng-ust-agent-java"
done
rttng_isolate "$here/record-appctx.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
build="$out/build"
work="$out/lttng-run"
trace="$out/trace"
[ ! -e "$trace" ] || rttng_die "$trace already exists; give an empty OUTDIR"
mkdir -p "$build" "$work/home"
javac -d "$build" -cp "$jars" "$here/JulContextApp.java" ||
	rttng_die "cannot compile JulContextApp.java"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

s=rttng-appctx
rttng_lttng create "$s" --output="$trace" >/dev/null
rttng_lttng enable-event -s "$s" -j ctx.logger >/dev/null
for c in text num int dbl flag nul absent; do
	rttng_lttng add-context -s "$s" -j -t "\$app.myprov:$c" >/dev/null
done
rttng_lttng add-context -s "$s" -j -t '$app.noprov:x' >/dev/null
rttng_lttng start "$s" >/dev/null
timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" java -cp "$jars:$build" JulContextApp </dev/null >"$work/java.out" 2>"$work/java.err" 6<&- ||
	rttng_die "JulContextApp failed: $(cat "$work/java.err")"
rttng_lttng stop "$s" >/dev/null
rttng_lttng destroy "$s" >/dev/null
rttng_sessiond_stop
trap - EXIT
echo "$trace"
