//! Issue 11, item 5: the session daemon survives its consumer. After `rttng-consumerd` is
//! killed (SIGKILL) mid-session, the session daemon starts a new one: sessions created
//! afterwards record normally, and the session that lost its buffers says so in `list` and
//! at `stop` (lttng's warning status), refuses to start again, and keeps the data written
//! before the kill readable.

use crate::session_support::{read_both, seqs, wait_gone, wait_until, World, WAIT_TIMEOUT};
use crate::support::kill_process;

#[test]
fn issue_11_a_killed_consumer_is_restarted_and_new_sessions_record() {
    let w = World::new("respawn");
    let old_out = w.create(&["old"]);
    w.ok(&["enable-event", "-u", "probe:info"]);
    w.ok(&["start"]);
    w.probe(&["--count", "100"]);
    let first = w.consumerd_pid().expect("consumer pid");
    kill_process(first);
    assert!(wait_gone(first, WAIT_TIMEOUT), "consumer {first} killed");
    wait_until("a new consumer daemon", || {
        w.consumerd_pid()
            .is_some_and(|p| p != first && std::path::Path::new(&format!("/proc/{p}")).exists())
    });

    // The session that lost its consumer says so.
    let list = w.rttng(&["list", "old"]);
    let err = String::from_utf8_lossy(&list.stderr);
    assert!(
        err.contains("consumer daemon is gone") && err.contains("destroy this session"),
        "list of the session that lost its consumer: {err}"
    );
    let stop = w.rttng(&["stop", "old"]);
    assert_eq!(
        stop.status.code(),
        Some(4),
        "stop warns: {}",
        stop.stderr_quote()
    );
    let start = w.rttng(&["start", "old"]);
    assert!(
        !start.status.success()
            && String::from_utf8_lossy(&start.stderr).contains("lost its buffers"),
        "a session that lost its buffers does not start again: {}",
        start.stderr_quote()
    );

    // A new session records through the new consumer, every event.
    let new_out = w.create(&["new"]);
    w.ok(&["enable-event", "-u", "probe:info", "-s", "new"]);
    w.ok(&["start", "new"]);
    w.probe(&["--count", "300"]);
    w.ok(&["stop", "new"]);
    let (text, _) = read_both(&new_out);
    assert_eq!(seqs(&text, "probe:info"), (0..300).collect::<Vec<u64>>());
    let list = w.ok(&["list", "new"]);
    assert!(!list.contains("gone"), "{list}");
    // The old session's data written before the kill stays readable (a prefix of it: the
    // consumer may have died before writing the last packets).
    if old_out.join("ust").exists() {
        let (text, _) = read_both(&old_out);
        let got = seqs(&text, "probe:info");
        assert_eq!(got, (0..got.len() as u64).collect::<Vec<u64>>());
    }
}
