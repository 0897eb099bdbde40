//! The flight recorder's read side: [`Consumer::snapshot`] copies the newest whole packets
//! of one CPU buffer while the writers keep writing (overwrite mode: writers never wait for
//! a reader, and a snapshot never makes them wait).
//!
//! What a snapshot of one CPU is: the packets from the oldest still intact one up to the
//! last one closed when the snapshot began (after an optional flush that closes the open
//! packet, so the newest events are in it), copied out of shared memory and validated one
//! by one with the seqlock check of overwrite mode (docs/protocols/ring-buffer.md §3). It is
//! always a **contiguous run**: if a packet was overwritten while it was copied, or is still
//! being written after a bounded wait, or is corrupt, every older packet is dropped too
//! (older ones are overwritten first, and a gap inside a run would read as lost packets);
//! the run is the newest packets after the last such packet. Every packet keeps its own
//! `packet_seq_num`, so a reader sees the overwritten packets before the run as not there
//! (babeltrace2 does not report losses before a stream's first packet), and the
//! `events_discarded` counts in the run never go down.
//!
//! It does not touch the consumer's read position (a snapshot session never drains its
//! buffers), write files, or choose how many packets fit a size bound (the caller passes a
//! packet count).

use crate::consumer::{check_header, le_u64};
use crate::layout::Mode;
use crate::sync::{fence, Ordering};
use crate::writer;
use crate::Consumer;
use rttng_abi::{commit_word, packet};
use std::time::{Duration, Instant};

/// Longest time one CPU's snapshot waits for writers still committing into a closed packet
/// (a writer preempted between its reservation and its commit). After it, the packet is
/// left out, with every packet before it.
pub const MAX_COMMIT_WAIT: Duration = Duration::from_millis(20);

/// How many times one CPU's snapshot starts again when writers overwrote every packet of
/// its window while it was being copied (each new try reads a newer window).
pub const MAX_SNAPSHOT_TRIES: u32 = 8;

/// One packet of a [`StreamSnapshot`].
#[derive(Debug, Clone, Copy)]
pub struct SnapshotPacket<'a> {
    /// `packet_seq_num`.
    pub packet_seq: u64,
    /// `content_size / 8`.
    pub content_bytes: usize,
    /// The whole sub-buffer (`packet_size / 8` bytes), padding zeroed.
    pub bytes: &'a [u8],
}

/// One CPU's part of a snapshot: a contiguous run of whole packets, oldest first. Reuse
/// one across snapshots to keep its memory.
#[derive(Debug, Default)]
pub struct StreamSnapshot {
    cpu: u32,
    subbuf_bytes: usize,
    /// Packets back to back, `subbuf_bytes` each.
    bytes: Vec<u8>,
    /// `(packet_seq, content_bytes)` of each packet in `bytes`.
    packets: Vec<(u64, usize)>,
    /// Packets of the window that could not be taken (see [`StreamSnapshot::packets_skipped`]).
    skipped: u64,
    /// Packets left out because they were still incomplete after [`MAX_COMMIT_WAIT`].
    incomplete: u64,
    /// Packets left out because their header did not validate.
    corrupt: u64,
}

impl StreamSnapshot {
    /// An empty snapshot (filled by [`Consumer::snapshot`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// CPU buffer the packets come from.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// Number of packets taken.
    pub fn packet_count(&self) -> usize {
        self.packets.len()
    }

    /// True if no packet was taken (nothing was ever written, or nothing survived).
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// The packets, oldest first; their sequence numbers follow each other.
    pub fn packets(&self) -> impl Iterator<Item = SnapshotPacket<'_>> + '_ {
        self.packets
            .iter()
            .enumerate()
            .map(move |(i, &(packet_seq, content_bytes))| SnapshotPacket {
                packet_seq,
                content_bytes,
                bytes: &self.bytes[i * self.subbuf_bytes..(i + 1) * self.subbuf_bytes],
            })
    }

    /// Packets of the snapshot's window (the ones the buffer held when it began, bounded
    /// by the caller's packet count) that are not in the run: overwritten while being
    /// copied, still incomplete, corrupt, or older than one of those.
    pub fn packets_skipped(&self) -> u64 {
        self.skipped
    }

    /// Packets left out because writers had not finished them after [`MAX_COMMIT_WAIT`].
    pub fn packets_incomplete(&self) -> u64 {
        self.incomplete
    }

    /// Packets left out because their header did not validate (corrupt shared memory).
    pub fn packets_corrupt(&self) -> u64 {
        self.corrupt
    }

