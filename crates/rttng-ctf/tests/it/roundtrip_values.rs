//! Issue 2, acceptance 3: write → read round trips. Random events (integers of many sizes and
//! both signednesses, bit fields, enums, floats, strings, arrays, sequences, nested structs)
//! are written with the writer in either byte order, packed or naturally aligned, with
//! timestamps that sometimes jump (extended headers, wraps); the decoder, which is separate
//! code, must give back every value and every timestamp.

use proptest::prelude::*;
use rttng_ctf::decode::StreamDecoder;
use rttng_ctf::encode::Value;
use rttng_ctf::event::{EventView, Val};
use rttng_ctf::ir::{
    ArrayClass, ByteOrder, Encoding, FieldClass, FloatClass, IntegerClass, Metadata, SequenceClass,
    StringClass,
};
use rttng_ctf::lttng::{EventHeaderKind, LttngLayout};
use rttng_ctf::writer::{PacketOpen, PacketSize, StreamWriter};

fn int(size_bits: u32, signed: bool, packed: bool, order: ByteOrder) -> IntegerClass {
    let align = if !size_bits.is_multiple_of(8) {
        1
    } else if packed {
        8
    } else {
        size_bits
    };
    if signed {
        rttng_ctf::ir::sint_class(size_bits, align, order)
    } else {
        rttng_ctf::ir::uint_class(size_bits, align, order)
    }
}

/// (size, signed) of the integer members, in order.
const INTS: &[(u32, bool)] = &[
    (8, false),
    (8, true),
    (16, true),
    (32, false),
    (64, true),
    (64, false),
    (3, false),
    (13, true),
    (1, false),
];

fn model(order: ByteOrder, packed: bool, header: EventHeaderKind) -> Metadata {
    let layout = LttngLayout {
        byte_order: order,
        packed,
        clock_name: "monotonic".into(),
    };
    let mut members: Vec<(String, FieldClass)> = INTS
        .iter()
        .enumerate()
        .map(|(i, &(size, signed))| {
            (
                format!("_i{i}"),
                FieldClass::Integer(int(size, signed, packed, order)),
            )
        })
        .collect();
    let float_align = |bits| if packed { 8 } else { bits };
    members.push((
        "_f32".into(),
        FieldClass::Float(FloatClass {
            exp_dig: 8,
            mant_dig: 24,
            align_bits: float_align(32),
            byte_order: order,
        }),
    ));
    members.push((
        "_f64".into(),
        FieldClass::Float(FloatClass {
            exp_dig: 11,
            mant_dig: 53,
            align_bits: float_align(64),
            byte_order: order,
        }),
    ));
    members.push((
        "_s".into(),
        FieldClass::String(StringClass {
            encoding: Encoding::Utf8,
        }),
    ));
    members.push((
        "_arr".into(),
        FieldClass::Array(ArrayClass {
            element: Box::new(FieldClass::Integer(int(16, false, packed, order))),
            length: 3,
        }),
    ));
    members.push((
        "__seq_length".into(),
        FieldClass::Integer(int(32, false, packed, order)),
    ));
    members.push((
        "_seq".into(),
        FieldClass::Sequence(SequenceClass {
            element: Box::new(FieldClass::Integer(int(32, true, packed, order))),
            length_ref: "__seq_length".into(),
            length_slot: 0,
        }),
    ));
    let inner = rttng_ctf::ir::struct_class(
        vec![
            ("_a", FieldClass::Integer(int(8, false, packed, order))),
            ("_b", FieldClass::Integer(int(64, true, packed, order))),
        ],
        1,
    );
    members.push(("_nested".into(), inner));
    let e = rttng_ctf::ir::enum_class(
        int(8, false, packed, order),
        &[("ZERO", 0, 0), ("SOME", 1, 200)],
    );
    members.push(("_en".into(), FieldClass::Enum(e)));
    let fields = rttng_ctf::ir::struct_class(
        members
            .iter()
            .map(|(n, c)| (n.as_str(), c.clone()))
            .collect(),
        1,
    );

    let mut md = layout.metadata(
        *b"roundtrip-uuid!!",
        rttng_ctf::lttng::monotonic_clock(None, 0),
        rttng_ctf::lttng::ust_uid_env("h", "s", "20240101T000000+0000", 0),
    );
    let mut sc = layout.stream_class(0, header, None);
    sc.events.push(rttng_ctf::lttng::event_class(
        0,
        0,
        "rt:event",
        Some(13),
        fields,
    ));
    md.streams.push(sc);
    // Resolve references exactly as a reader would: through the TSDL text.
    let mut parsed = rttng_ctf::tsdl::parse_metadata(&rttng_ctf::emit::emit_metadata(&md))
        .expect("emitted metadata parses");
    rttng_ctf::roles::prepare(&mut parsed).expect("prepare");
    parsed
}

