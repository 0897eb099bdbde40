//! Issue 11, item 5: the session daemon survives its consumer. After `rttng-consumerd` is
//! killed (SIGKILL) mid-session, the session daemon starts a new one: sessions created
//! afterwards record normally, and the session that lost its buffers says so in `list` and
//! at `stop` (lttng's warning status), refuses to start again, and keeps the data written
//! before the kill readable. A session with kernel channels (drained by the consumer) is lost
//! the same way.

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

/// The consumer drains kernel channels too: a session with a kernel channel whose consumer
/// was killed says so in `list`, and `start` refuses it with that reason (not with the new
/// consumer's "no kernel session"); `destroy` removes it and its tracefs instance, and a new
/// kernel session records through the new consumer.
#[test]
fn issue_11_a_kernel_session_that_lost_its_consumer_says_so() {
    let w = World::new("krespawn");
    w.create(&["kold"]);
    w.ok(&["enable-event", "-k", "--syscall", "getppid", "-s", "kold"]);
    w.ok(&["start", "kold"]);
    w.ok(&["stop", "kold"]);
    let first = w.consumerd_pid().expect("consumer pid");
    kill_process(first);
    assert!(wait_gone(first, WAIT_TIMEOUT), "consumer {first} killed");
    wait_until("a new consumer daemon", || {
        w.consumerd_pid()
            .is_some_and(|p| p != first && std::path::Path::new(&format!("/proc/{p}")).exists())
    });
    let list = w.rttng(&["list", "kold"]);
    let err = String::from_utf8_lossy(&list.stderr);
    assert!(
        err.contains("consumer daemon is gone") && err.contains("destroy this session"),
        "list of the kernel session that lost its consumer: {err}"
    );
    let start = w.rttng(&["start", "kold"]);
    let err = String::from_utf8_lossy(&start.stderr);
    assert!(
        !start.status.success()
            && err.contains("lost its buffers")
            && !err.contains("no kernel session"),
        "a kernel session that lost its consumer does not start again: {}",
        start.stderr_quote()
    );
    let destroy = w.rttng(&["destroy", "kold"]);
    assert!(
        !String::from_utf8_lossy(&destroy.stderr).contains("no kernel session"),
        "destroy: {}",
        destroy.stderr_quote()
    );
    let gone = w.kernel_instances("kold");
    assert!(gone.is_empty(), "instances left after destroy: {gone:?}");

    let new_out = w.create(&["knew"]);
    w.ok(&["enable-event", "-k", "--syscall", "getppid", "-s", "knew"]);
    w.ok(&["start", "knew"]);
    w.ok(&["stop", "knew"]);
    assert!(
        new_out.join("kernel").join("metadata").exists(),
        "the new kernel session's trace"
    );
    w.ok(&["destroy", "knew"]);
}
