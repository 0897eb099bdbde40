//! The control port's request payloads and replies (2.11+ layouts), each with a bounded
//! `decode` and an `encode` that is its inverse. Requests are the payload after the
//! [`crate::ControlHeader`]; replies are bare structures. Names and paths are decoded as
//! strings here and checked for path safety by [`crate::names`], which the relay applies.

use crate::codec::{cstring_len, put_cstring, DecodeError, Reader, Writer};
use crate::*;

/// CREATE_SESSION's fixed part.
pub const CREATE_SESSION_FIXED_BYTES: usize = 59;
/// ADD_STREAM's fixed part.
pub const ADD_STREAM_FIXED_BYTES: usize = 32;
/// SEND_INDEX (2.8+).
pub const SEND_INDEX_BYTES: usize = 80;
/// SEND_METADATA's sub-header before the metadata bytes.
pub const METADATA_HEADER_BYTES: usize = 12;
/// One ROTATE_STREAMS position.
pub const ROTATE_POSITION_BYTES: usize = 16;
/// ROTATE_STREAMS header as x86-64 senders lay it out (the optional chunk id is not packed).
pub const ROTATE_STREAMS_HEADER_X86_64_BYTES: usize = 20;
/// ROTATE_STREAMS header with a 4-byte-aligned u64 (i386 senders).
pub const ROTATE_STREAMS_HEADER_I386_BYTES: usize = 16;
/// ROTATE_STREAMS header fully packed.
pub const ROTATE_STREAMS_HEADER_PACKED_BYTES: usize = 13;
/// CREATE_TRACE_CHUNK's fixed part.
pub const CREATE_TRACE_CHUNK_FIXED_BYTES: usize = 20;
/// CLOSE_TRACE_CHUNK.
pub const CLOSE_TRACE_CHUNK_BYTES: usize = 21;
/// The generic reply (`ret_code`).
pub const GENERIC_REPLY_BYTES: usize = 4;
/// VERSION's request and reply.
pub const VERSION_BYTES: usize = 8;
/// GET_CONFIGURATION's reply.
pub const CONFIGURATION_REPLY_BYTES: usize = 12;
/// ADD_STREAM's reply.
pub const ADD_STREAM_REPLY_BYTES: usize = 12;
/// CREATE_SESSION's reply before its path.
pub const CREATE_SESSION_REPLY_FIXED_BYTES: usize = 16;
/// CLOSE_TRACE_CHUNK's reply before its path.
pub const CLOSE_TRACE_CHUNK_REPLY_FIXED_BYTES: usize = 8;
/// TRACE_CHUNK_EXISTS's reply.
pub const TRACE_CHUNK_EXISTS_REPLY_BYTES: usize = 5;
/// Longest path a CREATE_SESSION or CLOSE_TRACE_CHUNK reply carries, NUL included
/// (LTTNG_PATH_MAX).
pub const MAX_REPLY_PATH_BYTES: usize = 4096;

/// GET_CONFIGURATION's flag: the relay allows `lttng clear`.
pub const CONFIG_FLAG_CLEAR_ALLOWED: u64 = 1;

/// CLOSE_TRACE_CHUNK commands.
pub mod close_command {
    pub const MOVE_TO_COMPLETED: u32 = 0;
    pub const NO_OPERATION: u32 = 1;
    pub const DELETE: u32 = 2;
}

/// VERSION, request and reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub fn decode(b: &[u8]) -> Result<Version, DecodeError> {
        let mut r = Reader::new(b, "VERSION");
        let v = Version {
            major: r.u32()?,
            minor: r.u32()?,
        };
        r.finish()?;
        Ok(v)
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.major).u32(self.minor);
        w.0
    }
}

/// A request whose payload is one u64: GET_CONFIGURATION (query flags), QUIESCENT_CONTROL
/// (stream), BEGIN/END_DATA_PENDING (relay session id), TRACE_CHUNK_EXISTS (chunk id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U64Arg(pub u64);

impl U64Arg {
    pub fn decode(b: &[u8], what: &'static str) -> Result<U64Arg, DecodeError> {
        let mut r = Reader::new(b, what);
        let v = r.u64()?;
        r.finish()?;
        Ok(U64Arg(v))
    }
    pub fn encode(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
}

/// CREATE_SESSION (2.11 layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateSession {
    pub session_name: String,
    pub hostname: String,
    /// Empty when none (2.13 sends a lone NUL).
    pub base_path: String,
    /// 0: not live.
    pub live_timer_us: u32,
    pub snapshot: bool,
    /// The name already ends with its creation time (`auto-YYYYMMDD-HHMMSS`).
    pub name_contains_creation_time: bool,
    pub sessiond_uuid: [u8; 16],
    /// The session daemon's own id for the tracing session.
    pub sessiond_session_id: u64,
    pub creation_time_s: u64,
    pub current_chunk_id: Option<u64>,
}

