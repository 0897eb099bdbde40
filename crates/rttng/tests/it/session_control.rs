//! Hostile control clients: malformed, foreign-version and oversized frames sent to the
//! session daemon's client socket from a raw socket get an error reply or a closed
//! connection, and the daemon keeps serving others.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::session_support::*;

/// Sends `bytes` and reads what comes back until the daemon closes or stops answering.
fn poke(sock: &std::path::Path, bytes: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

fn header(magic: &[u8; 4], major: u16, kind: u32, len: u32) -> Vec<u8> {
    let mut h = magic.to_vec();
    h.extend_from_slice(&major.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&kind.to_le_bytes());
    h.extend_from_slice(&len.to_le_bytes());
    h
}

#[test]
fn session_malformed_control_messages_are_refused_and_the_daemon_keeps_serving() {
    let w = World::new("malformed");
    w.create(&["m"]);
    let sock = w.run.join(rttng_proto::paths::CLIENT_SOCKET);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"hello, daemon! this is not a frame".to_vec()),
        ("wrong magic", header(b"XXXX", 1, 1, 0)),
        ("future major version", header(b"RTC1", 9, 1, 0)),
        ("wrong kind", header(b"RTC1", 1, 5, 0)),
        ("oversized", header(b"RTC1", 1, 1, u32::MAX)),
        ("truncated payload", {
            let mut h = header(b"RTC1", 1, 1, 100);
            h.extend_from_slice(&[4, 0, 0]);
            h
        }),
        ("unknown request tag", {
            let mut h = header(b"RTC1", 1, 1, 1);
            h.push(200);
            h
        }),
        ("huge string length", {
            let mut h = header(b"RTC1", 1, 1, 5);
            h.push(11);
            h.extend_from_slice(&u32::MAX.to_le_bytes());
            h
        }),
    ];
    cases.push(("empty", Vec::new()));
    for (what, bytes) in &cases {
        let got = poke(&sock, bytes);
        // Either nothing (closed) or one error response frame.
        if !got.is_empty() {
            let resp: rttng_ctl::Response =
                rttng_proto::frame::decode_frame(&got, rttng_proto::Kind::Response)
                    .unwrap_or_else(|e| panic!("{what}: reply is not one response frame: {e}"));
            assert!(
                matches!(resp, rttng_ctl::Response::Error { .. }),
                "{what}: {resp:?}"
            );
        }
        // The daemon still serves a well-formed client.
        let list = w.ok(&["list"]);
        assert!(list.contains("1) m [inactive]"), "{what}: {list}");
    }
}

#[test]
fn session_malformed_app_registrations_are_dropped_and_apps_still_register() {
    let w = World::new("badapp");
    let out = w.create(&["a"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    let sock = w.run.join(rttng_proto::paths::APP_SOCKET);
    for bytes in [
        b"not a hello at all".to_vec(),
        header(b"RTC1", 1, 3, u32::MAX),
        {
            // A hello whose payload is cut short.
            let mut h = header(b"RTC1", 1, 3, 64);
            h.extend_from_slice(&[1, 2, 3, 4]);
            h
        },
    ] {
        let got = poke(&sock, &bytes);
        assert!(
            got.is_empty(),
            "the app socket answered a bad hello with {} bytes",
            got.len()
        );
    }
    let list = w.ok(&["list", "-u"]);
    assert!(
        !list.contains("PID:"),
        "a bad registration was listed: {list}"
    );
    // A real app still registers and is traced.
    w.probe(&["--count", "3"]);
    w.ok(&["stop"]);
    let (text, _) = read_both(&out);
    assert_eq!(seqs(&text, "probe:info"), vec![0, 1, 2]);
}

/// The daemon's command line is clap's: an option rttng-sessiond does not have (lttng's `-v`)
/// is refused with the usage and status 2, not silently accepted; `--no-kernel` is real.
#[test]
fn sessiond_refuses_options_it_does_not_have() {
    built().expect("build the daemons");
    let sessiond = bin_dir().join("rttng-sessiond");
    let out = crate::support::run_bounded(
        std::process::Command::new(&sessiond).args(["-v", "--no-kernel"]),
        Duration::from_secs(20),
    )
    .expect("run rttng-sessiond");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unexpected argument '-v'"), "{err}");
    let help = crate::support::run_bounded(
        std::process::Command::new(&sessiond).arg("--help"),
        Duration::from_secs(20),
    )
    .expect("run rttng-sessiond --help");
    assert!(help.status.success(), "{}", help.stderr_quote());
    let text = help.stdout_text();
    for flag in ["--daemonize", "--group", "--consumerd-path", "--no-kernel"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    assert!(
        !text.contains("--ready-child"),
        "internal flag shown:\n{text}"
    );
}
