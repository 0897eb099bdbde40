//! A live viewer session: attaches to every relay session matching a URL, follows new streams
//! and metadata updates, and hands out packets, beacons and hang-ups as an
//! [`rttng_reader::live::PacketSource`], so that the file reader's decoder and merge read it.
//!
//! It behaves as babeltrace2 2.0's `lttng-live` source does (spec §4–§5): attach from the next
//! packet, fetch metadata when an index says NEW_METADATA and new streams when it says
//! NEW_STREAM, treat a repeated beacon as "nothing new", end when every stream hung up and the
//! relay says the session is closed. Everything the relay says is bounded (stream count,
//! metadata size, packet size). It does not print: the caller formats what the merge hands out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rttng_reader::live::{LiveStream, LiveTrace, PacketSource, Poll, SourceError};

use crate::client::{ClientError, Connection};
use crate::proto::*;
use crate::url::LiveUrl;

/// Most streams (data and metadata) followed in one viewer session.
pub const MAX_STREAMS: usize = 65536;
/// Largest metadata of one trace.
pub const MAX_METADATA_BYTES: usize = 256 << 20;
/// Largest packet accepted.
pub const MAX_PACKET_BYTES: u64 = 256 << 20;
/// Largest GET_PACKET request (babeltrace2 asks for at most 256 KiB at a time).
pub const PACKET_REQUEST_BYTES: u32 = 1 << 20;
/// How long to wait before asking again when the relay has nothing new (babeltrace2: 100 ms).
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How many times a GET_PACKET that says RETRY (or asks for metadata first) is retried.
pub const MAX_PACKET_RETRIES: u32 = 500;

#[derive(Debug)]
pub enum ViewerError {
    Client(ClientError),
    NoSession {
        relay: String,
        hostname: String,
        session: String,
        available: Vec<String>,
    },
    Attach {
        session: String,
        status: AttachStatus,
    },
    CreateSession,
    /// The relay announced more than [`MAX_STREAMS`] streams.
    TooManyStreams,
    Metadata {
        trace: String,
        reason: String,
    },
    Stream {
        stream: String,
        reason: String,
    },
}

impl fmt::Display for ViewerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViewerError::Client(e) => write!(f, "{e}"),
            ViewerError::NoSession {
                relay,
                hostname,
                session,
                available,
            } => {
                write!(
                    f,
                    "no live session `{session}` of host `{hostname}` on the relay daemon at {relay}"
                )?;
                if available.is_empty() {
                    write!(f, " (it has no session)")
                } else {
                    write!(f, " (it has: {})", available.join(", "))
                }
            }
            ViewerError::Attach { session, status } => {
                let why = match status {
                    AttachStatus::Already => "another viewer is attached to it",
                    AttachStatus::Unknown => "the relay daemon no longer knows it",
                    AttachStatus::NotLive => "it is not a live session",
                    AttachStatus::SeekError => "the relay daemon cannot seek in it",
                    AttachStatus::NoSession => "the relay daemon lost the viewer session",
                    AttachStatus::Ok => "no reason",
                };
                write!(f, "cannot attach to session `{session}`: {why}")
            }
            ViewerError::CreateSession => {
                write!(f, "the relay daemon refused to create a viewer session")
            }
            ViewerError::TooManyStreams => {
                write!(
                    f,
                    "the relay daemon announced more than {MAX_STREAMS} streams"
                )
            }
            ViewerError::Metadata { trace, reason } => {
                write!(f, "metadata of trace `{trace}`: {reason}")
            }
            ViewerError::Stream { stream, reason } => write!(f, "stream {stream}: {reason}"),
        }
    }
}

/// Each message already says its cause (see `ClientError`).
impl std::error::Error for ViewerError {}

impl From<ClientError> for ViewerError {
    fn from(e: ClientError) -> Self {
        ViewerError::Client(e)
    }
}

pub type Result<T> = std::result::Result<T, ViewerError>;

