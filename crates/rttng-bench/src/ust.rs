//! `rttng-bench ust --threads T --events N [--disabled] [--rate R] [--subbuf-size S]
//! [--num-subbuf K]`: the rttng-ust event path against a session recording to disk. Until
//! the session daemon wires it, the session is the daemon-less local harness
//! (`rttng_ust::testing::LocalSession`: LTTng's default per-user UST channel, 4 × 512 KiB
//! sub-buffers per CPU, discard mode, an in-process consumer thread that sleeps on the
//! ring buffer's futex and writes the CTF files). Prints one line:
//! `rttng-ust threads=T events=N ns_per_event=X discarded=D bytes_per_event=B`
//! (emit-loop wall time from the first thread's start to the last thread's end, over T·N
//! events; B = stream file bytes / recorded events). With `--rate R` each thread paces
//! itself to R events per second (in 1 ms bursts) and the line also says `rate=R`; X is
//! then the wall time per event, not a cost. It asserts no speed.

use anyhow::{anyhow, Context, Result};
use rttng_ust::testing::{LocalConfig, LocalSession};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Arguments of `rttng-bench ust`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Emitting threads
    #[arg(long, default_value_t = 1)]
    pub threads: u64,
    /// Events per thread
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Measure a disabled tracepoint
    #[arg(long)]
    pub disabled: bool,
    /// Events per second per thread (0: as fast as possible)
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Sub-buffer bytes (default: LTTng's per-user UST default, 512 KiB)
    #[arg(long)]
    pub subbuf_size: Option<u32>,
    /// Sub-buffers per CPU (default: LTTng's, 4)
    #[arg(long)]
    pub num_subbuf: Option<u32>,
}

/// Length of one paced burst.
const PACE_PERIOD: Duration = Duration::from_millis(1);

/// The event LTTng-UST's baseline (tests/lttng/ust_bench.c) records: int64, int32, uint8,
/// short string.
#[inline(never)]
fn emit(id: i32, first: u64, events: u64) {
    for i in first..first + events {
        rttng_ust::tracepoint!(rttng_bench, event, DEBUG_LINE, a: i64 = i as i64, b: i32 = id, c: u8 = i as u8, s: &str = "rttng");
    }
}

/// `events` events at `rate` per second: a burst every [`PACE_PERIOD`], sleeping to
/// absolute deadlines so that the average rate does not drift.
fn emit_paced(id: i32, events: u64, rate: u64) {
    let per_burst = (rate / 1000).max(1);
    let period_ns = PACE_PERIOD.as_nanos() as u64 * per_burst * 1000 / rate.max(1);
    let start = Instant::now();
    let mut done = 0;
    let mut burst = 0u64;
    while done < events {
        let n = per_burst.min(events - done);
        emit(id, done, n);
        done += n;
        burst += 1;
        let deadline = start + Duration::from_nanos(burst * period_ns);
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }
}

pub fn run(args: &Args) -> Result<()> {
    let (threads, events, disabled) = (args.threads, args.events, args.disabled);
    let dir = std::env::temp_dir().join(format!("rttng-bench-ust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cfg = LocalConfig::new(&dir);
    if let Some(s) = args.subbuf_size {
        cfg.subbuf_bytes = s;
    }
    if let Some(n) = args.num_subbuf {
        cfg.subbuf_count = n;
    }
    cfg.enable = if disabled {
        Vec::new()
    } else {
        vec!["rttng_bench:event".to_string()]
    };
    let session =
        LocalSession::start(&cfg).map_err(|e| anyhow!("starting the local session: {e}"))?;
    // Warm the call site (first call: process init) outside the measurement.
    emit(-1, 0, 1);
    let barrier = Arc::new(Barrier::new(threads as usize));
    let rate = args.rate;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                if rate == 0 {
                    emit(t as i32, 0, events);
                } else {
                    emit_paced(t as i32, events, rate);
                }
                (start, Instant::now())
            })
        })
        .collect();
    let mut spans = Vec::new();
    for h in handles {
        spans.push(
            h.join()
                .map_err(|_| anyhow!("an emitting thread panicked"))?,
        );
    }
    let report = session
        .stop()
        .map_err(|e| anyhow!("stopping the local session: {e}"))?;
    let first = spans
        .iter()
        .map(|s| s.0)
        .min()
        .ok_or_else(|| anyhow!("no thread"))?;
    let last = spans
        .iter()
        .map(|s| s.1)
        .max()
        .ok_or_else(|| anyhow!("no thread"))?;
    let total = threads * events;
    let ns = last.duration_since(first).as_nanos() as f64 / total as f64;
    let emitted = if disabled { 0 } else { total + 1 };
    let recorded = emitted.saturating_sub(report.discarded);
    let bytes = if recorded == 0 {
        0.0
    } else {
        report.stream_bytes as f64 / recorded as f64
    };
    let rate_text = if rate == 0 {
        String::new()
    } else {
        format!(" rate={rate}")
    };
    println!(
        "rttng-ust threads={threads} events={events} ns_per_event={ns:.2} discarded={} bytes_per_event={bytes:.2}{rate_text}",
        report.discarded
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
