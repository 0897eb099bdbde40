//! The writer half of the protocol, on one [`CpuView`]: reserve, commit, switch (flush).
//! Used by the application's `Producer` (event path) and by the `Consumer` (flush of a
//! live buffer, e.g. from a switch timer). Memory orderings and their pairs are named at
//! each atomic; the full argument is in docs/protocols/ring-buffer.md.
//!
//! No allocation, no system call (except the futex wake in [`notify`], only when a
//! sub-buffer completes and a consumer sleeps), no panic: every failure is counted in
//! `events_discarded` and returned as a [`ReserveError`].

use crate::error::ReserveError;
use crate::layout::Mode;
use crate::region::CpuView;
use crate::sync::{fence, Ordering};
use rttng_abi::commit_word;
use rttng_abi::packet;

/// Retry limit of every compare-and-swap loop. Only pathological contention (or a
/// corrupted shared header) gets near it; hitting it drops the event (reserve) or leaves
/// the sub-buffer to recovery (commit).
pub(crate) const MAX_CAS_RETRIES: u32 = 1 << 16;

const HEADER: u64 = packet::HEADER_BYTES as u64;

/// A successful reservation: `size` bytes at `packet_offset` of packet `packet_seq`,
/// for an event at time `ts` (the clock value read by the winning attempt).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reserved {
    pub packet_seq: u64,
    pub packet_offset: u64,
    pub size: u64,
    pub ts: u64,
}

impl Reserved {
    /// Offset of the record in the CPU's data area.
    #[inline]
    pub(crate) fn data_offset(&self, v: &CpuView<'_>) -> usize {
        // Slot `packet_seq mod subbuf_count` at `slot << subbuf_shift`: with both counts
        // powers of two (Geometry), the packet's position in the whole ring, modulo the
        // ring's size (`data_stride`), without a multiplication.
        (((self.packet_seq << v.geo.subbuf_shift) + self.packet_offset) & (v.geo.data_stride - 1))
            as usize
    }
}

#[cold]
#[inline(never)]
fn discard(v: &CpuView<'_>, why: ReserveError, count: bool) -> ReserveError {
    if !count {
        return why;
    }
    // Relaxed: a statistic. Closers read it with Relaxed too; the only ordering it needs
    // (the final count visible after the writers stop) comes from thread join / process
    // death plus the Acquire on write_pos of whoever closes the last packet.
    v.events_discarded.fetch_add(1, Ordering::Relaxed);
    why
}

/// Reserves on the CPU of `v`. `timed` is called once per attempt of the retry loop and
/// returns `(ts, size)`: the clock value and the record size for that timestamp (the
/// size may depend on it, e.g. a compact or extended event header). So timestamps follow
/// reservation order, and the size always matches the timestamp that wins.
///
/// `ORDERED_CLOCK`: `timed` reads a clock that is itself ordered after earlier loads
/// (`rttng_clock::now_ordered`); otherwise a fence precedes each call (see
/// [`clock_fence`]).
#[inline(always)]
pub(crate) fn reserve<const ORDERED_CLOCK: bool>(
    v: &CpuView<'_>,
    timed: &mut impl FnMut() -> (u64, u64),
) -> Result<Reserved, ReserveError> {
    reserve_counted::<ORDERED_CLOCK>(v, timed, true)
}

