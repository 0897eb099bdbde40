//! Single-threaded behaviour: the packet bytes (checked against the spec's offsets, not
//! the crate's constants), discard and overwrite modes, flush, wakeup, bad shared memory.

use super::*;
use rttng_ringbuf::{FlushOutcome, MapError, RecoveryReport, ReserveError};
use std::time::{Duration, Instant};

#[test]
fn packet_bytes_follow_the_lttng_layout() {
    let (mut consumer, producer) = channel(&config(2, 2, 512, Mode::Discard));
    let recs = [
        make_record(1, 0, 20),
        make_record(1, 1, 30),
        make_record(1, 2, 14),
    ];
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(producer.write(1, 100 + 100 * i as u64, r), Ok(0));
    }
    assert!(
        consumer.get_next(1).unwrap().is_none(),
        "open packet must not be readable"
    );
    assert_eq!(
        producer.flush(1, false, || 400),
        Ok(FlushOutcome::Closed { packet_seq: 0 })
    );
    let pkt = consumer.get_next(1).unwrap().expect("closed packet");
    let b = pkt.bytes();
    assert_eq!(b.len(), 512);
    assert_eq!(&b[0..4], &[0xc1, 0x1f, 0xfc, 0xc1]);
    assert_eq!(&b[4..20], &UUID);
    assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 3);
    assert_eq!(le_u64(b, 24), 1, "stream_instance_id = cpu");
    assert_eq!(le_u64(b, 32), 100, "timestamp_begin = first event");
    assert_eq!(le_u64(b, 40), 400, "timestamp_end = flush time");
    assert_eq!(le_u64(b, 48), (84 + 64) * 8, "content_size in bits");
    assert_eq!(le_u64(b, 56), 512 * 8, "packet_size in bits");
    assert_eq!(le_u64(b, 64), 0, "packet_seq_num");
    assert_eq!(le_u64(b, 72), 0, "events_discarded");
    assert_eq!(
        u32::from_le_bytes(b[80..84].try_into().unwrap()),
        1,
        "cpu_id"
    );
    let mut expected = Vec::new();
    recs.iter().for_each(|r| expected.extend_from_slice(r));
    assert_eq!(&b[84..84 + 64], &expected[..]);
    assert!(b[84 + 64..].iter().all(|&x| x == 0), "padding is zero");
    assert_eq!(pkt.records(), &expected[..]);
    pkt.release();
    assert!(consumer.get_next(0).unwrap().is_none(), "cpu 0 saw nothing");
}

#[test]
fn discard_mode_drops_and_counts_when_full() {
    // 256-byte packets hold 3 records of 50 bytes (84 + 150 <= 256 < 84 + 200).
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    let mut results = Vec::new();
    for seq in 0..10 {
        results.push(producer.write(0, seq, &make_record(0, seq, 50)));
    }
    let expected: Vec<_> = [Ok(0), Ok(0), Ok(0), Ok(1), Ok(1), Ok(1)]
        .into_iter()
        .chain(std::iter::repeat_n(Err(ReserveError::Full), 4))
        .collect();
    assert_eq!(results, expected);
    assert_eq!(consumer.events_discarded(0), 4);

    let pkt = consumer
        .get_next(0)
        .unwrap()
        .expect("packet 0 was closed by the switch");
    assert_eq!(pkt.packet_seq(), 0);
    assert_eq!(
        parse_records(pkt.records()).unwrap(),
        vec![(0, 0), (0, 1), (0, 2)]
    );
    assert_eq!(le_u64(pkt.bytes(), 72), 0, "no loss before packet 0 closed");
    assert_eq!(le_u64(pkt.bytes(), 40), 3, "closed by the event at ts 3");
    pkt.release();
    assert!(
        consumer.get_next(0).unwrap().is_none(),
        "packet 1 still open"
    );

    producer.flush(0, false, || 50).unwrap();
    let pkt = consumer.get_next(0).unwrap().expect("packet 1");
    assert_eq!(
        parse_records(pkt.records()).unwrap(),
        vec![(0, 3), (0, 4), (0, 5)]
    );
    assert_eq!(le_u64(pkt.bytes(), 72), 4, "cumulative discarded count");
    pkt.release();
    assert_eq!(producer.write(0, 60, &make_record(0, 10, 50)), Ok(2));
}

