//! The golden example of the spec (the project spec "CTF 1.8 as LTTng writes it", §9) parses
//! into the expected model, field by field, as plain text and as packetized metadata (packets
//! built here by hand from §3). Expected values are read off the TSDL text.

use rttng_ctf::ir::*;
use rttng_ctf::metadata_stream::decode_metadata_stream;
use rttng_ctf::tsdl::parse_metadata;

/// §9's metadata, byte for byte.
pub const GOLDEN_TSDL: &str = include_str!("golden.tsdl");

const UUID: [u8; 16] = [
    0x2a, 0x64, 0x22, 0xd0, 0x6c, 0xee, 0x11, 0xe0, 0x8c, 0x08, 0xcb, 0x07, 0xd7, 0xb3, 0xa5, 0x64,
];

fn u(size_bits: u32) -> IntegerClass {
    IntegerClass {
        size_bits,
        align_bits: 8,
        signed: false,
        byte_order: ByteOrder::Little,
        base: DisplayBase::Decimal,
        encoding: Encoding::None,
        mapped_clock: None,
        role: None,
        store_slot: None,
    }
}

fn mapped(size_bits: u32) -> IntegerClass {
    IntegerClass {
        mapped_clock: Some("monotonic".into()),
        ..u(size_bits)
    }
}

fn member(name: &str, class: FieldClass) -> StructMember {
    StructMember {
        name: name.into(),
        class,
    }
}

fn strukt(members: Vec<StructMember>, min_align_bits: u32) -> FieldClass {
    FieldClass::Struct(StructClass {
        members,
        min_align_bits,
    })
}

