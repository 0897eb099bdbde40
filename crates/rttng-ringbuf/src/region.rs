//! The memory the protocol runs on, behind one small interface: [`Region`] hands out a
//! [`CpuView`] (references to one CPU's atomics plus a [`DataView`] of its sub-buffers).
//!
//! Normally a `Region` is a `MAP_SHARED` mapping of a memfd (created by the consumer,
//! mapped again by each producer). Under `--cfg loom` it is a heap object made of loom
//! atomics and one loom `UnsafeCell` per data byte, so that loom checks both the atomics
//! and the exclusivity of every byte written. The algorithm (`writer.rs`,
//! `consumer.rs`) does not know which one it runs on. This file does no protocol logic.

use crate::layout::Geometry;
use crate::sync::{AtomicU32, AtomicU64};

/// One CPU's part of the shared memory.
#[derive(Clone, Copy)]
pub(crate) struct CpuView<'a> {
    /// `CpuHeader::write_pos`.
    pub write_pos: &'a AtomicU64,
    /// `CpuHeader::consumed_pos`.
    pub consumed_pos: &'a AtomicU64,
    /// `CpuHeader::events_discarded`.
    pub events_discarded: &'a AtomicU64,
    /// The commit words, one per sub-buffer slot.
    pub slots: &'a [AtomicU64],
    /// `ChannelHeader::wakeup_seq`.
    pub wakeup_seq: &'a AtomicU32,
    /// `ChannelHeader::consumer_waiters`.
    pub consumer_waiters: &'a AtomicU32,
    /// The `subbuf_count * subbuf_bytes` data bytes.
    pub data: DataView<'a>,
    pub geo: &'a Geometry,
    pub cpu: u32,
}

#[cfg(not(loom))]
pub(crate) use shm::{DataView, Region};

#[cfg(loom)]
pub(crate) use heap::{DataView, Region};

#[cfg(not(loom))]
mod shm {
    use super::CpuView;
    use crate::error::MapError;
    use crate::layout::Geometry;
    use crate::sync::{AtomicU32, AtomicU64};
    use rttng_abi::{ChannelHeader, CpuHeader};
    use std::marker::PhantomData;
    use std::mem::{offset_of, size_of};
    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::ptr::NonNull;

    /// Mappings up to this size are populated when mapped (`MAP_POPULATE`: pages
    /// allocated and page tables filled), so that the event path takes no page fault on
    /// the first lap of a buffer; larger ones fault their pages in as they are used.
    pub(crate) const POPULATE_MAX_BYTES: usize = 256 << 20;

    /// A read-write `MAP_SHARED` mapping of the whole channel shared memory.
    pub(crate) struct Region {
        base: NonNull<u8>,
        len: usize,
    }

    // SAFETY: the mapping is plain memory shared by design. All concurrent accesses go
    // through atomics or through byte ranges whose exclusive use the ring-buffer protocol
    // hands to one party at a time (see docs/protocols/ring-buffer.md).
    unsafe impl Send for Region {}
    // SAFETY: as above.
    unsafe impl Sync for Region {}

