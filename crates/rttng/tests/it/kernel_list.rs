//! `rttng list -k` against tracefs itself (run as root): every line of `available_events` is
//! listed, nothing else; `--syscall` lists exactly the system calls that have an entry
//! tracepoint; sched_switch's fields carry lttng-modules' names.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::support::run_bounded;

const TIMEOUT: Duration = Duration::from_secs(60);

fn list(args: &[&str]) -> String {
    let f = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng"))
            .arg("list")
            .args(args),
        TIMEOUT,
    )
    .expect("rttng list runs");
    assert!(f.status.success(), "{}", f.stderr_quote());
    f.stdout_text()
}

#[test]
fn kernel_list_matches_available_events() {
    let available: BTreeSet<String> =
        std::fs::read_to_string("/sys/kernel/tracing/available_events")
            .expect("tracefs mounted and readable (run as root)")
            .lines()
            .map(str::to_string)
            .collect();
    assert!(available.len() > 100, "a real kernel has many tracepoints");
    let text = list(&["-k"]);
    let listed: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_suffix(" (type: tracepoint)"))
        .map(str::to_string)
        .collect();
    let listed_set: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), listed_set.len(), "each event listed once");
    assert_eq!(listed_set, available);
    // The fields of sched_switch, as the CTF trace names them.
    let fields: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "sched:sched_switch (type: tracepoint)")
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("field: "))
        .map(str::trim)
        .collect();
    assert_eq!(
        fields,
        [
            "field: prev_comm (string)",
            "field: prev_tid (integer)",
            "field: prev_prio (integer)",
            "field: prev_state (integer)",
            "field: next_comm (string)",
            "field: next_tid (integer)",
            "field: next_prio (integer)",
        ]
    );
}

#[test]
fn kernel_list_syscall_matches_the_syscall_tracepoints() {
    let expected: BTreeSet<String> = std::fs::read_dir("/sys/kernel/tracing/events/syscalls")
        .expect("tracefs mounted and readable (run as root)")
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("sys_enter_")
                .map(str::to_string)
        })
        .collect();
    assert!(expected.contains("openat") && expected.contains("getppid"));
    let listed: BTreeSet<String> = list(&["-k", "--syscall"])
        .lines()
        .filter_map(|l| l.trim().strip_suffix(" [64-bit]"))
        .map(str::to_string)
        .collect();
    assert_eq!(listed, expected);
}
