//! The application side: [`Producer`] (a handle on a mapped channel, shared by all the
//! application's threads) and [`Reservation`] (one record being written).
//!
//! The event path is `reserve` → `write`/`bytes_mut` → `commit`: no allocation, no system
//! call, no panic; failures are counted and returned. This file does not register
//! tracepoints, read clocks or CPU numbers (the caller passes both), or encode CTF
//! events (records are opaque bytes).

use crate::error::ReserveError;
use crate::layout::Geometry;
use crate::region::{CpuView, Region};
use crate::sync::Arc;
use crate::writer::{self, FlushOutcome, Reserved};

/// An application's handle on one channel. `Sync`: share it between threads by reference.
pub struct Producer {
    /// One precomputed view per CPU, so that the event path does no address arithmetic.
    /// They borrow `geo` (boxed: its address is stable) and the memory of `region` (kept
    /// alive by the Arc); declared first so that they are dropped first.
    views: Box<[CpuView<'static>]>,
    geo: Box<Geometry>,
    /// Keeps the mapping alive for `views`.
    _region: Arc<Region>,
}

// SAFETY: the views only point into `region` (Sync: accesses follow the ring-buffer
// protocol) and `geo` (immutable); the Producer was Send + Sync through Arc<Region>
// before the views cached those addresses.
unsafe impl Send for Producer {}
// SAFETY: as above.
unsafe impl Sync for Producer {}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("geometry", &self.geo)
            .finish()
    }
}

impl Producer {
    pub(crate) fn from_parts(region: Arc<Region>, geo: Geometry) -> Self {
        let geo = Box::new(geo);
        let views = (0..geo.cpu_count)
            .map(|cpu| {
                let v = region.cpu(&geo, cpu);
                // SAFETY: `v` borrows `*geo` (a Box: its address does not change when the
                // Producer moves) and the region behind the Arc, both owned by the
                // Producer and dropped after `views` (field order). The 'static is never
                // exposed: `view` hands the view out with the lifetime of `&self`.
                unsafe { std::mem::transmute::<CpuView<'_>, CpuView<'static>>(v) }
            })
            .collect();
        Self {
            views,
            geo,
            _region: region,
        }
    }

    /// Maps the channel shared memory received from the consumer and validates its
    /// header (magic, ABI version, geometry, layout, size).
    #[cfg(not(loom))]
    pub fn from_fd(fd: std::os::fd::BorrowedFd<'_>) -> Result<Self, crate::MapError> {
        use crate::MapError;
        use std::os::fd::AsRawFd;
        let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: fstat writes a `struct stat` into the buffer we own.
        let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
        if rc != 0 {
            return Err(MapError::Io {
                op: "fstat",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: fstat succeeded, so the struct is initialised (it was zeroed anyway).
        let shm_bytes = u64::try_from(unsafe { st.assume_init() }.st_size).unwrap_or(0);
        let region = Region::map(fd, shm_bytes)?;
        let geo = Geometry::from_header(&region.read_header(), region.len() as u64)?;
        Ok(Self::from_parts(Arc::new(region), geo))
    }

    /// Number of per-CPU buffers.
    pub fn cpu_count(&self) -> u32 {
        self.geo.cpu_count
    }

    /// Largest record `reserve` accepts.
    pub fn max_record_bytes(&self) -> usize {
        (self.geo.subbuf_bytes as usize) - rttng_abi::packet::HEADER_BYTES
    }

    #[inline(always)]
    fn view(&self, cpu: u32) -> &CpuView<'_> {
        // A CPU number beyond the channel (hot-plugged CPU) folds onto an existing
        // buffer: correctness never depends on the CPU number. `views` has cpu_count
        // >= 1 entries (Geometry), so neither the remainder nor the index can fail.
        let n = self.views.len();
        let i = cpu as usize;
        if i < n {
            &self.views[i]
        } else {
            &self.views[i % n]
        }
    }

    /// Reserves `size` bytes in the buffer of `cpu` for an event at time `ts`.
    ///
    /// `cpu` is the CPU the caller read; the thread may have migrated since, which is
    /// fine: the reservation and its commit go to that buffer.
    #[inline]
    pub fn reserve(&self, cpu: u32, size: usize, ts: u64) -> Result<Reservation<'_>, ReserveError> {
        self.reserve_with_clock(cpu, size, || ts)
    }

    /// Like [`Producer::reserve`], but reads the timestamp inside the reservation retry
    /// loop, so that timestamps within a buffer never go backwards in reservation order
    /// (given a clock that is monotonic across CPUs).
    #[inline]
    pub fn reserve_with_clock(
        &self,
        cpu: u32,
        size: usize,
        mut clock: impl FnMut() -> u64,
    ) -> Result<Reservation<'_>, ReserveError> {
        self.reserve_timed(cpu, || (clock(), size))
    }

