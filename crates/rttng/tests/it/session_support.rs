//! Helpers for the session tests: builds the daemons and the probe app once, gives each test
//! its own `RTTNG_HOME` and `RTTNG_RUNDIR`, runs `rttng` commands with a bound, compares
//! `rttng view` with babeltrace2, and stops the test's daemons by PID when it ends.
//!
//! It deliberately does not sleep to synchronise: waits are on observable conditions
//! (a line on a pipe, a file's size, a process's end), each with a bound.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::{
    first_difference_but_babeltrace_empty_strings, kill_process, run_bounded, Finished, TempDir,
};

/// Bound of one `rttng` command (a stop writes data).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound of building the daemons and the probe app.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Bound of waiting for a condition (a daemon's exit, a file's growth).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Period of checking a polled condition.
const POLL_PERIOD: Duration = Duration::from_millis(5);

/// The directory holding `rttng` and the other binaries of this build.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_rttng"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Builds rttng-sessiond, rttng-consumerd, rttng-example, rttng-relayd and the probe app once
/// per run.
pub fn built() -> Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut cmd = Command::new(env!("CARGO"));
            cmd.current_dir(crate::support::repo_root()).args([
                "build",
                "-p",
                "rttng-sessiond",
                "-p",
                "rttng-consumerd",
                "-p",
                "rttng-example",
                "-p",
                "rttng-relayd",
                "--bins",
                "--examples",
            ]);
            if !cfg!(debug_assertions) {
                cmd.arg("--release");
            }
            let done = run_bounded(&mut cmd, BUILD_TIMEOUT).map_err(|e| e.to_string())?;
            if !done.status.success() {
                return Err(format!("cargo build failed:\n{}", done.stderr_quote()));
            }
            Ok(())
        })
        .clone()
}

pub fn probe_path() -> PathBuf {
    bin_dir().join("examples").join("session_probe")
}

/// One test's private rttng world.
pub struct World {
    pub tmp: TempDir,
    pub home: PathBuf,
    pub run: PathBuf,
}

impl World {
    pub fn new(name: &str) -> World {
        built().expect("build daemons");
        let tmp = TempDir::new(&format!("rttng-{name}")).expect("temp dir");
        let home = tmp.path().join("home");
        let run = tmp.path().join("run");
        std::fs::create_dir_all(&home).expect("home");
        World { tmp, home, run }
    }

    pub fn env(&self, cmd: &mut Command) {
        // Apps wait for the daemon's initial state as long as it takes (bounded by the
        // tests' own waits), so "recorded from the first event" does not depend on the
        // default 3 s wait on a loaded machine.
        cmd.env("RTTNG_HOME", &self.home)
            .env("RTTNG_RUNDIR", &self.run)
            .env("RTTNG_UST_REGISTER_TIMEOUT", "30000")
            .env("TZ", "UTC")
            .env("LC_ALL", "C");
    }

    pub fn rttng(&self, args: &[&str]) -> Finished {
        self.rttng_env(args, &[])
    }

    /// [`World::rttng`] with `env` added to the command's environment (the daemons a
    /// command spawns inherit it).
    pub fn rttng_env(&self, args: &[&str], env: &[(&str, &str)]) -> Finished {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
        cmd.args(args);
        self.env(&mut cmd);
        cmd.envs(env.iter().copied());
        run_bounded(&mut cmd, CMD_TIMEOUT).unwrap_or_else(|e| panic!("rttng {args:?}: {e}"))
    }