impl CreateSession {
    pub fn decode(b: &[u8]) -> Result<CreateSession, DecodeError> {
        let mut r = Reader::new(b, "CREATE_SESSION");
        let name_len = r.u32()?;
        let host_len = r.u32()?;
        let base_len = r.u32()?;
        let live_timer_us = r.u32()?;
        let snapshot = r.bool("CREATE_SESSION snapshot")?;
        let name_contains_creation_time = r.bool("CREATE_SESSION name_contains_creation_time")?;
        let sessiond_uuid: [u8; 16] = r.bytes(16)?.try_into().expect("16");
        let sessiond_session_id = r.u64()?;
        let creation_time_s = r.u64()?;
        let chunk_set = r.bool("CREATE_SESSION current_chunk_id.is_set")?;
        let chunk_value = r.u64()?;
        let session_name = r.cstring(name_len, MAX_SESSION_NAME_BYTES, "session name")?;
        let hostname = r.cstring(host_len, MAX_HOSTNAME_BYTES, "hostname")?;
        let base_path = r.cstring(base_len, MAX_BASE_PATH_BYTES, "base path")?;
        r.finish()?;
        Ok(CreateSession {
            session_name,
            hostname,
            base_path,
            live_timer_us,
            snapshot,
            name_contains_creation_time,
            sessiond_uuid,
            sessiond_session_id,
            creation_time_s,
            current_chunk_id: chunk_set.then_some(chunk_value),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(cstring_len(&self.session_name))
            .u32(cstring_len(&self.hostname))
            .u32(cstring_len(&self.base_path))
            .u32(self.live_timer_us)
            .u8(self.snapshot as u8)
            .u8(self.name_contains_creation_time as u8)
            .bytes(&self.sessiond_uuid)
            .u64(self.sessiond_session_id)
            .u64(self.creation_time_s)
            .u8(self.current_chunk_id.is_some() as u8)
            .u64(self.current_chunk_id.unwrap_or(0));
        put_cstring(&mut w, &self.session_name);
        put_cstring(&mut w, &self.hostname);
        put_cstring(&mut w, &self.base_path);
        w.0
    }
}

/// CREATE_SESSION's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateSessionReply {
    /// The relay session id (relay-global).
    pub session_id: u64,
    pub ret_code: u32,
    /// The session directory relative to the relay's output root; empty on failure.
    pub output_path: String,
}

impl CreateSessionReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let path_len = if self.output_path.is_empty() {
            0
        } else {
            cstring_len(&self.output_path)
        };
        w.u64(self.session_id).u32(self.ret_code).u32(path_len);
        if path_len > 0 {
            put_cstring(&mut w, &self.output_path);
        }
        w.0
    }

    /// Decodes the fixed part; returns it with the path length still to read.
    pub fn decode_fixed(b: &[u8]) -> Result<(u64, u32, u32), DecodeError> {
        let mut r = Reader::new(b, "CREATE_SESSION reply");
        let v = (r.u64()?, r.u32()?, r.u32()?);
        r.finish()?;
        if v.2 as usize > MAX_REPLY_PATH_BYTES {
            return Err(DecodeError::TooLarge {
                what: "CREATE_SESSION reply path",
                len: v.2 as u64,
                max: MAX_REPLY_PATH_BYTES as u64,
            });
        }
        Ok(v)
    }

    /// Decodes a whole reply (fixed part and path).
    pub fn decode(b: &[u8]) -> Result<CreateSessionReply, DecodeError> {
        let head = b
            .get(..CREATE_SESSION_REPLY_FIXED_BYTES)
            .ok_or(DecodeError::Truncated {
                what: "CREATE_SESSION reply",
                need_bytes: CREATE_SESSION_REPLY_FIXED_BYTES,
                have_bytes: b.len(),
            })?;
        let (session_id, ret_code, path_len) = Self::decode_fixed(head)?;
        let mut r = Reader::new(
            &b[CREATE_SESSION_REPLY_FIXED_BYTES..],
            "CREATE_SESSION reply",
        );
        let output_path = r.cstring(path_len, MAX_REPLY_PATH_BYTES, "output path")?;
        r.finish()?;
        Ok(CreateSessionReply {
            session_id,
            ret_code,
            output_path,
        })
    }
}

