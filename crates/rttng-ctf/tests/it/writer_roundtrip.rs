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
                prop_assert_eq!(w.byte_order_conflict(bo), w.pos_bits() % 8 != 0);
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
        rttng_ctf::writer::EventHeaderKind::Large,
    ));
    round_trip(&samples::golden_metadata(
        rttng_ctf::writer::EventHeaderKind::Compact,
    ));
}
