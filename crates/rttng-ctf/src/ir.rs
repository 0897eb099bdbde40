//! The CTF 1.8 trace model: what a metadata stream declares, after parsing and resolution.
//!
//! This is the contract between the TSDL parser (`tsdl`), the TSDL emitter (`emit`), the packet
//! decoder (`decode`) and the packet encoder (`encode`). It holds no bytes of any packet and does
//! no I/O. Field names are kept exactly as the metadata spells them (`_my_int`); readers that show
//! names strip one leading underscore with [`display_name`].

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
/// way babeltrace2 assigns "meanings" (`ctf-meta-update-meanings.c`); see [`Metadata::assign_roles`].
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
    /// Set by [`Metadata::assign_roles`]; `None` straight out of the parser.
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

/// Strip exactly one leading underscore, as babeltrace2 does for every field and option name.
pub fn display_name(name: &str) -> &str {
    name.strip_prefix('_').unwrap_or(name)
}

#[derive(Clone, Debug, PartialEq)]
pub enum EnvValue {
    Int(i64),
    Str(String),
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

#[derive(Clone, Debug, PartialEq)]
pub struct TraceClass {
    pub major: u32,
    pub minor: u32,
    pub uuid: Option<[u8; 16]>,
    pub byte_order: ByteOrder,
    /// A struct.
    pub packet_header: Option<FieldClass>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventClass {
    pub id: u64,
    pub name: String,
    pub stream_id: u64,
    pub loglevel: Option<i64>,
    pub model_emf_uri: Option<String>,
    /// `context := struct {...}` (event-specific context), a struct.
    pub context: Option<FieldClass>,
    /// `fields := struct {...}` (payload), a struct.
    pub fields: Option<FieldClass>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamClass {
    pub id: u64,
    /// Each a struct.
    pub packet_context: Option<FieldClass>,
    pub event_header: Option<FieldClass>,
    pub event_context: Option<FieldClass>,
    /// In declaration order.
    pub events: Vec<EventClass>,
}

impl StreamClass {
    pub fn event(&self, id: u64) -> Option<&EventClass> {
        // Event ids are usually dense from 0; fall back to a search.
        match self.events.get(id as usize) {
            Some(e) if e.id == id => Some(e),
            _ => self.events.iter().find(|e| e.id == id),
        }
    }
}

/// A whole metadata stream, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub trace: TraceClass,
    /// In declaration order.
    pub env: Vec<(String, EnvValue)>,
    pub clocks: Vec<ClockClass>,
    /// In declaration order. A trace with no `stream` block gets one implicit stream class id 0.
    pub streams: Vec<StreamClass>,
    /// Number of value slots the resolver handed out (see [`IntegerClass::store_slot`]).
    pub slot_count: u32,
}

impl Metadata {
    pub fn stream(&self, id: u64) -> Option<&StreamClass> {
        self.streams.iter().find(|s| s.id == id)
    }

    pub fn env_str(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                EnvValue::Str(s) => Some(s.as_str()),
                EnvValue::Int(_) => None,
            })
    }

    pub fn clock(&self, name: &str) -> Option<&ClockClass> {
        self.clocks.iter().find(|c| c.name == name)
    }
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
