//! Validation of what clients and applications declare, before it reaches paths or shared
//! metadata: names (they end up in paths and in TSDL text as is), an app's clock, and its
//! field classes (sizes, alignments, array lengths, nesting, node counts, enum ranges,
//! duplicate names). An app is refused with a one-line reason if anything is off, so that
//! nothing an app says can make a trace unreadable for babeltrace2 or `rttng view`.
//! References (sequence lengths, variant tags) are checked by resolving the event's
//! metadata with rttng-ctf's TSDL resolver ([`resolves`]). Not here: channel attribute
//! checks (`attrs.rs`).

use crate::{err, MAX_APP_EVENTS, MAX_NAME_BYTES};
use rttng_ctf::ir::{FieldClass, IntegerClass};
use rttng_proto::{AppHello, ClockDesc, ErrorCode, Response};
use std::collections::BTreeSet;

/// Deepest nesting of an app's field class (struct in array in struct ...).
pub const MAX_CLASS_DEPTH: u32 = 16;
/// Most field-class nodes in one event's payload (or one channel's context).
pub const MAX_CLASS_NODES: usize = 4096;
/// Longest static array an app may declare.
pub const MAX_ARRAY_LENGTH: u64 = 1 << 16;
/// Largest fixed part of one event's payload (static arrays multiply out).
pub const MAX_STATIC_PAYLOAD_BYTES: u64 = 1 << 20;
/// Largest alignment of a field, in bits (a cache line).
pub const MAX_ALIGN_BITS: u32 = 512;
/// Highest clock frequency an app may declare (100 GHz).
pub const MAX_CLOCK_FREQ_HZ: u64 = 100_000_000_000;
/// Largest clock offset from the epoch, in seconds (2^33 s: its nanoseconds fit an i64).
pub const MAX_CLOCK_OFFSET_S: u64 = 1 << 33;
/// Longest clock description.
pub const MAX_CLOCK_DESCRIPTION_BYTES: usize = 1024;
/// Most mappings of one enum, and ranges of one mapping.
pub const MAX_ENUM_MAPPINGS: usize = 1024;

pub(crate) fn check_name(what: &str, name: &str) -> Result<(), Response> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.contains('/')
        || name.starts_with('.')
        || name.chars().any(char::is_control)
    {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("invalid {what} name {name:?}: it must be 1 to {MAX_NAME_BYTES} bytes, without '/', not starting with '.'"),
        ));
    }
    Ok(())
}

