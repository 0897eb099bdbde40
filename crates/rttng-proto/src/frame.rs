//! Framing: every message is a 16-byte header (magic, version, kind, payload length) followed
//! by the payload. The header is checked before any payload byte is read, so an oversized or
//! foreign frame is refused without allocating. Not here: the payload encoding ([`crate::wire`])
//! and the socket calls ([`crate::sock`]).

use crate::wire::{DecodeError, Wire};

/// `"RTC1"` in little-endian byte order.
pub const MAGIC: u32 = u32::from_le_bytes(*b"RTC1");
/// Incompatible changes bump the major; a peer refuses another major.
pub const VERSION_MAJOR: u16 = 1;
/// Compatible additions (new message variants at the end) bump the minor.
pub const VERSION_MINOR: u16 = 2;
pub const HEADER_BYTES: usize = 16;
/// Largest payload a peer accepts (metadata appends of a big app fit well below this).
pub const MAX_PAYLOAD_BYTES: u32 = 4 << 20;

/// Which message type the payload holds; a receiver refuses kinds it does not expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// CLI → sessiond: [`crate::Request`].
    Request = 1,
    /// sessiond → CLI: [`crate::Response`].
    Response = 2,
    /// app → sessiond, once, first: [`crate::AppHello`].
    AppHello = 3,
    /// sessiond → app: [`crate::AppCommand`] (may carry one fd).
    AppCommand = 4,
    /// app → sessiond: [`crate::AppReply`].
    AppReply = 5,
    /// sessiond → consumerd: [`crate::ConsumerRequest`].
    ConsumerRequest = 6,
    /// consumerd → sessiond: [`crate::ConsumerReply`] (may carry one fd).
    ConsumerReply = 7,
    /// app → sessiond, first and only message of a second, short connection: tracepoints
    /// that appeared after the hello ([`crate::AppEvents`]); answered with one
    /// [`crate::AppReply`].
    AppEvents = 8,
}

impl Kind {
    pub fn from_u32(v: u32) -> Option<Kind> {
        Some(match v {
            1 => Kind::Request,
            2 => Kind::Response,
            3 => Kind::AppHello,
            4 => Kind::AppCommand,
            5 => Kind::AppReply,
            6 => Kind::ConsumerRequest,
            7 => Kind::ConsumerReply,
            8 => Kind::AppEvents,
            _ => return None,
        })
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: Kind,
    pub minor: u16,
    pub payload_bytes: u32,
}

/// Why a frame header is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    BadMagic {
        found: u32,
    },
    /// Another major version: the peers cannot talk.
    Version {
        major: u16,
        minor: u16,
    },
    UnknownKind {
        kind: u32,
    },
    /// The kind is valid but not the one this receiver expects.
    UnexpectedKind {
        expected: Kind,
        found: Kind,
    },
    TooLarge {
        payload_bytes: u32,
        max: u32,
    },
    Payload(DecodeError),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadMagic { found } => write!(f, "not an rttng control frame (magic {found:#010x})"),
            FrameError::Version { major, minor } => write!(
                f,
                "protocol version {major}.{minor} is not supported (this side speaks {VERSION_MAJOR}.{VERSION_MINOR})"
            ),
            FrameError::UnknownKind { kind } => write!(f, "unknown message kind {kind}"),
            FrameError::UnexpectedKind { expected, found } => {
                write!(f, "expected a {expected:?} message, got {found:?}")
            }
            FrameError::TooLarge { payload_bytes, max } => {
                write!(f, "message payload of {payload_bytes} bytes exceeds the limit of {max} bytes")
            }
            FrameError::Payload(e) => write!(f, "bad message payload: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        FrameError::Payload(e)
    }
}

