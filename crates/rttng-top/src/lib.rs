//! `rttng top`: lttngtop's figures from live traces — per-task CPU from `sched_switch`,
//! system-call counts and rates, read/write/network bytes, and the busiest user-space events —
//! as a terminal UI (ratatui) or as text (`--batch`).
//!
//! [`agg`] computes the figures (pure, unit-tested); [`source`] runs the kernel session and the
//! optional live user-space reader; [`tui`] draws. No figure comes from /proc. It deliberately
//! keeps no history beyond the running totals.

pub mod agg;
pub mod source;
pub mod tui;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::agg::{Aggregator, SortKey};
use crate::source::{KernelSource, Owned};

/// Shortest refresh period accepted.
pub const MIN_DELAY: Duration = Duration::from_millis(100);
/// Most iterations of `--batch`.
pub const MAX_ITERATIONS: u64 = 1_000_000;

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Print the tables as text instead of the terminal UI
    #[arg(short = 'b', long)]
    pub batch: bool,
    /// With --batch: how many refreshes to print before ending
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1)]
    pub iterations: u64,
    /// Seconds between refreshes
    #[arg(short = 'd', long, value_name = "SECONDS", default_value_t = 1.0)]
    pub delay: f64,
    /// Also count the user-space events of this live session
    /// (net://HOST[:PORT]/host/HOSTNAME/SESSION)
    #[arg(long, value_name = "URL")]
    pub live: Option<String>,
    /// Do not trace the kernel (with --live: user-space events only)
    #[arg(long)]
    pub no_kernel: bool,
    /// Keep the kernel trace in this directory (default: a temporary directory, removed)
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Sort the task table by: cpu, syscalls, read, write, net, tid, name
    #[arg(long, value_name = "KEY", default_value = "cpu")]
    pub sort: String,
    /// Show only tasks whose name contains this text (or whose TID it is)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub filter: String,
    /// With --batch: rows per table
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub rows: usize,
}

/// Longest wait between two looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// The running sources, and where their events arrive.
struct Sources {
    kernel: Option<KernelSource>,
    rx: Receiver<Vec<Owned>>,
    out_dir: PathBuf,
    keep: bool,
    /// Why the user-space source stopped, once it did.
    user_status: Option<String>,
    /// Set by SIGHUP, SIGTERM and SIGINT: end as if asked (the kernel session is stopped and
    /// its tracefs instance removed; a killed top would leave it recording every system call).
    stop: Arc<AtomicBool>,
}

impl Sources {
    /// Starts the sources, and the aggregator that knows the kernel source's system calls.
    fn start(args: &TopArgs) -> Result<(Sources, Aggregator)> {
        if args.no_kernel && args.live.is_none() {
            bail!("--no-kernel leaves nothing to show; give --live URL");
        }
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
        ] {
            signal_hook::flag::register(sig, stop.clone())
                .context("setting up the signal handlers")?;
        }
        let (tx, rx) = mpsc::channel();
        let mut agg = Aggregator::new();
        let (out_dir, keep) = match &args.output {
            Some(d) => (d.clone(), true),
            None => (
                std::env::temp_dir().join(format!("rttng-top-{}", std::process::id())),
                false,
            ),
        };
        // The kernel session first: it excludes this process's threads, those started later
        // included.
        let kernel = if args.no_kernel {
            None
        } else {
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("creating {}", out_dir.display()))?;
            Some(KernelSource::start(&out_dir, keep, &mut agg)?)
        };
        if let Some(url) = &args.live {
            source::start_user(url, tx)?;
        }
        Ok((
            Sources {
                kernel,
                rx,
                out_dir,
                keep,
                user_status: None,
                stop,
            },
            agg,
        ))
    }

    /// The tables of the interval that ends now, with every CPU's kernel counts taken in.
    fn snapshot(&self, agg: &mut Aggregator, interval_s: f64) -> agg::Snapshot {
        if let Some(k) = &self.kernel {
            k.merge_into(agg);
        }
        agg.snapshot(interval_s)
    }

    /// A signal asked top to end.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Feeds everything that arrived until `deadline` (or a signal).
    fn pump_until(&mut self, agg: &mut Aggregator, deadline: Instant) {
        loop {
            if self.stopping() {
                return;
            }
            let left = deadline
                .saturating_duration_since(Instant::now())
                .min(STOP_CHECK);
            match self.rx.recv_timeout(left) {
                Ok(batch) => self.feed(agg, batch),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // No user-space source (any more): only the refresh period is left to wait.
                Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(left),
            }
            if Instant::now() >= deadline {
                return;
            }
        }
    }

    fn feed(&mut self, agg: &mut Aggregator, batch: Vec<Owned>) {
        for ev in &batch {
            match ev.input() {
                Some(i) => agg.feed(i),
                None => {
                    if let Owned::UserEnded(why) = ev {
                        self.user_status = Some(why.clone());
                    }
                }
            }
        }
    }

    /// Stops the kernel session and feeds what it still held.
    fn finish(mut self, agg: &mut Aggregator) -> Result<Option<PathBuf>> {
        let dir = match self.kernel.take() {
            Some(k) => Some(k.finish(agg)?),
            None => None,
        };
        while let Ok(batch) = self.rx.try_recv() {
            self.feed(agg, batch);
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.out_dir);
            return Ok(None);
        }
        Ok(dir)
    }
}

pub fn run(args: &TopArgs) -> Result<()> {
    let sort = SortKey::parse(&args.sort).with_context(|| {
        format!(
            "unknown sort key `{}` (cpu, syscalls, read, write, net, tid, name)",
            args.sort
        )
    })?;
    if !(args.delay.is_finite() && args.delay >= MIN_DELAY.as_secs_f64() && args.delay <= 3600.0) {
        bail!(
            "--delay must be between {} and 3600 seconds",
            MIN_DELAY.as_secs_f64()
        );
    }
    if args.iterations == 0 || args.iterations > MAX_ITERATIONS {
        bail!("--iterations must be between 1 and {MAX_ITERATIONS}");
    }
    let delay = Duration::from_secs_f64(args.delay);
    if !args.batch {
        let (sources, agg) = Sources::start(args)?;
        return tui::run(sources, agg, delay, sort, args.filter.clone());
    }
    let (mut sources, mut agg) = Sources::start(args)?;
    let stdout = std::io::stdout();
    let mut last = Instant::now();
    for i in 1..=args.iterations {
        sources.pump_until(&mut agg, last + delay);
        if sources.stopping() {
            break;
        }
        let now = Instant::now();
        let snap = sources.snapshot(&mut agg, now.duration_since(last).as_secs_f64());
        last = now;
        let mut text = format!(
            "rttng top: iteration {i}/{}, interval {:.3} s\n",
            args.iterations, snap.interval_s
        );
        if let Some(s) = &sources.user_status {
            text.push_str(&format!("({s})\n"));
        }
        text.push_str(&agg::render_text(&snap, sort, &args.filter, args.rows));
        text.push('\n');
        let mut out = stdout.lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("writing to standard output")?;
    }
    let kept = sources.finish(&mut agg)?;
    let snap = agg.snapshot(last.elapsed().as_secs_f64());
    let mut text = String::from("rttng top: totals since the start\n");
    text.push_str(&agg::render_totals(&snap, sort, &args.filter, args.rows));
    if let Some(dir) = kept {
        text.push_str(&format!("kernel trace: {}\n", dir.display()));
    }
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")?;
    Ok(())
}
