//! An rttng "host" for the network tests: its own `RTTNG_HOME` and `RTTNG_RUNDIR`, the
//! `rttng` CLI (which starts the host's session and consumer daemons), the example app, and
//! a real `lttng-relayd` 2.13 on free ports when a test needs LTTng's relay. Daemons are
//! stopped by PID when the world is dropped. Binaries are built once per test run, with this
//! run's profile.
//!
//! It deliberately does not sleep to synchronise, except to poll an observable condition (a
//! port that accepts, a file that grows, a process that ended) with a bound.

#![allow(dead_code)]

use crate::support::{run_bounded, Finished, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bound of one `rttng` command (a stop waits for the relay).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(90);
/// Bound of building the daemons and the example app.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Bound of waiting for a condition.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Period of checking a polled condition.
const POLL_PERIOD: Duration = Duration::from_millis(5);

/// The directory holding this build's binaries.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_rttng-relayd"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Builds rttng, rttng-sessiond, rttng-consumerd and rttng-example once per run.
pub fn built() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(crate::support::repo_root()).args([
            "build",
            "-p",
            "rttng",
            "-p",
            "rttng-sessiond",
            "-p",
            "rttng-consumerd",
            "-p",
            "rttng-example",
            "--bins",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let done = run_bounded(&mut cmd, BUILD_TIMEOUT)?;
        if !done.status.success() {
            return Err(format!("cargo build failed:\n{}", done.stderr));
        }
        Ok(())
    });
    r.as_ref().expect("build the rttng binaries");
}

/// One host's private rttng.
pub struct World {
    pub tmp: TempDir,
    pub home: PathBuf,
    pub run: PathBuf,
    /// Run commands through this prefix (e.g. `ip netns exec NS`).
    pub prefix: Vec<String>,
}

impl World {
    pub fn new(name: &str) -> World {
        built();
        let tmp = TempDir::new(&format!("relay-world-{name}"));
        let home = tmp.path().join("home");
        let run = tmp.path().join("run");
        std::fs::create_dir_all(&home).unwrap();
        World {
            tmp,
            home,
            run,
            prefix: Vec::new(),
        }
    }

    pub fn command(&self, program: &str) -> Command {
        let exe = bin_dir().join(program);
        let mut cmd = match self.prefix.split_first() {
            None => Command::new(exe),
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
        };
        cmd.env("RTTNG_HOME", &self.home)
            .env("RTTNG_RUNDIR", &self.run)
            .env("RTTNG_UST_REGISTER_TIMEOUT", "30000")
            .env("TZ", "UTC")
            .env("LC_ALL", "C");
        cmd
    }

    pub fn rttng(&self, args: &[&str]) -> Finished {
        let mut cmd = self.command("rttng");
        cmd.args(args);
        run_bounded(&mut cmd, CMD_TIMEOUT).unwrap_or_else(|e| panic!("rttng {args:?}: {e}"))
    }

    /// Runs `rttng ARGS` and requires success.
    pub fn ok(&self, args: &[&str]) -> String {
        let f = self.rttng(args);
        assert!(
            f.status.success(),
            "rttng {args:?} failed ({}):\n{}{}\ndaemon log:\n{}",
            f.status,
            f.stdout,
            f.stderr,
            self.daemon_log()
        );
        f.stdout
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.run.join("rttng-sessiond.log")).unwrap_or_default()
    }

    /// Runs the example app to completion: `count` events at `rate` per second.
    pub fn example(&self, count: u64, rate: u64) -> Finished {
        let mut cmd = self.command("rttng-example");
        cmd.args(["--count", &count.to_string(), "--rate", &rate.to_string()]);
        let f = run_bounded(&mut cmd, CMD_TIMEOUT).expect("example runs");
        assert!(f.status.success(), "example failed: {}", f.stderr);
        assert_eq!(f.stdout.trim(), format!("done {count}"));
        f
    }

    /// Starts the example app in the background.
    pub fn spawn_example(&self, count: u64, rate: u64) -> Child {
        let mut cmd = self.command("rttng-example");
        cmd.args(["--count", &count.to_string(), "--rate", &rate.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn example")
    }

    /// The discarded events `rttng list SESSION` reports, summed over channels.
    pub fn discarded(&self, session: &str) -> u64 {
        self.ok(&["list", session])
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Discarded events:"))
            .map(|v| v.trim().parse::<u64>().expect("a count"))
            .sum()
    }

    fn pid(&self, file: &str) -> Option<u32> {
        std::fs::read_to_string(self.run.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let pids = [
            self.pid("rttng-sessiond.pid"),
            self.pid("rttng-consumerd.pid"),
        ];
        if let Some(p) = pids[0] {
            let _ = Command::new("kill")
                .args(["-s", "TERM", "--", &p.to_string()])
                .status();
        }
        for p in pids.into_iter().flatten() {
            if !wait_gone(p, WAIT_TIMEOUT) {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", "--", &p.to_string()])
                    .status();
            }
        }
    }
}

pub use rttng_testkit::wait_gone;

/// Waits (bounded by [`WAIT_TIMEOUT`]) until `cond` holds.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    rttng_testkit::wait_until(what, WAIT_TIMEOUT, cond);
}

/// A real lttng-relayd 2.13 on free loopback ports, killed by PID on drop.
pub struct LttngRelayd {
    child: Child,
    pub control_port: u16,
    pub data_port: u16,
    pub output: PathBuf,
    _home: TempDir,
}

/// A port that was free a moment ago (bind to 0, read, release).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl LttngRelayd {
    /// Starts lttng-relayd writing under `output`; retries with other ports if one was taken
    /// in between.
    pub fn start(output: &Path) -> LttngRelayd {
        crate::support::require_tools(&[("lttng-relayd", "lttng-tools")]);
        let home = TempDir::new("lttng-relayd-home");
        for _attempt in 0..5 {
            let ports = [free_port(), free_port(), free_port()];
            let mut child = Command::new("lttng-relayd")
                .args([
                    "-C",
                    &format!("tcp://127.0.0.1:{}", ports[0]),
                    "-D",
                    &format!("tcp://127.0.0.1:{}", ports[1]),
                    "-L",
                    &format!("tcp://127.0.0.1:{}", ports[2]),
                    "-o",
                ])
                .arg(output)
                .env("LTTNG_HOME", home.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start lttng-relayd");
            // Ready when both ports accept; gone if a port was taken.
            let end = Instant::now() + WAIT_TIMEOUT;
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
                if up(ports[0]) && up(ports[1]) {
                    return LttngRelayd {
                        child,
                        control_port: ports[0],
                        data_port: ports[1],
                        output: output.to_path_buf(),
                        _home: home,
                    };
                }
                if Instant::now() > end {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("lttng-relayd did not listen within {WAIT_TIMEOUT:?}");
                }
                std::thread::sleep(POLL_PERIOD);
            }
        }
        panic!("lttng-relayd could not listen on free ports after 5 attempts");
    }
}

impl Drop for LttngRelayd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
