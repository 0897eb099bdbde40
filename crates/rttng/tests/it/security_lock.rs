//! Issue 10's lock, the rest of it: no consumer or kernel work of one session holds the
//! daemon's lock. A relay that accepts and never answers (at a network session's first
//! channel, at `snapshot record` to a relay) and a slow disk (an app's metadata at its
//! registration, a snapshot's writes) delay no other client beyond the 100 ms bound; the
//! stalled requests then fail or complete as they should. Not here: stopped and silent
//! apps and the slow disk at stop (`security_limits.rs`), the shared helpers
//! (`security.rs`).

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rttng_proto::*;

use crate::security::*;
use crate::session_support::*;
use crate::support::run_bounded;

use crate::security_limits::OTHER_CLIENT_BOUND;

fn all_events(session: &str) -> Request {
    Request::EnableEvent {
        session: session.into(),
        domain: Domain::Ust,
        channel: None,
        rule: EventRule {
            pattern: "*".into(),
            loglevel: LoglevelRule::All,
            exclusions: Vec::new(),
            syscall: false,
        },
    }
}

/// Another client's list, create, enable-event, start and list of session `name`
/// (output below `w`'s temporary directory), each within [`OTHER_CLIENT_BOUND`].
pub(crate) fn others_are_not_delayed(w: &World, name: &str, why: &str) {
    let mut took = Vec::new();
    for req in [
        Request::ListSessions,
        Request::CreateSession {
            name: Some(name.into()),
            output: Some(w.tmp.path().join(name).to_string_lossy().into_owned()),
            live_timer_us: 0,
        },
        all_events(name),
        Request::Start {
            session: name.into(),
        },
        Request::ListSession {
            session: name.into(),
        },
        Request::ListApps,
        Request::ListSessions,
    ] {
        let what = format!("{req:?}");
        let (resp, t) = timed_request(w, req);
        assert!(!matches!(resp, Response::Error { .. }), "{what}: {resp:?}");
        took.push((what, t));
    }
    eprintln!("request times while {why}: {took:?}");
    let slow: Vec<_> = took
        .iter()
        .filter(|(_, t)| *t >= OTHER_CLIENT_BOUND)
        .collect();
    assert!(
        slow.is_empty(),
        "requests slowed down while {why}: {slow:?}"
    );
}

/// Starts the daemon of `w` (with the consumer's fault injection `faults`, if any) by
/// creating session `name` with `args`.
fn create_first(w: &World, name: &str, args: &[&str], faults: Option<&str>) {
    let mut create = Command::new(env!("CARGO_BIN_EXE_rttng"));
    create.arg("create").arg(name).args(args);
    w.env(&mut create);
    if let Some(f) = faults {
        create.env("RTTNG_CONSUMERD_FAULTS", f);
    }
    let created = run_bounded(&mut create, CMD_TIMEOUT).expect("rttng create");
    assert!(
        created.status.success(),
        "create: {}",
        created.stderr_quote()
    );
}