    impl Region {
        /// Maps `len` bytes of `fd` read-write and shared (populated when at most
        /// [`POPULATE_MAX_BYTES`]).
        pub(crate) fn map(fd: BorrowedFd<'_>, len: u64) -> Result<Self, MapError> {
            let len_usize = usize::try_from(len).map_err(|_| MapError::TooSmall {
                shm_bytes: len,
                needed_bytes: len,
            })?;
            if len_usize < size_of::<ChannelHeader>() {
                return Err(MapError::TooSmall {
                    shm_bytes: len,
                    needed_bytes: size_of::<ChannelHeader>() as u64,
                });
            }
            // SAFETY: a fresh mapping chosen by the kernel (addr null); no existing memory
            // is affected. The result is checked against MAP_FAILED below.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len_usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    if len_usize <= POPULATE_MAX_BYTES {
                        libc::MAP_SHARED | libc::MAP_POPULATE
                    } else {
                        libc::MAP_SHARED
                    },
                    fd.as_raw_fd(),
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(MapError::Io {
                    op: "mmap",
                    source: std::io::Error::last_os_error(),
                });
            }
            let base = NonNull::new(ptr.cast::<u8>()).ok_or(MapError::Io {
                op: "mmap",
                source: std::io::Error::other("null mapping"),
            })?;
            Ok(Self {
                base,
                len: len_usize,
            })
        }

        /// Size of the mapping.
        pub(crate) fn len(&self) -> usize {
            self.len
        }

        /// Copies the channel header out of shared memory.
        pub(crate) fn read_header(&self) -> ChannelHeader {
            // SAFETY: `map` checked len >= size_of::<ChannelHeader>(); the base is page
            // aligned; every bit pattern is a valid ChannelHeader (plain integers).
            // Volatile: the other side may be writing the futex words meanwhile.
            unsafe { self.base.as_ptr().cast::<ChannelHeader>().read_volatile() }
        }

        /// Writes the channel header (creator only, before the fd is shared).
        pub(crate) fn write_header(&self, header: &ChannelHeader) {
            // SAFETY: in bounds and aligned as in `read_header`; called by the creator
            // before any other party can see the memory.
            unsafe {
                self.base
                    .as_ptr()
                    .cast::<ChannelHeader>()
                    .write_volatile(*header)
            }
        }

        /// Writes a CPU's `cpu_id` (creator only, before the fd is shared).
        pub(crate) fn init_cpu(&self, geo: &Geometry, cpu: u32) {
            let off = geo.cpu_headers_offset as usize
                + cpu as usize * geo.cpu_header_stride as usize
                + offset_of!(CpuHeader, cpu_id);
            assert!(off + 4 <= self.len, "cpu header outside the mapping");
            // SAFETY: bounds asserted above; 4-byte aligned (stride and offset are
            // multiples of 8); no other party sees the memory yet.
            unsafe {
                self.base
                    .as_ptr()
                    .add(off)
                    .cast::<u32>()
                    .write_volatile(cpu)
            }
        }

        #[inline(always)]
        fn atomic_u64(&self, off: usize) -> &AtomicU64 {
            debug_assert!(off.is_multiple_of(8) && off + 8 <= self.len);
            // SAFETY: callers pass offsets inside the validated layout (Geometry was
            // checked against the mapping size), 8-byte aligned; the memory lives as long
            // as `self`; AtomicU64 has the size and alignment of u64.
            unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast()) }
        }

        #[inline(always)]
        fn atomic_u32(&self, off: usize) -> &AtomicU32 {
            debug_assert!(off.is_multiple_of(4) && off + 4 <= self.len);
            // SAFETY: as in `atomic_u64`, for a 4-byte field.
            unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
        }

        /// The view of CPU `cpu`. `geo` must be the geometry validated against this
        /// mapping and `cpu < geo.cpu_count`.
        #[inline(always)]
        pub(crate) fn cpu<'a>(&'a self, geo: &'a Geometry, cpu: u32) -> CpuView<'a> {
            debug_assert!(cpu < geo.cpu_count && geo.total_bytes as usize <= self.len);
            let hdr =
                geo.cpu_headers_offset as usize + cpu as usize * geo.cpu_header_stride as usize;
            let slots_off = hdr + size_of::<CpuHeader>();
            let n = geo.subbuf_count as usize;
            debug_assert!(slots_off + 8 * n <= self.len);
            // SAFETY: the commit words lie inside the validated layout, 8-byte aligned,
            // and are only ever accessed atomically; the slice borrows `self`.
            let slots = unsafe {
                std::slice::from_raw_parts(self.base.as_ptr().add(slots_off).cast::<AtomicU64>(), n)
            };
            let data_off = geo.data_offset as usize + cpu as usize * geo.data_stride as usize;
            debug_assert!(data_off + geo.data_stride as usize <= self.len);
            CpuView {
                write_pos: self.atomic_u64(hdr + offset_of!(CpuHeader, write_pos)),
                consumed_pos: self.atomic_u64(hdr + offset_of!(CpuHeader, consumed_pos)),
                events_discarded: self.atomic_u64(hdr + offset_of!(CpuHeader, events_discarded)),
                slots,
                wakeup_seq: self.atomic_u32(offset_of!(ChannelHeader, wakeup_seq)),
                consumer_waiters: self.atomic_u32(offset_of!(ChannelHeader, consumer_waiters)),
                data: DataView {
                    // SAFETY: in bounds (debug-asserted above, guaranteed by Geometry).
                    ptr: unsafe { self.base.as_ptr().add(data_off) },
                    len: geo.data_stride as usize,
                    _region: PhantomData,
                },
                geo,
                cpu,
            }
        }

        /// `ChannelHeader::wakeup_seq` and `consumer_waiters`.
        pub(crate) fn futex_words(&self) -> (&AtomicU32, &AtomicU32) {
            (
                self.atomic_u32(offset_of!(ChannelHeader, wakeup_seq)),
                self.atomic_u32(offset_of!(ChannelHeader, consumer_waiters)),
            )
        }
    }

    impl Drop for Region {
        fn drop(&mut self) {
            // SAFETY: unmaps exactly the mapping created in `map`; every reference into
            // it borrows `self`, so none outlives this call.
            unsafe {
                libc::munmap(self.base.as_ptr().cast(), self.len);
            }
        }
    }

    /// The data bytes of one CPU (its `subbuf_count` sub-buffers, back to back).
    #[derive(Clone, Copy)]
    pub(crate) struct DataView<'a> {
        ptr: *mut u8,
        len: usize,
        _region: PhantomData<&'a Region>,
    }

    impl DataView<'_> {
        /// Copies `src` to `off`. Out-of-bounds requests are ignored (never happens with
        /// a validated geometry; checked in debug builds).
        ///
        /// # Safety
        /// The caller must own `off..off + src.len()` under the ring-buffer protocol (a
        /// reservation, the header of a packet it opened or closed, or a dead producer).
        #[inline]
        pub(crate) unsafe fn write(&self, off: usize, src: &[u8]) {
            debug_assert!(off <= self.len && src.len() <= self.len - off);
            if off > self.len || src.len() > self.len - off {
                return;
            }
            // SAFETY: in bounds (checked above); exclusive use of the range is the
            // caller's contract; `src` cannot overlap shared memory handed out as &mut.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(off), src.len()) }
        }

        /// Address of `off..off + len`, or None if the range is out of bounds. For
        /// handing a range the caller owns (a packet taken out, not yet released) to a
        /// system call without copying it; no Rust reference to the bytes is created.
        pub(crate) fn range_ptr(&self, off: usize, len: usize) -> Option<*const u8> {
            if off > self.len || len > self.len - off {
                return None;
            }
            // SAFETY: in bounds (checked above); only an address is computed.
            Some(unsafe { self.ptr.add(off) }.cast_const())
        }

        /// Zeroes `len` bytes at `off`.
        ///
        /// # Safety
        /// As for [`DataView::write`].
        pub(crate) unsafe fn zero(&self, off: usize, len: usize) {
            debug_assert!(off <= self.len && len <= self.len - off);
            if off > self.len || len > self.len - off {
                return;
            }
            // SAFETY: in bounds (checked above); exclusivity is the caller's contract.
            unsafe { std::ptr::write_bytes(self.ptr.add(off), 0, len) }
        }

        /// Copies `dst.len()` bytes from `off`.
        ///
        /// # Safety
        /// No other party may write the range during the copy, except in overwrite mode
        /// where the caller validates the copy afterwards (seqlock-style) and discards it
        /// if a writer may have touched it.
        pub(crate) unsafe fn read(&self, off: usize, dst: &mut [u8]) {
            debug_assert!(off <= self.len && dst.len() <= self.len - off);
            if off > self.len || dst.len() > self.len - off {
                return;
            }
            // SAFETY: in bounds (checked above); see the contract above.
            unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(off), dst.as_mut_ptr(), dst.len()) }
        }

        /// The range as a mutable slice, for in-place serialisation.
        ///
        /// # Safety
        /// As for [`DataView::write`], for as long as the slice lives; and the range must
        /// be in bounds.
        #[inline]
        pub(crate) unsafe fn slice_mut<'s>(&self, off: usize, len: usize) -> &'s mut [u8] {
            debug_assert!(off <= self.len && len <= self.len - off);
            // SAFETY: in bounds and exclusive per the caller's contract.
            unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), len) }
        }
    }
}

