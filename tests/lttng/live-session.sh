#!/usr/bin/env bash
# live-session.sh OUTDIR RTTNG CTRL_PORT DATA_PORT LIVE_PORT [LIVE_PERIOD_US]:
# real LTTng 2.13 live sessions read by `rttng view --live` and by
# babeltrace2's lttng-live client, for rttng's live-mode tests.
#
# Starts a private lttng-relayd (its own ports, output OUTDIR/relay) and a
# private lttng-sessiond (see lttng-env.sh), builds live_app, and runs:
#
#  1. two live sessions recording the same app: `live-rt`, read by
#     `rttng view --live`, and `live-bt`, read by `babeltrace2 -i lttng-live`
#     (lttng-relayd 2.13 allows one viewer per session). The app emits its
#     first half, then waits until rttng has printed an event (so events are
#     shown while the app runs), then its second half with a new event class
#     (metadata grows mid-view). The sessions are destroyed; both viewers must
#     end by themselves. Writes rttng.txt, bt-live.txt and stored.txt
#     (babeltrace2 on the relay's copy of live-rt).
#  2. a session destroyed while rttng views it and its app still emits:
#     rttng must end by itself (destroyed.status, destroyed.txt).
#  3. the relay daemon killed while rttng views a session: rttng must fail
#     with an error (killed.status, killed.err).
#
# With RTTNG_LIVE_RELAYD=PATH, that relay daemon (rttng-relayd) replaces
# lttng-relayd; it serves several viewers per session, so phase 1 also runs
# babeltrace2 on live-rt itself from the start (bt-same.txt) and a second one
# attaching late, once rttng has printed (bt-late.txt).
#
# Every process is started and stopped by PID, every wait is bounded. The
# results are files in OUTDIR and the lines of OUTDIR/summary; the Rust test
# judges them. It deliberately does not trace the kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

if [ $# -lt 5 ] || [ $# -gt 6 ]; then
	echo "usage: $0 OUTDIR RTTNG CTRL_PORT DATA_PORT LIVE_PORT [LIVE_PERIOD_US]" >&2
	exit 2
fi
rttng_require_tools
command -v lttng-relayd >/dev/null 2>&1 || rttng_die "lttng-relayd missing; install: $RTTNG_INSTALL_HINT"
command -v ss >/dev/null 2>&1 || rttng_die "ss missing; install: apt-get install iproute2"
rttng_isolate "$here/live-session.sh" "$@"
rttng_private_mounts

out=$(mkdir -p "$1" && cd "$1" && pwd)
rttng=$2
ctrl=$3
data=$4
live=$5
period=${6:-200000}
interval_us=20000
build="$out/build"
work="$out/lttng-run"
mkdir -p "$build" "$work/home" "$out/relay"
summary="$out/summary"
: >"$summary"

cc -std=gnu11 -O1 -Wall -Wextra -I"$here" -o "$build/live_app" \
	"$here/live_app.c" "$here/live_tp.c" -llttng-ust -ldl ||
	rttng_die "cannot compile live_app; install: $RTTNG_INSTALL_HINT"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
host=$(hostname)

relayd_pid=""
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -n "$relayd_pid" ]; then
		kill -TERM "$relayd_pid" 2>/dev/null || true
		_rttng_wait_exit "$relayd_pid" 30 || kill -KILL "$relayd_pid" 2>/dev/null || true
	fi
	rttng_sessiond_stop
}
trap cleanup EXIT

# wait_until TIMEOUT_S WHAT CMD...: runs CMD until it succeeds, at most TIMEOUT_S.
wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || rttng_die "timed out waiting for: $what"
		sleep 0.05
	done
}

# wait_exit PID TIMEOUT_S: waits for job PID (in this shell: jobs are not
# visible from a subshell) and sets `st` to its exit status; fails on timeout.
st=""
wait_exit() {
	local pid=$1
	st=0
	_rttng_wait_exit "$pid" "$2" || return 1
	wait "$pid" || st=$?
}

listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }

relayd=${RTTNG_LIVE_RELAYD:-lttng-relayd}
"$relayd" ${RTTNG_RELAYD_VERBOSE:+-vvv} -C "tcp://127.0.0.1:$ctrl" -D "tcp://127.0.0.1:$data" \
	-L "tcp://127.0.0.1:$live" -o "$out/relay" </dev/null >"$work/relayd.log" 2>&1 &
relayd_pid=$!
wait_until 30 "lttng-relayd listening on $live" listening "$live"
wait_until 30 "lttng-relayd listening on $ctrl" listening "$ctrl"

rttng_sessiond_start "$work"

relay_url="net://127.0.0.1:$ctrl:$data"
viewer_base="net://127.0.0.1:$live"
for s in live-rt live-bt; do
	rttng_lttng create "$s" --live="$period" --set-url="$relay_url" >/dev/null
	rttng_lttng enable-event -u -s "$s" 'rttng_live:*' >/dev/null
	rttng_lttng start "$s" >/dev/null
done

# 1. Both viewers attach before the app starts.
"$rttng" view --live "$viewer_base/host/$host/live-rt" >"$out/rttng.txt" 2>"$out/rttng.err" &
rt_pid=$!
pids+=("$rt_pid")
babeltrace2 -i lttng-live "$viewer_base/host/$host/live-bt" >"$out/bt-live.txt" 2>"$out/bt-live.err" &
bt_pid=$!
pids+=("$bt_pid")
both_attached() {
	"$rttng" view --live "$viewer_base" >"$work/listing" 2>&1 || return 1
	[ "$(grep -c '1 client(s) connected' "$work/listing")" = 2 ]
}
multi=""
[ -n "${RTTNG_LIVE_RELAYD:-}" ] && multi=1
if [ -n "$multi" ]; then
	babeltrace2 -i lttng-live "$viewer_base/host/$host/live-rt" >"$out/bt-same.txt" 2>"$out/bt-same.err" &
	same_pid=$!
	pids+=("$same_pid")
	both_attached() {
		"$rttng" view --live "$viewer_base" >"$work/listing" 2>&1 || return 1
		grep -q 'live-rt .*2 client(s) connected' "$work/listing" &&
			grep -q 'live-bt .*1 client(s) connected' "$work/listing"
	}
