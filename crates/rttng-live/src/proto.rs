//! The LTTng live viewer protocol's messages (relay daemon ⇄ viewer), encoded and decoded.
//!
//! Layouts are those of lttng-tools' `lttng-viewer-abi.h` (packed, big-endian, fixed-size
//! NUL-padded char arrays); `../shared/spec/lttng-live-protocol.md` §2–§4 describes them. Every
//! decoder takes exactly the bytes of one structure, checks each string's terminator and
//! encoding, and returns a typed error, never a panic; counts and lengths read from a peer are
//! checked against the named limits below before anyone allocates for them. Both directions are
//! here (a viewer encodes requests and decodes replies, a relay the reverse).
//!
//! No I/O here: `crate::client` does the socket work.

use std::fmt;

/// Protocol major version; a peer with another major is refused.
pub const VIEWER_MAJOR: u32 = 2;
/// The minor version this side speaks (babeltrace2 2.0 speaks 4; lttng-relayd 2.13 says 13).
pub const VIEWER_MINOR: u32 = 4;
/// `lttng_viewer_connect.type` of a command connection.
pub const CONNECTION_TYPE_COMMAND: u32 = 1;
/// The id a viewer sends in its CONNECT before it has one.
pub const NO_VIEWER_SESSION_ID: u64 = u64::MAX;

pub const HOST_NAME_MAX: usize = 64;
pub const NAME_MAX: usize = 255;
pub const PATH_MAX: usize = 4096;

pub const CMD_HEADER_BYTES: usize = 16;
pub const CONNECT_BYTES: usize = 20;
pub const SESSION_BYTES: usize = 8 + 4 + 4 + 4 + HOST_NAME_MAX + NAME_MAX;
pub const STREAM_BYTES: usize = 8 + 8 + 4 + PATH_MAX + NAME_MAX;
pub const INDEX_BYTES: usize = 64;
pub const ATTACH_REQUEST_BYTES: usize = 20;
pub const GET_PACKET_REQUEST_BYTES: usize = 20;
pub const PACKET_REPLY_BYTES: usize = 12;
pub const METADATA_REPLY_BYTES: usize = 12;
pub const STREAMS_REPLY_BYTES: usize = 8;
pub const U32_BYTES: usize = 4;
pub const U64_BYTES: usize = 8;

const _: () = assert!(SESSION_BYTES == 339);
const _: () = assert!(STREAM_BYTES == 4371);