/// ADD_STREAM (2.11 layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddStream {
    /// The stream's file name: `CHANNEL_CPU`, or `metadata`.
    pub channel_name: String,
    /// Directory relative to the trace chunk (`ust/uid/1000/64-bit`).
    pub pathname: String,
    /// 0: unlimited.
    pub tracefile_size_bytes: u64,
    pub tracefile_count: u64,
    /// Sent, and ignored by the relay (it uses the session's current chunk).
    pub trace_chunk_id: u64,
}

impl AddStream {
    pub fn decode(b: &[u8]) -> Result<AddStream, DecodeError> {
        let mut r = Reader::new(b, "ADD_STREAM");
        let channel_len = r.u32()?;
        let path_len = r.u32()?;
        let tracefile_size_bytes = r.u64()?;
        let tracefile_count = r.u64()?;
        let trace_chunk_id = r.u64()?;
        let channel_name = r.cstring(channel_len, MAX_CHANNEL_NAME_BYTES, "channel name")?;
        let pathname = r.cstring(path_len, MAX_STREAM_PATH_BYTES, "stream path")?;
        r.finish()?;
        if tracefile_count > MAX_TRACEFILE_COUNT {
            return Err(DecodeError::TooLarge {
                what: "tracefile_count",
                len: tracefile_count,
                max: MAX_TRACEFILE_COUNT,
            });
        }
        Ok(AddStream {
            channel_name,
            pathname,
            tracefile_size_bytes,
            tracefile_count,
            trace_chunk_id,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(cstring_len(&self.channel_name))
            .u32(cstring_len(&self.pathname))
            .u64(self.tracefile_size_bytes)
            .u64(self.tracefile_count)
            .u64(self.trace_chunk_id);
        put_cstring(&mut w, &self.channel_name);
        put_cstring(&mut w, &self.pathname);
        w.0
    }
}

/// ADD_STREAM's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddStreamReply {
    /// The relay stream handle (relay-global); 2^64-1 when the request did not parse.
    pub handle: u64,
    pub ret_code: u32,
}

impl AddStreamReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(self.handle).u32(self.ret_code);
        w.0
    }
    pub fn decode(b: &[u8]) -> Result<AddStreamReply, DecodeError> {
        let mut r = Reader::new(b, "ADD_STREAM reply");
        let v = AddStreamReply {
            handle: r.u64()?,
            ret_code: r.u32()?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// SEND_METADATA's sub-header; `data_size - 12` metadata bytes follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataHeader {
    pub stream_id: u64,
    /// Zero bytes to append after the metadata.
    pub padding_size: u32,
}

impl MetadataHeader {
    pub fn decode(b: &[u8]) -> Result<MetadataHeader, DecodeError> {
        let mut r = Reader::new(b, "SEND_METADATA header");
        let v = MetadataHeader {
            stream_id: r.u64()?,
            padding_size: r.u32()?,
        };
        r.finish()?;
        if v.padding_size as u64 > MAX_DATA_PACKET_BYTES {
            return Err(DecodeError::TooLarge {
                what: "metadata padding",
                len: v.padding_size as u64,
                max: MAX_DATA_PACKET_BYTES,
            });
        }
        Ok(v)
    }
    pub fn encode(&self) -> [u8; METADATA_HEADER_BYTES] {
        let mut out = [0u8; METADATA_HEADER_BYTES];
        out[..8].copy_from_slice(&self.stream_id.to_be_bytes());
        out[8..].copy_from_slice(&self.padding_size.to_be_bytes());
        out
    }
}

/// SEND_INDEX (2.8+): a packet's index entry, less its file offset (the relay knows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SendIndex {
    pub relay_stream_id: u64,
    /// The data packet it describes.
    pub net_seq_num: u64,
    /// 0: a live beacon, not an index entry.
    pub packet_size_bits: u64,
    pub content_size_bits: u64,
    pub timestamp_begin: u64,
    pub timestamp_end: u64,
    pub events_discarded: u64,
    /// CTF stream class id.
    pub stream_class_id: u64,
    pub stream_instance_id: u64,
    pub packet_seq_num: u64,
}

