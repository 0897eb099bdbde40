//! The metadata stream's two encodings (CTF 1.8 §7.1 and the spec's §3): plain text starting
//! with `/* CTF 1.8`, or packets of a 37-byte header plus a chunk of TSDL text.
//!
//! [`decode_metadata_stream`] tells them apart by the first 4 bytes and returns the TSDL text.
//! It does not parse the text ([`crate::tsdl::parse_metadata`] does) and reads no files.

use std::fmt;

use crate::tsdl::MAX_METADATA_BYTES;

/// Magic number of a metadata packet header.
pub const METADATA_PACKET_MAGIC: u32 = 0x75D1_1D57;

/// Size of a metadata packet header in bytes.
pub const METADATA_PACKET_HEADER_BYTES: usize = 37;

/// What plain-text metadata must start with (babeltrace2 reads `/* CTF %u.%u` and wants 1.8).
const PLAIN_SIGNATURE: &str = "/* CTF 1.8";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataText {
    pub text: String,
    /// From packet headers, if packetized.
    pub uuid: Option<[u8; 16]>,
    pub packetized: bool,
}

/// Why a metadata stream cannot be decoded; `offset` is the byte offset in the stream (for
/// `InvalidUtf8`, in the concatenated text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataStreamError {
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    /// Neither the packet magic nor the `/* CTF 1.8` signature.
    BadSignature {
        offset: usize,
    },
    TruncatedHeader {
        offset: usize,
    },
    BadPacketMagic {
        offset: usize,
    },
    /// `content_size`/`packet_size` inconsistent with the header or each other.
    BadPacketSize {
        offset: usize,
        content_size_bits: u32,
        packet_size_bits: u32,
    },
    TruncatedContent {
        offset: usize,
    },
    /// Compression, encryption or checksum scheme other than none.
    UnsupportedScheme {
        offset: usize,
    },
    BadVersion {
        offset: usize,
        major: u8,
        minor: u8,
    },
    UuidMismatch {
        offset: usize,
    },
    InvalidUtf8 {
        offset: usize,
    },
}

impl fmt::Display for MetadataStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MetadataStreamError::*;
        match self {
            TooLarge { bytes, limit } => write!(f, "metadata stream is {bytes} bytes, above the limit of {limit}"),
            BadSignature { offset } => {
                write!(f, "metadata byte {offset}: neither a metadata packet nor text starting with `/* CTF 1.8`")
            }
            TruncatedHeader { offset } => write!(f, "metadata byte {offset}: truncated packet header"),
            BadPacketMagic { offset } => write!(f, "metadata byte {offset}: bad packet magic"),
            BadPacketSize { offset, content_size_bits, packet_size_bits } => write!(
                f,
                "metadata byte {offset}: invalid packet sizes (content {content_size_bits} bits, packet {packet_size_bits} bits)"
            ),
            TruncatedContent { offset } => write!(f, "metadata byte {offset}: packet content runs past the end"),
            UnsupportedScheme { offset } => {
                write!(f, "metadata byte {offset}: compressed, encrypted or checksummed packets are not supported")
            }
            BadVersion { offset, major, minor } => {
                write!(f, "metadata byte {offset}: packet version {major}.{minor}, expected 1.8")
            }
            UuidMismatch { offset } => write!(f, "metadata byte {offset}: packet UUID differs from the first packet's"),
            InvalidUtf8 { offset } => write!(f, "metadata text byte {offset}: invalid UTF-8"),
        }
    }
}

impl std::error::Error for MetadataStreamError {}

/// Detects the encoding by the first 4 bytes (the packet magic in either byte order means
/// packetized, else the text must start with `/* CTF 1.8`) and returns the TSDL text (packet
/// chunks concatenated, each `content_size` bits minus the 37-byte header).
pub fn decode_metadata_stream(bytes: &[u8]) -> Result<MetadataText, MetadataStreamError> {
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(MetadataStreamError::TooLarge {
            bytes: bytes.len(),
            limit: MAX_METADATA_BYTES,
        });
    }
    let Some(first) = bytes.get(..4) else {
        return Err(MetadataStreamError::BadSignature { offset: 0 });
    };
    let first: [u8; 4] = [first[0], first[1], first[2], first[3]];
    let little = if u32::from_le_bytes(first) == METADATA_PACKET_MAGIC {
        true
    } else if u32::from_be_bytes(first) == METADATA_PACKET_MAGIC {
        false
    } else {
        if !bytes.starts_with(PLAIN_SIGNATURE.as_bytes()) {
            return Err(MetadataStreamError::BadSignature { offset: 0 });
        }
        let text =
            String::from_utf8(bytes.to_vec()).map_err(|e| MetadataStreamError::InvalidUtf8 {
                offset: e.utf8_error().valid_up_to(),
            })?;
        return Ok(MetadataText {
            text,
            uuid: None,
            packetized: false,
        });
    };
    decode_packets(bytes, little)
}

