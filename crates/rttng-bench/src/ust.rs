//! `rttng-bench ust --threads T --events N [--disabled] [--rate R] [--subbuf-size S]
//! [--num-subbuf K] [--local]`: the rttng-ust event path recording to disk. Prints one line:
//! `rttng-ust threads=T events=N ns_per_event=X discarded=D bytes_per_event=B`
//! (emit-loop wall time from the first thread's start to the last thread's end, over T·N
//! events; B = stream file bytes / recorded events). With `--rate R` each thread paces
//! itself to R events per second (in 1 ms bursts) and the line also says `rate=R`; X is
//! then the wall time per event, not a cost. It asserts no speed.
//!
//! Default: the real stack, as issue 3 asks. In a private temporary directory (its own
//! `RTTNG_HOME` and `RTTNG_RUNDIR`) it starts `rttng-sessiond --daemonize` (which starts
//! `rttng-consumerd`), and with the `rttng` CLI creates a session writing there, enables
//! `rttng_bench:event` on the default channel `channel0` (LTTng's defaults: per-user
//! buffers, 4 × 512 KiB per CPU, discard; with `--disabled` the channel exists and the
//! event stays disabled) and starts it. The emitting threads run in this process, which
//! links rttng-ust and so registers with that daemon on its first tracepoint (a warm-up
//! event, outside the measurement; it waits for the daemon's initial state and the run
//! fails if the event is not in the state asked for). Then stop, `rttng list` for the
//! discarded count, destroy, the daemons stopped by their PIDs, `rttng view --count` for
//! the recorded count (the line ends with `recorded=R`, then
//! `consumer_cpu_ns_per_event=C`: the CPU time all `rttng-consumerd` threads ran while the
//! threads emitted, from `/proc/PID/task/*/schedstat`, over the recorded events); the
//! directory is removed. The
//! binaries `rttng`, `rttng-sessiond` and `rttng-consumerd` must be next to this one
//! (`cargo build --release -p rttng -p rttng-sessiond -p rttng-consumerd`).
//!
//! `--live`: the session is a live session (`create --live`, rttng's 100 ms timer) streaming
//! to an `rttng-relayd` started for the run on free loopback ports (the binary must be next
//! to this one too); the trace is counted where the relay wrote it. The line ends with
//! `session=live`. With `bench/live-event-path.sh` it compares a live session's event path with
//! a local one's.
//!
//! `--filter EXPR`: the event is enabled with that filter (`enable-event --filter`, or
//! `LocalSession::set_filter`), to measure what a rejected or a kept event costs.
//!
//! `--local`: the daemon-less harness (`rttng_ust_local::LocalSession`: the same
//! channel geometry, an in-process consumer thread that sleeps on the ring buffer's futex
//! and writes the CTF files, packets trimmed to their content).

use anyhow::{anyhow, bail, Context, Result};
use rttng_ust_local::{LocalConfig, LocalSession};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    /// Record with the in-process local session instead of the session daemon and consumer
    #[arg(long)]
    pub local: bool,
    /// Pin emitting thread t to CPU (C + t) mod the CPU count (as ust_bench's option),
    /// to compare tracers on the same vCPU
    #[arg(long, value_name = "C")]
    pub pin_cpu: Option<usize>,
    /// Record in a snapshot session (`create --snapshot`: overwrite mode, nothing written
    /// while tracing): the event path of a flight recorder; the line then has no recorded
    /// or byte counts. With `--local`: the local session's buffers in overwrite mode (the
    /// same event path, for callgrind)
    #[arg(long)]
    pub snapshot: bool,
    /// Enable the event with this `--filter` expression (LTTng's language); the recorded
    /// count is then whatever the filter keeps
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Record in a live session streaming to an rttng-relayd started for the run
    #[arg(long, conflicts_with_all = ["snapshot", "local"])]
    pub live: bool,
}

/// Length of one paced burst.
const PACE_PERIOD: Duration = Duration::from_millis(1);

/// The event's name, as the session enables it.
pub(crate) const EVENT: &str = "rttng_bench:event";

/// The session the real-stack run creates.
const SESSION: &str = "rttng-bench";

/// Bound on every `rttng` command (a stop flushes and writes the buffers).
const CMD_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the daemons get to exit after SIGTERM before SIGKILL.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Poll period while waiting for a command or a daemon to finish.
const POLL: Duration = Duration::from_millis(10);

/// Registration wait of this process (ms): the daemon is running, so this only bounds a
/// stuck daemon.
pub(crate) const REGISTER_TIMEOUT_MS: &str = "30000";