/// The 16 header bytes for a payload of `payload_bytes`.
pub fn encode_header(kind: Kind, payload_bytes: u32) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    h[4..6].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
    h[6..8].copy_from_slice(&VERSION_MINOR.to_le_bytes());
    h[8..12].copy_from_slice(&(kind as u32).to_le_bytes());
    h[12..16].copy_from_slice(&payload_bytes.to_le_bytes());
    h
}

/// Checks a header; `expected` is the kind the receiver accepts.
pub fn decode_header(h: &[u8; HEADER_BYTES], expected: Kind) -> Result<FrameHeader, FrameError> {
    let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let magic = u32_at(0);
    if magic != MAGIC {
        return Err(FrameError::BadMagic { found: magic });
    }
    let major = u16::from_le_bytes([h[4], h[5]]);
    let minor = u16::from_le_bytes([h[6], h[7]]);
    if major != VERSION_MAJOR {
        return Err(FrameError::Version { major, minor });
    }
    let raw_kind = u32_at(8);
    let kind = Kind::from_u32(raw_kind).ok_or(FrameError::UnknownKind { kind: raw_kind })?;
    if kind != expected {
        return Err(FrameError::UnexpectedKind {
            expected,
            found: kind,
        });
    }
    let payload_bytes = u32_at(12);
    if payload_bytes > MAX_PAYLOAD_BYTES {
        return Err(FrameError::TooLarge {
            payload_bytes,
            max: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(FrameHeader {
        kind,
        minor,
        payload_bytes,
    })
}

/// A whole frame (header + payload) for `msg`. Fails only if the payload exceeds the limit.
pub fn encode_frame<T: Wire>(kind: Kind, msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut payload = crate::wire::Enc::default();
    msg.put(&mut payload);
    let payload = payload.into_bytes();
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    if len > MAX_PAYLOAD_BYTES {
        return Err(FrameError::TooLarge {
            payload_bytes: len,
            max: MAX_PAYLOAD_BYTES,
        });
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&encode_header(kind, len));
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes a whole frame held in memory (header + exactly the announced payload).
pub fn decode_frame<T: Wire>(bytes: &[u8], expected: Kind) -> Result<T, FrameError> {
    let Some((head, payload)) = bytes.split_first_chunk::<HEADER_BYTES>() else {
        return Err(FrameError::Payload(DecodeError::truncated(0, HEADER_BYTES)));
    };
    let h = decode_header(head, expected)?;
    if payload.len() != h.payload_bytes as usize {
        return Err(FrameError::Payload(DecodeError::truncated(
            HEADER_BYTES,
            h.payload_bytes as usize,
        )));
    }
    Ok(crate::wire::decode_all::<T>(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_refusals() {
        let h = encode_header(Kind::Request, 12);
        assert_eq!(
            decode_header(&h, Kind::Request),
            Ok(FrameHeader {
                kind: Kind::Request,
                minor: VERSION_MINOR,
                payload_bytes: 12
            })
        );
        assert!(matches!(
            decode_header(&h, Kind::AppHello),
            Err(FrameError::UnexpectedKind { .. })
        ));
        let mut bad = h;
        bad[0] = b'X';
        assert!(matches!(
            decode_header(&bad, Kind::Request),
            Err(FrameError::BadMagic { .. })
        ));
        let mut v2 = h;
        v2[4] = 2;
        assert_eq!(
            decode_header(&v2, Kind::Request),
            Err(FrameError::Version {
                major: 2,
                minor: VERSION_MINOR
            })
        );
        let big = encode_header(Kind::Request, MAX_PAYLOAD_BYTES + 1);
        assert!(matches!(
            decode_header(&big, Kind::Request),
            Err(FrameError::TooLarge { .. })
        ));
        let mut k = h;
        k[8] = 99;
        assert_eq!(
            decode_header(&k, Kind::Request),
            Err(FrameError::UnknownKind { kind: 99 })
        );
    }

    #[test]
    fn magic_spells_rtc1() {
        assert_eq!(&encode_header(Kind::Request, 0)[..4], b"RTC1");
    }
}
