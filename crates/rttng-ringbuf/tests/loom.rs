//! Loom model checks of reserve/commit/switch/consume with 2–3 threads on a one-CPU
//! channel of two 256-byte sub-buffers. Loom explores the interleavings of every atomic
//! access and checks every data byte (one loom cell each) for unsynchronised access.
//! Built only with `--cfg loom`:
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p rttng-ringbuf --release --test loom`
//!
//! Not covered here: the futex wait (a system call) and overwrite-mode reads that race
//! with writers (a seqlock read is a data race by design; loom would flag it), both
//! covered by the std tests in `tests/it`.
#![cfg(loom)]

use loom::thread;
use rttng_ringbuf::{Config, Consumer, Mode, ReserveError};

/// Preemption bound: enough for the races below, small enough to finish in seconds.
const PREEMPTION_BOUND: usize = 3;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(PREEMPTION_BOUND);
    b.check(f);
}

fn config(mode: Mode) -> Config {
    Config {
        cpu_count: 1,
        subbuf_count: 2,
        subbuf_bytes: 256,
        mode,
        stream_id: 0,
        uuid: [1; 16],
    }
}

/// Record `tag` repeated `len` times (so a torn or misplaced record is visible).
fn record(tag: u8, len: usize) -> Vec<u8> {
    vec![tag; len]
}

/// Drains every packet: (packet_seq, records bytes).
fn drain(consumer: &mut Consumer) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(p) = consumer.get_next(0).expect("valid packet") {
        out.push((p.packet_seq(), p.records().to_vec()));
        p.release();
    }
    out
}

/// Splits records made by `record(tag, len)` back into (tag, len) runs.
fn runs(bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut out: Vec<(u8, usize)> = Vec::new();
    for &b in bytes {
        match out.last_mut() {
            Some((t, n)) if *t == b => *n += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

#[test]
fn two_writers_open_and_close_packets_concurrently() {
    // 100-byte records: one per packet, so each writer opens a packet and the second
    // one to reserve closes the first one's packet.
    model(|| {
        let mut consumer = Consumer::new_heap(&config(Mode::Discard)).unwrap();
        let handles: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|tag| {
                let producer = consumer.producer();
                thread::spawn(move || {
                    producer
                        .write(0, u64::from(tag), &record(tag, 100))
                        .map(|_| ())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        consumer.flush(0, false, || 10).unwrap();
        let packets = drain(&mut consumer);
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].0, 0);
        assert_eq!(packets[1].0, 1);
        let mut tags: Vec<_> = packets.iter().flat_map(|(_, r)| runs(r)).collect();
        tags.sort_unstable();
        assert_eq!(tags, vec![(1, 100), (2, 100)]);
    });
}

#[test]
fn two_writers_share_a_packet_and_the_consumer_never_sees_it_half_committed() {
    model(|| {
        let mut consumer = Consumer::new_heap(&config(Mode::Discard)).unwrap();
        let handles: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|tag| {
                let producer = consumer.producer();
                // 86 bytes each: 84 + 2 * 86 = 256, the second commit completes it.
                thread::spawn(move || {
                    producer
                        .write(0, u64::from(tag), &record(tag, 86))
                        .map(|_| ())
                })
            })
            .collect();
        // Concurrent read attempt: either nothing, or the complete packet.
        let early = drain(&mut consumer);
        for h in handles {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        let late = drain(&mut consumer);
        let all: Vec<_> = early.into_iter().chain(late).collect();
        assert_eq!(
            all.len(),
            1,
            "the packet was filled exactly, no flush needed"
        );
        let mut tags = runs(&all[0].1);
        tags.sort_unstable();
        assert_eq!(tags, vec![(1, 86), (2, 86)]);
    });
}

#[test]
fn writer_and_consumer_race_on_a_full_buffer() {
    // Three 100-byte records need packets 0, 1, 2; packet 2 reuses slot 0, so it is
    // written only if the consumer released packet 0 first; otherwise it is dropped
    // and counted.
    model(|| {
        let consumer = Consumer::new_heap(&config(Mode::Discard)).unwrap();
        let producer = consumer.producer();
        let writer = thread::spawn(move || {
            (0u8..3)
                .map(|i| {
                    producer
                        .write(0, u64::from(i), &record(10 + i, 100))
                        .map(|_| ())
                })
                .collect::<Vec<_>>()
        });
        let reader = thread::spawn(move || {
            let mut consumer = consumer;
            let got = drain(&mut consumer);
            (consumer, got)
        });
        let results = writer.join().unwrap();
        let (mut consumer, mut got) = reader.join().unwrap();
        consumer.flush(0, false, || 99).unwrap();
        got.extend(drain(&mut consumer));
        let read: Vec<(u8, usize)> = got.iter().flat_map(|(_, r)| runs(r)).collect();
        let written: Vec<(u8, usize)> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| (10 + i as u8, 100))
            .collect();
        assert_eq!(read, written, "exactly the committed records, in order");
        let dropped = results
            .iter()
            .filter(|r| **r == Err(ReserveError::Full))
            .count();
        assert_eq!(dropped + written.len(), 3);
        assert_eq!(consumer.events_discarded(0), dropped as u64);
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    });
}

#[test]
fn flush_races_with_a_writer() {
    model(|| {
        let mut consumer = Consumer::new_heap(&config(Mode::Discard)).unwrap();
        let producer = consumer.producer();
        producer.write(0, 1, &record(7, 40)).unwrap();
        let writer = thread::spawn(move || producer.write(0, 2, &record(8, 40)).map(|_| ()));
        consumer.flush(0, false, || 3).unwrap();
        assert_eq!(writer.join().unwrap(), Ok(()));
        consumer.flush(0, false, || 4).unwrap();
        let got = drain(&mut consumer);
        let read: Vec<(u8, usize)> = got.iter().flat_map(|(_, r)| runs(r)).collect();
        assert_eq!(read, vec![(7, 40), (8, 40)]);
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert!(seqs == vec![0] || seqs == vec![0, 1], "{seqs:?}");
    });
}

#[test]
fn overwrite_writers_lap_the_buffer() {
    // Two writers, two 100-byte records each, two slots: packets 0..=3, the last two
    // survive. Every surviving packet is complete.
    model(|| {
        let mut consumer = Consumer::new_heap(&config(Mode::Overwrite)).unwrap();
        let handles: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|tag| {
                let producer = consumer.producer();
                thread::spawn(move || {
                    (0..2)
                        .map(|i| producer.write(0, i, &record(tag, 100)).map(|_| ()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        consumer.flush(0, false, || 10).unwrap();
        let got = drain(&mut consumer);
        let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
        let busy = results
            .iter()
            .filter(|r| **r == Err(ReserveError::SlotBusy))
            .count() as u64;
        assert_eq!(ok + busy, 4, "{results:?}");
        assert_eq!(consumer.events_discarded(0), busy);
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![ok - 2, ok - 1], "the newest two packets survive");
        for (_, r) in &got {
            let rs = runs(r);
            assert_eq!(rs.len(), 1);
            assert_eq!(rs[0].1, 100);
        }
    });
}

/// Issue 11: a packet's `timestamp_end` is never older than an event in it. The trace clock
/// is a shared counter (every read is a later time); one thread reserves and writes its
/// time into its record while another flushes with the live clock. In every interleaving,
/// each packet's `timestamp_begin <= event <= timestamp_end`. (A flush given a time read
/// before the call fails this: the writer can reserve in between with a later time.)
#[test]
fn flush_never_ends_a_packet_before_its_events() {
    use loom::sync::atomic::{AtomicU64, Ordering};
    use loom::sync::Arc;
    model(|| {
        let mut consumer = Consumer::new_heap(&config(Mode::Discard)).unwrap();
        let clock = Arc::new(AtomicU64::new(1));
        let tick = {
            let clock = clock.clone();
            move || clock.fetch_add(1, Ordering::SeqCst)
        };
        let write = |producer: &rttng_ringbuf::Producer, tick: &dyn Fn() -> u64| {
            let mut r = producer.reserve_with_clock(0, 40, tick).unwrap();
            let mut rec = [0u8; 40];
            rec[..8].copy_from_slice(&r.timestamp().to_le_bytes());
            r.write(&rec);
            r.commit();
        };
        let producer = consumer.producer();
        write(&producer, &tick);
        let writer = {
            let tick = tick.clone();
            thread::spawn(move || write(&producer, &tick))
        };
        consumer.flush(0, false, &tick).unwrap();
        writer.join().unwrap();
        consumer.flush(0, false, &tick).unwrap();
        let mut events = 0;
        while let Some(p) = consumer.get_next(0).expect("valid packet") {
            let b = p.bytes();
            let le = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
            let (begin, end) = (le(32), le(40));
            for rec in p.records().chunks_exact(40) {
                let ts = u64::from_le_bytes(rec[..8].try_into().unwrap());
                assert!(
                    begin <= ts && ts <= end,
                    "event at {ts} outside its packet [{begin}, {end}]"
                );
                events += 1;
            }
            p.release();
        }
        assert_eq!(events, 2);
    });
}
