//! Real LTTng 2.13 as the oracle: records reference traces with `tests/lttng/record-reference.sh`
//! (an isolated lttng-sessiond, the `rttng_ref` test app, per-user and per-process buffers), then
//! checks that `rttng view` prints byte for byte what `babeltrace2` prints, for every supported
//! option combination, and that `rttng view --count` agrees with babeltrace2's counter sink.
//!
//! It deliberately does not compare standard error (diagnostics are worded differently) and does
//! not judge traces rttng writes itself; other tests do that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{first_difference, require_tools, run_bounded, Finished, TempDir};

/// Loop count given to ref_app: 12 loops visit every string and enumeration value it has.
const REFERENCE_LOOPS: u64 = 12;
/// ref_app emits 3 events once, then 7 per loop (see tests/lttng/ref_app.c).
const REFERENCE_EVENT_COUNT: u64 = 3 + 7 * REFERENCE_LOOPS;
/// The tracepoint provider of ref_app; every event name starts with it.
const PROVIDER_PREFIX: &str = "rttng_ref:";
/// Bound for building the app and recording both traces.
const RECORD_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound for one viewer run on the (small) reference trace.
const VIEW_TIMEOUT: Duration = Duration::from_secs(120);
/// How many failures a test reports in full; the rest are only counted.
const MAX_REPORTED_FAILURES: usize = 12;

/// The babeltrace2 options compared, each run under [`BASE_ENV`].
const OPTION_SETS: &[&[&str]] = &[
    &[],
    &["--clock-cycles"],
    &["--clock-date"],
    &["--clock-gmt"],
    &["--clock-seconds"],
    &["--no-delta"],
    &["--names", "all"],
    &["--names", "none"],
    &["--fields", "all"],
    &["--fields", "trace:hostname,loglevel"],
    &["--color=never"],
];

/// The environment of every viewer run: fixed time zone, locale and terminal.
const BASE_ENV: &[(&str, &str)] = &[("TZ", "UTC"), ("LC_ALL", "C"), ("TERM", "xterm")];

/// Time zone of the extra local-time cases (it has daylight saving time, unlike UTC).
const LOCAL_TZ: &str = "America/Montreal";

/// Variables that change a viewer's output and so must come only from the test.
const CLEARED_ENV: &[&str] = &[
    "TZ",
    "LC_ALL",
    "LANG",
    "LC_TIME",
    "LC_NUMERIC",
    "TERM",
    "BABELTRACE_TERM_COLOR",
    "BABELTRACE_CLI_LOG_LEVEL",
    "LIBBABELTRACE2_INIT_LOG_LEVEL",
];

/// One comparison: extra environment on top of [`BASE_ENV`], and options.
struct Case {
    env: Vec<(&'static str, &'static str)>,
    args: Vec<&'static str>,
}

impl Case {
    fn describe(&self, trace: &Path) -> String {
        let mut env: Vec<(&str, &str)> = BASE_ENV
            .iter()
            .filter(|(k, _)| !self.env.iter().any(|(ek, _)| ek == k))
            .copied()
            .collect();
        env.extend(self.env.iter().copied());
        let mut text = String::new();
        for (k, v) in &env {
            text.push_str(&format!("{k}={v} "));
        }
        text.push_str("VIEWER");
        for a in &self.args {
            text.push(' ');
            text.push_str(a);
        }
        text.push(' ');
        text.push_str(&trace.display().to_string());
        text
    }
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = OPTION_SETS
        .iter()
        .map(|args| Case {
            env: Vec::new(),
            args: args.to_vec(),
        })
        .collect();
    for args in [&[][..], &["--clock-date"][..]] {
        cases.push(Case {
            env: vec![("TZ", LOCAL_TZ)],
            args: args.to_vec(),
        });
    }
    // babeltrace2 2.0 prints colour codes for --color=always only when stdout is a terminal or
    // BABELTRACE_TERM_COLOR=always. `rttng view --color=always` always colours (what the flag
    // says), so the two are compared where babeltrace2 colours too.
    cases.push(Case {
        env: vec![("BABELTRACE_TERM_COLOR", "always")],
        args: vec!["--color=always"],
    });
    cases
}

/// Reference traces recorded into a temporary directory that lives as long as this value.
struct Reference {
    traces: Vec<PathBuf>,
    _dir: TempDir,
}

