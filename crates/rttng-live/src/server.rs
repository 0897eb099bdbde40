//! The relay side of the live viewer protocol: a TCP listener that serves viewers (babeltrace2's
//! `lttng-live`, `rttng view --live`) from whatever holds the streams, behind [`LiveRelay`].
//!
//! Semantics are lttng-relayd 2.13's (spec §6), with one deliberate difference: several viewers
//! may attach to one session (each has its own positions). Each viewer connection has its own
//! thread and its own state; the relay is only asked short questions (no lock is held while a
//! viewer's socket is read or written), so a slow or stuck viewer delays nobody else, and a
//! write that a viewer does not take within [`WRITE_TIMEOUT`] ends that viewer only. Every
//! request is checked before it is acted on; a bad one closes its connection.
//!
//! Not here: where packets, indexes and metadata come from ([`LiveRelay`]), producers.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::proto::*;

/// Most viewer connections at once; more are closed on accept.
pub const MAX_VIEWERS: usize = 256;
/// How long a viewer may take to send the rest of a request once it began.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a viewer may take to accept a reply.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest metadata reply (the rest follows in the next replies of the same batch).
pub const METADATA_REPLY_MAX_BYTES: u64 = 1 << 20;
/// Most sessions one viewer may attach to.
pub const MAX_ATTACHED_SESSIONS: usize = 64;

/// A session as listed to viewers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelaySession {
    pub id: u64,
    pub hostname: String,
    pub name: String,
    /// 0: not live.
    pub live_timer_us: u32,
}

/// A stream as announced to viewers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayStream {
    pub id: u64,
    pub ctf_trace_id: u64,
    pub metadata: bool,
    pub path: String,
    pub channel: String,
}

/// One packet's index entry as the relay holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayIndex {
    pub offset_bytes: u64,
    pub packet_size_bits: u64,
    pub content_size_bits: u64,
    pub timestamp_begin: u64,
    pub timestamp_end: u64,
    pub events_discarded: u64,
    pub stream_class_id: u64,
}

/// What the relay has at a stream's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexState {
    Entry(RelayIndex),
    /// Not received yet. `beacon`: the latest live beacon (timestamp_end, stream class id).
    Wait {
        beacon: Option<(u64, u64)>,
    },
    /// The stream is closed and has no entry at this position.
    Closed,
    /// The entries before `next` are gone (their tracefiles were reused, as with
    /// `--tracefile-count`): a viewer behind goes on from `next`, as lttng-relayd's does.
    Gone {
        next: u64,
    },
}

/// What a live port serves from (the relay daemon's state, or a directory).
pub trait LiveRelay: Send + Sync {
    fn sessions(&self) -> Vec<RelaySession>;
    /// The streams of a session visible to viewers so far, and whether the session is closed
    /// (no stream will be added); `None` for an unknown session.
    fn streams(&self, session: u64) -> Option<(Vec<RelayStream>, bool)>;
    /// How many index entries stream `stream` has now (a viewer attaching "from the next
    /// packet" starts here).
    fn index_count(&self, stream: u64) -> u64;
    /// The `n`th index entry of a data stream.
    fn index(&self, stream: u64, n: u64) -> IndexState;
    /// `len` bytes at `offset` of a data stream's file: the tracefile of index entry `entry`
    /// (the last one this viewer was given; `None` before any), since offsets are per file.
    fn read(&self, stream: u64, entry: Option<u64>, offset: u64, len: u32) -> io::Result<Vec<u8>>;
    /// Bytes of a metadata stream received so far, and whether it is closed.
    fn metadata_len(&self, stream: u64) -> Option<(u64, bool)>;
    fn read_metadata(&self, stream: u64, offset: u64, len: u64) -> io::Result<Vec<u8>>;
}

