#!/usr/bin/env bash
# record-appfilter-jul.sh WORKDIR: real LTTng 2.13 and its JUL agent as the oracle of
# `$app` filters in the JUL domain.
#
# WORKDIR/filters.txt (written by the test) holds one filter expression per
# line. For each filter K (0-based line number) it creates session sK with
# `enable-event -j ctx.logger --filter EXPR` (its exit status in
# WORKDIR/out/K.status). JulContextApp (compiled into WORKDIR/build; a context
# retriever "myprov") runs once, and each session's trace is read with
# babeltrace2 into WORKDIR/out/K.kept: the N of every "hello N" record it
# kept, one per line. Uses a private session daemon (lttng-env.sh) that it
# stops by PID; leaves nothing running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 1 ]; then
	echo "usage: $0 WORKDIR" >&2
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
rttng_isolate "$here/record-appfilter-jul.sh" "$@"
rttng_private_mounts

work=$(cd "$1" && pwd)
out="$work/out"
build="$work/build"
mkdir -p "$out" "$build" "$work/home" "$work/traces"
[ -f "$work/filters.txt" ] || rttng_die "$work needs filters.txt"
javac -d "$build" -cp "$jars" "$here/JulContextApp.java" ||
	rttng_die "cannot compile JulContextApp.java"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

sessions=()
k=0
while IFS= read -r expr; do
	rttng_lttng create "s$k" --output="$work/traces/s$k" >/dev/null
	status=0
	timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" lttng --no-sessiond enable-event -s "s$k" -j ctx.logger \
		--filter "$expr" </dev/null >/dev/null 2>"$out/$k.stderr" || status=$?
	echo "$status" >"$out/$k.status"
	rttng_lttng start "s$k" >/dev/null
	sessions+=("$k")
	k=$((k + 1))
done <"$work/filters.txt"

timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" java -cp "$jars:$build" JulContextApp </dev/null \
	>"$out/java.out" 2>"$out/java.err" 6<&- ||
	rttng_die "JulContextApp failed: $(cat "$out/java.err")"
for k in "${sessions[@]}"; do
	rttng_lttng stop "s$k" >/dev/null
	rttng_lttng destroy "s$k" >/dev/null
	: >"$out/$k.kept"
	if [ -d "$work/traces/s$k" ]; then
		babeltrace2 "$work/traces/s$k" 2>"$out/$k.bt-stderr" |
			sed -n 's/.* lttng_jul:event: .*msg = "hello \([0-9]*\)".*/\1/p' >"$out/$k.kept"
	fi
done