#[cfg(loom)]
mod heap {
    use super::CpuView;
    use crate::layout::Geometry;
    use crate::sync::{AtomicU32, AtomicU64};
    use loom::cell::UnsafeCell;

    struct HeapCpu {
        write_pos: AtomicU64,
        consumed_pos: AtomicU64,
        events_discarded: AtomicU64,
        slots: Vec<AtomicU64>,
        data: Vec<UnsafeCell<u8>>,
    }

    /// The loom stand-in for the shared memory.
    pub(crate) struct Region {
        wakeup_seq: AtomicU32,
        consumer_waiters: AtomicU32,
        cpus: Vec<HeapCpu>,
    }

    // SAFETY: as for the shared-memory Region: bytes are accessed only under the
    // protocol's exclusivity, which loom's cells check.
    unsafe impl Send for Region {}
    // SAFETY: as above.
    unsafe impl Sync for Region {}

    impl Region {
        pub(crate) fn new_heap(geo: &Geometry) -> Self {
            let cpus = (0..geo.cpu_count)
                .map(|_| HeapCpu {
                    write_pos: AtomicU64::new(0),
                    consumed_pos: AtomicU64::new(0),
                    events_discarded: AtomicU64::new(0),
                    slots: (0..geo.subbuf_count).map(|_| AtomicU64::new(0)).collect(),
                    data: (0..geo.data_stride).map(|_| UnsafeCell::new(0)).collect(),
                })
                .collect();
            Self {
                wakeup_seq: AtomicU32::new(0),
                consumer_waiters: AtomicU32::new(0),
                cpus,
            }
        }

