//! Event-path benchmark (ignored by default; numbers only mean something in release):
//! `cargo test -p rttng-ringbuf --release --test it -- --ignored --nocapture bench`.
//! One thread, reserve + write 30 bytes + commit, consumer draining in between rounds so
//! that no event is dropped. Prints ns per event; asserts only that nothing was lost.

use super::*;
use std::time::Instant;

const ROUNDS: u64 = 200;
const EVENTS_PER_ROUND: u64 = 100_000;

#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn bench_reserve_write_commit_30_bytes() {
    // 64 x 256 KiB = 16 MiB: one round (100k x 30 bytes = 3 MB) never fills the buffer,
    // and the consumer drains between rounds.
    let (mut consumer, producer) = channel(&config(1, 64, 256 * 1024, Mode::Discard));
    let record = [0x5au8; 30];
    let mut best_ns = f64::MAX;
    let mut total_ns = 0.0;
    let mut ts = 0u64;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..EVENTS_PER_ROUND {
            ts += 1;
            if let Ok(mut r) = producer.reserve(0, record.len(), ts) {
                r.write(&record);
                r.commit();
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / EVENTS_PER_ROUND as f64;
        best_ns = best_ns.min(ns);
        total_ns += ns;
        while let Some(p) = consumer.get_next(0).unwrap() {
            p.release();
        }
    }
    assert_eq!(
        consumer.events_discarded(0),
        0,
        "buffer sized so that nothing drops"
    );
    eprintln!(
        "reserve + write 30 B + commit: best {best_ns:.1} ns/event, mean {:.1} ns/event",
        total_ns / ROUNDS as f64
    );
}
