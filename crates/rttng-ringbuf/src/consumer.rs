//! The consumer side: [`Consumer`] creates the channel's shared memory (a memfd), hands
//! its fd to producers, takes complete packets out ([`Consumer::get_next`] /
//! [`Packet::release`]), sleeps on the futex word ([`Consumer::wait`]), flushes live
//! buffers, and closes the buffers of a dead producer ([`Consumer::recover_dead_producer`]).
//!
//! [`Consumer::get_next`] copies a packet into a consumer-owned buffer as-is (header
//! fields included), with the bytes past `content_size` zeroed; nothing is re-encoded.
//! [`Consumer::get_next_in_place`] leaves it in shared memory (discard mode) and writes it
//! from there to a file descriptor the caller gives ([`InPlacePacket::write_to`]), releasing
//! it afterwards. It does not open, name, rotate or index trace files, does not write
//! metadata, and does not watch processes (the caller says when a producer is dead).

use crate::error::CorruptPacket;
use crate::layout::{Geometry, Mode};
use crate::region::{CpuView, Region};
use crate::sync::{fence, Arc, Ordering};
use crate::writer::{self, FlushOutcome};
use crate::{Producer, ReserveError};
use rttng_abi::{commit_word, packet};

/// Retry limit when, in overwrite mode, writers keep lapping the packet being copied.
pub const MAX_READ_RETRIES: u32 = 64;

const HEADER: u64 = packet::HEADER_BYTES as u64;

/// What [`Consumer::recover_dead_producer`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Packets that were open or incomplete and have been closed.
    pub packets_closed: u64,
    /// Closed packets whose header had not been committed (rewritten from scratch).
    pub headers_rewritten: u64,
    /// Bytes that were committed but lie after an uncommitted reservation in the same
    /// packet (records, plus the closing padding if the packet had been switched); the
    /// packet is truncated at that hole, so the records among them are lost.
    pub committed_bytes_after_hole: u64,
}

/// The consumer's handle on one channel. It owns the shared memory.
pub struct Consumer {
    region: Arc<Region>,
    geo: Geometry,
    #[cfg(not(loom))]
    fd: std::os::fd::OwnedFd,
    /// Local copy of each CPU's `consumed_pos` (we are its only writer; the shared copy
    /// is never read back, so a producer cannot make us skip or repeat packets).
    consumed: Vec<u64>,
    /// `timestamp_end` of the last packet handed out per CPU (recovery uses it).
    last_end_ts: Vec<u64>,
    /// `events_discarded` of the last packet handed out per CPU (see `cumulative_discarded`).
    last_discarded: Vec<u64>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("geometry", &self.geo)
            .finish()
    }
}

/// A complete packet taken out of a CPU buffer. Its bytes are a copy; call
/// [`Packet::release`] to give the sub-buffer back (dropping without release leaves it
/// in place: the next `get_next` returns it again).
pub struct Packet<'a> {
    consumer: &'a mut Consumer,
    cpu: u32,
    packet_seq: u64,
    content_bytes: usize,
}

impl std::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("cpu", &self.cpu)
            .field("packet_seq", &self.packet_seq)
            .field("content_bytes", &self.content_bytes)
            .finish()
    }
}

impl Packet<'_> {
    /// CPU buffer the packet comes from.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }
    /// `packet_seq_num`.
    pub fn packet_seq(&self) -> u64 {
        self.packet_seq
    }
    /// `content_size / 8`: header, context and records.
    pub fn content_bytes(&self) -> usize {
        self.content_bytes
    }
    /// The whole packet (`packet_size / 8` bytes, zero padded): what goes to the file.
    pub fn bytes(&self) -> &[u8] {
        &self.consumer.scratch
    }
    /// The records only (after the 84-byte header and context, up to `content_size`).
    pub fn records(&self) -> &[u8] {
        &self.consumer.scratch[packet::HEADER_BYTES..self.content_bytes]
    }
    /// Gives the sub-buffer back to the producers.
    pub fn release(self) {
        self.consumer.release_packet(self.cpu, self.packet_seq);
    }
}

