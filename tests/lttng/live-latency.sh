#!/usr/bin/env bash
# live-latency.sh OUTDIR BINDIR STACK VIEWER PERIOD_US EVENTS RATE CTRL DATA LIVE:
# latency from an event's emission to its line on a live viewer's output.
#
# STACK lttng: lttng-sessiond + lttng-relayd 2.13 and live_app (LTTng-UST);
# STACK rttng: rttng's session daemon (`rttng create --live`) + rttng-relayd and
# rttng-example. VIEWER babeltrace2 (`-i lttng-live`, line-buffered) or rttng
# (`rttng view --live`), both with --clock-seconds. The app emits EVENTS
# events at RATE per second after the viewer attached; each output line is
# stamped with the wall clock when it arrives, and its latency is that stamp
# minus the event's timestamp (the trace clock is mapped to the wall clock by
# its offset). Prints `latency_ms n=N median=M p99=P max=X`. BINDIR holds
# rttng's release binaries. Everything is started and stopped by PID; private
# namespaces as in lttng-env.sh. Not a test: it judges nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -ne 10 ]; then
	echo "usage: $0 OUTDIR BINDIR lttng|rttng babeltrace2|rttng PERIOD_US EVENTS RATE CTRL DATA LIVE" >&2
	exit 2
fi
rttng_require_tools
rttng_isolate "$here/live-latency.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
bin=$(cd "$2" && pwd)
stack=$3 viewer=$4 period=$5 events=$6 rate=$7 ctrl=$8 data=$9 live=${10}
work="$out/run"
rm -rf "$work"
mkdir -p "$work/home" "$work/relay" "$work/rttng-home" "$work/rttng-run"
export LTTNG_HOME="$work/home" LTTNG_UST_REGISTER_TIMEOUT=30000
export RTTNG_HOME="$work/rttng-home" RTTNG_RUNDIR="$work/rttng-run" RTTNG_UST_REGISTER_TIMEOUT=30000
host=$(hostname)
interval_us=$((1000000 / rate))

relayd_pid="" viewer_pid="" stamp_pid=""
cleanup() {
	for p in $viewer_pid $stamp_pid; do kill -KILL "$p" 2>/dev/null || true; done
	# The session daemons first: they may still talk to the relay.
	if [ -f "$RTTNG_RUNDIR/rttng-sessiond.pid" ]; then
		kill -TERM "$(cat "$RTTNG_RUNDIR/rttng-sessiond.pid")" 2>/dev/null || true
	fi
	rttng_sessiond_stop
	if [ -n "$relayd_pid" ]; then
		kill -TERM "$relayd_pid" 2>/dev/null || true
		_rttng_wait_exit "$relayd_pid" 30 || kill -KILL "$relayd_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || rttng_die "timed out waiting for: $what"
		sleep 0.05
	done
}
listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }

case $stack in
lttng) relayd=lttng-relayd ;;
rttng) relayd="$bin/rttng-relayd" ;;
*) rttng_die "STACK must be lttng or rttng" ;;
esac
"$relayd" -C "tcp://127.0.0.1:$ctrl" -D "tcp://127.0.0.1:$data" -L "tcp://127.0.0.1:$live" \
	-o "$work/relay" </dev/null >"$work/relayd.log" 2>&1 &
relayd_pid=$!
wait_until 30 "the relay daemon" listening "$live"

if [ "$stack" = lttng ]; then
	cc -std=gnu11 -O1 -I"$here" -o "$work/live_app" "$here/live_app.c" "$here/live_tp.c" -llttng-ust -ldl ||
		rttng_die "cannot build live_app"
	rttng_sessiond_start "$work"
	rttng_lttng create lat --live="$period" --set-url="net://127.0.0.1:$ctrl:$data" >/dev/null
	rttng_lttng enable-event -u -s lat 'rttng_live:*' >/dev/null
	rttng_lttng start lat >/dev/null
else
	"$bin/rttng" create lat --live="$period" -U "net://127.0.0.1:$ctrl:$data" >/dev/null
	"$bin/rttng" enable-event -u -s lat 'rttng_example:*' >/dev/null
	"$bin/rttng" start lat >/dev/null
fi

url="net://127.0.0.1:$live/host/$host/lat"
mkfifo "$work/lines"
while IFS= read -r line; do
	printf '%s %s\n' "$EPOCHREALTIME" "$line"
done <"$work/lines" >"$out/stamped.txt" &
stamp_pid=$!
case $viewer in
babeltrace2) stdbuf -oL babeltrace2 --clock-seconds -i lttng-live "$url" >"$work/lines" 2>"$work/viewer.err" & ;;
rttng) "$bin/rttng" view --live "$url" --clock-seconds >"$work/lines" 2>"$work/viewer.err" & ;;
*) rttng_die "VIEWER must be babeltrace2 or rttng" ;;
esac
viewer_pid=$!
attached() { "$bin/rttng" view --live "net://127.0.0.1:$live" 2>/dev/null | grep -q '1 client(s)'; }
wait_until 30 "the viewer attached" attached

if [ "$stack" = lttng ]; then
	"$work/live_app" "$events" 0 "$interval_us" <<<"go" >/dev/null
	rttng_lttng stop lat >/dev/null
	rttng_lttng destroy lat >/dev/null
else
	"$bin/rttng-example" --count "$events" --rate "$rate" >/dev/null
	"$bin/rttng" stop lat >/dev/null
	"$bin/rttng" destroy lat >/dev/null
fi
_rttng_wait_exit "$viewer_pid" 60 || rttng_die "the viewer did not end"
viewer_pid=""
_rttng_wait_exit "$stamp_pid" 30 || true
stamp_pid=""

n=$(wc -l <"$out/stamped.txt")
[ "$n" -gt 0 ] || rttng_die "the viewer printed nothing: $(head -c 2000 "$work/viewer.err")"
awk '{
	arrival = $1
	ts = $2; gsub(/[\[\]]/, "", ts)
	split(arrival, a, "."); split(ts, t, ".")
	ms = (a[1] - t[1]) * 1000 + (a[2] / 1000) - (substr(t[2], 1, 6) / 1000)
	print ms
}' "$out/stamped.txt" | sort -n >"$out/latencies.txt"
awk -v n="$n" '{ v[NR] = $1 } END {
	med = v[int((n + 1) / 2)]; p = v[int(n * 0.99 + 0.999)]; if (p == "") p = v[n]
	printf "latency_ms n=%d median=%.1f p99=%.1f max=%.1f\n", n, med, p, v[n]
}' "$out/latencies.txt"