#[test]
fn a_record_that_fills_the_packet_closes_it() {
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    assert_eq!(producer.write(0, 7, &make_record(0, 0, 172)), Ok(0));
    let pkt = consumer
        .get_next(0)
        .unwrap()
        .expect("full packet needs no flush");
    assert_eq!(le_u64(pkt.bytes(), 48), 256 * 8);
    assert_eq!(le_u64(pkt.bytes(), 40), 7);
    assert_eq!(parse_records(pkt.records()).unwrap(), vec![(0, 0)]);
    pkt.release();
    assert_eq!(
        producer.flush(0, false, || 8),
        Ok(FlushOutcome::NothingOpen)
    );
    assert_eq!(producer.write(0, 9, &make_record(0, 1, 20)), Ok(1));
}

#[test]
fn oversized_records_are_rejected_and_counted() {
    let (consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    assert_eq!(producer.max_record_bytes(), 172);
    assert_eq!(
        producer.reserve(0, 173, 0).err(),
        Some(ReserveError::TooBig)
    );
    assert_eq!(consumer.events_discarded(0), 1);
}

#[test]
fn empty_flush_produces_a_header_only_packet() {
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    assert_eq!(
        producer.flush(0, false, || 5),
        Ok(FlushOutcome::NothingOpen)
    );
    assert!(consumer.get_next(0).unwrap().is_none());
    assert_eq!(
        consumer.flush(0, true, || 5),
        Ok(FlushOutcome::Closed { packet_seq: 0 })
    );
    let pkt = consumer.get_next(0).unwrap().expect("empty packet");
    assert_eq!(le_u64(pkt.bytes(), 48), 84 * 8);
    assert_eq!(le_u64(pkt.bytes(), 32), 5);
    assert_eq!(le_u64(pkt.bytes(), 40), 5);
    assert!(pkt.records().is_empty());
    pkt.release();
    assert_eq!(
        consumer.events_discarded(0),
        0,
        "an empty flush is not a lost event"
    );
}

#[test]
fn unreleased_packet_is_returned_again() {
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    producer.write(0, 1, &make_record(0, 0, 172)).unwrap();
    assert_eq!(
        consumer.get_next(0).unwrap().map(|p| p.packet_seq()),
        Some(0)
    );
    assert_eq!(
        consumer.get_next(0).unwrap().map(|p| p.packet_seq()),
        Some(0)
    );
}

#[test]
fn overwrite_mode_keeps_the_newest_packets() {
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Overwrite));
    for seq in 0..20 {
        assert!(
            producer.write(0, seq, &make_record(0, seq, 50)).is_ok(),
            "overwrite never drops"
        );
    }
    producer.flush(0, false, || 100).unwrap();
    // 3 records per packet: packets 0..=6, the last holding seq 18, 19; 2 slots kept.
    let mut got = Vec::new();
    while let Some(pkt) = consumer.get_next(0).unwrap() {
        got.push((pkt.packet_seq(), parse_records(pkt.records()).unwrap()));
        pkt.release();
    }
    assert_eq!(
        got,
        vec![
            (5, vec![(0, 15), (0, 16), (0, 17)]),
            (6, vec![(0, 18), (0, 19)])
        ]
    );
    assert_eq!(consumer.events_discarded(0), 0);
}

#[test]
fn reservation_dropped_half_written_is_zero_filled_and_committed() {
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    {
        let mut r = producer.reserve(0, 10, 1).unwrap();
        assert!(r.write(&[0xaa; 4]));
        assert!(!r.write(&[0xbb; 7]), "overflowing write is refused");
    }
    producer.flush(0, false, || 2).unwrap();
    let pkt = consumer.get_next(0).unwrap().expect("packet");
    assert_eq!(pkt.records(), &[0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn wait_returns_when_a_subbuffer_completes() {
    let (consumer, producer) = channel(&config(2, 2, 256, Mode::Discard));
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| producer.write(1, 1, &make_record(0, 0, 172)).unwrap());
        assert!(
            consumer.wait(Duration::from_secs(20)),
            "woken with a packet ready"
        );
    });
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "woken, not timed out"
    );
}

