//! Finding traces and their streams on disk, as babeltrace2's `source.ctf.fs` does: a trace is a
//! directory holding a `metadata` file; its data streams are the other non-empty regular files
//! beside it whose names do not start with `.`; files with the same stream class and
//! `stream_instance_id` are one stream split by tracefile rotation.

use std::path::{Path, PathBuf};

use rttng_ctf::decode::StreamDecoder;
use rttng_ctf::ir::Metadata;

use crate::mapped::MappedFile;
use crate::ReadError;

/// Largest metadata file we read: far beyond any real trace's, small enough to hold in memory.
pub const MAX_METADATA_BYTES: u64 = 256 << 20;
/// How deep we look below a given path for trace directories.
pub const MAX_SEARCH_DEPTH: u32 = 32;

/// One data stream file.
pub struct DataFile {
    /// Absolute path, as babeltrace2 shows it in warnings.
    pub path: PathBuf,
    pub(crate) map: MappedFile,
    /// `timestamp_begin` of the first packet, to order rotated files.
    first_timestamp: Option<u64>,
    /// Packet boundaries (start byte, size in bytes) from `index/NAME.idx`, when that file is
    /// present and valid; babeltrace2 builds its packet list from it the same way, and scans
    /// the packet headers otherwise.
    pub(crate) indexed_packets: Option<Vec<(u64, u64)>>,
}

impl DataFile {
    pub fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }
}

/// One data stream: one or more files, in order.
pub struct Stream {
    pub stream_class_id: u64,
    /// `stream_instance_id`, or a number given in file order when the packets carry none; this
    /// is what babeltrace2 calls the stream ID.
    pub id: u64,
    pub files: Vec<DataFile>,
}

/// One trace: a metadata file and the streams beside it.
pub struct Trace {
    pub dir: PathBuf,
    /// babeltrace2's trace name: `HOSTNAME/RELATIVE/PATH` (either part may be absent).
    pub name: String,
    pub metadata: Metadata,
    pub streams: Vec<Stream>,
    /// Known tracer bugs babeltrace2 works around for this trace.
    pub(crate) quirks: Quirks,
}

/// The tracer bugs babeltrace2 2.0 works around, found from the trace's `env` (tracer name
/// and version), exactly as babeltrace2 decides it. Each relaxes one time check of the merge.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quirks {
    /// lttng-ust before 2.11 and some lttng-modules: a packet's last event may be after its
    /// `timestamp_end` (such an end then does not move the stream's time).
    pub(crate) lttng_event_after_packet: bool,
    /// barectf before 2.3.1: a packet's first event may be before its `timestamp_begin` (the
    /// packet beginning then takes the first event's time).
    pub(crate) barectf_event_before_packet: bool,
    /// Any lttng-ust or lttng-modules trace: a packet with a non-zero `timestamp_begin` and a
    /// zero `timestamp_end` was cut by a crash (its end does not move the stream's time).
    pub(crate) lttng_crash: bool,
}

impl Quirks {
    fn of(md: &Metadata) -> Quirks {
        let int = |key: &str| {
            md.env
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| match v {
                    rttng_ctf::ir::EnvValue::Int(i) => Some(*i),
                    rttng_ctf::ir::EnvValue::Str(_) => None,
                })
        };
        let (Some(name), Some(major)) = (md.env_str("tracer_name"), int("tracer_major")) else {
            return Quirks::default();
        };
        let minor = int("tracer_minor").unwrap_or(0);
        let patch = int("tracer_patch")
            .or_else(|| int("tracer_patchlevel"))
            .unwrap_or(0);
        let lttng_event_after_packet = match name {
            "lttng-ust" => major < 2 || (major == 2 && minor < 11),
            "lttng-modules" => {
                major < 2
                    || (major == 2
                        && (minor < 9 || (minor == 9 && patch < 13) || (minor == 10 && patch < 10)))
            }
            _ => false,
        };
        let barectf_event_before_packet = name == "barectf"
            && (major < 2 || (major == 2 && (minor < 3 || (minor == 3 && patch < 1))));
        Quirks {
            lttng_event_after_packet,
            barectf_event_before_packet,
            lttng_crash: name == "lttng-ust" || name == "lttng-modules",
        }
    }
}

pub fn find_trace_dirs(root: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let meta = std::fs::metadata(root).map_err(|source| ReadError::Io {
        path: root.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ReadError::NoTrace {
            path: root.to_owned(),
        });
    }
    let mut out = Vec::new();
    walk(root, 0, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), ReadError> {
    if dir.join("metadata").is_file() {
        out.push(dir.to_owned());
        return Ok(());
    }
    if depth >= MAX_SEARCH_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| ReadError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ReadError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let ft = entry.file_type().map_err(|source| ReadError::Io {
            path: entry.path(),
            source,
        })?;
        if ft.is_dir() {
            walk(&entry.path(), depth + 1, out)?;
        }
    }
    Ok(())
}

