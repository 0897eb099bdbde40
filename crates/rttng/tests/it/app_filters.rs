//! `--filter` over application contexts (`$app.PROVIDER:NAME`, LTTng's dynamic type),
//! judged against real LTTng 2.13: `tests/lttng/appfilter_app.c` registers a C context
//! provider (`$app.myprov`) whose `get_value` gives integers, doubles, strings, a value
//! whose type changes from event to event, no value, a NULL string, and selectors lttng-ust's
//! filter does not take; `tests/lttng/record-appfilter.sh` runs it under LTTng 2.13 with
//! each filter of [`FILTERS`] on its own channel, and the same binary then runs through
//! `rttng run` with each filter in its own session. Both must accept the same filters and
//! keep exactly the same events.
//!
//! The JUL domain too: LTTng's Java agent does not evaluate filters (its `EventRule` only
//! keys rules by filter text); lttng-sessiond 2.13 has the agents provide every `$app`
//! context an agent rule's filter reads (`add_filter_app_ctx`), and lttng-ust evaluates the
//! filter on `lttng_jul:event` with the JNI provider's `get_value`. `JulContextApp`'s
//! retriever under LTTng (`record-appfilter-jul.sh`) and through `rttng run` must keep the
//! same records for each filter of [`JUL_FILTERS`].
//!
//! Oracles (gcc, liblttng-ust-dev, lttng-tools, babeltrace2; a JDK and
//! liblttng-ust-agent-java for JUL) missing make the tests fail with the apt-get line.

use std::collections::BTreeSet;
use std::process::Command;

use crate::lttng_agents::{Agents, App, JARS};
use crate::lttng_compat::{compat_built, compile, run_app, RECORD_TIMEOUT};
use crate::session_support::{babeltrace2, seqs, World};
use crate::support::{repo_root, run_bounded};

/// Events appfilter_app emits (`seq` 0 .. EVENTS - 1).
const EVENTS: u64 = 24;

/// Channels one call site records into at once (rttng-ust's `MAX_TARGETS`).
const TARGETS_PER_CALL_SITE: usize = 4;

/// One session (rttng) or channel (LTTng) each.
const FILTERS: &[&str] = &[
    "seq < 3",
    // Integers and doubles.
    "$app.myprov:val > 5",
    "$app.myprov:val == 3 || $app.myprov:val == 17",
    "$app.myprov:dbl >= 3 && $app.myprov:val < 10",
    "$app.myprov:dbl == 2.25",
    "$app.myprov:val < 4.5",
    "$app.myprov:val & 1",
    "~$app.myprov:val == -3",
    "-$app.myprov:dbl < -15",
    // Strings: globs, a literal star, ordering.
    "$app.myprov:name == \"a*\"",
    "$app.myprov:name == \"a\\*\"",
    "$app.myprov:name == \"*ta\"",
    "$app.myprov:name != \"*ta\"",
    "$app.myprov:name > \"b\"",
    "$app.myprov:name == \"\"",
    // A value whose type changes per event: integer, double, string, none, integer.
    "$app.myprov:mixed == 3",
    "$app.myprov:mixed > 2 || seq == 1",
    "$app.myprov:mixed == \"3\"",
    "$app.myprov:mixed",
    "!$app.myprov:mixed",
    "$app.myprov:mixed && 1",
    // A string against a number: the event is rejected, even inside `||`.
    "$app.myprov:name == 1 || seq == 2",
    "$app.myprov:val == \"a\" || seq == 2",
    // A provider that is not registered; a short circuit before it.
    "$app.nobody:x == 1 || seq >= 0",
    "seq < 3 || $app.nobody:x == 1",
    "$app.myprov:unknown == 1 || seq == 5",
    // Garbage from the provider: a NULL string, a U8 and an unknown selector.
    "$app.myprov:null == \"x\" || seq == 2",
    "$app.myprov:u8 == 1 || seq == 3",
    "$app.myprov:tag == 1 || seq == 4",
    // Mixed with payload fields.
    "seq == $app.myprov:val && label == \"tick\"",
];

/// LTTng's verdict on every filter: its exit status, and the kept `seq`s when accepted.
struct LttngRun {
    status: Vec<i32>,
    kept: Vec<BTreeSet<u64>>,
    all: BTreeSet<u64>,
}

