//! The core-dump handler with the real kernel: `rttng coredump-handler install` points
//! `kernel.core_pattern` at `rttng coredump-handler run`; an app that aborts then leaves a
//! snapshot holding its last event and its core file; `uninstall` restores the previous
//! pattern exactly (a plain file pattern, then a pipe to another handler, which gets the
//! core). `core_pattern` is restored on every path, the test's failures included, by a guard.
//! One test, so that nothing else in this binary changes `core_pattern` at the same time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::session_support::*;

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";
/// How long the handler may take to write a snapshot and the core after the crash.
const HANDLER_WAIT: Duration = Duration::from_secs(30);

fn read_pattern() -> String {
    let s = std::fs::read_to_string(CORE_PATTERN).expect("read core_pattern");
    s.strip_suffix('\n').unwrap_or(&s).to_string()
}

const STATE: &str = "/run/rttng/coredump-handler.state";
const LOG: &str = "/run/rttng/coredump-handler.log";

/// Puts back the pattern found at creation when dropped (also when the test panics), and
/// removes the handler's state file and, if the test created it, its log.
struct RestorePattern {
    pattern: String,
    log_existed: bool,
    dir_existed: bool,
}

impl Drop for RestorePattern {
    fn drop(&mut self) {
        if read_pattern() != self.pattern {
            let _ = std::fs::write(CORE_PATTERN, self.pattern.as_bytes());
        }
        let _ = std::fs::remove_file(STATE);
        if !self.log_existed {
            let _ = std::fs::remove_file(LOG);
        }
        if !self.dir_existed {
            // Only if empty: a daemon may have started to use it meanwhile.
            let _ = std::fs::remove_dir("/run/rttng");
        }
    }
}

/// Runs the example under `sh` with an unlimited core size; it aborts after `n` events.
fn crash_example(w: &World, n: u32) -> u32 {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "ulimit -c unlimited; exec {} --count {} --abort-after {n}",
        bin_dir().join("rttng-example").display(),
        n * 2
    ));
    w.env(&mut cmd);
    let child = cmd.spawn().expect("spawn example");
    let pid = child.id();
    let f = child.wait_with_output().expect("example ends");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        f.status.signal(),
        Some(6),
        "the app should abort: {:?}",
        f.status
    );
    pid
}

/// Waits (bounded) until `path` exists and its size stops changing (the handler is done).
fn wait_file(path: &Path) -> u64 {
    let end = Instant::now() + HANDLER_WAIT;
    let mut last = None;
    loop {
        let size = std::fs::metadata(path).ok().map(|m| m.len());
        if size.is_some() && size == last {
            return size.unwrap_or(0);
        }
        assert!(
            Instant::now() < end,
            "{} not written by the handler",
            path.display()
        );
        last = size;
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn only_snapshot(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn coredump_handler_snapshots_a_crashing_app_and_restores_core_pattern() {
    assert!(
        crate::support::is_root(),
        "the core-dump handler writes {CORE_PATTERN}: run the tests as root (as .ci/run does)"
    );
    assert!(
        !Path::new(STATE).exists(),
        "an rttng core-dump handler is installed on this machine; uninstall it first"
    );
    let _guard = RestorePattern {
        pattern: read_pattern(),
        log_existed: Path::new(LOG).exists(),
        dir_existed: Path::new("/run/rttng").exists(),
    };
    let w = World::new("coredump");
    let out = w.tmp.path().join("snapshots");
    let cores = w.tmp.path().join("cores");
    w.ok(&["create", "crash", "--snapshot", "-o", out.to_str().unwrap()]);
    w.ok(&["enable-event", "-u", "rttng_example:tick"]);
    w.ok(&["start"]);

    // 1. A file pattern before; cores go to --core-dir.
    std::fs::write(CORE_PATTERN, "core.rttng-test.%p").expect("set core_pattern");
    let before = read_pattern();
    let text = w.ok(&[
        "coredump-handler",
        "install",
        "--core-dir",
        cores.to_str().unwrap(),
    ]);
    assert!(text.contains("Core-dump handler installed"), "{text}");
    assert!(read_pattern().starts_with('|'), "{}", read_pattern());
    let again = w.rttng(&["coredump-handler", "install"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .starts_with("Error: an rttng core-dump handler is installed already"),
        "{}",
        again.stderr_quote()
    );
    let pid = crash_example(&w, 700);
    let core = cores.join(format!("core.rttng-example.{pid}"));
    let size = wait_file(&core);
    assert!(size > 0);
    let head = std::fs::read(&core)
        .map(|b| b[..4].to_vec())
        .unwrap_or_default();
    assert_eq!(head, b"\x7fELF", "the core file is an ELF core");
    let snap = only_snapshot(&out);
    let (trace, _) = read_both(&snap);
    let last = trace
        .lines()
        .rfind(|l| l.contains(" rttng_example:tick: "))
        .expect("events in the crash snapshot");
    assert!(
        last.contains("seq = 699,"),
        "the last event before the abort: {last}"
    );
    let text = w.ok(&["coredump-handler", "uninstall"]);
    assert!(text.contains("core_pattern restored"), "{text}");
    assert_eq!(read_pattern(), before, "restored exactly");

    // 2. A pipe to another handler before: it gets the core after the snapshot.
    let piped = w.tmp.path().join("piped");
    std::fs::create_dir_all(&piped).unwrap();
    let previous = format!("|/usr/bin/tee {}/core.%p.%s", piped.display());
    std::fs::write(CORE_PATTERN, &previous).expect("set core_pattern");
    assert_eq!(read_pattern(), previous);
    w.ok(&["coredump-handler", "install"]);
    let pid = crash_example(&w, 50);
    let size = wait_file(&piped.join(format!("core.{pid}.6")));
    assert!(size > 0, "the previous handler got the core");
    let dirs = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(dirs, 2, "a second snapshot for the second crash");
    w.ok(&["coredump-handler", "uninstall"]);
    assert_eq!(
        read_pattern(),
        previous,
        "the pipe pattern is restored byte for byte"
    );
    let none = w.rttng(&["coredump-handler", "uninstall"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .starts_with("Error: no rttng core-dump handler is installed"),
        "{}",
        none.stderr_quote()
    );
}
