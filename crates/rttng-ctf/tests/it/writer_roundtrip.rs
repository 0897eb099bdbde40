//! Round trips through the writer side: integers written with `BitWriter` read back by an
//! independent bit-at-a-time reader, and metadata models emitted as TSDL then parsed back by
//! `tsdl::parse_metadata` (equal except what the resolver computes).

use proptest::prelude::*;
use rttng_ctf::emit::emit_metadata;
use rttng_ctf::encode::BitWriter;
use rttng_ctf::ir::*;
use rttng_ctf::tsdl::parse_metadata;
use rttng_ctf::writer::samples;

/// Reads one bit at a time, straight from the CTF definition: in a little-endian field bit `i`
/// of the value is bit `(pos + i) % 8` (from the LSB) of byte `(pos + i) / 8`; in a big-endian
/// field bit `size - 1 - i` of the value is bit `7 - (pos + i) % 8` of that byte.
fn read_bits(buf: &[u8], pos: u64, size: u32, bo: ByteOrder) -> u64 {
    let mut v = 0u64;
    for i in 0..u64::from(size) {
        let p = pos + i;
        let byte = buf[(p / 8) as usize];
        match bo {
            ByteOrder::Little => {
                let bit = (byte >> (p % 8)) & 1;
                v |= u64::from(bit) << i;
            }
            ByteOrder::Big => {
                let bit = (byte >> (7 - p % 8)) & 1;
                v |= u64::from(bit) << (u64::from(size) - 1 - i);
            }
        }
    }
    v
}

fn field() -> impl Strategy<Value = (u64, u32, u32, ByteOrder)> {
    (
        any::<u64>(),
        1u32..=64,
        prop::sample::select(vec![1u32, 2, 8, 16, 32, 64]),
        prop::bool::ANY.prop_map(|b| if b { ByteOrder::Big } else { ByteOrder::Little }),
    )
}

proptest! {
    #[test]
    fn bit_writer_round_trips(fields in prop::collection::vec(field(), 1..40)) {
        let mut w = BitWriter::new();
        let mut expected = Vec::new();
        let mut last_bo = None;
        for &(value, size, align, bo) in &fields {
            // A byte order change must start on a byte boundary (as babeltrace2 requires).
            if last_bo.is_some_and(|b| b != bo) {
                prop_assert_eq!(w.byte_order_conflict(bo), !w.pos_bits().is_multiple_of(8));
                w.align(8);
            }
            last_bo = Some(bo);
            w.align(align);
            let pos = w.pos_bits();
            prop_assert_eq!(pos % u64::from(align), 0);
            w.write_uint(value, size, bo);
            let masked = if size == 64 { value } else { value & ((1u64 << size) - 1) };
            expected.push((pos, size, bo, masked));
        }
        prop_assert_eq!(w.bytes().len() as u64, w.pos_bits().div_ceil(8));
        for (pos, size, bo, value) in expected {
            prop_assert_eq!(read_bits(w.bytes(), pos, size, bo), value);
        }
        // Bits past the end are zero.
        let end = w.pos_bits();
        let tail = (w.bytes().len() as u64) * 8 - end;
        if tail > 0 {
            let bo = last_bo.unwrap_or(ByteOrder::Little);
            prop_assert_eq!(read_bits(w.bytes(), end, tail as u32, bo), 0);
        }
    }
}

/// Clear what the resolver computes, so a model built by hand compares with a parsed one.
fn normalize(md: &mut Metadata) {
    fn class(c: &mut FieldClass) {
        match c {
            FieldClass::Integer(i) => {
                i.role = None;
                i.store_slot = None;
            }
            FieldClass::Enum(e) => {
                e.container.role = None;
                e.container.store_slot = None;
            }
            FieldClass::Float(_) | FieldClass::String(_) => {}
            FieldClass::Array(a) => class(&mut a.element),
            FieldClass::Sequence(s) => {
                s.length_slot = 0;
                class(&mut s.element);
            }
            FieldClass::Struct(s) => s.members.iter_mut().for_each(|m| class(&mut m.class)),
            FieldClass::Variant(v) => {
                v.tag_slot = 0;
                v.tag_signed = false;
                v.selector.clear();
                v.options.iter_mut().for_each(|o| class(&mut o.class));
            }
        }
    }
    md.slot_count = 0;
    if let Some(h) = &mut md.trace.packet_header {
        class(h);
    }
    for s in &mut md.streams {
        for c in [
            &mut s.packet_context,
            &mut s.event_header,
            &mut s.event_context,
        ]
        .into_iter()
        .flatten()
        {
            class(c);
        }
        for e in &mut s.events {
            for c in [&mut e.context, &mut e.fields].into_iter().flatten() {
                class(c);
            }
        }
    }
}

