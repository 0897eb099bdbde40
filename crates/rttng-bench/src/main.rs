//! `rttng-bench`: benchmarks that run rttng and its peer in the same run and report ratios.
//!
//! `rttng-bench view` generates a large LTTng-UST-like trace with our writer, then times
//! `rttng view` against `babeltrace2` (text to /dev/null) and `rttng view --count` against
//! `babeltrace2 -c sink.utils.counter`, reporting events/s, ratios and peak RSS. Figures are
//! recorded in BENCHMARKS.md; nothing here asserts a speed.

mod gen;
mod kernel;
mod kernel_task;
mod live;
mod relay;
mod run;
mod snapshot;
mod spin;
mod ust;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rttng-bench",
    about = "rttng benchmarks against their peers, in the same run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Kernel tracing overhead on a getppid loop: none, rttng, trace-cmd and strace -f
    Kernel {
        /// getppid calls in the workload
        #[arg(long, default_value_t = 2_000_000)]
        calls: u64,
        /// Scratch directory for the traces
        #[arg(long, default_value = "target/bench-kernel")]
        dir: PathBuf,
        /// Only run the workload loop with this many calls (used by the benchmark itself)
        #[arg(long, value_name = "CALLS", hide = true)]
        workload_only: Option<u64>,
    },
    /// The eBPF task recorder's cost per traced event (kernel contexts, kernel trackers)
    KernelTask {
        /// getppid calls in the workload
        #[arg(long, default_value_t = 2_000_000)]
        calls: u64,
        /// Scratch directory for the traces
        #[arg(long, default_value = "target/bench-kernel")]
        dir: PathBuf,
    },
    /// Text viewer and counter against babeltrace2 on a generated trace
    View {
        /// Total events in the generated trace (over 4 streams)
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Where the trace is generated (reused when it already holds the same event count)
        #[arg(long, default_value = "target/bench-trace")]
        dir: PathBuf,
        /// The rttng binary to measure
        #[arg(long, default_value = "target/release/rttng")]
        rttng: PathBuf,
        /// Skip babeltrace2's text run (it takes minutes on 10M events)
        #[arg(long)]
        skip_babeltrace_text: bool,
    },
    /// rttng-ust event path recording to disk (one line, see ust.rs)
    Ust(ust::Args),
    /// Streaming over loopback: LTTng (lttng-sessiond into lttng-relayd) and rttng (into
    /// rttng-relayd), highest paced rate with 0 discarded, relay and consumer CPU per event
    Relay(relay::Args),
    /// `snapshot record` of full 2 MiB per-CPU buffers: rttng against LTTng 2.13
    Snapshot(snapshot::Args),
    /// Live latency, emission to printed line: LTTng and rttng, babeltrace2 and rttng view
    /// --live, 1 s and 100 ms live timers
    Live(live::Args),
    /// A dependent integer loop on T threads: the machine's own 1 -> 2 thread scaling
    Spin {
        #[arg(long, default_value_t = 1)]
        threads: u32,
        /// Iterations per thread
        #[arg(long, default_value_t = 200_000_000)]
        iterations: u64,
    },
    /// Only generate the benchmark trace
    Generate {
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        #[arg(long, default_value = "target/bench-trace")]
        dir: PathBuf,
    },
}

fn main() {
    if let Err(e) = real_main() {
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("Error: {}", chain.join(": "));
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    match Cli::parse().command {
        Command::Kernel {
            workload_only: Some(n),
            ..
        } => {
            kernel::workload(n);
            Ok(())
        }
        Command::Kernel { calls, dir, .. } => kernel::run(calls, &dir),
        Command::KernelTask { calls, dir } => kernel_task::run(calls, &dir),
        Command::Generate { events, dir } => {
            let trace = gen::ensure_trace(&dir, events)?;
            println!("{}", trace.display());
            Ok(())
        }
        Command::Ust(args) => ust::run(&args),
        Command::Relay(args) => relay::run(&args),
        Command::Snapshot(args) => snapshot::run(&args),
        Command::Live(args) => live::run(&args),
        Command::Spin {
            threads,
            iterations,
        } => {
            spin::run(threads, iterations);
            Ok(())
        }
        Command::View {
            events,
            dir,
            rttng,
            skip_babeltrace_text,
        } => view(events, &dir, &rttng, skip_babeltrace_text),
    }
}

fn view(
    events: u64,
    dir: &std::path::Path,
    rttng: &std::path::Path,
    skip_bt_text: bool,
) -> Result<()> {
    if !rttng.is_file() {
        bail!(
            "{} not found; build it first with `cargo build --release --bin rttng`",
            rttng.display()
        );
    }
    run::require("babeltrace2", "apt-get install babeltrace2")?;
    let trace = gen::ensure_trace(dir, events)?;
    let trace_s = trace.to_str().context("trace path is not UTF-8")?;
    let rttng_s = rttng.to_str().context("rttng path is not UTF-8")?;
    let bytes = gen::dir_bytes(&trace)?;
    println!(
        "trace: {} events, {} bytes, 4 streams ({})",
        events,
        bytes,
        trace.display()
    );

    let ours_text = run::measure("rttng view", &[rttng_s, "view", trace_s])?;
    let ours_count = run::measure("rttng view --count", &[rttng_s, "view", "--count", trace_s])?;
    let bt_count = run::measure(
        "babeltrace2 -c sink.utils.counter",
        &["babeltrace2", trace_s, "-c", "sink.utils.counter"],
    )?;
    let bt_text = if skip_bt_text {
        None
    } else {
        Some(run::measure("babeltrace2", &["babeltrace2", trace_s])?)
    };

    let eps = |secs: f64| events as f64 / secs;
    println!();
    println!("| run | wall s | events/s | peak RSS MiB |");
    println!("|---|---:|---:|---:|");
    for m in [
        Some(&ours_text),
        bt_text.as_ref(),
        Some(&ours_count),
        Some(&bt_count),
    ]
    .into_iter()
    .flatten()
    {
        println!(
            "| `{}` | {:.2} | {:.0} | {:.1} |",
            m.label,
            m.wall_s,
            eps(m.wall_s),
            m.max_rss_kib as f64 / 1024.0
        );
    }
    println!();
    if let Some(bt) = &bt_text {
        println!(
            "text ratio (rttng / babeltrace2 events/s): {:.1}x",
            bt.wall_s / ours_text.wall_s
        );
    }
    println!(
        "count ratio (rttng / babeltrace2 events/s): {:.1}x",
        bt_count.wall_s / ours_count.wall_s
    );
    Ok(())
}