/// A complete packet taken out of a CPU buffer **without copying it** (discard mode: the
/// bytes stay in shared memory, which no producer touches until [`InPlacePacket::release`];
/// overwrite mode: a validated copy, as [`Consumer::get_next`] makes, because writers may
/// lap the reader). For a consumer that writes packets to files: the bytes go from the
/// shared mapping to the file in one system call ([`InPlacePacket::write_to`]). Dropping
/// it without release leaves the packet in place, as for [`Packet`].
#[cfg(not(loom))]
pub struct InPlacePacket<'a> {
    consumer: &'a mut Consumer,
    cpu: u32,
    packet_seq: u64,
    content_bytes: usize,
    /// A copy of the header and context (validated).
    header: [u8; packet::HEADER_BYTES],
    /// True: the bytes are in shared memory; false: in the consumer's scratch copy.
    shared: bool,
}

#[cfg(not(loom))]
impl std::fmt::Debug for InPlacePacket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InPlacePacket")
            .field("cpu", &self.cpu)
            .field("packet_seq", &self.packet_seq)
            .field("content_bytes", &self.content_bytes)
            .field("shared", &self.shared)
            .finish()
    }
}

/// Zeros written after a packet's content (bytes past `content_size` are undefined in
/// shared memory, so they are never written from there).
#[cfg(not(loom))]
static ZEROS: [u8; 4096] = [0; 4096];

#[cfg(not(loom))]
impl InPlacePacket<'_> {
    /// CPU buffer the packet comes from.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }
    /// `packet_seq_num`.
    pub fn packet_seq(&self) -> u64 {
        self.packet_seq
    }
    /// `content_size / 8`: header, context and records.
    pub fn content_bytes(&self) -> usize {
        self.content_bytes
    }
    /// `packet_size / 8` in shared memory (the sub-buffer size).
    pub fn packet_bytes(&self) -> usize {
        self.consumer.geo.subbuf_bytes as usize
    }
    /// A copy of the packet header and context (84 bytes, validated).
    pub fn header(&self) -> &[u8; packet::HEADER_BYTES] {
        &self.header
    }

    /// Writes the packet to `fd` (at its current file position) as `len` bytes: `header`
    /// (the caller's copy of [`InPlacePacket::header`], e.g. with `packet_size`
    /// rewritten), then the records straight from shared memory up to
    /// `min(content, len)`, then zeros up to `len`. `len` must be in
    /// `84..=packet_bytes()`. Retries partial writes and EINTR.
    pub fn write_to(
        &self,
        fd: std::os::fd::BorrowedFd<'_>,
        header: &[u8; packet::HEADER_BYTES],
        len: usize,
    ) -> std::io::Result<()> {
        if len < packet::HEADER_BYTES || len > self.packet_bytes() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("packet length {len} outside 84..={}", self.packet_bytes()),
            ));
        }
        let body_end = self.content_bytes.min(len);
        let body_len = body_end - packet::HEADER_BYTES;
        write_all_raw(fd, header.as_ptr(), header.len())?;
        if self.shared {
            let geo = &self.consumer.geo;
            let v = self.consumer.region.cpu(geo, self.cpu);
            let off =
                geo.slot_of(self.packet_seq) * geo.subbuf_bytes as usize + packet::HEADER_BYTES;
            let Some(ptr) = v.data.range_ptr(off, body_len) else {
                return Err(std::io::Error::other("packet outside the shared memory"));
            };
            write_all_raw(fd, ptr, body_len)?;
        } else {
            let body = &self.consumer.scratch[packet::HEADER_BYTES..body_end];
            write_all_raw(fd, body.as_ptr(), body.len())?;
        }
        let mut zeros = len - body_end;
        // Bounded: each round writes up to 4 KiB of the at most `subbuf_bytes` left.
        while zeros > 0 {
            let n = zeros.min(ZEROS.len());
            write_all_raw(fd, ZEROS.as_ptr(), n)?;
            zeros -= n;
        }
        Ok(())
    }

    /// The bytes [`InPlacePacket::write_to`] would write (`header`, the records up to
    /// `min(content, len)`, zeros up to `len`), copied into `out` (replacing its content):
    /// for the rare consumer that must look inside a packet it could not write. `len` is
    /// clamped to `84..=packet_bytes()`.
    pub fn copy_to(&self, header: &[u8; packet::HEADER_BYTES], len: usize, out: &mut Vec<u8>) {
        let len = len.clamp(packet::HEADER_BYTES, self.packet_bytes());
        let body_end = self.content_bytes.min(len);
        let body_len = body_end - packet::HEADER_BYTES;
        out.clear();
        out.extend_from_slice(header);
        if self.shared {
            let geo = &self.consumer.geo;
            let v = self.consumer.region.cpu(geo, self.cpu);
            let off =
                geo.slot_of(self.packet_seq) * geo.subbuf_bytes as usize + packet::HEADER_BYTES;
            out.resize(packet::HEADER_BYTES + body_len, 0);
            // SAFETY: discard mode (`shared` is true only then): the packet is complete and
            // no writer touches the slot before we release it (`read` checks the bounds).
            unsafe { v.data.read(off, &mut out[packet::HEADER_BYTES..]) };
        } else {
            out.extend_from_slice(&self.consumer.scratch[packet::HEADER_BYTES..body_end]);
        }
        out.resize(len, 0);
    }

    /// Gives the sub-buffer back to the producers (after the bytes were written out).
    pub fn release(self) {
        self.consumer.release_packet(self.cpu, self.packet_seq);
    }
}

