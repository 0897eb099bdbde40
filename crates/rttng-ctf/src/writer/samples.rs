//! Sample traces built with the writer: the golden example of the CTF spec (§9) and its
//! variants, plus traces covering every field class, both byte orders, both event headers,
//! timestamp wraps and lost events/packets. Each function returns the files of one trace
//! directory (relative path, bytes), for tests that compare readers (ours, babeltrace2).
//!
//! Nothing here touches the file system; the caller writes the files where it wants.

use crate::emit::{emit_metadata, packetize_metadata};
use crate::encode::Value;
use crate::index::{encode_index, IndexVersion};
use crate::ir::{Encoding, FieldClass, Metadata, StringClass};
use crate::writer::{
    event_class, monotonic_clock, sint_class, struct_class, ust_uid_env, EventHeaderKind,
    LttngLayout, PacketOpen, PacketSize, StreamWriter, WriteError,
};

/// One sample trace directory.
#[derive(Clone, Debug)]
pub struct SampleTrace {
    /// Short name, usable as a directory name.
    pub name: &'static str,
    /// `(path relative to the trace directory, contents)`.
    pub files: Vec<(String, Vec<u8>)>,
}

impl SampleTrace {
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.as_slice())
    }
}

/// Trace uuid of the golden example.
pub const GOLDEN_UUID: [u8; 16] = [
    0x2a, 0x64, 0x22, 0xd0, 0x6c, 0xee, 0x11, 0xe0, 0x8c, 0x08, 0xcb, 0x07, 0xd7, 0xb3, 0xa5, 0x64,
];
/// Clock uuid (boot id) of the golden example.
pub const GOLDEN_BOOT_ID: [u8; 16] = [
    0xc1, 0x9b, 0x5a, 0xc9, 0xb8, 0xe6, 0x4f, 0x78, 0xbe, 0x95, 0xa6, 0x05, 0xd0, 0x4e, 0x34, 0xc6,
];
/// Clock offset of the golden example: 2023-11-14T22:13:20Z in ns.
pub const GOLDEN_CLOCK_OFFSET: i64 = 1_700_000_000_000_000_000;

/// The golden example's model with the given event header: one stream class, one event class
/// `my_provider:my_event` with `_my_int` (i32) and `_my_str` (string).
pub fn golden_metadata(header: EventHeaderKind) -> Metadata {
    let layout = LttngLayout::x86_64();
    let mut md = layout.metadata(
        GOLDEN_UUID,
        monotonic_clock(Some(GOLDEN_BOOT_ID), GOLDEN_CLOCK_OFFSET),
        ust_uid_env("myhost", "mysession", "20231114T221320+0000", 1000),
    );
    let mut sc = layout.stream_class(0, header, None);
    let fields = struct_class(
        vec![
            (
                "_my_int",
                FieldClass::Integer(sint_class(32, 8, layout.byte_order)),
            ),
            (
                "_my_str",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
        ],
        1,
    );
    sc.events
        .push(event_class(0, 0, "my_provider:my_event", Some(13), fields));
    md.streams.push(sc);
    md
}

fn golden_payload(my_int: i64, my_str: &str) -> Value {
    Value::Struct(vec![Value::SInt(my_int), Value::Str(my_str.to_string())])
}

fn trace_files(
    md: &Metadata,
    metadata_file: Vec<u8>,
    streams: Vec<(&str, StreamWriter<'_>)>,
) -> Vec<(String, Vec<u8>)> {
    let _ = md;
    let mut files = vec![("metadata".to_string(), metadata_file)];
    for (name, w) in streams {
        let (data, index) = w.finish();
        files.push((name.to_string(), data));
        files.push((
            format!("index/{name}.idx"),
            encode_index(&index, IndexVersion::V1_1),
        ));
    }
    files
}

/// Spec §9: one 128-byte packet (begin 1000, end 2000) holding one event at 1500 with
/// `my_int = 42`, `my_str = "hello"`, large header, plain-text metadata.
pub fn golden() -> Result<SampleTrace, WriteError> {
    let md = golden_metadata(EventHeaderKind::Large);
    let mut w = StreamWriter::new(&md, 0, 0)?;
    w.open_packet(&PacketOpen {
        timestamp_begin: 1000,
        ..PacketOpen::default()
    })?;
    w.append_event(0, 1500, &golden_payload(42, "hello"))?;
    w.close_packet(2000, PacketSize::Bytes(128))?;
    let text = emit_metadata(&md);
    Ok(SampleTrace {
        name: "golden",
        files: trace_files(&md, text.into_bytes(), vec![("chan_0", w)]),
    })
}

/// The golden example with its metadata split into 4096-byte packets (spec §3).
pub fn golden_packetized() -> Result<SampleTrace, WriteError> {
    let mut t = golden()?;
    t.name = "golden-packetized";
    let text = emit_metadata(&golden_metadata(EventHeaderKind::Large));
    let packets = packetize_metadata(&text, GOLDEN_UUID, crate::ir::ByteOrder::Little, 4096);
    if let Some(f) = t.files.iter_mut().find(|(p, _)| p == "metadata") {
        f.1 = packets;
    }
    Ok(t)
}

/// The golden example with the compact event header (spec §9 variant).
pub fn golden_compact() -> Result<SampleTrace, WriteError> {
    let md = golden_metadata(EventHeaderKind::Compact);
    let mut w = StreamWriter::new(&md, 0, 0)?;
    w.open_packet(&PacketOpen {
        timestamp_begin: 1000,
        ..PacketOpen::default()
    })?;
    w.append_event(0, 1500, &golden_payload(42, "hello"))?;
    w.close_packet(2000, PacketSize::Bytes(128))?;
    let text = emit_metadata(&md);
    Ok(SampleTrace {
        name: "golden-compact",
        files: trace_files(&md, text.into_bytes(), vec![("chan_0", w)]),
    })
}