#[test]
fn wait_times_out_without_packets() {
    let (consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    producer.write(0, 1, &make_record(0, 0, 20)).unwrap(); // open packet: not complete
    let start = Instant::now();
    assert!(!consumer.wait(Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(25));
}

#[test]
fn producer_rejects_memory_that_is_not_a_channel() {
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    // SAFETY: plain syscalls; the fd is checked and owned.
    let fd = unsafe {
        let raw = libc::memfd_create(c"not-a-channel".as_ptr(), libc::MFD_CLOEXEC);
        assert!(raw >= 0);
        assert_eq!(libc::ftruncate(raw, 8192), 0);
        OwnedFd::from_raw_fd(raw)
    };
    assert!(matches!(
        Producer::from_fd(fd.as_fd()),
        Err(MapError::BadMagic { found: 0 })
    ));
}

#[test]
fn producer_rejects_a_channel_of_another_abi_major() {
    use rttng_abi::{ChannelHeader, ABI_MAJOR};
    use std::os::fd::AsRawFd;
    let consumer = Consumer::create(&config(1, 2, 512, Mode::Discard)).expect("create channel");
    // What a consumer of an incompatible version would have written: same magic and layout,
    // another major version.
    let other = (ABI_MAJOR + 1).to_le_bytes();
    let at = std::mem::offset_of!(ChannelHeader, abi_major) as libc::off_t;
    // SAFETY: pwrite from a live local buffer into the channel's own memfd.
    let n = unsafe { libc::pwrite(consumer.fd().as_raw_fd(), other.as_ptr().cast(), 2, at) };
    assert_eq!(n, 2);
    assert!(matches!(
        Producer::from_fd(consumer.fd()),
        Err(MapError::AbiMajor { found }) if found == ABI_MAJOR + 1
    ));
}

#[test]
fn recovery_closes_an_open_packet_of_a_dead_producer() {
    let (mut consumer, producer) = channel(&config(2, 2, 512, Mode::Discard));
    producer.write(1, 1, &make_record(0, 0, 20)).unwrap();
    producer.write(1, 2, &make_record(0, 1, 30)).unwrap();
    drop(producer);
    assert!(consumer.get_next(1).unwrap().is_none());
    // SAFETY: the producer is gone.
    let report = unsafe { consumer.recover_dead_producer(9) };
    assert_eq!(
        report,
        RecoveryReport {
            packets_closed: 1,
            headers_rewritten: 0,
            committed_bytes_after_hole: 0
        }
    );
    let pkt = consumer.get_next(1).unwrap().expect("recovered packet");
    assert_eq!(parse_records(pkt.records()).unwrap(), vec![(0, 0), (0, 1)]);
    assert_eq!(le_u64(pkt.bytes(), 40), 9, "ended at the recovery time");
    assert_eq!(le_u64(pkt.bytes(), 48), (84 + 50) * 8);
    pkt.release();
    assert!(
        consumer.get_next(0).unwrap().is_none(),
        "cpu 0 never had a packet"
    );
}

#[test]
fn recovery_truncates_a_packet_at_an_uncommitted_reservation() {
    let (mut consumer, producer) = channel(&config(1, 2, 512, Mode::Discard));
    producer.write(0, 1, &make_record(0, 0, 20)).unwrap();
    // A thread that died between reserve and commit.
    std::mem::forget(producer.reserve(0, 30, 2).unwrap());
    producer.write(0, 3, &make_record(0, 2, 25)).unwrap();
    drop(producer);
    // SAFETY: the producer is gone.
    let report = unsafe { consumer.recover_dead_producer(10) };
    assert_eq!(
        report,
        RecoveryReport {
            packets_closed: 1,
            headers_rewritten: 0,
            committed_bytes_after_hole: 25
        }
    );
    let pkt = consumer.get_next(0).unwrap().expect("recovered packet");
    assert_eq!(parse_records(pkt.records()).unwrap(), vec![(0, 0)]);
    assert_eq!(le_u64(pkt.bytes(), 48), (84 + 20) * 8);
}

#[test]
fn recovery_of_a_stalled_older_packet_keeps_packet_times_ordered() {
    // 3 records of 50 bytes per 256-byte packet; the 2nd record of packet 0 is never
    // committed, packet 1 completes, packet 2 is open.
    let (mut consumer, producer) = channel(&config(1, 4, 256, Mode::Discard));
    producer.write(0, 10, &make_record(0, 0, 50)).unwrap();
    std::mem::forget(producer.reserve(0, 50, 20).unwrap());
    for seq in 2..7 {
        producer
            .write(0, seq * 10, &make_record(0, seq, 50))
            .unwrap();
    }
    assert!(
        consumer.get_next(0).unwrap().is_none(),
        "packet 0 is stuck on the hole"
    );
    drop(producer);
    // SAFETY: the producer is gone.
    let report = unsafe { consumer.recover_dead_producer(1000) };
    assert_eq!(
        report.packets_closed, 2,
        "packet 0 (hole) and packet 2 (open)"
    );
    // Record 2 (50 bytes) and the closing padding (256 - 84 - 150 = 22) sat after it.
    assert_eq!(report.committed_bytes_after_hole, 72);
    let mut got = Vec::new();
    while let Some(pkt) = consumer.get_next(0).unwrap() {
        let b = pkt.bytes();
        got.push((
            pkt.packet_seq(),
            le_u64(b, 32),
            le_u64(b, 40),
            parse_records(pkt.records()).unwrap(),
        ));
        pkt.release();
    }
    assert_eq!(
        got,
        vec![
            (0, 10, 30, vec![(0, 0)]),
            (1, 30, 60, vec![(0, 3), (0, 4), (0, 5)]),
            (2, 60, 1000, vec![(0, 6)]),
        ]
    );
}

#[test]
fn corrupted_shared_counters_never_panic_either_side() {
    use std::os::fd::AsRawFd;
    let (mut consumer, producer) = channel(&config(1, 2, 256, Mode::Discard));
    // write_pos of cpu 0 (offset 128) near the end of u64, commit word of slot 0
    // (offset 256) with an impossible prefix, written behind the library's back.
    for (off, value) in [(128i64, u64::MAX - 5), (256, (1u64 << 27) | 0xfff_ffff)] {
        // SAFETY: pwrite into the memfd we own, 8 bytes from a local buffer.
        let n = unsafe {
            libc::pwrite(
                consumer.fd().as_raw_fd(),
                value.to_le_bytes().as_ptr().cast(),
                8,
                off,
            )
        };
        assert_eq!(n, 8);
    }
    for seq in 0..10 {
        let _ = producer.write(0, seq, &make_record(0, seq, 50));
    }
    let _ = producer.flush(0, true, || 11);
    let _ = consumer.flush(0, true, || 12);
    for _ in 0..4 {
        if let Ok(Some(p)) = consumer.get_next(0) {
            p.release()
        }
    }
    assert!(
        consumer.events_discarded(0) > 0,
        "refused events are counted"
    );
}

/// Writes `pkt` to a fresh file as `len` bytes with `header`, and reads the file back.
fn write_in_place(
    pkt: &rttng_ringbuf::InPlacePacket<'_>,
    header: &[u8; 84],
    len: usize,
) -> Vec<u8> {
    use std::io::{Read, Seek};
    use std::os::fd::AsFd;
    let path = std::env::temp_dir().join(format!(
        "rttng-ringbuf-in-place-{}-{}",
        std::process::id(),
        pkt.packet_seq()
    ));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let _ = std::fs::remove_file(&path);
    pkt.write_to(f.as_fd(), header, len).unwrap();
    f.rewind().unwrap();
    let mut out = Vec::new();
    f.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn in_place_packets_are_written_from_shared_memory_with_zero_padding() {
    // Lap 0 fills slot 0 with records; lap 1 puts fewer records in the same slot, so
    // shared memory past its content still holds lap 0's bytes: they must not reach the
    // file.
    // 8 records of 50 bytes fill a 512-byte packet.
    let (mut consumer, producer) = channel(&config(1, 2, 512, Mode::Discard));
    let mut taken = Vec::new();
    for seq in 0..17 {
        producer.write(0, seq, &make_record(0, seq, 50)).unwrap();
        if seq == 8 || seq == 16 {
            let pkt = consumer
                .get_next_in_place(0)
                .unwrap()
                .expect("closed packet");
            taken.push((pkt.packet_seq(), pkt.content_bytes()));
            pkt.release();
        }
    }
    assert_eq!(taken, vec![(0, 84 + 400), (1, 84 + 400)]);
    assert!(producer.flush(0, false, || 100).is_ok());
    let pkt = consumer.get_next_in_place(0).unwrap().expect("packet 2");
    assert_eq!(pkt.packet_seq(), 2, "third packet, slot 0 again");
    assert_eq!(pkt.content_bytes(), 84 + 50, "one record (seq 16)");
    let header = *pkt.header();
    assert_eq!(le_u64(&header, 64), 2, "packet_seq_num in the header copy");
    assert_eq!(le_u64(&header, 48), (84 + 50) * 8);

    let whole = write_in_place(&pkt, &header, 512);
    assert_eq!(whole.len(), 512);
    assert_eq!(&whole[..84], &header[..]);
    assert_eq!(&whole[84..134], &make_record(0, 16, 50)[..]);
    assert!(
        whole[134..].iter().all(|&b| b == 0),
        "padding is zeros, not lap 0's bytes"
    );

    // A shorter length cuts the packet; the caller's header is what is written.
    let mut short_header = header;
    short_header[56..64].copy_from_slice(&(256u64 * 8).to_le_bytes());
    let short = write_in_place(&pkt, &short_header, 256);
    assert_eq!(short.len(), 256);
    assert_eq!(le_u64(&short, 56), 256 * 8);
    assert_eq!(&short[84..256], &whole[84..256]);
    assert!(pkt
        .write_to(std::os::fd::AsFd::as_fd(&std::io::stderr()), &header, 513)
        .is_err());
    assert!(pkt
        .write_to(std::os::fd::AsFd::as_fd(&std::io::stderr()), &header, 83)
        .is_err());
    pkt.release();
    assert!(consumer.get_next_in_place(0).unwrap().is_none());
}

#[test]
fn in_place_packets_in_overwrite_mode_are_copies() {
    let (mut consumer, producer) = channel(&config(1, 2, 512, Mode::Overwrite));
    for seq in 0..3 {
        producer.write(0, seq, &make_record(0, seq, 40)).unwrap();
    }
    assert!(producer.flush(0, false, || 100).is_ok());
    let pkt = consumer
        .get_next_in_place(0)
        .unwrap()
        .expect("closed packet");
    let header = *pkt.header();
    let bytes = write_in_place(&pkt, &header, 512);
    assert_eq!(
        parse_records(&bytes[84..pkt.content_bytes()]).unwrap(),
        vec![(0, 0), (0, 1), (0, 2)]
    );
    assert!(bytes[pkt.content_bytes()..].iter().all(|&b| b == 0));
}

#[test]
fn preallocate_reserves_blocks_without_changing_the_size() {
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let path = std::env::temp_dir().join(format!("rttng-ringbuf-prealloc-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"abc").unwrap();
    let r = rttng_ringbuf::preallocate(f.as_fd(), 0, 1 << 20);
    let meta = f.metadata().unwrap();
    let _ = std::fs::remove_file(&path);
    match r {
        Ok(()) => {
            assert_eq!(meta.len(), 3, "size unchanged");
            assert!(
                meta.blocks() * 512 >= 1 << 20,
                "blocks reserved: {}",
                meta.blocks()
            );
        }
        // A temporary directory on a file system without fallocate.
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP)),
    }
}
