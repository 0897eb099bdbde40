//! Appending metadata packets to a trace's `metadata` file, without ever leaving a part of
//! one: a failed write (full disk, I/O error) is cut back to the last whole packet and the
//! text is kept, to be written before the next metadata of that trace or at the next flush,
//! so that a trace whose disk filled up and emptied again stays readable whole; and a
//! snapshot's whole metadata, written once (`write_whole`). Every trace's text is also kept
//! in memory ([`kept`]), to count the events inside packets that could not be written. Not
//! here: producing the metadata text (the session daemon does).

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

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

/// Text not written yet: (trace directory, trace uuid, text), in order.
static PENDING: Mutex<Vec<(String, [u8; 16], String)>> = Mutex::new(Vec::new());

/// Appends `text` to the metadata of the trace in `trace_dir`, after any text of that trace
/// still waiting. On failure the text waits too, and the error says so.
pub fn append(trace_dir: &str, uuid: [u8; 16], text: &str) -> Result<(), String> {
    absolute(trace_dir)?;
    keep(trace_dir, text);
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    pending.push((trace_dir.to_owned(), uuid, text.to_owned()));
    let total: usize = pending.iter().map(|(_, _, t)| t.len()).sum();
    if total > MAX_PENDING_BYTES {
        let (d, _, _) = pending.remove(0);
        return Err(format!(
            "metadata of {d} dropped: more than {MAX_PENDING_BYTES} bytes waiting for the disk"
        ));
    }
    write_pending(&mut pending, Some(trace_dir))
}

/// Writes every waiting text (all traces); the first error, if any.
pub fn retry_pending() -> Result<(), String> {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    write_pending(&mut pending, None)
}

fn write_pending(
    pending: &mut Vec<(String, [u8; 16], String)>,
    only: Option<&str>,
) -> Result<(), String> {
    let mut first_error = None;
    let mut failed_dirs: Vec<String> = Vec::new();
    pending.retain(|(dir, uuid, text)| {
        if only.is_some_and(|o| o != dir) || failed_dirs.contains(dir) {
            return true;
        }
        match write_one(dir, *uuid, text) {
            Ok(()) => false,
            Err(e) => {
                // Later text of this trace must wait behind this one.
                failed_dirs.push(dir.clone());
                first_error.get_or_insert(format!(
                    "{e}; the metadata waits and is written when the disk accepts it"
                ));
                true
            }
        }
    });
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
    let written = f.write_all(&bytes).and_then(|()| f.sync_data());
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
