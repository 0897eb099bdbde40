//! Bad peers on both ports: garbage, truncated headers, absurd lengths, unknown commands,
//! commands out of order, names that would leave the output directory, a peer that stalls and
//! a peer that dies mid-packet. Each is refused with a log line; the relay survives, its memory
//! and threads stay bounded, and the next peer is served in full.

use crate::client::*;
use crate::replay::{source_trace, CLOSE_TIMEOUT, SESSION_DATETIME};
use crate::support::{babeltrace, Relay, TempDir};
use rttng_relay_proto::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// Bound for the relay to log that it refused or closed a connection.
const LOG_TIMEOUT: Duration = Duration::from_secs(20);
/// How much the relay's resident memory may grow over all the bad peers.
const MAX_RSS_GROWTH_KIB: u64 = 32 * 1024;

/// Pseudo-random bytes (xorshift), the same on every run.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn header(cmd: u32, size: u64) -> Vec<u8> {
    let mut h = vec![0u8; CONTROL_HEADER_BYTES];
    h[8..16].copy_from_slice(&size.to_be_bytes());
    h[16..20].copy_from_slice(&cmd.to_be_bytes());
    h
}

/// A control connection that said VERSION 2.13.
fn versioned(port: u16) -> TcpStream {
    let mut s = connect(port);
    version(&mut s);
    s
}

