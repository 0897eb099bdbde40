//! Issue 11, item 3, through the real daemons: several apps of two threads each write into
//! one per-user buffer at full speed while the consumer's switch timer flushes it every
//! millisecond and each app's exit flushes it too. babeltrace2 must read the trace whole (it
//! refuses a packet whose `timestamp_end` is older than one of its events, or a time going
//! back in a stream) and `rttng view` must print the same; recorded + discarded = emitted.
//! (The ring buffer's own multi-process stress test is rttng-ringbuf's tests/it/timestamps.rs.)

use std::process::Command;

use crate::session_support::{bin_dir, list_total, read_both, World, CMD_TIMEOUT};
use crate::support::{require_tools, run_bounded};

const APPS: usize = 6;
const THREADS: u64 = 2;
const EVENTS: u64 = 40_000;

#[test]
fn issue_11_per_user_buffer_under_concurrent_apps_and_flushes_reads_whole() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    let w = World::new("concurrent-flush");
    let out = w.create(&["c"]);
    w.record_channel0(
        &[
            "--subbuf-size",
            "16384",
            "--num-subbuf",
            "32",
            "--switch-timer",
            "1000",
        ],
        "rttng_example:tick",
    );
    // The apps run at the same time, each to completion within the bound.
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..APPS)
            .map(|_| {
                s.spawn(|| {
                    let mut cmd = Command::new(bin_dir().join("rttng-example"));
                    cmd.args([
                        "--threads",
                        &THREADS.to_string(),
                        "--count",
                        &EVENTS.to_string(),
                    ]);
                    w.env(&mut cmd);
                    run_bounded(&mut cmd, CMD_TIMEOUT)
                })
            })
            .collect();
        for r in runs {
            let done = r.join().expect("app thread").expect("rttng-example runs");
            assert!(
                done.status.success(),
                "rttng-example: {}",
                done.stderr_quote()
            );
        }
    });
    w.ok(&["stop"]);
    let list = w.ok(&["list", "c"]);
    let discarded = list_total(&list, "Discarded events:");
    // babeltrace2 reads the trace whole, and rttng view prints the same.
    let (text, _) = read_both(&out);
    let recorded = text
        .lines()
        .filter(|l| l.contains("rttng_example:tick"))
        .count() as u64;
    assert_eq!(
        recorded + discarded,
        APPS as u64 * THREADS * EVENTS,
        "{recorded} recorded + {discarded} discarded"
    );
}
