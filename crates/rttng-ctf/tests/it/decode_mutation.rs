//! Issue 2, acceptance 4: the packet decoder never panics or hangs on damaged data. Packets
//! written by our writer (every field type, both byte orders) are mutated at random — flipped
//! bytes, truncations, splices, length fields blown up — and decoding must return, Ok or Err.
//! The case count comes from `RTTNG_MUTATION_CASES` (CI runs 100000).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rttng_ctf::decode::{decode_stream, DecodeError};
use rttng_ctf::ir::Metadata;

fn cases() -> u32 {
    std::env::var("RTTNG_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// (metadata, stream bytes) of every sample trace's data streams.
fn streams() -> Vec<(Metadata, Vec<u8>)> {
    let mut out = Vec::new();
    for sample in rttng_ctf::writer::samples::all().expect("samples") {
        let meta = sample
            .files
            .iter()
            .find(|(p, _)| p.ends_with("metadata"))
            .expect("metadata file");
        let text = rttng_ctf::metadata_stream::decode_metadata_stream(&meta.1)
            .expect("sample metadata decodes");
        let mut md = rttng_ctf::tsdl::parse_metadata(&text.text).expect("sample metadata parses");
        rttng_ctf::roles::prepare(&mut md).expect("prepare");
        for (path, bytes) in &sample.files {
            if !path.ends_with("metadata") && !path.contains("index/") {
                out.push((md.clone(), bytes.clone()));
            }
        }
    }
    out
}

/// Applies random edits (see `issue_2_damaged_packets_give_errors_not_panics`) to `bytes`.
fn mutate(
    bytes: &mut Vec<u8>,
    edits: Vec<(prop::sample::Index, u8, u8)>,
    cut: Option<prop::sample::Index>,
) {
    for (at, value, kind) in edits {
        let i = at.index(bytes.len());
        match kind {
            0 => bytes[i] = value,
            1 => bytes[i] ^= 1 << (value % 8),
            // Blow up a 32-bit little/big-endian quantity (sizes, lengths, ids).
            2 => {
                for b in bytes.iter_mut().skip(i).take(4) {
                    *b = 0xff;
                }
            }
            _ => {
                let j = (i + usize::from(value)).min(bytes.len());
                bytes.copy_within(i..j, i / 2);
            }
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut.index(bytes.len() + 1));
    }
}

/// Runs `check` on `cases()` randomly damaged copies of the sample streams.
fn on_damaged_streams(
    all: &[(Metadata, Vec<u8>)],
    check: impl Fn(&Metadata, &[u8]) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..all.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..8),
        prop::option::of(any::<prop::sample::Index>()),
    );
    runner
        .run(&strategy, |(which, edits, cut)| {
            let (md, original) = &all[which];
            let mut bytes = original.clone();
            mutate(&mut bytes, edits, cut);
            check(md, &bytes)
        })
        .unwrap();
}

/// Events per event class index in one packet, or that the walk failed.
type PacketCounts = Result<Vec<u64>, ()>;

/// Per packet of `bytes`: the events per event class index that decoding every value finds
/// (or that it failed), and what `count_packet_events` finds. Stops at the first packet
/// whose header does not decode.
fn count_both_ways(md: &Metadata, bytes: &[u8]) -> Vec<(PacketCounts, PacketCounts)> {
    use rttng_ctf::decode::StreamDecoder;
    let (mut full, mut counter) = (StreamDecoder::new(md), StreamDecoder::new(md));
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let packet = &bytes[offset..];
        let Ok(info) = full.begin_packet(packet, offset as u64).cloned() else {
            break;
        };
        counter
            .begin_packet(packet, offset as u64)
            .expect("the same packet header decodes twice");
        let classes = md.streams[full.stream_class_index()].events.len();
        let mut decoded = vec![0u64; classes];
        let decoded = loop {
            match full.next_event(packet) {
                Ok(true) => {
                    let id = full.event_class().map(|e| e.id);
                    let i = md.streams[full.stream_class_index()]
                        .events
                        .iter()
                        .position(|e| Some(e.id) == id)
                        .expect("a decoded event has a class");
                    decoded[i] += 1;
                }
                Ok(false) => break Ok(decoded),
                Err(_) => break Err(()),
            }
        };
        let mut counted = vec![0u64; classes];
        let counted = counter
            .count_packet_events(packet, &mut counted)
            .map(|()| counted)
            .map_err(|_| ());
        out.push((decoded, counted));
        if info.packet_bits == 0 {
            break;
        }
        offset += (info.packet_bits / 8) as usize;
    }
    out
}