fn decode_packets(bytes: &[u8], little: bool) -> Result<MetadataText, MetadataStreamError> {
    let read_u32 = |at: usize| -> u32 {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut text: Vec<u8> = Vec::new();
    let mut uuid: Option<[u8; 16]> = None;
    let mut offset = 0usize;
    // Each iteration consumes at least one header, so the loop is bounded by the input size.
    while offset < bytes.len() {
        if bytes.len() - offset < METADATA_PACKET_HEADER_BYTES {
            return Err(MetadataStreamError::TruncatedHeader { offset });
        }
        if read_u32(offset) != METADATA_PACKET_MAGIC {
            return Err(MetadataStreamError::BadPacketMagic { offset });
        }
        let mut packet_uuid = [0u8; 16];
        packet_uuid.copy_from_slice(&bytes[offset + 4..offset + 20]);
        match uuid {
            None => uuid = Some(packet_uuid),
            Some(u) if u != packet_uuid => {
                return Err(MetadataStreamError::UuidMismatch { offset })
            }
            Some(_) => {}
        }
        let content_size_bits = read_u32(offset + 24);
        let packet_size_bits = read_u32(offset + 28);
        let schemes = &bytes[offset + 32..offset + 35];
        let (major, minor) = (bytes[offset + 35], bytes[offset + 36]);
        let header_bits = (METADATA_PACKET_HEADER_BYTES * 8) as u32;
        if content_size_bits < header_bits
            || content_size_bits % 8 != 0
            || packet_size_bits % 8 != 0
            || packet_size_bits < content_size_bits
        {
            return Err(MetadataStreamError::BadPacketSize {
                offset,
                content_size_bits,
                packet_size_bits,
            });
        }
        if schemes.iter().any(|&s| s != 0) {
            return Err(MetadataStreamError::UnsupportedScheme { offset });
        }
        if (major, minor) != (1, 8) {
            return Err(MetadataStreamError::BadVersion {
                offset,
                major,
                minor,
            });
        }
        let content_end = offset + (content_size_bits / 8) as usize;
        if content_end > bytes.len() {
            return Err(MetadataStreamError::TruncatedContent { offset });
        }
        text.extend_from_slice(&bytes[offset + METADATA_PACKET_HEADER_BYTES..content_end]);
        // The last packet's padding may be missing from the file; anything after it is not.
        offset = offset
            .saturating_add((packet_size_bits / 8) as usize)
            .min(bytes.len());
    }
    let text = String::from_utf8(text).map_err(|e| MetadataStreamError::InvalidUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(MetadataText {
        text,
        uuid,
        packetized: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(uuid: [u8; 16], chunk: &[u8], padding: usize, little: bool) -> Vec<u8> {
        let content_bits = ((METADATA_PACKET_HEADER_BYTES + chunk.len()) * 8) as u32;
        let packet_bits = content_bits + (padding * 8) as u32;
        let enc = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&enc(METADATA_PACKET_MAGIC));
        out.extend_from_slice(&uuid);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&enc(content_bits));
        out.extend_from_slice(&enc(packet_bits));
        out.extend_from_slice(&[0, 0, 0, 1, 8]);
        out.extend_from_slice(chunk);
        out.extend(std::iter::repeat_n(0, padding));
        out
    }

    #[test]
    fn plain_text_needs_the_signature() {
        let t = decode_metadata_stream(b"/* CTF 1.8 */\ntrace {};").unwrap();
        assert!(!t.packetized);
        assert_eq!(t.text, "/* CTF 1.8 */\ntrace {};");
        assert_eq!(
            decode_metadata_stream(b"trace {};"),
            Err(MetadataStreamError::BadSignature { offset: 0 })
        );
        assert_eq!(
            decode_metadata_stream(b"/*"),
            Err(MetadataStreamError::BadSignature { offset: 0 })
        );
    }

    #[test]
    fn packets_in_both_byte_orders_concatenate() {
        for little in [true, false] {
            let uuid = [7u8; 16];
            let mut bytes = packet(uuid, b"/* CTF 1.8 */ tr", 11, little);
            bytes.extend(packet(uuid, b"ace", 0, little));
            let t = decode_metadata_stream(&bytes).unwrap();
            assert_eq!(t.text, "/* CTF 1.8 */ trace");
            assert_eq!(t.uuid, Some(uuid));
            assert!(t.packetized);
        }
    }

    #[test]
    fn damaged_packets_report_their_offset() {
        let uuid = [1u8; 16];
        let mut bytes = packet(uuid, b"abc", 0, true);
        let second = bytes.len();
        bytes.extend(packet([2u8; 16], b"def", 0, true));
        assert_eq!(
            decode_metadata_stream(&bytes),
            Err(MetadataStreamError::UuidMismatch { offset: second })
        );

        let mut bytes = packet(uuid, b"abc", 0, true);
        bytes.extend_from_slice(&[0x57, 0x1d]);
        assert_eq!(
            decode_metadata_stream(&bytes),
            Err(MetadataStreamError::TruncatedHeader { offset: 40 })
        );

        let mut bytes = packet(uuid, b"abc", 0, true);
        bytes.truncate(38);
        assert_eq!(
            decode_metadata_stream(&bytes),
            Err(MetadataStreamError::TruncatedContent { offset: 0 })
        );

        let mut bytes = packet(uuid, b"abc", 0, true);
        bytes[24..28].copy_from_slice(&8u32.to_le_bytes());
        assert!(matches!(
            decode_metadata_stream(&bytes),
            Err(MetadataStreamError::BadPacketSize { offset: 0, .. })
        ));

        let mut bytes = packet(uuid, b"abc", 0, true);
        bytes[32] = 1;
        assert_eq!(
            decode_metadata_stream(&bytes),
            Err(MetadataStreamError::UnsupportedScheme { offset: 0 })
        );
    }
}