/// Most sessions one LIST_SESSIONS reply may announce (a relay with more is not believed).
pub const MAX_LISTED_SESSIONS: u32 = 4096;
/// Most streams one ATTACH_SESSION or GET_NEW_STREAMS reply may announce.
pub const MAX_STREAMS_PER_REPLY: u32 = 65536;
/// Largest payload of a request a relay reads (the largest request is 20 bytes).
pub const MAX_REQUEST_PAYLOAD_BYTES: u64 = 64;
/// Largest GET_PACKET chunk either side accepts in one reply.
pub const MAX_PACKET_CHUNK_BYTES: u32 = 4 << 20;
/// Largest GET_METADATA reply either side accepts.
pub const MAX_METADATA_CHUNK_BYTES: u64 = 16 << 20;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// The buffer is not exactly the structure's size.
    Size {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// A fixed-size string has no NUL terminator.
    Unterminated { what: &'static str },
    /// A string is not UTF-8.
    NotUtf8 { what: &'static str },
    /// A string is too long for its fixed-size field (encoding side).
    TooLong { what: &'static str, max: usize },
    /// An unknown command number.
    UnknownCommand(u32),
    /// A status value outside the reply's set.
    Status { what: &'static str, value: u32 },
    /// A count or length beyond its named limit.
    Limit {
        what: &'static str,
        value: u64,
        max: u64,
    },
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::Size {
                what,
                expected,
                found,
            } => write!(f, "{what}: {found} bytes, expected {expected}"),
            ProtoError::Unterminated { what } => write!(f, "{what}: string without terminator"),
            ProtoError::NotUtf8 { what } => write!(f, "{what}: string is not UTF-8"),
            ProtoError::TooLong { what, max } => {
                write!(f, "{what}: string longer than {max} bytes")
            }
            ProtoError::UnknownCommand(c) => write!(f, "unknown viewer command {c}"),
            ProtoError::Status { what, value } => write!(f, "{what}: unknown status {value}"),
            ProtoError::Limit { what, value, max } => {
                write!(f, "{what}: {value} is beyond the limit of {max}")
            }
        }
    }
}

impl std::error::Error for ProtoError {}

type Result<T> = std::result::Result<T, ProtoError>;

fn exact(what: &'static str, bytes: &[u8], expected: usize) -> Result<()> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(ProtoError::Size {
            what,
            expected,
            found: bytes.len(),
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A NUL-terminated string in the `len`-byte field at `at`.
fn str_at(what: &'static str, b: &[u8], at: usize, len: usize) -> Result<String> {
    let field = &b[at..at + len];
    let end = field
        .iter()
        .position(|&c| c == 0)
        .ok_or(ProtoError::Unterminated { what })?;
    std::str::from_utf8(&field[..end])
        .map(str::to_owned)
        .map_err(|_| ProtoError::NotUtf8 { what })
}

/// Appends `s` NUL-padded to `len` bytes (at most `len - 1` bytes of text).
fn put_str(what: &'static str, out: &mut Vec<u8>, s: &str, len: usize) -> Result<()> {
    if s.len() >= len || s.as_bytes().contains(&0) {
        return Err(ProtoError::TooLong { what, max: len - 1 });
    }
    out.extend_from_slice(s.as_bytes());
    out.resize(out.len() + len - s.len(), 0);
    Ok(())
}

/// Viewer commands (`lttng_viewer_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    Connect = 1,
    ListSessions = 2,
    AttachSession = 3,
    GetNextIndex = 4,
    GetPacket = 5,
    GetMetadata = 6,
    GetNewStreams = 7,
    CreateSession = 8,
    DetachSession = 9,
}

impl Command {
    pub fn from_u32(v: u32) -> Result<Command> {
        Ok(match v {
            1 => Command::Connect,
            2 => Command::ListSessions,
            3 => Command::AttachSession,
            4 => Command::GetNextIndex,
            5 => Command::GetPacket,
            6 => Command::GetMetadata,
            7 => Command::GetNewStreams,
            8 => Command::CreateSession,
            9 => Command::DetachSession,
            other => return Err(ProtoError::UnknownCommand(other)),
        })
    }

    /// Size of the request payload that follows this command's header.
    pub fn request_bytes(self) -> usize {
        match self {
            Command::Connect => CONNECT_BYTES,
            Command::ListSessions | Command::CreateSession => 0,
            Command::AttachSession => ATTACH_REQUEST_BYTES,
            Command::GetPacket => GET_PACKET_REQUEST_BYTES,
            Command::GetNextIndex
            | Command::GetMetadata
            | Command::GetNewStreams
            | Command::DetachSession => U64_BYTES,
        }
    }
}

/// The header of every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmdHeader {
    pub data_size: u64,
    pub cmd: u32,
    pub cmd_version: u32,
}

impl CmdHeader {
    pub fn new(cmd: Command) -> CmdHeader {
        CmdHeader {
            data_size: cmd.request_bytes() as u64,
            cmd: cmd as u32,
            cmd_version: 0,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data_size.to_be_bytes());
        out.extend_from_slice(&self.cmd.to_be_bytes());
        out.extend_from_slice(&self.cmd_version.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<CmdHeader> {
        exact("command header", b, CMD_HEADER_BYTES)?;
        let h = CmdHeader {
            data_size: u64_at(b, 0),
            cmd: u32_at(b, 8),
            cmd_version: u32_at(b, 12),
        };
        if h.data_size > MAX_REQUEST_PAYLOAD_BYTES {
            return Err(ProtoError::Limit {
                what: "request payload size",
                value: h.data_size,
                max: MAX_REQUEST_PAYLOAD_BYTES,
            });
        }
        Ok(h)
    }

    /// The command, with its payload size checked against the command's.
    pub fn command(&self) -> Result<Command> {
        let c = Command::from_u32(self.cmd)?;
        if self.data_size != c.request_bytes() as u64 {
            return Err(ProtoError::Size {
                what: "request payload",
                expected: c.request_bytes(),
                found: self.data_size as usize,
            });
        }
        Ok(c)
    }
}

/// `lttng_viewer_connect`, both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect {
    pub viewer_session_id: u64,
    pub major: u32,
    pub minor: u32,
    pub connection_type: u32,
}

impl Connect {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.viewer_session_id.to_be_bytes());
        out.extend_from_slice(&self.major.to_be_bytes());
        out.extend_from_slice(&self.minor.to_be_bytes());
        out.extend_from_slice(&self.connection_type.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<Connect> {
        exact("connect", b, CONNECT_BYTES)?;
        Ok(Connect {
            viewer_session_id: u64_at(b, 0),
            major: u32_at(b, 8),
            minor: u32_at(b, 12),
            connection_type: u32_at(b, 16),
        })
    }
}

/// One entry of a LIST_SESSIONS reply (`lttng_viewer_session`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: u64,
    /// 0: not a live session.
    pub live_timer_us: u32,
    pub clients: u32,
    pub streams: u32,
    pub hostname: String,
    pub session_name: String,
}

impl SessionInfo {
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.live_timer_us.to_be_bytes());
        out.extend_from_slice(&self.clients.to_be_bytes());
        out.extend_from_slice(&self.streams.to_be_bytes());
        put_str("session hostname", out, &self.hostname, HOST_NAME_MAX)?;
        put_str("session name", out, &self.session_name, NAME_MAX)
    }

    pub fn decode(b: &[u8]) -> Result<SessionInfo> {
        exact("session", b, SESSION_BYTES)?;
        Ok(SessionInfo {
            id: u64_at(b, 0),
            live_timer_us: u32_at(b, 8),
            clients: u32_at(b, 12),
            streams: u32_at(b, 16),
            hostname: str_at("session hostname", b, 20, HOST_NAME_MAX)?,
            session_name: str_at("session name", b, 20 + HOST_NAME_MAX, NAME_MAX)?,
        })
    }
}

