//! The bytes that cross the process boundary between a traced application and the
//! consumer: the layout of the ring-buffer shared memory (one memfd per channel) and the
//! LTTng packet header every sub-buffer starts with.
//!
//! Normative description: `docs/protocols/ring-buffer.md` (this file and that document
//! must agree; the document wins on meaning, this file on bytes).
//!
//! Everything here is `#[repr(C)]`, fixed-width integers only, and **offsets, never
//! pointers**. The fields documented as "atomic" are accessed only through 32/64-bit
//! atomic operations by `rttng-ringbuf`; this crate deliberately holds no atomics and no
//! algorithm (no reserve, commit or consume logic), so it stays `no_std` and
//! dependency-free. Sizes are checked at compile time.
#![no_std]
#![forbid(unsafe_code)]

use core::mem::{offset_of, size_of};

/// Magic number at offset 0 of the shared memory ("RTRB" in little-endian ASCII).
pub const SHM_MAGIC: u32 = 0x4252_5452;
/// Major ABI version: bumped on any incompatible change of layout or protocol.
pub const ABI_MAJOR: u16 = 1;
/// Minor ABI version: bumped on compatible additions (new fields in reserved space).
pub const ABI_MINOR: u16 = 0;

/// Alignment of the per-CPU data areas inside the shared memory (a page).
pub const DATA_ALIGN_BYTES: u64 = 4096;
/// Size of a cache line; hot atomics get one each.
pub const CACHE_LINE_BYTES: u64 = 64;

/// Smallest allowed sub-buffer: must hold a packet header plus a useful record.
pub const MIN_SUBBUF_BYTES: u32 = 256;
/// Largest allowed sub-buffer (the commit word keeps offsets in [`COMMIT_OFFSET_BITS`] bits).
pub const MAX_SUBBUF_BYTES: u32 = 1 << 27;
/// Smallest number of sub-buffers per CPU.
pub const MIN_SUBBUF_COUNT: u32 = 2;
/// Largest number of sub-buffers per CPU.
pub const MAX_SUBBUF_COUNT: u32 = 1 << 16;
/// Largest number of per-CPU buffers in one channel.
pub const MAX_CPU_COUNT: u32 = 4096;
/// Largest total size of one channel's shared memory.
pub const MAX_SHM_BYTES: u64 = 1 << 40;

/// `ChannelHeader::mode`: never overwrite; drop (and count) events when full.
pub const MODE_DISCARD: u32 = 0;
/// `ChannelHeader::mode`: flight recorder; the oldest sub-buffer is overwritten.
pub const MODE_OVERWRITE: u32 = 1;

/// Header at offset 0 of the shared memory. Written once by the consumer before the fd
/// is handed out; read-only afterwards except for the two futex words.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelHeader {
    /// [`SHM_MAGIC`].
    pub magic: u32,
    /// [`ABI_MAJOR`] of the creator.
    pub abi_major: u16,
    /// [`ABI_MINOR`] of the creator.
    pub abi_minor: u16,
    /// `size_of::<ChannelHeader>()` of the creator.
    pub header_bytes: u32,
    /// Number of per-CPU buffers.
    pub cpu_count: u32,
    /// Sub-buffers per CPU (power of two).
    pub subbuf_count: u32,
    /// Bytes per sub-buffer (power of two); also the packet size.
    pub subbuf_bytes: u32,
    /// [`MODE_DISCARD`] or [`MODE_OVERWRITE`].
    pub mode: u32,
    /// CTF stream class id written in every packet header.
    pub stream_id: u32,
    /// Trace UUID written in every packet header (text order).
    pub uuid: [u8; 16],
    /// Offset of the first [`CpuHeader`].
    pub cpu_headers_offset: u64,
    /// Distance between consecutive per-CPU headers (header + commit words, cache aligned).
    pub cpu_header_stride_bytes: u64,
    /// Offset of CPU 0's data area (page aligned).
    pub data_offset: u64,
    /// Distance between consecutive per-CPU data areas (`subbuf_count * subbuf_bytes`).
    pub data_stride_bytes: u64,
    /// Total size of the shared memory.
    pub total_bytes: u64,
    /// Atomic, futex word. Incremented (SeqCst) by any participant whose commit completes
    /// a sub-buffer; the consumer sleeps on it with FUTEX_WAIT.
    pub wakeup_seq: u32,
    /// Atomic. Number of consumer threads sleeping (or about to sleep) on `wakeup_seq`;
    /// written by the consumer only, read (SeqCst) by producers to skip FUTEX_WAKE.
    pub consumer_waiters: u32,
    /// Zero; room for compatible additions.
    pub reserved: [u64; 4],
}

/// Per-CPU control block, followed directly by `subbuf_count` commit words (`u64`, see
/// [`commit_word`]). All fields are atomics except `cpu_id`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuHeader {
    /// Atomic. Reserve position: free-running byte count of this CPU's stream (packet
    /// `p = write_pos / subbuf_bytes`, offset `write_pos % subbuf_bytes`; offset 0 means
    /// "packet `p` not opened yet"). Written by producers (CAS) and by flush (CAS).
    pub write_pos: u64,
    /// Cache-line padding: `write_pos` is the hottest word.
    pub pad0: [u64; 7],
    /// Atomic. Consumer position: free-running, multiple of `subbuf_bytes`; every packet
    /// before it has been read and released. Written by the consumer only.
    pub consumed_pos: u64,
    /// Atomic. Cumulative count of events dropped on this CPU (buffer full, record too
    /// big, sub-buffer still being written). Incremented by producers.
    pub events_discarded: u64,
    /// CPU number of this buffer (plain, written once by the creator).
    pub cpu_id: u32,
    /// Zero.
    pub pad1: u32,
    /// Zero; room for compatible additions.
    pub reserved: [u64; 5],
}

