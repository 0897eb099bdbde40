//! A [`LiveRelay`] over trace directories on disk, possibly still being written: each directory
//! holding a `metadata` file is a trace, the other regular files beside it are its data streams,
//! and a stream's index entries come from its complete packets, found by decoding each packet's
//! header and context with `rttng_ctf` as the file grows. A session is closed when its owner
//! says so ([`DirSession::closed`]).
//!
//! What it deliberately lacks: live beacons (a quiet stream holds viewers back until it has a
//! packet), and tracefile rotation. It serves finished traces and traces written locally; the
//! relay daemon serves from its own state.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rttng_ctf::decode::StreamDecoder;
use rttng_ctf::ir::Metadata;

use crate::server::{IndexState, LiveRelay, RelayIndex, RelaySession, RelayStream};

/// Most streams served from one directory tree.
pub const MAX_DIR_STREAMS: usize = 4096;
/// How deep trace directories are looked for.
pub const MAX_DIR_DEPTH: u32 = 8;
/// Largest metadata file parsed.
pub const MAX_DIR_METADATA_BYTES: u64 = 64 << 20;

/// One session: the traces under `root`.
pub struct DirSession {
    pub info: RelaySession,
    pub root: PathBuf,
    /// Set by the owner once nothing more will be written.
    pub closed: Arc<AtomicBool>,
}

struct StreamEntry {
    session: u64,
    path: PathBuf,
    trace_dir: PathBuf,
    metadata: bool,
    index: Vec<RelayIndex>,
    scanned_bytes: u64,
}

struct TraceMeta {
    len: u64,
    md: Arc<Metadata>,
}

#[derive(Default)]
struct State {
    ids: HashMap<PathBuf, u64>,
    streams: HashMap<u64, StreamEntry>,
    metadata: HashMap<PathBuf, TraceMeta>,
}

pub struct DirRelay {
    sessions: Vec<DirSession>,
    state: Mutex<State>,
}