    fn reset(&mut self, cpu: u32, subbuf_bytes: usize) {
        self.cpu = cpu;
        self.subbuf_bytes = subbuf_bytes;
        self.bytes.clear();
        self.packets.clear();
        self.skipped = 0;
        self.incomplete = 0;
        self.corrupt = 0;
    }

    /// Drops the run so far (a newer packet could not be taken).
    fn restart(&mut self) {
        self.bytes.clear();
        self.packets.clear();
    }
}

impl Consumer {
    /// Takes a snapshot of `cpu` into `out` without stopping or delaying the writers:
    /// with `flush_clock`, first closes the open packet (its `timestamp_end` is read from
    /// the clock inside the flush's retry loop, after the reservations it closes, so it is
    /// never before one of their events: pass the writers' clock, not a value read earlier),
    /// then copies the newest whole packets, at most `max_packets` of them (0: as many as
    /// the buffer holds). See the module documentation for what the run contains.
    ///
    /// Meant for overwrite-mode channels that are never drained. On a discard-mode channel
    /// it reads the packets not yet consumed, which the consumer will write again later.
    pub fn snapshot(
        &self,
        cpu: u32,
        flush_clock: Option<&mut dyn FnMut() -> u64>,
        max_packets: u64,
        out: &mut StreamSnapshot,
    ) {
        let geo = self.geometry().clone();
        let s = geo.subbuf_bytes as usize;
        out.reset(cpu, s);
        if cpu >= geo.cpu_count {
            return;
        }
        let v = self.view(cpu);
        if let Some(clock) = flush_clock {
            // A refused flush (retry limit under extreme contention) only means the open
            // packet stays out of this snapshot.
            let _ = writer::flush(&v, false, &mut || clock());
        }
        let mut skipped = 0;
        for _ in 0..MAX_SNAPSHOT_TRIES {
            let (window, lapped) = self.snapshot_window(&v, max_packets, out);
            skipped += window - out.packets.len() as u64;
            if !out.packets.is_empty() || !lapped {
                break;
            }
        }
        out.skipped = skipped;
    }

    /// One try of [`Consumer::snapshot`] (after the flush): copies the window of packets
    /// the buffer holds now into `out`. Returns the window's packet count and whether
    /// writers overwrote a packet of it during the copy.
    fn snapshot_window(
        &self,
        v: &crate::region::CpuView<'_>,
        max_packets: u64,
        out: &mut StreamSnapshot,
    ) -> (u64, bool) {
        let geo = self.geometry();
        let s = geo.subbuf_bytes as usize;
        let cpu = v.cpu;
        out.restart();
        let mut lapped = false;
        // Acquire pairs with the AcqRel CAS of the writer or flush that moved write_pos:
        // the packets before `end` are closed (their last reservation is done).
        let wp = v.write_pos.load(Ordering::Acquire);
        let end = wp >> geo.subbuf_shift;
        let open = u64::from(wp & (geo.subbuf_bytes - 1) != 0);
        // An open packet already occupies the slot of `end - N`.
        let oldest = (end + open).saturating_sub(geo.subbuf_count);
        let first = if max_packets > 0 {
            oldest.max(end.saturating_sub(max_packets))
        } else {
            oldest
        };
        let mut deadline: Option<Instant> = None;
        let mut max_discarded = 0u64;
        // Bounded: at most subbuf_count packets (first >= end - N).
        for p in first..end {
            let slot = geo.slot_of(p);
            let lap = geo.lap_of(p);
            // Acquire pairs with the Release commit CAS that completed packet p: its
            // writers' bytes, header and end fields are visible to the copy below.
            let mut w = v.slots[slot].load(Ordering::Acquire);
            while commit_word::lap(w) == lap {
                // Closed but not complete: a writer is still copying its record in.
                let until = *deadline.get_or_insert_with(|| Instant::now() + MAX_COMMIT_WAIT);
                if Instant::now() >= until {
                    break;
                }
                std::thread::yield_now();
                w = v.slots[slot].load(Ordering::Acquire);
            }
            let wlap = commit_word::lap(w);
            if wlap == lap {
                out.incomplete += 1;
                out.restart();
                max_discarded = 0;
                continue;
            }
            if wlap != (lap + 1) & commit_word::LAP_MASK {
                // Already reused by a later lap.
                lapped = true;
                out.restart();
                max_discarded = 0;
                continue;
            }
            let at = out.bytes.len();
            out.bytes.resize(at + s, 0);
            let copy = &mut out.bytes[at..];
            // SAFETY: the range is packet p's sub-buffer, in bounds. Writers may lap us
            // (overwrite mode) or a consumer may not have consumed it (discard mode: it
            // is complete, so no writer touches it before its release); in overwrite mode
            // the copy is validated right below and dropped if a writer may have touched it.
            unsafe { v.data.read(slot * s, copy) };
            #[cfg(all(test, not(loom)))]
            tests::after_copy(
                p,
                &|| v.write_pos.load(Ordering::Relaxed),
                (p + geo.subbuf_count) << geo.subbuf_shift,
            );
            if geo.mode == Mode::Overwrite {
                // Seqlock validation. Acquire fence pairs with the writers' Release fence
                // after their write_pos CAS: if the copy saw a byte of packet p + N, this
                // load sees the CAS that opened it.
                fence(Ordering::Acquire);
                let now = v.write_pos.load(Ordering::Relaxed);
                if now > (p + geo.subbuf_count) << geo.subbuf_shift {
                    // Lapped during the copy, and so was everything before it.
                    lapped = true;
                    out.restart();
                    max_discarded = 0;
                    continue;
                }
            }
            let content = match check_header(copy, geo, cpu, p) {
                Ok(c) => c,
                Err(_) => {
                    out.corrupt += 1;
                    out.restart();
                    max_discarded = 0;
                    continue;
                }
            };
            copy[content..].fill(0);
            // Counts never go down inside the run (see `Consumer::cumulative_discarded`).
            let at_field = packet::EVENTS_DISCARDED;
            let found = le_u64(copy, at_field);
            if found < max_discarded {
                copy[at_field..at_field + 8].copy_from_slice(&max_discarded.to_le_bytes());
            } else {
                max_discarded = found;
            }
            out.packets.push((p, content));
        }
        (end - first, lapped)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Config, Consumer};
    use std::cell::RefCell;

