//! Issue 2, acceptance 6: `rttng view` writing into a pipe that closes early (`| head`) exits 0
//! without a word on standard error.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::support::repo_root;

#[test]
fn issue_2_view_into_closed_pipe_exits_zero_quietly() {
    // A trace with thousands of lines, so the pipe closes long before the end.
    let trace = repo_root().join("tests/data/ctf-conformance/traces/succeed__succeed1");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rttng"))
        .arg("view")
        .arg(&trace)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rttng view");
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout
        .read_exact(&mut first)
        .expect("some output before closing");
    assert!(
        first.starts_with(b"string: "),
        "unexpected first line: {}",
        String::from_utf8_lossy(&first)
    );
    drop(stdout); // like `head` exiting
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after a closed pipe; stderr: {stderr}"
    );
    assert_eq!(stderr, "", "nothing on stderr after a closed pipe");
}
