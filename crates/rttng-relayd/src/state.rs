//! The relay's bookkeeping: relay sessions (one per control connection), their trace chunk,
//! and streams (one data or metadata file each, plus its index). A stream knows where each
//! packet went (file, offset), pairs it with its SEND_INDEX on (stream, net_seq_num) in either
//! order, writes the index entry once it has both halves, rotates tracefiles by size and count,
//! and answers data-pending. The counters a live viewer server needs (packets, index entries
//! written, whether the streams were announced with STREAMS_SENT) are kept per stream.
//!
//! Locks: the registry, then a session, then a stream, never the other way round; no lock is
//! held while reading from a socket. Packet bytes are written with `pwrite` at an offset
//! reserved under the stream's lock, so a peer trickling a packet in holds nothing the others
//! need. Not here: sockets and the wire format (`control.rs`, `data.rs`).

use crate::store::{self, Store};
use anyhow::{anyhow, bail, Context, Result};
use rttng_ctf::index::{encode_index, IndexEntry, IndexVersion, INDEX_HEADER_BYTES};
use rttng_relay_proto::{SendIndex, NO_SEQ};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};

mod stream;

/// Most relay sessions at once (each needs a control connection, so this is also bounded by
/// the connection limit).
pub const MAX_SESSIONS: usize = 4096;
/// Most open streams of one relay session (a stream per CPU per channel, plus metadata, per
/// buffer set).
pub const MAX_STREAMS_PER_SESSION: usize = 1 << 14;
/// Most packets of one stream whose data or index half waits for the other. The consumer sends
/// the index right after the packet, so more means a broken or hostile peer.
pub const MAX_PENDING_HALVES_PER_STREAM: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock is a bug; the state it guards is still consistent enough to
    // close files, so keep serving the other peers.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `YYYYmmdd-HHMMSS` of `epoch_s` in the relay's local time zone (UTC if the C library
/// cannot convert), as lttng-relayd suffixes session directories.
fn local_compact(epoch_s: u64) -> String {
    let secs = i64::try_from(epoch_s).unwrap_or(i64::MAX);
    rttng_clock::date::localtime(secs)
        .unwrap_or_else(|| rttng_clock::date::gmtime(secs))
        .compact()
}

/// Signed comparison of sequence numbers (`a >= b`), as lttng-relayd compares them.
fn seq_ge(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) >= 0
}

/// Everything the relay holds.
#[derive(Debug)]
pub struct Relay {
    pub store: Store,
    reg: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    next_session_id: u64,
    next_stream_handle: u64,
    sessions: HashMap<u64, Arc<Session>>,
    streams: HashMap<u64, Arc<Stream>>,
}

/// What CREATE_SESSION asked for, after its names were checked.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub name: String,
    pub hostname: String,
    pub base_path: String,
    pub name_contains_creation_time: bool,
    pub creation_time_s: u64,
    pub live_timer_us: u32,
    pub snapshot: bool,
    pub sessiond_uuid: [u8; 16],
    pub sessiond_session_id: u64,
    pub current_chunk_id: Option<u64>,
    pub peer_ip: IpAddr,
    pub minor: u32,
}

/// A relay session: one sessiond output through one consumer daemon.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub spec: SessionSpec,
    /// The session directory, relative to the output root (`HOST/NAME-YYYYmmdd-HHMMSS`).
    pub dir: String,
    st: Mutex<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    chunk: Option<Chunk>,
    /// The chunk ids this session has had; a chunk after the first without a name is a
    /// rotation.
    chunks_seen: u32,
    streams: Vec<Arc<Stream>>,
    control_open: bool,
}

/// A trace chunk: the directory streams are created in.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub id: u64,
    /// Relative to the output root.
    pub dir: String,
    fd: Arc<OwnedFd>,
}

/// One stream: a data stream (`CHANNEL_CPU`) or the metadata.
#[derive(Debug)]
pub struct Stream {
    pub handle: u64,
    pub session: Arc<Session>,
    pub channel_name: String,
    /// Relative to the chunk (`ust/uid/1000/64-bit`).
    pub path: String,
    pub tracefile_size_bytes: u64,
    /// 0: unlimited.
    pub tracefile_count: u64,
    pub is_metadata: bool,
    st: Mutex<StreamState>,
}