impl SendIndex {
    pub fn decode(b: &[u8]) -> Result<SendIndex, DecodeError> {
        let mut r = Reader::new(b, "SEND_INDEX");
        let v = SendIndex {
            relay_stream_id: r.u64()?,
            net_seq_num: r.u64()?,
            packet_size_bits: r.u64()?,
            content_size_bits: r.u64()?,
            timestamp_begin: r.u64()?,
            timestamp_end: r.u64()?,
            events_discarded: r.u64()?,
            stream_class_id: r.u64()?,
            stream_instance_id: r.u64()?,
            packet_seq_num: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        for v in [
            self.relay_stream_id,
            self.net_seq_num,
            self.packet_size_bits,
            self.content_size_bits,
            self.timestamp_begin,
            self.timestamp_end,
            self.events_discarded,
            self.stream_class_id,
            self.stream_instance_id,
            self.packet_seq_num,
        ] {
            w.u64(v);
        }
        w.0
    }
    /// A live beacon ("no data until `timestamp_end`") carries no packet.
    pub fn is_beacon(&self) -> bool {
        self.packet_size_bits == 0
    }
}

/// DATA_PENDING and CLOSE_STREAM: a stream and the last sequence number sent on it
/// ([`NO_SEQ`] when none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSeq {
    pub stream_id: u64,
    pub last_net_seq_num: u64,
}

impl StreamSeq {
    pub fn decode(b: &[u8], what: &'static str) -> Result<StreamSeq, DecodeError> {
        let mut r = Reader::new(b, what);
        let v = StreamSeq {
            stream_id: r.u64()?,
            last_net_seq_num: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(self.stream_id).u64(self.last_net_seq_num);
        w.0
    }
}

/// RESET_METADATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetMetadata {
    pub stream_id: u64,
    pub version: u64,
}

impl ResetMetadata {
    pub fn decode(b: &[u8]) -> Result<ResetMetadata, DecodeError> {
        let mut r = Reader::new(b, "RESET_METADATA");
        let v = ResetMetadata {
            stream_id: r.u64()?,
            version: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// One stream's rotation point: the CTF `packet_seq_num` of its first packet in the new chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotatePosition {
    pub stream_id: u64,
    pub rotate_at_packet_seq_num: u64,
}

/// ROTATE_STREAMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateStreams {
    /// `None`: the streams move to no chunk (destroy, clear).
    pub new_chunk_id: Option<u64>,
    pub positions: Vec<RotatePosition>,
}

impl RotateStreams {
    /// Decodes any of the three header layouts senders produce, told apart by
    /// `payload - 16 * count` (as lttng-relayd 2.13.2+ does).
    pub fn decode(b: &[u8]) -> Result<RotateStreams, DecodeError> {
        let mut r = Reader::new(b, "ROTATE_STREAMS");
        let count = r.u32()?;
        if count > MAX_ROTATE_POSITIONS {
            return Err(DecodeError::TooLarge {
                what: "ROTATE_STREAMS stream_count",
                len: count as u64,
                max: MAX_ROTATE_POSITIONS as u64,
            });
        }
        let positions_bytes = count as usize * ROTATE_POSITION_BYTES;
        let header_bytes = b
            .len()
            .checked_sub(positions_bytes)
            .ok_or(DecodeError::Truncated {
                what: "ROTATE_STREAMS positions",
                need_bytes: positions_bytes,
                have_bytes: b.len(),
            })?;
        let (is_set, value) = match header_bytes {
            ROTATE_STREAMS_HEADER_PACKED_BYTES => (r.u8()?, r.u64()?),
            ROTATE_STREAMS_HEADER_I386_BYTES => {
                let s = r.u8()?;
                r.bytes(3)?;
                (s, r.u64()?)
            }
            ROTATE_STREAMS_HEADER_X86_64_BYTES => {
                let s = r.u8()?;
                r.bytes(7)?;
                (s, r.u64()?)
            }
            other => {
                return Err(DecodeError::BadValue {
                    what: "ROTATE_STREAMS header size",
                    value: other as u64,
                })
            }
        };
        let new_chunk_id = match is_set {
            0 => None,
            1 => Some(value),
            v => {
                return Err(DecodeError::BadValue {
                    what: "ROTATE_STREAMS new_chunk_id.is_set",
                    value: v as u64,
                })
            }
        };
        let mut positions = Vec::with_capacity(count as usize);
        for _ in 0..count {
            positions.push(RotatePosition {
                stream_id: r.u64()?,
                rotate_at_packet_seq_num: r.u64()?,
            });
        }
        r.finish()?;
        Ok(RotateStreams {
            new_chunk_id,
            positions,
        })
    }