    /// Runs `rttng ARGS` and requires success.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_env(args, &[])
    }

    /// [`World::ok`] with `env` added to the command's environment.
    pub fn ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let f = self.rttng_env(args, env);
        assert!(
            f.status.success(),
            "rttng {args:?} failed ({}):\n{}{}",
            f.status,
            f.stdout_text(),
            f.stderr_quote()
        );
        f.stdout_text()
    }

    /// Runs the probe app to completion.
    pub fn probe(&self, args: &[&str]) -> Finished {
        let mut cmd = Command::new(probe_path());
        cmd.args(args);
        self.env(&mut cmd);
        let f = run_bounded(&mut cmd, CMD_TIMEOUT).expect("probe runs");
        assert!(f.status.success(), "probe failed: {}", f.stderr_quote());
        f
    }

    /// Starts the probe app and waits (bounded) for its line starting with `until`.
    pub fn spawn_probe(
        &self,
        args: &[&str],
        until: &str,
    ) -> (Child, BufReader<std::process::ChildStdout>) {
        let mut cmd = Command::new(probe_path());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        self.env(&mut cmd);
        let mut child = cmd.spawn().expect("spawn probe");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        wait_line(&mut child, &mut out, until);
        (child, out)
    }

    pub fn pid(&self, file: &str) -> Option<u32> {
        std::fs::read_to_string(self.run.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn sessiond_pid(&self) -> Option<u32> {
        self.pid("rttng-sessiond.pid")
    }

    pub fn consumerd_pid(&self) -> Option<u32> {
        self.pid("rttng-consumerd.pid")
    }

    /// The tracefs instances of session `session` made by this world's session daemon.
    pub fn kernel_instances(&self, session: &str) -> Vec<String> {
        kernel_instances(self.sessiond_pid().expect("session daemon pid"), session)
    }

    /// The output directory of the session `name` as `create` printed it.
    pub fn create(&self, args: &[&str]) -> PathBuf {
        self.create_env(args, &[])
    }

    /// [`World::create`] with `env` added to the command's environment (the daemons it
    /// spawns inherit it).
    pub fn create_env(&self, args: &[&str], env: &[(&str, &str)]) -> PathBuf {
        let mut full = vec!["create"];
        full.extend_from_slice(args);
        let out = self.ok_env(&full, env);
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("Traces will be output to "))
            .expect("output line");
        PathBuf::from(line.trim())
    }

    /// `enable-channel -u channel0 CHANNEL_ARGS`, `enable-event -u EVENTS` (`-a` for all)
    /// and `start`, in the current session.
    pub fn record_channel0(&self, channel_args: &[&str], events: &str) {
        let mut args = vec!["enable-channel", "-u", "channel0"];
        args.extend_from_slice(channel_args);
        self.ok(&args);
        self.ok(&["enable-event", "-u", events]);
        self.ok(&["start"]);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let pids = [self.sessiond_pid(), self.consumerd_pid()];
        if let Some(p) = pids[0] {
            let _ = Command::new("kill")
                .args(["-s", "TERM", "--", &p.to_string()])
                .status();
        }
        for p in pids.into_iter().flatten() {
            if !wait_gone(p, WAIT_TIMEOUT) {
                kill_process(p);
            }
        }
    }
}

/// A child process killed (SIGKILL) and reaped when dropped, so that a failing test
/// does not leave it running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines from the child until one starts with `prefix` (bounded by a watchdog that
/// kills the child).
pub fn wait_line(
    child: &mut Child,
    out: &mut BufReader<std::process::ChildStdout>,
    prefix: &str,
) -> String {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(WAIT_TIMEOUT).is_err() {
            kill_process(pid);
        }
    });
    let mut found = None;
    let mut line = String::new();
    while out.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        if line.starts_with(prefix) {
            found = Some(line.clone());
            break;
        }
        line.clear();
    }
    let _ = tx.send(());
    let _ = watchdog.join();
    found.unwrap_or_else(|| panic!("probe never printed {prefix:?}"))
}

pub use rttng_testkit::wait_gone;

/// Waits (bounded by [`WAIT_TIMEOUT`]) until `cond` holds.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    rttng_testkit::wait_until(what, WAIT_TIMEOUT, cond);
}

/// babeltrace2's run on `trace` (UTC, C locale), asserted to succeed.
pub fn babeltrace2(trace: &Path) -> Finished {
    let bt = run_bounded(
        Command::new("babeltrace2")
            .arg(trace)
            .env("TZ", "UTC")
            .env("LC_ALL", "C"),
        CMD_TIMEOUT,
    )
    .expect("babeltrace2 runs");
    assert!(
        bt.status.success(),
        "babeltrace2 failed on {}: {}",
        trace.display(),
        bt.stderr_quote()
    );
    bt
}

