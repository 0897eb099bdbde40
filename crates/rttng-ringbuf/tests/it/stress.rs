//! Stress: 8 writer threads hop between 2 CPU buffers of a small channel while a
//! consumer thread drains concurrently. Writers log what the ring buffer told them
//! (committed into packet P of CPU C, or dropped); the log is the sequential model the
//! consumer's output is checked against.
//!
//! Discard mode property: every committed event is read exactly once, intact, from the
//! packet it was committed to; packets arrive 0, 1, 2, ... per CPU; the last packet's
//! cumulative `events_discarded` equals the number of dropped events of that CPU.
//! Overwrite mode property: every packet read is complete (holds exactly the events
//! committed to it); packet numbers only grow; an event is read at most once, and it is
//! missing only if its whole packet was overwritten (or it was counted as dropped).

use super::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const THREADS: u8 = 8;
const EVENTS_PER_THREAD: u64 = 20_000;
const CPUS: u32 = 2;

/// What a writer did with event `seq`: committed to (cpu, packet) or dropped on cpu.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Committed { cpu: u32, packet: u64 },
    Dropped { cpu: u32 },
}

struct ReadPacket {
    cpu: u32,
    packet_seq: u64,
    events_discarded: u64,
    events: Vec<(u8, u64)>,
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn run(mode: Mode) -> (Vec<Vec<Fate>>, Vec<ReadPacket>, Consumer) {
    let (consumer, producer) = channel(&config(CPUS, 4, 1024, mode));
    let writers_done = AtomicBool::new(false);
    let clock = std::sync::atomic::AtomicU64::new(1);
    let (fates, (packets, consumer)) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut consumer = consumer;
            let mut packets = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            let drain = |consumer: &mut Consumer, packets: &mut Vec<ReadPacket>| {
                for cpu in 0..CPUS {
                    while let Some(pkt) = consumer.get_next(cpu).expect("valid packet") {
                        packets.push(ReadPacket {
                            cpu,
                            packet_seq: pkt.packet_seq(),
                            events_discarded: le_u64(pkt.bytes(), 72),
                            events: parse_records(pkt.records()).expect("intact records"),
                        });
                        pkt.release();
                    }
                }
            };
            while !writers_done.load(Ordering::Acquire) {
                assert!(Instant::now() < deadline, "stress test took too long");
                drain(&mut consumer, &mut packets);
                consumer.wait(Duration::from_millis(5));
            }
            drain(&mut consumer, &mut packets);
            for cpu in 0..CPUS {
                consumer.flush(cpu, true, || u64::MAX).expect("final flush");
            }
            drain(&mut consumer, &mut packets);
            (packets, consumer)
        });
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let producer = &producer;
                let clock = &clock;
                s.spawn(move || {
                    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (u64::from(t) + 1);
                    let mut fates = Vec::with_capacity(EVENTS_PER_THREAD as usize);
                    for seq in 0..EVENTS_PER_THREAD {
                        let r = xorshift(&mut rng);
                        let cpu = (r % u64::from(CPUS)) as u32;
                        let len = RECORD_OVERHEAD + (r >> 8) as usize % 48;
                        let rec = make_record(t, seq, len);
                        let tick = || clock.fetch_add(1, Ordering::Relaxed);
                        let fate = match producer.reserve_with_clock(cpu, len, tick) {
                            Ok(mut res) => {
                                let packet = res.packet_seq();
                                // Half the events are written in place, half copied.
                                if r & 1 == 0 {
                                    res.bytes_mut().copy_from_slice(&rec);
                                } else {
                                    assert!(res.write(&rec));
                                }
                                res.commit();
                                Fate::Committed { cpu, packet }
                            }
                            Err(_) => Fate::Dropped { cpu },
                        };
                        fates.push(fate);
                    }
                    fates
                })
            })
            .collect();
        let fates: Vec<Vec<Fate>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        writers_done.store(true, Ordering::Release);
        (fates, reader.join().unwrap())
    });
    (fates, packets, consumer)
}

/// Events the model says went into each (cpu, packet), and drops per CPU.
type PerPacket = HashMap<(u32, u64), Vec<(u8, u64)>>;

