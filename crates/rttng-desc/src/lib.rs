//! Field and clock descriptors: the type vocabulary an instrumented application compiles in
//! and sends to the session daemon. Integers (size, alignment, sign, byte order, base,
//! encoding), floats, enums, strings, arrays, sequences, structs and variants describe an
//! event's payload and contexts; [`ClockClass`] describes the clock its timestamps count. Also
//! the UUID text form and LTTng's log level names, which apps and daemons share.
//!
//! This crate is what the application side of rttng (rttng-ust, the drop-in LTTng-UST
//! libraries, rttng-proto's app messages, rttng-clock) needs of CTF, and nothing more: it does
//! no I/O, and deliberately holds no trace model (trace, stream and event classes, metadata:
//! `rttng_ctf::ir`), no TSDL parser or emitter and no packet encoder or decoder (all in
//! rttng-ctf, which re-exports these types as `rttng_ctf::ir::*`, so both crates name the same
//! types). A few fields (`role`, `store_slot`, `length_slot`, `tag_slot`, `selector`) are
//! filled by rttng-ctf's resolver when it reads metadata; descriptors an app builds leave them
//! empty. Field names are kept exactly as the metadata spells them (`_my_int`).
#![forbid(unsafe_code)]

use std::fmt::Write as _;

/// Byte order of an integer or float field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// The byte order of the machine this code runs on.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
}

/// Text encoding of a string, or of an 8-bit integer array/sequence shown as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    None,
    Utf8,
    Ascii,
}

/// Preferred display base of an integer (`base = 16;` etc.).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisplayBase {
    Binary,
    Octal,
    Decimal,
    Hexadecimal,
}

