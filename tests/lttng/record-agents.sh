#!/usr/bin/env bash
# record-agents.sh OUTDIR: records the reference trace of rttng's agent tests with real
# LTTng 2.13 and its agents (python3-lttngust, liblttng-ust-agent-java).
#
# Compiles JulAgentApp.java into OUTDIR/build (javac), starts a private lttng-sessiond
# (see lttng-env.sh), creates one session with the agent rules of the test:
#   -p enabled_logger          -p 'lvl*' --loglevel WARNING
#   -j enabled.logger          -j 'lvl.*' --loglevel-only WARNING
#   -l enabled.logger          -l 'lvl.*' --loglevel WARN
# runs agent_app.py, then JulAgentApp, then Log4jAgentApp (log4j 1.2), stops everything it
# started, saves
# `lttng list SESSION` as OUTDIR/list.txt and prints the trace path.
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
for tool in javac java python3; do
	command -v "$tool" >/dev/null 2>&1 ||
		rttng_die "missing $tool; install: apt-get install default-jdk-headless python3 python3-lttngust liblttng-ust-agent-java"
done
jars=/usr/share/java/lttng-ust-agent-common.jar:/usr/share/java/lttng-ust-agent-jul.jar:/usr/share/java/lttng-ust-agent-log4j.jar:/usr/share/java/log4j-1.2.jar
for jar in ${jars//:/ }; do
	[ -e "$jar" ] ||
		rttng_die "missing $jar; install: apt-get install liblttng-ust-agent-java liblog4j1.2-java"
done
/usr/bin/python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("lttngust") is None)' ||
	rttng_die "missing the Python agent; install: apt-get install python3-lttngust"
rttng_isolate "$here/record-agents.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
build="$out/build"
work="$out/lttng-run"
trace="$out/trace"
[ ! -e "$trace" ] || rttng_die "$trace already exists; give an empty OUTDIR"
mkdir -p "$build" "$work/home"
javac -d "$build" -cp "$jars" "$here/AgentApps.java" "$here/JulAgentApp.java" "$here/Log4jAgentApp.java" ||
	rttng_die "cannot compile AgentApps.java, JulAgentApp.java and Log4jAgentApp.java"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

s=rttng-agents
rttng_lttng create "$s" --output="$trace" >/dev/null
rttng_lttng enable-event -s "$s" -p enabled_logger >/dev/null
rttng_lttng enable-event -s "$s" -p 'lvl*' --loglevel WARNING >/dev/null
rttng_lttng enable-event -s "$s" -j enabled.logger >/dev/null
rttng_lttng enable-event -s "$s" -j 'lvl.*' --loglevel-only WARNING >/dev/null
rttng_lttng enable-event -s "$s" -l enabled.logger >/dev/null
rttng_lttng enable-event -s "$s" -l 'lvl.*' --loglevel WARN >/dev/null
rttng_lttng start "$s" >/dev/null
timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" /usr/bin/python3 "$here/agent_app.py" </dev/null >"$work/python.out" 6<&- ||
	rttng_die "agent_app.py failed"
timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" java -cp "$jars:$build" JulAgentApp </dev/null >"$work/java.out" 2>"$work/java.err" 6<&- ||
	rttng_die "JulAgentApp failed: $(cat "$work/java.err")"
timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" java -cp "$jars:$build" Log4jAgentApp </dev/null >"$work/log4j.out" 2>"$work/log4j.err" 6<&- ||
	rttng_die "Log4jAgentApp failed: $(cat "$work/log4j.err")"
rttng_lttng stop "$s" >/dev/null
rttng_lttng list "$s" >"$out/list.txt"
rttng_lttng destroy "$s" >/dev/null
rttng_sessiond_stop
trap - EXIT
echo "$trace"
