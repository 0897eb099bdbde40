#!/usr/bin/env bash
# stream-to-relay.sh WORKDIR CTRL_PORT DATA_PORT EVENTS RATE uid|pid [HOST]
#
# Streams a real LTTng 2.13 session to a relay daemon on HOST (default
# 127.0.0.1) at CTRL_PORT/DATA_PORT: a private lttng-sessiond (see
# lttng-env.sh), `lttng create --set-url net://HOST:CTRL:DATA`, one user-space
# channel with per-user (uid) or per-process (pid) buffers, relay_app emitting
# EVENTS events at RATE per second, then stop (which waits until the relay
# holds everything) and destroy. Prints two lines:
#   emitted=EVENTS
#   discarded=D        (the session's discarded events, from `lttng list`)
#   app_ns=N           (wall time of the app's run)
#   consumer_ns=T      (CPU time of the lttng-consumerd threads after stop, from
#                       /proc/PID/task/*/schedstat; they live in this run's PID namespace)
# RTTNG_RELAY_MODE=live makes it a live session (--live, 100 ms timer); =snapshot a
# snapshot session whose one `lttng snapshot record`, after the app ran, goes to the relay.
# With RTTNG_PAUSE_AFTER_STOP=1 it prints `stopped` after stop and waits for a line on
# its standard input before destroying the session (a benchmark samples the relay then).
# It deliberately does not read the trace: the caller judges what the relay
# stored. It does not start or stop the relay either.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lttng-env.sh"

if [ $# -lt 6 ] || [ $# -gt 7 ]; then
	echo "usage: $0 WORKDIR CTRL_PORT DATA_PORT EVENTS RATE uid|pid [HOST]" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/stream-to-relay.sh" "$@"
rttng_private_mounts

work=$(mkdir -p "$1" && cd "$1" && pwd)
ctrl=$2 data=$3 events=$4 rate=$5 buffers=$6 host=${7:-127.0.0.1}
for n in "$ctrl" "$data" "$events" "$rate"; do
	case $n in
	'' | *[!0-9]*) rttng_die "ports, EVENTS and RATE must be non-negative integers" ;;
	esac
done
case $buffers in
uid | pid) ;;
*) rttng_die "buffers must be uid or pid" ;;
esac

mkdir -p "$work/build" "$work/home"
cc -std=gnu11 -O1 -Wall -Wextra -I"$here" -o "$work/build/relay_app" \
	"$here/relay_app.c" "$here/bench_tp.c" -llttng-ust -ldl ||
	rttng_die "cannot compile relay_app; install: $RTTNG_INSTALL_HINT"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
trap 'rttng_sessiond_stop' EXIT
rttng_sessiond_start "$work"

s=relay-$buffers
mode=${RTTNG_RELAY_MODE:-normal}
case $mode in
normal) rttng_lttng create "$s" --set-url "net://$host:$ctrl:$data" >/dev/null ;;
live) rttng_lttng create "$s" --live=100000 --set-url "net://$host:$ctrl:$data" >/dev/null ;;
snapshot) rttng_lttng create "$s" --snapshot --set-url "net://$host:$ctrl:$data" >/dev/null ;;
*) rttng_die "RTTNG_RELAY_MODE must be normal, live or snapshot" ;;
esac
rttng_lttng enable-channel -u -s "$s" "--buffers-$buffers" ch0 >/dev/null
rttng_lttng enable-event -u -s "$s" -c ch0 'rttng_bench:event' >/dev/null
rttng_lttng start "$s" >/dev/null
app_start=$(date +%s%N)
out=$(cd "$work/build" && timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" ./relay_app "$events" "$rate" 6<&-) ||
	rttng_die "relay_app failed"
app_ns=$(($(date +%s%N) - app_start))
[ "$out" = "done $events" ] || rttng_die "relay_app said: $out"
if [ "$mode" = snapshot ]; then
	rttng_lttng snapshot record -s "$s" >/dev/null
fi
rttng_lttng stop "$s" >/dev/null
discarded=$(rttng_lttng list "$s" | awk '/Discarded events:/ { n += $3 } END { print n + 0 }')
consumer_ns=0
for p in $(pgrep -x lttng-consumerd || true); do
	for t in /proc/"$p"/task/*/schedstat; do
		n=$(awk '{ print $1 }' "$t" 2>/dev/null || echo 0)
		consumer_ns=$((consumer_ns + n))
	done
done
if [ "${RTTNG_PAUSE_AFTER_STOP:-}" = 1 ]; then
	echo stopped
	read -r _ || true
fi
rttng_lttng destroy "$s" >/dev/null
rttng_sessiond_stop
trap - EXIT

echo "emitted=$events"
echo "discarded=$discarded"
echo "consumer_ns=$consumer_ns"
echo "app_ns=$app_ns"
