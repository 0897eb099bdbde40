//! A recorded LTTng trace (babeltrace's `multi-domains` test trace, user-space part) replayed
//! through the relay protocol by a peer written on `rttng_relay_proto`: what the relay stores
//! must read in babeltrace2 exactly as the original, with the same index files, in
//! lttng-relayd's layout; tracefile rotation by size and count keeps the last files.

use crate::client::{replay, replay_with, Client, Ending};
use crate::support::{babeltrace, repo_root, Relay, TempDir};
use rttng_ctf::index::decode_index;
use std::path::PathBuf;
use std::time::Duration;

/// The source trace: four data streams with index files and packetized metadata.
pub fn source_trace() -> PathBuf {
    repo_root().join("tests/data/ctf-conformance/traces/succeed__multi-domains/ust")
}

/// The session directory the relay must use for `create_session_msg`'s creation time in
/// UTC (1765065092 is 2025-12-06 23:51:32 UTC, by `date -u -d @1765065092`).
pub const SESSION_DATETIME: &str = "20251206-235132";

/// Bound for the relay to log that every stream of a session closed.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn a_replayed_trace_is_stored_as_lttng_relayd_stores_it_and_reads_the_same() {
    let tmp = TempDir::new("relay-replay");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let mut c = Client::open(relay.control_port, relay.data_port, "replay", "hostA");
    assert_eq!(c.session_dir, format!("hostA/replay-{SESSION_DATETIME}"));
    let sent = replay(
        &mut c,
        &source_trace(),
        "ust/uid/1000/64-bit",
        Ending::Clean,
    );
    assert!(sent.packets >= 4, "the source has packets: {sent:?}");
    drop(c);
    relay
        .wait_log_count("closed: ", 5, CLOSE_TIMEOUT)
        .unwrap_or_else(|| panic!("streams did not close; log:\n{}", relay.log()));
    let stored = out.join(format!(
        "hostA/replay-{SESSION_DATETIME}/ust/uid/1000/64-bit"
    ));
    let expected = babeltrace(&source_trace());
    assert_eq!(expected.lines().count(), 4000);
    assert!(
        babeltrace(&stored) == expected,
        "babeltrace2 reads the stored trace differently"
    );
    // Same files, same bytes, same index entries (offsets are the relay's own).
    for (name, _) in &sent.whole_bytes {
        assert_eq!(
            std::fs::read(stored.join(name)).unwrap(),
            std::fs::read(source_trace().join(name)).unwrap(),
            "{name}"
        );
        let idx = format!("index/{name}.idx");
        assert_eq!(
            std::fs::read(stored.join(&idx)).unwrap(),
            std::fs::read(source_trace().join(&idx)).unwrap(),
            "{idx}"
        );
    }
    assert_eq!(
        std::fs::read(stored.join("metadata")).unwrap(),
        std::fs::read(source_trace().join("metadata")).unwrap()
    );
}

#[test]
fn tracefiles_rotate_by_size_and_count_as_lttng_relayd_rotates_them() {
    let tmp = TempDir::new("relay-rotate");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let mut c = Client::open(relay.control_port, relay.data_port, "rot", "hostR");
    // Packets are 4 KiB: two per file, two files kept, so the 5-6 packets of each source
    // stream wrap around to file 0.
    let sent = replay_with(
        &mut c,
        &source_trace(),
        "ust/uid/0/64-bit",
        Ending::Clean,
        (8192, 2),
    );
    drop(c);
    relay
        .wait_log_count("closed: ", 5, CLOSE_TIMEOUT)
        .unwrap_or_else(|| panic!("streams did not close; log:\n{}", relay.log()));
    let stored = out.join(format!("hostR/rot-{SESSION_DATETIME}/ust/uid/0/64-bit"));
    let mut stored_packets = 0;
    for (name, bytes) in &sent.whole_bytes {
        assert!(
            stored.join(name).symlink_metadata().is_err(),
            "no unsuffixed {name}"
        );
        let packets = bytes / 4096;
        assert!(
            packets > 4,
            "{name}: the source must wrap around (has {packets} packets)"
        );
        for n in 0..2 {
            let file = stored.join(format!("{name}_{n}"));
            let len = std::fs::metadata(&file).unwrap().len();
            assert!(len > 0 && len <= 8192, "{}: {len} bytes", file.display());
            let idx = decode_index(
                &std::fs::read(stored.join(format!("index/{name}_{n}.idx"))).unwrap(),
                Some(len),
            )
            .unwrap_or_else(|e| panic!("index of {}: {e}", file.display()));
            assert_eq!(idx.entries[0].offset_bytes, 0);
            stored_packets += idx.entries.len() as u64;
        }
        assert!(stored.join(format!("{name}_2")).symlink_metadata().is_err());
    }
    // babeltrace2 reads what is left (the wrapped files); the packets kept are the last ones.
    let text = babeltrace(&stored);
    assert!(text.lines().count() > 0);
    assert!(stored_packets < sent.packets, "older files were replaced");
}

/// Peers replaying at once, each as its own host.
const CONCURRENT_PEERS: usize = 16;

#[test]
fn many_peers_at_once_each_get_their_whole_trace() {
    let tmp = TempDir::new("relay-many");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let (cp, dp) = (relay.control_port, relay.data_port);
    std::thread::scope(|s| {
        for i in 0..CONCURRENT_PEERS {
            s.spawn(move || {
                let mut c = Client::open(cp, dp, "many", &format!("host{i}"));
                replay(&mut c, &source_trace(), "ust/uid/0/64-bit", Ending::Clean);
            });
        }
    });
    relay
        .wait_log_count("closed: ", 5 * CONCURRENT_PEERS, CLOSE_TIMEOUT)
        .unwrap_or_else(|| panic!("streams did not close; log:\n{}", relay.log()));
    let expected = babeltrace(&source_trace());
    for i in 0..CONCURRENT_PEERS {
        let stored = out.join(format!("host{i}/many-{SESSION_DATETIME}/ust/uid/0/64-bit"));
        // babeltrace2 prints the hostname from the metadata, so every copy reads the same.
        assert!(babeltrace(&stored) == expected, "host{i} reads differently");
    }
}
