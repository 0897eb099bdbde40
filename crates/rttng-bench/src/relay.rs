//! `rttng-bench relay`: streaming over loopback, LTTng 2.13 against rttng in the same run.
//! For each paced rate, the same event count is recorded by LTTng (a private lttng-sessiond
//! and LTTng-UST app, `tests/lttng/stream-to-relay.sh`, into `lttng-relayd`) and by rttng
//! (`rttng-sessiond`/`rttng-consumerd` and `rttng-example`, into `rttng-relayd`), one
//! user-space channel with default per-UID buffers. Reported per run: the rate the app
//! reached, events discarded, and the relay's and the consumer's CPU time per event recorded
//! (`/proc/PID/task/*/schedstat` of their threads, sampled after `stop`); then each tracer's highest achieved rate with 0 discarded (an app that cannot
//! emit at the paced rate is not stressed by it). Nothing is asserted.
//!
//! Both apps emit from one thread: LTTng's `rttng_bench:event` (i64, i32, u8, string) and
//! rttng's `rttng_example:tick` (u64, i64, string), payloads of similar size. Daemons are
//! stopped by PID; every trace is deleted after its run.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Paced rates to try, events per second, ascending
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50000,100000,200000,400000,800000"
    )]
    rates: Vec<u64>,
    /// Seconds of emission per run (events = rate x seconds)
    #[arg(long, default_value_t = 2)]
    seconds: u64,
    /// Scratch directory
    #[arg(long, default_value = "target/bench-relay")]
    dir: PathBuf,
    /// Directory of the rttng binaries (rttng, rttng-sessiond, rttng-consumerd,
    /// rttng-relayd, rttng-example)
    #[arg(long, default_value = "target/release")]
    bin: PathBuf,
}

/// Bound on a run's commands.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on a daemon's start or exit.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(30);