#[derive(Debug)]
struct StreamState {
    dir: OwnedFd,
    index_dir: Option<OwnedFd>,
    file: Arc<File>,
    file_index: u64,
    /// Bytes reserved in the current file (lttng-relayd's `tracefile_size_current`).
    file_bytes: u64,
    wrapped: bool,
    index_file: Option<Arc<File>>,
    in_flight: Option<InFlight>,
    pending: BTreeMap<u64, Halves>,
    last_data_seq: Option<u64>,
    close_at: Option<u64>,
    closed: bool,
    /// Set by DATA_PENDING and QUIESCENT_CONTROL, cleared by BEGIN_DATA_PENDING.
    checked: bool,
    data_conn: Option<u64>,
    /// Whether `data_conn` is still connected.
    data_conn_open: bool,
    /// Announced by STREAMS_SENT (what a live viewer may see).
    published: bool,
    packets_received: u64,
    index_entries_written: u64,
    /// The latest live beacon since the latest index entry: (timestamp_end, stream class id).
    beacon: Option<(u64, u64)>,
    /// The tracefiles the live port can still read, oldest first (one without rotation).
    segments: VecDeque<Segment>,
    /// Index entries of the tracefiles dropped from `segments`.
    dropped_entries: u64,
}

/// Most tracefiles of one stream the live port keeps open for viewers (two descriptors each;
/// with `--tracefile-size` and no or a large `--tracefile-count`, files accumulate): a viewer
/// more than this many tracefiles behind skips ahead, as behind a reused tracefile.
pub const MAX_LIVE_SEGMENTS: usize = 16;

/// One tracefile of a data stream and its index file, as the live port reads them. Kept
/// open: a reused tracefile is unlinked first, so a segment still reads what it held.
#[derive(Debug, Clone)]
struct Segment {
    data: Arc<File>,
    index: Arc<File>,
    /// Entries written to its index file.
    entries: u64,
}

/// Where the live port finds index entry `n` of a stream.
#[derive(Debug, Clone)]
pub enum LiveEntry {
    /// Entry `local` of `index` (after its header) describes a packet of `data`.
    At {
        index: Arc<File>,
        local: u64,
        data: Arc<File>,
    },
    /// Its tracefile is gone; entries go on from `next`.
    Gone { next: u64 },
    /// Not written yet.
    Missing,
}

#[derive(Debug)]
struct InFlight {
    offset: u64,
    total_bytes: u64,
    file: Arc<File>,
}

#[derive(Debug, Default)]
struct Halves {
    /// Where the packet went: its index file and offset in the data file.
    data: Option<(Arc<File>, u64)>,
    index: Option<SendIndex>,
}

/// A stream as the live port sees it at one moment.
#[derive(Debug, Clone)]
pub struct LiveSnapshot {
    pub data_file: Arc<File>,
    pub index_entries: u64,
    /// Bytes of the current file fully received (metadata: whole messages).
    pub complete_bytes: u64,
    pub published: bool,
    pub closed: bool,
    pub beacon: Option<(u64, u64)>,
}

/// Where to write one packet (or metadata message): the file and the offset reserved in it.
#[derive(Debug)]
pub struct Reservation {
    pub file: Arc<File>,
    pub offset: u64,
}

impl Relay {
    pub fn new(store: Store) -> Relay {
        Relay {
            store,
            reg: Mutex::new(Registry {
                next_session_id: 1,
                next_stream_handle: 1,
                ..Registry::default()
            }),
        }
    }

