# lttng-env.sh: shell helpers shared by record-reference.sh and the LTTng
# baselines of the benchmarks (source it; it is not a program).
#
# It gives each run its own, private LTTng: its own LTTNG_HOME, and, as root,
# its own mount and PID namespaces where /run (hence /run/lttng, the root
# session daemon's hard-wired run directory) and /dev/shm are fresh tmpfs
# mounts. The session daemon runs as a job of the calling shell: it reports
# readiness with --sig-parent, is stopped by PID, and its exit is observed
# with `wait`, never by sleeping. It deliberately does not touch the kernel
# domain (--no-kernel) nor any session daemon it did not start.

# Bounds for every wait, in seconds.
RTTNG_SESSIOND_START_TIMEOUT_S=${RTTNG_SESSIOND_START_TIMEOUT_S:-60}
RTTNG_SESSIOND_STOP_TIMEOUT_S=${RTTNG_SESSIOND_STOP_TIMEOUT_S:-60}
RTTNG_LTTNG_CMD_TIMEOUT_S=${RTTNG_LTTNG_CMD_TIMEOUT_S:-120}

RTTNG_INSTALL_HINT="apt-get install lttng-tools liblttng-ust-dev babeltrace2"

rttng_die() {
	echo "$(basename "$0"): error: $*" >&2
	exit 1
}

# rttng_require_tools: fails with the apt-get line if a tool is missing.
rttng_require_tools() {
	local missing=""
	local tool
	for tool in lttng lttng-sessiond babeltrace2 cc timeout; do
		command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
	done
	# As root with apt, install what is missing (the issue asks the script to), then recheck.
	if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
		[ -z "${RTTNG_NO_INSTALL:-}" ]; then
		echo "$(basename "$0"): installing lttng-tools liblttng-ust-dev babeltrace2 gcc" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lttng-tools liblttng-ust-dev babeltrace2 gcc >&2 ||
			{ apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lttng-tools liblttng-ust-dev babeltrace2 gcc >&2; }
		missing=""
		for tool in lttng lttng-sessiond babeltrace2 cc timeout; do
			command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
		done
	fi
	if ! printf '#include <lttng/tracepoint.h>\n' | cc -E -x c - >/dev/null 2>&1; then
		missing="$missing lttng/tracepoint.h(liblttng-ust-dev)"
	fi
	if [ -n "$missing" ]; then
		rttng_die "missing:$missing; install them with: $RTTNG_INSTALL_HINT"
	fi
}

# rttng_isolate SCRIPT ARGS...: as root, re-executes SCRIPT inside fresh
# mount and PID namespaces (the script becomes PID 1 there, so every process
# it leaves behind is killed by the kernel when it exits, and --kill-child
# makes killing `unshare` kill the script). Returns (does nothing) when
# already isolated or when not root: a non-root session daemon keeps all its
# sockets under $LTTNG_HOME/.lttng already.
rttng_isolate() {
	if [ "$(id -u)" != 0 ] || [ "${RTTNG_LTTNG_ISOLATED:-}" = 1 ]; then
		return 0
	fi
	command -v unshare >/dev/null 2>&1 ||
		rttng_die "unshare (util-linux) is needed to isolate the root session daemon"
	export RTTNG_LTTNG_ISOLATED=1
	exec unshare --mount --pid --fork --mount-proc --propagation private \
		--kill-child bash "$@"
}

# rttng_private_mounts: inside the namespaces, hides the host's /run and
# /dev/shm behind fresh tmpfs mounts.
rttng_private_mounts() {
	if [ "${RTTNG_LTTNG_ISOLATED:-}" != 1 ]; then
		return 0
	fi
	mount -t tmpfs -o mode=0755 rttng-run /run ||
		rttng_die "cannot mount a private /run (need CAP_SYS_ADMIN)"
	mount -t tmpfs -o mode=1777 rttng-shm /dev/shm ||
		rttng_die "cannot mount a private /dev/shm"
}

# rttng_rundir: where the session daemon of this user keeps its sockets.
rttng_rundir() {
	if [ "$(id -u)" = 0 ]; then
		echo /run/lttng
	else
		echo "$LTTNG_HOME/.lttng"
	fi
}

# rttng_lttng ARGS...: the lttng client, bounded, never spawning a daemon.
rttng_lttng() {
	timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" lttng --no-sessiond "$@" </dev/null ||
		rttng_die "lttng $* failed (status $?); daemon log: $RTTNG_SESSIOND_LOG"
}

RTTNG_SESSIOND_PID=""
RTTNG_SESSIOND_LOG=""

# The session daemon runs as a background job of this shell. Readiness: with
# --sig-parent it sends SIGUSR1 to the shell, whose trap writes a word into a
# FIFO held open on fd 6, and `read -t` on it is the bounded wait (a word
# written before the read starts stays in the FIFO, so the signal cannot be
# missed). Exit: `wait -n` on the daemon and on a watchdog `sleep` job, so the
# wait ends when the daemon exits or the bound expires, whichever is first.
_rttng_on_usr1() {
	echo ready >&6
}

