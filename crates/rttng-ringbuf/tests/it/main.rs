//! Integration tests of the ring buffer: packet layout, discard/overwrite behaviour,
//! flush, wakeup, a multi-threaded stress test checked against a sequential model, crash
//! recovery after `kill -9`, snapshots of live overwrite buffers, and an ignored event-path benchmark. Not the loom model
//! checks (those are `tests/loom.rs`, built only under `--cfg loom`).
#![cfg(not(loom))]

mod basic;
mod bench;
mod crash;
mod snapshot;
mod stress;
mod timestamps;

use rttng_ringbuf::{Config, Consumer, Mode, Producer};

pub const UUID: [u8; 16] = [
    0x2a, 0x64, 0x22, 0xd0, 0x6c, 0xee, 0x11, 0xe0, 0x8c, 0x08, 0xcb, 0x07, 0xd7, 0xb3, 0xa5, 0x64,
];

pub fn config(cpu_count: u32, subbuf_count: u32, subbuf_bytes: u32, mode: Mode) -> Config {
    Config {
        cpu_count,
        subbuf_count,
        subbuf_bytes,
        mode,
        stream_id: 3,
        uuid: UUID,
    }
}

/// A consumer and a producer mapping the consumer's memfd (the real two-mapping setup).
pub fn channel(config: &Config) -> (Consumer, Producer) {
    let consumer = Consumer::create(config).expect("create channel");
    let producer = Producer::from_fd(consumer.fd()).expect("map channel");
    (consumer, producer)
}

/// Test record: `[len u8][thread u8][seq u64 LE][payload][fnv1a-32 of the rest, LE]`.
pub const RECORD_OVERHEAD: usize = 14;

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn payload_byte(thread: u8, seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_add((i as u8).wrapping_mul(31)) ^ thread
}

/// Builds a record of `len` bytes (`len >= RECORD_OVERHEAD`, `len <= 255`).
pub fn make_record(thread: u8, seq: u64, len: usize) -> Vec<u8> {
    assert!((RECORD_OVERHEAD..=255).contains(&len));
    let mut r = Vec::with_capacity(len);
    r.push(len as u8);
    r.push(thread);
    r.extend_from_slice(&seq.to_le_bytes());
    r.extend((0..len - RECORD_OVERHEAD).map(|i| payload_byte(thread, seq, i)));
    let sum = fnv1a(&r);
    r.extend_from_slice(&sum.to_le_bytes());
    r
}

/// Splits a packet's records into `(thread, seq)`, checking every byte.
pub fn parse_records(mut records: &[u8]) -> Result<Vec<(u8, u64)>, String> {
    let mut out = Vec::new();
    while !records.is_empty() {
        let len = records[0] as usize;
        if len < RECORD_OVERHEAD || len > records.len() {
            return Err(format!(
                "bad record length {len} with {} bytes left",
                records.len()
            ));
        }
        let (rec, rest) = records.split_at(len);
        let thread = rec[1];
        let seq = u64::from_le_bytes(rec[2..10].try_into().unwrap());
        let sum = u32::from_le_bytes(rec[len - 4..].try_into().unwrap());
        if fnv1a(&rec[..len - 4]) != sum {
            return Err(format!(
                "checksum mismatch in record of thread {thread} seq {seq}"
            ));
        }
        for (i, &b) in rec[10..len - 4].iter().enumerate() {
            if b != payload_byte(thread, seq, i) {
                return Err(format!(
                    "payload byte {i} wrong in thread {thread} seq {seq}"
                ));
            }
        }
        out.push((thread, seq));
        records = rest;
    }
    Ok(out)
}

pub fn le_u64(bytes: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap())
}