/// The sessions a relay lists, merged as babeltrace2 merges them (one line per hostname and
/// name: stream counts summed, client counts maxed), optionally only those of `hostname`.
pub fn list_sessions(url: &LiveUrl) -> Result<Vec<SessionInfo>> {
    let mut conn = Connection::connect(&url.relay_host, url.port)?;
    let all = conn.list_sessions()?;
    let mut out: Vec<SessionInfo> = Vec::new();
    for s in all {
        if url
            .target_hostname
            .as_ref()
            .is_some_and(|h| *h != s.hostname)
        {
            continue;
        }
        match out
            .iter_mut()
            .find(|o| o.hostname == s.hostname && o.session_name == s.session_name)
        {
            Some(o) => {
                o.streams = o.streams.saturating_add(s.streams);
                o.clients = o.clients.max(s.clients);
            }
            None => out.push(s),
        }
    }
    Ok(out)
}

/// babeltrace2's line for a listed session.
pub fn listing_line(url: &LiveUrl, s: &SessionInfo) -> String {
    let base = match url.text.find("/host/") {
        Some(i) => &url.text[..i],
        None => &url.text,
    };
    format!(
        "{base}/host/{}/{} (timer = {}, {} stream(s), {} client(s) connected)\n",
        s.hostname, s.session_name, s.live_timer_us, s.streams, s.clients
    )
}

struct TraceState {
    path: String,
    metadata_stream: Option<u64>,
    metadata_bytes: Vec<u8>,
    metadata_closed: bool,
    parsed: Option<Arc<LiveTrace>>,
}

struct DataStream {
    id: u64,
    trace: usize,
    name: String,
    hup: bool,
    exposed: bool,
}

/// An attached viewer session (see the module documentation).
pub struct LiveSession {
    conn: Connection,
    /// Relay session ids attached to, and whether each is closed.
    sessions: Vec<(u64, bool)>,
    traces: Vec<TraceState>,
    trace_by_id: HashMap<u64, usize>,
    streams: Vec<DataStream>,
    /// Merge index → index in `streams`.
    exposed: Vec<usize>,
    generation: u64,
    stream_count: usize,
    poll_interval: Duration,
}

impl LiveSession {
    /// Connects and attaches to every session of the URL's host and name.
    pub fn attach(url: &LiveUrl) -> Result<LiveSession> {
        let hostname = url.target_hostname.clone().unwrap_or_default();
        let name = url.session_name.clone().unwrap_or_default();
        let mut conn = Connection::connect(&url.relay_host, url.port)?;
        if conn.create_session()? != CreateSessionStatus::Ok {
            return Err(ViewerError::CreateSession);
        }
        let listed = conn.list_sessions()?;
        let matching: Vec<u64> = listed
            .iter()
            .filter(|s| s.hostname == hostname && s.session_name == name)
            .map(|s| s.id)
            .collect();
        if matching.is_empty() {
            let mut available: Vec<String> = listed
                .iter()
                .map(|s| format!("{}/{}", s.hostname, s.session_name))
                .collect();
            available.dedup();
            return Err(ViewerError::NoSession {
                relay: format!("{}:{}", url.relay_host, url.port),
                hostname,
                session: name,
                available,
            });
        }
        let mut me = LiveSession {
            conn,
            sessions: Vec::new(),
            traces: Vec::new(),
            trace_by_id: HashMap::new(),
            streams: Vec::new(),
            exposed: Vec::new(),
            generation: 0,
            stream_count: 0,
            poll_interval: POLL_INTERVAL,
        };
        for id in matching {
            let (status, streams) = me.conn.attach(id)?;
            if status != AttachStatus::Ok {
                return Err(ViewerError::Attach {
                    session: name.clone(),
                    status,
                });
            }
            me.sessions.push((id, false));
            me.add_streams(streams)?;
        }
        me.refresh_all_metadata()?;
        Ok(me)
    }

    /// Sets how long to wait before asking again when nothing is new.
    pub fn set_poll_interval(&mut self, d: Duration) {
        self.poll_interval = d;
    }

    fn add_streams(&mut self, list: Vec<StreamInfo>) -> Result<()> {
        for s in list {
            self.stream_count += 1;
            if self.stream_count > MAX_STREAMS {
                return Err(ViewerError::TooManyStreams);
            }
            let next = self.traces.len();
            let t = *self.trace_by_id.entry(s.ctf_trace_id).or_insert(next);
            if t == next {
                self.traces.push(TraceState {
                    path: s.path_name.clone(),
                    metadata_stream: None,
                    metadata_bytes: Vec::new(),
                    metadata_closed: false,
                    parsed: None,
                });
            }
            if s.metadata {
                self.traces[t].metadata_stream = Some(s.id);
            } else {
                self.streams.push(DataStream {
                    id: s.id,
                    trace: t,
                    name: format!("{}/{}", s.path_name, s.channel_name),
                    hup: false,
                    exposed: false,
                });
            }
        }
        self.expose();
        Ok(())
    }

