//! Shared helpers for rttng's integration tests: private temporary directories, running
//! programs with a bounded wait (killing their whole process group by ID on timeout), checking
//! that external tools are installed, and describing the first difference between two outputs.
//!
//! It deliberately does not sleep to synchronise, does not kill anything by name, and does not
//! depend on crates outside the standard library.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How many characters of a differing line a diff shows on each side of the first difference.
const DIFF_CONTEXT_CHARS: usize = 160;
/// How many bytes of a program's standard error a failure message quotes.
const STDERR_QUOTE_BYTES: usize = 4000;
/// How long a killed process group gets to be reaped before we give up on it.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// The root of the workspace (holds `tests/lttng/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether this process runs as root (tests of users, groups and the kernel need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub use rttng_testkit::TempDir;

/// What a finished program produced.
#[derive(Debug)]
pub struct Finished {
    /// The process id it ran as (names it left behind, such as tracefs instances, carry it).
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    /// The standard error as text, cut to a length fit for a failure message.
    pub fn stderr_quote(&self) -> String {
        quote_bytes(&self.stderr, STDERR_QUOTE_BYTES)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Why [`run_bounded`] gave no [`Finished`].
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started.
    Spawn { program: String, source: io::Error },
    /// The program ran past its bound; its process group was killed.
    TimedOut { program: String, timeout: Duration },
    /// Waiting for the program failed.
    Wait { program: String, source: io::Error },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Spawn { program, source } => write!(f, "cannot start {program}: {source}"),
            RunError::TimedOut { program, timeout } => write!(
                f,
                "{program} did not finish within {}s; its process group was killed",
                timeout.as_secs()
            ),
            RunError::Wait { program, source } => {
                write!(f, "cannot wait for {program}: {source}")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Runs `cmd` with standard input closed and its outputs captured, in a process group of its own.
/// Returns once it exits and its outputs are closed, or kills the whole group by its ID and
/// returns [`RunError::TimedOut`] when that takes longer than `timeout`.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<Finished, RunError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    let (drained_tx, drained_rx) = mpsc::channel();
    let stdout = child.stdout.take().map(|r| drain(r, drained_tx.clone()));
    let stderr = child.stderr.take().map(|r| drain(r, drained_tx.clone()));
    drop(drained_tx);

    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        // The receiver may be gone after a timeout; then nobody needs the status.
        let _ = tx.send(status);
    });
    let deadline = Instant::now() + timeout;
    let status = match rx.recv_timeout(timeout) {
        Ok(status) => status,
        Err(_) => {
            kill_process_group(pid);
            // The group is dead: the waiter finishes promptly. Bound it anyway.
            let _ = rx.recv_timeout(REAP_TIMEOUT);
            return Err(RunError::TimedOut { program, timeout });
        }
    };
    let _ = waiter.join();
    let status = status.map_err(|source| RunError::Wait {
        program: program.clone(),
        source,
    })?;
    // The outputs end when every process holding the pipes has exited. A member of the group
    // left behind keeps them open (and keeps the group ID from being reused): kill the group.
    let pipes = usize::from(stdout.is_some()) + usize::from(stderr.is_some());
    for _ in 0..pipes {
        let left = deadline.saturating_duration_since(Instant::now());
        if drained_rx.recv_timeout(left).is_err() {
            kill_process_group(pid);
            let _ = drained_rx.recv_timeout(REAP_TIMEOUT);
            return Err(RunError::TimedOut { program, timeout });
        }
    }
    let stdout = stdout
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let stderr = stderr
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    Ok(Finished {
        pid,
        status,
        stdout,
        stderr,
    })
}

/// Sends SIGKILL to the process group `pgid` (a group we created with `process_group(0)`).
pub fn kill_process_group(pgid: u32) {
    kill_pid(&format!("-{pgid}"));
}

/// Sends SIGKILL to the process `pid`.
pub fn kill_process(pid: u32) {
    kill_pid(&pid.to_string());
}

fn kill_pid(target: &str) {
    // kill(1) by ID only; the result is ignored because the target may already be gone.
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn drain<R: Read + Send + 'static>(
    mut reader: R,
    done: mpsc::Sender<()>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        let _ = done.send(());
        bytes
    })
}