    /// A hook: (packet copied, its buffer's write position now, the write position at which
    /// its slot is reused).
    type AfterCopy = Box<dyn FnMut(u64, &dyn Fn() -> u64, u64)>;

    thread_local! {
        /// Runs after a packet's copy and before its validation (this thread only).
        static AFTER_COPY: RefCell<Option<AfterCopy>> = const { RefCell::new(None) };
    }

    pub(super) fn after_copy(packet: u64, write_pos: &dyn Fn() -> u64, reused_at: u64) {
        AFTER_COPY.with(|h| {
            if let Some(f) = h.borrow_mut().as_mut() {
                f(packet, write_pos, reused_at);
            }
        });
    }

    /// The seqlock check, made deterministic: a writer that reuses the slot of the packet
    /// being copied between its copy and its check (as a writer on another CPU can while the
    /// copy runs, tearing it) makes the snapshot leave that packet out, with every older
    /// one. Only that slot is reused, so the newer packets stay intact and every other check
    /// passes: without the seqlock check, the packet would be returned as if intact.
    #[test]
    fn a_packet_whose_slot_is_reused_during_its_copy_is_left_out_with_the_older_ones() {
        let config = Config {
            cpu_count: 1,
            subbuf_count: 4,
            subbuf_bytes: 4096,
            mode: Mode::Overwrite,
            stream_id: 0,
            uuid: [7; 16],
        };
        let consumer = Consumer::create(&config).expect("channel");
        let producer = consumer.producer();
        let record = [0x5Au8; 1000];
        for ts in 1..=20 {
            producer
                .write(0, ts, &record)
                .expect("overwrite mode never refuses");
        }
        let writer = consumer.producer();
        let lapped = std::rc::Rc::new(std::cell::Cell::new(None::<u64>));
        let lapped_in_hook = lapped.clone();
        AFTER_COPY.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |p, write_pos, reused_at| {
                if lapped_in_hook.get().is_some() {
                    return;
                }
                lapped_in_hook.set(Some(p));
                let mut ts = 1000;
                while write_pos() <= reused_at {
                    writer.write(0, ts, &record).unwrap();
                    ts += 1;
                }
            }));
        });
        let mut snap = StreamSnapshot::new();
        consumer.snapshot(0, None, 0, &mut snap);
        AFTER_COPY.with(|h| *h.borrow_mut() = None);
        let first_copied = lapped.get().expect("the hook ran");
        let seqs: Vec<u64> = snap.packets().map(|p| p.packet_seq).collect();
        assert!(
            !seqs.is_empty() && seqs.iter().all(|&q| q > first_copied),
            "packets {seqs:?}: packet {first_copied}'s slot was reused during its copy, so \
             it must be left out (and nothing older kept), while the newer ones stay"
        );
        assert!(
            snap.packets_skipped() >= 1,
            "the lapped packet counts as skipped"
        );
    }
}
