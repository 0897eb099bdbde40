//! `--filter` in the tracer (through the local harness, as the session daemon's
//! `SetFilter` does): exactly the accepted events are recorded (babeltrace2 judges),
//! rejected events take no ring-buffer space, several filters of one event are OR-ed,
//! `$ctx` values are the tracer's (procname is the thread name, as in LTTng), a field a filter cannot read rejects every event, and
//! removing the filter records everything again.

use crate::local::{babeltrace, seqs, tmpdir};
use rttng_ust_local::{LocalConfig, LocalSession};

/// Room for the kept events and the packet headers of a run (an unfiltered run of
/// [`EVENTS`] takes ~40 bytes per event, far more).
const KEPT_STREAM_BYTES_MAX: u64 = 64 * 1024;
const EVENTS: u64 = 50_000;

const WORDS: [&str; 4] = ["keep", "keeper", "drop", "kee"];

/// One call site per test (tests run concurrently, and a call site records into every
/// session that enabled it).
macro_rules! site {
    ($f:ident, $event:ident) => {
        fn $f(seq: u64) {
            let n = (seq % 1000) as i32;
            let s = WORDS[(seq % 4) as usize];
            let arr = [seq as u8; 2];
            rttng_ust::tracepoint!(
                it_filter, $event, INFO,
                seq: u64 = seq, n: i32 = n, s: &str = s, x: f64 = seq as f64 / 2.0,
                arr: [u8; 2] = arr
            );
        }
    };
}
site!(site_kept, kept);
site!(site_or, or);
site!(site_unreadable, unreadable);

fn run(event: &str, site: fn(u64), filters: &[&str], after: Option<&[&str]>) -> (Vec<u64>, u64) {
    let name = event;
    let dir = tmpdir(&name.replace(':', "-"));
    let mut cfg = LocalConfig::new(&dir);
    cfg.session_id = 40 + name.len() as u64;
    cfg.enable = vec![event.into()];
    cfg.subbuf_bytes = 16384;
    cfg.subbuf_count = 8;
    let session = LocalSession::start(&cfg).unwrap();
    session.set_filter(event, filters).unwrap();
    for i in 0..EVENTS {
        site(i);
    }
    if let Some(f) = after {
        session.set_filter(event, f).unwrap();
        for i in EVENTS..EVENTS + 10 {
            site(i);
        }
    }
    let report = session.stop().unwrap();
    assert_eq!(report.discarded, 0);
    let (text, warnings) = babeltrace(&report.trace_dir);
    assert!(warnings.trim().is_empty(), "babeltrace2: {warnings}");
    let _ = std::fs::remove_dir_all(&dir);
    let mut kept = seqs(&text, event);
    kept.sort_unstable();
    (kept, report.stream_bytes)
}

#[test]
fn only_accepted_events_are_recorded_and_rejected_ones_take_no_space() {
    let (kept, bytes) = run(
        "it_filter:kept",
        site_kept,
        &["n >= 990 && s == \"keep*\""],
        None,
    );
    let want: Vec<u64> = (0..EVENTS)
        .filter(|i| i % 1000 >= 990 && [0, 1].contains(&(i % 4)))
        .collect();
    assert_eq!(kept, want);
    assert!(
        bytes <= KEPT_STREAM_BYTES_MAX,
        "{bytes} stream bytes for {} kept events",
        kept.len()
    );
}

#[test]
fn filters_of_one_event_are_or_ed_and_contexts_are_the_tracers() {
    let pid = std::process::id();
    let f1 = format!("$ctx.vpid == {pid} && n == 3 && $ctx.procname == \"filter::*\"");
    let (kept, _) = run(
        "it_filter:or",
        site_or,
        &[&f1, "seq == 7 && $ctx.cpu_id >= 0", "x == 10.5"],
        None,
    );
    let mut want: Vec<u64> = (0..EVENTS).filter(|i| i % 1000 == 3).collect();
    want.extend([7, 21]);
    want.sort();
    assert_eq!(kept, want);
}

#[test]
fn unreadable_field_rejects_everything_and_removal_records_again() {
    let (kept, _) = run(
        "it_filter:unreadable",
        site_unreadable,
        &["arr[0] == 1 || seq == 5", "nosuch == 1 || 1"],
        Some(&[]),
    );
    assert_eq!(kept, (EVENTS..EVENTS + 10).collect::<Vec<_>>());
}