/// Kills a child we spawned ourselves (for tests that manage a daemon's lifetime).
pub fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Finds `program` in `PATH`, as the shell would.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Fails (with the command that installs them) unless every `(program, package)` is in `PATH`.
pub fn require_tools(tools: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(program, _)| find_in_path(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing;
    packages.sort_unstable();
    packages.dedup();
    Err(format!(
        "missing tools; install them with: apt-get install {}",
        packages.join(" ")
    ))
}

/// Describes where `actual` first differs from `expected`, line by line, or `None` if they are
/// byte-identical. The description names the line, shows both versions around the first
/// differing byte (escaped, so control characters and colour codes are visible), and says when
/// one output ends before the other.
pub fn first_difference(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut expected_lines = expected.split_inclusive(|&b| b == b'\n');
    let mut actual_lines = actual.split_inclusive(|&b| b == b'\n');
    let mut line_number = 0usize;
    loop {
        line_number += 1;
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => continue,
            (Some(e), Some(a)) => {
                let column = e.iter().zip(a).take_while(|(x, y)| x == y).count();
                let mut out = format!(
                    "line {line_number} differs at byte {column} (expected {} lines, got {})\n",
                    count_lines(expected),
                    count_lines(actual)
                );
                let _ = writeln!(out, "  expected: {}", excerpt(e, column));
                let _ = writeln!(out, "  actual:   {}", excerpt(a, column));
                return Some(out);
            }
            (Some(e), None) => {
                return Some(format!(
                    "output ends after {} lines; expected line {line_number}: {}\n",
                    line_number - 1,
                    excerpt(e, 0)
                ));
            }
            (None, Some(a)) => {
                return Some(format!(
                    "output has extra lines from line {line_number}: {}\n",
                    excerpt(a, 0)
                ));
            }
            // Unreachable while the inputs differ; kept total to avoid a panic path.
            (None, None) => return Some("outputs differ in an unknown way\n".to_string()),
        }
    }
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.split_inclusive(|&b| b == b'\n').count()
}

/// An escaped window of `line` around byte `column`.
fn excerpt(line: &[u8], column: usize) -> String {
    let start = column.saturating_sub(DIFF_CONTEXT_CHARS);
    let end = line.len().min(column.saturating_add(DIFF_CONTEXT_CHARS));
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&escape_bytes(line.get(start..end).unwrap_or_default()));
    if end < line.len() {
        out.push('…');
    }
    out
}

/// Escapes bytes for display: printable ASCII as is, everything else as `\n`, `\t`, `\e` or
/// `\xHH`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x1b => out.push_str("\\e"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

fn quote_bytes(bytes: &[u8], max_bytes: usize) -> String {
    let cut = bytes.get(..max_bytes).unwrap_or(bytes);
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if cut.len() < bytes.len() {
        text.push_str("\n[…]");
    }
    text
}

/// `first_difference`, except for one known babeltrace2 2.0.4 bug: it sometimes prints an
/// empty string field with the value that field had in an earlier event of the same class
/// (seen with lttng-ust's empty `ctf_string`s and with `newfstatat(fd, "", …)` paths; the
/// bytes hold the empty string). A line may differ only where ours shows `""` and
/// babeltrace2 a non-empty string; everything else must be byte-identical.
pub fn first_difference_but_babeltrace_empty_strings(
    babeltrace: &[u8],
    ours: &[u8],
) -> Option<String> {
    let bt = String::from_utf8_lossy(babeltrace);
    let us = String::from_utf8_lossy(ours);
    let bt_lines: Vec<&str> = bt.split_inclusive('\n').collect();
    let our_lines: Vec<&str> = us.split_inclusive('\n').collect();
    if bt_lines.len() != our_lines.len() {
        return first_difference(babeltrace, ours);
    }
    for (b, o) in bt_lines.iter().zip(&our_lines) {
        if b != o && !same_but_empty_strings(b, o) {
            return first_difference(b.as_bytes(), o.as_bytes());
        }
    }
    None
}

