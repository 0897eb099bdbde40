#!/usr/bin/env bash
# bench-lttng-snapshot.sh [--records N] [--events E] [--keep DIR]: the LTTng 2.13
# baseline of `rttng-bench snapshot`.
#
# Builds ust_bench, starts a private lttng-sessiond (see lttng-env.sh), creates a
# snapshot session (lttng's default channel for it: per-user buffers, 4 x 512 KiB
# per CPU, overwrite mode), enables rttng_bench:event, starts it, and fills every
# CPU's buffer: ust_bench runs one thread per CPU, thread t pinned to CPU t, each
# emitting E events (default 400000, about 5 times the 2 MiB a CPU holds). Then it
# times `lttng snapshot record` N times (default 10) and prints one line:
#   lttng-snapshot records=N bytes=B ms=T1,T2,...
# B is the size of the stream files of the first snapshot (metadata and indexes
# excluded), T the wall time of each `lttng snapshot record` command (client
# start to exit, as a user or a script sees it). Works in a temporary directory,
# removed at the end unless --keep DIR names one to use and keep. Not the kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lttng-env.sh
. "$here/lttng-env.sh"

records=10
events=400000
keep=""
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--records) records=${2:?--records needs a value}; shift 2 ;;
	--events) events=${2:?--events needs a value}; shift 2 ;;
	--keep) keep=${2:?--keep needs a directory}; shift 2 ;;
	*)
		echo "usage: $0 [--records N] [--events E] [--keep DIR]" >&2
		exit 2
		;;
	esac
done
rttng_require_tools
rttng_isolate "$here/bench-lttng-snapshot.sh" "${args[@]}"
rttng_private_mounts

rttng_bench_dir rttng-bench-lttng-snapshot "$keep"

build="$dir/build"
work="$dir/lttng-run"
snap="$dir/snapshots"
mkdir -p "$work/home"
rttng_build_ust_bench "$build"

export LTTNG_HOME="$work/home"
export LTTNG_UST_REGISTER_TIMEOUT=30000
rttng_sessiond_start "$work"

cpus=$(nproc)
rttng_lttng create rttng-bench --snapshot --output="$snap" >/dev/null
rttng_lttng enable-event -u -s rttng-bench rttng_bench:event >/dev/null
rttng_lttng start rttng-bench >/dev/null
(cd "$build" && timeout "$RTTNG_LTTNG_CMD_TIMEOUT_S" ./ust_bench \
	--threads "$cpus" --events "$events" --pin-cpu 0 6<&- >/dev/null) ||
	rttng_die "ust_bench failed"

times=""
for _ in $(seq "$records"); do
	t0=$(date +%s%N)
	rttng_lttng snapshot record -s rttng-bench >/dev/null
	t1=$(date +%s%N)
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
	times="${times:+$times,}$ms"
done
rttng_lttng destroy rttng-bench >/dev/null
rttng_sessiond_stop

first=$(find "$snap" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
[ -n "$first" ] || rttng_die "no snapshot directory in $snap"
bytes=$(find "$first" -type f ! -name metadata ! -name '*.idx' -printf '%s\n' |
	awk '{ n += $1 } END { print n + 0 }')
echo "lttng-snapshot records=$records bytes=$bytes ms=$times"
