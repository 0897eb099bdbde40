//! Snapshots of live overwrite-mode buffers ([`Consumer::snapshot`]): what one snapshot
//! holds (the newest whole packets, contiguous, the open packet flushed in, at most the
//! requested count), that a half-committed packet is left out with everything older, and
//! a stress test where writers never stop while snapshots are taken in a loop.

use super::*;
use rttng_ringbuf::{StreamSnapshot, MAX_COMMIT_WAIT};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `(thread, seq)` of every record of every packet, checking packet numbers follow each
/// other and every byte of every record.
fn events_of(snap: &StreamSnapshot) -> Result<Vec<(u8, u64)>, String> {
    let mut out = Vec::new();
    let mut prev: Option<u64> = None;
    for p in snap.packets() {
        if let Some(q) = prev {
            if p.packet_seq != q + 1 {
                return Err(format!("packet {} after packet {q}", p.packet_seq));
            }
        }
        prev = Some(p.packet_seq);
        if le_u64(p.bytes, 64) != p.packet_seq {
            return Err(format!("header says packet {}", le_u64(p.bytes, 64)));
        }
        if le_u64(p.bytes, 48) != p.content_bytes as u64 * 8 {
            return Err("content_size disagrees".into());
        }
        if p.bytes[p.content_bytes..].iter().any(|&b| b != 0) {
            return Err(format!("padding of packet {} not zeroed", p.packet_seq));
        }
        out.extend(parse_records(&p.bytes[84..p.content_bytes])?);
    }
    Ok(out)
}

#[test]
fn snapshot_holds_the_newest_packets_and_the_open_one() {
    // 4 packets of 256 bytes, 3 records of 50 bytes each: 12 records fit, 40 are written.
    let (consumer, producer) = channel(&config(1, 4, 256, Mode::Overwrite));
    for seq in 0..40 {
        producer
            .write(0, seq, &make_record(0, seq, 50))
            .expect("overwrite mode never refuses a lone writer");
    }
    let mut snap = StreamSnapshot::new();
    consumer.snapshot(0, Some(&mut || 1000), 0, &mut snap);
    let events = events_of(&snap).expect("valid run");
    // 40 records = 13 full packets + 1 record in the open packet 13, which the flush
    // closed: the buffer holds packets 10..=13.
    assert_eq!(snap.packet_count(), 4);
    assert_eq!(snap.packets().next().unwrap().packet_seq, 10);
    let seqs: Vec<u64> = events.iter().map(|e| e.1).collect();
    assert_eq!(
        seqs,
        (30..40).collect::<Vec<_>>(),
        "gap-free tail up to the last"
    );
    assert_eq!(snap.packets_skipped(), 0);
    let last = snap.packets().last().unwrap();
    assert_eq!(
        le_u64(last.bytes, 40),
        1000,
        "flush time ends the flushed packet"
    );

    // Writing goes on after a snapshot, and the next one sees the new tail.
    for seq in 40..45 {
        producer.write(0, seq, &make_record(0, seq, 50)).unwrap();
    }
    consumer.snapshot(0, Some(&mut || 2000), 0, &mut snap);
    let seqs: Vec<u64> = events_of(&snap).unwrap().iter().map(|e| e.1).collect();
    assert_eq!(*seqs.last().unwrap(), 44);
    assert_eq!(snap.packets().next().unwrap().packet_seq, 12);
}

#[test]
fn snapshot_keeps_at_most_the_requested_packets() {
    let (consumer, producer) = channel(&config(2, 8, 256, Mode::Overwrite));
    for seq in 0..100 {
        producer.write(1, seq, &make_record(1, seq, 50)).unwrap();
    }
    let mut snap = StreamSnapshot::new();
    consumer.snapshot(1, Some(&mut || 5000), 2, &mut snap);
    assert_eq!(snap.packet_count(), 2);
    let seqs: Vec<u64> = events_of(&snap).unwrap().iter().map(|e| e.1).collect();
    assert_eq!(*seqs.last().unwrap(), 99);
    assert_eq!(snap.cpu(), 1);
    // CPU 0 saw nothing: an empty snapshot, not an error.
    consumer.snapshot(0, Some(&mut || 5000), 0, &mut snap);
    assert!(snap.is_empty());
    assert_eq!(snap.packets_skipped(), 0);
}

#[test]
fn snapshot_without_flush_leaves_the_open_packet_out() {
    let (consumer, producer) = channel(&config(1, 4, 256, Mode::Overwrite));
    for seq in 0..7 {
        producer.write(0, seq, &make_record(0, seq, 50)).unwrap();
    }
    let mut snap = StreamSnapshot::new();
    consumer.snapshot(0, None, 0, &mut snap);
    let seqs: Vec<u64> = events_of(&snap).unwrap().iter().map(|e| e.1).collect();
    assert_eq!(seqs, (0..6).collect::<Vec<_>>());
}

#[test]
fn a_packet_still_being_written_is_left_out_with_the_older_ones() {
    let (consumer, producer) = channel(&config(1, 4, 256, Mode::Overwrite));
    producer.write(0, 0, &make_record(0, 0, 50)).unwrap();
    // A writer reserved in packet 0 and has not committed yet.
    let held = producer.reserve(0, 50, 1).expect("reserve");
    for seq in 2..10 {
        producer.write(0, seq, &make_record(0, seq, 50)).unwrap();
    }
    let mut snap = StreamSnapshot::new();
    let t = Instant::now();
    consumer.snapshot(0, Some(&mut || 100), 0, &mut snap);
    let waited = t.elapsed();
    assert!(
        waited >= MAX_COMMIT_WAIT,
        "waited for the writer: {waited:?}"
    );
    assert!(waited < MAX_COMMIT_WAIT * 20, "bounded wait: {waited:?}");
    assert_eq!(snap.packets_incomplete(), 1);
    let first = snap.packets().next().unwrap().packet_seq;
    assert_eq!(first, 1, "packet 0 (incomplete) is not in the run");
    assert_eq!(snap.packets_skipped(), 1);
    let seqs: Vec<u64> = events_of(&snap).unwrap().iter().map(|e| e.1).collect();
    assert_eq!(*seqs.last().unwrap(), 9);
    drop(held);
}