/// Sends `bytes`, half-closes, and expects the relay to end the connection (after at most
/// `reply_bytes` of reply, which are returned).
fn refused(mut s: TcpStream, bytes: &[u8], reply_bytes: usize) -> Vec<u8> {
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match std::io::Read::read(&mut s, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(got.len() <= reply_bytes, "unexpected reply {got:?}");
    got
}

#[test]
fn bad_peers_on_both_ports_are_refused_and_the_next_peer_is_served() {
    let tmp = TempDir::new("relay-bad");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let (cp, dp) = (relay.control_port, relay.data_port);
    let rss_before = relay.rss_kib();

    // A peer that stalls mid-header on each port stays connected through all of this.
    let mut stalled_ctl = connect(cp);
    stalled_ctl
        .write_all(&header(Command::Version as u32, 8)[..10])
        .unwrap();
    let mut stalled_data = connect(dp);
    stalled_data.write_all(&[0u8; 7]).unwrap();

    let mut refusals = 0;
    let mut expect_log = |needle: &str| {
        refusals += 1;
        relay
            .wait_log_count("closing it", refusals, LOG_TIMEOUT)
            .unwrap_or_else(|| panic!("no refusal logged for {needle}; log:\n{}", relay.log()));
        assert!(
            relay.log().contains(needle),
            "log lacks {needle:?}:\n{}",
            relay.log()
        );
    };

    // Control port.
    for seed in 1..=8 {
        refused(connect(cp), &noise(4096, seed), 4);
        expect_log("refused");
    }
    refused(connect(cp), &header(Command::Version as u32, 8)[..13], 0);
    expect_log("truncated request header (13 of 24 bytes)");
    let r = refused(connect(cp), &header(99, 0), 4);
    assert_eq!(
        r,
        ret::ERR_UNK.to_be_bytes(),
        "unknown command: ERR_UNK, then closed"
    );
    expect_log("unknown command code 99");
    refused(
        versioned(cp),
        &header(Command::AddStream as u32, 1 << 60),
        0,
    );
    expect_log("AddStream payload of 1152921504606846976 bytes is larger than");
    refused(
        versioned(cp),
        &header(Command::SendMetadata as u32, u64::MAX),
        0,
    );
    expect_log("SendMetadata payload");
    let mut p = header(Command::Version as u32, 8);
    p.extend_from_slice(&[0, 0, 0, 2]);
    refused(connect(cp), &p, 0);
    expect_log("Version: truncated payload (4 of 8 bytes)");
    refused(
        connect(cp),
        &header(Command::DataPending as u32, 16)
            .into_iter()
            .chain([0; 16])
            .collect::<Vec<_>>(),
        0,
    );
    expect_log("DataPending before VERSION");
    refused(
        versioned(cp),
        &header(Command::SendIndex as u32, 80)
            .into_iter()
            .chain([0; 80])
            .collect::<Vec<_>>(),
        0,
    );
    expect_log("SendIndex before CREATE_SESSION");
    let mut p = header(Command::CreateSession as u32, 30);
    p.extend_from_slice(&noise(30, 9));
    let r = refused(versioned(cp), &p, 16);
    assert_eq!(
        CreateSessionReply::decode(&r).unwrap().ret_code,
        ret::ERR_FATAL
    );
    expect_log("refused CREATE_SESSION: CREATE_SESSION");
    let mut s = connect(cp);
    send(
        &mut s,
        Command::Version,
        &Version { major: 3, minor: 0 }.encode(),
    );
    refused(s, &[], 8);
    expect_log("refused peer: protocol 3.0");
    let mut s = connect(cp);
    send(
        &mut s,
        Command::Version,
        &Version { major: 2, minor: 4 }.encode(),
    );
    refused(s, &[], 8);
    expect_log("refused peer: protocol 2.4");
    refused(versioned(cp), &noise(1 << 20, 77), 4);
    expect_log("refused");

    // Data port.
    for seed in 11..=14 {
        refused(connect(dp), &noise(4096, seed), 0);
        expect_log("data connection from");
    }
    refused(connect(dp), &[1u8; 20], 0);
    expect_log("truncated packet header (20 of 32 bytes)");
    let h = DataHeader {
        stream_id: 1,
        net_seq_num: 0,
        data_size: u32::MAX,
        padding_size: u32::MAX,
    };
    refused(connect(dp), &h.encode(), 0);
    expect_log("data packet: 8589934590 is beyond the limit");
    let h = DataHeader {
        stream_id: 999_999,
        net_seq_num: 0,
        data_size: 4096,
        padding_size: 0,
    };
    refused(connect(dp), &h.encode(), 0);
    expect_log("refused packet for unknown stream 999999");

    // A data connection may not write into another host's... or another session's metadata.
    let mut c = Client::open(cp, dp, "victim", "hostV");
    let meta = c.add_stream("metadata", "ust/uid/0/64-bit", 0, 0);
    let h = DataHeader {
        stream_id: meta,
        net_seq_num: 0,
        data_size: 16,
        padding_size: 0,
    };
    refused(connect(dp), &h.encode(), 0);
    expect_log(&format!("refused packet for metadata stream {meta}"));
    // Another control connection cannot touch this session's streams.
    let mut other = Client::open(cp, dp, "other", "hostO");
    send(
        &mut other.ctl,
        Command::CloseStream,
        &StreamSeq {
            stream_id: meta,
            last_net_seq_num: NO_SEQ,
        }
        .encode(),
    );
    assert_eq!(read_u32(&mut other.ctl), ret::ERR_UNK);
    expect_log(&format!("CLOSE_STREAM for unknown stream {meta}"));
    drop(c);
    drop(other);

    // Everyone is still served: a whole session, while the stalled peers hold their sockets.
    let mut good = Client::open(cp, dp, "after", "hostG");
    replay(
        &mut good,
        &source_trace(),
        "ust/uid/0/64-bit",
        Ending::Clean,
    );
    drop(good);
    relay
        .wait_log_count("closed: ", 5 + 1, CLOSE_TIMEOUT)
        .unwrap_or_else(|| panic!("streams did not close; log:\n{}", relay.log()));
    let stored = out.join(format!("hostG/after-{SESSION_DATETIME}/ust/uid/0/64-bit"));
    assert!(babeltrace(&stored) == babeltrace(&source_trace()));

    let grown = relay.rss_kib().saturating_sub(rss_before);
    assert!(grown < MAX_RSS_GROWTH_KIB, "the relay grew by {grown} KiB");
    // The stalled peers were not refused; they end when they close.
    assert!(stalled_ctl.flush().is_ok());
    drop(stalled_ctl);
    drop(stalled_data);
    let mut relay = relay;
    assert!(relay.alive(), "the relay died; log:\n{}", relay.log());
    assert!(!relay.log().contains("panicked"), "{}", relay.log());
}

#[test]
fn names_from_the_wire_cannot_leave_the_output_directory() {
    let tmp = TempDir::new("relay-names");
    let out = tmp.path().join("out");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir(&out).unwrap();
    // A symlink planted in the output directory, pointing outside.
    std::os::unix::fs::symlink(&outside, out.join("hostL")).unwrap();
    let relay = Relay::start(&out);
    let (cp, dp) = (relay.control_port, relay.data_port);

    let bad_sessions: [(&str, &str, &str); 8] = [
        ("s", "..", ""),
        ("s", "../../x", ""),
        ("s", "a/b", ""),
        ("../s", "h", ""),
        (".s", "h", ""),
        ("s", "h", "../../x"),
        ("s", "h", "/abs"),
        ("s", "hostL", ""),
    ];
    for (name, host, base) in bad_sessions {
        let mut s = versioned(cp);
        let mut m = create_session_msg(name, host);
        m.base_path = base.into();
        send(&mut s, Command::CreateSession, &m.encode());
        let r = refused(s, &[], 16);
        let r = CreateSessionReply::decode(&r).unwrap();
        assert_eq!(
            r.ret_code,
            ret::ERR_FATAL,
            "{name:?} {host:?} {base:?} accepted"
        );
        relay
            .wait_log("CREATE_SESSION", LOG_TIMEOUT)
            .expect("refusal logged");
    }
    let mut c = Client::open(cp, dp, "ok", "hostN");
    for (channel, path) in [
        ("ch", "../../../x"),
        ("ch", "/etc"),
        ("ch", "a/../../b"),
        ("../ch", "ust"),
        ("a/b", "ust"),
        ("ch", ".hidden/x"),
    ] {
        send(
            &mut c.ctl,
            Command::AddStream,
            &AddStream {
                channel_name: channel.into(),
                pathname: path.into(),
                tracefile_size_bytes: 0,
                tracefile_count: 0,
                trace_chunk_id: 0,
            }
            .encode(),
        );
        let r = AddStreamReply::decode(&read_n(&mut c.ctl, ADD_STREAM_REPLY_BYTES)).unwrap();
        assert_eq!(r.ret_code, ret::ERR_UNK, "{channel:?} {path:?} accepted");
        assert!(
            closed_by_relay(&mut c.ctl),
            "connection kept after a bad name"
        );
        c = Client::open(cp, dp, "ok", "hostN");
    }
    let log = relay.log();
    assert!(log.contains("refused ADD_STREAM: stream path"), "{log}");
    assert!(log.contains("refused ADD_STREAM: channel name"), "{log}");
    assert!(
        log.contains("hostL"),
        "the symlink refusal is logged: {log}"
    );
    // Nothing outside, nothing but the good session inside.
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "wrote through the symlink"
    );
    let mut inside: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    inside.sort();
    assert_eq!(inside, ["hostL", "hostN"]);
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["out", "outside"]);
}