    /// Makes the streams whose trace has metadata visible to the merge.
    fn expose(&mut self) {
        for (i, s) in self.streams.iter_mut().enumerate() {
            if !s.exposed && self.traces[s.trace].parsed.is_some() {
                s.exposed = true;
                self.exposed.push(i);
                self.generation += 1;
            }
        }
    }

    fn refresh_all_metadata(&mut self) -> Result<()> {
        for t in 0..self.traces.len() {
            self.refresh_metadata(t)?;
        }
        self.expose();
        Ok(())
    }

    /// Fetches trace `t`'s new metadata (every batch until NO_NEW) and re-parses it.
    fn refresh_metadata(&mut self, t: usize) -> Result<()> {
        let tr = &mut self.traces[t];
        let Some(id) = tr.metadata_stream else {
            return Ok(());
        };
        if tr.metadata_closed {
            return Ok(());
        }
        let before = tr.metadata_bytes.len();
        loop {
            let (status, bytes) = self.conn.get_metadata(id)?;
            match status {
                MetadataStatus::Ok => {
                    if tr.metadata_bytes.len() + bytes.len() > MAX_METADATA_BYTES {
                        return Err(ViewerError::Metadata {
                            trace: tr.path.clone(),
                            reason: format!("larger than {MAX_METADATA_BYTES} bytes"),
                        });
                    }
                    tr.metadata_bytes.extend_from_slice(&bytes);
                }
                MetadataStatus::NoNew => break,
                MetadataStatus::Error => {
                    tr.metadata_closed = true;
                    break;
                }
            }
        }
        if tr.metadata_bytes.len() == before {
            return Ok(());
        }
        let md = parse_metadata(&tr.metadata_bytes).map_err(|reason| ViewerError::Metadata {
            trace: tr.path.clone(),
            reason,
        })?;
        tr.parsed = Some(Arc::new(LiveTrace {
            name: String::new(),
            metadata: md,
        }));
        self.generation += 1;
        Ok(())
    }

    fn refresh_new_streams(&mut self) -> Result<()> {
        for k in 0..self.sessions.len() {
            let (id, closed) = self.sessions[k];
            if closed {
                continue;
            }
            let (status, streams) = self.conn.get_new_streams(id)?;
            match status {
                NewStreamsStatus::Ok | NewStreamsStatus::NoNew => {}
                NewStreamsStatus::Hup => self.sessions[k].1 = true,
                NewStreamsStatus::Error => {
                    return Err(ViewerError::Stream {
                        stream: format!("session {id}"),
                        reason: "the relay daemon could not list new streams".into(),
                    })
                }
            }
            self.add_streams(streams)?;
        }
        self.refresh_all_metadata()
    }

    fn handle_flags(&mut self, flags: u32, trace: usize) -> Result<()> {
        if flags & FLAG_NEW_METADATA != 0 {
            self.refresh_metadata(trace)?;
            self.expose();
        }
        if flags & FLAG_NEW_STREAM != 0 {
            self.refresh_new_streams()?;
        }
        Ok(())
    }

    fn stream_error(&self, s: usize, reason: String) -> ViewerError {
        ViewerError::Stream {
            stream: self.streams[s].name.clone(),
            reason,
        }
    }