/// CPU time of a process's live threads, in nanoseconds (`/proc/PID/task/*/schedstat`,
/// nanosecond resolution; clock ticks are too coarse for a few seconds of work). Sampled
/// after `stop` and before `destroy`, while the threads that did the work still run.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16, child: &mut Child) -> Result<()> {
    let end = Instant::now() + DAEMON_TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if child.try_wait()?.is_some() {
            bail!("the relay exited at start");
        }
        if Instant::now() > end {
            bail!("the relay did not listen within {DAEMON_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// A relay daemon on free loopback ports, killed by PID on drop.
pub(crate) struct RelayProc {
    child: Child,
    pub(crate) control: u16,
    pub(crate) data: u16,
}

impl RelayProc {
    pub(crate) fn start(program: &Path, output: &Path) -> Result<RelayProc> {
        let (control, data, live) = (free_port()?, free_port()?, free_port()?);
        let mut child = Command::new(program)
            .args([
                "-C",
                &format!("tcp://127.0.0.1:{control}"),
                "-D",
                &format!("tcp://127.0.0.1:{data}"),
                "-L",
                &format!("tcp://127.0.0.1:{live}"),
                "-o",
            ])
            .arg(output)
            .env("LTTNG_HOME", output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        wait_port(control, &mut child)?;
        wait_port(data, &mut child)?;
        Ok(RelayProc {
            child,
            control,
            data,
        })
    }

    fn cpu_ns(&self) -> u64 {
        cpu_ns(self.child.id())
    }
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run's figures.
struct RunResult {
    /// Wall time of the app's run.
    app_ns: u64,
    emitted: u64,
    discarded: u64,
    relay_ns: u64,
    consumer_ns: u64,
}

impl RunResult {
    fn per_event(&self, ns: u64) -> f64 {
        ns as f64 / (self.emitted - self.discarded).max(1) as f64
    }
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn lttng_run(work: &Path, relay: &RelayProc, events: u64, rate: u64) -> Result<RunResult> {
    use std::io::{BufRead, Write};
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lttng/stream-to-relay.sh");
    let before = relay.cpu_ns();
    let mut child = Command::new("timeout")
        .arg(RUN_TIMEOUT.as_secs().to_string())
        .arg(script)
        .arg(work)
        .args([
            relay.control.to_string(),
            relay.data.to_string(),
            events.to_string(),
            rate.to_string(),
            "uid".into(),
        ])
        .env("RTTNG_PAUSE_AFTER_STOP", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting stream-to-relay.sh")?;
    let mut lines = std::io::BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut relay_ns = None;
    let mut out = String::new();
    for line in lines.by_ref() {
        let line = line?;
        if line == "stopped" {
            relay_ns = Some(relay.cpu_ns() - before);
            writeln!(child.stdin.as_mut().context("stdin")?)?;
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !child.wait()?.success() {
        bail!("stream-to-relay.sh failed: {out}");
    }
    let field = |k: &str| -> Result<u64> {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .with_context(|| format!("no {k}= in {out:?}"))?
            .parse()
            .context("a number")
    };
    Ok(RunResult {
        app_ns: field("app_ns")?,
        emitted: field("emitted")?,
        discarded: field("discarded")?,
        relay_ns: relay_ns.context("the script never said `stopped`")?,
        consumer_ns: field("consumer_ns")?,
    })
}

fn rttng_run(
    bin: &Path,
    work: &Path,
    relay: &RelayProc,
    events: u64,
    rate: u64,
) -> Result<RunResult> {
    let home = work.join("home");
    let run = work.join("run");
    std::fs::create_dir_all(&home)?;
    let cmd = |program: &str| {
        let mut c = Command::new(bin.join(program));
        c.env("RTTNG_HOME", &home)
            .env("RTTNG_RUNDIR", &run)
            .env("RTTNG_UST_REGISTER_TIMEOUT", "30000");
        c
    };
    let rttng = |args: &[&str]| output(cmd("rttng").args(args));
    let before = relay.cpu_ns();
    let url = format!("net://127.0.0.1:{}:{}", relay.control, relay.data);
    let result = (|| -> Result<RunResult> {
        rttng(&["create", "bench", "--set-url", &url])?;
        rttng(&["enable-event", "-u", "rttng_example:*"])?;
        rttng(&["start"])?;
        let app_start = Instant::now();
        output(cmd("rttng-example").args([
            "--count",
            &events.to_string(),
            "--rate",
            &rate.to_string(),
        ]))?;
        let app_ns = app_start.elapsed().as_nanos() as u64;
        rttng(&["stop"])?;
        let discarded = rttng(&["list", "bench"])?
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Discarded events:"))
            .map(|v| v.trim().parse::<u64>().unwrap_or(0))
            .sum();
        let consumer_pid: u32 = std::fs::read_to_string(run.join("rttng-consumerd.pid"))?
            .trim()
            .parse()?;
        let consumer_ns = cpu_ns(consumer_pid);
        let relay_ns = relay.cpu_ns() - before;
        rttng(&["destroy", "bench"])?;
        Ok(RunResult {
            app_ns,
            emitted: events,
            discarded,
            relay_ns,
            consumer_ns,
        })
    })();
    // Stop this run's session daemon (it stops its consumer) by PID.
    if let Ok(pid) = std::fs::read_to_string(run.join("rttng-sessiond.pid")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: kill has no memory effects; the PID is the daemon this run started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let end = Instant::now() + DAEMON_TIMEOUT;
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    result
}

pub fn run(args: &Args) -> Result<()> {
    crate::run::require("lttng-relayd", "apt-get install lttng-tools")?;
    crate::run::require("lttng-sessiond", "apt-get install lttng-tools")?;
    for b in [
        "rttng",
        "rttng-sessiond",
        "rttng-consumerd",
        "rttng-relayd",
        "rttng-example",
    ] {
        if !args.bin.join(b).is_file() {
            bail!(
                "{} not found; build it first with `cargo build --release -p rttng -p rttng-sessiond -p rttng-consumerd -p rttng-relayd -p rttng-example`",
                args.bin.join(b).display()
            );
        }
    }
    let bin = std::path::absolute(&args.bin)?;
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let dir = std::path::absolute(&args.dir)?;
    println!(
        "{:<6} {:>9} {:>10} {:>9} {:>9} {:>14} {:>17}",
        "tracer",
        "rate/s",
        "achieved/s",
        "events",
        "discarded",
        "relay ns/event",
        "consumer ns/event"
    );
    let mut best = [None, None];
    for &rate in &args.rates {
        let events = rate * args.seconds;
        for (i, tracer) in ["lttng", "rttng"].into_iter().enumerate() {
            let work = dir.join(format!("{tracer}-{rate}"));
            let out = work.join("out");
            std::fs::create_dir_all(&out)?;
            let r = if tracer == "lttng" {
                let relay = RelayProc::start(Path::new("lttng-relayd"), &out)?;
                lttng_run(&work.join("lttng"), &relay, events, rate)?
            } else {
                let relay = RelayProc::start(&bin.join("rttng-relayd"), &out)?;
                rttng_run(&bin, &work, &relay, events, rate)?
            };
            println!(
                "{:<6} {:>9} {:>10.0} {:>9} {:>9} {:>14.1} {:>17.1}",
                tracer,
                rate,
                r.emitted as f64 * 1e9 / r.app_ns.max(1) as f64,
                r.emitted,
                r.discarded,
                r.per_event(r.relay_ns),
                r.per_event(r.consumer_ns)
            );
            // The paced rate is a ceiling; what counts is the rate the app reached.
            let achieved = (r.emitted as f64 * 1e9 / r.app_ns.max(1) as f64) as u64;
            if r.discarded == 0 && best[i].is_none_or(|b| achieved > b) {
                best[i] = Some(achieved);
            }
            let _ = std::fs::remove_dir_all(&work);
        }
    }
    let show = |b: Option<u64>| b.map_or("none".to_string(), |r| format!("{r}/s"));
    println!(
        "highest achieved rate with 0 discarded: lttng {}, rttng {}",
        show(best[0]),
        show(best[1])
    );
    Ok(())
}