/// Reads and prepares the metadata of the trace in `dir`.
pub fn read_metadata(dir: &Path) -> Result<Metadata, ReadError> {
    use std::io::Read;
    let path = dir.join("metadata");
    let file = std::fs::File::open(&path).map_err(|source| ReadError::Io {
        path: path.clone(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
    if bytes.len() as u64 > MAX_METADATA_BYTES {
        return Err(ReadError::Io {
            path,
            source: std::io::Error::other(format!(
                "metadata larger than {MAX_METADATA_BYTES} bytes"
            )),
        });
    }
    let text = rttng_ctf::metadata_stream::decode_metadata_stream(&bytes).map_err(|source| {
        ReadError::MetadataStream {
            path: path.clone(),
            source,
        }
    })?;
    let mut md =
        rttng_ctf::tsdl::parse_metadata(&text.text).map_err(|source| ReadError::Metadata {
            path: path.clone(),
            source,
        })?;
    rttng_ctf::roles::prepare(&mut md).map_err(|source| ReadError::Prepare { path, source })?;
    Ok(md)
}

/// Largest index file we read (an entry is 72 bytes: this is millions of packets).
pub const MAX_INDEX_BYTES: u64 = 256 << 20;

/// Packet boundaries from the index of the data file `data_path`, if it has a valid one. An
/// invalid index is ignored, as babeltrace2 ignores it (with a warning in its log).
fn read_index(dir: &Path, data_path: &Path, data_bytes: u64) -> Option<Vec<(u64, u64)>> {
    let name = data_path.file_name()?.to_str()?;
    let path = dir.join("index").join(format!("{name}.idx"));
    let len = std::fs::metadata(&path).ok()?.len();
    if len > MAX_INDEX_BYTES {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    let index = rttng_ctf::index::decode_index(&bytes, Some(data_bytes)).ok()?;
    Some(
        index
            .entries
            .iter()
            .map(|e| (e.offset_bytes, e.packet_size_bits / 8))
            .collect(),
    )
}

/// Walks the packet headers and contexts of a file that has no valid index, as babeltrace2
/// does to build its packet list when it opens a trace: a packet that cannot be decoded, or
/// that runs past the end of the file, fails the whole trace before any event is read.
fn check_packet_bounds(
    decoder: &mut StreamDecoder<'_>,
    map: &MappedFile,
) -> Result<(), rttng_ctf::decode::DecodeError> {
    let data = map.bytes();
    let mut offset = 0usize;
    while offset < data.len() {
        let info = decoder.begin_packet(&data[offset..], offset as u64)?;
        // `begin_packet` refuses a zero packet size, so this always moves on.
        offset += (info.packet_bits / 8) as usize;
    }
    map.release_before(offset);
    Ok(())
}

impl Trace {
    /// Opens the trace in `dir`, found under the user-given path `root`.
    pub fn open(root: &Path, dir: &Path) -> Result<Trace, ReadError> {
        let metadata = read_metadata(dir)?;
        let rel = dir
            .strip_prefix(root)
            .unwrap_or(Path::new(""))
            .to_string_lossy()
            .into_owned();
        let name = match (metadata.env_str("hostname"), rel.is_empty()) {
            (Some(h), false) => format!("{h}/{rel}"),
            (Some(h), true) => h.to_owned(),
            (None, _) => rel,
        };
        let abs_dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let mut names: Vec<PathBuf> = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|source| ReadError::Io {
            path: dir.to_owned(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ReadError::Io {
                path: dir.to_owned(),
                source,
            })?;
            let fname = entry.file_name();
            let fname = fname.to_string_lossy();
            if fname == "metadata" || fname.starts_with('.') {
                continue;
            }
            let md = std::fs::metadata(entry.path()).map_err(|source| ReadError::Io {
                path: entry.path(),
                source,
            })?;
            if !md.is_file() || md.len() == 0 {
                continue;
            }
            names.push(abs_dir.join(&*fname));
        }
        names.sort();

        // Group files by (stream class, instance id); files without an instance id stand alone.
        let mut streams: Vec<(u64, Option<u64>, Vec<DataFile>)> = Vec::new();
        let mut decoder = StreamDecoder::new(&metadata);
        for path in names {
            let map = MappedFile::open(&path).map_err(|source| ReadError::Io {
                path: path.clone(),
                source,
            })?;
            let info = decoder
                .begin_packet(map.bytes(), 0)
                .map_err(|source| ReadError::Decode {
                    path: path.clone(),
                    source,
                })?
                .clone();
            let indexed_packets = read_index(dir, &path, map.bytes().len() as u64);
            if indexed_packets.is_none() {
                check_packet_bounds(&mut decoder, &map).map_err(|source| ReadError::Decode {
                    path: path.clone(),
                    source,
                })?;
            }
            let file = DataFile {
                path,
                map,
                first_timestamp: info.timestamp_begin,
                indexed_packets,
            };
            let key = (info.stream_class_id, info.stream_instance_id);
            match streams
                .iter_mut()
                .find(|(c, i, _)| key.1.is_some() && (*c, *i) == key)
            {
                Some((_, _, files)) => files.push(file),
                None => streams.push((key.0, key.1, vec![file])),
            }
        }
        let mut next_id = 0;
        let streams = streams
            .into_iter()
            .map(|(class_id, instance, mut files)| {
                files.sort_by_key(|f| f.first_timestamp);
                let id = instance.unwrap_or_else(|| {
                    next_id += 1;
                    next_id - 1
                });
                Stream {
                    stream_class_id: class_id,
                    id,
                    files,
                }
            })
            .collect();
        Ok(Trace {
            dir: dir.to_owned(),
            name,
            quirks: Quirks::of(&metadata),
            metadata,
            streams,
        })
    }
}
