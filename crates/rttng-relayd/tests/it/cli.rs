//! The relay daemon as a user starts it: `--help` names lttng-relayd's options and defaults,
//! `-b` returns once the daemon listens (it keeps logging to the console), and bad options or
//! URLs are one `Error:` line.

use crate::client::{connect, version};
use crate::support::{run_bounded, TempDir};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rttng-relayd");

#[test]
fn help_names_lttng_relayd_options_and_defaults() {
    let done = run_bounded(Command::new(BIN).arg("--help"), Duration::from_secs(20)).unwrap();
    assert!(done.status.success());
    for want in [
        "-C, --control-port <URL>",
        "[default: tcp://0.0.0.0:5342]",
        "-D, --data-port <URL>",
        "[default: tcp://0.0.0.0:5343]",
        "-L, --live-port <URL>",
        "[default: tcp://localhost:5344]",
        "-o, --output <DIR>",
        "$HOME/lttng-traces",
        "-d, --daemonize",
        "-b, --background",
        "-g, --group <GROUP>",
        "-v, --verbose",
    ] {
        assert!(
            done.stdout.contains(want),
            "--help lacks {want:?}:\n{}",
            done.stdout
        );
    }
}

#[test]
fn bad_options_are_one_error_line() {
    let tmp = TempDir::new("relay-cli");
    for (args, want) in [
        (
            vec!["-C", "udp://1.2.3.4:5"],
            "Error: bad control URL \"udp://1.2.3.4:5\": unsupported scheme",
        ),
        (vec!["-D", "tcp://127.0.0.1:99999"], "Error: bad data URL"),
        (
            vec!["-g", "no-such-group-rttng"],
            "Error: group \"no-such-group-rttng\" does not exist",
        ),
    ] {
        let done = run_bounded(
            Command::new(BIN).args(&args).arg("-o").arg(tmp.path()),
            Duration::from_secs(20),
        )
        .unwrap();
        assert!(!done.status.success(), "{args:?} accepted");
        assert_eq!(done.stderr.lines().count(), 1, "{args:?}: {}", done.stderr);
        assert!(done.stderr.starts_with(want), "{args:?}: {}", done.stderr);
    }
}

#[test]
fn background_returns_once_listening() {
    let tmp = TempDir::new("relay-bg");
    let mut child = Command::new(BIN)
        .args([
            "-b",
            "-C",
            "tcp://127.0.0.1:0",
            "-D",
            "tcp://127.0.0.1:0",
            "-L",
            "tcp://127.0.0.1:0",
            "-o",
        ])
        .arg(tmp.path().join("out"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "-b failed");
    // The daemon, still running, wrote its listening line to the console before -b returned.
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: i32 = line
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"));
    let port: u16 = line
        .split("control ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no control port in {line:?}"));
    let mut s = connect(port);
    assert_eq!(version(&mut s).minor, 13);
    assert!(tmp.path().join("out").is_dir());
    // Stop it by its PID.
    let killed = Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}
