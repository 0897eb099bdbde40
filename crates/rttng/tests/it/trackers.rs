//! Issue 16, trackers in user space through the real daemons: a session records only the
//! apps its trackers select, for apps registered before `track` (a run-time change) and
//! after it (decided at registration), as babeltrace2 (and `rttng view`) read the trace,
//! each event's `vpid` context naming the process. In the kernel domain, with lttng-modules'
//! semantics, on real tracepoints (`sched_process_fork`, `sched_process_exec`).

use std::process::Command;

use crate::session_support::*;

/// The number of `probe:info` events of process `pid` in babeltrace2 text.
fn infos_of(text: &str, pid: u32) -> usize {
    let key = format!("vpid = {pid} ");
    text.lines()
        .filter(|l| l.contains(" probe:info: ") && l.contains(&key))
        .count()
}

#[test]
fn issue_16_ust_trackers_select_processes_started_before_and_after_track() {
    let w = World::new("trackers");
    let out = w.create(&["t"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["add-context", "-u", "-t", "vpid"]);
    w.ok(&["start"]);
    // A registers while every process is tracked, and emits its events once `go` exists.
    let go = w.tmp.path().join("go");
    let go_arg = go.to_string_lossy().into_owned();
    let (a, mut a_out) = w.spawn_probe(&["--loop-until", &go_arg, "--count", "3"], "registered");
    let mut a = KillOnDrop(a);
    let a_pid = a.0.id();
    let said = w.ok(&["track", "-u", "--vpid", &a_pid.to_string()]);
    assert_eq!(
        said.trim(),
        format!("Added {a_pid} to the virtual process ID tracker inclusion set")
    );
    // B registers after the track and is not in the set: nothing of it is recorded.
    let b = w.probe(&["--count", "3"]);
    assert!(b.status.success());
    std::fs::write(&go, b"").unwrap();
    wait_line(&mut a.0, &mut a_out, "emitted");
    // Back to every process: C, registered after that, is recorded again.
    w.ok(&["track", "-u", "--vpid", "--all"]);
    let mut c = Command::new(probe_path());
    c.args(["--count", "3"]);
    w.env(&mut c);
    let c = c.spawn().expect("start C");
    let c_pid = c.id();
    let c = c.wait_with_output().expect("C runs");
    assert!(c.status.success());
    let list = w.ok(&["list", "t"]);
    assert!(list.contains("  Virtual process IDs:  all\n"), "{list}");
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    assert_eq!(infos_of(&text, a_pid), 3, "A, tracked at run time:\n{text}");
    assert_eq!(infos_of(&text, c_pid), 3, "C, after track --all:\n{text}");
    let all = text.lines().filter(|l| l.contains(" probe:info: ")).count();
    assert_eq!(all, 6, "B, untracked, must record nothing:\n{text}");
}

/// A shell that runs `/bin/true` (a fork and an exec) for each line it reads, and says `ok`.
struct Looper {
    child: KillOnDrop,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Looper {
    fn spawn(uid: Option<u32>) -> Looper {
        let script = "while read x; do /bin/true; echo ok; done";
        let mut cmd = match uid {
            Some(u) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={u}"),
                    &format!("--regid={u}"),
                    "--clear-groups",
                    "sh",
                    "-c",
                    script,
                ]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", script]);
                c
            }
        };
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn a shell");
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Looper {
            child: KillOnDrop(child),
            out,
        }
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Runs `/bin/true` `n` times, each finished when this returns.
    fn run(&mut self, n: usize) {
        use std::io::{BufRead, Write};
        let stdin = self.child.0.stdin.as_mut().expect("stdin");
        for _ in 0..n {
            stdin.write_all(b"x\n").expect("write to the shell");
            stdin.flush().expect("flush");
            let mut line = String::new();
            self.out.read_line(&mut line).expect("read the shell");
            assert_eq!(line.trim(), "ok", "the shell stopped");
        }
    }
}

/// The (event name, context `pid`, context `uid`) of each fork and exec in babeltrace2 text.
fn forks_and_execs(text: &str) -> Vec<(&'static str, u32, u32)> {
    let num = |l: &str, key: &str| -> u32 {
        l.split(key)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key:?} in {l}"))
    };
    text.lines()
        .filter_map(|l| {
            let name = if l.contains(" sched_process_fork: ") {
                "fork"
            } else if l.contains(" sched_process_exec: ") {
                "exec"
            } else {
                return None;
            };
            Some((name, num(l, "{ pid = "), num(l, ", uid = ")))
        })
        .collect()
}