    /// Like [`Producer::reserve_with_clock`], for records whose size depends on their
    /// timestamp: `timed` runs once per attempt of the retry loop and returns the clock
    /// value and the record size for it (an event header can be compact only when the
    /// time since the previous record is small). The winning attempt's timestamp is
    /// [`Reservation::timestamp`]. One clock read per attempt, none before.
    #[inline(always)]
    pub fn reserve_timed(
        &self,
        cpu: u32,
        mut timed: impl FnMut() -> (u64, usize),
    ) -> Result<Reservation<'_>, ReserveError> {
        let view = self.view(cpu);
        let r = writer::reserve::<false>(view, &mut || {
            let (ts, size) = timed();
            (ts, size as u64)
        })?;
        Ok(Reservation { view, r, cursor: 0 })
    }

    /// [`Producer::reserve_timed`] for a `timed` whose clock read is itself ordered after
    /// every earlier load of the thread (`rttng_clock::now_ordered`), so the reservation
    /// needs no fence of its own before it. With any other clock a timestamp may precede
    /// the reservations before it in the buffer.
    #[inline(always)]
    pub fn reserve_timed_ordered(
        &self,
        cpu: u32,
        mut timed: impl FnMut() -> (u64, usize),
    ) -> Result<Reservation<'_>, ReserveError> {
        let view = self.view(cpu);
        let r = writer::reserve::<true>(view, &mut || {
            let (ts, size) = timed();
            (ts, size as u64)
        })?;
        Ok(Reservation { view, r, cursor: 0 })
    }

    /// Reserve, copy `record`, commit. Returns the packet sequence number the record
    /// went into.
    #[inline]
    pub fn write(&self, cpu: u32, ts: u64, record: &[u8]) -> Result<u64, ReserveError> {
        let mut r = self.reserve(cpu, record.len(), ts)?;
        r.write(record);
        let seq = r.packet_seq();
        r.commit();
        Ok(seq)
    }

    /// Closes the open packet of `cpu` (periodic switch timer, stop, app exit). With
    /// `empty`, a packet is produced even when none is open (an empty one).
    ///
    /// `clock` gives the packet's `timestamp_end`. It is read inside the flush's retry
    /// loop, after the `write_pos` the closing CAS compares with was loaded, so it is never
    /// older than any event reserved in the packet (other writers may keep reserving until
    /// the CAS): pass the live trace clock, never a value read before the call.
    pub fn flush(
        &self,
        cpu: u32,
        empty: bool,
        mut clock: impl FnMut() -> u64,
    ) -> Result<FlushOutcome, ReserveError> {
        writer::flush(self.view(cpu), empty, &mut clock)
    }

    /// Wakes the consumer if it sleeps in [`crate::Consumer::wait`] (which then returns
    /// with nothing new to read), without touching any packet: for the process that owns
    /// the consumer, to have its thread look at other work (e.g. a command queue) at once.
    pub fn wake_consumer(&self) {
        writer::notify(self.view(0));
    }

    /// Cumulative number of events dropped on `cpu`.
    pub fn events_discarded(&self, cpu: u32) -> u64 {
        self.view(cpu)
            .events_discarded
            .load(crate::sync::Ordering::Relaxed)
    }
}

/// Space reserved for one record. Write exactly [`Reservation::len`] bytes, then
/// [`Reservation::commit`]. Dropping it commits too (unwritten bytes are zeroed), so that
/// an early return or unwind in the caller never leaves the sub-buffer stuck.
pub struct Reservation<'a> {
    view: &'a CpuView<'a>,
    r: Reserved,
    cursor: usize,
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("cpu", &self.view.cpu)
            .field("packet_seq", &self.r.packet_seq)
            .field("packet_offset", &self.r.packet_offset)
            .field("size", &self.r.size)
            .finish()
    }
}

impl<'a> Reservation<'a> {
    /// Size of the record in bytes.
    pub fn len(&self) -> usize {
        self.r.size as usize
    }

    /// True for a zero-byte reservation.
    pub fn is_empty(&self) -> bool {
        self.r.size == 0
    }

    /// The event time the reservation was made with.
    pub fn timestamp(&self) -> u64 {
        self.r.ts
    }

