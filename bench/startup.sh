#!/usr/bin/env bash
# bench/startup.sh [RUNS] [SAVED_DIR]: what the tracer costs an application at start when no
# session daemon runs, and the size of what the application loads, in the same run:
#   - LTTng-UST 2.13: tests/lttng/ref_app (a C app with a tracepoint provider, built here
#     against liblttng-ust-dev), `ref_app 0`, on the system's libraries;
#   - the rttng drop-in: the same binary with `rttng run --print-lib-dir` first on
#     LD_LIBRARY_PATH;
#   - a native Rust app: rttng-ust's `startup` example (init + one call site);
#   - baselines without a tracer: an empty C program and an empty Rust program (rustc -O).
# Each case runs RUNS times (default 200), the cases interleaved round by round so the host's
# load hits them alike; it prints the median and minimum wall time per start (fork+exec+exit,
# from a Python parent) and the median user+sys CPU time of the child (wait4's rusage).
# Sizes are of stripped copies (`strip -o`); "ctf symbols" counts the unstripped file's
# symbols from the rttng-ctf crate (tsdl/decode: its TSDL parser and packet decoder).
# `bench/startup.sh save DIR` builds and copies this tree's drop-in libraries and startup
# binary to DIR; a later `bench/startup.sh RUNS DIR` measures them as an extra "saved" column
# (how the before/after figures in BENCHMARKS.md were made). No daemon is reachable: HOME,
# LTTNG_HOME, RTTNG_HOME and RTTNG_RUNDIR point to an empty directory (a root lttng-sessiond
# with a global socket would still be found by LTTng-UST: the script says so if one exists).
# Asserts nothing: figures only.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
mode=measure
if [ "${1:-}" = save ]; then
	mode=save
	saved=${2:?usage: bench/startup.sh save DIR}
else
	runs=${1:-200}
	saved=${2:-}
fi
cargo build --release -q -p rttng -p rttng-lttng-ust -p rttng-lttng-ust-tracepoint -p rttng-lttng-ust-common
cargo build --release -q -p rttng-ust --example startup
compat=$(target/release/rttng run --print-lib-dir)
native=target/release/examples/startup
if [ "$mode" = save ]; then
	mkdir -p "$saved/lttng-ust-compat"
	cp "$compat"/*.so* "$saved/lttng-ust-compat/"
	cp "$native" "$saved/startup"
	echo "saved $(ls "$saved/lttng-ust-compat" | tr '\n' ' ')and startup to $saved"
	exit 0
fi
command -v python3 >/dev/null || { echo "missing python3: apt-get install python3" >&2; exit 1; }
tmp=$(mktemp -d /tmp/rttng-startup.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"
cc -std=gnu11 -O1 -I tests/lttng -o "$tmp/ref_app" tests/lttng/ref_app.c tests/lttng/ref_tp.c \
	-llttng-ust -ldl -lm || { echo "cannot build ref_app: apt-get install liblttng-ust-dev gcc" >&2; exit 1; }
printf 'int main(void) { return 0; }\n' >"$tmp/empty.c"
cc -O1 -o "$tmp/empty_c" "$tmp/empty.c"
printf 'fn main() {}\n' >"$tmp/empty.rs"
rustc -O -o "$tmp/empty_rust" "$tmp/empty.rs"
for s in /var/run/lttng/lttng-ust-sock-8 /run/lttng/lttng-ust-sock-8; do
	[ -e "$s" ] && echo "warning: $s exists: LTTng-UST apps may register with a root lttng-sessiond" >&2
done

lttng_lib=$(ldd "$tmp/ref_app" | awk '/liblttng-ust\.so/ { print $3 }')
lttng_dir=$(dirname "$(readlink -f "$lttng_lib")")
size() { strip -o "$tmp/stripped" "$1" && stat -c %s "$tmp/stripped"; }
ctf_syms() { nm "$1" 2>/dev/null | grep -c 'rttng_ctf' || true; }
ctf_parser_syms() { nm "$1" 2>/dev/null | grep 'rttng_ctf' | grep -c -E 'tsdl|decode' || true; }
echo "Stripped sizes (bytes), rttng-ctf symbols (all / TSDL parser + decoder):"
for lib in liblttng-ust.so.1 liblttng-ust-common.so.1 liblttng-ust-tracepoint.so.1; do
	line="  $lib: LTTng-UST $(size "$lttng_dir/$lib"), rttng $(size "$compat/$lib") ($(ctf_syms "$compat/$lib") / $(ctf_parser_syms "$compat/$lib"))"
	[ -n "$saved" ] && line+=", saved $(size "$saved/lttng-ust-compat/$lib") ($(ctf_syms "$saved/lttng-ust-compat/$lib") / $(ctf_parser_syms "$saved/lttng-ust-compat/$lib"))"
	echo "$line"
done
line="  native Rust app (startup example): $(size "$native") ($(ctf_syms "$native") / $(ctf_parser_syms "$native"))"
[ -n "$saved" ] && line+=", saved $(size "$saved/startup") ($(ctf_syms "$saved/startup") / $(ctf_parser_syms "$saved/startup"))"
echo "$line; empty Rust program $(size "$tmp/empty_rust"), empty C program $(size "$tmp/empty_c")"

cases=(
	"empty C|$tmp/empty_c|"
	"empty Rust|$tmp/empty_rust|"
	"LTTng-UST 2.13 (ref_app 0)|$tmp/ref_app 0|"
	"rttng drop-in (ref_app 0)|$tmp/ref_app 0|$compat"
	"native Rust (startup)|$native|"
)
if [ -n "$saved" ]; then
	cases+=("saved drop-in (ref_app 0)|$tmp/ref_app 0|$saved/lttng-ust-compat" "saved native Rust (startup)|$saved/startup|")
fi
HOME="$tmp/home" LTTNG_HOME="$tmp/home" RTTNG_HOME="$tmp/home" RTTNG_RUNDIR="$tmp/home" \
	python3 - "$runs" "${cases[@]}" <<'PY'
import os, subprocess, sys, time
runs = int(sys.argv[1])
cases = [c.split("|") for c in sys.argv[2:]]
wall = {c[0]: [] for c in cases}
cpu = {c[0]: [] for c in cases}
for _ in range(runs):
    for name, cmd, libdir in cases:
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)
        if libdir:
            env["LD_LIBRARY_PATH"] = libdir
        t0 = time.perf_counter_ns()
        p = subprocess.Popen(cmd.split(), env=env, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter_ns()
        p.returncode = 0
        if status != 0:
            sys.exit(f"Error: {name}: {cmd} exited with status {status}")
        wall[name].append((t1 - t0) / 1e6)
        cpu[name].append((ru.ru_utime + ru.ru_stime) * 1e3)
med = lambda v: sorted(v)[len(v) // 2]
print(f"\nStart-up, {runs} runs each, interleaved (ms per start; load {os.getloadavg()[0]:.2f}):")
print("| case | wall median | wall min | CPU median (user+sys) |")
print("|---|---:|---:|---:|")
for name, _, _ in cases:
    print(f"| {name} | {med(wall[name]):.2f} | {min(wall[name]):.2f} | {med(cpu[name]):.2f} |")
PY
