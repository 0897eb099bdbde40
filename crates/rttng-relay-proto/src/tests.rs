//! Unit tests: byte layouts against the wire captures of the protocol notes, round trips,
//! and refusals of bad input.

use crate::names::*;
use crate::*;

#[test]
fn create_session_matches_the_captured_layout() {
    // obs.: `norm\0vm\0\0`, 68 bytes in all.
    let c = CreateSession {
        session_name: "norm".into(),
        hostname: "vm".into(),
        base_path: String::new(),
        live_timer_us: 0,
        snapshot: false,
        name_contains_creation_time: false,
        sessiond_uuid: [7; 16],
        sessiond_session_id: 0,
        creation_time_s: 1_765_065_092,
        current_chunk_id: None,
    };
    let b = c.encode();
    assert_eq!(b.len(), 68);
    assert_eq!(&b[0..12], &[0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 1]);
    assert_eq!(&b[59..], b"norm\0vm\0\0");
    assert_eq!(CreateSession::decode(&b).unwrap(), c);
}

#[test]
fn rotate_streams_decodes_all_three_header_layouts() {
    // obs. x86-64 header: `00000002 00 000000df42ef39 0000000000000000`, garbage in the padding.
    let mut x86 = vec![0, 0, 0, 2, 0, 0, 0, 0, 0xdf, 0x42, 0xef, 0x39];
    x86.extend_from_slice(&[0; 8]);
    for (h, s) in [(1u64, 10u64), (2, 49)] {
        x86.extend_from_slice(&h.to_be_bytes());
        x86.extend_from_slice(&s.to_be_bytes());
    }
    let r = RotateStreams::decode(&x86).unwrap();
    assert_eq!(r.new_chunk_id, None);
    assert_eq!(r.positions.len(), 2);
    assert_eq!(r.positions[1].rotate_at_packet_seq_num, 49);
    let mut packed = vec![0, 0, 0, 1, 1];
    packed.extend_from_slice(&5u64.to_be_bytes());
    packed.extend_from_slice(&3u64.to_be_bytes());
    packed.extend_from_slice(&0u64.to_be_bytes());
    let r = RotateStreams::decode(&packed).unwrap();
    assert_eq!(r.new_chunk_id, Some(5));
    let mut i386 = vec![0, 0, 0, 0, 1, 9, 9, 9];
    i386.extend_from_slice(&6u64.to_be_bytes());
    assert_eq!(RotateStreams::decode(&i386).unwrap().new_chunk_id, Some(6));
    // Round trip through our encoder (x86-64 layout).
    let again = RotateStreams::decode(&r.encode()).unwrap();
    assert_eq!(again, r);
    // 14 bytes of header: no layout.
    assert!(RotateStreams::decode(&[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    // A count larger than the payload.
    assert!(RotateStreams::decode(&[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(RotateStreams::decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn headers_refuse_unknown_commands_and_absurd_lengths() {
    let h = ControlHeader {
        command: Command::SendIndex,
        data_size: 80,
    };
    assert_eq!(ControlHeader::decode(&h.encode()).unwrap(), h);
    let mut b = h.encode();
    b[16..20].copy_from_slice(&99u32.to_be_bytes());
    assert_eq!(
        ControlHeader::decode(&b),
        Err(HeaderError::UnknownCommand { code: 99 })
    );
    let mut b = h.encode();
    b[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(
        ControlHeader::decode(&b),
        Err(HeaderError::PayloadTooLarge { .. })
    ));
    let mut b = ControlHeader {
        command: Command::SendMetadata,
        data_size: 0,
    }
    .encode();
    b[8..16].copy_from_slice(&(MAX_CONTROL_PAYLOAD_BYTES + 1).to_be_bytes());
    assert!(ControlHeader::decode(&b).is_err());
    let d = DataHeader {
        stream_id: 3,
        net_seq_num: 4,
        data_size: 4092,
        padding_size: 4,
    };
    assert_eq!(DataHeader::decode(&d.encode()).unwrap(), d);
    let mut b = d.encode();
    b[24..32].copy_from_slice(&[0xff; 8]);
    assert!(DataHeader::decode(&b).is_err());
}

#[test]
fn strings_must_be_terminated_bounded_and_exact() {
    let a = AddStream {
        channel_name: "ch0_1".into(),
        pathname: "ust/uid/1000/64-bit".into(),
        tracefile_size_bytes: 8192,
        tracefile_count: 3,
        trace_chunk_id: 0,
    };
    let b = a.encode();
    assert_eq!(AddStream::decode(&b).unwrap(), a);
    // Every truncation fails; so does one byte more.
    for n in 0..b.len() {
        assert!(AddStream::decode(&b[..n]).is_err(), "prefix {n}");
    }
    let mut longer = b.clone();
    longer.push(0);
    assert!(AddStream::decode(&longer).is_err());
    // The NUL replaced.
    let mut bad = b.clone();
    let last = bad.len() - 1;
    bad[last] = b'x';
    assert!(AddStream::decode(&bad).is_err());
    // An absurd string length.
    let mut bad = b.clone();
    bad[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        AddStream::decode(&bad),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn index_and_chunk_messages_round_trip() {
    let i = SendIndex {
        relay_stream_id: 3,
        net_seq_num: 12,
        packet_size_bits: 32768,
        content_size_bits: 1000,
        timestamp_begin: 5,
        timestamp_end: 6,
        events_discarded: 0,
        stream_class_id: 0,
        stream_instance_id: 1,
        packet_seq_num: 12,
    };
    assert_eq!(i.encode().len(), SEND_INDEX_BYTES);
    assert_eq!(SendIndex::decode(&i.encode()).unwrap(), i);
    let c = CreateTraceChunk {
        chunk_id: 1,
        creation_timestamp_s: 2,
        override_name: Some("snapshot-1-20261206-235147-0".into()),
    };
    assert_eq!(c.encode().len(), 20 + 29);
    assert_eq!(CreateTraceChunk::decode(&c.encode()).unwrap(), c);
    let c = CloseTraceChunk {
        chunk_id: 0,
        close_timestamp_s: 9,
        close_command: None,
    };
    assert_eq!(c.encode().len(), CLOSE_TRACE_CHUNK_BYTES);
    assert_eq!(CloseTraceChunk::decode(&c.encode()).unwrap(), c);
    let r = CreateSessionReply {
        session_id: 1,
        ret_code: ret::OK,
        output_path: "vm/norm-20261206-235132".into(),
    };
    let b = r.encode();
    assert_eq!(b.len(), 16 + 24);
    assert_eq!(CreateSessionReply::decode(&b).unwrap(), r);
}

#[test]
fn names_cannot_leave_the_output_directory() {
    for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a\nb", "a\u{7f}"] {
        assert!(check_component(bad, 255, "name").is_err(), "{bad:?}");
    }
    check_component("my-host.example", 255, "name").unwrap();
    assert!(check_component(&"x".repeat(256), 255, "name").is_err());
    for bad in ["/etc", "a/../b", "a//b", "a/", "..", "ust/./x", "x/.y"] {
        assert!(
            check_relative_path(bad, 255, true, "path").is_err(),
            "{bad:?}"
        );
    }
    check_relative_path("ust/uid/1000/64-bit", 255, false, "path").unwrap();
    check_relative_path("ust/pid/app-12-20261206-235132", 255, false, "path").unwrap();
    check_relative_path("", 255, true, "path").unwrap();
    assert!(check_relative_path("", 255, false, "path").is_err());
    let deep = vec!["a"; MAX_PATH_COMPONENTS + 1].join("/");
    assert!(check_relative_path(&deep, 4096, false, "path").is_err());
}

/// Mutations of valid messages (flips, truncations, extensions, length fields set to extreme
/// values) through every decoder: `RTTNG_MUTATION_CASES` cases (default 20000), the same
/// oracle as the fuzz target.
#[test]
fn mutated_messages_never_panic_and_round_trip() {
    let cases: u64 = std::env::var("RTTNG_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seeds: Vec<Vec<u8>> = vec![
        CreateSession {
            session_name: "s".into(),
            hostname: "h".into(),
            base_path: "a/b".into(),
            live_timer_us: 1,
            snapshot: true,
            name_contains_creation_time: false,
            sessiond_uuid: [1; 16],
            sessiond_session_id: 2,
            creation_time_s: 3,
            current_chunk_id: Some(4),
        }
        .encode(),
        AddStream {
            channel_name: "ch0_0".into(),
            pathname: "ust/pid/a-1-20261206-000000".into(),
            tracefile_size_bytes: 1,
            tracefile_count: 2,
            trace_chunk_id: 3,
        }
        .encode(),
        SendIndex::default().encode(),
        RotateStreams {
            new_chunk_id: Some(1),
            positions: vec![
                RotatePosition {
                    stream_id: 1,
                    rotate_at_packet_seq_num: 2,
                };
                3
            ],
        }
        .encode(),
        CreateTraceChunk {
            chunk_id: 1,
            creation_timestamp_s: 2,
            override_name: Some("n".into()),
        }
        .encode(),
        CloseTraceChunk {
            chunk_id: 1,
            close_timestamp_s: 2,
            close_command: Some(0),
        }
        .encode(),
        ControlHeader {
            command: Command::SendMetadata,
            data_size: 4108,
        }
        .encode()
        .to_vec(),
        DataHeader {
            stream_id: 1,
            net_seq_num: 2,
            data_size: 3,
            padding_size: 4,
        }
        .encode()
        .to_vec(),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for case in 0..cases {
        let mut b = seeds[(case % seeds.len() as u64) as usize].clone();
        for _ in 0..=(rnd() % 4) {
            let len = b.len().max(1);
            match rnd() % 5 {
                0 if !b.is_empty() => {
                    let i = rnd() as usize % b.len();
                    b[i] ^= 1 << (rnd() % 8);
                }
                1 => b.truncate(rnd() as usize % len),
                2 => b.extend((0..rnd() % 24).map(|_| rnd() as u8)),
                3 if b.len() >= 4 => {
                    let i = rnd() as usize % (b.len() - 3);
                    let v = [0u32, 1, 0xff, 0xffff_ffff, 0x8000_0000][rnd() as usize % 5];
                    b[i..i + 4].copy_from_slice(&v.to_be_bytes());
                }
                _ => {
                    let i = rnd() as usize % len;
                    b.insert(i.min(b.len()), rnd() as u8);
                }
            }
        }
        crate::fuzzing::decode_everything(&b);
    }
}