/// Whether `ours` equals `bt` once each `""` of ours that stands where `bt` has a quoted
/// string is given that string.
fn same_but_empty_strings(bt: &str, ours: &str) -> bool {
    let (b, o) = (bt.as_bytes(), ours.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < b.len() && j < o.len() {
        if o[j..].starts_with(b"= \"\"")
            && b[i..].starts_with(b"= \"")
            && !b[i..].starts_with(b"= \"\"")
        {
            // Skip babeltrace2's string to its closing quote (escapes are `\x`).
            let mut k = i + 3;
            while k < b.len() && b[k] != b'"' {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            i = k + 1;
            j += 4;
            continue;
        }
        if b[i] != o[j] {
            return false;
        }
        i += 1;
        j += 1;
    }
    i == b.len() && j == o.len()
}

/// Waits until `dir` has an entry for which `wanted` holds, at most `timeout`: checks, then
/// sleeps in `poll` on an inotify watch of `dir` (creations and removals; tracefs reports
/// them too) and checks again on each change. No busy polling. False on timeout, or when `dir`
/// cannot be watched.
pub fn wait_for_entry(dir: &Path, timeout: Duration, wanted: impl Fn(&str) -> bool) -> bool {
    let has = || {
        std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_str().is_some_and(&wanted))
        })
    };
    rttng_testkit::wait_on_dir(
        dir,
        libc::IN_CREATE | libc::IN_DELETE | libc::IN_MODIFY,
        timeout,
        has,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_babeltrace_empty_string_quirk_is_tolerated() {
        use super::first_difference_but_babeltrace_empty_strings as diff;
        let bt = b"x: { a = 1, s = \"/old \\\"q\\\" path\", b = 2 }\n";
        assert_eq!(diff(bt, b"x: { a = 1, s = \"\", b = 2 }\n"), None);
        assert!(
            diff(bt, b"x: { a = 1, s = \"\", b = 3 }\n").is_some(),
            "other bytes must match"
        );
        assert!(
            diff(bt, b"x: { a = 1, s = \"/new\", b = 2 }\n").is_some(),
            "a non-empty string must match"
        );
        assert!(
            diff(b"s = \"\"\n", b"s = \"x\"\n").is_some(),
            "not the other way round"
        );
    }

    use super::*;

    #[test]
    fn first_difference_is_none_for_identical_outputs() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), None);
    }

    #[test]
    fn first_difference_names_line_and_column() {
        let diff = first_difference(b"same\nabcdef\nz\n", b"same\nabcXef\nz\n").expect("differs");
        assert!(diff.starts_with("line 2 differs at byte 3"), "{diff}");
        assert!(diff.contains("expected: abcdef\\n"), "{diff}");
        assert!(diff.contains("actual:   abcXef\\n"), "{diff}");
    }

    #[test]
    fn first_difference_reports_missing_and_extra_lines() {
        let short = first_difference(b"a\nb\n", b"a\n").expect("differs");
        assert!(short.starts_with("output ends after 1 lines"), "{short}");
        let long = first_difference(b"a\n", b"a\nb\n").expect("differs");
        assert!(
            long.starts_with("output has extra lines from line 2"),
            "{long}"
        );
        let newline = first_difference(b"a\n", b"a").expect("differs");
        assert!(newline.starts_with("line 1 differs at byte 1"), "{newline}");
    }

    #[test]
    fn escape_bytes_shows_control_characters() {
        assert_eq!(escape_bytes(b"\x1b[0m\t\x01\\"), "\\e[0m\\t\\x01\\\\");
    }

    #[test]
    fn run_bounded_captures_output_and_status() {
        let done = run_bounded(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(30),
        )
        .expect("sh runs");
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr, b"err\n");
    }

    #[test]
    fn run_bounded_kills_the_group_on_timeout() {
        // The grandchild `sleep` holds stdout open; only a group kill lets this return.
        let err = run_bounded(
            Command::new("sh").args(["-c", "sleep 600 & wait"]),
            Duration::from_millis(200),
        )
        .expect_err("must time out");
        assert!(matches!(err, RunError::TimedOut { .. }), "{err}");
    }

    #[test]
    fn temp_dirs_are_distinct_and_removed() {
        let a = TempDir::new("rttng-support").expect("temp dir");
        let b = TempDir::new("rttng-support").expect("temp dir");
        assert_ne!(a.path(), b.path());
        let kept = a.path().to_path_buf();
        std::fs::write(kept.join("f"), b"x").expect("write");
        drop(a);
        assert!(!kept.exists());
    }

    #[test]
    fn require_tools_names_the_package() {
        let err =
            require_tools(&[("sh", "dash"), ("no-such-tool-rttng", "pkg-x")]).expect_err("missing");
        assert_eq!(
            err,
            "missing tools; install them with: apt-get install pkg-x"
        );
    }
}
