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

impl Stream {
    pub fn is_closed(&self) -> bool {
        lock(&self.st).closed
    }

    pub fn data_conn(&self) -> Option<u64> {
        lock(&self.st).data_conn
    }

    /// Starts a data-port packet of `total_bytes` (data and padding): rotates the tracefile if
    /// it would grow past `tracefile_size`, opens the index file of a new tracefile, and
    /// reserves the packet's place.
    pub fn begin_packet(&self, conn: u64, total_bytes: u64) -> Result<Reservation> {
        let mut st = lock(&self.st);
        if st.closed {
            bail!("stream {} is closed", self.handle);
        }
        if st.in_flight.is_some() {
            bail!("stream {} is already receiving a packet", self.handle);
        }
        if let Some(other) = st.data_conn.filter(|&c| c != conn) {
            bail!(
                "stream {} is fed by data connection {other}, not this one",
                self.handle
            );
        }
        st.data_conn = Some(conn);
        st.data_conn_open = true;
        if self.tracefile_size_bytes > 0
            && st.file_bytes.saturating_add(total_bytes) > self.tracefile_size_bytes
        {
            let next = if self.tracefile_count > 0 {
                (st.file_index + 1) % self.tracefile_count
            } else {
                st.file_index + 1
            };
            if next < st.file_index {
                st.wrapped = true;
            }
            st.file_index = next;
            let name = store::data_file_name(&self.channel_name, self.tracefile_size_bytes, next);
            let file = store::create_file(&st.dir, &name, st.wrapped)
                .with_context(|| format!("cannot create tracefile {name}"))?;
            st.file = Arc::new(file);
            st.file_bytes = 0;
            st.index_file = None;
        }
        if !self.is_metadata && !self.session.spec.snapshot && st.index_file.is_none() {
            let f = Arc::new(self.create_index_file(&mut st)?);
            st.index_file = Some(f.clone());
            let data = st.file.clone();
            st.segments.push_back(Segment {
                data,
                index: f,
                entries: 0,
            });
            // A reused tracefile replaces the oldest one.
            let keep = match usize::try_from(self.tracefile_count) {
                Ok(n) if n > 0 => n.min(MAX_LIVE_SEGMENTS),
                _ => MAX_LIVE_SEGMENTS,
            };
            while st.segments.len() > keep {
                if let Some(old) = st.segments.pop_front() {
                    st.dropped_entries += old.entries;
                }
            }
        }
        Ok(self.reserve(&mut st, total_bytes))
    }

    fn create_index_file(&self, st: &mut StreamState) -> Result<File> {
        if st.index_dir.is_none() {
            crate::sys::mkdir_in(&st.dir, store::INDEX_DIR, 0o770)
                .context("cannot create the index directory")?;
            st.index_dir = Some(
                crate::sys::open_dir_beneath(&st.dir, store::INDEX_DIR)
                    .context("cannot open the index directory")?,
            );
        }
        let data =
            store::data_file_name(&self.channel_name, self.tracefile_size_bytes, st.file_index);
        let name = store::index_file_name(&data);
        let dir = st.index_dir.as_ref().expect("created above");
        let mut f = store::create_file(dir, &name, st.wrapped)
            .with_context(|| format!("cannot create index file {name}"))?;
        f.write_all(&encode_index(&[], IndexVersion::V1_1))
            .with_context(|| format!("cannot write index file {name}"))?;
        Ok(f)
    }

    fn reserve(&self, st: &mut StreamState, total_bytes: u64) -> Reservation {
        let offset = st.file_bytes;
        st.file_bytes += total_bytes;
        st.in_flight = Some(InFlight {
            offset,
            total_bytes,
            file: st.file.clone(),
        });
        Reservation {
            file: st.file.clone(),
            offset,
        }
    }

