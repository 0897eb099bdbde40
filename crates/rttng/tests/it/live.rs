//! `rttng view --live` against the real peers: lttng-sessiond and lttng-relayd 2.13 record a
//! paced LTTng-UST app in live sessions (`tests/lttng/live-session.sh`), rttng reads one,
//! babeltrace2's lttng-live client reads a twin session of the same app, and babeltrace2 reads
//! the relay's stored copy of rttng's session afterwards.
//!
//! What must hold: rttng prints events while the app runs; by the end it printed exactly what
//! babeltrace2 prints for the stored trace; its lines equal babeltrace2's live lines but for the
//! timestamps (the twin session records each event with its own clock read); a session
//! destroyed mid-view ends the viewer with status 0; a killed relay ends it with an error.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{first_difference, require_tools, run_bounded, TempDir};

/// The whole scenario (build, three sessions) takes ~15 s here.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(400);
/// Events live_app emits in the scenario's first session (25 ticks, then 25 `late`).
const APP_EVENTS: usize = 50;
/// The live timer of the scenario's sessions.
const LIVE_PERIOD_US: u32 = 200_000;

fn free_ports(n: usize) -> Vec<u16> {
    let socks: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    socks
        .iter()
        .map(|s| s.local_addr().expect("local address").port())
        .collect()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.join(name).display()))
}

/// The line without its `[time] (+delta) ` prefix.
fn without_times(line: &str) -> &str {
    line.splitn(3, ' ').nth(2).unwrap_or("")
}

#[test]
fn view_live_reads_a_real_lttng_live_session_like_babeltrace2() {
    if let Err(hint) = require_tools(&[
        ("bash", "bash"),
        ("cc", "gcc"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("lttng-relayd", "lttng-tools"),
        ("babeltrace2", "babeltrace2"),
        ("ss", "iproute2"),
    ]) {
        panic!("{hint} (also needed: liblttng-ust-dev)");
    }
    let dir = TempDir::new("rttng-live").expect("create a temporary directory");
    let out = dir.path().join("out");
    let ports = free_ports(3);
    let script = crate::support::repo_root().join("tests/lttng/live-session.sh");
    let done = run_bounded(
        Command::new("bash")
            .arg(&script)
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_rttng"))
            .args(ports.iter().map(u16::to_string))
            .arg(LIVE_PERIOD_US.to_string())
            .env("TZ", "UTC")
            .env("LC_ALL", "C"),
        SCRIPT_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        done.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        done.status,
        done.stderr_quote()
    );
    let summary = read(&out, "summary");
    let value = |key: &str| -> String {
        summary
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ').map(str::to_owned))
            .unwrap_or_else(|| panic!("summary lacks `{key}`:\n{summary}"))
    };

    // Events on screen while the app still ran (it waits for this before its second half).
    let early: usize = value("printed_while_running").parse().expect("a count");
    assert!(
        (1..APP_EVENTS).contains(&early),
        "rttng printed {early} events before the app's second half"
    );
    assert_eq!(
        value("rttng_status"),
        "0",
        "rttng view --live after destroy:\n{}",
        read(&out, "rttng.err")
    );
    assert_eq!(
        value("bt_status"),
        "0",
        "babeltrace2:\n{}",
        read(&out, "bt-live.err")
    );

    // Everything, in babeltrace2's words.
    let rttng = read(&out, "rttng.txt");
    let stored = read(&out, "stored.txt");
    assert_eq!(rttng.lines().count(), APP_EVENTS, "rttng printed:\n{rttng}");
    if let Some(d) = first_difference(stored.as_bytes(), rttng.as_bytes()) {
        panic!("rttng view --live differs from babeltrace2 on the stored trace:\n{d}");
    }
    let bt_live = read(&out, "bt-live.txt");
    let a: Vec<&str> = rttng.lines().map(without_times).collect();
    let b: Vec<&str> = bt_live.lines().map(without_times).collect();
    assert_eq!(
        a, b,
        "rttng view --live and babeltrace2 -i lttng-live differ beyond timestamps"
    );
    assert!(
        rttng.contains("rttng_live:late") && rttng.contains("seq = 49"),
        "the event class registered mid-view is missing:\n{rttng}"
    );

    // Destroyed mid-view: the viewer ends by itself, successfully, having printed events.
    assert_eq!(
        value("destroyed_status"),
        "0",
        "{}",
        read(&out, "destroyed.err")
    );
    assert_eq!(
        value("destroyed_app_running"),
        "1",
        "the app was meant to still run"
    );
    let destroyed = read(&out, "destroyed.txt");
    assert!(
        destroyed.lines().count() > 0 && destroyed.lines().all(|l| l.contains("rttng_live:tick")),
        "{destroyed}"
    );

    // Relay killed: one clear error line, non-zero status.
    assert_eq!(value("killed_status"), "1");
    let killed = read(&out, "killed.err");
    assert!(
        killed.starts_with("Error: the relay daemon closed the connection (")
            && killed.lines().count() == 1,
        "stderr of rttng view --live when its relay died: {killed:?}"
    );
}