/// Checks a count read from a peer against its limit.
pub fn check_count(what: &'static str, value: u32, max: u32) -> Result<u32> {
    if value > max {
        Err(ProtoError::Limit {
            what,
            value: value.into(),
            max: max.into(),
        })
    } else {
        Ok(value)
    }
}

/// Decodes a big-endian u32 (counts, statuses).
pub fn decode_u32(what: &'static str, b: &[u8]) -> Result<u32> {
    exact(what, b, U32_BYTES)?;
    Ok(u32_at(b, 0))
}

/// Decodes a big-endian u64 (the ids of the one-id requests).
pub fn decode_u64(what: &'static str, b: &[u8]) -> Result<u64> {
    exact(what, b, U64_BYTES)?;
    Ok(u64_at(b, 0))
}

/// One stream of an ATTACH_SESSION or GET_NEW_STREAMS reply (`lttng_viewer_stream`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// Relay-wide viewer stream id.
    pub id: u64,
    /// Streams with the same value share one metadata stream: one CTF trace.
    pub ctf_trace_id: u64,
    pub metadata: bool,
    /// The trace's path relative to the session (`ust/uid/1000/64-bit`).
    pub path_name: String,
    /// The stream file's name (`chan_0`, `metadata`).
    pub channel_name: String,
}

impl StreamInfo {
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.ctf_trace_id.to_be_bytes());
        out.extend_from_slice(&u32::from(self.metadata).to_be_bytes());
        put_str("stream path", out, &self.path_name, PATH_MAX)?;
        put_str("stream channel name", out, &self.channel_name, NAME_MAX)
    }

    pub fn decode(b: &[u8]) -> Result<StreamInfo> {
        exact("stream", b, STREAM_BYTES)?;
        let flag = u32_at(b, 16);
        if flag > 1 {
            return Err(ProtoError::Status {
                what: "stream metadata flag",
                value: flag,
            });
        }
        Ok(StreamInfo {
            id: u64_at(b, 0),
            ctf_trace_id: u64_at(b, 8),
            metadata: flag == 1,
            path_name: str_at("stream path", b, 20, PATH_MAX)?,
            channel_name: str_at("stream channel name", b, 20 + PATH_MAX, NAME_MAX)?,
        })
    }
}

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($var:ident = $val:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum $name { $($var = $val),* }
        impl $name {
            pub fn from_u32(v: u32) -> Result<$name> {
                match v {
                    $($val => Ok($name::$var),)*
                    value => Err(ProtoError::Status { what: $what, value }),
                }
            }
        }
    };
}

