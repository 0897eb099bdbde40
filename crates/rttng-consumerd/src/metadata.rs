//! Appending metadata packets to a trace's `metadata` file, without ever leaving a part of
//! one: a failed write (full disk, I/O error) is cut back to the last whole packet and the
//! text is kept, to be written before the next metadata of that trace or at the next flush,
//! so that a trace whose disk filled up and emptied again stays readable whole; and a
//! snapshot's whole metadata, written once (`write_whole`). Every trace's text is also kept
//! in memory ([`kept`]), to count the events inside packets that could not be written. Not
//! here: producing the metadata text (the session daemon does).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Metadata packet size (LTTng's metadata sub-buffer size).
pub(crate) const METADATA_PACKET_BYTES: usize = 4096;
/// Most bytes of metadata text kept waiting for the disk, over all traces (far beyond what
/// applications register; past it the oldest waiting text is dropped and reported).
const MAX_PENDING_BYTES: usize = 64 << 20;

/// Most bytes of metadata text kept in memory, over all traces, to count the events of
/// packets that could not be written (past it the oldest trace's text is forgotten, and
/// the events of its lost packets are not counted).
const MAX_KEPT_BYTES: usize = 64 << 20;

/// Every trace's whole metadata text so far (trace directory, text), oldest trace first.
static KEPT: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Keeps `text`, appended to the metadata of the trace in `trace_dir` (local or relayed).
pub fn keep(trace_dir: &str, text: &str) {
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    match kept.iter_mut().find(|(d, _)| d == trace_dir) {
        Some((_, t)) => t.push_str(text),
        None => kept.push((trace_dir.to_owned(), text.to_owned())),
    }
    let mut total: usize = kept.iter().map(|(_, t)| t.len()).sum();
    while total > MAX_KEPT_BYTES && kept.len() > 1 {
        total -= kept.remove(0).1.len();
    }
}

/// The length of the metadata text kept for `trace_dir`, and, when it differs from
/// `known_len`, the text itself (so that callers parse it again only when it grew).
pub fn kept(trace_dir: &str, known_len: Option<usize>) -> Option<(usize, Option<String>)> {
    let kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    let (_, t) = kept.iter().find(|(d, _)| d == trace_dir)?;
    Some((t.len(), (Some(t.len()) != known_len).then(|| t.clone())))
}

/// Text not written yet: (trace directory, trace uuid, text), in order. Held only to add
/// or take text: writing happens with it released, under the trace's own writer lock
/// ([`writer`]), so that a slow disk under one trace holds up no other trace.
static PENDING: Mutex<Vec<(String, [u8; 16], String)>> = Mutex::new(Vec::new());

/// Each trace's writer lock (one writer per trace at a time keeps its text in order).
static WRITERS: Mutex<BTreeMap<String, Arc<Mutex<()>>>> = Mutex::new(BTreeMap::new());

/// Most traces whose writer locks are kept (unused ones are forgotten past it).
const MAX_WRITERS: usize = 4096;

fn writer(trace_dir: &str) -> Arc<Mutex<()>> {
    let mut w = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    if w.len() >= MAX_WRITERS && !w.contains_key(trace_dir) {
        w.retain(|_, l| Arc::strong_count(l) > 1);
    }
    w.entry(trace_dir.to_owned()).or_default().clone()
}

/// Appends `text` to the metadata of the trace in `trace_dir`, after any text of that trace
/// still waiting. On failure the text waits too, and the error says so.
pub fn append(trace_dir: &str, uuid: [u8; 16], text: &str) -> Result<(), String> {
    absolute(trace_dir)?;
    keep(trace_dir, text);
    {
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        pending.push((trace_dir.to_owned(), uuid, text.to_owned()));
        let total: usize = pending.iter().map(|(_, _, t)| t.len()).sum();
        if total > MAX_PENDING_BYTES {
            let (d, _, _) = pending.remove(0);
            return Err(format!(
                "metadata of {d} dropped: more than {MAX_PENDING_BYTES} bytes waiting for the disk"
            ));
        }
    }
    write_pending(trace_dir)
}