/// Records the reference traces, or fails the test with what to install.
fn record_reference() -> Reference {
    if let Err(hint) = require_tools(&[
        ("bash", "bash"),
        ("cc", "gcc"),
        ("lttng", "lttng-tools"),
        ("lttng-sessiond", "lttng-tools"),
        ("babeltrace2", "babeltrace2"),
    ]) {
        panic!("{hint} (also needed: liblttng-ust-dev)");
    }
    let dir = TempDir::new("rttng-lttng-ref").expect("create a temporary directory");
    let script = crate::support::repo_root().join("tests/lttng/record-reference.sh");
    let out = dir.path().join("out");
    let done = run_bounded(
        Command::new("bash")
            .arg(&script)
            .arg(&out)
            .arg(REFERENCE_LOOPS.to_string()),
        RECORD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("recording the reference traces: {e}"));
    assert!(
        done.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        done.status,
        done.stderr_quote()
    );
    let traces: Vec<PathBuf> = done.stdout_text().lines().map(PathBuf::from).collect();
    assert_eq!(
        traces.len(),
        2,
        "record-reference.sh must print two trace paths, printed: {:?}",
        done.stdout_text()
    );
    for trace in &traces {
        assert!(trace.is_dir(), "{} is not a directory", trace.display());
    }
    Reference { traces, _dir: dir }
}