/// [`reserve`]; `count` says whether a failure is a lost event (false for the empty
/// packet a flush opens).
#[inline(always)]
fn reserve_counted<const ORDERED_CLOCK: bool>(
    v: &CpuView<'_>,
    timed: &mut impl FnMut() -> (u64, u64),
    count: bool,
) -> Result<Reserved, ReserveError> {
    let geo = v.geo;
    let s = geo.subbuf_bytes;
    // Acquire pairs with the Release of the CAS below in other writers: a writer that
    // reserves in a packet another writer opened must see that the slot was free (the
    // opener's Acquire on consumed_pos / the commit word, carried by the release sequence
    // of write_pos).
    let mut wp = v.write_pos.load(Ordering::Acquire);
    for _ in 0..MAX_CAS_RETRIES {
        if !ORDERED_CLOCK {
            clock_fence();
        }
        let (ts, size) = timed();
        let off = wp & (s - 1);
        // Fast path: the record is not too big, fits in the open packet and does not end
        // it. Inline, without a call, so that the event path keeps its values in
        // registers; everything else is in `reserve_other`.
        if off != 0 && size < s - off && size <= s - HEADER {
            let new = wp.wrapping_add(size);
            // AcqRel: Release publishes the slot-is-free knowledge to later reservers
            // (pair: the Acquire load above / failure Acquire); Acquire is the same pair
            // in the other direction.
            match v
                .write_pos
                .compare_exchange_weak(wp, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    after_reserve_fence(v);
                    return Ok(Reserved {
                        packet_seq: wp >> geo.subbuf_shift,
                        packet_offset: off,
                        size,
                        ts,
                    });
                }
                Err(cur) => {
                    wp = cur;
                    continue;
                }
            }
        }
        match reserve_other(v, wp, ts, size, count) {
            Ok(r) => return r,
            Err(cur) => wp = cur,
        }
    }
    Err(discard(v, ReserveError::Contended, count))
}

/// One attempt of [`reserve_counted`] off its fast path: a record too big, one that ends
/// the open packet exactly, or a packet to open. `Err(cur)`: the CAS lost, retry with
/// `cur`.
#[inline(never)]
fn reserve_other(
    v: &CpuView<'_>,
    wp: u64,
    ts: u64,
    size: u64,
    count: bool,
) -> Result<Result<Reserved, ReserveError>, u64> {
    let geo = v.geo;
    let s = geo.subbuf_bytes;
    if size > s - HEADER {
        return Ok(Err(discard(v, ReserveError::TooBig, count)));
    }
    let off = wp & (s - 1);
    if off != 0 && off + size <= s {
        // The record fits in the open packet (and, off the fast path, ends it).
        let new = wp.wrapping_add(size);
        // AcqRel: as on the fast path.
        return match v
            .write_pos
            .compare_exchange_weak(wp, new, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                let p = wp >> geo.subbuf_shift;
                after_reserve_fence(v);
                if off + size == s {
                    // This record fills the packet exactly: its writer closes it. The
                    // end fields are written before this record's commit (Release).
                    write_end_fields(v, p, s, ts);
                }
                Ok(Ok(Reserved {
                    packet_seq: p,
                    packet_offset: off,
                    size,
                    ts,
                }))
            }
            Err(cur) => Err(cur),
        };
    }
    reserve_switch(v, wp, ts, size, count)
}

/// Keeps the clock read that follows after the `write_pos` value it goes with.
///
/// A reservation's time must not be older than the reservations before it in the buffer,
/// and a packet's `timestamp_end` not older than its events: both hold because the clock
/// is read after loading the `write_pos` that the CAS then finds unchanged, and every
/// earlier reserver read its clock before its own CAS. But x86's `rdtsc` is not ordered
/// with loads: it may execute before the `write_pos` load completes (a contended cache
/// line takes ~100 cycles), giving a time from before the earlier reservations were
/// visible. `lfence` makes it wait for the load (as Linux's `rdtsc_ordered`). Measured in
/// `tests/it/timestamps.rs`: without it, events went back by 24–122 cycles within packets.
/// A clock that orders itself (`rttng_clock::now_ordered`: `rdtscp`, which waits for
/// earlier loads without the `lfence` pipeline drain) needs no fence
/// ([`crate::Producer::reserve_timed_ordered`]).
#[inline(always)]
fn clock_fence() {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    // SAFETY: lfence has no memory effects; SSE2 is part of x86-64.
    unsafe {
        core::arch::x86_64::_mm_lfence()
    };
}

