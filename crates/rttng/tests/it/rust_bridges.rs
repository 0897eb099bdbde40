//! The Rust bridges' examples (`rttng-log`'s `log_demo`, `tracing-rttng`'s `tracing_demo`)
//! under a real session daemon: with `--loglevel WARNING` only their warnings and errors
//! are recorded, with their fields.

use std::process::Command;
use std::time::Duration;

use crate::session_support::{bin_dir, World, CMD_TIMEOUT};
use crate::support::{repo_root, run_bounded};

fn build_examples() {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(repo_root()).args([
        "build",
        "-p",
        "rttng-log",
        "-p",
        "tracing-rttng",
        "--examples",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let done = run_bounded(&mut cmd, Duration::from_secs(900)).expect("cargo build");
    assert!(
        done.status.success(),
        "cargo build failed: {}",
        done.stderr_quote()
    );
}

#[test]
fn issue_15_log_and_tracing_examples_record_their_warnings_and_errors() {
    build_examples();
    let w = World::new("bridges");
    let out = w.create(&["b", "--output", &w.tmp.path().join("t").to_string_lossy()]);
    w.ok(&[
        "enable-event",
        "-u",
        "rust_log:*,rust_tracing:*",
        "--loglevel",
        "WARNING",
    ]);
    w.ok(&["start"]);
    for example in ["log_demo", "tracing_demo"] {
        let mut cmd = Command::new(bin_dir().join("examples").join(example));
        cmd.arg("4");
        w.env(&mut cmd);
        let done = run_bounded(&mut cmd, CMD_TIMEOUT).expect("example runs");
        assert!(done.status.success(), "{example}: {}", done.stderr_quote());
        assert_eq!(done.stdout_text().trim(), "done 4");
    }
    w.ok(&["stop"]);
    let bt = run_bounded(Command::new("babeltrace2").arg(&out), CMD_TIMEOUT).expect("babeltrace2");
    assert!(bt.status.success(), "{}", bt.stderr_quote());
    let text = bt.stdout_text();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split(": {").next()?.rsplit(' ').next())
        .collect();
    // Each demo: a warning at items 1 and 3, then one error; infos are below WARNING.
    assert_eq!(
        events,
        [
            "rust_log:warn",
            "rust_log:warn",
            "rust_log:error",
            "rust_tracing:warn",
            "rust_tracing:warn",
            "rust_tracing:error",
        ],
        "{text}"
    );
    assert!(text.contains("target = \"demo::disk\""), "{text}");
    assert!(text.contains("kv = \"free_mb=99\""), "{text}");
    assert!(text.contains("fields = \"free_mb=97\""), "{text}");
    assert!(
        text.contains("message = \"finished with a fake error\", kv = \"code=7\""),
        "{text}"
    );
}
