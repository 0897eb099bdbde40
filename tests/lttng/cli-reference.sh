#!/usr/bin/env bash
# cli-reference.sh WORKDIR: real lttng 2.13 as the oracle of rttng's command line.
#
# Reads WORKDIR/commands.txt: one lttng command a line, its arguments separated by tabs;
# `{OUT}` in an argument stands for WORKDIR/traces. Runs each, in order, as a user would
# (no session daemon at first: `create` spawns one, as lttng does), and writes its exit
# status, standard output and standard error to WORKDIR/out/K.status, K.stdout and
# K.stderr (K: 0-based line number). Isolated like the other scripts (lttng-env.sh): its
# own LTTNG_HOME and, as root, its own mount and PID namespaces, so every daemon it
# spawned ends with it; as another user it stops the daemon by the PID in LTTNG_HOME.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 1 ]; then
	echo "usage: $0 WORKDIR" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/cli-reference.sh" "$@"
rttng_private_mounts

work=$(cd "$1" && pwd)
out="$work/out"
mkdir -p "$out" "$work/home" "$work/traces"
[ -f "$work/commands.txt" ] || rttng_die "$work needs commands.txt"
export LTTNG_HOME="$work/home"

stop_spawned() {
	local pidfile="$LTTNG_HOME/.lttng/lttng-sessiond.pid"
	[ "$(id -u)" = 0 ] && pidfile=/run/lttng/lttng-sessiond.pid
	if [ -f "$pidfile" ]; then
		local pid
		pid=$(cat "$pidfile")
		kill -TERM "$pid" 2>/dev/null || true
		# Bounded wait for its exit (it is not our child: poll /proc).
		local i=0
		while [ -d "/proc/$pid" ] && [ $i -lt 600 ]; do
			read -r -t 0.1 <> <(:) || true
			i=$((i + 1))
		done
	fi
}
trap stop_spawned EXIT

k=0
while IFS= read -r line; do
	line=${line//\{OUT\}/$work/traces}
	IFS=$'\t' read -r -a args <<<"$line"
	status=0
	timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" lttng "${args[@]}" </dev/null \
		>"$out/$k.stdout" 2>"$out/$k.stderr" || status=$?
	echo "$status" >"$out/$k.status"
	k=$((k + 1))
done <"$work/commands.txt"