/// Slow path of [`reserve_counted`] ([`reserve_other`]): open the next packet (closing the current one if it
/// is open) and put the record right after its header. `Err(cur)`: the CAS lost, retry
/// with `cur`.
#[inline(never)]
fn reserve_switch(
    v: &CpuView<'_>,
    wp: u64,
    ts: u64,
    size: u64,
    count: bool,
) -> Result<Result<Reserved, ReserveError>, u64> {
    let geo = v.geo;
    let s = geo.subbuf_bytes;
    let off = wp & (s - 1);
    // Wrapping: a corrupted write_pos must not panic (positions never wrap in practice).
    let start = if off == 0 {
        wp
    } else {
        (wp - off).wrapping_add(s)
    };
    let q = start >> geo.subbuf_shift;
    // Acquire pairs with the Release commit CAS that completed the previous use of
    // this slot: its writers' bytes happen-before ours.
    let word = v.slots[geo.slot_of(q)].load(Ordering::Acquire);
    if commit_word::lap(word) != geo.lap_of(q) {
        let why = match geo.mode {
            Mode::Discard => ReserveError::Full,
            Mode::Overwrite => ReserveError::SlotBusy,
        };
        return Ok(Err(discard(v, why, count)));
    }
    if geo.mode == Mode::Discard {
        // Acquire pairs with the consumer's Release store in `release`: its reads of
        // the slot happen-before our writes.
        let consumed = v.consumed_pos.load(Ordering::Acquire);
        if start.wrapping_sub(consumed) >= geo.subbuf_count << geo.subbuf_shift {
            return Ok(Err(discard(v, ReserveError::Full, count)));
        }
    }
    let new = start.wrapping_add(HEADER + size);
    // AcqRel: as on the fast path.
    match v
        .write_pos
        .compare_exchange_weak(wp, new, Ordering::AcqRel, Ordering::Acquire)
    {
        Ok(_) => {
            after_reserve_fence(v);
            if off != 0 {
                close_packet(v, wp >> geo.subbuf_shift, off, ts);
            }
            open_packet(v, q, ts);
            if HEADER + size == s {
                write_end_fields(v, q, s, ts);
            }
            Ok(Ok(Reserved {
                packet_seq: q,
                packet_offset: HEADER,
                size,
                ts,
            }))
        }
        Err(cur) => Err(cur),
    }
}

/// Overwrite mode: a reader copies packets while writers may lap it, then re-reads
/// `write_pos` to validate (seqlock). This Release fence, after the CAS that moved
/// `write_pos` and before our data writes, pairs with the reader's Acquire fence after
/// its copy: if the copy saw any byte we write, its re-read sees our CAS.
#[inline]
fn after_reserve_fence(v: &CpuView<'_>) {
    if v.geo.mode == Mode::Overwrite {
        fence(Ordering::Release);
    }
}

/// Writes the begin fields of packet `q` and commits the header bytes.
fn open_packet(v: &CpuView<'_>, q: u64, ts: u64) {
    let geo = v.geo;
    let base = geo.slot_of(q) * geo.subbuf_bytes as usize;
    let mut head = [0u8; packet::TIMESTAMP_END];
    head[packet::MAGIC..packet::UUID].copy_from_slice(&packet::CTF_MAGIC.to_le_bytes());
    head[packet::UUID..packet::STREAM_ID].copy_from_slice(&geo.uuid);
    head[packet::STREAM_ID..packet::STREAM_INSTANCE_ID]
        .copy_from_slice(&geo.stream_id.to_le_bytes());
    head[packet::STREAM_INSTANCE_ID..packet::TIMESTAMP_BEGIN]
        .copy_from_slice(&u64::from(v.cpu).to_le_bytes());
    head[packet::TIMESTAMP_BEGIN..packet::TIMESTAMP_END].copy_from_slice(&ts.to_le_bytes());
    let mut mid = [0u8; 16];
    mid[..8].copy_from_slice(&(geo.subbuf_bytes * 8).to_le_bytes());
    mid[8..].copy_from_slice(&q.to_le_bytes());
    // SAFETY: we won the CAS that opened packet q: its begin fields are ours (the end
    // fields, written by the closer, are disjoint).
    unsafe {
        v.data.write(base, &head);
        v.data.write(base + packet::PACKET_SIZE, &mid);
        v.data.write(base + packet::CPU_ID, &v.cpu.to_le_bytes());
    }
    commit(v, q, 0, HEADER);
}