/// What the decoder must do with an integer beyond showing it. Assigned by name and scope, the
/// way babeltrace2 assigns "meanings" (`ctf-meta-update-meanings.c`); see `rttng_ctf::ir::Metadata::assign_roles`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntRole {
    /// `trace.packet.header.magic`
    PacketMagic,
    /// `trace.packet.header.stream_id`
    StreamClassId,
    /// `trace.packet.header.stream_instance_id`
    StreamInstanceId,
    /// `stream.packet.context.timestamp_begin`
    PacketBeginTimestamp,
    /// `stream.packet.context.timestamp_end`
    PacketEndTimestamp,
    /// `stream.packet.context.content_size` (bits)
    PacketContentSize,
    /// `stream.packet.context.packet_size` (bits)
    PacketTotalSize,
    /// `stream.packet.context.events_discarded` (cumulative)
    DiscardedEventCounter,
    /// `stream.packet.context.packet_seq_num`
    PacketSequenceNumber,
    /// An `id` field of `stream.event.header` (the last one decoded wins).
    EventClassId,
    /// An integer mapped to a clock, whose value updates the stream's current clock value.
    DefaultClockTimestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IntegerClass {
    /// 1..=64
    pub size_bits: u32,
    /// Alignment in bits, a power of two.
    pub align_bits: u32,
    pub signed: bool,
    pub byte_order: ByteOrder,
    pub base: DisplayBase,
    pub encoding: Encoding,
    /// `map = clock.NAME.value;`: the clock name.
    pub mapped_clock: Option<String>,
    /// Set by `rttng_ctf::ir::Metadata::assign_roles`; `None` straight out of the parser.
    pub role: Option<IntRole>,
    /// Set by the resolver when a sequence length or variant tag refers to this field: the decoder
    /// stores each decoded value of this field into slot `store_slot` of its per-event value
    /// table, and the referring sequence/variant reads it back.
    pub store_slot: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FloatClass {
    /// 8 for f32, 11 for f64 (babeltrace2 accepts only these two).
    pub exp_dig: u32,
    /// 24 for f32, 53 for f64 (includes the implicit bit).
    pub mant_dig: u32,
    pub align_bits: u32,
    pub byte_order: ByteOrder,
}

impl FloatClass {
    pub fn size_bits(&self) -> u32 {
        self.exp_dig + self.mant_dig
    }
}

/// One label of an enum, with every range it covers (`"A" = 0`, `"B" = 1 ... 2`).
#[derive(Clone, Debug, PartialEq)]
pub struct EnumMapping {
    pub label: String,
    /// Inclusive ranges. i128 holds both signed and unsigned 64-bit containers.
    pub ranges: Vec<(i128, i128)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumClass {
    pub container: IntegerClass,
    /// In declaration order.
    pub mappings: Vec<EnumMapping>,
}

impl EnumClass {
    /// Labels whose ranges contain `value`, in declaration order.
    pub fn labels_for(&self, value: i128) -> impl Iterator<Item = &str> {
        self.mappings
            .iter()
            .filter(move |m| m.ranges.iter().any(|&(lo, hi)| lo <= value && value <= hi))
            .map(|m| m.label.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StringClass {
    pub encoding: Encoding,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArrayClass {
    pub element: Box<FieldClass>,
    pub length: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SequenceClass {
    pub element: Box<FieldClass>,
    /// The length expression as written in the metadata (`__seq_length`,
    /// `stream.event.context.len`), kept for the emitter.
    pub length_ref: String,
    /// Resolved: the slot of the unsigned integer holding the length.
    pub length_slot: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StructMember {
    /// As written in the metadata, e.g. `_my_int`.
    pub name: String,
    pub class: FieldClass,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StructClass {
    pub members: Vec<StructMember>,
    /// The explicit `align(N)` suffix in bits, 1 when absent. The effective alignment is the
    /// maximum of this and the members' alignments (see [`FieldClass::align_bits`]).
    pub min_align_bits: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantOption {
    /// As written in the metadata.
    pub name: String,
    pub class: FieldClass,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantClass {
    /// The tag expression as written (`<id>`, `<_tag>`, `<stream.event.header.id>`).
    pub tag_ref: String,
    /// Resolved: the slot of the enum holding the tag.
    pub tag_slot: u32,
    /// Whether the tag enum's container is signed (how to read the slot value).
    pub tag_signed: bool,
    pub options: Vec<VariantOption>,
    /// Resolved: tag value ranges (inclusive) to the index in `options` they select, built from
    /// the tag enum's mappings matched to option names.
    pub selector: Vec<(i128, i128, u32)>,
}

impl VariantClass {
    /// Index of the option selected by tag value `tag`, if any.
    pub fn select(&self, tag: i128) -> Option<usize> {
        self.selector
            .iter()
            .find(|&&(lo, hi, _)| lo <= tag && tag <= hi)
            .map(|&(_, _, i)| i as usize)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldClass {
    Integer(IntegerClass),
    Float(FloatClass),
    Enum(EnumClass),
    String(StringClass),
    Array(ArrayClass),
    Sequence(SequenceClass),
    Struct(StructClass),
    Variant(VariantClass),
}

impl FieldClass {
    /// Alignment in bits of a field of this class (CTF 1.8 §4).
    pub fn align_bits(&self) -> u32 {
        match self {
            FieldClass::Integer(i) => i.align_bits,
            FieldClass::Float(f) => f.align_bits,
            FieldClass::Enum(e) => e.container.align_bits,
            FieldClass::String(_) => 8,
            FieldClass::Array(a) => a.element.align_bits(),
            FieldClass::Sequence(s) => s.element.align_bits(),
            FieldClass::Struct(s) => s
                .members
                .iter()
                .map(|m| m.class.align_bits())
                .fold(s.min_align_bits, u32::max),
            // A variant is aligned like its selected option; it has no alignment of its own.
            FieldClass::Variant(_) => 1,
        }
    }

    /// For an array or sequence: is it shown as text (8-bit integer elements with an encoding)?
    pub fn is_text_element(&self) -> bool {
        matches!(self, FieldClass::Integer(i) if i.size_bits == 8 && i.encoding != Encoding::None)
    }

    pub fn as_struct(&self) -> Option<&StructClass> {
        match self {
            FieldClass::Struct(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClockClass {
    pub name: String,
    pub uuid: Option<[u8; 16]>,
    pub description: Option<String>,
    /// Hz; CTF default 1_000_000_000.
    pub freq: u64,
    pub offset_s: i64,
    /// Cycles.
    pub offset: i64,
    pub precision: u64,
    pub absolute: bool,
}

impl FieldClass {
    /// Whether babeltrace2 keeps a field of this class in its trace IR, and so shows it
    /// (`ctf-meta-update-in-ir.c`). Integers mapped to a clock or carrying a role (magic, sizes,
    /// ids, timestamps) are consumed by the decoder and hidden, unless a sequence or variant
    /// refers to them. Compound classes are shown when any child is.
    pub fn in_ir(&self) -> bool {
        match self {
            FieldClass::Integer(i) => i.in_ir(),
            FieldClass::Enum(e) => e.container.in_ir(),
            // babeltrace2 shows an empty struct (`padding = { }`).
            FieldClass::Struct(s) => {
                s.members.is_empty() || s.members.iter().any(|m| m.class.in_ir())
            }
            FieldClass::Variant(v) => v.options.iter().any(|o| o.class.in_ir()),
            FieldClass::Array(a) => a.element.in_ir(),
            FieldClass::Sequence(s) => s.element.in_ir(),
            FieldClass::Float(_) | FieldClass::String(_) => true,
        }
    }
}

impl IntegerClass {
    fn in_ir(&self) -> bool {
        (self.mapped_clock.is_none() && self.role.is_none()) || self.store_slot.is_some()
    }
}

// ---------------------------------------------------------------------------------------------
// Field class builders

/// An unsigned decimal integer class.
pub fn uint_class(size_bits: u32, align_bits: u32, byte_order: ByteOrder) -> IntegerClass {
    IntegerClass {
        size_bits,
        align_bits,
        signed: false,
        byte_order,
        base: DisplayBase::Decimal,
        encoding: Encoding::None,
        mapped_clock: None,
        role: None,
        store_slot: None,
    }
}

/// A signed decimal integer class.
pub fn sint_class(size_bits: u32, align_bits: u32, byte_order: ByteOrder) -> IntegerClass {
    IntegerClass {
        signed: true,
        ..uint_class(size_bits, align_bits, byte_order)
    }
}

/// A struct class from `(name, class)` pairs.
pub fn struct_class(members: Vec<(&str, FieldClass)>, min_align_bits: u32) -> FieldClass {
    FieldClass::Struct(StructClass {
        members: members
            .into_iter()
            .map(|(n, c)| StructMember {
                name: n.to_string(),
                class: c,
            })
            .collect(),
        min_align_bits,
    })
}

/// An enum class from `(label, lo, hi)` ranges; ranges of one label are merged into one mapping.
pub fn enum_class(container: IntegerClass, ranges: &[(&str, i128, i128)]) -> EnumClass {
    let mut mappings: Vec<EnumMapping> = Vec::new();
    for &(label, lo, hi) in ranges {
        match mappings.iter_mut().find(|m| m.label == label) {
            Some(m) => m.ranges.push((lo, hi)),
            None => mappings.push(EnumMapping {
                label: label.to_string(),
                ranges: vec![(lo, hi)],
            }),
        }
    }
    EnumClass {
        container,
        mappings,
    }
}

/// A variant class with its selector filled from the tag enum (as a resolver would).
pub fn variant_class(
    tag_ref: &str,
    tag: &EnumClass,
    options: Vec<(&str, FieldClass)>,
) -> FieldClass {
    let options: Vec<VariantOption> = options
        .into_iter()
        .map(|(n, c)| VariantOption {
            name: n.to_string(),
            class: c,
        })
        .collect();
    let mut selector = Vec::new();
    for m in &tag.mappings {
        if let Some(i) = options
            .iter()
            .position(|o| o.name == m.label || o.name.strip_prefix('_') == Some(&m.label))
        {
            for &(lo, hi) in &m.ranges {
                selector.push((lo, hi, i as u32));
            }
        }
    }
    FieldClass::Variant(VariantClass {
        tag_ref: tag_ref.to_string(),
        tag_slot: 0,
        tag_signed: tag.container.signed,
        options,
        selector,
    })
}

// ---------------------------------------------------------------------------------------------
// UUIDs and log levels

/// Parses a UUID's text form (`2a6422d0-6cee-11e0-8c08-cb07d7b3a564`, groups of 8-4-4-4-12 hex
/// digits), as TSDL and the kernel's boot id write it.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
    let groups: Vec<usize> = s.split('-').map(str::len).collect();
    if hex.len() != 32 || groups != [8, 4, 4, 4, 12] {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// Format a UUID the usual way (`2a6422d0-6cee-11e0-8c08-cb07d7b3a564`).
pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// LTTng-UST's log level names, most severe first: the index is the number the metadata's
/// `loglevel = N;` carries. babeltrace2 prints them with a `TRACE_` prefix, lttng's CLI takes
/// them with or without it.
pub const LOGLEVEL_NAMES: [&str; 15] = [
    "EMERG",
    "ALERT",
    "CRIT",
    "ERR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG_SYSTEM",
    "DEBUG_PROGRAM",
    "DEBUG_PROCESS",
    "DEBUG_MODULE",
    "DEBUG_UNIT",
    "DEBUG_FUNCTION",
    "DEBUG_LINE",
    "DEBUG",
];