fn round_trip(md: &Metadata) {
    let text = emit_metadata(md);
    let mut parsed = parse_metadata(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut want = md.clone();
    normalize(&mut parsed);
    normalize(&mut want);
    assert_eq!(parsed, want, "{text}");
}

#[test]
fn sample_models_round_trip_through_tsdl() {
    for t in samples::all().unwrap() {
        let text = match t.name {
            // Packetized: the text is inside packets; the others are plain text.
            "golden-packetized" | "discarded" => continue,
            _ => String::from_utf8(t.file("metadata").unwrap().to_vec()).unwrap(),
        };
        let mut parsed = parse_metadata(&text).unwrap_or_else(|e| panic!("{}: {e}", t.name));
        // Emitting the parsed model gives the same text again.
        let again = emit_metadata(&parsed);
        assert_eq!(again, text, "{}", t.name);
        normalize(&mut parsed);
        assert!(!parsed.streams.is_empty());
    }
    round_trip(&samples::golden_metadata(
        rttng_ctf::lttng::EventHeaderKind::Large,
    ));
    round_trip(&samples::golden_metadata(
        rttng_ctf::lttng::EventHeaderKind::Compact,
    ));
}

/// A field class shape; [`build`] turns it into members with unique names, adding the length
/// and tag members that sequences and variants need.
#[derive(Clone, Debug)]
enum Shape {
    Int {
        size: u32,
        align: u32,
        signed: bool,
        other_bo: bool,
        base: u8,
        text: bool,
    },
    Float {
        double: bool,
        align: u32,
        other_bo: bool,
    },
    Str {
        ascii: bool,
    },
    Enum {
        size: u32,
        signed: bool,
        labels: u8,
        two_ranges: bool,
    },
    Array(Box<Shape>, u8),
    Seq(Box<Shape>),
    Struct(Vec<Shape>, u32),
    Variant(Vec<Shape>),
}

fn leaf() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (
            1u32..=64,
            prop::sample::select(vec![1u32, 8, 16, 32, 64]),
            any::<bool>(),
            any::<bool>(),
            0u8..4,
            any::<bool>()
        )
            .prop_map(|(size, align, signed, other_bo, base, text)| Shape::Int {
                size,
                align,
                signed,
                other_bo,
                base,
                text: text && size == 8
            }),
        (
            any::<bool>(),
            prop::sample::select(vec![8u32, 32, 64]),
            any::<bool>()
        )
            .prop_map(|(double, align, other_bo)| Shape::Float {
                double,
                align,
                other_bo
            }),
        any::<bool>().prop_map(|ascii| Shape::Str { ascii }),
        (8u32..=32, any::<bool>(), 1u8..5, any::<bool>()).prop_map(
            |(size, signed, labels, two_ranges)| Shape::Enum {
                size,
                signed,
                labels,
                two_ranges
            }
        ),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), 0u8..4).prop_map(|(s, n)| Shape::Array(Box::new(s), n)),
            inner.clone().prop_map(|s| Shape::Seq(Box::new(s))),
            (
                prop::collection::vec(inner.clone(), 0..4),
                prop::sample::select(vec![1u32, 8, 32, 64])
            )
                .prop_map(|(m, a)| Shape::Struct(m, a)),
            prop::collection::vec(inner, 1..4).prop_map(Shape::Variant),
        ]
    })
}

struct Builder {
    bo: ByteOrder,
    next: u32,
}