/// Writes the end fields of packet `p` (content ends at `content_bytes`).
#[cold]
#[inline(never)]
fn write_end_fields(v: &CpuView<'_>, p: u64, content_bytes: u64, ts: u64) {
    let geo = v.geo;
    let base = geo.slot_of(p) * geo.subbuf_bytes as usize;
    let mut end = [0u8; 16];
    end[..8].copy_from_slice(&ts.to_le_bytes());
    end[8..].copy_from_slice(&(content_bytes * 8).to_le_bytes());
    let discarded = v.events_discarded.load(Ordering::Relaxed);
    // SAFETY: the party that moved write_pos to the end of packet p owns its end fields
    // (only one CAS can do that).
    unsafe {
        v.data.write(base + packet::TIMESTAMP_END, &end);
        v.data
            .write(base + packet::EVENTS_DISCARDED, &discarded.to_le_bytes());
    }
}

/// Closes packet `p` whose content ends at `off`: end fields, then commit of the padding.
fn close_packet(v: &CpuView<'_>, p: u64, off: u64, ts: u64) {
    write_end_fields(v, p, off, ts);
    commit(v, p, off, v.geo.subbuf_bytes);
}

/// Commits bytes `begin..end` of packet `p`. Returns false if the commit word is not in
/// the state the protocol allows (corrupted shared memory or retry limit): the bytes stay
/// uncommitted and the sub-buffer is left to recovery.
///
/// The usual case is inline and has no loop and no call: the bytes before ours are
/// committed (`prefix == begin`), ours do not complete the sub-buffer, and the CAS
/// succeeds. Anything else starts over in [`commit_retry`], out of line, as if that
/// attempt had lost its CAS.
#[inline(always)]
pub(crate) fn commit(v: &CpuView<'_>, p: u64, begin: u64, end: u64) -> bool {
    let geo = v.geo;
    let lap = geo.lap_of(p);
    let Some(slot) = v.slots.get(geo.slot_of(p)) else {
        return false;
    };
    let w = slot.load(Ordering::Relaxed);
    let ooo = commit_word::ooo(w);
    if commit_word::lap(w) == lap && commit_word::prefix(w) == begin && end + ooo < geo.subbuf_bytes
    {
        // The new word is `pack(lap, end, ooo)`: the prefix field holds `begin`, and `end`
        // fits in it (`end < subbuf_bytes <= MAX_SUBBUF_BYTES < 2^OFFSET_BITS`), so adding
        // `end - begin` to the word changes that field alone.
        // Release: as in `commit_slow`.
        if slot
            .compare_exchange_weak(
                w,
                w.wrapping_add(end - begin),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            return true;
        }
    }
    commit_retry(v, p, begin, end)
}

/// [`commit`] after its first attempt did not make it: the general loop.
#[inline(never)]
fn commit_retry(v: &CpuView<'_>, p: u64, begin: u64, end: u64) -> bool {
    commit_slow(v, p, begin, end)
}