status_enum!(
    /// ATTACH_SESSION reply status.
    AttachStatus, "attach status" {
    Ok = 1, Already = 2, Unknown = 3, NotLive = 4, SeekError = 5, NoSession = 6,
});
status_enum!(
    /// GET_NEXT_INDEX reply status.
    IndexStatus, "index status" {
    Ok = 1, Retry = 2, Hup = 3, Error = 4, Inactive = 5, Eof = 6,
});
status_enum!(
    /// GET_PACKET reply status.
    PacketStatus, "packet status" {
    Ok = 1, Retry = 2, Error = 3, Eof = 4,
});
status_enum!(
    /// GET_METADATA reply status.
    MetadataStatus, "metadata status" {
    Ok = 1, NoNew = 2, Error = 3,
});
status_enum!(
    /// GET_NEW_STREAMS reply status.
    NewStreamsStatus, "new streams status" {
    Ok = 1, NoNew = 2, Error = 3, Hup = 4,
});
status_enum!(
    /// CREATE_SESSION reply status.
    CreateSessionStatus, "create session status" {
    Ok = 1, Error = 2,
});
status_enum!(
    /// DETACH_SESSION reply status.
    DetachStatus, "detach status" {
    Ok = 1, Unknown = 2, Error = 3,
});

/// Flag of index and packet replies: the relay holds metadata the viewer has not fetched.
pub const FLAG_NEW_METADATA: u32 = 1;
/// Flag of index and packet replies: new streams exist (call GET_NEW_STREAMS).
pub const FLAG_NEW_STREAM: u32 = 2;

/// The reply to GET_NEXT_INDEX (`lttng_viewer_index`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    pub offset_bytes: u64,
    pub packet_size_bits: u64,
    pub content_size_bits: u64,
    pub timestamp_begin: u64,
    pub timestamp_end: u64,
    pub events_discarded: u64,
    /// CTF stream class id.
    pub stream_class_id: u64,
    pub status: IndexStatus,
    pub flags: u32,
}

impl Index {
    /// A reply carrying only a status (and flags).
    pub fn status_only(status: IndexStatus, flags: u32) -> Index {
        Index {
            offset_bytes: 0,
            packet_size_bits: 0,
            content_size_bits: 0,
            timestamp_begin: 0,
            timestamp_end: 0,
            events_discarded: 0,
            stream_class_id: 0,
            status,
            flags,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.offset_bytes,
            self.packet_size_bits,
            self.content_size_bits,
            self.timestamp_begin,
            self.timestamp_end,
            self.events_discarded,
            self.stream_class_id,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&(self.status as u32).to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<Index> {
        exact("index", b, INDEX_BYTES)?;
        Ok(Index {
            offset_bytes: u64_at(b, 0),
            packet_size_bits: u64_at(b, 8),
            content_size_bits: u64_at(b, 16),
            timestamp_begin: u64_at(b, 24),
            timestamp_end: u64_at(b, 32),
            events_discarded: u64_at(b, 40),
            stream_class_id: u64_at(b, 48),
            status: IndexStatus::from_u32(u32_at(b, 56))?,
            flags: u32_at(b, 60),
        })
    }
}

/// ATTACH_SESSION request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachRequest {
    pub session_id: u64,
    pub offset: u64,
    /// 1: from the beginning; 2: from the next packet (what babeltrace2 sends).
    pub seek: u32,
}

pub const SEEK_BEGINNING: u32 = 1;
pub const SEEK_LAST: u32 = 2;

impl AttachRequest {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.seek.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<AttachRequest> {
        exact("attach request", b, ATTACH_REQUEST_BYTES)?;
        Ok(AttachRequest {
            session_id: u64_at(b, 0),
            offset: u64_at(b, 8),
            seek: u32_at(b, 16),
        })
    }
}

/// GET_PACKET request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetPacketRequest {
    pub stream_id: u64,
    /// Absolute byte offset in the stream file.
    pub offset_bytes: u64,
    pub len_bytes: u32,
}

