//! LTTng 2.13's relay streaming protocol, the one a session daemon and its consumer daemons speak
//! to `lttng-relayd` on the control (5342) and data (5343) ports: headers, command codes, reply
//! codes, every 2.11+ request and reply layout, and the checks a relay applies to the names and
//! paths a peer sends. Normative description: `docs/protocols/relay.md` (and the team's
//! `lttng-relay-protocol.md`, from lttng-tools' sources and wire captures).
//!
//! Both sides use these types: `rttng-relayd` decodes requests and encodes replies,
//! `rttng-consumerd` encodes requests and decodes replies, so the byte layout lives here once.
//! Every integer is big-endian and every structure packed (the one exception, ROTATE_STREAMS,
//! is decoded in all three layouts senders produce).
//!
//! Deliberately not here: sockets, files, clocks, session state. Every decoder takes a byte
//! slice, is bounded by the named limits below and returns a typed [`DecodeError`]; none
//! panics on any input (fuzzed by `fuzz/fuzz_targets/relay_protocol.rs`). Layouts older than
//! 2.11 (peers below minor 11) are not decoded: a relay refuses them at VERSION.

#![forbid(unsafe_code)]

mod codec;
#[doc(hidden)]
pub mod fuzzing;
pub mod msg;
pub mod names;
pub mod url;

pub use codec::DecodeError;
pub use msg::*;

/// The protocol version this crate speaks and a relay announces (`{2, 13}`).
pub const VERSION_MAJOR: u32 = 2;
/// See [`VERSION_MAJOR`].
pub const VERSION_MINOR: u32 = 13;
/// The oldest minor version whose layouts this crate decodes (2.11: length-prefixed strings,
/// trace chunks).
pub const MIN_MINOR: u32 = 11;

/// Size of the control port's request header.
pub const CONTROL_HEADER_BYTES: usize = 24;
/// Size of the data port's packet header.
pub const DATA_HEADER_BYTES: usize = 32;

/// Largest control payload lttng-relayd accepts (128 MiB); a larger `data_size` drops the
/// connection. A relay applies a tighter per-command bound ([`Command::max_payload_bytes`]).
pub const MAX_CONTROL_PAYLOAD_BYTES: u64 = 128 << 20;
/// Largest packet (data plus padding) accepted on the data port. LTTng sub-buffers are powers
/// of two; 256 MiB is far above any sub-buffer a channel can be given in practice.
pub const MAX_DATA_PACKET_BYTES: u64 = 256 << 20;
/// Session name, NUL included (LTTNG_NAME_MAX).
pub const MAX_SESSION_NAME_BYTES: usize = 255;
/// Hostname, NUL included (LTTNG_HOST_NAME_MAX).
pub const MAX_HOSTNAME_BYTES: usize = 256;
/// Base path, NUL included (LTTNG_PATH_MAX).
pub const MAX_BASE_PATH_BYTES: usize = 4096;
/// ADD_STREAM channel (file) name, NUL included (DEFAULT_STREAM_NAME_LEN).
pub const MAX_CHANNEL_NAME_BYTES: usize = 264;
/// ADD_STREAM path name, NUL included (the relay's cap, LTTNG_NAME_MAX).
pub const MAX_STREAM_PATH_BYTES: usize = 255;
/// CREATE_TRACE_CHUNK override name, NUL included (LTTNG_NAME_MAX).
pub const MAX_CHUNK_NAME_BYTES: usize = 255;
/// Most positions in one ROTATE_STREAMS command (one per stream of a channel).
pub const MAX_ROTATE_POSITIONS: u32 = 1 << 16;
/// Most tracefiles of one stream (`tracefile_count`).
pub const MAX_TRACEFILE_COUNT: u64 = 1 << 20;

/// "No sequence number": DATA_PENDING and CLOSE_STREAM's `last_net_seq_num` when nothing was
/// sent (always the case for metadata).
pub const NO_SEQ: u64 = u64::MAX;

/// Reply codes (`enum lttng_error_code`) the protocol uses.
pub mod ret {
    /// LTTNG_OK
    pub const OK: u32 = 10;
    /// LTTNG_ERR_UNK
    pub const ERR_UNK: u32 = 11;
    /// LTTNG_ERR_FATAL
    pub const ERR_FATAL: u32 = 25;
    /// LTTNG_ERR_NOMEM
    pub const ERR_NOMEM: u32 = 26;
    /// LTTNG_ERR_INVALID
    pub const ERR_INVALID: u32 = 97;
    /// LTTNG_ERR_INVALID_PROTOCOL
    pub const ERR_INVALID_PROTOCOL: u32 = 152;
    /// LTTNG_ERR_FILE_CREATION_ERROR
    pub const ERR_FILE_CREATION_ERROR: u32 = 153;
}

/// Control commands (`enum lttcomm_relayd_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Command {
    AddStream = 1,
    CreateSession = 2,
    StartData = 3,
    UpdateSyncInfo = 4,
    Version = 5,
    SendMetadata = 6,
    CloseStream = 7,
    DataPending = 8,
    QuiescentControl = 9,
    BeginDataPending = 10,
    EndDataPending = 11,
    AddIndex = 12,
    SendIndex = 13,
    CloseIndex = 14,
    ListSessions = 15,
    StreamsSent = 16,
    ResetMetadata = 17,
    RotateStreams = 18,
    CreateTraceChunk = 19,
    CloseTraceChunk = 20,
    TraceChunkExists = 21,
    GetConfiguration = 22,
}