/// `--count`'s counting programs (clock values are not effects there, and scopes merge)
/// find exactly the events that full decoding finds, and fail exactly where it fails, on
/// damaged packets too.
#[test]
fn counting_agrees_with_decoding_on_damaged_packets() {
    let all = streams();
    for (md, bytes) in &all {
        for (decoded, counted) in count_both_ways(md, bytes) {
            assert!(decoded.is_ok());
            assert_eq!(decoded, counted);
        }
    }
    on_damaged_streams(&all, |md, bytes| {
        for (i, (decoded, counted)) in count_both_ways(md, bytes).into_iter().enumerate() {
            prop_assert_eq!(decoded, counted, "packet {}", i);
        }
        Ok(())
    });
}

#[test]
fn undamaged_samples_decode() {
    let all = streams();
    assert!(all.len() >= 7);
    for (md, bytes) in &all {
        let n = decode_stream(md, bytes).expect("an undamaged sample decodes");
        assert!(n > 0, "sample stream has events");
    }
}

#[test]
fn issue_2_damaged_packets_give_errors_not_panics() {
    let all = streams();
    on_damaged_streams(&all, |md, bytes| {
        match decode_stream(md, bytes) {
            Ok(_) => {}
            Err(e) => {
                // The error's offset points into the stream.
                prop_assert!(
                    e.offset() <= bytes.len() as u64,
                    "offset {} beyond {} bytes: {e}",
                    e.offset(),
                    bytes.len()
                );
            }
        }
        Ok(())
    });
}

#[test]
fn specific_damage_is_reported_precisely() {
    let all = streams();
    let (md, bytes) = &all[0];
    // Wrong magic.
    let mut b = bytes.clone();
    b[0] ^= 0xff;
    assert!(matches!(
        decode_stream(md, &b),
        Err(DecodeError::BadMagic { offset: 0, .. })
    ));
    // Truncated packet: the packet size now exceeds the file.
    let b = &bytes[..bytes.len() - 1];
    assert!(matches!(
        decode_stream(md, b),
        Err(DecodeError::PacketBeyondFile { offset: 0, .. })
    ));
    // Random bytes instead of a stream.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(decode_stream(md, &noise).is_err());
}

/// Counting walks events with the skip programs; it must see exactly the events that full
/// decoding sees, with the same event classes and clock values.
#[test]
fn skipping_and_decoding_walk_the_same_events() {
    use rttng_ctf::decode::StreamDecoder;
    for (md, bytes) in streams() {
        let mut full = StreamDecoder::new(&md);
        let mut skim = StreamDecoder::new(&md);
        let mut offset = 0usize;
        let mut events = 0;
        while offset < bytes.len() {
            let packet = &bytes[offset..];
            let a = full
                .begin_packet(packet, offset as u64)
                .expect("sample packet")
                .clone();
            let b = skim
                .begin_packet(packet, offset as u64)
                .expect("sample packet")
                .clone();
            assert_eq!(a, b);
            loop {
                let more = full.next_event(packet).expect("decode");
                assert_eq!(more, skim.skip_event(packet).expect("skip"));
                if !more {
                    break;
                }
                events += 1;
                assert_eq!(full.event_offset(), skim.event_offset());
                assert_eq!(full.clock_value(), skim.clock_value());
                assert_eq!(
                    full.event_class().map(|e| e.id),
                    skim.event_class().map(|e| e.id)
                );
            }
            offset += (a.packet_bits / 8) as usize;
        }
        assert!(events > 0);
    }
}
