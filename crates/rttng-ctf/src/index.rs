//! LTTng packet index files (`index/CHANNEL_N.idx`): encode and decode.
//!
//! Layout (always big-endian): a 16-byte header (magic 0xC1F1DCC1, major, minor, entry size),
//! then one fixed-size entry per packet. Version 1.1 entries are 72 bytes, 1.0 entries 56 bytes.
//! The decoder rejects, with a typed error, every case for which babeltrace2 ignores an index and
//! scans the data file instead. This module does no I/O: the caller reads and writes the files.

/// `CTF_INDEX_MAGIC`
pub const INDEX_MAGIC: u32 = 0xC1F1_DCC1;
/// Size of the file header.
pub const INDEX_HEADER_BYTES: usize = 16;
/// Size of a version 1.0 entry (seven u64).
pub const INDEX_ENTRY_1_0_BYTES: usize = 56;
/// Size of a version 1.1 entry (nine u64).
pub const INDEX_ENTRY_1_1_BYTES: usize = 72;
/// Largest entry size the decoder accepts (later versions append fields it skips).
pub const MAX_INDEX_ENTRY_BYTES: usize = 4096;
/// Most entries the decoder reads from one file.
pub const MAX_INDEX_ENTRIES: usize = 1 << 24;

/// One packet of a data stream file, as the index records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Packet start in the data file.
    pub offset_bytes: u64,
    pub packet_size_bits: u64,
    pub content_size_bits: u64,
    pub timestamp_begin: u64,
    pub timestamp_end: u64,
    /// Cumulative, as in the packet context.
    pub events_discarded: u64,
    /// Stream class id.
    pub stream_id: u64,
    /// Version 1.1 only.
    pub stream_instance_id: Option<u64>,
    /// Version 1.1 only.
    pub packet_seq_num: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexVersion {
    /// 56-byte entries (LTTng < 2.8).
    V1_0,
    /// 72-byte entries.
    V1_1,
}

/// A decoded index file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    pub major: u32,
    pub minor: u32,
    pub entry_bytes: u32,
    pub entries: Vec<IndexEntry>,
}

/// Why an index file is unusable. Byte offsets are from the start of the index file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// The file is shorter than its 16-byte header.
    TruncatedHeader {
        len_bytes: usize,
    },
    BadMagic {
        found: u32,
    },
    /// Only major version 1 is known.
    UnsupportedMajor {
        major: u32,
    },
    /// The entry size is below 56 bytes (or implausibly large).
    BadEntrySize {
        entry_bytes: u32,
    },
    /// The bytes after the header are not a whole number of entries.
    SizeNotMultipleOfEntry {
        body_bytes: usize,
        entry_bytes: u32,
    },
    TooManyEntries {
        count: usize,
    },
    /// A packet size is not a whole number of bytes.
    PacketSizeNotBytes {
        entry_index: usize,
        byte_offset: usize,
        packet_size_bits: u64,
    },
    /// An entry starts before the previous one.
    OffsetNotIncreasing {
        entry_index: usize,
        byte_offset: usize,
        offset_bytes: u64,
        previous_offset_bytes: u64,
    },
    /// `timestamp_end < timestamp_begin`.
    EndBeforeBegin {
        entry_index: usize,
        byte_offset: usize,
        timestamp_begin: u64,
        timestamp_end: u64,
    },
    /// The packets the index lists do not add up to the data file's size.
    TotalSizeMismatch {
        indexed_bytes: u64,
        data_file_bytes: u64,
    },
}

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexError::TruncatedHeader { len_bytes } => {
                write!(f, "index file is {len_bytes} bytes, shorter than its {INDEX_HEADER_BYTES}-byte header")
            }
            IndexError::BadMagic { found } => write!(f, "bad index magic {found:#010x} at byte 0"),
            IndexError::UnsupportedMajor { major } => write!(f, "unsupported index major version {major} at byte 4"),
            IndexError::BadEntrySize { entry_bytes } => write!(f, "bad index entry size {entry_bytes} at byte 12"),
            IndexError::SizeNotMultipleOfEntry { body_bytes, entry_bytes } => {
                write!(f, "index body of {body_bytes} bytes is not a multiple of the entry size {entry_bytes}")
            }
            IndexError::TooManyEntries { count } => {
                write!(f, "index has {count} entries, more than the limit {MAX_INDEX_ENTRIES}")
            }
            IndexError::PacketSizeNotBytes { entry_index, byte_offset, packet_size_bits } => write!(
                f,
                "index entry {entry_index} (byte {byte_offset}): packet size {packet_size_bits} bits is not a whole number of bytes"
            ),
            IndexError::OffsetNotIncreasing { entry_index, byte_offset, offset_bytes, previous_offset_bytes } => write!(
                f,
                "index entry {entry_index} (byte {byte_offset}): packet offset {offset_bytes} is before the previous one {previous_offset_bytes}"
            ),
            IndexError::EndBeforeBegin { entry_index, byte_offset, timestamp_begin, timestamp_end } => write!(
                f,
                "index entry {entry_index} (byte {byte_offset}): timestamp_end {timestamp_end} is before timestamp_begin {timestamp_begin}"
            ),
            IndexError::TotalSizeMismatch { indexed_bytes, data_file_bytes } => write!(
                f,
                "index covers {indexed_bytes} bytes but the data file has {data_file_bytes} bytes"
            ),
        }
    }
}

