//! The fuzzing oracle of this crate, shared by `fuzz/fuzz_targets/relay_protocol.rs` and the
//! unit tests' mutation run: arbitrary bytes through every decoder (both port headers, every
//! request and reply, the name checks). Each must return Ok or Err, never panic; whatever
//! decodes must re-encode to bytes that decode to the same value, and accepted names and paths
//! must not climb out of a directory. Not a public API (hidden from the docs).

use crate::names::{check_component, check_relative_path};
use crate::*;

fn names(s: &str) {
    let _ = check_component(s, MAX_SESSION_NAME_BYTES - 1, "name");
    if check_relative_path(s, MAX_BASE_PATH_BYTES - 1, true, "path").is_ok() {
        assert!(!s.starts_with('/') && !s.split('/').any(|c| c == ".." || c == "."));
    }
}

/// Runs every decoder on `data` and checks the round trips; panics on a violation.
pub fn decode_everything(data: &[u8]) {
    if let Ok(h) =
        <&[u8; CONTROL_HEADER_BYTES]>::try_from(data.get(..CONTROL_HEADER_BYTES).unwrap_or(&[]))
    {
        if let Ok(h) = ControlHeader::decode(h) {
            assert!(h.data_size <= h.command.max_payload_bytes());
            assert_eq!(ControlHeader::decode(&h.encode()), Ok(h));
        }
    }
    if let Ok(h) =
        <&[u8; DATA_HEADER_BYTES]>::try_from(data.get(..DATA_HEADER_BYTES).unwrap_or(&[]))
    {
        if let Ok(h) = DataHeader::decode(h) {
            assert_eq!(DataHeader::decode(&h.encode()), Ok(h));
        }
    }
    if let Ok(v) = CreateSession::decode(data) {
        assert_eq!(CreateSession::decode(&v.encode()), Ok(v.clone()));
        names(&v.session_name);
        names(&v.hostname);
        names(&v.base_path);
    }
    if let Ok(v) = AddStream::decode(data) {
        assert_eq!(AddStream::decode(&v.encode()), Ok(v.clone()));
        names(&v.channel_name);
        names(&v.pathname);
    }
    if let Ok(v) = SendIndex::decode(data) {
        assert_eq!(SendIndex::decode(&v.encode()), Ok(v));
    }
    if let Ok(v) = RotateStreams::decode(data) {
        assert!(v.positions.len() <= MAX_ROTATE_POSITIONS as usize);
        assert_eq!(RotateStreams::decode(&v.encode()), Ok(v));
    }
    if let Ok(v) = CreateTraceChunk::decode(data) {
        assert_eq!(CreateTraceChunk::decode(&v.encode()), Ok(v));
    }
    if let Ok(v) = CloseTraceChunk::decode(data) {
        assert_eq!(CloseTraceChunk::decode(&v.encode()), Ok(v));
    }
    if let Ok(v) = CreateSessionReply::decode(data) {
        assert_eq!(CreateSessionReply::decode(&v.encode()), Ok(v));
    }
    let _ = Version::decode(data);
    let _ = StreamSeq::decode(data, "fuzz");
    let _ = ResetMetadata::decode(data);
    let _ = MetadataHeader::decode(data);
    let _ = AddStreamReply::decode(data);
    let _ = ConfigurationReply::decode(data);
    let _ = U64Arg::decode(data, "fuzz");
    if let Ok(s) = std::str::from_utf8(data) {
        names(s);
    }
}
