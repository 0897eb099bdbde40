//! Issue 2, acceptance 3: traces written by our writer (every field type, both byte orders,
//! compact and large headers, a timestamp wrap, packetized metadata, discarded events and a
//! packet sequence gap) are read by babeltrace2 and print identically in `rttng view`, with each
//! text option. The loss warnings on standard error must match too.

use std::process::Command;
use std::time::Duration;

use crate::support::{first_difference, require_tools, run_bounded, TempDir};

const BOUND: Duration = Duration::from_secs(60);

const OPTION_SETS: &[&[&str]] = &[
    &[],
    &["--clock-cycles"],
    &["--clock-date", "--clock-gmt"],
    &["--clock-seconds"],
    &["--no-delta"],
    &["--names", "all"],
    &["--names", "none"],
    &["--fields", "all"],
    &["--fields", "trace:hostname,loglevel"],
];

#[test]
fn issue_2_writer_samples_print_identically_in_babeltrace2_and_rttng_view() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    let samples = rttng_ctf::writer::samples::all().expect("build sample traces");
    assert!(
        samples.len() >= 7,
        "expected the full sample set, got {}",
        samples.len()
    );
    let dir = TempDir::new("rttng-writer-samples").unwrap();
    let mut failures = Vec::new();
    for sample in &samples {
        let trace = dir.path().join(sample.name);
        for (rel, bytes) in &sample.files {
            let p = trace.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
        }
        for opts in OPTION_SETS {
            let bt = run_bounded(
                Command::new("babeltrace2")
                    .args(*opts)
                    .arg(&trace)
                    .env("TZ", "UTC")
                    .env("LC_ALL", "C"),
                BOUND,
            )
            .unwrap();
            assert!(
                bt.status.success(),
                "babeltrace2 rejected sample {}: {}",
                sample.name,
                bt.stderr_quote()
            );
            assert!(
                !bt.stdout.is_empty(),
                "babeltrace2 printed nothing for sample {}",
                sample.name
            );
            let ours = run_bounded(
                Command::new(env!("CARGO_BIN_EXE_rttng"))
                    .arg("view")
                    .args(*opts)
                    .arg(&trace)
                    .env("TZ", "UTC")
                    .env("LC_ALL", "C"),
                BOUND,
            )
            .unwrap();
            if !ours.status.success() {
                failures.push(format!(
                    "{} {:?}: rttng view failed: {}",
                    sample.name,
                    opts,
                    ours.stderr_quote()
                ));
                continue;
            }
            if let Some(d) = first_difference(&bt.stdout, &ours.stdout) {
                failures.push(format!("{} {:?}: stdout differs: {d}", sample.name, opts));
            }
            let bt_warnings: Vec<&[u8]> = bt
                .stderr
                .split(|&b| b == b'\n')
                .filter(|l| l.starts_with(b"WARNING"))
                .collect();
            let our_warnings: Vec<&[u8]> = ours
                .stderr
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            if bt_warnings != our_warnings {
                failures.push(format!(
                    "{} {:?}: warnings differ:\n  babeltrace2: {}\n  rttng:       {}",
                    sample.name,
                    opts,
                    String::from_utf8_lossy(&bt.stderr),
                    String::from_utf8_lossy(&ours.stderr)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
