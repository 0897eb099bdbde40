//! Reads CTF traces from disk the way babeltrace2's `source.ctf.fs` does, and merges them.
//!
//! [`TraceSet::open`] finds every directory holding a `metadata` file under the given paths,
//! parses its metadata, maps its data stream files and groups the files of one stream (tracefile
//! rotation). [`TraceSet::for_each_message`] then walks all streams of all traces in timestamp
//! order, handing out decoded events and discarded-event/packet reports.
//!
//! Memory stays flat: files are memory-mapped and pages behind the read position are released,
//! so a trace larger than RAM reads in constant memory. Decoding itself is `rttng_ctf`'s; this
//! crate adds only files, grouping and ordering.

mod discover;
pub mod live;
mod loss;
mod mapped;
mod merge;
mod pipeline;

use std::fmt;
use std::path::PathBuf;

pub use discover::{DataFile, Stream, Trace};
pub use merge::{DiscardKind, Discarded, Message};
pub use pipeline::BatchView;

/// Why a trace cannot be read. Each variant names the file; decode errors carry the byte offset
/// and metadata errors the line.
#[derive(Debug)]
pub enum ReadError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    NoTrace {
        path: PathBuf,
    },
    MetadataStream {
        path: PathBuf,
        source: rttng_ctf::metadata_stream::MetadataStreamError,
    },
    Metadata {
        path: PathBuf,
        source: rttng_ctf::tsdl::MetadataError,
    },
    Prepare {
        path: PathBuf,
        source: rttng_ctf::roles::PrepareError,
    },
    Decode {
        path: PathBuf,
        source: rttng_ctf::decode::DecodeError,
    },
    /// A stream's time goes back (babeltrace2's muxer refuses it too).
    TimeGoesBack {
        path: PathBuf,
        /// Byte offset of the packet in its file.
        packet_offset: u64,
        what: &'static str,
        ns: i64,
        previous_ns: i64,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::NoTrace { path } => {
                write!(
                    f,
                    "{}: no CTF trace found (no directory holding a `metadata` file)",
                    path.display()
                )
            }
            ReadError::MetadataStream { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::Metadata { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::Prepare { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::Decode { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::TimeGoesBack {
                path,
                packet_offset,
                what,
                ns,
                previous_ns,
            } => write!(
                f,
                "{}: packet at byte {packet_offset}: {what} ({ns} ns from origin) is before the \
                 stream's previous message ({previous_ns} ns): time goes back in this stream",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// All traces found under the paths given to [`TraceSet::open`].
pub struct TraceSet {
    pub traces: Vec<Trace>,
}

impl TraceSet {
    /// Finds and opens every trace under `paths`. An error in any trace fails the whole set, as
    /// babeltrace2 does.
    pub fn open(paths: &[PathBuf]) -> Result<TraceSet, ReadError> {
        let mut traces = Vec::new();
        for p in paths {
            let found = discover::find_trace_dirs(p)?;
            if found.is_empty() {
                return Err(ReadError::NoTrace { path: p.clone() });
            }
            for dir in found {
                traces.push(Trace::open(p, &dir)?);
            }
        }
        Ok(TraceSet { traces })
    }

    /// Every message of every stream, events in timestamp order. `f` returns `false` to stop.
    pub fn for_each_message(
        &self,
        f: &mut dyn FnMut(&Message<'_>) -> bool,
    ) -> Result<(), ReadError> {
        merge::run(self, f)
    }

    /// [`Self::for_each_message`] with decoding and merging on a second thread, so that the
    /// sink's work (formatting, writing) overlaps with decoding. Same messages, same order.
    pub fn for_each_message_pipelined(
        &self,
        f: &mut dyn FnMut(&Message<'_>) -> bool,
    ) -> Result<(), ReadError> {
        pipeline::run(self, f)
    }

    /// Decoding on one thread and `work` on batches of messages on `workers` threads; `emit`
    /// receives the results on the calling thread in the messages' order (see
    /// [`BatchView::previous_clock`] for what a batch needs from the one before it).
    pub fn for_each_batch_parallel<W, O: Send>(
        &self,
        workers: usize,
        init: &(dyn Fn() -> W + Sync),
        work: &(dyn Fn(&mut W, &BatchView<'_, '_>) -> O + Sync),
        emit: &mut dyn FnMut(O) -> bool,
    ) -> Result<(), ReadError> {
        pipeline::run_parallel(self, workers, init, work, emit)
    }

    /// Counts events per event class name, decoding every event, with streams decoded in
    /// parallel (order does not matter for counting). Returns (name, count) sorted by name.
    pub fn count_events(&self) -> Result<Vec<(String, u64)>, ReadError> {
        merge::count(self)
    }
}
