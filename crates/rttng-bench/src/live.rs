//! `rttng-bench live`: latency from an event's emission to its line on a live viewer, median
//! and p99, for LTTng 2.13 (lttng-sessiond + lttng-relayd) and rttng (`rttng create --live` +
//! rttng-relayd), read by babeltrace2's lttng-live client or `rttng view --live`, at LTTng's
//! default 1 s live timer and at rttng's default 100 ms. Each case is one run of
//! `tests/lttng/live-latency.sh` (a paced app, every line stamped on arrival). Not here: the
//! event-path cost of live sessions.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events per case
    #[arg(long, default_value_t = 100)]
    events: u32,
    /// Events per second
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Where rttng's release binaries are
    #[arg(long, default_value = "target/release")]
    bin: PathBuf,
    /// Scratch directory
    #[arg(long, default_value = "target/bench-live")]
    dir: PathBuf,
}

/// (stack, viewer, live timer µs)
const CASES: &[(&str, &str, u32)] = &[
    ("lttng", "babeltrace2", 1_000_000),
    ("lttng", "rttng", 1_000_000),
    ("rttng", "babeltrace2", 1_000_000),
    ("rttng", "rttng", 1_000_000),
    ("lttng", "babeltrace2", 100_000),
    ("lttng", "rttng", 100_000),
    ("rttng", "babeltrace2", 100_000),
    ("rttng", "rttng", 100_000),
];

fn free_ports() -> Result<[u16; 3]> {
    let s: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    Ok([0, 1, 2].map(|i| s[i].local_addr().map(|a| a.port()).unwrap_or(0)))
}

/// (median ms, p99 ms, lines)
fn one(args: &Args, script: &Path, case: (&str, &str, u32)) -> Result<(f64, f64, u64)> {
    let (stack, viewer, period) = case;
    let p = free_ports()?;
    let out = args.dir.join(format!("{stack}-{viewer}-{period}"));
    let done = Command::new("timeout")
        .arg("600")
        .arg("bash")
        .arg(script)
        .arg(&out)
        .arg(&args.bin)
        .args([stack, viewer])
        .arg(period.to_string())
        .arg(args.events.to_string())
        .arg(args.rate.to_string())
        .args(p.map(|x| x.to_string()))
        .env("TZ", "UTC")
        .output()
        .context("running live-latency.sh")?;
    let text = String::from_utf8_lossy(&done.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("latency_ms"))
        .with_context(|| {
            format!(
                "live-latency.sh {stack} {viewer} {period}: no result ({}): {}",
                done.status,
                String::from_utf8_lossy(&done.stderr)
            )
        })?;
    let field = |k: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
            .with_context(|| format!("no {k} in {line:?}"))?
            .parse()
            .with_context(|| format!("bad {k} in {line:?}"))
    };
    Ok((field("median")?, field("p99")?, field("n")? as u64))
}

pub fn run(args: &Args) -> Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lttng/live-latency.sh");
    for b in [
        "rttng",
        "rttng-relayd",
        "rttng-sessiond",
        "rttng-consumerd",
        "rttng-example",
    ] {
        if !args.bin.join(b).is_file() {
            bail!(
                "{} not found; build with `cargo build --release -p rttng -p rttng-relayd -p rttng-sessiond -p rttng-consumerd -p rttng-example`",
                args.bin.join(b).display()
            );
        }
    }
    println!(
        "live latency, emission -> line printed ({} events at {}/s per case)",
        args.events, args.rate
    );
    println!(
        "{:<8} {:<12} {:>9} {:>10} {:>9} {:>6}",
        "stack", "viewer", "timer ms", "median ms", "p99 ms", "lines"
    );
    for &case in CASES {
        let (med, p99, n) = one(args, &script, case)?;
        println!(
            "{:<8} {:<12} {:>9} {:>10.1} {:>9.1} {:>6}",
            case.0,
            case.1,
            case.2 / 1000,
            med,
            p99,
            n
        );
    }
    Ok(())
}
