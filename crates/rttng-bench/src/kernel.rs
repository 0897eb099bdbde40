//! `rttng-bench kernel`: a system-call-heavy workload (N `getppid` calls, timed by the workload
//! itself) run with no tracing, under an rttng kernel session (all system calls plus the
//! `sched_*` tracepoints, system-wide, default buffers), under `trace-cmd record -d -k -B
//! INSTANCE` with the same events, and under `strace -f`, all in the same run. It reports the
//! slowdown ratios and the events each tracer lost. The rttng session runs twice per round: as
//! a session records by default (path strings of file system calls through eBPF), and with only
//! the pointers recorded, which is what trace-cmd records.
//!
//! The workload is this binary (`rttng-bench kernel --workload-only N`), so every run measures
//! the very same loop. strace runs a tenth of the calls (it takes minutes otherwise); its
//! ratio is per call. The first three alternate over [`ROUNDS`] rounds (so that load from other
//! processes hits them alike) and the table shows medians. Nothing here asserts a speed.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use rttng_kernel::{ChannelConfig, KernelSession, Syscalls};

/// Run the workload loop and print `elapsed_ns N`.
pub fn workload(calls: u64) {
    let start = std::time::Instant::now();
    let mut acc = 0u64;
    for _ in 0..calls {
        acc = acc.wrapping_add(u64::from(std::os::unix::process::parent_id()));
    }
    let ns = start.elapsed().as_nanos();
    println!("elapsed_ns {ns} acc {acc}");
}

fn run_workload(prefix: &[&str], calls: u64) -> Result<(f64, String)> {
    let me = std::env::current_exe().context("current exe")?;
    let me = me.to_str().context("exe path is not UTF-8")?.to_string();
    let calls_s = calls.to_string();
    let mut argv: Vec<&str> = prefix.to_vec();
    argv.extend([me.as_str(), "kernel", "--workload-only", calls_s.as_str()]);
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", argv.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ns: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("elapsed_ns "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("workload printed no elapsed_ns")?;
    Ok((
        ns / 1e9,
        String::from_utf8_lossy(&out.stderr).into_owned() + &stdout,
    ))
}

/// The workload run in a child process: its own timing, in seconds.
pub(crate) fn timed_workload(calls: u64) -> Result<f64> {
    run_workload(&[], calls).map(|(s, _)| s)
}

/// `overrun: N` lines trace-cmd prints per CPU at the end of a recording.
fn trace_cmd_lost(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("overrun:")
                .or_else(|| l.strip_prefix("dropped events:"))
        })
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .sum()
}

/// Rounds of (no tracing, rttng, trace-cmd), interleaved so that load from other processes
/// hits all three alike; the table shows each one's median.
pub const ROUNDS: usize = 5;

/// One rttng kernel session around one workload run.
struct RttngRun {
    workload_s: f64,
    stop_s: f64,
    events: u64,
    lost: u64,
}

/// `path_strings`: record the path strings of file system calls with eBPF (the default of a
/// session), or only the pointers, as trace-cmd does.
fn run_rttng(calls: u64, tmp: &Path, path_strings: bool) -> Result<RttngRun> {
    let out = tmp.join("rttng-session");
    let _ = std::fs::remove_dir_all(&out);
    let mut s = KernelSession::create("bench", &out, ChannelConfig::default())?;
    s.enable_syscalls("channel0", &Syscalls::All)?;
    s.enable_tracepoints("channel0", "sched:sched_*")?;
    s.set_record_paths(path_strings);
    s.start()?;
    let ours = run_workload(&[], calls);
    let stop_start = std::time::Instant::now();
    let report = s.stop();
    let stop_s = stop_start.elapsed().as_secs_f64();
    s.destroy()?;
    let (workload_s, _) = ours?;
    let report = report?;
    Ok(RttngRun {
        workload_s,
        stop_s,
        events: report.events_written,
        lost: report.events_discarded,
    })
}