/// The sum of the figures `rttng list SESSION` prints after `label` (for example
/// "Discarded events:"), over every channel; panics when no line has it.
pub fn list_total(list: &str, label: &str) -> u64 {
    let figures: Vec<u64> = list
        .lines()
        .filter_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().parse::<u64>().expect("a number after the label"))
        .collect();
    assert!(!figures.is_empty(), "no {label:?} line in:\n{list}");
    figures.iter().sum()
}

/// babeltrace2's and rttng view's output of `trace`; asserts both succeed, print the same
/// text (but for babeltrace2 2.0.4's stale empty strings), and that babeltrace2 printed no
/// error. Returns (stdout, babeltrace2's stderr).
pub fn read_both(trace: &Path) -> (String, String) {
    let bt = babeltrace2(trace);
    let bt_err = String::from_utf8_lossy(&bt.stderr).into_owned();
    assert!(
        !bt_err.contains("ERROR"),
        "babeltrace2 reported errors: {bt_err}"
    );
    let ours = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng"))
            .arg("view")
            .arg(trace)
            .env("TZ", "UTC")
            .env("LC_ALL", "C"),
        CMD_TIMEOUT,
    )
    .expect("rttng view runs");
    assert!(
        ours.status.success(),
        "rttng view failed: {}",
        ours.stderr_quote()
    );
    // babeltrace2 2.0.4 sometimes prints an empty string with an earlier event's value (a
    // kernel path the eBPF recorder could not read is empty: seen under load).
    if let Some(d) = first_difference_but_babeltrace_empty_strings(&bt.stdout, &ours.stdout) {
        panic!(
            "rttng view differs from babeltrace2 on {}:\n{d}\n{}",
            trace.display(),
            keep_for_inspection(trace)
        );
    }
    (bt.stdout_text(), bt_err)
}

/// Copies a trace that made a test fail out of the test's temporary directory (removed when
/// the test ends) into the target directory, and says where.
fn keep_for_inspection(trace: &Path) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("failed-traces");
    let name = format!(
        "{}-{}",
        trace.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    );
    let _ = std::fs::create_dir_all(&dir);
    match Command::new("cp")
        .arg("-a")
        .arg(trace)
        .arg(dir.join(&name))
        .status()
    {
        Ok(s) if s.success() => format!("the trace is kept in {}", dir.join(&name).display()),
        _ => "the trace could not be kept".to_string(),
    }
}

/// The sorted `seq` values of events named `name` in babeltrace2 text.
pub fn seqs(text: &str, name: &str) -> Vec<u64> {
    let key = format!(" {name}: ");
    let mut v: Vec<u64> = text
        .lines()
        .filter(|l| l.contains(&key))
        .filter_map(|l| {
            l.split("seq = ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    v.sort_unstable();
    v
}

/// Event names (with counts) in babeltrace2 text.
pub fn names(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for l in text.lines() {
        if let Some(name) = l.split(": {").next().and_then(|h| h.rsplit(' ').next()) {
            *m.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    m
}

/// Fails the test, saying how to fix it, unless it runs as root with tracefs mounted (what
/// kernel tracing needs).
pub fn require_kernel_tracing() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    assert!(
        Path::new("/sys/kernel/tracing/available_events").exists(),
        "tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing"
    );
}

/// The tracefs instances of session `session` made by the session daemon `pid`. rttng names
/// them `rttng-PID-uUID-SESSION-CHANNEL`; the PID keeps out parallel tests (and other
/// checkouts' test runs) that use the same session names.
pub fn kernel_instances(pid: u32, session: &str) -> Vec<String> {
    std::fs::read_dir("/sys/kernel/tracing/instances")
        .expect("tracefs is mounted (mount -t tracefs nodev /sys/kernel/tracing)")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("rttng-{pid}-")) && n.contains(&format!("-{session}-")))
        .collect()
}
