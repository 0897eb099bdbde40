//! One viewer connection to a relay daemon's live port: each method sends one request and reads
//! its one reply, with a bound on how long the relay may take to answer.
//!
//! Typed errors say whether the relay closed the connection, went silent, or sent something
//! that is not the protocol. What to do with the replies (the session logic) is
//! `crate::viewer`'s; this file only talks.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::proto::{self, *};

/// How long the relay may take to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the relay may take to answer one request (lttng-relayd answers at once).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub enum ClientError {
    /// The relay could not be reached.
    Connect { addr: String, source: io::Error },
    /// The relay closed the connection.
    Closed { during: &'static str },
    /// The relay did not answer in time.
    Timeout { during: &'static str },
    Io {
        during: &'static str,
        source: io::Error,
    },
    /// The relay sent bytes that are not the protocol.
    Protocol {
        during: &'static str,
        source: ProtoError,
    },
    /// The relay speaks another major version.
    Version { major: u32 },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { addr, source } => {
                write!(f, "cannot connect to the relay daemon at {addr}: {source}")
            }
            ClientError::Closed { during } => {
                write!(f, "the relay daemon closed the connection ({during})")
            }
            ClientError::Timeout { during } => write!(
                f,
                "the relay daemon did not answer within {} s ({during})",
                REPLY_TIMEOUT.as_secs()
            ),
            ClientError::Io { during, source } => write!(f, "{during}: {source}"),
            ClientError::Protocol { during, source } => {
                write!(f, "bad reply from the relay daemon ({during}): {source}")
            }
            ClientError::Version { major } => write!(
                f,
                "the relay daemon speaks live protocol {major}.x, not {VIEWER_MAJOR}.x"
            ),
        }
    }
}

/// Each message already says its cause: no `source()`, so that error chains do not repeat it.
impl std::error::Error for ClientError {}

pub type Result<T> = std::result::Result<T, ClientError>;

/// A connected, version-checked viewer connection.
pub struct Connection {
    sock: TcpStream,
    /// The relay's minor version (the protocol in use is min(ours, theirs)).
    pub relay_minor: u32,
    pub viewer_session_id: u64,
}