fn trace_dirs(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    if dir.join("metadata").is_file() {
        out.push(dir.to_owned());
        return;
    }
    if depth >= MAX_DIR_DEPTH {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    for d in subdirs {
        trace_dirs(&d, depth + 1, out);
    }
}

impl DirRelay {
    pub fn new(sessions: Vec<DirSession>) -> DirRelay {
        DirRelay {
            sessions,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The prepared metadata of `trace_dir` as the file is now (reparsed when it grew); `None`
    /// while it does not parse (e.g. half written).
    fn metadata_of(st: &mut State, trace_dir: &Path) -> Option<Arc<Metadata>> {
        let path = trace_dir.join("metadata");
        let len = std::fs::metadata(&path).ok()?.len();
        if let Some(m) = st.metadata.get(trace_dir) {
            if m.len == len {
                return Some(m.md.clone());
            }
        }
        if len > MAX_DIR_METADATA_BYTES {
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        let text = rttng_ctf::metadata_stream::decode_metadata_stream(&bytes).ok()?;
        let mut md = rttng_ctf::tsdl::parse_metadata(&text.text).ok()?;
        rttng_ctf::roles::prepare(&mut md).ok()?;
        let md = Arc::new(md);
        st.metadata.insert(
            trace_dir.to_owned(),
            TraceMeta {
                len,
                md: md.clone(),
            },
        );
        Some(md)
    }

    /// Finds the complete packets added to stream `id`'s file since the last look.
    fn rescan(st: &mut State, id: u64) {
        let Some(e) = st.streams.get(&id) else {
            return;
        };
        if e.metadata {
            return;
        }
        let (path, trace_dir, from) = (e.path.clone(), e.trace_dir.clone(), e.scanned_bytes);
        let Some(md) = Self::metadata_of(st, &trace_dir) else {
            return;
        };
        // Only what was added since the last look is read.
        let mut data = Vec::new();
        let read = std::fs::File::open(&path).and_then(|mut f| {
            use std::io::{Read, Seek};
            f.seek(io::SeekFrom::Start(from))?;
            f.read_to_end(&mut data)
        });
        if read.is_err() {
            return;
        }
        let mut d = StreamDecoder::new(&md);
        let mut at = 0usize;
        let mut found = Vec::new();
        while at < data.len() {
            let Ok(info) = d.begin_packet(&data[at..], from + at as u64) else {
                break; // incomplete (or damaged): look again later
            };
            let bytes = (info.packet_bits / 8) as usize;
            found.push(RelayIndex {
                offset_bytes: from + at as u64,
                packet_size_bits: info.packet_bits,
                content_size_bits: info.content_bits,
                timestamp_begin: info.timestamp_begin.unwrap_or(0),
                timestamp_end: info.timestamp_end.unwrap_or(0),
                events_discarded: info.events_discarded.unwrap_or(0),
                stream_class_id: info.stream_class_id,
            });
            at += bytes;
        }
        if let Some(e) = st.streams.get_mut(&id) {
            e.index.extend(found);
            e.scanned_bytes = from + at as u64;
        }
    }

    fn session(&self, id: u64) -> Option<&DirSession> {
        self.sessions.iter().find(|s| s.info.id == id)
    }

    fn is_closed(&self, session: u64) -> bool {
        self.session(session)
            .is_some_and(|s| s.closed.load(Ordering::Acquire))
    }
}

impl LiveRelay for DirRelay {
    fn sessions(&self) -> Vec<RelaySession> {
        self.sessions.iter().map(|s| s.info.clone()).collect()
    }

    fn streams(&self, session: u64) -> Option<(Vec<RelayStream>, bool)> {
        let s = self.session(session)?;
        // Read the flag first: what is on disk then is all there will be.
        let closed = s.closed.load(Ordering::Acquire);
        let mut dirs = Vec::new();
        trace_dirs(&s.root, 0, &mut dirs);
        let mut st = self.lock();
        let mut out = Vec::new();
        for dir in dirs {
            if Self::metadata_of(&mut st, &dir).is_none() {
                continue;
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| !n.starts_with('.'))
                        })
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            // A trace is announced with its data streams, as a producer's STREAMS_SENT does:
            // babeltrace2 stops asking for new streams once it has any, metadata included.
            if !files
                .iter()
                .any(|f| f.file_name().is_some_and(|n| n != "metadata"))
            {
                continue;
            }
            let rel = dir
                .strip_prefix(&s.root)
                .unwrap_or(Path::new(""))
                .to_string_lossy()
                .into_owned();
            let mut trace_id = None;
            for f in files {
                let metadata = f.file_name().is_some_and(|n| n == "metadata");
                let next = st.ids.len() as u64 + 1;
                if !st.ids.contains_key(&f) && st.ids.len() >= MAX_DIR_STREAMS {
                    continue;
                }
                let id = *st.ids.entry(f.clone()).or_insert(next);
                st.streams.entry(id).or_insert_with(|| StreamEntry {
                    session,
                    path: f.clone(),
                    trace_dir: dir.clone(),
                    metadata,
                    index: Vec::new(),
                    scanned_bytes: 0,
                });
                let meta_id = *st.ids.entry(dir.join("metadata")).or_insert(next + 1);
                trace_id.get_or_insert(meta_id);
                out.push(RelayStream {
                    id,
                    ctf_trace_id: meta_id,
                    metadata,
                    path: rel.clone(),
                    channel: f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                });
            }
        }
        Some((out, closed))
    }

    fn index_count(&self, stream: u64) -> u64 {
        let mut st = self.lock();
        Self::rescan(&mut st, stream);
        st.streams.get(&stream).map_or(0, |e| e.index.len() as u64)
    }

    fn index(&self, stream: u64, n: u64) -> IndexState {
        let session = match self.lock().streams.get(&stream) {
            Some(e) => e.session,
            None => return IndexState::Closed,
        };
        let closed = self.is_closed(session);
        let mut st = self.lock();
        Self::rescan(&mut st, stream);
        match st
            .streams
            .get(&stream)
            .and_then(|e| e.index.get(n as usize))
        {
            Some(i) => IndexState::Entry(*i),
            None if closed => IndexState::Closed,
            None => IndexState::Wait { beacon: None },
        }
    }

    /// A directory's streams do not rotate: one file each, whatever the entry.
    fn read(&self, stream: u64, _entry: Option<u64>, offset: u64, len: u32) -> io::Result<Vec<u8>> {
        let path = self
            .lock()
            .streams
            .get(&stream)
            .map(|e| e.path.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown stream"))?;
        let f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn metadata_len(&self, stream: u64) -> Option<(u64, bool)> {
        let (session, path) = {
            let st = self.lock();
            let e = st.streams.get(&stream).filter(|e| e.metadata)?;
            (e.session, e.path.clone())
        };
        let closed = self.is_closed(session);
        // Only whole metadata packets (LTTng writes it packetized), and only once they parse
        // together: a viewer's batch must end on a complete declaration.
        let mut st = self.lock();
        let trace_dir = path.parent()?.to_owned();
        Self::metadata_of(&mut st, &trace_dir)?;
        let len = st.metadata.get(&trace_dir)?.len;
        Some((len, closed))
    }

    fn read_metadata(&self, stream: u64, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let path = self
            .lock()
            .streams
            .get(&stream)
            .map(|e| e.path.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown stream"))?;
        let f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}
