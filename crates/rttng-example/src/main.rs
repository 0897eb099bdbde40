//! `rttng-example`: an app instrumented with rttng-ust. Each of `--threads` threads emits
//! `--count` `rttng_example:tick` events (`seq` u64 0,1,2… per thread, `value` i64,
//! `msg` string), paced at `--rate` events per second per thread (0 = as fast as
//! possible), then the program prints `done N` (N = total events emitted). With
//! `--abort-after N` the process aborts (SIGABRT, a core dump where the system allows it)
//! right after its N-th event, for trying the core-dump handler. With `--hold` it waits,
//! after printing `done N`, until its standard input closes before it flushes and exits
//! (so a test can look at its buffers while it is alive and nothing was flushed).
//!
//! It is traced when a session enables the event (registration thread, or the local
//! harness's `RTTNG_UST_LOCAL`, through `rttng_ust_local::attach_from_env`); otherwise it
//! runs untraced. It deliberately does nothing else.

#![forbid(unsafe_code)]

use clap::Parser;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Abort (SIGABRT, core dump) right after the N-th event of the process (N >= 1)
    #[arg(long, value_name = "N")]
    abort_after: Option<u64>,
    /// After printing `done N`, wait until standard input closes, then flush and exit
    #[arg(long)]
    hold: bool,
}

/// Events emitted so far by the whole process (for `--abort-after`).
static EMITTED: AtomicU64 = AtomicU64::new(0);

const MESSAGES: [&str; 4] = ["tick", "tock", "hello world", "rttng"];

fn emit(thread: u64, count: u64, rate: u64, abort_after: Option<u64>) {
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
        if let Some(n) = abort_after {
            if EMITTED.fetch_add(1, Ordering::Relaxed) + 1 == n {
                eprintln!("rttng-example: aborting after {n} events (thread {thread}, seq {seq})");
                std::process::abort();
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.threads == 0 || cli.threads > MAX_THREADS {
        anyhow::bail!("--threads must be in 1..={MAX_THREADS}");
    }
    if cli.abort_after == Some(0) {
        anyhow::bail!("--abort-after must be at least 1");
    }
    rttng_ust::init();
    // A child of a daemon-less local session (tests): record into its inherited channel.
    rttng_ust_local::attach_from_env();
    let handles: Vec<_> = (0..cli.threads)
        .map(|t| {
            let (count, rate, abort_after) = (cli.count, cli.rate, cli.abort_after);
            std::thread::spawn(move || emit(t, count, rate, abort_after))
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("an emitting thread panicked"))?;
    }
    if cli.hold {
        use std::io::{Read, Write};
        println!("done {}", cli.count * cli.threads);
        std::io::stdout().flush()?;
        // Bounded by the caller: it closes our standard input.
        let mut sink = [0u8; 256];
        while std::io::stdin().read(&mut sink)? > 0 {}
        rttng_ust::control::flush_all();
        return Ok(());
    }
    rttng_ust::control::flush_all();
    println!("done {}", cli.count * cli.threads);
    Ok(())
}