/// Writes every waiting text (all traces); the first error, if any.
pub fn retry_pending() -> Result<(), String> {
    let mut dirs: Vec<String> = PENDING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(d, _, _)| d.clone())
        .collect();
    dirs.dedup();
    let mut first_error = None;
    for d in dirs {
        if let Err(e) = write_pending(&d) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Writes the waiting text of the trace in `trace_dir`, in order, as its one writer; what
/// fails waits again, ahead of any text added meanwhile.
fn write_pending(trace_dir: &str) -> Result<(), String> {
    let lock = writer(trace_dir);
    let _one = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mine: Vec<(String, [u8; 16], String)> = {
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, rest) = std::mem::take(&mut *pending)
            .into_iter()
            .partition(|(d, _, _)| d == trace_dir);
        *pending = rest;
        mine
    };
    let mut left = Vec::new();
    let mut first_error = None;
    for (dir, uuid, text) in mine {
        if first_error.is_some() {
            // Later text of this trace must wait behind the failed one.
            left.push((dir, uuid, text));
            continue;
        }
        if let Err(e) = write_one(&dir, uuid, &text) {
            first_error = Some(format!(
                "{e}; the metadata waits and is written when the disk accepts it"
            ));
            left.push((dir, uuid, text));
        }
    }
    if !left.is_empty() {
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        left.append(&mut pending);
        *pending = left;
    }
    first_error.map_or(Ok(()), Err)
}

/// Writes a snapshot's whole metadata to `trace_dir/metadata` (a new file; packetized with
/// `packet_bytes` packets), creating the directory. Not synced: written once.
pub fn write_whole(
    trace_dir: &str,
    uuid: [u8; 16],
    text: &str,
    packet_bytes: usize,
) -> Result<(), String> {
    absolute(trace_dir)?;
    let (path, bytes) = prepare(trace_dir, uuid, text, packet_bytes)?;
    crate::files::create_file(&path, false)
        .and_then(|mut f| f.write_all(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn absolute(trace_dir: &str) -> Result<(), String> {
    if Path::new(trace_dir).is_absolute() {
        Ok(())
    } else {
        Err(format!("trace directory {trace_dir} is not absolute"))
    }
}

/// Creates `trace_dir` (as the trace's owner) and packetizes `text`: the metadata file's
/// path and the bytes to write to it.
fn prepare(
    trace_dir: &str,
    uuid: [u8; 16],
    text: &str,
    packet_bytes: usize,
) -> Result<(std::path::PathBuf, Vec<u8>), String> {
    let dir = Path::new(trace_dir);
    crate::files::create_dir_all(dir).map_err(|e| format!("cannot create {trace_dir}: {e}"))?;
    let bytes = rttng_ctf::emit::packetize_metadata(
        text,
        uuid,
        rttng_ctf::ir::ByteOrder::NATIVE,
        packet_bytes,
    );
    Ok((dir.join("metadata"), bytes))
}

fn write_one(trace_dir: &str, uuid: [u8; 16], text: &str) -> Result<(), String> {
    let (path, bytes) = prepare(trace_dir, uuid, text, METADATA_PACKET_BYTES)?;
    // As the trace's owner, never through a symbolic link.
    let mut f = crate::files::create_file(&path, true)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let before = f
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
        .len();
    let written = match crate::faults::next(crate::faults::Target::Metadata) {
        None => f.write_all(&bytes).and_then(|()| f.sync_data()),
        Some(crate::faults::Fault::Delay) => {
            crate::log(&format!(
                "injected fault: a Metadata write waits {:?}",
                crate::faults::DELAY
            ));
            std::thread::sleep(crate::faults::DELAY);
            f.write_all(&bytes).and_then(|()| f.sync_data())
        }
        Some(fault) => Err(crate::faults::error(fault)),
    };
    if let Err(e) = written {
        // Never a part of a packet: the whole file would be unreadable.
        let undone = f.set_len(before);
        return Err(match undone {
            Ok(()) => format!("cannot write {}: {e}", path.display()),
            Err(u) => format!(
                "cannot write {}: {e}; cutting it back failed too ({u})",
                path.display()
            ),
        });
    }
    Ok(())
}