/// Accepts one connection on `l` (bounded): the relay the consumer reached.
fn accept_one(l: &TcpListener) -> TcpStream {
    l.set_nonblocking(true).expect("nonblocking");
    let t = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => return s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    t.elapsed() < WAIT_TIMEOUT,
                    "the consumer never reached the relay"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// A relay that accepts and never answers: while a network session's first channel waits
/// for it (the relay session is opened then) and a snapshot to it waits too, other
/// clients' list, create, enable-event and start answer within 100 ms; once the relay
/// goes, the channel is refused (and not kept) and the snapshot fails, both saying why.
#[test]
fn security_a_stalled_relay_delays_no_other_client() {
    favour_this_thread();
    let w = World::new("sec-relay");
    let control = TcpListener::bind("127.0.0.1:0").expect("bind");
    let data = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "net://127.0.0.1:{}:{}",
        control.local_addr().unwrap().port(),
        data.local_addr().unwrap().port()
    );
    create_first(&w, "net", &["--set-url", &url], None);
    let snap_dir = w.tmp.path().join("snap");
    w.ok(&[
        "create",
        "snap",
        "--snapshot",
        "-o",
        snap_dir.to_str().unwrap(),
    ]);
    w.ok(&["enable-event", "-u", "-a", "-s", "snap"]);
    w.ok(&["start", "snap"]);
    // An app, so that the other clients' start creates buffers.
    let (child, _stdout) = w.spawn_probe(&["--count", "3", "--hang"], "emitted");
    let app = KillOnDrop(child);
    let enable = {
        let run = w.run.clone();
        std::thread::spawn(move || timed_request_at(&run, all_events("net")))
    };
    let first = accept_one(&control);
    let record = {
        let run = w.run.clone();
        let req = Request::SnapshotRecord {
            session: "snap".into(),
            output: Some(SnapshotOutput {
                name: String::new(),
                path: url.clone(),
                max_size: 0,
            }),
            name: String::new(),
            max_size: None,
        };
        std::thread::spawn(move || timed_request_at(&run, req))
    };
    let second = accept_one(&control);
    others_are_not_delayed(&w, "s2", "a relay stalls");
    assert!(
        !enable.is_finished() && !record.is_finished(),
        "the stalled requests ended before the others did: they did not overlap them"
    );
    // The relay goes away: both stalled requests end, with the reason.
    drop((first, second, control, data));
    let (resp, _) = enable.join().expect("enable thread");
    let Response::Error { message, .. } = &resp else {
        panic!("enable-event on a session whose relay never answered: {resp:?}");
    };
    assert!(message.contains("relay"), "{message}");
    let (resp, _) = record.join().expect("record thread");
    let Response::Error { message, .. } = &resp else {
        panic!("snapshot record to a relay that never answered: {resp:?}");
    };
    assert!(message.contains("Snapshot record failed"), "{message}");
    // The refused channel was not kept: the session is as before the request.
    let (resp, _) = timed_request(
        &w,
        Request::ListSession {
            session: "net".into(),
        },
    );
    let Response::Session { detail } = resp else {
        panic!("list net: {resp:?}");
    };
    assert!(detail.channels.is_empty(), "{:?}", detail.channels);
    w.ok(&["stop", "s2"]);
    w.ok(&["stop", "snap"]);
    drop(app);
}

