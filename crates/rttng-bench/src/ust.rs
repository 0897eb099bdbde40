//! `rttng-bench ust --threads T --events N [--disabled]`: the rttng-ust event path against
//! a session recording to disk. Until the session daemon wires it, the session is the
//! daemon-less local harness (`rttng_ust::testing::LocalSession`: LTTng's default channel,
//! 4 × 512 KiB sub-buffers per CPU, discard mode, an in-process consumer thread writing
//! the CTF files). Prints one line:
//! `rttng-ust threads=T events=N ns_per_event=X discarded=D bytes_per_event=B`
//! (emit-loop wall time from the first thread's start to the last thread's end, over T·N
//! events; B = stream file bytes / recorded events). It asserts no speed.

use anyhow::{anyhow, Context, Result};
use rttng_ust::testing::{LocalConfig, LocalSession};
use std::sync::{Arc, Barrier};
use std::time::Instant;

/// The event LTTng-UST's baseline (tests/lttng/ust_bench.c) records: int64, int32, uint8,
/// short string.
#[inline(never)]
fn emit(id: i32, events: u64) {
    for i in 0..events {
        rttng_ust::tracepoint!(rttng_bench, event, DEBUG_LINE, a: i64 = i as i64, b: i32 = id, c: u8 = i as u8, s: &str = "rttng");
    }
}

pub fn run(threads: u64, events: u64, disabled: bool) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rttng-bench-ust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cfg = LocalConfig::new(&dir);
    cfg.enable = if disabled {
        Vec::new()
    } else {
        vec!["rttng_bench:event".to_string()]
    };
    let session =
        LocalSession::start(&cfg).map_err(|e| anyhow!("starting the local session: {e}"))?;
    // Warm the call site (first call: process init) outside the measurement.
    emit(-1, 1);
    let barrier = Arc::new(Barrier::new(threads as usize));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                emit(t as i32, events);
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
    println!(
        "rttng-ust threads={threads} events={events} ns_per_event={ns:.2} discarded={} bytes_per_event={bytes:.2}",
        report.discarded
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