/// The general commit loop (any order of commits, the sub-buffer's completion).
#[inline(always)]
fn commit_slow(v: &CpuView<'_>, p: u64, begin: u64, end: u64) -> bool {
    let geo = v.geo;
    let s = geo.subbuf_bytes;
    let lap = geo.lap_of(p);
    let Some(slot) = v.slots.get(geo.slot_of(p)) else {
        return false;
    };
    let mut w = slot.load(Ordering::Relaxed);
    for _ in 0..MAX_CAS_RETRIES {
        if commit_word::lap(w) != lap {
            return false;
        }
        let (prefix, ooo) = (commit_word::prefix(w), commit_word::ooo(w));
        let (prefix, ooo) = if prefix == begin {
            (end, ooo)
        } else {
            (prefix, ooo + (end - begin))
        };
        let complete = prefix + ooo >= s;
        let new = if complete {
            commit_word::pack(lap + 1, 0, 0)
        } else {
            commit_word::pack(lap, prefix, ooo)
        };
        // Release publishes our bytes (and, for a closer, the end fields) to whoever
        // Acquire-loads this word later: the consumer in `get_next`, a writer opening the
        // slot's next lap in `reserve`. All commits are RMWs, so the word's release
        // sequence carries every committer's bytes to that reader.
        match slot.compare_exchange_weak(w, new, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => {
                if complete {
                    notify(v);
                }
                return true;
            }
            Err(cur) => w = cur,
        }
    }
    false
}

/// A sub-buffer became complete: bump the futex word and wake a sleeping consumer.
/// SeqCst on both: a Dekker pair with the consumer's `consumer_waiters` increment and
/// `wakeup_seq` load in `Consumer::wait` (either we see the waiter, or it sees our bump).
#[cold]
#[inline(never)]
pub(crate) fn notify(v: &CpuView<'_>) {
    v.wakeup_seq.fetch_add(1, Ordering::SeqCst);
    if v.consumer_waiters.load(Ordering::SeqCst) != 0 {
        futex_wake(v);
    }
}

#[cfg(not(loom))]
fn futex_wake(v: &CpuView<'_>) {
    // SAFETY: FUTEX_WAKE on a valid, aligned u32 in shared memory; it only wakes
    // waiters (no memory is written). Not FUTEX_PRIVATE: the waiter is another process.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            v.wakeup_seq.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(loom)]
fn futex_wake(_v: &CpuView<'_>) {}

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// The open packet with this sequence number was closed.
    Closed { packet_seq: u64 },
    /// No packet was open (the last one is already closed); nothing to do.
    NothingOpen,
}

/// Closes the open packet of `v` (switch). With `empty`, if no packet is open, opens an
/// empty one first so that the flush always produces a packet (the stop flush: it
/// carries the final `timestamp_end` and `events_discarded`).
pub(crate) fn flush(
    v: &CpuView<'_>,
    empty: bool,
    clock: &mut impl FnMut() -> u64,
) -> Result<FlushOutcome, ReserveError> {
    let geo = v.geo;
    let s = geo.subbuf_bytes;
    let mut opened_empty = false;
    // Acquire: as in `reserve` (we may write the end fields of a packet someone opened).
    let mut wp = v.write_pos.load(Ordering::Acquire);
    for _ in 0..MAX_CAS_RETRIES {
        let off = wp & (s - 1);
        if off == 0 {
            if !empty || opened_empty {
                return Ok(FlushOutcome::NothingOpen);
            }
            // A zero-byte reservation opens a packet (and needs no commit).
            reserve_counted::<false>(v, &mut || (clock(), 0), false)?;
            opened_empty = true;
            wp = v.write_pos.load(Ordering::Acquire);
            continue;
        }
        clock_fence();
        let ts = clock();
        // AcqRel: the same pairs as a reservation (a flush is a reservation of the rest
        // of the packet).
        match v.write_pos.compare_exchange_weak(
            wp,
            (wp - off).wrapping_add(s),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                after_reserve_fence(v);
                let p = wp >> geo.subbuf_shift;
                close_packet(v, p, off, ts);
                return Ok(FlushOutcome::Closed { packet_seq: p });
            }
            Err(cur) => wp = cur,
        }
    }
    Err(ReserveError::Contended)
}