    /// Starts a SEND_METADATA message of `total_bytes`.
    pub fn begin_metadata(&self, total_bytes: u64) -> Result<Reservation> {
        let mut st = lock(&self.st);
        if !self.is_metadata {
            bail!("stream {} is not a metadata stream", self.handle);
        }
        if st.closed {
            bail!("stream {} is closed", self.handle);
        }
        if st.in_flight.is_some() {
            bail!("stream {} is already receiving", self.handle);
        }
        Ok(self.reserve(&mut st, total_bytes))
    }

    /// The reserved packet or message did not arrive whole: cut the file back to where it
    /// began, so that the stored stream ends with the last whole packet.
    pub fn abort_write(&self) {
        let mut st = lock(&self.st);
        if let Some(f) = st.in_flight.take() {
            if Arc::ptr_eq(&f.file, &st.file) && st.file_bytes == f.offset + f.total_bytes {
                st.file_bytes = f.offset;
                let _ = f.file.set_len(f.offset);
            }
        }
    }

    /// The metadata message arrived whole.
    pub fn complete_metadata(&self) {
        lock(&self.st).in_flight = None;
    }

    /// The data packet `seq` arrived whole: pair it with its index.
    pub fn complete_packet(&self, seq: u64) -> Result<()> {
        let mut st = lock(&self.st);
        let f = st
            .in_flight
            .take()
            .ok_or_else(|| anyhow!("stream {}: no packet in flight", self.handle))?;
        st.packets_received += 1;
        st.last_data_seq = Some(seq);
        if let Some(index_file) = st.index_file.clone() {
            self.halves(&mut st, seq)?.data = Some((index_file, f.offset));
            self.flush_index(&mut st, seq)?;
        }
        Ok(())
    }

