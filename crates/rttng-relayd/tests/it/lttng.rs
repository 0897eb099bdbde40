//! A real LTTng 2.13 session daemon and consumer stream an LTTng-UST app's session into
//! `rttng-relayd` (`tests/lttng/stream-to-relay.sh`: a private lttng-sessiond, `lttng create
//! --set-url net://127.0.0.1:CTRL:DATA`, the C app built with gcc in the test). babeltrace2
//! reads the stored trace: every event the app emitted is there, less what the session reported
//! discarded, and at this paced rate nothing is discarded.
//!
//! Kernel channels are not tested: LTTng's kernel tracer needs lttng-modules, which this
//! machine does not have (no kernel module tree); rttng's own kernel streams are tested by the
//! consumer's network output instead.

use crate::support::{
    babeltrace, repo_root, require_tools, run_bounded, trace_dirs, Relay, TempDir,
};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// Events the app emits, and its rate (per second).
const EVENTS: u64 = 20_000;
const RATE_PER_S: u64 = 20_000;
/// Bound for the whole LTTng run (daemon start, build, tracing, stop, destroy).
const LTTNG_TIMEOUT: Duration = Duration::from_secs(240);

fn stream_from_lttng(buffers: &str) {
    stream_from_lttng_as(buffers, "normal");
}

/// `mode`: normal, live or snapshot (see stream-to-relay.sh).
fn stream_from_lttng_as(buffers: &str, mode: &str) {
    require_tools(&[
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("babeltrace2", "babeltrace2"),
        ("cc", "gcc"),
        ("unshare", "util-linux"),
    ]);
    let tmp = TempDir::new(&format!("relay-lttng-{buffers}"));
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let done = run_bounded(
        Command::new(repo_root().join("tests/lttng/stream-to-relay.sh"))
            .args([
                tmp.path().join("work").to_str().unwrap(),
                &relay.control_port.to_string(),
                &relay.data_port.to_string(),
                &EVENTS.to_string(),
                &RATE_PER_S.to_string(),
                buffers,
            ])
            .env("RTTNG_RELAY_MODE", mode),
        LTTNG_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}; relay log:\n{}", relay.log()));
    assert!(
        done.status.success(),
        "stream-to-relay.sh failed: {}\nrelay log:\n{}",
        done.stderr,
        relay.log()
    );
    let field = |k: &str| -> u64 {
        done.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k}= in {:?}", done.stdout))
            .parse()
            .unwrap()
    };
    let (emitted, discarded) = (field("emitted"), field("discarded"));
    assert_eq!(emitted, EVENTS);
    assert_eq!(discarded, 0, "LTTng discarded events at {RATE_PER_S}/s");
    // `stop` returned after data pending said the relay holds everything.
    let traces = trace_dirs(&out);
    assert!(
        !traces.is_empty(),
        "nothing stored; relay log:\n{}",
        relay.log()
    );
    for t in &traces {
        let rel = t.strip_prefix(&out).unwrap().to_string_lossy().into_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        assert!(
            parts[1].starts_with(&format!("relay-{buffers}-"))
                && (parts[2] == "ust" && parts[3] == buffers
                    || mode == "snapshot"
                        && parts[2].starts_with("snapshot-")
                        && parts[3] == "ust"
                        && parts[4] == buffers),
            "unexpected layout {rel}"
        );
    }
    let mut seen = BTreeSet::new();
    let mut count = 0u64;
    for t in &traces {
        for line in babeltrace(t)
            .lines()
            .filter(|l| l.contains("rttng_bench:event"))
        {
            count += 1;
            let a = line
                .split("a = ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no a in {line}"));
            seen.insert(a);
        }
    }
    assert_eq!(count, emitted - discarded, "babeltrace2 event count");
    assert_eq!(seen.len() as u64, emitted, "every sequence number once");
    assert_eq!(seen.last().copied(), Some(emitted - 1));
    let mut relay = relay;
    assert!(relay.alive());
}

#[test]
fn lttng_sessiond_streams_per_uid_buffers_into_rttng_relayd() {
    stream_from_lttng("uid");
}

#[test]
fn lttng_sessiond_streams_per_pid_buffers_into_rttng_relayd() {
    stream_from_lttng("pid");
}

#[test]
fn lttng_live_session_is_stored_by_rttng_relayd() {
    stream_from_lttng_as("uid", "live");
}

#[test]
fn lttng_snapshot_record_is_stored_by_rttng_relayd_in_its_named_chunk() {
    stream_from_lttng_as("uid", "snapshot");
}
