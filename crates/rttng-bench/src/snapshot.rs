//! `rttng-bench snapshot [--records N] [--events E] [--skip-lttng]`: how long `snapshot
//! record` takes for full user-space buffers, rttng against LTTng 2.13 in the same run.
//!
//! rttng: in a private directory (own `RTTNG_HOME`/`RTTNG_RUNDIR`) it starts
//! `rttng-sessiond --daemonize`, creates a snapshot session (`create --snapshot`: per-user
//! buffers of 4 × 512 KiB per CPU in overwrite mode, LTTng's defaults), enables
//! `rttng_bench:event` and starts it; this process then fills every CPU's buffer (one
//! thread per CPU, thread t pinned to CPU t, E events each, about five times what a CPU
//! holds), and `rttng snapshot record` runs N times, each timed from the command's start to
//! its exit as a user or a script sees it. LTTng: `tests/lttng/bench-lttng-snapshot.sh`,
//! the same steps with `lttng` and LTTng-UST's `ust_bench` (needs root for its private
//! namespaces). Prints one line per tracer (`records=N bytes=B ms=T1,...`) and a summary
//! with the medians and their ratio (LTTng / rttng: > 1 means rttng is faster). Asserts no
//! speed.

use anyhow::{anyhow, bail, Context, Result};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::ust::{emit, measure, stream_bytes, Stack, EVENT, REGISTER_TIMEOUT_MS};

/// Arguments of `rttng-bench snapshot`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Snapshots recorded (and timed) per tracer
    #[arg(long, default_value_t = 10)]
    pub records: u32,
    /// Events each CPU's thread emits before the snapshots (fills 2 MiB about 5 times)
    #[arg(long, default_value_t = 400_000)]
    pub events: u64,
    /// Do not run LTTng's side (tests/lttng/bench-lttng-snapshot.sh)
    #[arg(long)]
    pub skip_lttng: bool,
}

const SESSION: &str = "rttng-bench-snap";

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn ms_list(v: &[f64]) -> String {
    v.iter()
        .map(|m| format!("{m:.2}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn run(args: &Args) -> Result<()> {
    if args.records == 0 || args.events == 0 {
        bail!("--records and --events must be at least 1");
    }
    let ours = run_rttng(args)?;
    println!(
        "rttng-snapshot records={} bytes={} ms={}",
        args.records,
        ours.1,
        ms_list(&ours.0)
    );
    if args.skip_lttng {
        return Ok(());
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/lttng/bench-lttng-snapshot.sh"
    );
    let out = Command::new("bash")
        .arg(script)
        .args(["--records", &args.records.to_string()])
        .args(["--events", &args.events.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {script}"))?;
    if !out.status.success() {
        bail!("{script} failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("lttng-snapshot "))
        .ok_or_else(|| anyhow!("{script} printed no result line:\n{text}"))?;
    println!("{line}");
    let theirs: Vec<f64> = line
        .split("ms=")
        .nth(1)
        .unwrap_or("")
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let (m_ours, m_theirs) = (median(&ours.0), median(&theirs));
    println!(
        "median snapshot record: rttng {m_ours:.2} ms, LTTng {m_theirs:.2} ms, ratio (LTTng/rttng) {:.2}",
        m_theirs / m_ours
    );
    Ok(())
}

/// The rttng side: the wall time of each `snapshot record` (ms) and the stream bytes of
/// the first snapshot.
fn run_rttng(args: &Args) -> Result<(Vec<f64>, u64)> {
    let stack = Stack::new()?;
    // This process registers with the private daemon on its first tracepoint; nothing has
    // read these variables yet (no tracepoint ran) and no other thread runs.
    std::env::set_var("RTTNG_HOME", &stack.home);
    std::env::set_var("RTTNG_RUNDIR", &stack.run);
    std::env::set_var("RTTNG_UST_REGISTER_TIMEOUT", REGISTER_TIMEOUT_MS);
    stack.cmd("rttng-sessiond", &["--daemonize"])?;
    let out = stack.dir.join("snapshots");
    let out_text = out.to_string_lossy().into_owned();
    stack.rttng(&["create", SESSION, "--snapshot", "-o", &out_text])?;
    stack.rttng(&["enable-event", "-u", "-s", SESSION, EVENT])?;
    stack.rttng(&["start", SESSION])?;
    emit(-1, 0, 1);
    if !rttng_ust::control::is_recording(EVENT) {
        bail!("after registration {EVENT} is not recording");
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    measure(cpus, args.events, 0, Some(0))?;
    let mut times = Vec::new();
    for _ in 0..args.records {
        let t = Instant::now();
        stack.rttng(&["snapshot", "record", "-s", SESSION])?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let first = std::fs::read_dir(&out)
        .with_context(|| format!("reading {}", out.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-0"))
        .ok_or_else(|| anyhow!("no first snapshot in {}", out.display()))?;
    let bytes = stream_bytes(&first)?;
    stack.rttng(&["destroy", SESSION])?;
    stack.stop_daemons();
    Ok((times, bytes))
}