// Layout checks: these are part of the ABI.
const _: () = assert!(size_of::<ChannelHeader>() == 128);
const _: () = assert!(offset_of!(ChannelHeader, uuid) == 32);
const _: () = assert!(offset_of!(ChannelHeader, cpu_headers_offset) == 48);
const _: () = assert!(offset_of!(ChannelHeader, total_bytes) == 80);
const _: () = assert!(offset_of!(ChannelHeader, wakeup_seq) == 88);
const _: () = assert!(offset_of!(ChannelHeader, consumer_waiters) == 92);
const _: () = assert!(size_of::<CpuHeader>() == 128);
const _: () = assert!(offset_of!(CpuHeader, write_pos) == 0);
const _: () = assert!(offset_of!(CpuHeader, consumed_pos) == 64);
const _: () = assert!(offset_of!(CpuHeader, events_discarded) == 72);
const _: () = assert!(offset_of!(CpuHeader, cpu_id) == 80);

/// The commit word of one sub-buffer slot (a `u64` after the [`CpuHeader`]).
///
/// Bits 0..28: `prefix`, bytes from the start of the packet up to which every
/// reservation is committed. Bits 28..56: `ooo`, bytes committed beyond a hole (out of
/// order). Bits 56..64: `lap`, `(packet_seq / subbuf_count) mod 256` of the packet that
/// occupies (or will next occupy) the slot. A packet is complete when `prefix + ooo`
/// reaches `subbuf_bytes`; the completing commit stores `(lap + 1, 0, 0)` instead, which
/// is both "packet complete" and "slot free for the next lap".
pub mod commit_word {
    /// Bits of the `prefix` and `ooo` fields.
    pub const OFFSET_BITS: u32 = 28;
    /// Mask of one offset field.
    pub const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
    /// Shift of the `lap` field.
    pub const LAP_SHIFT: u32 = 2 * OFFSET_BITS;
    /// Mask of the `lap` field after shifting.
    pub const LAP_MASK: u64 = 0xff;

    /// Builds a commit word.
    pub const fn pack(lap: u64, prefix: u64, ooo: u64) -> u64 {
        ((lap & LAP_MASK) << LAP_SHIFT)
            | ((ooo & OFFSET_MASK) << OFFSET_BITS)
            | (prefix & OFFSET_MASK)
    }
    /// The `lap` field.
    pub const fn lap(word: u64) -> u64 {
        (word >> LAP_SHIFT) & LAP_MASK
    }
    /// The `prefix` field.
    pub const fn prefix(word: u64) -> u64 {
        word & OFFSET_MASK
    }
    /// The `ooo` field.
    pub const fn ooo(word: u64) -> u64 {
        (word >> OFFSET_BITS) & OFFSET_MASK
    }
}

const _: () = assert!((MAX_SUBBUF_BYTES as u64) < commit_word::OFFSET_MASK);

/// The LTTng packet header + packet context at the start of every sub-buffer
/// (ctf-1.8-as-lttng-writes-it.md §5; x86 layout, little-endian, no padding).
pub mod packet {
    /// CTF packet magic.
    pub const CTF_MAGIC: u32 = 0xC1FC_1FC1;
    /// Offset of `magic` (u32).
    pub const MAGIC: usize = 0;
    /// Offset of `uuid` (16 bytes).
    pub const UUID: usize = 4;
    /// Offset of `stream_id` (u32).
    pub const STREAM_ID: usize = 20;
    /// Offset of `stream_instance_id` (u64).
    pub const STREAM_INSTANCE_ID: usize = 24;
    /// Offset of `timestamp_begin` (u64), written when the packet is opened.
    pub const TIMESTAMP_BEGIN: usize = 32;
    /// Offset of `timestamp_end` (u64), written when the packet is closed.
    pub const TIMESTAMP_END: usize = 40;
    /// Offset of `content_size` (u64, bits), written when the packet is closed.
    pub const CONTENT_SIZE: usize = 48;
    /// Offset of `packet_size` (u64, bits), written when the packet is opened.
    pub const PACKET_SIZE: usize = 56;
    /// Offset of `packet_seq_num` (u64), written when the packet is opened.
    pub const PACKET_SEQ_NUM: usize = 64;
    /// Offset of `events_discarded` (u64, cumulative), written when the packet is closed.
    pub const EVENTS_DISCARDED: usize = 72;
    /// Offset of `cpu_id` (u32), written when the packet is opened.
    pub const CPU_ID: usize = 80;
    /// Size of header + context; the first event record starts here.
    pub const HEADER_BYTES: usize = 84;
}

const _: () = assert!(packet::CPU_ID + 4 == packet::HEADER_BYTES);
const _: () = assert!(packet::HEADER_BYTES < MIN_SUBBUF_BYTES as usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_word_fields_round_trip() {
        let w = commit_word::pack(0x1ab, 12345, (1 << 27) + 5);
        assert_eq!(commit_word::lap(w), 0xab);
        assert_eq!(commit_word::prefix(w), 12345);
        assert_eq!(commit_word::ooo(w), (1 << 27) + 5);
    }

    #[test]
    fn magic_reads_rtrb() {
        assert_eq!(&SHM_MAGIC.to_le_bytes(), b"RTRB");
        assert_eq!(packet::CTF_MAGIC.to_le_bytes(), [0xc1, 0x1f, 0xfc, 0xc1]);
    }
}