    fn halves<'a>(&self, st: &'a mut StreamState, seq: u64) -> Result<&'a mut Halves> {
        if !st.pending.contains_key(&seq) && st.pending.len() >= MAX_PENDING_HALVES_PER_STREAM {
            bail!(
                "stream {}: more than {MAX_PENDING_HALVES_PER_STREAM} packets wait for their data or index",
                self.handle
            );
        }
        Ok(st.pending.entry(seq).or_default())
    }

    /// SEND_INDEX. A live beacon (no packet) writes nothing.
    pub fn add_index(&self, idx: &SendIndex) -> Result<()> {
        let mut st = lock(&self.st);
        if st.closed {
            bail!("stream {} is closed", self.handle);
        }
        if idx.is_beacon() {
            st.beacon = Some((idx.timestamp_end, idx.stream_class_id));
            return Ok(());
        }
        st.beacon = None;
        if self.is_metadata || self.session.spec.snapshot {
            bail!("stream {} takes no index", self.handle);
        }
        self.halves(&mut st, idx.net_seq_num)?.index = Some(*idx);
        self.flush_index(&mut st, idx.net_seq_num)
    }

    fn flush_index(&self, st: &mut StreamState, seq: u64) -> Result<()> {
        let Some(h) = st.pending.get(&seq) else {
            return Ok(());
        };
        let (Some((file, offset)), Some(i)) = (h.data.clone(), h.index) else {
            return Ok(());
        };
        let file = &file;
        let (offset, i) = (&offset, &i);
        let entry = IndexEntry {
            offset_bytes: *offset,
            packet_size_bits: i.packet_size_bits,
            content_size_bits: i.content_size_bits,
            timestamp_begin: i.timestamp_begin,
            timestamp_end: i.timestamp_end,
            events_discarded: i.events_discarded,
            stream_id: i.stream_class_id,
            stream_instance_id: Some(i.stream_instance_id),
            packet_seq_num: Some(i.packet_seq_num),
        };
        let bytes = encode_index(&[entry], IndexVersion::V1_1);
        let mut f: &File = file;
        f.write_all(&bytes[INDEX_HEADER_BYTES..])
            .with_context(|| format!("stream {}: cannot write its index", self.handle))?;
        // Entries complete in sequence order (data and indexes each arrive in order), so the
        // entries of a tracefile follow those of the tracefiles before it.
        match st
            .segments
            .iter_mut()
            .rev()
            .find(|s| Arc::ptr_eq(&s.index, file))
        {
            Some(s) => s.entries += 1,
            None => st.dropped_entries += 1,
        }
        st.pending.remove(&seq);
        st.index_entries_written += 1;
        Ok(())
    }

    /// DATA_PENDING: whether data up to `last_seq`, or the index of a packet received, is
    /// still missing.
    pub fn data_pending(&self, last_seq: u64) -> bool {
        let mut st = lock(&self.st);
        st.checked = true;
        if st.closed {
            return false;
        }
        if st.in_flight.is_some() {
            return true;
        }
        let data_missing = match (last_seq, st.last_data_seq) {
            (NO_SEQ, _) => false,
            (_, None) => true,
            (want, Some(have)) => !seq_ge(have, want),
        };
        data_missing
            || st
                .pending
                .range(..=last_seq)
                .any(|(_, h)| h.data.is_some() && h.index.is_none())
    }

    /// QUIESCENT_CONTROL.
    pub fn mark_checked(&self) {
        lock(&self.st).checked = true;
    }

    /// CLOSE_STREAM: close once data up to `last_seq` has arrived.
    pub fn request_close(&self, last_seq: u64) {
        lock(&self.st).close_at = Some(last_seq);
    }

    /// RESET_METADATA: the metadata starts again from an empty file.
    pub fn reset_metadata(&self) -> Result<()> {
        let mut st = lock(&self.st);
        if !self.is_metadata || self.session.spec.live_timer_us > 0 {
            bail!("stream {} cannot reset its metadata", self.handle);
        }
        st.file.set_len(0).context("cannot truncate the metadata")?;
        st.file_bytes = 0;
        Ok(())
    }

    /// Closes the stream if nothing more is expected: the data CLOSE_STREAM announced has
    /// arrived; or its data connection ended and closing was asked or the control connection is
    /// gone; or it never had a data connection and the control connection is gone (a close
    /// that overtook its data waits for the data while the control connection lives).
    /// Returns whether it closed now.
    fn try_finalize(&self, control_open: bool) -> bool {
        let mut st = lock(&self.st);
        if st.closed || st.in_flight.is_some() {
            return false;
        }
        let data_complete = match (st.close_at, st.last_data_seq) {
            (Some(NO_SEQ), _) => true,
            (Some(_), None) => false,
            (Some(c), Some(l)) => seq_ge(l, c),
            (None, _) => false,
        };
        let data_conn_ended = st.data_conn.is_some() && !st.data_conn_open;
        let done = data_complete
            || (data_conn_ended && (st.close_at.is_some() || !control_open))
            || (st.data_conn.is_none() && !control_open);
        if done {
            st.closed = true;
            st.pending.clear();
            st.index_file = None;
        }
        done
    }

    /// What the live port reads of this stream (see `crate::live`).
    pub fn live_snapshot(&self) -> LiveSnapshot {
        let st = lock(&self.st);
        LiveSnapshot {
            data_file: st.file.clone(),
            index_entries: st.index_entries_written,
            // Metadata in flight is not whole yet.
            complete_bytes: st.in_flight.as_ref().map_or(st.file_bytes, |f| f.offset),
            published: st.published,
            closed: st.closed,
            beacon: st.beacon,
        }
    }

    /// Where index entry `n` (counted from the stream's first) is, for the live port.
    pub fn live_entry(&self, n: u64) -> LiveEntry {
        let st = lock(&self.st);
        if n < st.dropped_entries {
            return LiveEntry::Gone {
                next: st.dropped_entries,
            };
        }
        let mut first = st.dropped_entries;
        for s in &st.segments {
            if n < first + s.entries {
                return LiveEntry::At {
                    index: s.index.clone(),
                    local: n - first,
                    data: s.data.clone(),
                };
            }
            first += s.entries;
        }
        LiveEntry::Missing
    }

    /// (packets received, index entries written, published), for logs, tests and live.
    pub fn progress(&self) -> (u64, u64, bool) {
        let st = lock(&self.st);
        (st.packets_received, st.index_entries_written, st.published)
    }
}