impl std::error::Error for IndexError {}

/// Encode an index file. Version 1.0 drops `stream_instance_id` and `packet_seq_num`; version
/// 1.1 writes 0 for those that are `None`.
pub fn encode_index(entries: &[IndexEntry], version: IndexVersion) -> Vec<u8> {
    let (minor, entry_bytes) = match version {
        IndexVersion::V1_0 => (0u32, INDEX_ENTRY_1_0_BYTES),
        IndexVersion::V1_1 => (1u32, INDEX_ENTRY_1_1_BYTES),
    };
    let mut out = Vec::with_capacity(INDEX_HEADER_BYTES + entries.len() * entry_bytes);
    out.extend_from_slice(&INDEX_MAGIC.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&minor.to_be_bytes());
    out.extend_from_slice(&(entry_bytes as u32).to_be_bytes());
    for e in entries {
        for v in [
            e.offset_bytes,
            e.packet_size_bits,
            e.content_size_bits,
            e.timestamp_begin,
            e.timestamp_end,
            e.events_discarded,
            e.stream_id,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        if version == IndexVersion::V1_1 {
            out.extend_from_slice(&e.stream_instance_id.unwrap_or(0).to_be_bytes());
            out.extend_from_slice(&e.packet_seq_num.unwrap_or(0).to_be_bytes());
        }
    }
    out
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// Decode an index file. With `data_file_bytes`, also check that the packets add up to the data
/// file's size, as babeltrace2 does.
pub fn decode_index(bytes: &[u8], data_file_bytes: Option<u64>) -> Result<IndexFile, IndexError> {
    if bytes.len() < INDEX_HEADER_BYTES {
        return Err(IndexError::TruncatedHeader {
            len_bytes: bytes.len(),
        });
    }
    let magic = be_u32(bytes, 0);
    if magic != INDEX_MAGIC {
        return Err(IndexError::BadMagic { found: magic });
    }
    let major = be_u32(bytes, 4);
    let minor = be_u32(bytes, 8);
    let entry_bytes = be_u32(bytes, 12);
    if major != 1 {
        return Err(IndexError::UnsupportedMajor { major });
    }
    let entry_len = entry_bytes as usize;
    if !(INDEX_ENTRY_1_0_BYTES..=MAX_INDEX_ENTRY_BYTES).contains(&entry_len) {
        return Err(IndexError::BadEntrySize { entry_bytes });
    }
    let body = &bytes[INDEX_HEADER_BYTES..];
    if !body.len().is_multiple_of(entry_len) {
        return Err(IndexError::SizeNotMultipleOfEntry {
            body_bytes: body.len(),
            entry_bytes,
        });
    }
    let count = body.len() / entry_len;
    if count > MAX_INDEX_ENTRIES {
        return Err(IndexError::TooManyEntries { count });
    }
    let has_1_1_fields = minor >= 1 && entry_len >= INDEX_ENTRY_1_1_BYTES;
    let mut entries: Vec<IndexEntry> = Vec::with_capacity(count);
    let mut total_bytes: u64 = 0;
    for (i, e) in body.chunks_exact(entry_len).enumerate() {
        let byte_offset = INDEX_HEADER_BYTES + i * entry_len;
        let entry = IndexEntry {
            offset_bytes: be_u64(e, 0),
            packet_size_bits: be_u64(e, 8),
            content_size_bits: be_u64(e, 16),
            timestamp_begin: be_u64(e, 24),
            timestamp_end: be_u64(e, 32),
            events_discarded: be_u64(e, 40),
            stream_id: be_u64(e, 48),
            stream_instance_id: has_1_1_fields.then(|| be_u64(e, 56)),
            packet_seq_num: has_1_1_fields.then(|| be_u64(e, 64)),
        };
        if !entry.packet_size_bits.is_multiple_of(8) {
            return Err(IndexError::PacketSizeNotBytes {
                entry_index: i,
                byte_offset,
                packet_size_bits: entry.packet_size_bits,
            });
        }
        if let Some(prev) = entries.last() {
            if entry.offset_bytes < prev.offset_bytes {
                return Err(IndexError::OffsetNotIncreasing {
                    entry_index: i,
                    byte_offset,
                    offset_bytes: entry.offset_bytes,
                    previous_offset_bytes: prev.offset_bytes,
                });
            }
        }
        if entry.timestamp_end < entry.timestamp_begin {
            return Err(IndexError::EndBeforeBegin {
                entry_index: i,
                byte_offset,
                timestamp_begin: entry.timestamp_begin,
                timestamp_end: entry.timestamp_end,
            });
        }
        total_bytes = total_bytes.saturating_add(entry.packet_size_bits / 8);
        entries.push(entry);
    }
    if let Some(data_file_bytes) = data_file_bytes {
        if total_bytes != data_file_bytes {
            return Err(IndexError::TotalSizeMismatch {
                indexed_bytes: total_bytes,
                data_file_bytes,
            });
        }
    }
    Ok(IndexFile {
        major,
        minor,
        entry_bytes,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: u64, begin: u64, end: u64) -> IndexEntry {
        IndexEntry {
            offset_bytes: offset,
            packet_size_bits: 1024,
            content_size_bits: 800,
            timestamp_begin: begin,
            timestamp_end: end,
            events_discarded: 3,
            stream_id: 1,
            stream_instance_id: Some(2),
            packet_seq_num: Some(offset / 128),
        }
    }

    #[test]
    fn round_trip_both_versions() {
        let entries = [entry(0, 10, 20), entry(128, 20, 30)];
        let v11 = encode_index(&entries, IndexVersion::V1_1);
        assert_eq!(v11.len(), 16 + 2 * 72);
        let d = decode_index(&v11, Some(256)).unwrap();
        assert_eq!((d.major, d.minor, d.entry_bytes), (1, 1, 72));
        assert_eq!(d.entries, entries);

        let v10 = encode_index(&entries, IndexVersion::V1_0);
        assert_eq!(v10.len(), 16 + 2 * 56);
        let d = decode_index(&v10, None).unwrap();
        assert_eq!(d.minor, 0);
        assert_eq!(d.entries[1].stream_instance_id, None);
        assert_eq!(d.entries[1].timestamp_end, 30);
    }

    #[test]
    fn every_malformed_case_is_a_typed_error() {
        let good = encode_index(&[entry(0, 10, 20), entry(128, 20, 30)], IndexVersion::V1_1);
        assert_eq!(
            decode_index(&good[..10], None),
            Err(IndexError::TruncatedHeader { len_bytes: 10 })
        );

        let mut bad = good.clone();
        bad[0] = 0;
        assert!(matches!(
            decode_index(&bad, None),
            Err(IndexError::BadMagic { found: 0x00F1_DCC1 })
        ));

        let mut bad = good.clone();
        bad[15] = 40;
        assert_eq!(
            decode_index(&bad, None),
            Err(IndexError::BadEntrySize { entry_bytes: 40 })
        );

        assert!(matches!(
            decode_index(&good[..good.len() - 1], None),
            Err(IndexError::SizeNotMultipleOfEntry {
                body_bytes: 143,
                entry_bytes: 72
            })
        ));

        let bad = encode_index(&[entry(128, 10, 20), entry(0, 20, 30)], IndexVersion::V1_1);
        assert!(matches!(
            decode_index(&bad, None),
            Err(IndexError::OffsetNotIncreasing {
                entry_index: 1,
                byte_offset: 88,
                ..
            })
        ));

        let bad = encode_index(&[entry(0, 30, 20)], IndexVersion::V1_1);
        assert!(matches!(
            decode_index(&bad, None),
            Err(IndexError::EndBeforeBegin { entry_index: 0, .. })
        ));

        let mut e = entry(0, 1, 2);
        e.packet_size_bits = 1001;
        let bad = encode_index(&[e], IndexVersion::V1_1);
        assert!(matches!(
            decode_index(&bad, None),
            Err(IndexError::PacketSizeNotBytes { .. })
        ));

        assert_eq!(
            decode_index(&good, Some(255)),
            Err(IndexError::TotalSizeMismatch {
                indexed_bytes: 256,
                data_file_bytes: 255
            })
        );
    }
}