    /// Sequence number of the packet the record is in (`packet_seq_num`).
    pub fn packet_seq(&self) -> u64 {
        self.r.packet_seq
    }

    /// Appends `bytes` to the record. Returns false (and writes nothing) if they do not
    /// fit in the remaining reserved space.
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        let len = self.r.size as usize;
        if bytes.len() > len - self.cursor {
            return false;
        }
        let off = self.r.data_offset(self.view) + self.cursor;
        // SAFETY: `off..off + bytes.len()` is inside our reservation (checked above),
        // which the successful CAS in `reserve` gave to us alone until we commit.
        unsafe { self.view.data.write(off, bytes) };
        self.cursor += bytes.len();
        true
    }

    /// The whole reserved record as a mutable slice, to serialise in place.
    #[cfg(not(loom))]
    #[inline(always)]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let off = self.r.data_offset(self.view);
        self.cursor = self.r.size as usize;
        // SAFETY: the range is our reservation (in bounds by construction of
        // `Reserved`), exclusively ours until commit; the slice borrows `self`, and
        // commit consumes `self`.
        unsafe { self.view.data.slice_mut(off, self.r.size as usize) }
    }

    /// Takes the reservation apart for a writer that fills it through a raw pointer over
    /// several calls and commits later (the LTTng-UST drop-in's C probes): the record's
    /// first byte (of [`Reservation::len`] bytes, exclusively the holder's until the
    /// commit) and the commit itself. Unlike the reservation, the [`Pending`] commits only
    /// when told to, writes nothing for the bytes left unwritten, and is plain data (no
    /// drop glue), so it can be stored in place. A pending record that is never committed
    /// keeps its sub-buffer from being consumed (the consumer's recovery handles a dead
    /// producer).
    #[cfg(not(loom))]
    #[inline(always)]
    pub fn into_raw(self) -> (*mut u8, Pending<'a>) {
        let this = std::mem::ManuallyDrop::new(self);
        let off = this.r.data_offset(this.view);
        // SAFETY: the range is our reservation, in bounds by construction of `Reserved`;
        // only its address is taken here (no reference to the bytes).
        let ptr = unsafe { this.view.data.slice_mut(off, this.r.size as usize) }.as_mut_ptr();
        let begin = this.r.packet_offset;
        (
            ptr,
            Pending {
                view: this.view,
                packet_seq: this.r.packet_seq,
                begin,
                end: begin + this.r.size,
            },
        )
    }

    /// Makes the record visible to the consumer. Inline, without going through `Drop`
    /// (whose glue the compiler keeps out of line): the event path's commit.
    #[inline(always)]
    pub fn commit(self) {
        let this = std::mem::ManuallyDrop::new(self);
        this.finish();
    }

    /// Zeroes what was not written, then commits (commit and drop).
    #[inline(always)]
    fn finish(&self) {
        let len = self.r.size as usize;
        if self.cursor < len {
            let off = self.r.data_offset(self.view) + self.cursor;
            // SAFETY: the rest of our own reservation.
            unsafe { self.view.data.zero(off, len - self.cursor) };
        }
        if len != 0 {
            let begin = self.r.packet_offset;
            writer::commit(self.view, self.r.packet_seq, begin, begin + self.r.size);
        }
    }
}

impl Drop for Reservation<'_> {
    /// An early return or unwind in the writer still commits (see the type's doc).
    #[inline]
    fn drop(&mut self) {
        self.finish();
    }
}

/// The commit of a record taken apart by [`Reservation::into_raw`]: plain data, committed
/// by [`Pending::commit`] once its holder wrote the whole record.
#[derive(Clone, Copy)]
pub struct Pending<'a> {
    view: &'a CpuView<'a>,
    packet_seq: u64,
    begin: u64,
    end: u64,
}

impl std::fmt::Debug for Pending<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("cpu", &self.view.cpu)
            .field("packet_seq", &self.packet_seq)
            .field("begin", &self.begin)
            .field("end", &self.end)
            .finish()
    }
}

impl Pending<'_> {
    /// Makes the record visible to the consumer. Every byte of it must have been written
    /// (the consumer reads them as they are). Committing twice breaks the sub-buffer's
    /// accounting: the holder commits once (it is `Copy` only to be stored in place).
    #[inline(always)]
    pub fn commit(self) {
        if self.end != self.begin {
            writer::commit(self.view, self.packet_seq, self.begin, self.end);
        }
    }
}
