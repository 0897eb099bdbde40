//! `rttng-bench kernel-task`: what the eBPF task recorder (kernel contexts beyond tracefs's,
//! kernel trackers) costs per traced event. The workload of `rttng-bench kernel` (N `getppid`
//! calls, self-timed) runs with no tracing, under an rttng kernel session recording
//! `getppid`'s entry and exit (tracefs only), and under the same session with the task program
//! attached to both tracepoints (what the consumer attaches when a channel has a task context
//! or the session a tracker), and under the same session with the program that also walks
//! the kernel and user call stacks (`callstack-kernel` and `callstack-user`), in interleaved
//! rounds; medians. The consumer-side matching is not in these figures (it runs at
//! conversion, off the traced thread). Nothing here asserts a speed.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rttng_kernel::{
    ChannelConfig, KernelSession, StackWalks, Syscalls, TaskLog, TaskRecorder, Tracefs,
};

/// Interleaved rounds.
const ROUNDS: usize = 5;

/// What runs beside tracefs.
#[derive(Clone, Copy, PartialEq)]
enum Program {
    None,
    Task,
    /// The task program that also walks these call stacks.
    TaskStacks(StackWalks),
}

fn session_run(calls: u64, tmp: &Path, program: Program) -> Result<(f64, u64)> {
    let out = tmp.join("rttng-task-session");
    let _ = std::fs::remove_dir_all(&out);
    let mut s = KernelSession::create("bench-task", &out, ChannelConfig::default())?;
    s.enable_syscalls("channel0", &Syscalls::Names(vec!["getppid".into()]))?;
    s.set_record_paths(false);
    let mut rec = None;
    let log = Arc::new(TaskLog::default());
    if program != Program::None {
        let tfs = Tracefs::open()?;
        let walks = match program {
            Program::TaskStacks(w) => w,
            _ => StackWalks::default(),
        };
        let events = ["sys_enter_getppid", "sys_exit_getppid"]
            .iter()
            .map(|e| {
                let f = tfs.event_format("syscalls", e).context("event format")?;
                Ok((Arc::new(f), walks.any()))
            })
            .collect::<Result<Vec<_>>>()?;
        rec = Some(
            TaskRecorder::start_with_stacks(&events, walks, log.clone())
                .context("task recorder")?,
        );
    }
    s.start()?;
    let r = crate::kernel::timed_workload(calls);
    let report = s.stop();
    let lost_task = rec.as_ref().map_or(0, TaskRecorder::lost);
    if let Some(mut r) = rec {
        r.stop();
    }
    s.destroy()?;
    let report = report?;
    Ok((r?, report.events_discarded + lost_task))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(calls: u64, tmp: &Path) -> Result<()> {
    std::fs::create_dir_all(tmp)?;
    println!("workload: {calls} getppid calls, {ROUNDS} interleaved rounds");
    let walks = [
        ("kernel call stack", true, false),
        ("user call stack", false, true),
        ("both call stacks", true, true),
    ];
    let (mut none, mut plain, mut task) = (Vec::new(), Vec::new(), Vec::new());
    let mut stacks: Vec<Vec<f64>> = vec![Vec::new(); walks.len()];
    let mut lost = 0;
    for round in 0..ROUNDS {
        none.push(crate::kernel::timed_workload(calls)?);
        let (p, l1) = session_run(calls, tmp, Program::None)?;
        let (t, l2) = session_run(calls, tmp, Program::Task)?;
        plain.push(p);
        task.push(t);
        lost += l1 + l2;
        let mut line = format!(
            "round {round}: none {:.3} s, tracefs {p:.3} s, tracefs + task program {t:.3} s",
            none[round]
        );
        for (k, &(name, kernel, user)) in walks.iter().enumerate() {
            let (c, l) = session_run(calls, tmp, Program::TaskStacks(StackWalks { kernel, user }))?;
            stacks[k].push(c);
            lost += l;
            line.push_str(&format!(", + {name} {c:.3} s"));
        }
        println!("{line}");
    }
    let (n, p, t) = (median(&mut none), median(&mut plain), median(&mut task));
    let per = |s: f64| s * 1e9 / calls as f64;
    println!("| run | workload s (median) | ns per call | ns per event over tracefs |");
    println!("|---|---:|---:|---:|");
    println!("| no tracing | {n:.3} | {:.0} | - |", per(n));
    println!(
        "| tracefs (getppid entry + exit) | {p:.3} | {:.0} | - |",
        per(p)
    );
    println!(
        "| tracefs + eBPF task program | {t:.3} | {:.0} | {:.0} |",
        per(t),
        (per(t) - per(p)) / 2.0
    );
    for (k, &(name, _, _)) in walks.iter().enumerate() {
        let c = median(&mut stacks[k]);
        println!(
            "| tracefs + eBPF task program with the {name} | {c:.3} | {:.0} | {:.0} |",
            per(c),
            (per(c) - per(p)) / 2.0
        );
    }
    println!("events lost (tracefs + task ring buffer, all rounds): {lost}");
    Ok(())
}
