//! `$app.PROVIDER:NAME` in `--filter` in the Rust tracer (through the local harness): the
//! values come from the application-context hook (here the test's own, as the drop-in's
//! `lttng_ust_context_provider_*` sets it in a C or mixed program), read per event when the
//! filter asks; an integer, a string glob, a value whose type changes per event (a mismatch
//! rejects that event only), and a context nobody provides (every event rejected, as LTTng
//! does for an unregistered provider). babeltrace2 judges what was recorded.

use crate::local::{babeltrace, seqs, tmpdir};
use rttng_ust::appctx::{self, RawValue};
use rttng_ust_local::{LocalConfig, LocalSession};
use std::cell::Cell;

const EVENTS: u64 = 1_000;

thread_local! {
    /// The seq of the event being emitted on this thread (what the provider answers from).
    static SEQ: Cell<u64> = const { Cell::new(0) };
}

const WORDS: [&str; 3] = ["apple", "banana", "avocado"];

/// The test's provider `t`: `t:v` the seq, `t:s` a word, `t:m` by seq % 3 an integer
/// (seq), a string ("7") or nothing; anything else nothing.
fn value(_index: u16, name: &str) -> RawValue {
    let seq = SEQ.with(Cell::get);
    let text = |s: &'static str| RawValue::Str {
        ptr: s.as_ptr(),
        len: s.len(),
    };
    match name {
        "t:v" => RawValue::Int(seq as i64),
        "t:s" => text(WORDS[(seq % 3) as usize]),
        "t:m" => match seq % 3 {
            0 => RawValue::Int(seq as i64),
            1 => text("7"),
            _ => RawValue::None,
        },
        _ => RawValue::None,
    }
}

fn hook() {
    appctx::set_hook(appctx::Hook {
        size: |_, _| 1,
        write: |_, _, out| out.fill(0),
        value,
    });
}

macro_rules! site {
    ($f:ident, $event:ident) => {
        fn $f(seq: u64) {
            SEQ.with(|s| s.set(seq));
            rttng_ust::tracepoint!(it_app_filter, $event, INFO, seq: u64 = seq);
        }
    };
}
site!(site_int, int);
site!(site_glob, glob);
site!(site_mixed, mixed);
site!(site_nobody, nobody);

fn run(event: &str, site: fn(u64), filter: &str) -> Vec<u64> {
    hook();
    let dir = tmpdir(&event.replace(':', "-"));
    let mut cfg = LocalConfig::new(&dir);
    cfg.session_id = 70 + event.len() as u64;
    cfg.enable = vec![event.into()];
    cfg.subbuf_bytes = 16384;
    cfg.subbuf_count = 8;
    let session = LocalSession::start(&cfg).unwrap();
    session.set_filter(event, &[filter]).unwrap();
    for i in 0..EVENTS {
        site(i);
    }
    let report = session.stop().unwrap();
    assert_eq!(report.discarded, 0);
    let (text, warnings) = babeltrace(&report.trace_dir);
    assert!(warnings.trim().is_empty(), "babeltrace2: {warnings}");
    let _ = std::fs::remove_dir_all(&dir);
    let mut kept = seqs(&text, event);
    kept.sort_unstable();
    kept
}

#[test]
fn app_context_integers_and_globs_filter_rust_events() {
    assert_eq!(
        run(
            "it_app_filter:int",
            site_int,
            "$app.t:v >= 990 || $app.t:v == 5"
        ),
        [5, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999]
    );
    // "apple" and "avocado" (seq % 3 == 0 or 2) match `a*`; the `*` needs the tree walk.
    let want: Vec<u64> = (0..EVENTS).filter(|i| i % 3 != 1 && *i >= 900).collect();
    assert_eq!(
        run(
            "it_app_filter:glob",
            site_glob,
            "$app.t:s == \"a*\" && seq >= 900"
        ),
        want
    );
}

#[test]
fn a_mismatch_rejects_that_event_and_no_provider_rejects_all() {
    // seq % 3 == 0: integer, compared; == 1: the string "7" against a number, rejected
    // even inside `||`; == 2: no value, rejected.
    let want: Vec<u64> = (0..EVENTS).filter(|i| i % 3 == 0 && *i < 30).collect();
    assert_eq!(
        run(
            "it_app_filter:mixed",
            site_mixed,
            "$app.t:m < 30 || seq == 1"
        ),
        want
    );
    assert_eq!(
        run(
            "it_app_filter:nobody",
            site_nobody,
            "$app.nobody:x == 1 || seq >= 0"
        ),
        Vec::<u64>::new()
    );
}