/// A slow disk under an app's metadata: the first metadata write (the trace's, when the
/// app registers with a started session) is held 2 s; other clients' requests answer
/// within 100 ms meanwhile; the app is then traced completely.
#[test]
fn security_a_slow_disk_at_app_registration_delays_no_other_client() {
    favour_this_thread();
    let w = World::new("sec-slowmd");
    let t1 = w.tmp.path().join("t1");
    create_first(
        &w,
        "s1",
        &["-o", t1.to_str().unwrap()],
        Some("delay:metadata:1"),
    );
    w.ok(&["enable-event", "-u", "-a", "-s", "s1"]);
    w.ok(&["start", "s1"]);
    let mut cmd = Command::new(probe_path());
    cmd.args(["--count", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    w.env(&mut cmd);
    let app = KillOnDrop(cmd.spawn().expect("spawn probe"));
    wait_until("the app's metadata to reach the slow disk", || {
        daemon_log(&w).contains("injected fault: a Metadata write waits")
    });
    let t = Instant::now();
    others_are_not_delayed(&w, "s2", "an app's metadata waits for the disk");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the requests took {:?}: they did not overlap the 2 s write",
        t.elapsed()
    );
    let mut app = app;
    wait_until("the app to exit", || {
        app.0.try_wait().ok().flatten().is_some()
    });
    w.ok(&["stop", "s1"]);
    let (text, _) = read_both(&t1);
    assert_eq!(seqs(&text, "probe:info"), (0..5).collect::<Vec<u64>>());
    w.ok(&["stop", "s2"]);
}

/// A slow disk under a snapshot: `snapshot record`'s first packet write is held 2 s;
/// other clients' requests answer within 100 ms meanwhile; the snapshot then holds the
/// app's events.
#[test]
fn security_a_slow_disk_at_snapshot_record_delays_no_other_client() {
    favour_this_thread();
    let w = World::new("sec-slowsnap");
    let out = w.tmp.path().join("snap");
    create_first(
        &w,
        "snap",
        &["--snapshot", "-o", out.to_str().unwrap()],
        Some("delay:data:1"),
    );
    w.ok(&["enable-event", "-u", "-a", "-s", "snap"]);
    w.ok(&["start", "snap"]);
    let (child, _stdout) = w.spawn_probe(&["--count", "5", "--hang"], "emitted");
    let app = KillOnDrop(child);
    let record = {
        let run = w.run.clone();
        let req = Request::SnapshotRecord {
            session: "snap".into(),
            output: None,
            name: String::new(),
            max_size: None,
        };
        std::thread::spawn(move || timed_request_at(&run, req))
    };
    wait_until("the snapshot to reach the slow disk", || {
        daemon_log(&w).contains("injected fault: a Data write waits")
    });
    others_are_not_delayed(&w, "s2", "a snapshot waits for the disk");
    assert!(
        !record.is_finished(),
        "the snapshot ended before the requests did: they did not overlap it"
    );
    let (resp, took) = record.join().expect("record thread");
    let Response::SnapshotRecorded { paths } = resp else {
        panic!("snapshot record: {resp:?}");
    };
    assert!(took >= Duration::from_secs(1), "the snapshot took {took:?}");
    let (text, _) = read_both(std::path::Path::new(&paths[0]));
    assert_eq!(seqs(&text, "probe:info"), (0..5).collect::<Vec<u64>>());
    w.ok(&["stop", "s2"]);
    drop(app);
}

/// A slow disk under a buffer while tracing: its first packet write is held 2 s. Root's
/// `list s1` (the buffer's statistics, which wait for its writer) and the app's exit (the
/// buffer's recovery, which waits too) delay no other client's requests beyond 100 ms.
#[test]
fn security_a_slow_disk_at_list_and_app_exit_delays_no_other_client() {
    favour_this_thread();
    let w = World::new("sec-slowlist");
    let t1 = w.tmp.path().join("t1");
    create_first(
        &w,
        "s1",
        &["-o", t1.to_str().unwrap()],
        Some("delay:data:1"),
    );
    w.ok(&[
        "enable-channel",
        "-u",
        "small",
        "-s",
        "s1",
        "--subbuf-size",
        "4096",
        "--num-subbuf",
        "4",
    ]);
    w.ok(&["enable-event", "-u", "-a", "-c", "small", "-s", "s1"]);
    w.ok(&["start", "s1"]);
    // Enough events to fill sub-buffers: the writer thread writes (and waits) while the
    // app still runs.
    let (child, _stdout) = w.spawn_probe(&["--count", "2000", "--hang"], "emitted");
    let app = KillOnDrop(child);
    wait_until("a packet write to reach the slow disk", || {
        daemon_log(&w).contains("injected fault: a Data write waits")
    });
    let list = {
        let run = w.run.clone();
        let req = Request::ListSession {
            session: "s1".into(),
        };
        std::thread::spawn(move || timed_request_at(&run, req))
    };
    // The app exits: its per-user buffer is recovered.
    drop(app);
    others_are_not_delayed(&w, "s2", "a buffer's writer waits for the disk");
    assert!(
        !list.is_finished(),
        "list s1 ended before the other requests did: they did not overlap its wait"
    );
    let (resp, _) = list.join().expect("list thread");
    assert!(matches!(resp, Response::Session { .. }), "{resp:?}");
    w.ok(&["stop", "s1"]);
    let (text, _) = read_both(&t1);
    assert!(
        !seqs(&text, "probe:info").is_empty(),
        "nothing of the app was recorded"
    );
    w.ok(&["stop", "s2"]);
}

/// Kernel requests run outside the lock too: while a kernel session's `start` waits for a
/// slow disk (the consumer writes the kernel trace's metadata then; held 2 s), other
/// clients' requests answer within 100 ms; the start then succeeds.
#[test]
fn security_a_slow_disk_at_a_kernel_start_delays_no_other_client() {
    favour_this_thread();
    let w = World::new("sec-slowk");
    let tk = w.tmp.path().join("tk");
    create_first(
        &w,
        "k",
        &["-o", tk.to_str().unwrap()],
        Some("delay:metadata:1"),
    );
    w.ok(&["enable-event", "-k", "--syscall", "getppid", "-s", "k"]);
    let start = {
        let run = w.run.clone();
        let req = Request::Start {
            session: "k".into(),
        };
        std::thread::spawn(move || timed_request_at(&run, req))
    };
    wait_until("the kernel trace's metadata to reach the slow disk", || {
        daemon_log(&w).contains("injected fault: a Metadata write waits")
    });
    others_are_not_delayed(&w, "s2", "a kernel session's start waits for the disk");
    assert!(
        !start.is_finished(),
        "the kernel start ended before the requests did: they did not overlap it"
    );
    let (resp, _) = start.join().expect("start thread");
    assert!(matches!(resp, Response::Ok), "start k: {resp:?}");
    w.ok(&["stop", "k"]);
    w.ok(&["destroy", "k"]);
    w.ok(&["stop", "s2"]);
}