fi
wait_until 30 "the viewers attached" both_attached
cp "$work/listing" "$out/listing.txt"

first=25
second=25
mkfifo "$work/go"
"$build/live_app" "$first" "$second" "$interval_us" <"$work/go" >"$out/app.out" 2>&1 &
app_pid=$!
pids+=("$app_pid")
exec 8>"$work/go"
printed() { grep -q 'rttng_live:tick' "$out/rttng.txt"; }
wait_until 60 "rttng view --live printing an event" printed
kill -0 "$app_pid" 2>/dev/null || rttng_die "the app ended before rttng printed"
echo "printed_while_running $(grep -c 'rttng_live:' "$out/rttng.txt")" >>"$summary"
if [ -n "$multi" ]; then
	babeltrace2 -i lttng-live "$viewer_base/host/$host/live-rt" >"$out/bt-late.txt" 2>"$out/bt-late.err" &
	late_pid=$!
	pids+=("$late_pid")
	late_attached() {
		"$rttng" view --live "$viewer_base" 2>&1 | grep -q 'live-rt .*3 client(s) connected'
	}
	wait_until 30 "the late viewer attached" late_attached
fi
echo go >&8
exec 8>&-
wait_exit "$app_pid" 60 || rttng_die "the app did not end"
[ "$st" = 0 ] || rttng_die "the app failed ($st): $(cat "$out/app.out")"
rttng_lttng stop live-rt >/dev/null
rttng_lttng stop live-bt >/dev/null
rttng_lttng destroy live-bt >/dev/null
rttng_lttng destroy live-rt >/dev/null
wait_exit "$rt_pid" 60 || rttng_die "rttng view --live did not end after destroy"
echo "rttng_status $st" >>"$summary"
wait_exit "$bt_pid" 60 || rttng_die "babeltrace2 did not end after destroy"
echo "bt_status $st" >>"$summary"
if [ -n "$multi" ]; then
	wait_exit "$same_pid" 60 || rttng_die "babeltrace2 on live-rt did not end after destroy"
	echo "bt_same_status $st" >>"$summary"
	wait_exit "$late_pid" 60 || rttng_die "the late babeltrace2 did not end after destroy"
	echo "bt_late_status $st" >>"$summary"
fi
babeltrace2 "$out/relay/$host"/live-rt-* >"$out/stored.txt" 2>"$out/stored.err" ||
	rttng_die "babeltrace2 cannot read the stored trace: $(cat "$out/stored.err")"

# 2. A session destroyed while viewed, its app still emitting.
rttng_lttng create live-d --live="$period" --set-url="$relay_url" >/dev/null
rttng_lttng enable-event -u -s live-d 'rttng_live:*' >/dev/null
rttng_lttng start live-d >/dev/null
"$rttng" view --live "$viewer_base/host/$host/live-d" >"$out/destroyed.txt" 2>"$out/destroyed.err" &
d_pid=$!
pids+=("$d_pid")
one_attached() {
	"$rttng" view --live "$viewer_base" 2>&1 | grep -q 'live-d .*1 client(s) connected'
}
wait_until 30 "viewer attached to live-d" one_attached
mkfifo "$work/go2"
"$build/live_app" 100000 0 "$interval_us" <"$work/go2" >/dev/null 2>&1 &
app2_pid=$!
pids+=("$app2_pid")
exec 9>"$work/go2"
printed_d() { grep -q 'rttng_live:tick' "$out/destroyed.txt"; }
wait_until 60 "rttng view --live printing live-d" printed_d
rttng_lttng destroy live-d >/dev/null
wait_exit "$d_pid" 60 || rttng_die "rttng view --live did not end after live-d was destroyed"
echo "destroyed_status $st" >>"$summary"
kill -0 "$app2_pid" 2>/dev/null && echo "destroyed_app_running 1" >>"$summary"
kill -KILL "$app2_pid" 2>/dev/null || true
wait "$app2_pid" 2>/dev/null || true
exec 9>&-

# 3. The relay daemon killed while a viewer waits on a session.
rttng_lttng create live-k --live="$period" --set-url="$relay_url" >/dev/null
rttng_lttng enable-event -u -s live-k 'rttng_live:*' >/dev/null
rttng_lttng start live-k >/dev/null
"$rttng" view --live "$viewer_base/host/$host/live-k" >"$out/killed.txt" 2>"$out/killed.err" &
k_pid=$!
pids+=("$k_pid")
k_attached() {
	"$rttng" view --live "$viewer_base" 2>&1 | grep -q 'live-k .*1 client(s) connected'
}
wait_until 30 "viewer attached to live-k" k_attached
kill -KILL "$relayd_pid"
wait "$relayd_pid" 2>/dev/null || true
relayd_pid=""
wait_exit "$k_pid" 60 || rttng_die "rttng view --live did not end after the relay was killed"
echo "killed_status $st" >>"$summary"
rttng_lttng destroy live-k >/dev/null 2>&1 || true

rttng_sessiond_stop
trap - EXIT
echo ok >>"$summary"