/// Reserves disk blocks for `offset..offset + len` of the file `fd` without changing its
/// size (`fallocate(FALLOC_FL_KEEP_SIZE)`), for a consumer that appends packets with
/// [`InPlacePacket::write_to`]: writes into preallocated blocks skip the file system's
/// per-write block reservation (on ext4 here, a third less CPU per byte). Blocks left
/// past the end are freed by truncating the file to its size when done. Fails with the
/// OS error (e.g. `EOPNOTSUPP` on file systems without it); callers may ignore that.
#[cfg(not(loom))]
pub fn preallocate(fd: std::os::fd::BorrowedFd<'_>, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    // SAFETY: fallocate on a caller-owned fd; no memory is passed.
    let rc = unsafe { libc::fallocate(fd.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, off, n) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `write(2)` of `len` bytes at `ptr` until all are written (partial writes and EINTR
/// retried; a zero-byte write is an error, so the loop ends).
#[cfg(not(loom))]
fn write_all_raw(
    fd: std::os::fd::BorrowedFd<'_>,
    mut ptr: *const u8,
    mut len: usize,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    while len > 0 {
        // SAFETY: `ptr..ptr + len` is readable: a slice we borrow, or a packet of the
        // shared mapping that the consumer owns until release (the caller's borrow of
        // the InPlacePacket keeps the mapping alive). The kernel only reads it.
        let n = unsafe { libc::write(fd.as_raw_fd(), ptr.cast(), len) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let n = n as usize;
        // SAFETY: n <= len: still inside the range.
        ptr = unsafe { ptr.add(n) };
        len -= n;
    }
    Ok(())
}

pub(crate) fn le_u64(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[off..off + 8]);
    u64::from_le_bytes(b)
}

fn le_u32(bytes: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[off..off + 4]);
    u32::from_le_bytes(b)
}

impl Consumer {
    fn from_parts(
        region: Arc<Region>,
        geo: Geometry,
        #[cfg(not(loom))] fd: std::os::fd::OwnedFd,
    ) -> Self {
        let cpus = geo.cpu_count as usize;
        let scratch = vec![0; geo.subbuf_bytes as usize];
        Self {
            region,
            geo,
            #[cfg(not(loom))]
            fd,
            consumed: vec![0; cpus],
            last_end_ts: vec![0; cpus],
            last_discarded: vec![0; cpus],
            scratch,
        }
    }

    /// Creates the shared memory (memfd) for `config` and initialises it.
    #[cfg(not(loom))]
    pub fn create(config: &crate::Config) -> Result<Self, crate::MapError> {
        use crate::MapError;
        use std::os::fd::{AsFd, FromRawFd, OwnedFd};
        let geo = Geometry::new(config)?;
        // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
        let raw = unsafe { libc::memfd_create(c"rttng-ringbuf".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(MapError::Io {
                op: "memfd_create",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `raw` is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let len = libc::off_t::try_from(geo.total_bytes).map_err(|_| {
            MapError::Config(crate::ConfigError::TooLarge {
                total_bytes: geo.total_bytes,
            })
        })?;
        // SAFETY: plain syscall on an fd we own.
        if unsafe { libc::ftruncate(std::os::fd::AsRawFd::as_raw_fd(&fd), len) } != 0 {
            return Err(MapError::Io {
                op: "ftruncate",
                source: std::io::Error::last_os_error(),
            });
        }
        let region = Region::map(fd.as_fd(), geo.total_bytes)?;
        region.write_header(&geo.channel_header());
        for cpu in 0..geo.cpu_count {
            region.init_cpu(&geo, cpu);
        }
        Ok(Self::from_parts(Arc::new(region), geo, fd))
    }

    /// The memfd to pass to producers (e.g. with SCM_RIGHTS).
    #[cfg(not(loom))]
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// A producer on the same shared memory, for in-process use and tests (an
    /// application maps the fd with [`Producer::from_fd`] instead).
    pub fn producer(&self) -> Producer {
        Producer::from_parts(self.region.clone(), self.geo.clone())
    }

    /// Number of per-CPU buffers.
    pub fn cpu_count(&self) -> u32 {
        self.geo.cpu_count
    }

    /// Packet size in bytes.
    pub fn subbuf_bytes(&self) -> usize {
        self.geo.subbuf_bytes as usize
    }

    pub(crate) fn view(&self, cpu: u32) -> CpuView<'_> {
        self.region.cpu(&self.geo, cpu)
    }

    /// The validated geometry (for the snapshot reader).
    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// Cumulative number of events dropped on `cpu` (0 for an unknown CPU).
    pub fn events_discarded(&self, cpu: u32) -> u64 {
        if cpu >= self.geo.cpu_count {
            return 0;
        }
        self.view(cpu).events_discarded.load(Ordering::Relaxed)
    }

    /// The packet the consumer should read next on `cpu` (overwrite mode: skipping the
    /// ones already overwritten, judged from `write_pos`).
    fn next_candidate(&self, v: &CpuView<'_>, cpu: u32) -> u64 {
        let geo = &self.geo;
        let mut p = self.consumed[cpu as usize] >> geo.subbuf_shift;
        if geo.mode == Mode::Overwrite {
            // Acquire: pairs with the AcqRel CAS of the writer that moved write_pos.
            let wp = v.write_pos.load(Ordering::Acquire);
            let oldest = (wp >> geo.subbuf_shift)
                .saturating_add(u64::from(wp & (geo.subbuf_bytes - 1) != 0))
                .saturating_sub(geo.subbuf_count);
            p = p.max(oldest);
        }
        p
    }

    /// True if `get_next(cpu)` would (very likely) return a packet.
    pub fn is_ready(&self, cpu: u32) -> bool {
        if cpu >= self.geo.cpu_count {
            return false;
        }
        let v = self.view(cpu);
        let p = self.next_candidate(&v, cpu);
        // Acquire: pairs with the completing commit's Release.
        let w = v.slots[self.geo.slot_of(p)].load(Ordering::Acquire);
        commit_word::lap(w) != self.geo.lap_of(p)
    }

    /// Takes the next complete packet of `cpu`, or `None` if there is none yet (or `cpu`
    /// is out of range). A packet that fails validation is skipped and reported.
    pub fn get_next(&mut self, cpu: u32) -> Result<Option<Packet<'_>>, CorruptPacket> {
        if cpu >= self.geo.cpu_count {
            return Ok(None);
        }
        let geo = self.geo.clone();
        let s = geo.subbuf_bytes;
        let region = self.region.clone();
        let v = region.cpu(&geo, cpu);
        for _ in 0..MAX_READ_RETRIES {
            let p = self.next_candidate(&v, cpu);
            let lap = geo.lap_of(p);
            let slot = geo.slot_of(p);
            // Acquire pairs with the Release commit CAS that completed the packet: all
            // its writers' bytes (records, header, end fields) are visible to our copy.
            let w = v.slots[slot].load(Ordering::Acquire);
            let wlap = commit_word::lap(w);
            if wlap == lap {
                return Ok(None);
            }
            if wlap != (lap + 1) & commit_word::LAP_MASK {
                if geo.mode == Mode::Overwrite {
                    continue; // lapped since we looked at write_pos
                }
                return Err(self.skip(cpu, p, "commit word lap", wlap));
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            // SAFETY: discard mode: the packet is complete and no writer touches the
            // slot before we release it. Overwrite mode: writers may lap us; the copy is
            // validated right below and dropped if they may have.
            unsafe { v.data.read(slot * s as usize, &mut scratch) };
            if geo.mode == Mode::Overwrite {
                // Seqlock validation. Acquire fence pairs with the writers' Release fence
                // after their write_pos CAS (`after_reserve_fence`): if our copy saw a
                // byte of packet p + N, this load sees the CAS that opened it.
                fence(Ordering::Acquire);
                let wp = v.write_pos.load(Ordering::Relaxed);
                if wp > (p + geo.subbuf_count) << geo.subbuf_shift {
                    self.scratch = scratch;
                    continue;
                }
            }
            let checked = check_header(&scratch, &geo, cpu, p);
            self.scratch = scratch;
            let content_bytes = match checked {
                Ok(c) => c,
                Err((field, found)) => return Err(self.skip(cpu, p, field, found)),
            };
            self.scratch[content_bytes..].fill(0);
            self.last_end_ts[cpu as usize] = le_u64(&self.scratch, packet::TIMESTAMP_END);
            let mut scratch = std::mem::take(&mut self.scratch);
            self.cumulative_discarded(cpu, &mut scratch);
            self.scratch = scratch;
            return Ok(Some(Packet {
                consumer: self,
                cpu,
                packet_seq: p,
                content_bytes,
            }));
        }
        Ok(None)
    }

    /// Like [`Consumer::get_next`], without copying the packet in discard mode (see
    /// [`InPlacePacket`]); in overwrite mode it copies (and validates the copy) as
    /// `get_next` does.
    #[cfg(not(loom))]
    pub fn get_next_in_place(
        &mut self,
        cpu: u32,
    ) -> Result<Option<InPlacePacket<'_>>, CorruptPacket> {
        if cpu >= self.geo.cpu_count {
            return Ok(None);
        }
        if self.geo.mode == Mode::Overwrite {
            let (packet_seq, content_bytes) = match self.get_next(cpu)? {
                Some(p) => (p.packet_seq, p.content_bytes),
                None => return Ok(None),
            };
            let mut header = [0u8; packet::HEADER_BYTES];
            header.copy_from_slice(&self.scratch[..packet::HEADER_BYTES]);
            return Ok(Some(InPlacePacket {
                consumer: self,
                cpu,
                packet_seq,
                content_bytes,
                header,
                shared: false,
            }));
        }
        let geo = self.geo.clone();
        let region = self.region.clone();
        let v = region.cpu(&geo, cpu);
        let p = self.consumed[cpu as usize] >> geo.subbuf_shift;
        let lap = geo.lap_of(p);
        let slot = geo.slot_of(p);
        // Acquire pairs with the Release commit CAS that completed the packet, as in
        // get_next: every byte the writers committed is visible to our reads (here, the
        // header copy and the kernel's read in `write_to`).
        let w = v.slots[slot].load(Ordering::Acquire);
        let wlap = commit_word::lap(w);
        if wlap == lap {
            return Ok(None);
        }
        if wlap != (lap + 1) & commit_word::LAP_MASK {
            return Err(self.skip(cpu, p, "commit word lap", wlap));
        }
        let mut header = [0u8; packet::HEADER_BYTES];
        // SAFETY: discard mode: the packet is complete and no writer touches the slot
        // before we release it.
        unsafe { v.data.read(slot * geo.subbuf_bytes as usize, &mut header) };
        let content_bytes = match check_header(&header, &geo, cpu, p) {
            Ok(c) => c,
            Err((field, found)) => return Err(self.skip(cpu, p, field, found)),
        };
        self.last_end_ts[cpu as usize] = le_u64(&header, packet::TIMESTAMP_END);
        self.cumulative_discarded(cpu, &mut header);
        Ok(Some(InPlacePacket {
            consumer: self,
            cpu,
            packet_seq: p,
            content_bytes,
            header,
            shared: true,
        }))
    }

    /// Keeps `events_discarded` cumulative across the packets handed out for `cpu`, in the
    /// header bytes `header` (the start of a packet copy). The writer that fills packet p
    /// writes p's end fields after its reservation; if it is preempted in between, packet
    /// p + 1 can close, and new drops be counted, before p's count is read, so p can carry
    /// more than p + 1 (the stress test saw it under load). Handing out the largest count so
    /// far attributes those drops to the earlier packet; the total stays exact, and readers
    /// (babeltrace2 subtracts consecutive counts) never see a count go down.
    fn cumulative_discarded(&mut self, cpu: u32, header: &mut [u8]) {
        let at = packet::EVENTS_DISCARDED;
        let Some(field) = header.get_mut(at..at + 8) else {
            return;
        };
        let found = u64::from_le_bytes(field.try_into().unwrap_or([0; 8]));
        let Some(last) = self.last_discarded.get_mut(cpu as usize) else {
            return;
        };
        if found < *last {
            field.copy_from_slice(&last.to_le_bytes());
        } else {
            *last = found;
        }
    }

    /// Gives packet `p` of `cpu` back to the producers: the next one is ours to read.
    fn release_packet(&mut self, cpu: u32, p: u64) {
        let next = (p + 1) << self.geo.subbuf_shift;
        self.consumed[cpu as usize] = next;
        // Release pairs with the Acquire load of consumed_pos in `writer::reserve`: our
        // reads of the sub-buffer (a copy, or the write system call) happen-before any
        // writer reuses it.
        self.view(cpu).consumed_pos.store(next, Ordering::Release);
    }

    fn skip(&mut self, cpu: u32, p: u64, field: &'static str, found: u64) -> CorruptPacket {
        self.release_packet(cpu, p);
        CorruptPacket {
            cpu,
            packet_seq: p,
            field,
            found,
        }
    }

    /// Closes the open packet of `cpu` (switch timer, stop); see [`Producer::flush`] (the
    /// `clock` is read after the flush's last look at the buffer: pass the live clock).
    pub fn flush(
        &self,
        cpu: u32,
        empty: bool,
        mut clock: impl FnMut() -> u64,
    ) -> Result<FlushOutcome, ReserveError> {
        if cpu >= self.geo.cpu_count {
            return Ok(FlushOutcome::NothingOpen);
        }
        writer::flush(&self.view(cpu), empty, &mut clock)
    }

    /// Sleeps until a producer completes a sub-buffer, or `timeout` passes (the "read
    /// timer"). Returns true if some CPU has a packet ready. Producers make a system call
    /// only when a sub-buffer completes while a consumer sleeps here.
    #[cfg(not(loom))]
    pub fn wait(&self, timeout: std::time::Duration) -> bool {
        let (seq, waiters) = self.region.futex_words();
        // SeqCst on the three accesses: Dekker pair with `writer::notify` (bump of
        // wakeup_seq, then load of consumer_waiters): either the producer sees us
        // waiting and wakes us, or FUTEX_WAIT sees its bump and returns at once.
        let seen = seq.load(Ordering::SeqCst);
        let ready = |c: &Self| (0..c.geo.cpu_count).any(|cpu| c.is_ready(cpu));
        if ready(self) {
            return true;
        }
        waiters.fetch_add(1, Ordering::SeqCst);
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: FUTEX_WAIT on a valid aligned u32 of our mapping, with a valid
        // timespec; the kernel only reads them. Shared (not PRIVATE): producers are other
        // processes.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                seq.as_ptr(),
                libc::FUTEX_WAIT,
                seen,
                &ts as *const libc::timespec,
                std::ptr::null::<u32>(),
                0u32,
            );
        }
        waiters.fetch_sub(1, Ordering::SeqCst);
        ready(self)
    }

    /// Closes every open or incomplete packet of a producer that died (killed at any
    /// instruction), so that `get_next` then returns every packet that holds committed
    /// records. A packet with an uncommitted reservation is truncated at the first such
    /// hole (records after it in that packet are lost and counted in the report); its
    /// header is rewritten if the opener died before committing it. `now_ts` must be at
    /// or after every event time of the channel (it ends the last packets).
    ///
    /// # Safety
    /// No producer may be running on this shared memory any more (all processes that
    /// mapped it are dead or have stopped tracing). Recovery writes packet headers and
    /// commit words without the protocol's exclusivity.
    pub unsafe fn recover_dead_producer(&mut self, now_ts: u64) -> RecoveryReport {
        let mut report = RecoveryReport::default();
        for cpu in 0..self.geo.cpu_count {
            // SAFETY: forwarded contract.
            unsafe { self.recover_cpu(cpu, now_ts, &mut report) };
        }
        report
    }

    /// # Safety
    /// As for [`Consumer::recover_dead_producer`].
    unsafe fn recover_cpu(&mut self, cpu: u32, now_ts: u64, report: &mut RecoveryReport) {
        let geo = self.geo.clone();
        let s = geo.subbuf_bytes;
        let region = self.region.clone();
        let v = region.cpu(&geo, cpu);
        let wp = v.write_pos.load(Ordering::Acquire);
        let off = wp & (s - 1);
        let end = (wp >> geo.subbuf_shift) + u64::from(off != 0);
        let first = (self.consumed[cpu as usize] >> geo.subbuf_shift)
            .max(end.saturating_sub(geo.subbuf_count));
        let mut prev_end = self.last_end_ts[cpu as usize];
        let read_u64 = |q: u64, field: usize| {
            let mut b = [0u8; 8];
            // SAFETY: header bytes of packet q; no producer runs (caller contract).
            unsafe { v.data.read(geo.slot_of(q) * s as usize + field, &mut b) };
            u64::from_le_bytes(b)
        };
        // Loop bounded by subbuf_count (first >= end - N).
        for q in first..end {
            let slot = geo.slot_of(q);
            let base = slot * s as usize;
            let w = v.slots[slot].load(Ordering::Acquire);
            let lap = geo.lap_of(q);
            if commit_word::lap(w) != lap {
                // Complete (or already reused): leave it to get_next.
                prev_end = read_u64(q, packet::TIMESTAMP_END);
                continue;
            }
            let reserved = if q + 1 == end && off != 0 { off } else { s };
            let (prefix, ooo) = (commit_word::prefix(w), commit_word::ooo(w));
            let mut content = if prefix + ooo >= reserved {
                reserved
            } else {
                prefix
            };
            if content < reserved {
                report.committed_bytes_after_hole += ooo;
            }
            if prefix < HEADER && content < reserved {
                // The opener died before committing the header: rewrite it, empty.
                content = HEADER;
                let mut head = [0u8; packet::HEADER_BYTES];
                head[packet::MAGIC..packet::UUID].copy_from_slice(&packet::CTF_MAGIC.to_le_bytes());
                head[packet::UUID..packet::STREAM_ID].copy_from_slice(&geo.uuid);
                head[packet::STREAM_ID..packet::STREAM_INSTANCE_ID]
                    .copy_from_slice(&geo.stream_id.to_le_bytes());
                head[packet::STREAM_INSTANCE_ID..packet::TIMESTAMP_BEGIN]
                    .copy_from_slice(&u64::from(cpu).to_le_bytes());
                head[packet::TIMESTAMP_BEGIN..packet::TIMESTAMP_END]
                    .copy_from_slice(&prev_end.to_le_bytes());
                head[packet::PACKET_SIZE..packet::PACKET_SEQ_NUM]
                    .copy_from_slice(&(s * 8).to_le_bytes());
                head[packet::PACKET_SEQ_NUM..packet::EVENTS_DISCARDED]
                    .copy_from_slice(&q.to_le_bytes());
                head[packet::CPU_ID..].copy_from_slice(&cpu.to_le_bytes());
                // SAFETY: no producer runs (caller contract); in bounds.
                unsafe { v.data.write(base, &head) };
                report.headers_rewritten += 1;
            }
            let begin = read_u64(q, packet::TIMESTAMP_BEGIN);
            // End at the next packet's begin when that header is committed (keeps packet
            // times ordered), else at `now_ts`.
            let next_begin = (q + 1 < end)
                .then(|| {
                    let nw = v.slots[geo.slot_of(q + 1)].load(Ordering::Acquire);
                    let committed = commit_word::lap(nw) != geo.lap_of(q + 1)
                        || commit_word::prefix(nw) >= HEADER;
                    committed.then(|| read_u64(q + 1, packet::TIMESTAMP_BEGIN))
                })
                .flatten();
            let ts_end = next_begin.unwrap_or(now_ts).max(begin);
            let mut endf = [0u8; 16];
            endf[..8].copy_from_slice(&ts_end.to_le_bytes());
            endf[8..].copy_from_slice(&(content * 8).to_le_bytes());
            let discarded = v.events_discarded.load(Ordering::Relaxed);
            // SAFETY: no producer runs (caller contract); in bounds.
            unsafe {
                v.data.write(base + packet::TIMESTAMP_END, &endf);
                v.data
                    .write(base + packet::EVENTS_DISCARDED, &discarded.to_le_bytes());
            }
            prev_end = ts_end;
            // Release pairs with the Acquire in get_next: our header writes are visible.
            v.slots[slot].store(commit_word::pack(lap + 1, 0, 0), Ordering::Release);
            report.packets_closed += 1;
        }
        // Leave the buffer in the "closed" state: the next reservation opens a packet.
        v.write_pos
            .store(end << geo.subbuf_shift, Ordering::Release);
        writer::notify(&v);
    }
}

/// Checks the header of a packet copied out of shared memory; returns its content size
/// in bytes, or the name and value of the first bad field.
pub(crate) fn check_header(
    bytes: &[u8],
    geo: &Geometry,
    cpu: u32,
    p: u64,
) -> Result<usize, (&'static str, u64)> {
    let s = geo.subbuf_bytes;
    let magic = le_u32(bytes, packet::MAGIC);
    if magic != packet::CTF_MAGIC {
        return Err(("magic", u64::from(magic)));
    }
    let seq = le_u64(bytes, packet::PACKET_SEQ_NUM);
    if seq != p {
        return Err(("packet_seq_num", seq));
    }
    let size = le_u64(bytes, packet::PACKET_SIZE);
    if size != s * 8 {
        return Err(("packet_size", size));
    }
    let content = le_u64(bytes, packet::CONTENT_SIZE);
    if !content.is_multiple_of(8) || content < HEADER * 8 || content > s * 8 {
        return Err(("content_size", content));
    }
    let cpu_id = le_u32(bytes, packet::CPU_ID);
    if cpu_id != cpu {
        return Err(("cpu_id", u64::from(cpu_id)));
    }
    Ok((content / 8) as usize)
}

#[cfg(loom)]
impl Consumer {
    /// A channel in loom-tracked heap memory (loom tests only).
    pub fn new_heap(config: &crate::Config) -> Result<Self, crate::ConfigError> {
        let geo = Geometry::new(config)?;
        let region = Region::new_heap(&geo);
        Ok(Self::from_parts(Arc::new(region), geo))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A header whose `events_discarded` is `n`.
    fn header(n: u64) -> [u8; packet::HEADER_BYTES] {
        let mut h = [0u8; packet::HEADER_BYTES];
        h[packet::EVENTS_DISCARDED..packet::EVENTS_DISCARDED + 8].copy_from_slice(&n.to_le_bytes());
        h
    }

    #[test]
    fn handed_out_discard_counts_never_go_down_per_cpu() {
        let config = crate::Config {
            cpu_count: 2,
            subbuf_count: 2,
            subbuf_bytes: 4096,
            mode: Mode::Discard,
            stream_id: 0,
            uuid: [0; 16],
        };
        let mut c = Consumer::create(&config).expect("memfd channel");
        let mut out = Vec::new();
        // CPU 0: a packet closed late carries more drops than the next one; CPU 1 apart.
        for (cpu, n) in [(0, 3), (0, 7), (1, 1), (0, 5), (0, 9), (1, 0), (1, 4)] {
            let mut h = header(n);
            c.cumulative_discarded(cpu, &mut h);
            out.push(le_u64(&h, packet::EVENTS_DISCARDED));
        }
        assert_eq!(out, [3, 7, 1, 7, 9, 1, 4]);
    }
}