fn model(fates: &[Vec<Fate>]) -> (PerPacket, [u64; CPUS as usize]) {
    let mut per_packet: PerPacket = HashMap::new();
    let mut dropped = [0u64; CPUS as usize];
    for (t, fates) in fates.iter().enumerate() {
        for (seq, fate) in fates.iter().enumerate() {
            match *fate {
                Fate::Committed { cpu, packet } => per_packet
                    .entry((cpu, packet))
                    .or_default()
                    .push((t as u8, seq as u64)),
                Fate::Dropped { cpu } => dropped[cpu as usize] += 1,
            }
        }
    }
    for events in per_packet.values_mut() {
        events.sort_unstable();
    }
    (per_packet, dropped)
}

fn check_common(packets: &[ReadPacket], per_packet: &PerPacket) {
    let mut seen = HashMap::new();
    let mut last_seq: BTreeMap<u32, u64> = BTreeMap::new();
    let mut last_discarded: BTreeMap<u32, u64> = BTreeMap::new();
    for p in packets {
        if let Some(&prev) = last_seq.get(&p.cpu) {
            assert!(
                p.packet_seq > prev,
                "cpu {} packet {} after {}",
                p.cpu,
                p.packet_seq,
                prev
            );
        }
        last_seq.insert(p.cpu, p.packet_seq);
        let prev_d = last_discarded
            .insert(p.cpu, p.events_discarded)
            .unwrap_or(0);
        assert!(
            p.events_discarded >= prev_d,
            "events_discarded is cumulative"
        );
        let mut events = p.events.clone();
        events.sort_unstable();
        let expected = per_packet
            .get(&(p.cpu, p.packet_seq))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            events, expected,
            "packet {} of cpu {} is exactly what was committed to it",
            p.packet_seq, p.cpu
        );
        for e in &p.events {
            assert!(seen.insert(*e, ()).is_none(), "event {e:?} read twice");
        }
    }
}

#[test]
fn discard_mode_loses_nothing_committed_and_counts_every_drop() {
    let (fates, packets, consumer) = run(Mode::Discard);
    let (per_packet, dropped) = model(&fates);
    check_common(&packets, &per_packet);
    let read: usize = packets.iter().map(|p| p.events.len()).sum();
    let committed: usize = per_packet.values().map(Vec::len).sum();
    assert_eq!(read, committed, "every committed event read");
    assert_eq!(
        committed as u64 + dropped.iter().sum::<u64>(),
        u64::from(THREADS) * EVENTS_PER_THREAD
    );
    for cpu in 0..CPUS {
        let seqs: Vec<u64> = packets
            .iter()
            .filter(|p| p.cpu == cpu)
            .map(|p| p.packet_seq)
            .collect();
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "no packet lost on cpu {cpu}"
        );
        let last = packets
            .iter()
            .rfind(|p| p.cpu == cpu)
            .expect("final flush packet");
        assert_eq!(
            last.events_discarded, dropped[cpu as usize],
            "cpu {cpu} discarded count"
        );
        assert_eq!(consumer.events_discarded(cpu), dropped[cpu as usize]);
    }
    eprintln!(
        "discard stress: {committed} events read, {:?} dropped, {} packets",
        dropped,
        packets.len()
    );
}

#[test]
fn overwrite_mode_delivers_only_complete_packets() {
    let (fates, packets, consumer) = run(Mode::Overwrite);
    let (per_packet, dropped) = model(&fates);
    check_common(&packets, &per_packet);
    for cpu in 0..CPUS {
        assert_eq!(consumer.events_discarded(cpu), dropped[cpu as usize]);
        let last = packets
            .iter()
            .rfind(|p| p.cpu == cpu)
            .expect("final flush packet");
        assert_eq!(last.events_discarded, dropped[cpu as usize]);
        let max_packet = per_packet
            .keys()
            .filter(|k| k.0 == cpu)
            .map(|k| k.1)
            .max()
            .unwrap_or(0);
        assert!(last.packet_seq >= max_packet, "the newest packet survives");
        // Nothing may stay stuck: the packets not overwritten at the end (the last
        // subbuf_count ones) were all read, now or earlier.
        for q in max_packet.saturating_sub(3)..=max_packet {
            if per_packet.contains_key(&(cpu, q)) {
                assert!(
                    packets.iter().any(|p| p.cpu == cpu && p.packet_seq == q),
                    "packet {q} of cpu {cpu} never became readable"
                );
            }
        }
    }
    let read: usize = packets.iter().map(|p| p.events.len()).sum();
    eprintln!(
        "overwrite stress: {read} events in {} packets read, {:?} dropped",
        packets.len(),
        dropped
    );
}