#[test]
fn a_peer_dying_mid_packet_leaves_a_readable_trace_of_its_whole_packets() {
    let tmp = TempDir::new("relay-die");
    let out = tmp.path().join("out");
    let relay = Relay::start(&out);
    let mut c = Client::open(relay.control_port, relay.data_port, "dies", "hostD");
    let sent = replay(
        &mut c,
        &source_trace(),
        "ust/uid/0/64-bit",
        Ending::DieMidPacket,
    );
    drop(c);
    relay
        .wait_log("did not arrive whole", LOG_TIMEOUT)
        .unwrap_or_else(|| panic!("no log of the cut packet:\n{}", relay.log()));
    relay
        .wait_log_count("closed: ", 5, CLOSE_TIMEOUT)
        .unwrap_or_else(|| panic!("streams did not close; log:\n{}", relay.log()));
    let stored = out.join(format!("hostD/dies-{SESSION_DATETIME}/ust/uid/0/64-bit"));
    // The first stream ends at its last whole packet, and its index lists only those.
    let (first, whole) = &sent.whole_bytes[0];
    assert_eq!(std::fs::metadata(stored.join(first)).unwrap().len(), *whole);
    let idx = rttng_ctf::index::decode_index(
        &std::fs::read(stored.join(format!("index/{first}.idx"))).unwrap(),
        Some(*whole),
    )
    .expect("the index matches the data file");
    assert_eq!(idx.entries.len() as u64, whole / 4096);
    // babeltrace2 reads it as it reads the source cut at the same place.
    let expected_dir = tmp.path().join("expected");
    std::fs::create_dir_all(expected_dir.join("index")).unwrap();
    std::fs::copy(
        source_trace().join("metadata"),
        expected_dir.join("metadata"),
    )
    .unwrap();
    let data = std::fs::read(source_trace().join(first)).unwrap();
    std::fs::write(expected_dir.join(first), &data[..*whole as usize]).unwrap();
    let src_idx = std::fs::read(source_trace().join(format!("index/{first}.idx"))).unwrap();
    std::fs::write(
        expected_dir.join(format!("index/{first}.idx")),
        &src_idx[..16 + 72 * idx.entries.len()],
    )
    .unwrap();
    let text = babeltrace(&stored);
    assert!(text.lines().count() > 0);
    assert!(
        text == babeltrace(&expected_dir),
        "the stored trace reads differently"
    );
}