# _rttng_wait_ready TIMEOUT_S: reads words from fd 6 until `ready` comes.
_rttng_wait_ready() {
	local deadline=$((SECONDS + $1)) word left
	while :; do
		left=$((deadline - SECONDS))
		[ "$left" -gt 0 ] || return 1
		if read -r -t "$left" -u 6 word && [ "$word" = ready ]; then
			return 0
		fi
		# The read was interrupted by a trap, or timed out: loop.
		kill -0 "$RTTNG_SESSIOND_PID" 2>/dev/null || return 2
	done
}

# _rttng_wait_exit PID TIMEOUT_S: waits until job PID exits; fails on timeout.
_rttng_wait_exit() {
	local pid=$1 watchdog finished=""
	sleep "$2" &
	watchdog=$!
	wait -n -p finished "$pid" "$watchdog" || true
	if [ "$finished" = "$pid" ]; then
		kill "$watchdog" 2>/dev/null || true
		wait "$watchdog" 2>/dev/null || true
		return 0
	fi
	wait "$watchdog" 2>/dev/null || true
	return 1
}

# rttng_sessiond_start WORKDIR: starts a session daemon (LTTNG_HOME must be
# set) logging to WORKDIR/sessiond.log. On return the daemon accepts commands
# and RTTNG_SESSIOND_PID holds its PID.
rttng_sessiond_start() {
	local work=$1
	local fifo="$work/sessiond.events"
	RTTNG_SESSIOND_LOG="$work/sessiond.log"
	rm -f "$fifo"
	mkfifo "$fifo" || rttng_die "cannot create $fifo"
	exec 6<>"$fifo"
	rm -f "$fifo"
	trap _rttng_on_usr1 USR1
	lttng-sessiond --no-kernel --sig-parent 6>&- </dev/null >"$RTTNG_SESSIOND_LOG" 2>&1 &
	RTTNG_SESSIOND_PID=$!
	local status=0
	_rttng_wait_ready "$RTTNG_SESSIOND_START_TIMEOUT_S" || status=$?
	trap - USR1
	case $status in
	0) ;;
	2)
		wait "$RTTNG_SESSIOND_PID" 2>/dev/null || true
		RTTNG_SESSIOND_PID=""
		exec 6<&-
		rttng_die "lttng-sessiond exited at start; log: $RTTNG_SESSIOND_LOG"
		;;
	*)
		rttng_sessiond_stop
		rttng_die "lttng-sessiond not ready within ${RTTNG_SESSIOND_START_TIMEOUT_S}s; log: $RTTNG_SESSIOND_LOG"
		;;
	esac
}

# rttng_sessiond_stop: stops the daemon by PID and waits (bounded) until it
# has exited; the daemon itself waits for its consumer daemons.
rttng_sessiond_stop() {
	if [ -z "$RTTNG_SESSIOND_PID" ]; then
		return 0
	fi
	local pid=$RTTNG_SESSIOND_PID
	kill -TERM "$pid" 2>/dev/null || true
	if ! _rttng_wait_exit "$pid" "$RTTNG_SESSIOND_STOP_TIMEOUT_S"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		RTTNG_SESSIOND_PID=""
		exec 6<&-
		rttng_die "lttng-sessiond (pid $pid) did not exit within ${RTTNG_SESSIOND_STOP_TIMEOUT_S}s; killed it"
	fi
	RTTNG_SESSIOND_PID=""
	exec 6<&-
}

# rttng_bench_dir NAME KEEP: sets `dir` to KEEP (created) when it is not empty,
# else to a new temporary directory; sets an EXIT trap that stops the session
# daemon and removes a temporary `dir` (a KEEP directory stays).
rttng_bench_dir() {
	local name=$1
	RTTNG_BENCH_KEEP=$2
	if [ -n "$RTTNG_BENCH_KEEP" ]; then
		mkdir -p "$RTTNG_BENCH_KEEP"
		dir=$(cd "$RTTNG_BENCH_KEEP" && pwd)
	else
		dir=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
	fi
	trap _rttng_bench_cleanup EXIT
}

_rttng_bench_cleanup() {
	rttng_sessiond_stop
	if [ -z "$RTTNG_BENCH_KEEP" ]; then
		rm -rf "$dir"
	fi
}

# rttng_build_ust_bench OUT_DIR [BINARY]: OUT_DIR/ust_bench, compiled from
# ust_bench.c against liblttng-ust, or a copy of BINARY when given (the very
# binary another run uses).
rttng_build_ust_bench() {
	local out=$1 binary=${2:-}
	mkdir -p "$out"
	if [ -n "$binary" ]; then
		cp "$binary" "$out/ust_bench" || rttng_die "cannot copy $binary"
		return
	fi
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	cc -std=gnu11 -O2 -Wall -Wextra -I"$here" -o "$out/ust_bench" \
		"$here/ust_bench.c" "$here/bench_tp.c" -llttng-ust -ldl -lpthread ||
		rttng_die "cannot compile ust_bench; install: $RTTNG_INSTALL_HINT"
}