impl Command {
    /// The command of a code, or `None` for a code the protocol does not define.
    pub fn from_code(code: u32) -> Option<Command> {
        use Command::*;
        Some(match code {
            1 => AddStream,
            2 => CreateSession,
            3 => StartData,
            4 => UpdateSyncInfo,
            5 => Version,
            6 => SendMetadata,
            7 => CloseStream,
            8 => DataPending,
            9 => QuiescentControl,
            10 => BeginDataPending,
            11 => EndDataPending,
            12 => AddIndex,
            13 => SendIndex,
            14 => CloseIndex,
            15 => ListSessions,
            16 => StreamsSent,
            17 => ResetMetadata,
            18 => RotateStreams,
            19 => CreateTraceChunk,
            20 => CloseTraceChunk,
            21 => TraceChunkExists,
            22 => GetConfiguration,
            _ => return None,
        })
    }

    /// The largest payload a well-formed request of this command has. SEND_METADATA's bound is
    /// the protocol's ([`MAX_CONTROL_PAYLOAD_BYTES`]): a relay streams its bytes to disk
    /// instead of holding them.
    pub fn max_payload_bytes(self) -> u64 {
        use Command::*;
        match self {
            CreateSession => {
                (CREATE_SESSION_FIXED_BYTES
                    + MAX_SESSION_NAME_BYTES
                    + MAX_HOSTNAME_BYTES
                    + MAX_BASE_PATH_BYTES) as u64
            }
            AddStream => {
                (ADD_STREAM_FIXED_BYTES + MAX_CHANNEL_NAME_BYTES + MAX_STREAM_PATH_BYTES) as u64
            }
            SendMetadata => MAX_CONTROL_PAYLOAD_BYTES,
            SendIndex => SEND_INDEX_BYTES as u64,
            RotateStreams => {
                ROTATE_STREAMS_HEADER_X86_64_BYTES as u64
                    + ROTATE_POSITION_BYTES as u64 * MAX_ROTATE_POSITIONS as u64
            }
            CreateTraceChunk => (CREATE_TRACE_CHUNK_FIXED_BYTES + MAX_CHUNK_NAME_BYTES) as u64,
            CloseTraceChunk => CLOSE_TRACE_CHUNK_BYTES as u64,
            // Every other request is at most two u64.
            _ => 16,
        }
    }
}

/// Data port packet header (`lttcomm_relayd_data_hdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataHeader {
    /// The relay's stream handle (ADD_STREAM's reply).
    pub stream_id: u64,
    pub net_seq_num: u64,
    /// Packet bytes that follow the header.
    pub data_size: u32,
    /// Zero bytes the relay appends after the data (not sent).
    pub padding_size: u32,
}

impl DataHeader {
    /// Decodes a 32-byte header and checks the packet size bound.
    pub fn decode(b: &[u8; DATA_HEADER_BYTES]) -> Result<DataHeader, DecodeError> {
        let mut r = codec::Reader::new(b, "data header");
        let _circuit_id = r.u64()?;
        let h = DataHeader {
            stream_id: r.u64()?,
            net_seq_num: r.u64()?,
            data_size: r.u32()?,
            padding_size: r.u32()?,
        };
        let total_bytes = h.data_size as u64 + h.padding_size as u64;
        if total_bytes > MAX_DATA_PACKET_BYTES {
            return Err(DecodeError::TooLarge {
                what: "data packet",
                len: total_bytes,
                max: MAX_DATA_PACKET_BYTES,
            });
        }
        Ok(h)
    }

    pub fn encode(&self) -> [u8; DATA_HEADER_BYTES] {
        let mut out = [0u8; DATA_HEADER_BYTES];
        out[8..16].copy_from_slice(&self.stream_id.to_be_bytes());
        out[16..24].copy_from_slice(&self.net_seq_num.to_be_bytes());
        out[24..28].copy_from_slice(&self.data_size.to_be_bytes());
        out[28..32].copy_from_slice(&self.padding_size.to_be_bytes());
        out
    }
}

/// Control port request header (`lttcomm_relayd_hdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlHeader {
    pub command: Command,
    /// Payload bytes that follow.
    pub data_size: u64,
}

/// Why a control header is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    UnknownCommand {
        code: u32,
    },
    PayloadTooLarge {
        command: Command,
        len: u64,
        max: u64,
    },
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::UnknownCommand { code } => write!(f, "unknown command code {code}"),
            HeaderError::PayloadTooLarge { command, len, max } => write!(
                f,
                "{command:?} payload of {len} bytes is larger than its {max}-byte bound"
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

impl ControlHeader {
    /// Decodes a 24-byte header, refusing unknown commands and payloads beyond the command's
    /// bound (so that a relay never reads an absurd length).
    pub fn decode(b: &[u8; CONTROL_HEADER_BYTES]) -> Result<ControlHeader, HeaderError> {
        let data_size = u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"));
        let code = u32::from_be_bytes(b[16..20].try_into().expect("4 bytes"));
        let command = Command::from_code(code).ok_or(HeaderError::UnknownCommand { code })?;
        let max = command.max_payload_bytes();
        if data_size > max {
            return Err(HeaderError::PayloadTooLarge {
                command,
                len: data_size,
                max,
            });
        }
        Ok(ControlHeader { command, data_size })
    }

    pub fn encode(&self) -> [u8; CONTROL_HEADER_BYTES] {
        let mut out = [0u8; CONTROL_HEADER_BYTES];
        out[8..16].copy_from_slice(&self.data_size.to_be_bytes());
        out[16..20].copy_from_slice(&(self.command as u32).to_be_bytes());
        out
    }
}

/// Encodes one whole control request: header, then payload.
pub fn encode_request(command: Command, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONTROL_HEADER_BYTES + payload.len());
    out.extend_from_slice(
        &ControlHeader {
            command,
            data_size: payload.len() as u64,
        }
        .encode(),
    );
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests;
