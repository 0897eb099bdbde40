//! The live port's view of the relay: `rttng_live::server::LiveRelay` over `state::Relay`.
//!
//! Sessions are the registered relay sessions; a session's streams are those its producer
//! announced (STREAMS_SENT); the session is closed once its control connection is gone. Index
//! entries are read back from each stream's index files (the relay writes an entry once it has
//! both the packet and its SEND_INDEX, so an entry always describes bytes already on disk),
//! packets and metadata from the stream's files, beacons from the latest SEND_INDEX without a
//! packet. Streams are kept here once seen, so viewers finish reading a stream the relay has
//! already closed and forgotten.
//!
//! Tracefile rotation (`--tracefile-size`/`--tracefile-count`): entries are numbered across
//! the stream's tracefiles (`Stream::live_entry` says which index file and tracefile hold
//! entry n), and a packet is read from the tracefile of the entry the viewer was last given,
//! as lttng-relayd follows a viewer stream from file to file. A viewer behind a reused
//! tracefile skips to the oldest entry still there.
//!
//! Not here: the viewer protocol (`rttng_live::server`).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

use rttng_ctf::index::{decode_index, INDEX_HEADER_BYTES};
use rttng_live::server::{IndexState, LiveRelay, RelayIndex, RelaySession, RelayStream};

use crate::state::{LiveEntry, Relay, Session, Stream};

/// Largest index entry read (lttng's 1.1 entries are 72 bytes).
const MAX_INDEX_ENTRY_BYTES: usize = 4096;

#[derive(Clone)]
struct Known {
    stream: Arc<Stream>,
}

#[derive(Default)]
struct Cache {
    sessions: HashMap<u64, Arc<Session>>,
    streams: HashMap<u64, Known>,
    /// (session, trace path) → the CTF trace id viewers see.
    trace_ids: HashMap<(u64, String), u64>,
}

pub struct RelayLive {
    relay: Arc<Relay>,
    cache: Mutex<Cache>,
}

impl RelayLive {
    pub fn new(relay: Arc<Relay>) -> RelayLive {
        RelayLive {
            relay,
            cache: Mutex::new(Cache::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known(&self, handle: u64) -> Option<Known> {
        self.lock().streams.get(&handle).cloned()
    }
}

fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

impl LiveRelay for RelayLive {
    fn sessions(&self) -> Vec<RelaySession> {
        let sessions = self.relay.live_sessions();
        let mut c = self.lock();
        sessions
            .into_iter()
            .filter(|s| !s.spec.snapshot)
            .map(|s| {
                c.sessions.insert(s.id, s.clone());
                RelaySession {
                    id: s.id,
                    hostname: s.spec.hostname.clone(),
                    name: s.spec.name.clone(),
                    live_timer_us: s.spec.live_timer_us,
                }
            })
            .collect()
    }

    fn streams(&self, session: u64) -> Option<(Vec<RelayStream>, bool)> {
        let s = self.lock().sessions.get(&session).cloned()?;
        let (streams, control_open) = s.live_streams();
        let mut c = self.lock();
        let mut out = Vec::new();
        for st in streams {
            let snap = st.live_snapshot();
            if !snap.published {
                continue;
            }
            let next_id = st.handle;
            let trace_id = *c
                .trace_ids
                .entry((session, st.path.clone()))
                .or_insert(next_id);
            c.streams
                .entry(st.handle)
                .or_insert_with(|| Known { stream: st.clone() });
            out.push(RelayStream {
                id: st.handle,
                ctf_trace_id: trace_id,
                metadata: st.is_metadata,
                path: st.path.clone(),
                channel: st.channel_name.clone(),
            });
        }
        Some((out, !control_open))
    }

    fn index_count(&self, stream: u64) -> u64 {
        self.known(stream)
            .map_or(0, |k| k.stream.live_snapshot().index_entries)
    }

    fn index(&self, stream: u64, n: u64) -> IndexState {
        let Some(k) = self.known(stream) else {
            return IndexState::Closed;
        };
        let snap = k.stream.live_snapshot();
        if n >= snap.index_entries {
            return if snap.closed {
                IndexState::Closed
            } else {
                IndexState::Wait {
                    beacon: snap.beacon,
                }
            };
        }
        let (f, local) = match k.stream.live_entry(n) {
            LiveEntry::At { index, local, .. } => (index, local),
            LiveEntry::Gone { next } => return IndexState::Gone { next },
            LiveEntry::Missing => return IndexState::Wait { beacon: None },
        };
        // The header gives the entry size (every index file of a stream has the same).
        let Ok(header) = read_at(&f, 0, INDEX_HEADER_BYTES) else {
            return IndexState::Wait { beacon: None };
        };
        let size = u32::from_be_bytes([header[12], header[13], header[14], header[15]]) as usize;
        if size == 0 || size > MAX_INDEX_ENTRY_BYTES {
            return IndexState::Closed;
        }
        let Ok(entry) = read_at(&f, INDEX_HEADER_BYTES as u64 + local * size as u64, size) else {
            return IndexState::Wait { beacon: None };
        };
        let mut bytes = header;
        bytes.extend_from_slice(&entry);
        match decode_index(&bytes, None)
            .ok()
            .and_then(|i| i.entries.first().copied())
        {
            Some(e) => IndexState::Entry(RelayIndex {
                offset_bytes: e.offset_bytes,
                packet_size_bits: e.packet_size_bits,
                content_size_bits: e.content_size_bits,
                timestamp_begin: e.timestamp_begin,
                timestamp_end: e.timestamp_end,
                events_discarded: e.events_discarded,
                stream_class_id: e.stream_id,
            }),
            None => IndexState::Closed,
        }
    }

    fn read(&self, stream: u64, entry: Option<u64>, offset: u64, len: u32) -> io::Result<Vec<u8>> {
        let s = self
            .known(stream)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown stream"))?
            .stream;
        // The packet is in the tracefile of the entry the viewer was given.
        let file = match entry.map(|n| s.live_entry(n)) {
            Some(LiveEntry::At { data, .. }) => data,
            Some(LiveEntry::Gone { .. }) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the tracefile was reused",
                ))
            }
            Some(LiveEntry::Missing) | None => s.live_snapshot().data_file,
        };
        read_at(&file, offset, len as usize)
    }

    fn metadata_len(&self, stream: u64) -> Option<(u64, bool)> {
        let s = self.known(stream)?.stream;
        if !s.is_metadata {
            return None;
        }
        let snap = s.live_snapshot();
        Some((snap.complete_bytes, snap.closed))
    }

    fn read_metadata(&self, stream: u64, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let s = self
            .known(stream)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown stream"))?
            .stream;
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "metadata read too long"))?;
        read_at(&s.live_snapshot().data_file, offset, len)
    }
}