/// Kernel trackers with lttng-modules' semantics: the process ID tracker records the
/// process's own events (not its children's); trackers combine (an event is recorded when
/// every tracker with a set includes its task); a user ID tracker records a process started
/// after it was set, children included; a process started before `track` and not in the set
/// records nothing. Changes apply while tracing, from the moment they are made.
#[test]
fn issue_16_kernel_trackers_select_processes_started_before_and_after_track() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    crate::support::require_tools(&[("setpriv", "util-linux")]).unwrap_or_else(|h| panic!("{h}"));
    const UID: u32 = 1234;
    let w = World::new("ktrackers");
    // Started before any track.
    let mut a = Looper::spawn(None);
    let mut b = Looper::spawn(None);
    let out = w.create(&["kt"]);
    w.ok(&[
        "enable-event",
        "-k",
        "sched_process_fork,sched_process_exec",
    ]);
    w.ok(&["add-context", "-k", "-t", "pid", "-t", "uid"]);
    w.ok(&["track", "-k", "--pid", &a.pid().to_string()]);
    w.ok(&["start"]);
    a.run(3);
    b.run(3);
    // Both trackers set: A's uid (0) is not in the user set, so nothing is recorded.
    w.ok(&["track", "-k", "--uid", &UID.to_string()]);
    a.run(2);
    w.ok(&["track", "-k", "--pid", "--all"]);
    let list = w.ok(&["list", "kt"]);
    assert!(list.contains("  Process IDs:          all\n"), "{list}");
    assert!(
        list.contains(&format!("  User IDs:             {UID}\n")),
        "{list}"
    );
    // Started after the user tracker: it and its children are recorded, A no more.
    let mut d = Looper::spawn(Some(UID));
    d.run(3);
    a.run(2);
    b.run(1);
    w.ok(&["stop"]);
    let (text, _) = read_both(&out.join("kernel"));
    let got = forks_and_execs(&text);
    let count = |name: &str, pid: u32| got.iter().filter(|e| e.0 == name && e.1 == pid).count();
    assert_eq!(
        count("fork", a.pid()),
        3,
        "A's own forks while tracked:\n{text}"
    );
    assert_eq!(count("fork", d.pid()), 3, "D's forks:\n{text}");
    assert_eq!(count("fork", b.pid()), 0, "B is never tracked:\n{text}");
    // D's own exec (setpriv became sh as uid 1234) and its 3 children's.
    let execs: Vec<_> = got.iter().filter(|e| e.0 == "exec").collect();
    assert_eq!(execs.len(), 4, "{text}");
    assert!(execs.iter().all(|e| e.2 == UID), "{text}");
    assert_eq!(count("exec", d.pid()), 1, "{text}");
    // Nothing else: not A's children under the process ID tracker, no other process.
    assert_eq!(got.len(), 10, "{text}");
    w.ok(&["destroy", "kt"]);
    assert_eq!(w.kernel_instances("kt"), Vec::<String>::new());
}

/// A drain pass whose records a tracker drops entirely (here every one: the tracked process
/// never runs) still closes its packets in order: `stop` succeeds and the trace is readable
/// and empty of the untracked process. Before, the packet ended at time 0, before its start,
/// and `stop` failed with "timestamp 0 is before the previous one" (seen in CI).
#[test]
fn issue_16_a_drain_pass_with_only_untracked_records_keeps_the_trace_whole() {
    assert!(
        crate::support::is_root(),
        "kernel tracing needs root: run the tests as root (CI does)"
    );
    let w = World::new("kuntracked");
    let idle = Looper::spawn(None);
    let mut busy = Looper::spawn(None);
    let out = w.create(&["ku"]);
    w.ok(&["enable-event", "-k", "sched_process_fork"]);
    w.ok(&["add-context", "-k", "-t", "pid", "-t", "uid"]);
    w.ok(&["track", "-k", "--pid", &idle.pid().to_string()]);
    w.ok(&["start"]);
    busy.run(3);
    let stop = w.ok(&["stop"]);
    assert!(!stop.contains("Warning"), "{stop}");
    let (text, _) = read_both(&out.join("kernel"));
    // The tracked process never forks: nothing at all is recorded.
    assert_eq!(forks_and_execs(&text), Vec::new(), "{text}");
    w.ok(&["destroy", "ku"]);
}

/// An app untracked while it runs stops being recorded (its rules are disabled in it).
#[test]
fn issue_16_untrack_at_run_time_stops_recording_the_app() {
    let w = World::new("untrack");
    let out = w.create(&["u"]);
    w.ok(&["enable-event", "-u", "probe:info,probe:spin"]);
    w.ok(&["add-context", "-u", "-t", "vpid"]);
    w.ok(&["start"]);
    let go = w.tmp.path().join("go");
    let go_arg = go.to_string_lossy().into_owned();
    let (a, mut a_out) = w.spawn_probe(&["--loop-until", &go_arg, "--count", "3"], "registered");
    let mut a = KillOnDrop(a);
    let a_pid = a.0.id();
    w.ok(&["untrack", "-u", "--vpid", "--all"]);
    std::fs::write(&go, b"").unwrap();
    wait_line(&mut a.0, &mut a_out, "emitted");
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    // Spin events before the untrack may be there; none of the info events after it.
    assert_eq!(infos_of(&text, a_pid), 0, "{text}");
}
