#!/usr/bin/env bash
# bench/top-overhead.sh [SECONDS] [CALLS]: what a monitor costs, for `rttng top` against
# `top -d 1` and `htop -d 10` (1 s refresh), each watching the machine for SECONDS (default 10):
#   monitor_cpu_s  CPU time (user+sys) of the monitor itself over the run (its /proc stat);
#   workload_ns    ns per getppid(2) call of a system-call loop run meanwhile (rttng-bench
#                  kernel --workload-only CALLS), against the same loop with no monitor:
#                  rttng top traces every system call of the machine, the others poll /proc.
# Each monitor runs in its own tmux session (htop and the UIs need a terminal); every process
# is stopped by PID. Needs root (the kernel session), tmux, htop, and release binaries
# (cargo build --release -p rttng -p rttng-bench). It judges nothing; figures go to
# BENCHMARKS.md.
set -euo pipefail
secs=${1:-10}
calls=${2:-3000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release"
for t in tmux htop top; do
	command -v "$t" >/dev/null || { echo "missing $t: apt-get install $t" >&2; exit 1; }
done

workload() { "$bin/rttng-bench" kernel --workload-only "$calls" | awk '{ printf "%.1f", $2 / '"$calls"' }'; }

# cpu_s PID: user+sys seconds of PID and its threads so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

echo "none: workload_ns=$(workload)"
for mon in "top -d 1" "htop -d 10" "$bin/rttng top -d 1"; do
	session="rttng-bench-top-$$"
	tmux new-session -d -s "$session" -x 160 -y 40 "$mon"
	pane_pid=$(tmux display-message -p -t "$session" '#{pane_pid}')
	sleep 2 # the monitor's start-up (the kernel session) is not what is measured
	before=$(cpu_s "$pane_pid")
	w=$(workload)
	sleep "$secs"
	after=$(cpu_s "$pane_pid")
	tmux kill-session -t "$session"
	echo "$mon: monitor_cpu_s=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }') over ${secs}s+workload, workload_ns=$w"
done