impl Builder {
    fn name(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    fn int(&self, size: u32, align: u32, signed: bool, bo: ByteOrder) -> IntegerClass {
        IntegerClass {
            size_bits: size,
            align_bits: align,
            signed,
            byte_order: bo,
            base: DisplayBase::Decimal,
            encoding: Encoding::None,
            mapped_clock: None,
            role: None,
            store_slot: None,
        }
    }

    fn other(&self) -> ByteOrder {
        match self.bo {
            ByteOrder::Little => ByteOrder::Big,
            ByteOrder::Big => ByteOrder::Little,
        }
    }

    /// One class; shapes needing a sibling member are wrapped in a struct.
    fn single(&mut self, s: &Shape) -> FieldClass {
        let mut members = self.members(s);
        if members.len() == 1 {
            members.pop().unwrap().class
        } else {
            FieldClass::Struct(StructClass {
                members,
                min_align_bits: 1,
            })
        }
    }

    fn members(&mut self, s: &Shape) -> Vec<StructMember> {
        let name = self.name("_f");
        let class = match s {
            Shape::Int {
                size,
                align,
                signed,
                other_bo,
                base,
                text,
            } => {
                let bo = if *other_bo { self.other() } else { self.bo };
                let mut i = self.int(*size, *align, *signed, bo);
                i.base = [
                    DisplayBase::Binary,
                    DisplayBase::Octal,
                    DisplayBase::Decimal,
                    DisplayBase::Hexadecimal,
                ][*base as usize];
                if *text {
                    i.encoding = Encoding::Utf8;
                }
                FieldClass::Integer(i)
            }
            Shape::Float {
                double,
                align,
                other_bo,
            } => FieldClass::Float(FloatClass {
                exp_dig: if *double { 11 } else { 8 },
                mant_dig: if *double { 53 } else { 24 },
                align_bits: *align,
                byte_order: if *other_bo { self.other() } else { self.bo },
            }),
            Shape::Str { ascii } => FieldClass::String(StringClass {
                encoding: if *ascii {
                    Encoding::Ascii
                } else {
                    Encoding::Utf8
                },
            }),
            Shape::Enum {
                size,
                signed,
                labels,
                two_ranges,
            } => {
                let mut mappings: Vec<EnumMapping> = (0..*labels)
                    .map(|i| EnumMapping {
                        label: format!("L{i} x"),
                        ranges: vec![(i128::from(i), i128::from(i))],
                    })
                    .collect();
                if *two_ranges {
                    mappings[0].ranges.push((50, 60));
                }
                if *signed {
                    mappings.push(EnumMapping {
                        label: "NEG".to_string(),
                        ranges: vec![(-3, -2)],
                    });
                }
                FieldClass::Enum(EnumClass {
                    container: self.int(*size, 8, *signed, self.bo),
                    mappings,
                })
            }
            Shape::Array(e, n) => FieldClass::Array(ArrayClass {
                element: Box::new(self.single(e)),
                length: u64::from(*n),
            }),
            Shape::Seq(e) => {
                let len_name = self.name("_len");
                let element = Box::new(self.single(e));
                return vec![
                    StructMember {
                        name: len_name.clone(),
                        class: FieldClass::Integer(self.int(32, 8, false, self.bo)),
                    },
                    StructMember {
                        name,
                        class: FieldClass::Sequence(SequenceClass {
                            element,
                            length_ref: len_name,
                            length_slot: 0,
                        }),
                    },
                ];
            }
            Shape::Struct(m, align) => {
                let members = m.iter().flat_map(|s| self.members(s)).collect();
                FieldClass::Struct(StructClass {
                    members,
                    min_align_bits: *align,
                })
            }
            Shape::Variant(opts) => {
                let tag_name = self.name("_tag");
                let options: Vec<VariantOption> = opts
                    .iter()
                    .enumerate()
                    .map(|(i, o)| VariantOption {
                        name: format!("o{i}"),
                        class: self.single(o),
                    })
                    .collect();
                let mappings = (0..options.len())
                    .map(|i| EnumMapping {
                        label: format!("o{i}"),
                        ranges: vec![(i as i128, i as i128)],
                    })
                    .collect();
                let tag = EnumClass {
                    container: self.int(8, 8, false, self.bo),
                    mappings,
                };
                return vec![
                    StructMember {
                        name: tag_name.clone(),
                        class: FieldClass::Enum(tag),
                    },
                    StructMember {
                        name,
                        class: FieldClass::Variant(VariantClass {
                            tag_ref: tag_name,
                            tag_slot: 0,
                            tag_signed: false,
                            options,
                            selector: Vec::new(),
                        }),
                    },
                ];
            }
        };
        vec![StructMember { name, class }]
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_models_round_trip_through_tsdl(
        big_endian in any::<bool>(),
        packed in any::<bool>(),
        compact in any::<bool>(),
        payload in prop::collection::vec(shape(), 0..6),
        context in prop::collection::vec(shape(), 1..3),
    ) {
        use rttng_ctf::lttng::{event_class, monotonic_clock, EventHeaderKind, LttngLayout};
        let bo = if big_endian { ByteOrder::Big } else { ByteOrder::Little };
        let layout = LttngLayout { byte_order: bo, packed, clock_name: "monotonic".to_string() };
        let mut md = layout.metadata([3; 16], monotonic_clock(None, -5), vec![
            ("hostname".to_string(), EnvValue::Str("h \"q\"".to_string())),
            ("n".to_string(), EnvValue::Int(-7)),
        ]);
        let header = if compact { EventHeaderKind::Compact } else { EventHeaderKind::Large };
        let mut b = Builder { bo, next: 0 };
        let ctx = context.iter().flat_map(|s| b.members(s)).collect();
        let mut sc = layout.stream_class(0, header, Some(FieldClass::Struct(StructClass { members: ctx, min_align_bits: 1 })));
        let fields = payload.iter().flat_map(|s| b.members(s)).collect();
        let mut ev = event_class(0, 0, "p:e", Some(3), FieldClass::Struct(StructClass { members: fields, min_align_bits: 8 }));
        ev.model_emf_uri = Some("uri".to_string());
        sc.events.push(ev);
        sc.events.push(event_class(7, 0, "p:other", None, FieldClass::Struct(StructClass { members: vec![], min_align_bits: 1 })));
        md.streams.push(sc);
        round_trip(&md);
    }
}
