//! The `--help` text of the command and its main subcommands, kept under test: each flag is
//! defined once (clap derives the text from `src/cli.rs`), and a change to the surface shows
//! here. Regenerate a file with `rttng [CMD] --help > tests/data/help/NAME.txt` when the change
//! is intended.

use std::process::Command;

use crate::support::repo_root;

#[test]
fn help_texts_match_the_recorded_ones() {
    let cases: &[(&str, &[&str])] = &[
        ("rttng", &[]),
        ("view", &["view"]),
        ("create", &["create"]),
        ("enable-channel", &["enable-channel"]),
        ("enable-event", &["enable-event"]),
        ("add-context", &["add-context"]),
        ("list", &["list"]),
        ("trace", &["trace"]),
        ("snapshot", &["snapshot"]),
        ("snapshot-record", &["snapshot", "record"]),
        ("coredump-handler", &["coredump-handler"]),
        ("run", &["run"]),
    ];
    for (name, args) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_rttng"))
            .args(*args)
            .arg("--help")
            .output()
            .expect("run rttng --help");
        assert!(out.status.success(), "{name}: --help failed");
        let expected =
            std::fs::read_to_string(repo_root().join(format!("tests/data/help/{name}.txt")))
                .expect("recorded help");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "help of `rttng {}` changed",
            args.join(" ")
        );
    }
}