        pub(crate) fn cpu<'a>(&'a self, geo: &'a Geometry, cpu: u32) -> CpuView<'a> {
            let c = &self.cpus[cpu as usize];
            CpuView {
                write_pos: &c.write_pos,
                consumed_pos: &c.consumed_pos,
                events_discarded: &c.events_discarded,
                slots: &c.slots,
                wakeup_seq: &self.wakeup_seq,
                consumer_waiters: &self.consumer_waiters,
                data: DataView { cells: &c.data },
                geo,
                cpu,
            }
        }
    }

    /// Data bytes, one loom cell each (loom reports any unsynchronised access).
    #[derive(Clone, Copy)]
    pub(crate) struct DataView<'a> {
        cells: &'a [UnsafeCell<u8>],
    }

    impl DataView<'_> {
        /// # Safety
        /// As in the shared-memory version.
        pub(crate) unsafe fn write(&self, off: usize, src: &[u8]) {
            for (cell, &b) in self.cells[off..off + src.len()].iter().zip(src) {
                // SAFETY: exclusivity is the caller's contract, checked by loom.
                cell.with_mut(|p| unsafe { *p = b });
            }
        }

        /// # Safety
        /// As in the shared-memory version.
        pub(crate) unsafe fn zero(&self, off: usize, len: usize) {
            for cell in &self.cells[off..off + len] {
                // SAFETY: exclusivity is the caller's contract, checked by loom.
                cell.with_mut(|p| unsafe { *p = 0 });
            }
        }

        /// # Safety
        /// As in the shared-memory version.
        pub(crate) unsafe fn read(&self, off: usize, dst: &mut [u8]) {
            for (cell, d) in self.cells[off..off + dst.len()].iter().zip(dst) {
                // SAFETY: no concurrent writer is the caller's contract, checked by loom.
                *d = cell.with(|p| unsafe { *p });
            }
        }
    }
}