    fn poll_stream(&mut self, s: usize) -> Result<Poll> {
        if self.streams[s].hup {
            return Ok(Poll::End);
        }
        let (id, trace) = (self.streams[s].id, self.streams[s].trace);
        let index = self.conn.get_next_index(id)?;
        self.handle_flags(index.flags, trace)?;
        match index.status {
            IndexStatus::Ok => {}
            IndexStatus::Retry => return Ok(Poll::Pending),
            IndexStatus::Hup => {
                self.streams[s].hup = true;
                return Ok(Poll::End);
            }
            IndexStatus::Inactive => {
                return Ok(Poll::Inactive {
                    stream_class_id: index.stream_class_id,
                    timestamp_end: index.timestamp_end,
                })
            }
            IndexStatus::Error | IndexStatus::Eof => {
                return Err(self.stream_error(
                    s,
                    format!(
                        "the relay daemon answered {:?} for its next index",
                        index.status
                    ),
                ))
            }
        }
        let packet_bits = index.packet_size_bits;
        if packet_bits == 0
            || !packet_bits.is_multiple_of(8)
            || packet_bits / 8 > MAX_PACKET_BYTES
            || index.content_size_bits > packet_bits
        {
            return Err(self.stream_error(
                s,
                format!(
                    "bad index: packet of {packet_bits} bits with {} bits of content",
                    index.content_size_bits
                ),
            ));
        }
        // Only the content travels; the padding is zeros, as the relay would send them.
        let content_bytes = index.content_size_bits.div_ceil(8);
        let mut data = Vec::with_capacity((packet_bits / 8) as usize);
        let mut retries = 0;
        while (data.len() as u64) < content_bytes {
            let want = (content_bytes - data.len() as u64).min(PACKET_REQUEST_BYTES.into()) as u32;
            let (reply, bytes) =
                self.conn
                    .get_packet(id, index.offset_bytes + data.len() as u64, want)?;
            match reply.status {
                PacketStatus::Ok => {
                    data.extend_from_slice(&bytes);
                    continue;
                }
                PacketStatus::Eof => {
                    self.streams[s].hup = true;
                    return Ok(Poll::End);
                }
                PacketStatus::Error if reply.flags & (FLAG_NEW_METADATA | FLAG_NEW_STREAM) != 0 => {
                    self.handle_flags(reply.flags, trace)?;
                }
                PacketStatus::Error => {
                    return Err(self.stream_error(
                        s,
                        format!(
                            "the relay daemon could not send the packet at byte {}",
                            index.offset_bytes
                        ),
                    ))
                }
                PacketStatus::Retry => std::thread::sleep(self.poll_interval),
            }
            retries += 1;
            if retries > MAX_PACKET_RETRIES {
                return Err(self.stream_error(
                    s,
                    format!(
                        "the packet at byte {} is still not available after {MAX_PACKET_RETRIES} tries",
                        index.offset_bytes
                    ),
                ));
            }
        }
        data.resize((packet_bits / 8) as usize, 0);
        Ok(Poll::Packet(data))
    }

    /// Tells the relay we leave (at the end of a session; errors do not matter then).
    pub fn detach(&mut self) {
        for (id, _) in self.sessions.clone() {
            let _ = self.conn.detach(id);
        }
    }
}

/// Parses accumulated metadata (packetized or plain) into prepared metadata.
fn parse_metadata(bytes: &[u8]) -> std::result::Result<rttng_ctf::ir::Metadata, String> {
    let text =
        rttng_ctf::metadata_stream::decode_metadata_stream(bytes).map_err(|e| e.to_string())?;
    let mut md = rttng_ctf::tsdl::parse_metadata(&text.text).map_err(|e| e.to_string())?;
    rttng_ctf::roles::prepare(&mut md).map_err(|e| e.to_string())?;
    Ok(md)
}

impl PacketSource for LiveSession {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>> {
        self.traces.iter().map(|t| t.parsed.clone()).collect()
    }

    fn streams(&self) -> Vec<LiveStream> {
        self.exposed
            .iter()
            .map(|&s| LiveStream {
                trace: self.streams[s].trace,
                id: self.streams[s].id,
                name: self.streams[s].name.clone(),
            })
            .collect()
    }

    fn poll(&mut self, stream: usize) -> std::result::Result<Poll, SourceError> {
        let s = self.exposed[stream];
        Ok(self.poll_stream(s)?)
    }

    fn wait(&mut self) -> std::result::Result<(), SourceError> {
        std::thread::sleep(self.poll_interval);
        // Traces still waiting for their first metadata hold their streams back.
        if self.traces.iter().any(|t| t.parsed.is_none()) {
            self.refresh_all_metadata()?;
        }
        Ok(())
    }

    fn finished(&mut self) -> std::result::Result<bool, SourceError> {
        self.refresh_new_streams()?;
        let all_hup =
            self.exposed.len() == self.streams.len() && self.streams.iter().all(|s| s.hup);
        if all_hup && self.sessions.iter().all(|(_, closed)| *closed) {
            self.detach();
            return Ok(true);
        }
        std::thread::sleep(self.poll_interval);
        Ok(false)
    }
}