fn check_golden(md: &Metadata) {
    assert_eq!(md.trace.major, 1);
    assert_eq!(md.trace.minor, 8);
    assert_eq!(md.trace.uuid, Some(UUID));
    assert_eq!(md.trace.byte_order, ByteOrder::Little);
    let header = strukt(
        vec![
            member("magic", FieldClass::Integer(u(32))),
            member(
                "uuid",
                FieldClass::Array(ArrayClass {
                    element: Box::new(FieldClass::Integer(u(8))),
                    length: 16,
                }),
            ),
            member("stream_id", FieldClass::Integer(u(32))),
            member("stream_instance_id", FieldClass::Integer(u(64))),
        ],
        1,
    );
    assert_eq!(md.trace.packet_header.as_ref(), Some(&header));

    let env: Vec<(String, EnvValue)> = vec![
        ("hostname".into(), EnvValue::Str("myhost".into())),
        ("domain".into(), EnvValue::Str("ust".into())),
        ("tracer_name".into(), EnvValue::Str("lttng-ust".into())),
        ("tracer_major".into(), EnvValue::Int(2)),
        ("tracer_minor".into(), EnvValue::Int(13)),
        (
            "tracer_buffering_scheme".into(),
            EnvValue::Str("uid".into()),
        ),
        ("tracer_buffering_id".into(), EnvValue::Int(1000)),
        ("architecture_bit_width".into(), EnvValue::Int(64)),
        ("trace_name".into(), EnvValue::Str("mysession".into())),
        (
            "trace_creation_datetime".into(),
            EnvValue::Str("20231114T221320+0000".into()),
        ),
    ];
    assert_eq!(md.env, env);

    assert_eq!(
        md.clocks,
        vec![ClockClass {
            name: "monotonic".into(),
            uuid: Some([
                0xc1, 0x9b, 0x5a, 0xc9, 0xb8, 0xe6, 0x4f, 0x78, 0xbe, 0x95, 0xa6, 0x05, 0xd0, 0x4e,
                0x34, 0xc6
            ]),
            description: Some("Monotonic Clock".into()),
            freq: 1_000_000_000,
            offset_s: 0,
            offset: 1_700_000_000_000_000_000,
            precision: 0,
            absolute: false,
        }]
    );

    assert_eq!(md.streams.len(), 1);
    let stream = &md.streams[0];
    assert_eq!(stream.id, 0);
    let packet_context = strukt(
        vec![
            member("timestamp_begin", FieldClass::Integer(mapped(64))),
            member("timestamp_end", FieldClass::Integer(mapped(64))),
            member("content_size", FieldClass::Integer(u(64))),
            member("packet_size", FieldClass::Integer(u(64))),
            member("packet_seq_num", FieldClass::Integer(u(64))),
            member("events_discarded", FieldClass::Integer(u(64))),
            member("cpu_id", FieldClass::Integer(u(32))),
        ],
        1,
    );
    assert_eq!(stream.packet_context.as_ref(), Some(&packet_context));
    assert_eq!(stream.event_context, None);

    // The event header: the enum `id` is the variant's tag, so it holds slot 0.
    let id_enum = EnumClass {
        container: IntegerClass {
            store_slot: Some(0),
            ..u(16)
        },
        mappings: vec![
            EnumMapping {
                label: "compact".into(),
                ranges: vec![(0, 65534)],
            },
            EnumMapping {
                label: "extended".into(),
                ranges: vec![(65535, 65535)],
            },
        ],
    };
    let variant = VariantClass {
        tag_ref: "id".into(),
        tag_slot: 0,
        tag_signed: false,
        options: vec![
            VariantOption {
                name: "compact".into(),
                class: strukt(
                    vec![member("timestamp", FieldClass::Integer(mapped(32)))],
                    1,
                ),
            },
            VariantOption {
                name: "extended".into(),
                class: strukt(
                    vec![
                        member("id", FieldClass::Integer(u(32))),
                        member("timestamp", FieldClass::Integer(mapped(64))),
                    ],
                    1,
                ),
            },
        ],
        selector: vec![(0, 65534, 0), (65535, 65535, 1)],
    };
    let event_header = strukt(
        vec![
            member("id", FieldClass::Enum(id_enum)),
            member("v", FieldClass::Variant(variant)),
        ],
        8,
    );
    assert_eq!(stream.event_header.as_ref(), Some(&event_header));

    assert_eq!(stream.events.len(), 1);
    let event = &stream.events[0];
    assert_eq!(event.id, 0);
    assert_eq!(event.name, "my_provider:my_event");
    assert_eq!(event.stream_id, 0);
    assert_eq!(event.loglevel, Some(13));
    assert_eq!(event.model_emf_uri, None);
    assert_eq!(event.context, None);
    let fields = strukt(
        vec![
            member(
                "_my_int",
                FieldClass::Integer(IntegerClass {
                    signed: true,
                    ..u(32)
                }),
            ),
            member(
                "_my_str",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
        ],
        1,
    );
    assert_eq!(event.fields.as_ref(), Some(&fields));
    assert_eq!(md.slot_count, 1);
}

#[test]
fn golden_plain() {
    let decoded = decode_metadata_stream(GOLDEN_TSDL.as_bytes()).unwrap();
    assert!(!decoded.packetized);
    assert_eq!(decoded.uuid, None);
    check_golden(&parse_metadata(&decoded.text).unwrap());
}

/// Splits `text` into metadata packets of `packet_bytes` bytes as LTTng does (§3).
fn packetize(text: &[u8], packet_bytes: usize) -> Vec<u8> {
    let room = packet_bytes - 37;
    let mut out = Vec::new();
    for chunk in text.chunks(room) {
        let content_bits = ((37 + chunk.len()) * 8) as u32;
        out.extend_from_slice(&[0x57, 0x1d, 0xd1, 0x75]);
        out.extend_from_slice(&UUID);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&content_bits.to_le_bytes());
        out.extend_from_slice(&((packet_bytes * 8) as u32).to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 1, 8]);
        out.extend_from_slice(chunk);
        out.resize(out.len() + room - chunk.len(), 0);
    }
    out
}

#[test]
fn golden_packetized() {
    // 4096-byte packets as LTTng writes, and 100-byte ones so that tokens straddle packets.
    for packet_bytes in [4096, 100] {
        let bytes = packetize(GOLDEN_TSDL.as_bytes(), packet_bytes);
        assert_eq!(&bytes[..4], &[0x57, 0x1d, 0xd1, 0x75]);
        assert_eq!(bytes.len() % packet_bytes, 0);
        let decoded = decode_metadata_stream(&bytes).unwrap();
        assert!(decoded.packetized);
        assert_eq!(decoded.uuid, Some(UUID));
        assert_eq!(decoded.text, GOLDEN_TSDL);
        check_golden(&parse_metadata(&decoded.text).unwrap());
    }
}