impl GetPacketRequest {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.stream_id.to_be_bytes());
        out.extend_from_slice(&self.offset_bytes.to_be_bytes());
        out.extend_from_slice(&self.len_bytes.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<GetPacketRequest> {
        exact("get packet request", b, GET_PACKET_REQUEST_BYTES)?;
        Ok(GetPacketRequest {
            stream_id: u64_at(b, 0),
            offset_bytes: u64_at(b, 8),
            len_bytes: u32_at(b, 16),
        })
    }
}

/// The fixed part of a GET_PACKET reply; `len_bytes` data bytes follow when OK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketReply {
    pub status: PacketStatus,
    pub len_bytes: u32,
    pub flags: u32,
}

impl PacketReply {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.status as u32).to_be_bytes());
        out.extend_from_slice(&self.len_bytes.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<PacketReply> {
        exact("packet reply", b, PACKET_REPLY_BYTES)?;
        let r = PacketReply {
            status: PacketStatus::from_u32(u32_at(b, 0))?,
            len_bytes: u32_at(b, 4),
            flags: u32_at(b, 8),
        };
        if r.status == PacketStatus::Ok && r.len_bytes > MAX_PACKET_CHUNK_BYTES {
            return Err(ProtoError::Limit {
                what: "packet reply length",
                value: r.len_bytes.into(),
                max: MAX_PACKET_CHUNK_BYTES.into(),
            });
        }
        Ok(r)
    }
}

/// The fixed part of a GET_METADATA reply; `len_bytes` bytes follow when OK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataReply {
    pub len_bytes: u64,
    pub status: MetadataStatus,
}

impl MetadataReply {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len_bytes.to_be_bytes());
        out.extend_from_slice(&(self.status as u32).to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<MetadataReply> {
        exact("metadata reply", b, METADATA_REPLY_BYTES)?;
        let r = MetadataReply {
            len_bytes: u64_at(b, 0),
            status: MetadataStatus::from_u32(u32_at(b, 8))?,
        };
        if r.status == MetadataStatus::Ok && r.len_bytes > MAX_METADATA_CHUNK_BYTES {
            return Err(ProtoError::Limit {
                what: "metadata reply length",
                value: r.len_bytes,
                max: MAX_METADATA_CHUNK_BYTES,
            });
        }
        Ok(r)
    }
}

/// The fixed part of ATTACH_SESSION and GET_NEW_STREAMS replies: a status and how many
/// [`StreamInfo`] follow (the caller maps `status` through the command's status enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamsReply {
    pub status: u32,
    pub streams_count: u32,
}

