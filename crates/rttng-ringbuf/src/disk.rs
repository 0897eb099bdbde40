//! A packet as LTTng's consumer writes it to disk, for every writer of stream files (the
//! consumer daemon, `LocalSession`): cut after its content rounded up to a page, with
//! `packet_size` rewritten, and described by one `.idx` entry read from its header. Not here:
//! writing the bytes ([`crate::InPlacePacket::write_to`]), the index file format
//! (`rttng_ctf::index`), rotation.

use rttng_abi::packet;
use rttng_ctf::index::IndexEntry;

/// LTTng's consumer ends packets on disk at their content rounded up to this (the page size).
pub const PAGE_ALIGN_BYTES: usize = 4096;

/// The little-endian u64 at `offset` of a packet header.
pub fn header_u64(header: &[u8; packet::HEADER_BYTES], offset: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&header[offset..offset + 8]);
    u64::from_le_bytes(a)
}

/// Cuts a packet of `packet_bytes` after its content rounded up to `align_bytes` (LTTng:
/// [`PAGE_ALIGN_BYTES`]; never below the header, never above `packet_bytes`), so that the last,
/// partly filled packets of a trace do not pad the stream files with a whole sub-buffer;
/// rewrites `packet_size` in `header` to match. Returns the length to write.
pub fn trim_packet(
    header: &mut [u8; packet::HEADER_BYTES],
    packet_bytes: usize,
    align_bytes: usize,
) -> usize {
    let content =
        usize::try_from(header_u64(header, packet::CONTENT_SIZE) / 8).unwrap_or(usize::MAX);
    let len = content
        .div_ceil(align_bytes.max(1))
        .saturating_mul(align_bytes.max(1))
        .clamp(packet::HEADER_BYTES, packet_bytes.max(packet::HEADER_BYTES));
    header[packet::PACKET_SIZE..packet::PACKET_SIZE + 8]
        .copy_from_slice(&(len as u64 * 8).to_le_bytes());
    len
}

/// The index entry of a packet written at `offset_bytes` of its stream file, from its header
/// as written (after [`trim_packet`]). The stream id and instance (CPU) are the writer's own,
/// not the header's: an application wrote the header, and it is not trusted with them.
pub fn index_entry(
    header: &[u8; packet::HEADER_BYTES],
    offset_bytes: u64,
    stream_id: u64,
    stream_instance_id: u64,
) -> IndexEntry {
    IndexEntry {
        offset_bytes,
        packet_size_bits: header_u64(header, packet::PACKET_SIZE),
        content_size_bits: header_u64(header, packet::CONTENT_SIZE),
        timestamp_begin: header_u64(header, packet::TIMESTAMP_BEGIN),
        timestamp_end: header_u64(header, packet::TIMESTAMP_END),
        events_discarded: header_u64(header, packet::EVENTS_DISCARDED),
        stream_id,
        stream_instance_id: Some(stream_instance_id),
        packet_seq_num: Some(header_u64(header, packet::PACKET_SEQ_NUM)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(size: usize, content: usize) -> [u8; packet::HEADER_BYTES] {
        let mut h = [0xEEu8; packet::HEADER_BYTES];
        h[packet::CONTENT_SIZE..packet::CONTENT_SIZE + 8]
            .copy_from_slice(&(content as u64 * 8).to_le_bytes());
        h[packet::PACKET_SIZE..packet::PACKET_SIZE + 8]
            .copy_from_slice(&(size as u64 * 8).to_le_bytes());
        h
    }

    #[test]
    fn partial_packet_is_cut_at_the_page_after_its_content() {
        let mut h = header(4 * 4096, 4096 + 100);
        assert_eq!(trim_packet(&mut h, 4 * 4096, PAGE_ALIGN_BYTES), 2 * 4096);
        assert_eq!(header_u64(&h, packet::PACKET_SIZE), 2 * 4096 * 8);
        assert_eq!(header_u64(&h, packet::CONTENT_SIZE), (4096 + 100) * 8);
    }

    #[test]
    fn full_and_small_packets_keep_their_size() {
        let mut full = header(4 * 4096, 4 * 4096);
        assert_eq!(trim_packet(&mut full, 4 * 4096, PAGE_ALIGN_BYTES), 4 * 4096);
        assert_eq!(header_u64(&full, packet::PACKET_SIZE), 4 * 4096 * 8);
        let mut small = header(1024, 200);
        assert_eq!(trim_packet(&mut small, 1024, PAGE_ALIGN_BYTES), 1024);
        assert_eq!(header_u64(&small, packet::PACKET_SIZE), 1024 * 8);
        let mut cache_line = header(4096, 100);
        assert_eq!(trim_packet(&mut cache_line, 4096, 64), 128);
        let mut tiny = header(4096, 10);
        assert_eq!(trim_packet(&mut tiny, 4096, 64), packet::HEADER_BYTES);
    }

    #[test]
    fn index_entry_reads_the_header_fields_it_names() {
        let mut h = [0u8; packet::HEADER_BYTES];
        let put = |h: &mut [u8; packet::HEADER_BYTES], at: usize, v: u64| {
            h[at..at + 8].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut h, packet::TIMESTAMP_BEGIN, 10);
        put(&mut h, packet::TIMESTAMP_END, 20);
        put(&mut h, packet::CONTENT_SIZE, 300 * 8);
        put(&mut h, packet::PACKET_SIZE, 4096 * 8);
        put(&mut h, packet::PACKET_SEQ_NUM, 7);
        put(&mut h, packet::EVENTS_DISCARDED, 3);
        // The header's own stream id and instance are ignored.
        h[packet::STREAM_ID..packet::STREAM_ID + 4].copy_from_slice(&99u32.to_le_bytes());
        put(&mut h, packet::STREAM_INSTANCE_ID, 98);
        let e = index_entry(&h, 8192, 2, 1);
        assert_eq!(
            e,
            IndexEntry {
                offset_bytes: 8192,
                packet_size_bits: 4096 * 8,
                content_size_bits: 300 * 8,
                timestamp_begin: 10,
                timestamp_end: 20,
                events_discarded: 3,
                stream_id: 2,
                stream_instance_id: Some(1),
                packet_seq_num: Some(7),
            }
        );
    }
}