    /// CREATE_SESSION: registers the session and creates its directory.
    pub fn create_session(&self, spec: SessionSpec) -> Result<Arc<Session>> {
        let dir = if !spec.base_path.is_empty() {
            format!("{}/{}", spec.hostname, spec.base_path)
        } else if spec.name_contains_creation_time {
            format!("{}/{}", spec.hostname, spec.name)
        } else {
            format!(
                "{}/{}-{}",
                spec.hostname,
                spec.name,
                local_compact(spec.creation_time_s)
            )
        };
        self.store
            .make_dirs(&dir)
            .with_context(|| format!("cannot create session directory {dir}"))?;
        let mut reg = lock(&self.reg);
        if reg.sessions.len() >= MAX_SESSIONS {
            bail!("too many sessions (at most {MAX_SESSIONS})");
        }
        // A connection made after the session already has a chunk names it: share it.
        let chunk = match spec.current_chunk_id {
            None => None,
            Some(id) => Some(
                reg.sessions
                    .values()
                    .filter(|s| {
                        s.spec.sessiond_uuid == spec.sessiond_uuid
                            && s.spec.sessiond_session_id == spec.sessiond_session_id
                    })
                    .find_map(|s| lock(&s.st).chunk.clone().filter(|c| c.id == id))
                    .ok_or_else(|| anyhow!("current trace chunk {id} is unknown"))?,
            ),
        };
        let id = reg.next_session_id;
        reg.next_session_id += 1;
        let session = Arc::new(Session {
            id,
            spec,
            dir,
            st: Mutex::new(SessionState {
                chunks_seen: chunk.is_some() as u32,
                chunk,
                control_open: true,
                ..SessionState::default()
            }),
        });
        reg.sessions.insert(id, session.clone());
        Ok(session)
    }

    /// Every session still registered (for the live port).
    pub fn live_sessions(&self) -> Vec<Arc<Session>> {
        let mut v: Vec<Arc<Session>> = lock(&self.reg).sessions.values().cloned().collect();
        v.sort_by_key(|s| s.id);
        v
    }

    /// The stream of a handle, if it is still open.
    pub fn stream(&self, handle: u64) -> Option<Arc<Stream>> {
        lock(&self.reg).streams.get(&handle).cloned()
    }

    /// ADD_STREAM: creates the stream's directory and data file in the current chunk.
    pub fn add_stream(
        &self,
        session: &Arc<Session>,
        channel_name: String,
        path: String,
        tracefile_size_bytes: u64,
        tracefile_count: u64,
    ) -> Result<Arc<Stream>> {
        let chunk = {
            let st = lock(&session.st);
            if st.streams.len() >= MAX_STREAMS_PER_SESSION {
                bail!(
                    "too many streams in session {} (at most {MAX_STREAMS_PER_SESSION})",
                    session.id
                );
            }
            st.chunk
                .clone()
                .ok_or_else(|| anyhow!("the session has no current trace chunk"))?
        };
        let dir = store::make_dirs_in(&chunk.fd, &path)
            .with_context(|| format!("cannot create {}/{path}", chunk.dir))?;
        let name = store::data_file_name(&channel_name, tracefile_size_bytes, 0);
        let file = store::create_file(&dir, &name, false)
            .with_context(|| format!("cannot create {}/{path}/{name}", chunk.dir))?;
        let is_metadata = channel_name == "metadata";
        let mut reg = lock(&self.reg);
        let handle = reg.next_stream_handle;
        reg.next_stream_handle += 1;
        let stream = Arc::new(Stream {
            handle,
            session: session.clone(),
            channel_name,
            path,
            tracefile_size_bytes,
            tracefile_count,
            is_metadata,
            st: Mutex::new(StreamState {
                dir,
                index_dir: None,
                file: Arc::new(file),
                file_index: 0,
                file_bytes: 0,
                wrapped: false,
                index_file: None,
                in_flight: None,
                pending: BTreeMap::new(),
                last_data_seq: None,
                close_at: None,
                closed: false,
                checked: false,
                data_conn: None,
                data_conn_open: false,
                published: false,
                packets_received: 0,
                index_entries_written: 0,
                beacon: None,
                segments: VecDeque::new(),
                dropped_entries: 0,
            }),
        });
        reg.streams.insert(handle, stream.clone());
        drop(reg);
        lock(&session.st).streams.push(stream.clone());
        Ok(stream)
    }

    /// Drops a finalized stream from the registry and its session; drops the session once its
    /// control connection is gone and no stream is left.
    fn forget(&self, stream: &Arc<Stream>) {
        let (packets, entries, _) = stream.progress();
        crate::log_info!(
            "session {} stream {} {}/{} closed: {packets} packets, {entries} index entries",
            stream.session.id,
            stream.handle,
            stream.path,
            stream.channel_name
        );
        let mut reg = lock(&self.reg);
        reg.streams.remove(&stream.handle);
        let session = &stream.session;
        let mut st = lock(&session.st);
        st.streams.retain(|s| s.handle != stream.handle);
        if !st.control_open && st.streams.is_empty() {
            drop(st);
            reg.sessions.remove(&session.id);
        }
    }

