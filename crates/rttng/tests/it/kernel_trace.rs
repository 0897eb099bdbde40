//! `rttng trace` against the real kernel (run as root): the strace-like view of `ls /`, the CTF
//! trace it keeps (babeltrace2 reads it; `rttng view` prints it identically), and the cleanup
//! of tracefs after a normal exit and after `kill -9` followed by the next run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    first_difference_but_babeltrace_empty_strings, kill_process, run_bounded, Finished, TempDir,
};

const TIMEOUT: Duration = Duration::from_secs(120);

fn rttng() -> &'static str {
    env!("CARGO_BIN_EXE_rttng")
}

const INSTANCES: &str = "/sys/kernel/tracing/instances";

fn rttng_instances() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(INSTANCES)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|n| n.starts_with("rttng-"));
    v
}

/// `rttng trace -o DIR/session -- ls /` in a fresh temporary directory: the directory, the
/// session's output path, the finished command and its standard error (asserted successful).
pub(crate) fn trace_ls_root(name: &str) -> (TempDir, std::path::PathBuf, Finished, String) {
    let dir = TempDir::new(name).expect("temp dir");
    let out = dir.path().join("session");
    let done = run_bounded(
        Command::new(rttng())
            .arg("trace")
            .arg("-o")
            .arg(&out)
            .args(["--", "ls", "/"]),
        TIMEOUT,
    )
    .expect("rttng trace runs");
    let err = String::from_utf8_lossy(&done.stderr).into_owned();
    assert!(done.status.success(), "{err}");
    (dir, out, done, err)
}

#[test]
fn trace_ls_shows_syscalls_and_keeps_a_trace_babeltrace2_and_view_agree_on() {
    let (_dir, out, done, err) = trace_ls_root("rttng-kernel-trace");
    assert!(
        done.stdout_text().lines().any(|l| l == "usr"),
        "ls output passes through"
    );
    // The path of execve, from sched_process_exec, in place of the pointer.
    assert!(
        err.lines()
            .any(|l| l.starts_with("execve(\"/usr/bin/ls\", ") && l.ends_with(") = 0")),
        "{err}"
    );
    assert!(err.contains("openat(AT_FDCWD, "), "{err}");
    assert!(err.contains("O_RDONLY|O_CLOEXEC"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("getdents64(") && !l.ends_with("= ?")),
        "{err}"
    );
    assert!(err.contains("+++ exited with 0 +++"), "{err}");
    assert!(err.contains(" 0 lost; trace written to "), "{err}");

    let kernel = out.join("kernel");
    let bt = run_bounded(Command::new("babeltrace2").arg(&kernel), TIMEOUT).expect("babeltrace2");
    assert!(
        bt.status.success() && bt.stderr.is_empty(),
        "{}",
        bt.stderr_quote()
    );
    let bt_text = bt.stdout_text();
    assert!(
        bt_text.contains("syscall_entry_openat:"),
        "lttng-modules naming"
    );
    assert!(bt_text.contains("syscall_exit_getdents64:"));
    assert!(bt_text.contains("procname = \"ls\""));
    let ours =
        run_bounded(Command::new(rttng()).arg("view").arg(&kernel), TIMEOUT).expect("rttng view");
    assert!(ours.status.success(), "{}", ours.stderr_quote());
    if let Some(d) = first_difference_but_babeltrace_empty_strings(&bt.stdout, &ours.stdout) {
        panic!("rttng view differs from babeltrace2:\n{d}");
    }
    // Only this run's instances (`rttng-<its pid>-…`): concurrent tests have their own.
    let own = format!("rttng-{}-", done.pid);
    assert!(
        !rttng_instances().iter().any(|n| n.starts_with(&own)),
        "instance left: {:?}",
        rttng_instances()
    );
}

/// Waits (on inotify, bounded) until `rttng trace` with this pid has created its instance.
fn wait_for_instance(pid: u32) -> bool {
    let prefix = format!("rttng-{pid}-");
    crate::support::wait_for_entry(Path::new(INSTANCES), TIMEOUT, |n| n.starts_with(&prefix))
}

#[test]
fn kill_9_leftovers_are_removed_by_the_next_run() {
    let dir = TempDir::new("rttng-kernel-kill").expect("temp dir");
    let fifo = dir.path().join("never");
    // `cat` on a FIFO nobody opens blocks forever: the traced command never ends by itself.
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let mut child = Command::new(rttng())
        .arg("trace")
        .arg("-o")
        .arg(dir.path().join("s"))
        .arg("--")
        .arg("cat")
        .arg(&fifo)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rttng trace");
    let pid = child.id();
    assert!(wait_for_instance(pid), "rttng trace created no instance");
    kill_process(pid);
    let _ = child.wait();
    assert!(
        rttng_instances()
            .iter()
            .any(|n| n.starts_with(&format!("rttng-{pid}-"))),
        "the instance outlives kill -9"
    );
    // The next run cleans up what a dead owner left.
    let done = run_bounded(
        Command::new(rttng())
            .arg("trace")
            .arg("-o")
            .arg(dir.path().join("t"))
            .args(["--", "true"]),
        TIMEOUT,
    )
    .expect("second run");
    assert!(done.status.success(), "{}", done.stderr_quote());
    assert!(
        !rttng_instances()
            .iter()
            .any(|n| n.starts_with(&format!("rttng-{pid}-"))),
        "stale instance not removed: {:?}",
        rttng_instances()
    );
    // Release an orphaned `cat` (if it was let run before the kill) by opening the FIFO for
    // writing; non-blocking, so that no reader means an immediate ENXIO, not a hang.
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(O_NONBLOCK)
        .open(&fifo);
    let _ = Path::new(&fifo);
}
