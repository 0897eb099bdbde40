//! Issue 16, trackers in user space through the real daemons: a session records only the
//! apps its trackers select, for apps registered before `track` (a run-time change) and
//! after it (decided at registration), as babeltrace2 (and `rttng view`) read the trace,
//! each event's `vpid` context naming the process. `track -k` is refused with the reason.

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
    // The kernel's trackers would not be exact on tracefs: refused, not ignored.
    let k = w.rttng(&["track", "-k", "--pid", "1"]);
    assert_eq!(k.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&k.stderr).starts_with("Error: kernel trackers are not available"),
        "{}",
        k.stderr_quote()
    );
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