    /// Finalizes `stream` if its close condition holds.
    pub fn close_if_done(&self, stream: &Arc<Stream>) {
        let control_open = lock(&stream.session.st).control_open;
        if stream.try_finalize(control_open) {
            self.forget(stream);
        }
    }

    /// The control connection of a session ended (EOF or error): each stream closes now, or
    /// once its data connection has delivered what CLOSE_STREAM announced, or ended.
    pub fn control_gone(&self, session: &Arc<Session>) {
        let streams = {
            let mut st = lock(&session.st);
            st.control_open = false;
            st.streams.clone()
        };
        for s in &streams {
            self.close_if_done(s);
        }
        let mut reg = lock(&self.reg);
        if lock(&session.st).streams.is_empty() {
            reg.sessions.remove(&session.id);
        }
        crate::log_info!(
            "session {} control connection gone; {} sessions and {} streams open",
            session.id,
            reg.sessions.len(),
            reg.streams.len()
        );
    }

    /// A data connection ended: the streams it fed close when closing was asked for or their
    /// session's control connection is gone.
    pub fn data_gone(&self, conn: u64, handles: &[u64]) {
        for h in handles {
            if let Some(s) = self.stream(*h) {
                if s.data_conn() == Some(conn) {
                    lock(&s.st).data_conn_open = false;
                    self.close_if_done(&s);
                }
            }
        }
    }
}

impl Session {
    pub fn current_chunk(&self) -> Option<Chunk> {
        lock(&self.st).chunk.clone()
    }

    /// CREATE_TRACE_CHUNK. The first chunk without a name is the session directory; a named
    /// chunk (snapshot) is `SESSION/NAME`. A later unnamed chunk is a session rotation.
    pub fn create_chunk(&self, store: &Store, id: u64, name: Option<&str>) -> Result<()> {
        let mut st = lock(&self.st);
        let dir = match name {
            Some(n) => format!("{}/{n}", self.dir),
            None if st.chunks_seen == 0 => self.dir.clone(),
            None => bail!(
                "session rotation (trace chunk {id} after chunk {:?}) is not supported by rttng-relayd yet",
                st.chunk.as_ref().map(|c| c.id)
            ),
        };
        if st.chunk.is_some() && st.streams.iter().any(|s| !s.is_closed()) {
            bail!("trace chunk {id} created while the streams of the current chunk are open");
        }
        let fd = store
            .make_dirs(&dir)
            .with_context(|| format!("cannot create chunk directory {dir}"))?;
        st.chunk = Some(Chunk {
            id,
            dir,
            fd: Arc::new(fd),
        });
        st.chunks_seen += 1;
        Ok(())
    }

    /// CLOSE_TRACE_CHUNK: returns the chunk's path relative to the output root.
    pub fn close_chunk(&self, id: u64) -> Result<String> {
        let mut st = lock(&self.st);
        match &st.chunk {
            Some(c) if c.id == id => {
                let dir = c.dir.clone();
                st.chunk = None;
                Ok(dir)
            }
            _ => bail!("trace chunk {id} is not this session's current chunk"),
        }
    }

    /// BEGIN_DATA_PENDING.
    pub fn begin_data_pending(&self) {
        for s in lock(&self.st).streams.iter() {
            lock(&s.st).checked = false;
        }
    }

    /// END_DATA_PENDING: whether a stream not checked since BEGIN is open or still waits.
    pub fn end_data_pending(&self) -> bool {
        lock(&self.st).streams.iter().any(|s| {
            let st = lock(&s.st);
            !st.checked
                && (!st.closed
                    || match (st.close_at, st.last_data_seq) {
                        (Some(NO_SEQ), _) | (None, _) => false,
                        (Some(_), None) => true,
                        (Some(c), Some(l)) => !seq_ge(l, c),
                    })
        })
    }

    /// STREAMS_SENT: the streams added so far become visible to live viewers.
    pub fn publish_streams(&self) {
        for s in lock(&self.st).streams.iter() {
            lock(&s.st).published = true;
        }
    }
}

impl Session {
    /// The session's open streams, and whether its control connection is still open (for the
    /// live port).
    pub fn live_streams(&self) -> (Vec<Arc<Stream>>, bool) {
        let st = lock(&self.st);
        (st.streams.clone(), st.control_open)
    }
}