#[derive(Clone, Debug)]
struct Event {
    ts_step: u64,
    ints: Vec<i64>,
    f32v: f32,
    f64v: f64,
    s: String,
    arr: [u16; 3],
    seq: Vec<i32>,
    a: u8,
    b: i64,
    en: u8,
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![1u64..1000, 1u64..(1 << 28), (1u64 << 32)..(1u64 << 34)],
        prop::collection::vec(any::<i64>(), INTS.len()),
        any::<f32>(),
        any::<f64>(),
        "[a-zA-Z0-9 é\\\\\"'?\n]{0,12}",
        any::<[u16; 3]>(),
        prop::collection::vec(any::<i32>(), 0..6),
        (any::<u8>(), any::<i64>(), any::<u8>()),
    )
        .prop_map(
            |(ts_step, ints, f32v, f64v, s, arr, seq, (a, b, en))| Event {
                ts_step,
                ints,
                f32v,
                f64v,
                s,
                arr,
                seq,
                a,
                b,
                en,
            },
        )
}

/// The integer value actually representable in `size` bits.
fn fit(v: i64, size: u32, signed: bool) -> i64 {
    if size == 64 {
        return v;
    }
    let masked = (v as u64) & ((1u64 << size) - 1);
    if signed && masked >> (size - 1) == 1 {
        (masked | !((1u64 << size) - 1)) as i64
    } else {
        masked as i64
    }
}

fn payload(e: &Event) -> Value {
    let mut m: Vec<Value> = INTS
        .iter()
        .zip(&e.ints)
        .map(|(&(size, signed), &v)| {
            let v = fit(v, size, signed);
            if signed {
                Value::SInt(v)
            } else {
                Value::UInt(v as u64)
            }
        })
        .collect();
    m.push(Value::Float(f64::from(e.f32v)));
    m.push(Value::Float(e.f64v));
    m.push(Value::Str(e.s.clone()));
    m.push(Value::Array(
        e.arr.iter().map(|&x| Value::UInt(u64::from(x))).collect(),
    ));
    m.push(Value::UInt(e.seq.len() as u64));
    m.push(Value::Array(
        e.seq.iter().map(|&x| Value::SInt(i64::from(x))).collect(),
    ));
    m.push(Value::Struct(vec![
        Value::UInt(u64::from(e.a)),
        Value::SInt(e.b),
    ]));
    m.push(Value::UInt(u64::from(e.en)));
    Value::Struct(m)
}

/// Checks decoded values against what was written, walking both in pre-order.
fn check(expected: &Value, got: &[Val], view: &EventView<'_>, i: &mut usize) {
    let v = got.get(*i).copied();
    *i += 1;
    match (expected, v) {
        (Value::UInt(x), Some(Val::UInt(y))) => assert_eq!(*x, y),
        (Value::SInt(x), Some(Val::SInt(y))) => assert_eq!(*x, y),
        (Value::Float(x), Some(Val::Float(y))) => assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "{x} != {y}"
        ),
        (Value::Str(x), Some(Val::Str { start, end })) => {
            assert_eq!(x.as_bytes(), view.str_bytes(start, end))
        }
        (Value::Array(items), Some(Val::List(n))) => {
            assert_eq!(items.len(), n as usize);
            for it in items {
                check(it, got, view, i);
            }
        }
        (Value::Struct(items), Some(Val::Struct)) => {
            for it in items {
                check(it, got, view, i);
            }
        }
        (e, g) => panic!("value {} differs: wrote {e:?}, read {g:?}", *i - 1),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn written_events_read_back_identically(
        big_endian in any::<bool>(),
        packed in any::<bool>(),
        compact in any::<bool>(),
        events in prop::collection::vec(event(), 1..40),
        packet_events in 1usize..10,
    ) {
        let order = if big_endian { ByteOrder::Big } else { ByteOrder::Little };
        let header = if compact { EventHeaderKind::Compact } else { EventHeaderKind::Large };
        let md = model(order, packed, header);
        let mut w = StreamWriter::new(&md, 0, 0).unwrap();
        let mut ts = 5_000u64;
        let mut stamps = Vec::new();
        for (k, e) in events.iter().enumerate() {
            if k % packet_events == 0 {
                if w.is_packet_open() {
                    w.close_packet(ts, PacketSize::Aligned8).unwrap();
                }
                w.open_packet(&PacketOpen { timestamp_begin: ts, packet_seq_num: (k / packet_events) as u64, ..PacketOpen::default() }).unwrap();
            }
            ts += e.ts_step;
            stamps.push(ts);
            w.append_event(0, ts, &payload(e)).unwrap();
        }
        w.close_packet(ts, PacketSize::Aligned8).unwrap();
        let data = w.take_data();

        let mut d = StreamDecoder::new(&md);
        let mut offset = 0usize;
        let mut k = 0;
        while offset < data.len() {
            let packet = &data[offset..];
            let size = (d.begin_packet(packet, offset as u64).unwrap().packet_bits / 8) as usize;
            while d.next_event(packet).unwrap() {
                let view = d.event_view(packet);
                prop_assert_eq!(view.clock.map(|c| c.cycles), Some(stamps[k]), "timestamp of event {}", k);
                let mut i = 0;
                check(&payload(&events[k]), view.payload.unwrap().values, &view, &mut i);
                prop_assert_eq!(i, view.payload.unwrap().values.len());
                k += 1;
            }
            offset += size;
        }
        prop_assert_eq!(k, events.len());
    }
}