impl Connection {
    /// Connects to `host:port` and exchanges versions.
    pub fn connect(host: &str, port: u16) -> Result<Connection> {
        let addr = format!("{host}:{port}");
        let connect_err = |source| ClientError::Connect {
            addr: addr.clone(),
            source,
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        let mut sock = None;
        // babeltrace2 2.0 connects over IPv4 only; so do we, trying each address in turn.
        for a in (host, port).to_socket_addrs().map_err(connect_err)? {
            if !a.is_ipv4() {
                continue;
            }
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let sock = sock.ok_or_else(|| connect_err(last))?;
        let io = |source| ClientError::Io {
            during: "setting up the connection",
            source,
        };
        sock.set_nodelay(true).map_err(io)?;
        sock.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
        sock.set_write_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
        let mut c = Connection {
            sock,
            relay_minor: 0,
            viewer_session_id: 0,
        };
        let mut req = Vec::new();
        Connect {
            viewer_session_id: NO_VIEWER_SESSION_ID,
            major: VIEWER_MAJOR,
            minor: VIEWER_MINOR,
            connection_type: CONNECTION_TYPE_COMMAND,
        }
        .encode(&mut req);
        c.send(Command::Connect, &req, "connect")?;
        let reply = Connect::decode(&c.read_exact::<CONNECT_BYTES>("connect")?)
            .map_err(|source| protocol("connect", source))?;
        if reply.major != VIEWER_MAJOR {
            return Err(ClientError::Version { major: reply.major });
        }
        c.relay_minor = reply.minor;
        c.viewer_session_id = reply.viewer_session_id;
        Ok(c)
    }

    fn send(&mut self, cmd: Command, payload: &[u8], during: &'static str) -> Result<()> {
        debug_assert_eq!(payload.len(), cmd.request_bytes());
        let mut buf = Vec::with_capacity(CMD_HEADER_BYTES + payload.len());
        CmdHeader::new(cmd).encode(&mut buf);
        buf.extend_from_slice(payload);
        self.sock
            .write_all(&buf)
            .map_err(|source| io_error(during, source))
    }

    fn read_exact<const N: usize>(&mut self, during: &'static str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.sock
            .read_exact(&mut b)
            .map_err(|source| io_error(during, source))?;
        Ok(b)
    }

    fn read_vec(&mut self, len: usize, during: &'static str) -> Result<Vec<u8>> {
        let mut b = vec![0u8; len];
        self.sock
            .read_exact(&mut b)
            .map_err(|source| io_error(during, source))?;
        Ok(b)
    }

    /// CREATE_SESSION: the viewer session that attaches go into.
    pub fn create_session(&mut self) -> Result<CreateSessionStatus> {
        self.send(Command::CreateSession, &[], "create session")?;
        let b = self.read_exact::<U32_BYTES>("create session")?;
        decode_u32("create session status", &b)
            .and_then(CreateSessionStatus::from_u32)
            .map_err(|source| protocol("create session", source))
    }

    pub fn list_sessions(&mut self) -> Result<Vec<SessionInfo>> {
        const DURING: &str = "list sessions";
        self.send(Command::ListSessions, &[], DURING)?;
        let b = self.read_exact::<U32_BYTES>(DURING)?;
        let n = decode_u32("session count", &b)
            .and_then(|n| check_count("session count", n, MAX_LISTED_SESSIONS))
            .map_err(|source| protocol(DURING, source))?;
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let b = self.read_exact::<SESSION_BYTES>(DURING)?;
            out.push(SessionInfo::decode(&b).map_err(|source| protocol(DURING, source))?);
        }
        Ok(out)
    }

    fn read_streams(&mut self, n: u32, during: &'static str) -> Result<Vec<StreamInfo>> {
        let mut out = Vec::with_capacity(n.min(1024) as usize);
        for _ in 0..n {
            let b = self.read_vec(STREAM_BYTES, during)?;
            out.push(StreamInfo::decode(&b).map_err(|source| protocol(during, source))?);
        }
        Ok(out)
    }

    /// ATTACH_SESSION from the next packet on (babeltrace2's choice).
    pub fn attach(&mut self, session_id: u64) -> Result<(AttachStatus, Vec<StreamInfo>)> {
        const DURING: &str = "attach session";
        let mut req = Vec::new();
        AttachRequest {
            session_id,
            offset: 0,
            seek: SEEK_LAST,
        }
        .encode(&mut req);
        self.send(Command::AttachSession, &req, DURING)?;
        let r = StreamsReply::decode(&self.read_exact::<STREAMS_REPLY_BYTES>(DURING)?)
            .map_err(|source| protocol(DURING, source))?;
        let status = AttachStatus::from_u32(r.status).map_err(|source| protocol(DURING, source))?;
        let streams = self.read_streams(r.streams_count, DURING)?;
        Ok((status, streams))
    }

    pub fn get_new_streams(
        &mut self,
        session_id: u64,
    ) -> Result<(NewStreamsStatus, Vec<StreamInfo>)> {
        const DURING: &str = "get new streams";
        self.send(Command::GetNewStreams, &session_id.to_be_bytes(), DURING)?;
        let r = StreamsReply::decode(&self.read_exact::<STREAMS_REPLY_BYTES>(DURING)?)
            .map_err(|source| protocol(DURING, source))?;
        let status =
            NewStreamsStatus::from_u32(r.status).map_err(|source| protocol(DURING, source))?;
        let streams = self.read_streams(r.streams_count, DURING)?;
        Ok((status, streams))
    }

    pub fn get_next_index(&mut self, stream_id: u64) -> Result<Index> {
        const DURING: &str = "get next index";
        self.send(Command::GetNextIndex, &stream_id.to_be_bytes(), DURING)?;
        Index::decode(&self.read_exact::<INDEX_BYTES>(DURING)?)
            .map_err(|source| protocol(DURING, source))
    }

    /// GET_PACKET of `len_bytes` at `offset_bytes`; the data, when the status is OK.
    pub fn get_packet(
        &mut self,
        stream_id: u64,
        offset_bytes: u64,
        len_bytes: u32,
    ) -> Result<(PacketReply, Vec<u8>)> {
        const DURING: &str = "get packet";
        let mut req = Vec::new();
        GetPacketRequest {
            stream_id,
            offset_bytes,
            len_bytes,
        }
        .encode(&mut req);
        self.send(Command::GetPacket, &req, DURING)?;
        let r = PacketReply::decode(&self.read_exact::<PACKET_REPLY_BYTES>(DURING)?)
            .map_err(|source| protocol(DURING, source))?;
        if r.status != PacketStatus::Ok {
            return Ok((r, Vec::new()));
        }
        if r.len_bytes == 0 || r.len_bytes > len_bytes {
            return Err(protocol(
                DURING,
                ProtoError::Limit {
                    what: "packet reply length",
                    value: r.len_bytes.into(),
                    max: len_bytes.into(),
                },
            ));
        }
        let data = self.read_vec(r.len_bytes as usize, DURING)?;
        Ok((r, data))
    }

    /// GET_METADATA: the status and the bytes (empty unless OK).
    pub fn get_metadata(&mut self, stream_id: u64) -> Result<(MetadataStatus, Vec<u8>)> {
        const DURING: &str = "get metadata";
        self.send(Command::GetMetadata, &stream_id.to_be_bytes(), DURING)?;
        let r = MetadataReply::decode(&self.read_exact::<METADATA_REPLY_BYTES>(DURING)?)
            .map_err(|source| protocol(DURING, source))?;
        if r.status != MetadataStatus::Ok {
            return Ok((r.status, Vec::new()));
        }
        let data = self.read_vec(r.len_bytes as usize, DURING)?;
        Ok((r.status, data))
    }

    pub fn detach(&mut self, session_id: u64) -> Result<DetachStatus> {
        const DURING: &str = "detach session";
        self.send(Command::DetachSession, &session_id.to_be_bytes(), DURING)?;
        let b = self.read_exact::<U32_BYTES>(DURING)?;
        proto::decode_u32("detach status", &b)
            .and_then(DetachStatus::from_u32)
            .map_err(|source| protocol(DURING, source))
    }
}

fn protocol(during: &'static str, source: ProtoError) -> ClientError {
    ClientError::Protocol { during, source }
}

fn io_error(during: &'static str, source: io::Error) -> ClientError {
    match source.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => ClientError::Closed { during },
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout { during },
        _ => ClientError::Io { during, source },
    }
}
