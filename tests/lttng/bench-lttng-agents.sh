#!/usr/bin/env bash
# bench-lttng-agents.sh BUILDDIR PY_CALLS JUL_CALLS: LTTng 2.13's side of bench/agents.sh.
# Starts a private lttng-sessiond (see lttng-env.sh), one session with
# `enable-event -p bench.enabled` and `-j bench.enabled` (the consumer writing to disk),
# runs agent_bench.py and JulAgentBench (compiled into BUILDDIR), prints their lines, and
# stops everything it started.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"
[ $# -eq 3 ] || { echo "usage: $0 BUILDDIR PY_CALLS JUL_CALLS" >&2; exit 2; }
rttng_require_tools
rttng_isolate "$here/bench-lttng-agents.sh" "$@"
rttng_private_mounts
build=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/rttng-lttng-agents.XXXXXX")
export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
mkdir -p "$LTTNG_HOME"
trap 'rttng_sessiond_stop; rm -rf "$work"' EXIT
rttng_sessiond_start "$work"
rttng_lttng create b --output="$work/trace" >/dev/null
rttng_lttng enable-event -p bench.enabled >/dev/null
rttng_lttng enable-event -j bench.enabled >/dev/null
rttng_lttng start b >/dev/null
/usr/bin/python3 "$here/agent_bench.py" "$2" 6<&-
java -cp "/usr/share/java/lttng-ust-agent-common.jar:/usr/share/java/lttng-ust-agent-jul.jar:$build" JulAgentBench "$3" 6<&-
rttng_lttng stop b >/dev/null
rttng_lttng destroy b >/dev/null
