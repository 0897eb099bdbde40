//! Sample traces built with the writer: the golden example of the CTF spec (§9) and its
//! variants, plus traces covering every field class, both byte orders, both event headers,
//! timestamp wraps and lost events/packets. Each function returns the files of one trace
//! directory (relative path, bytes), for tests that compare readers (ours, babeltrace2).
//!
//! Nothing here touches the file system; the caller writes the files where it wants.

use crate::emit::{emit_metadata, packetize_metadata};
use crate::encode::Value;
use crate::index::{encode_index, IndexVersion};
use crate::ir::{enum_class, sint_class, struct_class, uint_class, variant_class};
use crate::ir::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, FieldClass, FloatClass, IntegerClass, Metadata,
    SequenceClass, StringClass,
};
use crate::lttng::{event_class, monotonic_clock, ust_uid_env, EventHeaderKind, LttngLayout};
use crate::writer::{
    EventRecord, HeaderForm, PacketOpen, PacketSize, StreamWriter, TimestampRule, WriteError,
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

/// 27-bit wrap (spec §9 variant): compact header, packet begin 0x7FFFF00, events at 0x7FFFFF0
/// (compact), 0x8000010 (compact, stored as 0x10: the reader sees the low bits wrap) and
/// 0x8000020 (forced extended), payloads (1, "a"), (2, "b"), (3, "c"), end 0x8000100, 128 bytes.
pub fn wrap27() -> Result<SampleTrace, WriteError> {
    let md = golden_metadata(EventHeaderKind::Compact);
    let mut w = StreamWriter::new(&md, 0, 0)?;
    w.set_timestamp_rule(TimestampRule::Delta);
    w.open_packet(&PacketOpen {
        timestamp_begin: 0x7FF_FF00,
        ..PacketOpen::default()
    })?;
    w.append_event(0, 0x7FF_FFF0, &golden_payload(1, "a"))?;
    w.append_event(0, 0x800_0010, &golden_payload(2, "b"))?;
    let p = golden_payload(3, "c");
    let rec = EventRecord {
        payload: Some(&p),
        ..EventRecord::default()
    };
    w.append_event_record(0, 0x800_0020, HeaderForm::Extended, &rec)?;
    w.close_packet(0x800_0100, PacketSize::Bytes(128))?;
    let text = emit_metadata(&md);
    Ok(SampleTrace {
        name: "wrap27",
        files: trace_files(&md, text.into_bytes(), vec![("chan_0", w)]),
    })
}

/// Spec §8: three packets of one stream with `events_discarded` 0, 5, 5 and `packet_seq_num`
/// 0, 1, 3; packets span [1000, 2000], [3000, 4000], [9000, 10000], one event each at begin + 500
/// with `my_int` = packet number, `my_str` = "p0", "p1", "p3".
pub fn discarded() -> Result<SampleTrace, WriteError> {
    let md = golden_metadata(EventHeaderKind::Large);
    let mut w = StreamWriter::new(&md, 0, 0)?;
    for (begin, seq, disc) in [(1000u64, 0u64, 0u64), (3000, 1, 5), (9000, 3, 5)] {
        w.open_packet(&PacketOpen {
            timestamp_begin: begin,
            packet_seq_num: seq,
            events_discarded: disc,
            ..PacketOpen::default()
        })?;
        w.append_event(
            0,
            begin + 500,
            &golden_payload(seq as i64, &format!("p{seq}")),
        )?;
        w.close_packet(begin + 1000, PacketSize::Aligned8)?;
    }
    let text = emit_metadata(&md);
    let packets = packetize_metadata(&text, GOLDEN_UUID, ByteOrder::Little, 4096);
    Ok(SampleTrace {
        name: "discarded",
        files: trace_files(&md, packets, vec![("chan_0", w)]),
    })
}

fn int(size: u32, align: u32, signed: bool, bo: ByteOrder, base: DisplayBase) -> IntegerClass {
    IntegerClass {
        signed,
        base,
        ..uint_class(size, align, bo)
    }
}

fn text_byte(layout: &LttngLayout) -> FieldClass {
    FieldClass::Integer(IntegerClass {
        encoding: Encoding::Utf8,
        signed: true,
        ..layout.uint(8)
    })
}

/// The "every field class" event payload of [`all_types`] for a layout, and its values.
fn all_types_payload(layout: &LttngLayout) -> (FieldClass, Value) {
    let bo = layout.byte_order;
    let other = match bo {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
    };
    let a = |size: u32| {
        if layout.packed || !size.is_multiple_of(8) {
            if size.is_multiple_of(8) {
                8
            } else {
                1
            }
        } else {
            size
        }
    };
    let dec = DisplayBase::Decimal;
    let en = enum_class(
        int(32, a(32), true, bo, dec),
        &[
            ("A", 0, 0),
            ("BC", 1, 2),
            ("NEG", -5, -5),
            ("a b", 10, 20),
            ("a b", 30, 30),
        ],
    );
    let tag = enum_class(
        int(8, a(8), false, bo, dec),
        &[("INT", 0, 0), ("STR", 1, 1)],
    );
    let var = variant_class(
        "_tag",
        &tag,
        vec![
            ("INT", FieldClass::Integer(int(32, a(32), false, bo, dec))),
            (
                "STR",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
        ],
    );
    let f32c = FieldClass::Float(FloatClass {
        exp_dig: 8,
        mant_dig: 24,
        align_bits: a(32),
        byte_order: bo,
    });
    let f64c = FieldClass::Float(FloatClass {
        exp_dig: 11,
        mant_dig: 53,
        align_bits: a(64),
        byte_order: bo,
    });
    let point = struct_class(
        vec![
            ("_x", FieldClass::Integer(int(8, a(8), true, bo, dec))),
            ("_y", FieldClass::Integer(int(8, a(8), true, bo, dec))),
        ],
        1,
    );
    let class = struct_class(
        vec![
            ("_u1", FieldClass::Integer(int(1, 1, false, bo, dec))),
            ("_s3", FieldClass::Integer(int(3, 1, true, bo, dec))),
            ("_u7", FieldClass::Integer(int(7, 1, false, bo, dec))),
            ("_u13", FieldClass::Integer(int(13, 1, false, bo, dec))),
            (
                "_bin",
                FieldClass::Integer(int(4, 1, false, bo, DisplayBase::Binary)),
            ),
            ("_s8", FieldClass::Integer(int(8, a(8), true, bo, dec))),
            (
                "_hex16",
                FieldClass::Integer(int(16, a(16), false, bo, DisplayBase::Hexadecimal)),
            ),
            (
                "_oct",
                FieldClass::Integer(int(32, a(32), false, bo, DisplayBase::Octal)),
            ),
            ("_s32", FieldClass::Integer(int(32, a(32), true, bo, dec))),
            (
                "_other_bo",
                FieldClass::Integer(int(32, a(32), false, other, dec)),
            ),
            ("_u64", FieldClass::Integer(int(64, a(64), false, bo, dec))),
            ("_s64", FieldClass::Integer(int(64, a(64), true, bo, dec))),
            ("_en", FieldClass::Enum(en.clone())),
            ("_en_multi", FieldClass::Enum(en.clone())),
            ("_en_unknown", FieldClass::Enum(en)),
            ("_f", f32c),
            ("_d", f64c.clone()),
            ("_d_big", f64c),
            (
                "_str",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
            (
                "_str_esc",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
            (
                "_arr",
                FieldClass::Array(ArrayClass {
                    element: Box::new(FieldClass::Integer(int(16, a(16), false, bo, dec))),
                    length: 3,
                }),
            ),
            (
                "_arr0",
                FieldClass::Array(ArrayClass {
                    element: Box::new(FieldClass::Integer(int(8, a(8), false, bo, dec))),
                    length: 0,
                }),
            ),
            (
                "_txt",
                FieldClass::Array(ArrayClass {
                    element: Box::new(text_byte(layout)),
                    length: 4,
                }),
            ),
            (
                "__seq_length",
                FieldClass::Integer(int(32, a(32), false, bo, dec)),
            ),
            (
                "_seq",
                FieldClass::Sequence(SequenceClass {
                    element: Box::new(FieldClass::Integer(int(16, a(16), true, bo, dec))),
                    length_ref: "__seq_length".to_string(),
                    length_slot: 0,
                }),
            ),
            (
                "__seqtxt_length",
                FieldClass::Integer(int(32, a(32), false, bo, dec)),
            ),
            (
                "_seqtxt",
                FieldClass::Sequence(SequenceClass {
                    element: Box::new(text_byte(layout)),
                    length_ref: "__seqtxt_length".to_string(),
                    length_slot: 0,
                }),
            ),
            (
                "_nested",
                struct_class(
                    vec![
                        ("_a", FieldClass::Integer(int(8, a(8), false, bo, dec))),
                        (
                            "_b",
                            struct_class(
                                vec![(
                                    "_c",
                                    FieldClass::String(StringClass {
                                        encoding: Encoding::Utf8,
                                    }),
                                )],
                                1,
                            ),
                        ),
                    ],
                    1,
                ),
            ),
            (
                "_pts",
                FieldClass::Array(ArrayClass {
                    element: Box::new(point),
                    length: 2,
                }),
            ),
            ("_tag", FieldClass::Enum(tag.clone())),
            ("_var", var.clone()),
            ("_tag2", FieldClass::Enum(tag)),
            ("_var2", {
                let FieldClass::Variant(mut v) = var else {
                    unreachable!()
                };
                v.tag_ref = "_tag2".to_string();
                FieldClass::Variant(v)
            }),
            (
                "_aligned",
                struct_class(
                    vec![("_z", FieldClass::Integer(int(8, a(8), false, bo, dec)))],
                    64,
                ),
            ),
        ],
        1,
    );
    let value = Value::Struct(vec![
        Value::UInt(1),
        Value::SInt(-3),
        Value::UInt(100),
        Value::UInt(5000),
        Value::UInt(0b0101),
        Value::SInt(-128),
        Value::UInt(0xBEEF),
        Value::UInt(8),
        Value::SInt(-123_456),
        Value::UInt(0x0102_0304),
        Value::UInt(u64::MAX),
        Value::SInt(i64::MIN),
        Value::SInt(2),
        Value::SInt(30),
        Value::SInt(7),
        Value::Float(1.5),
        Value::Float(-0.25),
        Value::Float(123_456_789.0),
        Value::Str("hello".to_string()),
        Value::Str("q\"b\\t\tn\n?".to_string()),
        Value::Array(vec![Value::UInt(1), Value::UInt(2), Value::UInt(65535)]),
        Value::Array(vec![]),
        Value::Str("hell".to_string()),
        Value::UInt(2),
        Value::Array(vec![Value::SInt(-1), Value::SInt(2)]),
        Value::UInt(2),
        Value::Bytes(b"he".to_vec()),
        Value::Struct(vec![
            Value::UInt(7),
            Value::Struct(vec![Value::Str("x".to_string())]),
        ]),
        Value::Array(vec![
            Value::Struct(vec![Value::SInt(1), Value::SInt(2)]),
            Value::Struct(vec![Value::SInt(3), Value::SInt(-4)]),
        ]),
        Value::UInt(1),
        Value::Variant {
            option: "STR".to_string(),
            value: Box::new(Value::Str("text".to_string())),
        },
        Value::UInt(0),
        Value::Variant {
            option: "INT".to_string(),
            value: Box::new(Value::UInt(77)),
        },
        Value::Struct(vec![Value::UInt(9)]),
    ]);
    (class, value)
}

/// Every field class in one event, plus a stream event context (`_vtid` i32), an event
/// context (`_ctx` u16) on the first event class, and a second event class whose id does not
/// fit the compact form. Events (ids 0 then the big id, then 0 again):
/// 1. id 0 at 5000 (first packet record; compact form), the [`all_types_payload`] values,
///    `vtid = 77`, `ctx = 5`;
/// 2. the big id at 6000 (extended form for the id), `vtid = 78`, payload `_x = 200`;
/// 3. id 0 at 5000 + 2^32 + 10 (extended form for the time jump), `vtid = 79`, `ctx = 6`.
///
/// The packet spans [4000, 5000 + 2^32 + 20], its size rounded up to 8 bytes.
fn all_types(
    name: &'static str,
    layout: LttngLayout,
    header: EventHeaderKind,
    big_id: u64,
) -> Result<SampleTrace, WriteError> {
    let mut md = layout.metadata(
        GOLDEN_UUID,
        monotonic_clock(Some(GOLDEN_BOOT_ID), GOLDEN_CLOCK_OFFSET),
        ust_uid_env("myhost", "mysession", "20231114T221320+0000", 1000),
    );
    let bo = layout.byte_order;
    let vtid = struct_class(
        vec![(
            "_vtid",
            FieldClass::Integer(sint_class(32, layout.uint(32).align_bits, bo)),
        )],
        1,
    );
    let mut sc = layout.stream_class(0, header, Some(vtid));
    let (class, value) = all_types_payload(&layout);
    let mut e0 = event_class(0, 0, "test:all_types", Some(13), class);
    e0.context = Some(struct_class(
        vec![("_ctx", FieldClass::Integer(layout.uint(16)))],
        1,
    ));
    sc.events.push(e0);
    sc.events.push(event_class(
        big_id,
        0,
        "test:big_id",
        None,
        struct_class(vec![("_x", FieldClass::Integer(layout.uint(8)))], 1),
    ));
    md.streams.push(sc);

    let mut w = StreamWriter::new(&md, 0, 3)?;
    w.open_packet(&PacketOpen {
        timestamp_begin: 4000,
        cpu_id: 3,
        ..PacketOpen::default()
    })?;
    let (v77, v78, v79) = (
        Value::Struct(vec![Value::SInt(77)]),
        Value::Struct(vec![Value::SInt(78)]),
        Value::Struct(vec![Value::SInt(79)]),
    );
    let (c5, c6) = (
        Value::Struct(vec![Value::UInt(5)]),
        Value::Struct(vec![Value::UInt(6)]),
    );
    let big = Value::Struct(vec![Value::UInt(200)]);
    w.append_event_record(
        0,
        5000,
        HeaderForm::Auto,
        &EventRecord {
            stream_context: Some(&v77),
            context: Some(&c5),
            payload: Some(&value),
        },
    )?;
    w.append_event_record(
        big_id,
        6000,
        HeaderForm::Auto,
        &EventRecord {
            stream_context: Some(&v78),
            context: None,
            payload: Some(&big),
        },
    )?;
    let far = 5000 + (1u64 << 32) + 10;
    w.append_event_record(
        0,
        far,
        HeaderForm::Auto,
        &EventRecord {
            stream_context: Some(&v79),
            context: Some(&c6),
            payload: Some(&value),
        },
    )?;
    w.close_packet(far + 10, PacketSize::Aligned8)?;
    let text = emit_metadata(&md);
    Ok(SampleTrace {
        name,
        files: trace_files(&md, text.into_bytes(), vec![("chan_3", w)]),
    })
}

/// [`all_types`] little-endian, packed (x86-64), large event header, big id 70000.
pub fn all_types_le() -> Result<SampleTrace, WriteError> {
    all_types(
        "all-types-le",
        LttngLayout::x86_64(),
        EventHeaderKind::Large,
        70000,
    )
}

/// [`all_types`] big-endian, natural alignment, compact event header, big id 40.
pub fn all_types_be() -> Result<SampleTrace, WriteError> {
    let layout = LttngLayout {
        byte_order: ByteOrder::Big,
        packed: false,
        clock_name: "monotonic".to_string(),
    };
    all_types("all-types-be", layout, EventHeaderKind::Compact, 40)
}

/// Every sample trace, for tests that run all of them.
pub fn all() -> Result<Vec<SampleTrace>, WriteError> {
    Ok(vec![
        golden()?,
        golden_packetized()?,
        golden_compact()?,
        wrap27()?,
        discarded()?,
        all_types_le()?,
        all_types_be()?,
    ])
}