fn record_with_lttng(work: &std::path::Path, app: &std::path::Path) -> LttngRun {
    std::fs::write(work.join("filters.txt"), FILTERS.join("\n") + "\n").expect("filters.txt");
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-appfilter.sh"))
            .arg(work)
            .arg(app),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-appfilter.sh failed: {}",
        done.stderr_quote()
    );
    let out = work.join("out");
    let read_seqs = |name: &str| -> BTreeSet<u64> {
        std::fs::read_to_string(out.join(format!("{name}.seqs")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    let mut run = LttngRun {
        status: Vec::new(),
        kept: Vec::new(),
        all: read_seqs("all"),
    };
    for k in 0..FILTERS.len() {
        let st = std::fs::read_to_string(out.join(format!("{k}.status")))
            .unwrap_or_else(|e| panic!("status of filter {k}: {e}"));
        run.status.push(st.trim().parse().expect("status"));
        run.kept.push(read_seqs(&k.to_string()));
    }
    run
}

fn set(v: impl IntoIterator<Item = u64>) -> BTreeSet<u64> {
    v.into_iter().collect()
}

#[test]
fn issue_16_app_context_filters_keep_what_lttng_keeps() {
    compat_built();
    let w = World::new("app-filters");
    let dir = w.tmp.path();
    let app = compile(dir, "appfilter_app.c", "appfilter_app");
    let lttng_dir = dir.join("lttng");
    std::fs::create_dir_all(&lttng_dir).expect("lttng dir");
    let theirs = record_with_lttng(&lttng_dir, &app);
    assert_eq!(theirs.all, set(0..EVENTS), "LTTng's unfiltered channel");
    // The oracle itself, on filters whose outcome follows from the app alone.
    let at = |f: &str| FILTERS.iter().position(|x| *x == f).expect("filter listed");
    assert_eq!(theirs.kept[at("$app.myprov:val > 5")], set(6..EVENTS));
    assert_eq!(
        theirs.kept[at("$app.nobody:x == 1 || seq >= 0")],
        set([]),
        "LTTng: an unregistered provider rejects the event"
    );
    assert_eq!(theirs.kept[at("seq < 3 || $app.nobody:x == 1")], set(0..3));

    // rttng: each filter in its own session; a call site records into at most
    // TARGETS_PER_CALL_SITE channels at once, so the app runs once per group of that many sessions
    // (its values depend on `seq` only).
    let mut differ = Vec::new();
    let filters: Vec<(usize, &str)> = FILTERS.iter().copied().enumerate().collect();
    for group in filters.chunks(TARGETS_PER_CALL_SITE) {
        let mut outs = Vec::new();
        for &(k, f) in group {
            let name = format!("f{k}");
            let out = w.create(&[&name, "--output", &dir.join(&name).to_string_lossy()]);
            let r = w.rttng(&[
                "enable-event",
                "-u",
                "-s",
                &name,
                "rttng_ref:tick",
                "--filter",
                f,
            ]);
            assert_eq!(
                r.status.code() == Some(0),
                theirs.status[k] == 0,
                "filter {f:?}: rttng exit {:?}, LTTng exit {} ({})",
                r.status.code(),
                theirs.status[k],
                r.stderr_quote()
            );
            outs.push(out);
            w.ok(&["start", &name]);
        }
        run_app(&w, &app, &[]);
        for (&(k, f), out) in group.iter().zip(&outs) {
            let name = format!("f{k}");
            w.ok(&["stop", &name]);
            w.ok(&["destroy", &name]);
            let ours: BTreeSet<u64> = if out.exists() {
                seqs(&babeltrace2(out).stdout_text(), "rttng_ref:tick")
                    .into_iter()
                    .collect()
            } else {
                BTreeSet::new()
            };
            if ours != theirs.kept[k] {
                differ.push(format!(
                    "{f}\n    LTTng keeps {:?}\n    rttng keeps {ours:?}",
                    theirs.kept[k]
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "rttng keeps other events than LTTng:\n{}",
        differ.join("\n")
    );
}

/// JulContextApp logs "hello 0" .. "hello 2"; its retriever `myprov` answers text
/// ("value N"), num (Long 40 + N), int (Integer -7 - N), dbl (Double 1.5 N), flag
/// (Boolean N even) and nul (null). One session each.
const JUL_FILTERS: &[&str] = &[
    "$app.myprov:num > 40",
    "$app.myprov:text == \"value 1\"",
    "$app.myprov:text == \"val*\" && $app.myprov:int < -8",
    "$app.myprov:dbl >= 1.5",
    "$app.myprov:flag == 1",
    "$app.myprov:nul == 1 || msg == \"hello 1\"",
    "$app.myprov:text == 3 || msg == \"hello 0\"",
    "$app.noprov:x == 1 || msg == \"hello 0\"",
    "msg == \"hello 2\" || $app.noprov:x == 1",
];

/// The N of every "hello N" record of a JUL trace.
fn jul_kept(text: &str) -> BTreeSet<u64> {
    text.lines()
        .filter(|l| l.contains(" lttng_jul:event: "))
        .filter_map(|l| {
            l.split("msg = \"hello ")
                .nth(1)?
                .split('"')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn issue_16_jul_app_context_filters_keep_what_lttng_keeps() {
    crate::lttng_agents::require_oracles();
    compat_built();
    let a = Agents::new("app-filters-jul");
    let dir = a.w.tmp.path().to_path_buf();
    let lttng_dir = dir.join("lttng");
    std::fs::create_dir_all(&lttng_dir).expect("lttng dir");
    std::fs::write(lttng_dir.join("filters.txt"), JUL_FILTERS.join("\n") + "\n")
        .expect("filters.txt");
    let done = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("tests/lttng/record-appfilter-jul.sh"))
            .arg(&lttng_dir),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording with LTTng: {e}"));
    assert!(
        done.status.success(),
        "record-appfilter-jul.sh failed: {}",
        done.stderr_quote()
    );
    let out = lttng_dir.join("out");
    let status: Vec<i32> = (0..JUL_FILTERS.len())
        .map(|k| {
            std::fs::read_to_string(out.join(format!("{k}.status")))
                .expect("status")
                .trim()
                .parse()
                .expect("status")
        })
        .collect();
    let theirs: Vec<BTreeSet<u64>> = (0..JUL_FILTERS.len())
        .map(|k| {
            std::fs::read_to_string(out.join(format!("{k}.kept")))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .collect();
    // The oracle itself: filters whose outcome follows from the app alone.
    assert_eq!(theirs[0], set([1, 2]), "LTTng: {theirs:?}");
    assert_eq!(theirs[8], set([2]), "LTTng: {theirs:?}");

    let cp = format!("{JARS}:{}", lttng_dir.join("build").display());
    let filters: Vec<(usize, &str)> = JUL_FILTERS.iter().copied().enumerate().collect();
    let mut differ = Vec::new();
    for group in filters.chunks(TARGETS_PER_CALL_SITE) {
        let mut traces = Vec::new();
        for &(k, f) in group {
            let name = format!("j{k}");
            let trace = dir.join(&name);
            a.ok(&["create", &name, "--output", &trace.to_string_lossy()]);
            let r = a.rttng(&[
                "enable-event",
                "-s",
                &name,
                "-j",
                "ctx.logger",
                "--filter",
                f,
            ]);
            assert_eq!(
                r.status.code() == Some(0),
                status[k] == 0,
                "filter {f:?}: rttng exit {:?}, LTTng exit {} ({})",
                r.status.code(),
                status[k],
                r.stderr_quote()
            );
            a.ok(&["start", &name]);
            traces.push(trace);
        }
        a.port();
        let java = App::start(&a, &["java", "-cp", &cp, "JulContextApp"]);
        java.finish();
        for (&(k, f), trace) in group.iter().zip(&traces) {
            let name = format!("j{k}");
            a.ok(&["stop", &name]);
            a.ok(&["destroy", &name]);
            let ours = if trace.exists() {
                jul_kept(&babeltrace2(trace).stdout_text())
            } else {
                BTreeSet::new()
            };
            if ours != theirs[k] {
                differ.push(format!(
                    "{f}\n    LTTng keeps {:?}\n    rttng keeps {ours:?}",
                    theirs[k]
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "rttng keeps other JUL records than LTTng:\n{}",
        differ.join("\n")
    );
}
