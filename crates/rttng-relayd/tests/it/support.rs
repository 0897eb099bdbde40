//! Helpers of the relay's integration tests: private temporary directories, a relay daemon
//! started on free ports (the system picks them; the daemon's `listening` line says which)
//! and stopped by PID, its log collected and awaited with a bound, bounded program runs, and
//! babeltrace2 as the judge of stored traces.
//!
//! It deliberately does not sleep to synchronise and never kills anything by name.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the relay gets to listen.
pub const RELAY_START_TIMEOUT: Duration = Duration::from_secs(20);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A directory under the system temporary directory, removed with its contents on drop
/// (`rttng_testkit::TempDir`, whose creation a relay test never expects to fail).
#[derive(Debug)]
pub struct TempDir(rttng_testkit::TempDir);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        TempDir(rttng_testkit::TempDir::new(prefix).expect("create temp dir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

#[derive(Default)]
struct LogState {
    text: String,
    ended: bool,
}

/// A running `rttng-relayd` on free loopback ports, killed on drop.
pub struct Relay {
    child: Child,
    pub control_port: u16,
    pub data_port: u16,
    pub live_port: u16,
    pub output: PathBuf,
    log: Arc<(Mutex<LogState>, Condvar)>,
}

impl Relay {
    /// Starts the relay with `-v`, writing under `output`.
    pub fn start(output: &Path) -> Relay {
        Self::start_on(output, "127.0.0.1", [0, 0, 0])
    }

    /// Starts the relay listening on `host` at the given ports (0: a free one).
    pub fn start_on(output: &Path, host: &str, ports: [u16; 3]) -> Relay {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng-relayd"));
        cmd.args([
            "-v",
            "-C",
            &format!("tcp://{host}:{}", ports[0]),
            "-D",
            &format!("tcp://{host}:{}", ports[1]),
            "-L",
            &format!("tcp://{host}:{}", ports[2]),
            "-o",
        ])
        .arg(output)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        Self::spawn(cmd, output)
    }

    /// Starts a prepared command (for network namespaces).
    pub fn spawn(mut cmd: Command, output: &Path) -> Relay {
        let mut child = cmd.spawn().expect("start rttng-relayd");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new((Mutex::new(LogState::default()), Condvar::new()));
        let l = log.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = String::new();
            loop {
                line.clear();
                let n = r.read_line(&mut line).unwrap_or(0);
                let (m, cv) = &*l;
                let mut st = m.lock().unwrap();
                if n == 0 {
                    st.ended = true;
                    cv.notify_all();
                    return;
                }
                st.text.push_str(&line);
                cv.notify_all();
            }
        });
        let mut relay = Relay {
            child,
            control_port: 0,
            data_port: 0,
            live_port: 0,
            output: output.to_path_buf(),
            log,
        };
        let text = relay
            .wait_log(" listening: ", RELAY_START_TIMEOUT)
            .unwrap_or_else(|| panic!("rttng-relayd did not listen; log:\n{}", relay.log()));
        let line = text
            .lines()
            .find(|l| l.contains(" listening: "))
            .expect("found");
        let port = |what: &str| -> u16 {
            let after = line.split(&format!("{what} ")).nth(1).expect(what);
            let addr = after.split([',', ';']).next().expect("addr");
            addr.rsplit(':').next().unwrap().parse().expect("port")
        };
        relay.control_port = port("control");
        relay.data_port = port("data");
        relay.live_port = port("live");
        relay
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.0.lock().unwrap().text.clone()
    }

    /// Waits until the log contains `needle` (returns the log) or `timeout` passes.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.wait_log_count(needle, 1, timeout)
    }

    /// Waits until `needle` occurs `count` times in the log.
    pub fn wait_log_count(&self, needle: &str, count: usize, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.log;
        let mut st = m.lock().unwrap();
        loop {
            if st.text.matches(needle).count() >= count {
                return Some(st.text.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if st.ended {
                return None;
            }
            st = cv.wait_timeout(st, left).unwrap().0;
        }
    }

    /// Whether the daemon is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Threads of the daemon.
    pub fn threads(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find(|l| l.starts_with("Threads:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Kills the daemon (SIGKILL by PID) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a finished program produced.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` in its own process group, outputs captured; kills the group by its ID after
/// `timeout`.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<Finished, String> {
    let program = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(s) => s.map_err(|e| format!("cannot wait for {program}: {e}"))?,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
            return Err(format!(
                "{program} did not finish within {}s; killed its process group",
                timeout.as_secs()
            ));
        }
    };
    // A process left in the group keeps the pipes open: kill the group, then read.
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
    Ok(Finished {
        status,
        stdout: o.join().unwrap_or_default(),
        stderr: e.join().unwrap_or_default(),
    })
}

/// Fails with the install command unless every `(program, package)` is in `PATH`.
pub fn require_tools(tools: &[(&str, &str)]) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(p, _)| !std::env::split_paths(&path).any(|d| d.join(p).is_file()))
        .map(|(_, pkg)| *pkg)
        .collect();
    assert!(
        missing.is_empty(),
        "missing tools; install them with: apt-get install {}",
        missing.join(" ")
    );
}

/// babeltrace2's text output of `dir` (UTC, C locale); fails the test if babeltrace2 fails.
pub fn babeltrace(dir: &Path) -> String {
    require_tools(&[("babeltrace2", "babeltrace2")]);
    let done = run_bounded(
        Command::new("babeltrace2")
            .arg(dir)
            .env("TZ", "UTC")
            .env("LC_ALL", "C"),
        Duration::from_secs(120),
    )
    .expect("babeltrace2 runs");
    assert!(
        done.status.success(),
        "babeltrace2 {} failed: {}",
        dir.display(),
        done.stderr
    );
    done.stdout
}

/// Every directory under `root` (recursively) that holds a `metadata` file.
pub fn trace_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().is_some_and(|n| n == "metadata") {
                out.push(d.clone());
            }
        }
    }
    out.sort();
    out
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