fn run_viewer(program: &str, case_env: &[(&str, &str)], args: &[&str], trace: &Path) -> Finished {
    let mut cmd = Command::new(program);
    for key in CLEARED_ENV {
        cmd.env_remove(key);
    }
    cmd.envs(BASE_ENV.iter().copied());
    cmd.envs(case_env.iter().copied());
    cmd.args(args).arg(trace);
    run_bounded(&mut cmd, VIEW_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

fn rttng_view(case_env: &[(&str, &str)], args: &[&str], trace: &Path) -> Finished {
    let mut full = vec!["view"];
    full.extend_from_slice(args);
    run_viewer(env!("CARGO_BIN_EXE_rttng"), case_env, &full, trace)
}

/// Fails with every collected problem, or passes when there is none.
fn report(what: &str, failures: &[String], total: usize) {
    if failures.is_empty() {
        return;
    }
    let mut text = format!("{} of {total} {what} failed:\n", failures.len());
    for failure in failures.iter().take(MAX_REPORTED_FAILURES) {
        text.push_str("\n--- ");
        text.push_str(failure);
        text.push('\n');
    }
    if failures.len() > MAX_REPORTED_FAILURES {
        text.push_str(&format!(
            "\n(and {} more)\n",
            failures.len() - MAX_REPORTED_FAILURES
        ));
    }
    panic!("{text}");
}

/// Checks the oracle itself, so that a comparison can never pass vacuously.
fn check_babeltrace_output(label: &str, bt: &Finished) -> Result<(), String> {
    if !bt.status.success() {
        return Err(format!(
            "{label}: babeltrace2 failed ({}):\n{}",
            bt.status,
            bt.stderr_quote()
        ));
    }
    if bt.stdout.is_empty() || !bt.stdout_text().contains(PROVIDER_PREFIX) {
        return Err(format!(
            "{label}: babeltrace2 printed no {PROVIDER_PREFIX} event (stdout {} bytes)",
            bt.stdout.len()
        ));
    }
    Ok(())
}

#[test]
fn rttng_view_prints_what_babeltrace2_prints_for_lttng_traces() {
    let reference = record_reference();
    let cases = cases();
    if let Some(zone) = cases.iter().flat_map(|c| &c.env).find_map(|(k, v)| {
        (*k == "TZ" && !Path::new("/usr/share/zoneinfo").join(v).exists()).then_some(v)
    }) {
        panic!("time zone {zone} is missing; install it with: apt-get install tzdata");
    }
    let mut failures = Vec::new();
    let mut total = 0;
    for trace in &reference.traces {
        for case in &cases {
            total += 1;
            let label = case.describe(trace);
            let bt = run_viewer("babeltrace2", &case.env, &case.args, trace);
            if let Err(e) = check_babeltrace_output(&label, &bt) {
                failures.push(e);
                continue;
            }
            let ours = rttng_view(&case.env, &case.args, trace);
            if let Some(diff) = first_difference(&bt.stdout, &ours.stdout) {
                failures.push(format!(
                    "{label}: rttng view differs from babeltrace2 (rttng exit: {}):\n{diff}\
                     rttng stderr:\n{}",
                    ours.status,
                    ours.stderr_quote()
                ));
            } else if ours.status.code() != bt.status.code() {
                failures.push(format!(
                    "{label}: same output but exit status {} (babeltrace2: {})",
                    ours.status, bt.status
                ));
            }
        }
    }
    report("comparisons", &failures, total);
}

/// The total of babeltrace2's `sink.utils.counter`: its last `N Event messages` line (it prints
/// running totals every 10000 messages, then the final one).
fn babeltrace_event_total(counter_stdout: &str) -> Option<u64> {
    counter_stdout.lines().rev().find_map(|line| {
        let (count, what) = line.trim().split_once(char::is_whitespace)?;
        (what.trim() == "Event messages")
            .then(|| count.parse().ok())
            .flatten()
    })
}

/// Per event name counts from babeltrace2's default text output.
fn babeltrace_counts_by_name(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        // Default format: `[time] (+delta) host NAME: { ...`; the name is the first word that
        // starts with the provider prefix.
        if let Some(name) = line
            .split(' ')
            .find(|word| word.starts_with(PROVIDER_PREFIX))
            .and_then(|word| word.strip_suffix(':'))
        {
            *counts.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// Parses `rttng view --count`: `NAME COUNT` lines sorted by name, then `total COUNT`.
fn parse_rttng_count(text: &str) -> Result<(BTreeMap<String, u64>, u64), String> {
    let mut counts = BTreeMap::new();
    let mut previous: Option<String> = None;
    let mut total = None;
    for (index, line) in text.lines().enumerate() {
        let (name, count) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("line {}: expected `NAME COUNT`: {line:?}", index + 1))?;
        let count: u64 = count
            .parse()
            .map_err(|_| format!("line {}: bad count in {line:?}", index + 1))?;
        if total.is_some() {
            return Err(format!("line {}: text after the total line", index + 1));
        }
        if name == "total" {
            total = Some(count);
            continue;
        }
        if previous.as_deref().is_some_and(|p| p >= name) {
            return Err(format!(
                "line {}: {name:?} is not in sorted order",
                index + 1
            ));
        }
        previous = Some(name.to_string());
        counts.insert(name.to_string(), count);
    }
    let total = total.ok_or("no `total COUNT` line")?;
    Ok((counts, total))
}

#[test]
fn rttng_view_count_agrees_with_babeltrace2_counter() {
    let reference = record_reference();
    let mut failures = Vec::new();
    for trace in &reference.traces {
        let label = trace.display().to_string();
        let counter = run_viewer("babeltrace2", &[], &["-c", "sink.utils.counter"], trace);
        let Some(bt_total) = babeltrace_event_total(&counter.stdout_text()) else {
            failures.push(format!(
                "{label}: no `Event messages` line from babeltrace2's counter:\n{}{}",
                counter.stdout_text(),
                counter.stderr_quote()
            ));
            continue;
        };
        // The oracle must see exactly what ref_app emitted.
        assert_eq!(
            bt_total, REFERENCE_EVENT_COUNT,
            "{label}: babeltrace2 total"
        );
        let text = run_viewer("babeltrace2", &[], &[], trace);
        let bt_by_name = babeltrace_counts_by_name(&text.stdout_text());
        assert_eq!(
            bt_by_name.values().sum::<u64>(),
            bt_total,
            "{label}: babeltrace2's text and counter disagree"
        );

        let ours = rttng_view(&[], &["--count"], trace);
        if !ours.status.success() {
            failures.push(format!(
                "{label}: rttng view --count failed ({}):\n{}",
                ours.status,
                ours.stderr_quote()
            ));
            continue;
        }
        match parse_rttng_count(&ours.stdout_text()) {
            Err(e) => failures.push(format!("{label}: rttng view --count: {e}")),
            Ok((by_name, total)) => {
                let sum: u64 = by_name.values().sum();
                if sum != bt_total || total != bt_total {
                    failures.push(format!(
                        "{label}: babeltrace2 counts {bt_total} events; rttng's lines sum to \
                         {sum} and its total line says {total}"
                    ));
                }
                if by_name != bt_by_name {
                    failures.push(format!(
                        "{label}: per-event counts differ:\n  babeltrace2: {bt_by_name:?}\n  \
                         rttng:       {by_name:?}"
                    ));
                }
            }
        }
    }
    report("count checks", &failures, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_babeltrace_counter_total() {
        let text = "  10000 Event messages\n             10087 Event messages\n\
                    2 Stream beginning messages\n95 messages (TOTAL)\n";
        assert_eq!(babeltrace_event_total(text), Some(10087));
        assert_eq!(babeltrace_event_total("95 messages (TOTAL)\n"), None);
    }

    #[test]
    fn counts_babeltrace_text_lines_by_name() {
        let text = "[1] (+?) vm rttng_ref:a: { x = \"rttng_ref:b: \" }\n\
                    [2] (+0) vm:app:(7) rttng_ref:b: { }\n[3] (+0) vm rttng_ref:a: { }\n";
        let counts = babeltrace_counts_by_name(text);
        assert_eq!(counts.get("rttng_ref:a"), Some(&2));
        assert_eq!(counts.get("rttng_ref:b"), Some(&1));
    }

    #[test]
    fn parses_rttng_count_and_rejects_bad_forms() {
        let (by_name, total) =
            parse_rttng_count("rttng_ref:a 2\nrttng_ref:b 1\ntotal 3\n").expect("valid");
        assert_eq!(by_name.len(), 2);
        assert_eq!(total, 3);
        assert!(parse_rttng_count("rttng_ref:b 1\nrttng_ref:a 2\ntotal 3\n").is_err());
        assert!(parse_rttng_count("rttng_ref:a 2\n").is_err());
        assert!(parse_rttng_count("rttng_ref:a x\ntotal 3\n").is_err());
        assert!(parse_rttng_count("total 3\nrttng_ref:a 3\n").is_err());
    }
}