/// The event LTTng-UST's baseline (tests/lttng/ust_bench.c) records: int64, int32, uint8,
/// short string.
#[inline(never)]
pub(crate) fn emit(id: i32, first: u64, events: u64) {
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

/// Runs the emitting threads (all released together) and returns the wall time from the
/// first thread's start to the last thread's end.
pub(crate) fn measure(
    threads: u64,
    events: u64,
    rate: u64,
    pin_cpu: Option<usize>,
) -> Result<Duration> {
    let barrier = Arc::new(Barrier::new(threads as usize));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = barrier.clone();
            let pin = pin_cpu.map(|c| (c + t as usize) % cpus);
            std::thread::spawn(move || {
                if let Some(cpu) = pin {
                    pin_to(cpu);
                }
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
    let first = spans.iter().map(|s| s.0).min();
    let last = spans.iter().map(|s| s.1).max();
    match (first, last) {
        (Some(f), Some(l)) => Ok(l.duration_since(f)),
        _ => bail!("no thread"),
    }
}

/// Pins the calling thread to `cpu` (a failure is reported, not fatal: the figures then
/// say so by their spread).
fn pin_to(cpu: usize) {
    if cpu >= libc::CPU_SETSIZE as usize {
        eprintln!("rttng-bench: CPU {cpu} is out of range");
        return;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays in bounds for
    // cpu < CPU_SETSIZE (checked above); sched_setaffinity reads the set we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("rttng-bench: cannot pin to CPU {cpu}");
        }
    }
}

/// What one run measured.
struct Outcome {
    elapsed: Duration,
    discarded: u64,
    stream_bytes: u64,
    /// Events in the trace, when counted (real stack).
    recorded: Option<u64>,
    /// CPU time the consumer daemon used while the threads emitted (real stack).
    consumer_cpu: Option<Duration>,
}

pub fn run(args: &Args) -> Result<()> {
    if args.threads == 0 || args.events == 0 {
        bail!("--threads and --events must be at least 1");
    }
    let o = if args.local {
        run_local(args)?
    } else {
        run_stack(args)?
    };
    let (threads, events) = (args.threads, args.events);
    let total = threads * events;
    let ns = o.elapsed.as_nanos() as f64 / total as f64;
    // The warm-up event counts as emitted (it is recorded too).
    let emitted = if args.disabled { 0 } else { total + 1 };
    let recorded = o
        .recorded
        .unwrap_or_else(|| emitted.saturating_sub(o.discarded));
    if !args.disabled && args.filter.is_none() && recorded + o.discarded != emitted {
        eprintln!(
            "rttng-bench: warning: recorded ({recorded}) + discarded ({}) != emitted ({emitted})",
            o.discarded
        );
    }
    let bytes = if recorded == 0 {
        0.0
    } else {
        o.stream_bytes as f64 / recorded as f64
    };
    let rate_text = if args.rate == 0 {
        String::new()
    } else {
        format!(" rate={}", args.rate)
    };
    let recorded_text = match o.recorded {
        Some(r) => format!(" recorded={r}"),
        None => String::new(),
    };
    let consumer_text = match o.consumer_cpu {
        Some(c) => format!(
            " consumer_cpu_ns_per_event={:.2}",
            c.as_nanos() as f64 / recorded.max(1) as f64
        ),
        None => String::new(),
    };
    let session_text = if args.snapshot {
        " session=snapshot"
    } else if args.live {
        " session=live"
    } else {
        ""
    };
    println!(
        "rttng-ust threads={threads} events={events} ns_per_event={ns:.2} discarded={} bytes_per_event={bytes:.2}{rate_text}{recorded_text}{consumer_text}{session_text}",
        o.discarded
    );
    Ok(())
}

fn run_local(args: &Args) -> Result<Outcome> {
    let dir = std::env::temp_dir().join(format!("rttng-bench-ust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = (|| {
        let mut cfg = LocalConfig::new(&dir);
        if let Some(s) = args.subbuf_size {
            cfg.subbuf_bytes = s;
        }
        if let Some(n) = args.num_subbuf {
            cfg.subbuf_count = n;
        }
        if args.snapshot {
            cfg.mode = rttng_ringbuf::Mode::Overwrite;
        }
        cfg.enable = if args.disabled {
            Vec::new()
        } else {
            vec![EVENT.to_string()]
        };
        let session =
            LocalSession::start(&cfg).map_err(|e| anyhow!("starting the local session: {e}"))?;
        if let Some(f) = &args.filter {
            session
                .set_filter(EVENT, &[f])
                .map_err(|e| anyhow!("setting the filter: {e}"))?;
        }
        // Warm the call site (first call: process init) outside the measurement.
        emit(-1, 0, 1);
        let elapsed = measure(args.threads, args.events, args.rate, args.pin_cpu)?;
        let report = session
            .stop()
            .map_err(|e| anyhow!("stopping the local session: {e}"))?;
        Ok(Outcome {
            elapsed,
            discarded: report.discarded,
            stream_bytes: report.stream_bytes,
            recorded: None,
            consumer_cpu: None,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The private world of a real-stack run: its directory and the daemons started in it.
/// Dropping it stops the daemons (by the PIDs in their files) and removes the directory.
pub(crate) struct Stack {
    pub(crate) dir: PathBuf,
    pub(crate) home: PathBuf,
    pub(crate) run: PathBuf,
    bin: PathBuf,
    /// Set once the daemons were stopped (never signal a PID twice: it may be reused).
    stopped: std::cell::Cell<bool>,
}

impl Stack {
    pub(crate) fn new() -> Result<Stack> {
        let exe = std::env::current_exe().context("finding this program")?;
        let bin = exe
            .parent()
            .ok_or_else(|| anyhow!("{} has no directory", exe.display()))?
            .to_path_buf();
        for b in ["rttng", "rttng-sessiond", "rttng-consumerd"] {
            if !bin.join(b).exists() {
                bail!(
                    "{} is missing; build it with `cargo build --release -p rttng -p rttng-sessiond -p rttng-consumerd` (or pass --local)",
                    bin.join(b).display()
                );
            }
        }
        // The daemonized session daemon is orphaned by `--daemonize`: become its reaper,
        // so that it does not stay a zombie once stopped (see `wait_gone`).
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        let dir = std::env::temp_dir().join(format!("rttng-bench-ust-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (home, run) = (dir.join("home"), dir.join("run"));
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        Ok(Stack {
            dir,
            home,
            run,
            bin,
            stopped: std::cell::Cell::new(false),
        })
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("RTTNG_HOME", &self.home)
            .env("RTTNG_RUNDIR", &self.run)
            .env("LC_ALL", "C");
    }

    /// Runs `PROGRAM ARGS` (bounded) and returns its standard output; fails on a non-zero
    /// exit with its standard error.
    pub(crate) fn cmd(&self, program: &str, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env(&mut cmd);
        let child = cmd.spawn().with_context(|| format!("starting {program}"))?;
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let out = match rx.recv_timeout(CMD_TIMEOUT) {
            Ok(r) => r.with_context(|| format!("running {program}"))?,
            Err(_) => {
                signal(pid as i32, libc::SIGKILL);
                bail!(
                    "{program} {args:?} did not finish within {}s",
                    CMD_TIMEOUT.as_secs()
                );
            }
        };
        if !out.status.success() {
            bail!(
                "{program} {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(crate) fn rttng(&self, args: &[&str]) -> Result<String> {
        self.cmd("rttng", args)
    }

    fn pid(&self, file: &str) -> Option<i32> {
        std::fs::read_to_string(self.run.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|&p| p > 1)
    }

    /// Stops the session daemon (SIGTERM: it stops its consumer) and waits, bounded, for
    /// both to be gone; SIGKILL for whichever is still there.
    pub(crate) fn stop_daemons(&self) {
        if self.stopped.replace(true) {
            return;
        }
        let sessiond = self.pid("rttng-sessiond.pid");
        let consumerd = self.pid("rttng-consumerd.pid");
        if let Some(p) = sessiond {
            signal(p, libc::SIGTERM);
        }
        for p in [sessiond, consumerd].into_iter().flatten() {
            if !wait_gone(p, EXIT_TIMEOUT) {
                eprintln!("rttng-bench: process {p} ignored SIGTERM; killing it");
                signal(p, libc::SIGKILL);
                let _ = wait_gone(p, EXIT_TIMEOUT);
            }
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop_daemons();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill has no memory effects; `pid` is a daemon this run started (read from
    // its PID file, > 1).
    unsafe {
        libc::kill(pid, sig);
    }
}

/// True once `/proc/PID` is gone or a zombie, within `bound`. A zombie that is our child
/// (the session daemon: we are its subreaper) is reaped.
fn wait_gone(pid: i32, bound: Duration) -> bool {
    let end = Instant::now() + bound;
    loop {
        // SAFETY: waitpid with WNOHANG on a specific pid; a null status pointer is allowed.
        // It fails harmlessly (ECHILD) when `pid` is not our child.
        unsafe {
            libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
        }
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                return true
            }
            Ok(_) if Instant::now() >= end => return false,
            Ok(_) => std::thread::sleep(POLL),
        }
    }
}

/// Sum of the stream files' sizes under `dir` (everything but `metadata` and indexes).
pub(crate) fn stream_bytes(dir: &Path) -> Result<u64> {
    /// Directory depth of LTTng's layout (ust/uid/UID/64-bit/index).
    const MAX_DEPTH: u32 = 8;
    fn walk(dir: &Path, depth: u32, sum: &mut u64) -> Result<()> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e?;
            let t = e.file_type()?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if t.is_dir() {
                walk(&e.path(), depth + 1, sum)?;
            } else if t.is_file() && name != "metadata" && !name.ends_with(".idx") {
                *sum += e.metadata()?.len();
            }
        }
        Ok(())
    }
    let mut sum = 0;
    walk(dir, 0, &mut sum)?;
    Ok(sum)
}

/// CPU time (ns) the threads of process `pid` have run so far: the sum of the first
/// field of `/proc/PID/task/*/schedstat` (nanosecond resolution, unlike `stat`'s ticks).
/// None if the process is gone or the kernel has no schedstat.
fn cpu_ns(pid: i32) -> Option<u64> {
    /// Bound on the threads read (the consumer daemon has one per buffer).
    const MAX_TASKS: usize = 4096;
    let mut sum = 0u64;
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .take(MAX_TASKS)
    {
        let path = e.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        sum += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(sum)
}

/// The value after `label` on the lines of `text` that have it, summed.
fn sum_after(text: &str, label: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(label))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .sum()
}

fn run_stack(args: &Args) -> Result<Outcome> {
    let stack = Stack::new()?;
    // This process registers with the private daemon on its first tracepoint; nothing
    // has read these variables yet (no tracepoint ran) and no other thread runs.
    std::env::set_var("RTTNG_HOME", &stack.home);
    std::env::set_var("RTTNG_RUNDIR", &stack.run);
    std::env::set_var("RTTNG_UST_REGISTER_TIMEOUT", REGISTER_TIMEOUT_MS);
    stack.cmd("rttng-sessiond", &["--daemonize"])?;
    let trace = stack.dir.join("trace");
    let trace_text = trace.to_string_lossy().into_owned();
    // Declared after `stack`: dropped (killed) before the stack's directory is removed.
    let mut relay = None;
    if args.snapshot {
        stack.rttng(&["create", SESSION, "--snapshot", "-o", &trace_text])?;
    } else if args.live {
        let r = crate::relay::RelayProc::start(&stack.bin.join("rttng-relayd"), &trace)?;
        let url = format!("net://127.0.0.1:{}:{}", r.control, r.data);
        relay = Some(r);
        stack.rttng(&["create", SESSION, "--live", "-U", &url])?;
    } else {
        stack.rttng(&["create", SESSION, "-o", &trace_text])?;
    }
    let mut chan: Vec<String> = ["enable-channel", "-u", "-s", SESSION]
        .map(String::from)
        .to_vec();
    if let Some(s) = args.subbuf_size {
        chan.extend(["--subbuf-size".into(), s.to_string()]);
    }
    if let Some(n) = args.num_subbuf {
        chan.extend(["--num-subbuf".into(), n.to_string()]);
    }
    chan.push("channel0".into());
    stack.rttng(&chan.iter().map(String::as_str).collect::<Vec<_>>())?;
    if !args.disabled {
        let mut enable = vec!["enable-event", "-u", "-s", SESSION, "-c", "channel0", EVENT];
        if let Some(f) = &args.filter {
            enable.extend(["--filter", f.as_str()]);
        }
        stack.rttng(&enable)?;
    }
    stack.rttng(&["start", SESSION])?;
    // Warm-up: process init and registration (bounded wait for the daemon's state).
    emit(-1, 0, 1);
    if rttng_ust::control::is_recording(EVENT) == args.disabled {
        bail!(
            "after registration {EVENT} is {} (expected {}); see {}",
            if args.disabled {
                "recording"
            } else {
                "not recording"
            },
            if args.disabled { "disabled" } else { "enabled" },
            stack.run.join("rttng-sessiond.log").display()
        );
    }
    let consumerd = stack.pid("rttng-consumerd.pid");
    let cpu_before = consumerd.and_then(cpu_ns);
    let elapsed = measure(args.threads, args.events, args.rate, args.pin_cpu)?;
    let consumer_cpu = match (cpu_before, consumerd.and_then(cpu_ns)) {
        (Some(a), Some(b)) => Some(Duration::from_nanos(b.saturating_sub(a))),
        _ => None,
    };
    stack.rttng(&["stop", SESSION])?;
    let list = stack.rttng(&["list", SESSION])?;
    let discarded = sum_after(&list, "Discarded events:");
    stack.rttng(&["destroy", SESSION])?;
    stack.stop_daemons();
    // `stop` returned once the relay held everything.
    drop(relay);
    let stream_bytes = if trace.exists() {
        stream_bytes(&trace)?
    } else {
        0
    };
    let recorded = if args.disabled || args.snapshot {
        0
    } else {
        let counts = stack.rttng(&["view", "--count", &trace_text])?;
        counts
            .lines()
            .find_map(|l| l.strip_prefix("total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| anyhow!("`rttng view --count` printed no total:\n{counts}"))?
    };
    drop(stack);
    Ok(Outcome {
        elapsed,
        discarded,
        stream_bytes,
        recorded: (!args.snapshot).then_some(recorded),
        consumer_cpu,
    })
}
