//! Both domains on one clock, through the root session daemon: the probe app's last
//! user-space event and the kernel's `syscall_entry_write` of the `write` it makes right after
//! (its "emitted N" line) must come out of the merged view in that order, a few microseconds
//! apart. Both tracers stamp with the TSC (`rttng-clock`; tracefs `x86-tsc`), so the order is
//! causal, and a wrong clock offset between the two traces would show up here.

use crate::session_support::*;

/// `[HH:MM:SS.nnnnnnnnn]` at the start of a babeltrace2 line, as nanoseconds in the day.
fn line_ns(line: &str) -> Option<u64> {
    let t = line.strip_prefix('[')?.split(']').next()?;
    let (hms, frac) = t.split_once('.')?;
    let mut it = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some(((h * 60 + m) * 60 + s) * 1_000_000_000 + frac.parse::<u64>().ok()?)
}

/// Longest gap accepted between the user-space event and the kernel entry of the next system
/// call of the same thread (formatting one line in between; generous for a loaded machine).
const MAX_GAP_NS: u64 = 50_000;

#[test]
fn kernel_marker_user_event_and_its_write_are_ordered_within_microseconds() {
    let w = World::new("kmarker");
    let out = w.create(&["km"]);
    w.ok(&["enable-event", "-k", "--syscall", "write"]);
    w.ok(&["add-context", "-k", "-t", "procname", "-t", "pid"]);
    w.ok(&["enable-event", "-u", "other:info"]);
    w.ok(&["start"]);
    let f = w.probe(&["--count", "3"]);
    assert!(f.stdout_text().contains("emitted 3"));
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    w.ok(&["destroy"]);
    let lines: Vec<&str> = text.lines().collect();
    let user = lines
        .iter()
        .position(|l| l.contains(" other:info: ") && l.contains("seq = 2 }"))
        .unwrap_or_else(|| panic!("no other:info seq 2:\n{text}"));
    // "emitted 3\n" is 10 bytes, the probe's only write of that size. The kernel records
    // every process's system calls, and parallel tests run probes of their own that print
    // the same line: only this probe's pid counts.
    let own_pid = format!("pid = {}", f.pid);
    let kernel = lines
        .iter()
        .position(|l| {
            l.contains(" syscall_entry_write: ")
                && l.contains("procname = \"session_probe\"")
                && l.split(['{', '}', ',']).any(|part| part.trim() == own_pid)
                && l.contains("count = 10 }")
        })
        .unwrap_or_else(|| panic!("no syscall_entry_write of the probe:\n{text}"));
    assert!(
        user < kernel,
        "the kernel entry of the write comes before the event that precedes it:\n{}\n{}",
        lines[kernel],
        lines[user]
    );
    let (tu, tk) = (
        line_ns(lines[user]).expect("time"),
        line_ns(lines[kernel]).expect("time"),
    );
    assert!(tu <= tk, "{} / {}", lines[user], lines[kernel]);
    assert!(
        tk - tu < MAX_GAP_NS,
        "{} ns between the event and the write's entry:\n{}\n{}",
        tk - tu,
        lines[user],
        lines[kernel]
    );
    eprintln!("user event -> syscall_entry_write: {} ns", tk - tu);
}