fn run_trace_cmd(calls: u64, tmp: &Path) -> Result<(f64, u64)> {
    let dat = tmp.join("trace.dat");
    let tc = run_workload(
        &[
            "trace-cmd",
            "record",
            "-d",
            "-k",
            "-B",
            "rttng-bench-tc",
            "-e",
            "syscalls",
            "-e",
            "sched",
            "-o",
            dat.to_str().context("path")?,
        ],
        calls,
    );
    // trace-cmd -k keeps its instance; remove it ourselves.
    let _ = std::fs::remove_dir("/sys/kernel/tracing/instances/rttng-bench-tc");
    let _ = std::fs::remove_file(&dat);
    let (tc_s, tc_text) = tc?;
    Ok((tc_s, trace_cmd_lost(&tc_text)))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(calls: u64, tmp: &Path) -> Result<()> {
    std::fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let _ = rttng_kernel::cleanup_stale_instances();
    println!("workload: {calls} getppid calls (self-timed loop), {ROUNDS} interleaved rounds");

    let (mut base, mut ours, mut tc, mut stop) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut bare, mut bare_stop) = (Vec::new(), Vec::new());
    let (mut ours_events, mut ours_lost, mut tc_lost) = (0u64, 0u64, 0u64);
    let (mut bare_events, mut bare_lost) = (0u64, 0u64);
    for round in 0..ROUNDS {
        base.push(run_workload(&[], calls)?.0);
        let r = run_rttng(calls, tmp, true)?;
        let b = run_rttng(calls, tmp, false)?;
        let (t, l) = run_trace_cmd(calls, tmp)?;
        println!(
            "round {round}: none {:.3} s, rttng {:.3} s ({} events, {} lost, stop {:.2} s), \
             rttng without path strings {:.3} s ({} events, {} lost, stop {:.2} s), \
             trace-cmd {t:.3} s ({l} lost)",
            base[round],
            r.workload_s,
            r.events,
            r.lost,
            r.stop_s,
            b.workload_s,
            b.events,
            b.lost,
            b.stop_s
        );
        ours.push(r.workload_s);
        stop.push(r.stop_s);
        ours_events = ours_events.max(r.events);
        ours_lost += r.lost;
        bare.push(b.workload_s);
        bare_stop.push(b.stop_s);
        bare_events = bare_events.max(b.events);
        bare_lost += b.lost;
        tc.push(t);
        tc_lost += l;
    }
    let (base_s, ours_s, tc_s, stop_s) = (
        median(&mut base),
        median(&mut ours),
        median(&mut tc),
        median(&mut stop),
    );
    let (bare_s, bare_stop_s) = (median(&mut bare), median(&mut bare_stop));
    let bare_x = bare_s / base_s;

    let strace_calls = (calls / 10).max(1);
    let (strace_s, _) = run_workload(&["strace", "-f", "-o", "/dev/null"], strace_calls)?;
    let (base_small_s, _) = run_workload(&[], strace_calls)?;
    let strace_x = strace_s / base_small_s;
    let ours_x = ours_s / base_s;
    let tc_x = tc_s / base_s;

    println!();
    println!("| run | workload s (median) | slowdown | events recorded (max) | events lost (all rounds) |");
    println!("|---|---:|---:|---:|---:|");
    println!("| no tracing | {base_s:.3} | 1.00x | - | - |");
    println!(
        "| rttng kernel session (all syscalls + sched_*) | {ours_s:.3} | {ours_x:.2}x | {ours_events} | {ours_lost} |"
    );
    println!(
        "| rttng, path strings off (pointers only, as trace-cmd) | {bare_s:.3} | {bare_x:.2}x | {bare_events} | {bare_lost} |"
    );
    println!(
        "| trace-cmd record -d -k -B (syscalls + sched) | {tc_s:.3} | {tc_x:.2}x | - | {tc_lost} |"
    );
    println!(
        "| strace -f -o /dev/null ({strace_calls} calls; per-call ratio) | {strace_s:.3} | {strace_x:.0}x | - | - |"
    );
    println!();
    println!(
        "rttng stop (drain rest + CTF conversion), median: {stop_s:.2} s ({bare_stop_s:.2} s without path strings)"
    );
    println!(
        "rttng slowdown / trace-cmd slowdown: {:.2} ({:.2} without path strings); strace slowdown / rttng slowdown: {:.0}x; \
         strace overhead / rttng overhead: {:.0}x",
        ours_x / tc_x,
        bare_x / tc_x,
        strace_x / ours_x,
        (strace_x - 1.0) / (ours_x - 1.0)
    );
    Ok(())
}