fn is_ident(s: &str) -> bool {
    let mut ch = s.chars();
    matches!(ch.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && ch.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && s.len() <= MAX_NAME_BYTES
}

fn is_quotable(s: &str, max_bytes: usize) -> bool {
    !s.is_empty()
        && s.len() <= max_bytes
        && !s.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

/// Checks everything an application declares in its hello: process name and bitness (they
/// go into paths), clock, tracepoint names and payloads. The events' metadata is resolved
/// as a reader would (see [`resolves`]).
pub fn validate_hello(h: &AppHello) -> Result<(), String> {
    check_name("process", &h.procname).map_err(|_| format!("bad process name {:?}", h.procname))?;
    if h.bitness != 32 && h.bitness != 64 {
        return Err(format!("bitness {} is neither 32 nor 64", h.bitness));
    }
    validate_clock(&h.clock)?;
    if h.events.len() > MAX_APP_EVENTS {
        return Err(format!(
            "{} tracepoints (at most {MAX_APP_EVENTS})",
            h.events.len()
        ));
    }
    for e in &h.events {
        if !is_quotable(&e.name, MAX_NAME_BYTES) {
            return Err(format!("bad tracepoint name {:?}", e.name));
        }
        let r = validate_class(&e.fields).and_then(|()| {
            if needs_resolution(&e.fields) {
                resolves(&h.clock, &e.name, &e.fields)
            } else {
                Ok(())
            }
        });
        r.map_err(|m| format!("tracepoint {}: {m}", e.name))?;
    }
    Ok(())
}

/// Checks an app's clock: an identifier name (it is referenced as `clock.NAME.value`), a
/// frequency in `1..=MAX_CLOCK_FREQ_HZ` (0 makes every reader refuse the trace), and an
/// offset whose nanoseconds fit an i64.
pub fn validate_clock(c: &ClockDesc) -> Result<(), String> {
    if !is_ident(&c.name) {
        return Err(format!("clock name {:?} is not an identifier", c.name));
    }
    if !c.description.is_empty() && !is_quotable(&c.description, MAX_CLOCK_DESCRIPTION_BYTES) {
        return Err(
            "clock description too long or with a quote, backslash or control character".into(),
        );
    }
    if c.freq == 0 || c.freq > MAX_CLOCK_FREQ_HZ {
        return Err(format!(
            "clock frequency {} Hz is not in 1..={MAX_CLOCK_FREQ_HZ}",
            c.freq
        ));
    }
    let offset_s = c
        .offset_s
        .unsigned_abs()
        .saturating_add(c.offset.unsigned_abs() / c.freq)
        .saturating_add(1);
    if offset_s > MAX_CLOCK_OFFSET_S {
        return Err(format!(
            "clock offset {} s + {} cycles is beyond {MAX_CLOCK_OFFSET_S} s",
            c.offset_s, c.offset
        ));
    }
    if c.precision > c.freq.saturating_mul(3600) {
        return Err(format!(
            "clock precision {} cycles is over an hour",
            c.precision
        ));
    }
    Ok(())
}

/// Checks an app-supplied field class (an event payload or a channel's context struct).
pub fn validate_class(c: &FieldClass) -> Result<(), String> {
    let mut nodes = 0;
    let bits = check_class(c, 0, &mut nodes)?;
    if bits > MAX_STATIC_PAYLOAD_BYTES * 8 {
        return Err(format!(
            "fixed payload of {} bytes (at most {MAX_STATIC_PAYLOAD_BYTES})",
            bits / 8
        ));
    }
    Ok(())
}

fn check_align(align_bits: u32) -> Result<(), String> {
    if !align_bits.is_power_of_two() || align_bits > MAX_ALIGN_BITS {
        return Err(format!(
            "alignment {align_bits} bits is not a power of two up to {MAX_ALIGN_BITS}"
        ));
    }
    Ok(())
}

fn check_int(i: &IntegerClass) -> Result<(), String> {
    if !(1..=64).contains(&i.size_bits) {
        return Err(format!("integer of {} bits", i.size_bits));
    }
    check_align(i.align_bits)?;
    if i.mapped_clock.is_some() {
        return Err("payload integers may not map to a clock".into());
    }
    if i.encoding != rttng_ctf::ir::Encoding::None && i.size_bits != 8 {
        return Err(format!("text integer of {} bits", i.size_bits));
    }
    Ok(())
}

/// Returns the class's fixed size in bits (saturating; sequences and strings count as
/// their fixed part only).
fn check_class(c: &FieldClass, depth: u32, nodes: &mut usize) -> Result<u64, String> {
    if depth > MAX_CLASS_DEPTH {
        return Err(format!("field class nested deeper than {MAX_CLASS_DEPTH}"));
    }
    *nodes += 1;
    if *nodes > MAX_CLASS_NODES {
        return Err(format!("more than {MAX_CLASS_NODES} field classes"));
    }
    let unique = |names: &mut dyn Iterator<Item = &String>, what: &str| {
        let mut seen = BTreeSet::new();
        for n in names {
            if !is_ident(n) {
                return Err(format!("{what} {n:?} is not an identifier"));
            }
            if !seen.insert(n.as_str()) {
                return Err(format!("{what} {n:?} appears twice"));
            }
        }
        Ok(())
    };
    match c {
        FieldClass::Integer(i) => {
            check_int(i)?;
            Ok(u64::from(i.size_bits))
        }
        FieldClass::Float(f) => {
            check_align(f.align_bits)?;
            Ok(u64::from(f.exp_dig + f.mant_dig))
        }
        FieldClass::String(_) => Ok(8),
        FieldClass::Enum(e) => {
            check_int(&e.container)?;
            if e.mappings.is_empty() || e.mappings.len() > MAX_ENUM_MAPPINGS {
                return Err(format!(
                    "enum with {} labels (1 to {MAX_ENUM_MAPPINGS})",
                    e.mappings.len()
                ));
            }
            let mut labels = BTreeSet::new();
            for m in &e.mappings {
                if !is_quotable(&m.label, MAX_NAME_BYTES) || !labels.insert(m.label.as_str()) {
                    return Err(format!("enum label {:?} is empty, repeated, too long or has a quote, backslash or control character", m.label));
                }
                if m.ranges.is_empty() || m.ranges.len() > MAX_ENUM_MAPPINGS {
                    return Err(format!(
                        "enum label {:?} with {} ranges",
                        m.label,
                        m.ranges.len()
                    ));
                }
                // Ranges outside the container (or reversed) are kept as written, as
                // babeltrace2 does: lttng-ust's `ctf_enum_auto` after a label at the
                // container's maximum writes one (`AFTER_MAX = 256` in a uint8 enum).
            }
            Ok(u64::from(e.container.size_bits))
        }
        FieldClass::Array(a) => {
            if a.length > MAX_ARRAY_LENGTH {
                return Err(format!(
                    "array of {} elements (at most {MAX_ARRAY_LENGTH})",
                    a.length
                ));
            }
            let each = check_class(&a.element, depth + 1, nodes)?;
            Ok(each.saturating_mul(a.length))
        }
        FieldClass::Sequence(s) => {
            if !is_ident(&s.length_ref) {
                return Err(format!(
                    "sequence length {:?} is not an identifier",
                    s.length_ref
                ));
            }
            check_class(&s.element, depth + 1, nodes)?;
            Ok(0)
        }
        FieldClass::Struct(s) => {
            check_align(s.min_align_bits)?;
            unique(&mut s.members.iter().map(|m| &m.name), "field name")?;
            let mut bits = 0u64;
            for m in &s.members {
                bits = bits.saturating_add(check_class(&m.class, depth + 1, nodes)?);
            }
            Ok(bits)
        }
        FieldClass::Variant(v) => {
            if !is_ident(&v.tag_ref) {
                return Err(format!("variant tag {:?} is not an identifier", v.tag_ref));
            }
            if v.options.is_empty() {
                return Err("variant without options".into());
            }
            unique(&mut v.options.iter().map(|o| &o.name), "variant option")?;
            let mut bits = 0u64;
            for o in &v.options {
                bits = bits.max(check_class(&o.class, depth + 1, nodes)?);
            }
            Ok(bits)
        }
    }
}

/// Whether a class holds references (sequence lengths, variant tags) that only resolving
/// the metadata can check.
fn needs_resolution(c: &FieldClass) -> bool {
    match c {
        FieldClass::Sequence(_) | FieldClass::Variant(_) => true,
        FieldClass::Array(a) => needs_resolution(&a.element),
        FieldClass::Struct(s) => s.members.iter().any(|m| needs_resolution(&m.class)),
        _ => false,
    }
}

/// Resolves event `name` with payload `fields` as a reader would: the metadata of a trace
/// with the app's clock, one stream and this one event must parse and resolve.
fn resolves(clock: &ClockDesc, name: &str, fields: &FieldClass) -> Result<(), String> {
    let (mut md, mut text) =
        crate::metadata::TraceMetadata::new([0; 16], crate::apps::clock_class(clock), Vec::new());
    text += &md.add_stream(0, None).map_err(|e| e.to_string())?;
    text += &md
        .event_id(0, name, 0, fields)
        .map_err(|e| e.to_string())?
        .1;
    rttng_ctf::tsdl::parse_metadata(&text)
        .map(|_| ())
        .map_err(|e| format!("its metadata does not resolve: {e}"))
}

pub(crate) fn field_kind(c: &FieldClass) -> &'static str {
    match c {
        FieldClass::Integer(_) => "integer",
        FieldClass::Float(_) => "float",
        FieldClass::Enum(_) => "enum",
        FieldClass::String(_) => "string",
        FieldClass::Array(a) if a.element.is_text_element() => "string",
        FieldClass::Sequence(s) if s.element.is_text_element() => "string",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rttng_ctf::ir::{
        sint_class, struct_class, ArrayClass, ByteOrder, SequenceClass, StructClass, StructMember,
    };
    use rttng_proto::EventDesc;

    fn int(bits: u32) -> FieldClass {
        FieldClass::Integer(sint_class(bits, 8, ByteOrder::Little))
    }

    fn hello(fields: FieldClass) -> AppHello {
        AppHello {
            pid: 1,
            uid: 1000,
            procname: "app".into(),
            bitness: 64,
            clock: ClockDesc {
                name: "monotonic".into(),
                description: "Monotonic Clock".into(),
                freq: 1_000_000_000,
                offset_s: 1_700_000_000,
                offset: 5,
                precision: 0,
                uuid: None,
                absolute: false,
            },
            events: vec![EventDesc {
                index: 0,
                name: "p:e".into(),
                loglevel: 13,
                fields,
            }],
        }
    }

    fn string_seq() -> FieldClass {
        let FieldClass::Integer(mut len) = int(32) else {
            unreachable!()
        };
        len.signed = false;
        let FieldClass::Integer(mut ch) = int(8) else {
            unreachable!()
        };
        ch.encoding = rttng_ctf::ir::Encoding::Utf8;
        FieldClass::Struct(StructClass {
            members: vec![
                StructMember {
                    name: "__msg_length".into(),
                    class: FieldClass::Integer(len),
                },
                StructMember {
                    name: "_msg".into(),
                    class: FieldClass::Sequence(SequenceClass {
                        element: Box::new(FieldClass::Integer(ch)),
                        length_ref: "__msg_length".into(),
                        length_slot: 0,
                    }),
                },
            ],
            min_align_bits: 8,
        })
    }

    #[test]
    fn a_sane_hello_passes_and_each_absurdity_is_refused() {
        assert_eq!(validate_hello(&hello(string_seq())), Ok(()));
        let refused = |h: AppHello, why: &str| {
            let e = validate_hello(&h).expect_err(why);
            assert!(e.contains(why), "{e}");
        };
        let mut h = hello(string_seq());
        h.clock.freq = 0;
        refused(h, "clock frequency 0");
        let mut h = hello(string_seq());
        h.clock.offset_s = i64::MIN;
        refused(h, "clock offset");
        let mut h = hello(string_seq());
        h.clock.name = "a b".into();
        refused(h, "not an identifier");
        let mut h = hello(string_seq());
        h.bitness = 7;
        refused(h, "bitness 7");
        let array = |n| {
            FieldClass::Array(ArrayClass {
                element: Box::new(int(8)),
                length: n,
            })
        };
        refused(
            hello(struct_class(vec![("_a", array(1 << 63))], 8)),
            "array of",
        );
        let mut deep = int(8);
        for _ in 0..=MAX_CLASS_DEPTH {
            deep = struct_class(vec![("_x", deep)], 8);
        }
        refused(hello(deep), "nested deeper");
        refused(
            hello(struct_class(vec![("_a", int(8)), ("_a", int(8))], 8)),
            "appears twice",
        );
        let mut seq = string_seq();
        if let FieldClass::Struct(s) = &mut seq {
            s.members.remove(0);
        }
        refused(hello(seq), "does not resolve");
        let FieldClass::Integer(mut wide) = int(8) else {
            unreachable!()
        };
        wide.align_bits = 1 << 16;
        refused(
            hello(struct_class(vec![("_a", FieldClass::Integer(wide))], 8)),
            "alignment",
        );
    }
}
