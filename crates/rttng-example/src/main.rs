//! `rttng-example`: an app instrumented with rttng-ust. Each of `--threads` threads emits
//! `--count` `rttng_example:tick` events (`seq` u64 0,1,2… per thread, `value` i64,
//! `msg` string), paced at `--rate` events per second per thread (0 = as fast as
//! possible), then the program prints `done N` (N = total events emitted).
//!
//! It is traced when a session enables the event (registration thread, or the local
//! harness's `RTTNG_UST_LOCAL`); otherwise it runs untraced. It deliberately does nothing
//! else.

#![forbid(unsafe_code)]

use clap::Parser;
use std::time::{Duration, Instant};

/// Most threads accepted.
const MAX_THREADS: u64 = 1024;

#[derive(Debug, Parser)]
#[command(name = "rttng-example", about = "Emit rttng_example:tick events")]
struct Cli {
    /// Events per thread
    #[arg(long, default_value_t = 10)]
    count: u64,
    /// Emitting threads
    #[arg(long, default_value_t = 1)]
    threads: u64,
    /// Events per second per thread (0 = as fast as possible)
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

const MESSAGES: [&str; 4] = ["tick", "tock", "hello world", "rttng"];

fn emit(thread: u64, count: u64, rate: u64) {
    let start = Instant::now();
    for seq in 0..count {
        // Pace on an absolute schedule (rate 0: no pacing), so that a slow event does not
        // shift the rest.
        if let Some(offset_ns) = seq.saturating_mul(1_000_000_000).checked_div(rate) {
            let due = start + Duration::from_nanos(offset_ns);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let value = (seq as i64).wrapping_mul(3) - thread as i64;
        let msg = MESSAGES[(seq % MESSAGES.len() as u64) as usize];
        rttng_ust::tracepoint!(rttng_example, tick, INFO, seq: u64 = seq, value: i64 = value, msg: &str = msg);
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.threads == 0 || cli.threads > MAX_THREADS {
        anyhow::bail!("--threads must be in 1..={MAX_THREADS}");
    }
    rttng_ust::init();
    let handles: Vec<_> = (0..cli.threads)
        .map(|t| {
            let (count, rate) = (cli.count, cli.rate);
            std::thread::spawn(move || emit(t, count, rate))
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("an emitting thread panicked"))?;
    }
    rttng_ust::control::flush_all();
    println!("done {}", cli.count * cli.threads);
    Ok(())
}