    /// Encodes in the x86-64 layout (20-byte header, zero padding), the one every relay from
    /// 2.11 on x86-64 accepts.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.positions.len() as u32)
            .u8(self.new_chunk_id.is_some() as u8)
            .bytes(&[0; 7])
            .u64(self.new_chunk_id.unwrap_or(0));
        for p in &self.positions {
            w.u64(p.stream_id).u64(p.rotate_at_packet_seq_num);
        }
        w.0
    }
}

/// CREATE_TRACE_CHUNK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTraceChunk {
    pub chunk_id: u64,
    pub creation_timestamp_s: u64,
    /// A directory name that replaces the generated one (snapshots).
    pub override_name: Option<String>,
}

impl CreateTraceChunk {
    pub fn decode(b: &[u8]) -> Result<CreateTraceChunk, DecodeError> {
        let mut r = Reader::new(b, "CREATE_TRACE_CHUNK");
        let chunk_id = r.u64()?;
        let creation_timestamp_s = r.u64()?;
        let name_len = r.u32()?;
        let name = r.cstring(name_len, MAX_CHUNK_NAME_BYTES, "chunk name")?;
        r.finish()?;
        Ok(CreateTraceChunk {
            chunk_id,
            creation_timestamp_s,
            override_name: (name_len > 0).then_some(name),
        })
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(self.chunk_id).u64(self.creation_timestamp_s);
        match &self.override_name {
            Some(n) => {
                w.u32(cstring_len(n));
                put_cstring(&mut w, n);
            }
            None => {
                w.u32(0);
            }
        }
        w.0
    }
}

/// CLOSE_TRACE_CHUNK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseTraceChunk {
    pub chunk_id: u64,
    pub close_timestamp_s: u64,
    /// [`close_command`]; `None` is NO_OPERATION.
    pub close_command: Option<u32>,
}

impl CloseTraceChunk {
    pub fn decode(b: &[u8]) -> Result<CloseTraceChunk, DecodeError> {
        let mut r = Reader::new(b, "CLOSE_TRACE_CHUNK");
        let chunk_id = r.u64()?;
        let close_timestamp_s = r.u64()?;
        let is_set = r.bool("CLOSE_TRACE_CHUNK close_command.is_set")?;
        let value = r.u32()?;
        r.finish()?;
        if is_set && value > close_command::DELETE {
            return Err(DecodeError::BadValue {
                what: "CLOSE_TRACE_CHUNK close_command",
                value: value as u64,
            });
        }
        Ok(CloseTraceChunk {
            chunk_id,
            close_timestamp_s,
            close_command: is_set.then_some(value),
        })
    }
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(self.chunk_id)
            .u64(self.close_timestamp_s)
            .u8(self.close_command.is_some() as u8)
            .u32(self.close_command.unwrap_or(0));
        w.0
    }
}

/// CLOSE_TRACE_CHUNK's reply: the chunk's path relative to the output root, only when OK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseTraceChunkReply {
    pub ret_code: u32,
    pub path: String,
}

impl CloseTraceChunkReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.ret_code);
        if self.ret_code == ret::OK {
            w.u32(cstring_len(&self.path));
            put_cstring(&mut w, &self.path);
        }
        w.0
    }
}

/// GET_CONFIGURATION's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigurationReply {
    pub ret_code: u32,
    pub flags: u64,
}

impl ConfigurationReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.ret_code).u64(self.flags);
        w.0
    }
    pub fn decode(b: &[u8]) -> Result<ConfigurationReply, DecodeError> {
        let mut r = Reader::new(b, "GET_CONFIGURATION reply");
        let v = ConfigurationReply {
            ret_code: r.u32()?,
            flags: r.u64()?,
        };
        r.finish()?;
        Ok(v)
    }
}

/// TRACE_CHUNK_EXISTS's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceChunkExistsReply {
    pub ret_code: u32,
    pub exists: bool,
}

impl TraceChunkExistsReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.ret_code).u8(self.exists as u8);
        w.0
    }
}

/// A bare `u32` reply: the generic `ret_code`, or DATA_PENDING/END_DATA_PENDING's 0/1.
pub fn encode_u32_reply(v: u32) -> [u8; GENERIC_REPLY_BYTES] {
    v.to_be_bytes()
}

/// Decodes a bare `u32` reply.
pub fn decode_u32_reply(b: &[u8; GENERIC_REPLY_BYTES]) -> u32 {
    u32::from_be_bytes(*b)
}