impl StreamsReply {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&self.streams_count.to_be_bytes());
    }

    pub fn decode(b: &[u8]) -> Result<StreamsReply> {
        exact("streams reply", b, STREAMS_REPLY_BYTES)?;
        Ok(StreamsReply {
            status: u32_at(b, 0),
            streams_count: check_count("streams count", u32_at(b, 4), MAX_STREAMS_PER_REPLY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_match_the_abi() {
        let mut v = Vec::new();
        SessionInfo {
            id: 1,
            live_timer_us: 1_000_000,
            clients: 0,
            streams: 3,
            hostname: "vm".into(),
            session_name: "live1".into(),
        }
        .encode(&mut v)
        .unwrap();
        assert_eq!(v.len(), 339);
        v.clear();
        StreamInfo {
            id: 1,
            ctf_trace_id: 1,
            metadata: true,
            path_name: "ust/uid/0/64-bit".into(),
            channel_name: "metadata".into(),
        }
        .encode(&mut v)
        .unwrap();
        assert_eq!(v.len(), 4371);
        v.clear();
        Index::status_only(IndexStatus::Retry, 0).encode(&mut v);
        assert_eq!(v.len(), 64);
    }

    #[test]
    fn session_bytes_from_the_spec_capture() {
        // id=1, timer 1 s, 0 clients, 0 streams, "vm", "live1" (big-endian, NUL-padded).
        let mut b = vec![0u8; SESSION_BYTES];
        b[7] = 1;
        b[8..12].copy_from_slice(&1_000_000u32.to_be_bytes());
        b[20..22].copy_from_slice(b"vm");
        b[84..89].copy_from_slice(b"live1");
        let s = SessionInfo::decode(&b).unwrap();
        assert_eq!(
            (
                s.id,
                s.live_timer_us,
                s.hostname.as_str(),
                s.session_name.as_str()
            ),
            (1, 1_000_000, "vm", "live1")
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let mut b = vec![b'x'; SESSION_BYTES];
        b[..20].fill(0);
        assert_eq!(
            SessionInfo::decode(&b),
            Err(ProtoError::Unterminated {
                what: "session hostname"
            })
        );
        assert!(matches!(
            Index::decode(&[0; 63]),
            Err(ProtoError::Size { .. })
        ));
        let mut i = Vec::new();
        Index::status_only(IndexStatus::Ok, 0).encode(&mut i);
        i[59] = 9;
        assert_eq!(
            Index::decode(&i),
            Err(ProtoError::Status {
                what: "index status",
                value: 9
            })
        );
        let mut r = Vec::new();
        StreamsReply {
            status: 1,
            streams_count: MAX_STREAMS_PER_REPLY + 1,
        }
        .encode(&mut r);
        assert!(matches!(
            StreamsReply::decode(&r),
            Err(ProtoError::Limit { .. })
        ));
        let mut h = Vec::new();
        CmdHeader {
            data_size: 1 << 40,
            cmd: 1,
            cmd_version: 0,
        }
        .encode(&mut h);
        assert!(matches!(
            CmdHeader::decode(&h),
            Err(ProtoError::Limit { .. })
        ));
        let h = CmdHeader {
            data_size: 3,
            cmd: 4,
            cmd_version: 0,
        };
        assert!(matches!(h.command(), Err(ProtoError::Size { .. })));
        assert!(SessionInfo {
            id: 0,
            live_timer_us: 0,
            clients: 0,
            streams: 0,
            hostname: "h".repeat(64),
            session_name: "s".into()
        }
        .encode(&mut Vec::new())
        .is_err());
    }

    proptest! {
        #[test]
        fn index_round_trips(v in proptest::collection::vec(any::<u64>(), 7), st in 1u32..=6, flags in any::<u32>()) {
            let i = Index {
                offset_bytes: v[0], packet_size_bits: v[1], content_size_bits: v[2],
                timestamp_begin: v[3], timestamp_end: v[4], events_discarded: v[5],
                stream_class_id: v[6], status: IndexStatus::from_u32(st).unwrap(), flags,
            };
            let mut b = Vec::new();
            i.encode(&mut b);
            prop_assert_eq!(Index::decode(&b).unwrap(), i);
        }

        #[test]
        fn stream_round_trips(id in any::<u64>(), t in any::<u64>(), m in any::<bool>(), p in "[a-z0-9/_-]{0,200}", c in "[a-z0-9_]{0,254}") {
            let s = StreamInfo { id, ctf_trace_id: t, metadata: m, path_name: p, channel_name: c };
            let mut b = Vec::new();
            s.encode(&mut b).unwrap();
            prop_assert_eq!(StreamInfo::decode(&b).unwrap(), s);
        }

        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..5000)) {
            let _ = CmdHeader::decode(&b);
            let _ = Connect::decode(&b);
            let _ = SessionInfo::decode(&b);
            let _ = StreamInfo::decode(&b);
            let _ = Index::decode(&b);
            let _ = PacketReply::decode(&b);
            let _ = MetadataReply::decode(&b);
            let _ = StreamsReply::decode(&b);
            let _ = AttachRequest::decode(&b);
            let _ = GetPacketRequest::decode(&b);
        }
    }
}