/// Writers write without pause, one per CPU buffer (so each stream is one writer's
/// sequence), while snapshots are taken in a loop. Every snapshot of every CPU must be a
/// run of consecutive packets whose records are intact; the writer's events in it must be
/// consecutive (nothing duplicated, nothing missing inside the run) and reach at least the
/// last event it had committed before the snapshot began.
#[test]
fn snapshots_taken_while_writers_write_are_whole_and_contiguous() {
    stress(0, 8, 1024);
    stress(0, 2, 16384);
}

/// As above, with two more writers that hop between the buffers (half-committed packets,
/// out-of-order commits, refused reservations): the pinned writers' events in a run stay
/// consecutive, and the hopping writers' events appear at most once and in order. (The
/// pinned writer's last events may be overwritten by the hoppers' here.)
#[test]
fn snapshots_taken_while_hopping_writers_write_are_whole_and_contiguous() {
    stress(2, 8, 1024);
}

fn stress(hoppers: u8, subbuf_count: u32, subbuf_bytes: u32) {
    const CPUS: u32 = 2;
    const SNAPSHOTS: u32 = 1000;
    let (consumer, producer) = channel(&config(CPUS, subbuf_count, subbuf_bytes, Mode::Overwrite));
    let stop = AtomicBool::new(false);
    // Per pinned writer: the last seq whose commit returned (u64::MAX: none yet).
    let committed: Vec<AtomicU64> = (0..CPUS).map(|_| AtomicU64::new(u64::MAX)).collect();
    let clock = AtomicU64::new(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut checked_events = 0u64;
    let mut lapped_snapshots = 0u64;
    std::thread::scope(|s| {
        for cpu in 0..CPUS {
            let (producer, stop, committed, clock) = (&producer, &stop, &committed, &clock);
            s.spawn(move || {
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ts = clock.fetch_add(1, Ordering::Relaxed);
                    let len = 14 + (seq % 60) as usize;
                    // Refused (SlotBusy: a hopping writer is still committing in the
                    // slot's previous packet) is retried, so the committed seqs of this
                    // writer have no gaps.
                    if producer
                        .write(cpu, ts, &make_record(cpu as u8, seq, len))
                        .is_ok()
                    {
                        committed[cpu as usize].store(seq, Ordering::Release);
                        seq += 1;
                    }
                }
            });
        }
        for t in 0..hoppers {
            let (producer, stop, clock) = (&producer, &stop, &clock);
            s.spawn(move || {
                let thread = 10 + t;
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ts = clock.fetch_add(1, Ordering::Relaxed);
                    let cpu = (seq % u64::from(CPUS)) as u32;
                    let _ = producer.write(cpu, ts, &make_record(thread, seq, 40));
                    seq += 1;
                }
            });
        }
        // Wait for every pinned writer to have written (bounded), so snapshots see data.
        while committed
            .iter()
            .any(|c| c.load(Ordering::Acquire) == u64::MAX)
        {
            assert!(Instant::now() < deadline, "writers never started");
            std::thread::yield_now();
        }
        let mut snap = StreamSnapshot::new();
        for _ in 0..SNAPSHOTS {
            assert!(Instant::now() < deadline, "stress test took too long");
            for cpu in 0..CPUS {
                let before = committed[cpu as usize].load(Ordering::Acquire);
                consumer.snapshot(
                    cpu,
                    Some(&mut || clock.fetch_add(1, Ordering::Relaxed)),
                    0,
                    &mut snap,
                );
                let events = match events_of(&snap) {
                    Ok(e) => e,
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        panic!("cpu {cpu}: {e}");
                    }
                };
                lapped_snapshots += u64::from(snap.packets_skipped() > 0);
                let pinned: Vec<u64> = events
                    .iter()
                    .filter(|e| u32::from(e.0) == cpu)
                    .map(|e| e.1)
                    .collect();
                let ok = pinned.windows(2).all(|w| w[1] == w[0] + 1)
                    && (before == u64::MAX
                        || snap.packets_incomplete() > 0
                        || hoppers > 0
                        || pinned.last().is_some_and(|&l| l >= before));
                if !ok {
                    stop.store(true, Ordering::Relaxed);
                    panic!(
                        "cpu {cpu}: pinned writer's events not a gap-free tail reaching {before}: {:?}..{:?} ({} events; {} packets, skipped {}, incomplete {}, corrupt {})",
                        pinned.first(),
                        pinned.last(),
                        pinned.len(), snap.packet_count(), snap.packets_skipped(), snap.packets_incomplete(), snap.packets_corrupt()
                    );
                }
                for t in 10..10 + hoppers {
                    let hop: Vec<u64> = events.iter().filter(|e| e.0 == t).map(|e| e.1).collect();
                    if !hop.windows(2).all(|w| w[1] > w[0]) {
                        stop.store(true, Ordering::Relaxed);
                        panic!("cpu {cpu}: thread {t} duplicated or out of order");
                    }
                }
                checked_events += events.len() as u64;
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(checked_events > 0, "snapshots held events");
    eprintln!(
        "snapshot stress: {checked_events} events checked, {lapped_snapshots} of {} snapshots lost older packets to writers",
        SNAPSHOTS * CPUS
    );
}