/// A running live port.
pub struct LiveServer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the viewer connections of one live port share: viewers attached per session
/// (LIST_SESSIONS's client count), viewer ids, the connection count.
#[derive(Default)]
pub struct ViewerRegistry {
    attached: Mutex<HashMap<u64, u32>>,
    viewer_ids: AtomicU64,
    connections: AtomicUsize,
}

impl LiveServer {
    /// Listens on `addr` (e.g. `127.0.0.1:5344`, or port 0 for any) and serves until dropped.
    pub fn start(addr: &str, relay: Arc<dyn LiveRelay>) -> io::Result<LiveServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let shared = Arc::new(ViewerRegistry::default());
        let thread = std::thread::Builder::new()
            .name("rttng-live-accept".into())
            .spawn(move || accept_loop(listener, relay, shared, stop2))?;
        Ok(LiveServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

fn accept_loop(
    listener: TcpListener,
    relay: Arc<dyn LiveRelay>,
    shared: Arc<ViewerRegistry>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let sock = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(_) => continue,
        };
        if shared.connections.fetch_add(1, Ordering::AcqRel) >= MAX_VIEWERS {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            continue; // dropping `sock` closes it
        }
        let (relay, shared2) = (relay.clone(), shared.clone());
        let spawned = std::thread::Builder::new()
            .name("rttng-live-viewer".into())
            .spawn(move || {
                let _ = serve_connection(sock, relay, shared2.clone());
                shared2.connections.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Serves one viewer connection until it ends (for a daemon with its own accept loop; its
/// connections share `registry`). Returns why it ended: `Ok` when the viewer hung up, else
/// the first bad request or failed write.
pub fn serve_connection(
    sock: TcpStream,
    relay: Arc<dyn LiveRelay>,
    registry: Arc<ViewerRegistry>,
) -> io::Result<()> {
    let mut v = Viewer::new(relay, registry);
    let r = v.serve(sock);
    v.detach_all();
    r
}

struct ViewerStream {
    session: u64,
    ctf_trace_id: u64,
    metadata: bool,
    /// Data streams: the next index entry to send.
    next_index: u64,
    /// Data streams: the last index entry sent (its tracefile is the one packets come from).
    current_entry: Option<u64>,
    /// Metadata streams: bytes sent.
    metadata_sent: u64,
}

/// One viewer connection's state.
struct Viewer {
    relay: Arc<dyn LiveRelay>,
    shared: Arc<ViewerRegistry>,
    created: bool,
    attached: HashSet<u64>,
    streams: HashMap<u64, ViewerStream>,
}

fn closed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl Viewer {
    fn new(relay: Arc<dyn LiveRelay>, shared: Arc<ViewerRegistry>) -> Viewer {
        Viewer {
            relay,
            shared,
            created: false,
            attached: HashSet::new(),
            streams: HashMap::new(),
        }
    }

    fn detach_all(&mut self) {
        let mut m = self
            .shared
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for s in self.attached.drain() {
            if let Some(n) = m.get_mut(&s) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn serve(&mut self, mut sock: TcpStream) -> io::Result<()> {
        sock.set_nodelay(true)?;
        sock.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut connected = false;
        loop {
            // A viewer may stay quiet between requests as long as it likes.
            sock.set_read_timeout(None)?;
            let mut h = [0u8; CMD_HEADER_BYTES];
            match sock.read_exact(&mut h) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            sock.set_read_timeout(Some(READ_TIMEOUT))?;
            let header = CmdHeader::decode(&h).map_err(|e| closed(&e.to_string()))?;
            let cmd = header.command().map_err(|e| closed(&e.to_string()))?;
            let mut payload = vec![0u8; cmd.request_bytes()];
            sock.read_exact(&mut payload)?;
            if !connected && cmd != Command::Connect {
                return Err(closed("a command before CONNECT"));
            }
            let mut reply = Vec::new();
            match cmd {
                Command::Connect => {
                    let c = Connect::decode(&payload).map_err(|e| closed(&e.to_string()))?;
                    if c.major != VIEWER_MAJOR {
                        return Err(closed("another major version"));
                    }
                    connected = true;
                    Connect {
                        viewer_session_id: self.shared.viewer_ids.fetch_add(1, Ordering::Relaxed)
                            + 1,
                        major: VIEWER_MAJOR,
                        minor: VIEWER_MINOR,
                        connection_type: 0,
                    }
                    .encode(&mut reply);
                }
                Command::CreateSession => {
                    self.created = true;
                    reply.extend_from_slice(&(CreateSessionStatus::Ok as u32).to_be_bytes());
                }
                Command::ListSessions => self.list(&mut reply)?,
                Command::AttachSession => {
                    let r = AttachRequest::decode(&payload).map_err(|e| closed(&e.to_string()))?;
                    self.attach(r, &mut reply)?;
                }
                Command::GetNewStreams => {
                    let id =
                        decode_u64("session id", &payload).map_err(|e| closed(&e.to_string()))?;
                    self.new_streams(id, &mut reply)?;
                }
                Command::GetNextIndex => {
                    let id =
                        decode_u64("stream id", &payload).map_err(|e| closed(&e.to_string()))?;
                    self.next_index(id).encode(&mut reply);
                }
                Command::GetPacket => {
                    let r =
                        GetPacketRequest::decode(&payload).map_err(|e| closed(&e.to_string()))?;
                    self.packet(r, &mut reply);
                }
                Command::GetMetadata => {
                    let id =
                        decode_u64("stream id", &payload).map_err(|e| closed(&e.to_string()))?;
                    self.metadata(id, &mut reply);
                }
                Command::DetachSession => {
                    let id =
                        decode_u64("session id", &payload).map_err(|e| closed(&e.to_string()))?;
                    let status = if self.attached.remove(&id) {
                        let mut m = self
                            .shared
                            .attached
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        if let Some(n) = m.get_mut(&id) {
                            *n = n.saturating_sub(1);
                        }
                        self.streams.retain(|_, s| s.session != id);
                        DetachStatus::Ok
                    } else {
                        DetachStatus::Unknown
                    };
                    reply.extend_from_slice(&(status as u32).to_be_bytes());
                }
            }
            sock.write_all(&reply)?;
        }
    }

    fn list(&self, reply: &mut Vec<u8>) -> io::Result<()> {
        let sessions = self.relay.sessions();
        let n = sessions.len().min(MAX_LISTED_SESSIONS as usize);
        reply.extend_from_slice(&(n as u32).to_be_bytes());
        let clients = self
            .shared
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for s in sessions.into_iter().take(n) {
            let streams = self
                .relay
                .streams(s.id)
                .map_or(0, |(v, _)| v.len().min(u32::MAX as usize) as u32);
            SessionInfo {
                id: s.id,
                live_timer_us: s.live_timer_us,
                clients: clients.get(&s.id).copied().unwrap_or(0),
                streams,
                hostname: s.hostname,
                session_name: s.name,
            }
            .encode(reply)
            .map_err(|e| closed(&e.to_string()))?;
        }
        Ok(())
    }

    /// Adds the session's streams not yet sent, as `lttng_viewer_stream`s; returns how many.
    fn take_new_streams(
        &mut self,
        session: u64,
        seek_last: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<(u32, bool)> {
        let Some((streams, closed_session)) = self.relay.streams(session) else {
            return Ok((0, true));
        };
        let mut n = 0u32;
        for s in streams {
            if self.streams.contains_key(&s.id) {
                continue;
            }
            if n >= MAX_STREAMS_PER_REPLY {
                break;
            }
            let next_index = if seek_last && !s.metadata {
                self.relay.index_count(s.id)
            } else {
                0
            };
            StreamInfo {
                id: s.id,
                ctf_trace_id: s.ctf_trace_id,
                metadata: s.metadata,
                path_name: s.path.clone(),
                channel_name: s.channel.clone(),
            }
            .encode(out)
            .map_err(|e| closed(&e.to_string()))?;
            self.streams.insert(
                s.id,
                ViewerStream {
                    session,
                    ctf_trace_id: s.ctf_trace_id,
                    metadata: s.metadata,
                    next_index,
                    current_entry: None,
                    metadata_sent: 0,
                },
            );
            n += 1;
        }
        Ok((n, closed_session))
    }

    fn attach(&mut self, r: AttachRequest, reply: &mut Vec<u8>) -> io::Result<()> {
        let status = if !self.created {
            AttachStatus::NoSession
        } else if let Some(s) = self
            .relay
            .sessions()
            .into_iter()
            .find(|s| s.id == r.session_id)
        {
            if s.live_timer_us == 0 {
                AttachStatus::NotLive
            } else if r.seek != SEEK_BEGINNING && r.seek != SEEK_LAST {
                AttachStatus::SeekError
            } else if self.attached.len() >= MAX_ATTACHED_SESSIONS && !self.attached.contains(&s.id)
            {
                AttachStatus::Already
            } else {
                AttachStatus::Ok
            }
        } else {
            AttachStatus::Unknown
        };
        if status != AttachStatus::Ok {
            StreamsReply {
                status: status as u32,
                streams_count: 0,
            }
            .encode(reply);
            return Ok(());
        }
        if self.attached.insert(r.session_id) {
            *self
                .shared
                .attached
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(r.session_id)
                .or_default() += 1;
        }
        let mut body = Vec::new();
        let (n, _) = self.take_new_streams(r.session_id, r.seek == SEEK_LAST, &mut body)?;
        StreamsReply {
            status: AttachStatus::Ok as u32,
            streams_count: n,
        }
        .encode(reply);
        reply.extend_from_slice(&body);
        Ok(())
    }

    fn new_streams(&mut self, session: u64, reply: &mut Vec<u8>) -> io::Result<()> {
        if !self.attached.contains(&session) {
            StreamsReply {
                status: NewStreamsStatus::Error as u32,
                streams_count: 0,
            }
            .encode(reply);
            return Ok(());
        }
        let mut body = Vec::new();
        // New streams of a running session start at their beginning (lttng-relayd's rule).
        let (n, closed_session) = self.take_new_streams(session, false, &mut body)?;
        let all_done = closed_session && n == 0 && self.session_streams_done(session);
        let status = if all_done {
            NewStreamsStatus::Hup
        } else {
            NewStreamsStatus::Ok
        };
        StreamsReply {
            status: status as u32,
            streams_count: n,
        }
        .encode(reply);
        reply.extend_from_slice(&body);
        Ok(())
    }

    /// Every data stream of the session sent to this viewer has given its last index.
    fn session_streams_done(&self, session: u64) -> bool {
        self.streams
            .iter()
            .filter(|(_, s)| s.session == session && !s.metadata)
            .all(|(&id, s)| self.relay.index(id, s.next_index) == IndexState::Closed)
    }

    /// NEW_METADATA and NEW_STREAM flags for a stream of this viewer.
    fn flags(&self, stream: &ViewerStream) -> u32 {
        let mut flags = 0;
        for (&id, s) in &self.streams {
            if s.metadata && s.ctf_trace_id == stream.ctf_trace_id && s.session == stream.session {
                match self.relay.metadata_len(id) {
                    Some((len, _)) if len > s.metadata_sent => flags |= FLAG_NEW_METADATA,
                    _ => {}
                }
            }
        }
        if let Some((streams, _)) = self.relay.streams(stream.session) {
            if streams.iter().any(|s| !self.streams.contains_key(&s.id)) {
                flags |= FLAG_NEW_STREAM;
            }
        }
        flags
    }

    fn next_index(&mut self, id: u64) -> Index {
        let Some(s) = self.streams.get(&id) else {
            return Index::status_only(IndexStatus::Error, 0);
        };
        if s.metadata {
            return Index::status_only(IndexStatus::Hup, 0);
        }
        let flags = self.flags(s);
        let mut n = s.next_index;
        let mut state = self.relay.index(id, n);
        if let IndexState::Gone { next } = state {
            // Behind a reused tracefile: skip to the oldest entry still there.
            n = next.max(n);
            state = self.relay.index(id, n);
        }
        match state {
            IndexState::Entry(e) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.next_index = n + 1;
                    s.current_entry = Some(n);
                }
                Index {
                    offset_bytes: e.offset_bytes,
                    packet_size_bits: e.packet_size_bits,
                    content_size_bits: e.content_size_bits,
                    timestamp_begin: e.timestamp_begin,
                    timestamp_end: e.timestamp_end,
                    events_discarded: e.events_discarded,
                    stream_class_id: e.stream_class_id,
                    status: IndexStatus::Ok,
                    flags,
                }
            }
            IndexState::Wait {
                beacon: Some((ts_end, class_id)),
            } => Index {
                timestamp_end: ts_end,
                stream_class_id: class_id,
                ..Index::status_only(IndexStatus::Inactive, flags)
            },
            IndexState::Wait { beacon: None } => Index::status_only(IndexStatus::Retry, flags),
            IndexState::Closed => Index::status_only(IndexStatus::Hup, flags),
            // Still behind after one skip (the files turn over faster than they are read).
            IndexState::Gone { .. } => Index::status_only(IndexStatus::Retry, flags),
        }
    }

    fn packet(&self, r: GetPacketRequest, reply: &mut Vec<u8>) {
        let status_only = |reply: &mut Vec<u8>, status, flags| {
            PacketReply {
                status,
                len_bytes: 0,
                flags,
            }
            .encode(reply)
        };
        let Some(s) = self.streams.get(&r.stream_id).filter(|s| !s.metadata) else {
            return status_only(reply, PacketStatus::Error, 0);
        };
        let flags = self.flags(s);
        if flags & FLAG_NEW_METADATA != 0 {
            return status_only(reply, PacketStatus::Error, FLAG_NEW_METADATA);
        }
        if r.len_bytes == 0 || r.len_bytes > MAX_PACKET_CHUNK_BYTES {
            return status_only(reply, PacketStatus::Error, 0);
        }
        match self
            .relay
            .read(r.stream_id, s.current_entry, r.offset_bytes, r.len_bytes)
        {
            Ok(data) if data.len() == r.len_bytes as usize => {
                PacketReply {
                    status: PacketStatus::Ok,
                    len_bytes: r.len_bytes,
                    flags,
                }
                .encode(reply);
                reply.extend_from_slice(&data);
            }
            _ => status_only(reply, PacketStatus::Error, 0),
        }
    }

    fn metadata(&mut self, id: u64, reply: &mut Vec<u8>) {
        let error = |reply: &mut Vec<u8>, status| {
            MetadataReply {
                len_bytes: 0,
                status,
            }
            .encode(reply)
        };
        let Some(s) = self.streams.get_mut(&id).filter(|s| s.metadata) else {
            return error(reply, MetadataStatus::Error);
        };
        let Some((len, is_closed)) = self.relay.metadata_len(id) else {
            return error(reply, MetadataStatus::Error);
        };
        if len <= s.metadata_sent {
            return error(
                reply,
                if is_closed {
                    MetadataStatus::Error
                } else {
                    MetadataStatus::NoNew
                },
            );
        }
        let want = (len - s.metadata_sent).min(METADATA_REPLY_MAX_BYTES);
        match self.relay.read_metadata(id, s.metadata_sent, want) {
            Ok(data) if data.len() as u64 == want => {
                s.metadata_sent += want;
                MetadataReply {
                    len_bytes: want,
                    status: MetadataStatus::Ok,
                }
                .encode(reply);
                reply.extend_from_slice(&data);
            }
            _ => error(reply, MetadataStatus::Error),
        }
    }
}
