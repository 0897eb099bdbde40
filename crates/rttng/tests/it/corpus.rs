//! Issue 2, acceptance 1: every trace of the CTF conformance corpus (babeltrace's test traces,
//! with babeltrace2 2.0.4's output for each) prints exactly as babeltrace2 printed it, and every
//! trace babeltrace2 rejects is rejected with one clear line naming the file and the place.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/ctf-conformance")
        .canonicalize()
        .expect("corpus at tests/data/ctf-conformance")
}

fn trace_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus().join("traces"))
        .expect("corpus traces directory")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn view(trace: &Path) -> std::process::Output {
    view_path(trace, None)
}

/// `rttng view`, with its code path forced when `path` is given (direct, pipelined, parallel).
fn view_path(trace: &Path, path: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rttng"));
    cmd.arg("view")
        .arg(trace)
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
    if let Some(p) = path {
        cmd.env("RTTNG_VIEW_PATH", p);
    }
    cmd.output().expect("run rttng view")
}

/// The same query through every code path: the direct, pipelined and parallel viewers print
/// the same bytes, on stdout and stderr, for every trace of the corpus.
#[test]
fn every_view_path_prints_the_same() {
    let mut compared = 0;
    for name in trace_names() {
        let trace = corpus().join("traces").join(&name);
        let outs: Vec<_> = ["direct", "pipelined", "parallel"]
            .iter()
            .map(|p| (p, view_path(&trace, Some(p))))
            .collect();
        let (_, first) = &outs[0];
        for (p, o) in &outs[1..] {
            assert_eq!(
                o.status.code(),
                first.status.code(),
                "{name}: exit status of the {p} path"
            );
            assert!(
                o.stdout == first.stdout,
                "{name}: stdout of the {p} path differs from the direct path"
            );
            assert_eq!(
                String::from_utf8_lossy(&o.stderr),
                String::from_utf8_lossy(&first.stderr),
                "{name}: stderr of the {p} path"
            );
        }
        compared += first.stdout.len();
    }
    assert!(
        compared > 1_000_000,
        "the corpus prints over a megabyte, compared {compared} bytes"
    );
}

#[test]
fn corpus_has_every_trace_with_an_expectation() {
    let names = trace_names();
    assert!(names.len() >= 30, "corpus too small: {}", names.len());
    for n in &names {
        assert!(
            corpus().join(format!("expected/{n}.rc")).is_file(),
            "no expected rc for {n}"
        );
    }
}

#[test]
fn issue_2_corpus_prints_exactly_like_babeltrace2() {
    let mut failures = Vec::new();
    for name in trace_names() {
        let rc: i32 = std::fs::read_to_string(corpus().join(format!("expected/{name}.rc")))
            .expect("rc file")
            .trim()
            .parse()
            .expect("rc number");
        let trace = corpus().join("traces").join(&name);
        let out = view(&trace);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if rc == 0 {
            let expected = std::fs::read_to_string(corpus().join(format!("expected/{name}.txt")))
                .expect("expected text");
            if !out.status.success() {
                failures.push(format!(
                    "{name}: exit {:?}, stderr: {stderr}",
                    out.status.code()
                ));
            } else if stdout != expected {
                let (i, (a, b)) = stdout
                    .lines()
                    .zip(expected.lines())
                    .enumerate()
                    .find(|(_, (a, b))| a != b)
                    .unwrap_or((
                        stdout.lines().count().min(expected.lines().count()),
                        ("<end>", "<end>"),
                    ));
                failures.push(format!(
                    "{name}: output differs at line {} ({} vs {} lines)\n  ours:     {a}\n  expected: {b}",
                    i + 1,
                    stdout.lines().count(),
                    expected.lines().count()
                ));
            }
        } else {
            let lines: Vec<&str> = stderr.lines().collect();
            let ok = out.status.code() == Some(1)
                && out.stdout.is_empty()
                && lines.len() == 1
                && lines[0].starts_with("Error: ")
                && lines[0].contains(&*trace.to_string_lossy())
                && (lines[0].contains("byte") || lines[0].contains("line"));
            if !ok {
                failures.push(format!(
                    "{name}: expected exit 1 with one `Error: PATH ... byte N|line N` line; got exit {:?}, {} stdout bytes, stderr: {stderr}",
                    out.status.code(),
                    out.stdout.len()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus traces fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `--count` walks events with its own loop (skip programs, streams in parallel): over the
/// corpus it must count exactly the events babeltrace2 printed, per event name.
#[test]
fn count_agrees_with_babeltrace2_output_over_the_corpus() {
    let mut checked = 0;
    for name in trace_names() {
        let rc = std::fs::read_to_string(corpus().join(format!("expected/{name}.rc"))).unwrap();
        if rc.trim() != "0" {
            continue;
        }
        let expected =
            std::fs::read_to_string(corpus().join(format!("expected/{name}.txt"))).unwrap();
        let want_total = expected.lines().count() as u64;
        let out = Command::new(env!("CARGO_BIN_EXE_rttng"))
            .args(["view", "--count"])
            .arg(corpus().join("traces").join(&name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut got: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for line in text.lines() {
            let (event, n) = line.rsplit_once(' ').expect("`NAME COUNT` lines");
            if event != "total" {
                got.insert(event.to_owned(), n.parse().unwrap());
            }
        }
        // Event names may hold spaces, so per name: every line of that event has ` NAME: `
        // (or starts with `NAME: ` without clock and host).
        for (event, n) in &got {
            let lines = expected
                .lines()
                .filter(|l| {
                    l.starts_with(&format!("{event}: ")) || l.contains(&format!(" {event}: "))
                })
                .count() as u64;
            assert_eq!(lines, *n, "{name}: count of `{event}`");
        }
        assert_eq!(got.values().sum::<u64>(), want_total, "{name}: total");
        checked += want_total;
    }
    assert!(checked > 20_000, "counted {checked} events");
}
