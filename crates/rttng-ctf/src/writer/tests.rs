//! Unit tests of the stream writer: refused operations leave the packet unchanged.

use super::*;
use crate::encode::EncodeError;
use crate::ir::{
    enum_class, struct_class, uint_class, variant_class, ByteOrder, Encoding, SequenceClass,
    StructMember,
};
use crate::lttng::{event_class, monotonic_clock, EventHeaderKind, LttngLayout};

fn model() -> Metadata {
    let layout = LttngLayout::x86_64();
    let mut md = layout.metadata([1; 16], monotonic_clock(None, 0), Vec::new());
    let mut sc = layout.stream_class(0, EventHeaderKind::Large, None);
    let fields = struct_class(
        vec![
            ("_len", FieldClass::Integer(layout.uint(8))),
            (
                "_seq",
                FieldClass::Sequence(SequenceClass {
                    element: Box::new(FieldClass::Integer(layout.uint(8))),
                    length_ref: "_len".to_string(),
                    length_slot: 0,
                }),
            ),
        ],
        1,
    );
    sc.events.push(event_class(0, 0, "e", None, fields));
    md.streams.push(sc);
    md
}

fn seq(len: u64, items: &[u8]) -> Value {
    Value::Struct(vec![Value::UInt(len), Value::Bytes(items.to_vec())])
}

#[test]
fn a_bad_event_leaves_the_packet_unchanged() {
    let md = model();
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    w.open_packet(&PacketOpen {
        timestamp_begin: 10,
        ..PacketOpen::default()
    })
    .unwrap();
    w.append_event(0, 11, &seq(2, &[1, 2])).unwrap();
    let before = w.packet_content_bits();
    let err = w.append_event(0, 12, &seq(3, &[1, 2])).unwrap_err();
    assert!(matches!(
        err,
        WriteError::Encode {
            source: EncodeError::SequenceLengthMismatch {
                length: 3,
                actual: 2,
                ..
            },
            ..
        }
    ));
    assert_eq!(w.packet_content_bits(), before);
    assert!(matches!(
        w.append_event(5, 12, &seq(0, &[])),
        Err(WriteError::UnknownEventClass { .. })
    ));
    assert!(matches!(
        w.append_event(0, 9, &seq(0, &[])),
        Err(WriteError::TimestampBeforePrevious {
            timestamp: 9,
            previous: 11
        })
    ));
    // 84 bytes of header and context, then 6 + 1 + 2 bytes of event.
    let e = w.close_packet(20, PacketSize::ByteAligned).unwrap();
    assert_eq!(e.content_size_bits, (84 + 9) * 8);
    assert_eq!(e.packet_size_bits, (84 + 9) * 8);
    assert_eq!(w.event_count(), 1);
}

#[test]
fn packet_lifecycle_errors() {
    let md = model();
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    assert!(matches!(
        w.append_event(0, 1, &seq(0, &[])),
        Err(WriteError::NoOpenPacket)
    ));
    assert!(matches!(
        w.close_packet(1, PacketSize::Aligned8),
        Err(WriteError::NoOpenPacket)
    ));
    w.open_packet(&PacketOpen::default()).unwrap();
    assert!(matches!(
        w.open_packet(&PacketOpen::default()),
        Err(WriteError::PacketAlreadyOpen)
    ));
    assert!(matches!(
        w.close_packet(1, PacketSize::Bytes(64)),
        Err(WriteError::PacketTooSmall {
            content_bits: 672,
            packet_bits: 512
        })
    ));
    let e = w.close_packet(1, PacketSize::Aligned8).unwrap();
    // An empty packet: 84 bytes of content (spec §5), rounded up to 88.
    assert_eq!((e.content_size_bits, e.packet_size_bits), (672, 704));
    assert!(matches!(
        StreamWriter::new(&md, 9, 0),
        Err(WriteError::UnknownStreamClass { stream_class_id: 9 })
    ));
}

#[test]
fn unknown_context_fields_must_be_supplied() {
    let mut md = model();
    if let Some(FieldClass::Struct(s)) = &mut md.streams[0].packet_context {
        s.members.push(StructMember {
            name: "_extra".to_string(),
            class: FieldClass::Integer(uint_class(16, 8, ByteOrder::Little)),
        });
    }
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    assert!(matches!(
        w.open_packet(&PacketOpen::default()),
        Err(WriteError::MissingField {
            scope: "stream.packet.context",
            ..
        })
    ));
    let extra = [("_extra", Value::UInt(0xABCD))];
    w.open_packet(&PacketOpen {
        extra: &extra,
        ..PacketOpen::default()
    })
    .unwrap();
    let e = w.close_packet(0, PacketSize::ByteAligned).unwrap();
    let (data, _) = w.finish();
    assert_eq!(e.content_size_bits, 86 * 8);
    assert_eq!(&data[84..86], &[0xCD, 0xAB]);
}

#[test]
fn variant_tag_must_select_the_option() {
    let tag = enum_class(
        uint_class(8, 8, ByteOrder::Little),
        &[("A", 0, 0), ("B", 1, 1)],
    );
    let class = struct_class(
        vec![
            ("_t", FieldClass::Enum(tag.clone())),
            (
                "_v",
                variant_class(
                    "_t",
                    &tag,
                    vec![
                        (
                            "A",
                            FieldClass::Integer(uint_class(8, 8, ByteOrder::Little)),
                        ),
                        (
                            "B",
                            FieldClass::String(crate::ir::StringClass {
                                encoding: Encoding::Utf8,
                            }),
                        ),
                    ],
                ),
            ),
        ],
        1,
    );
    let mut w = BitWriter::new();
    let mut s = EncodeScratch::new();
    let ok = Value::Struct(vec![
        Value::UInt(1),
        Value::Variant {
            option: "B".to_string(),
            value: Box::new(Value::Str("x".to_string())),
        },
    ]);
    encode_field(&mut w, &mut s, "", &class, &ok).unwrap();
    assert_eq!(w.bytes(), &[1, b'x', 0]);
    let bad = Value::Struct(vec![
        Value::UInt(0),
        Value::Variant {
            option: "B".to_string(),
            value: Box::new(Value::Str("x".to_string())),
        },
    ]);
    let err = encode_field(&mut w, &mut s, "", &class, &bad).unwrap_err();
    assert!(matches!(err, EncodeError::TagMismatch { tag: 0, .. }));
}
