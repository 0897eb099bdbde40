//! The CTF 1.8 trace model: what a metadata stream declares, after parsing and resolution.
//!
//! This is the contract between the TSDL parser (`tsdl`), the TSDL emitter (`emit`), the packet
//! decoder (`decode`) and the packet encoder (`encode`). It holds no bytes of any packet and does
//! no I/O. The field and clock classes are rttng-desc's descriptors (re-exported here: the
//! application side names them without linking this crate); the trace, stream and event classes
//! and the whole [`Metadata`] are here. Field names are kept exactly as the metadata spells them
//! (`_my_int`); readers that show names strip one leading underscore with [`display_name`].

pub use rttng_desc::{
    enum_class, sint_class, struct_class, uint_class, variant_class, ArrayClass, ByteOrder,
    ClockClass, DisplayBase, Encoding, EnumClass, EnumMapping, FieldClass, FloatClass, IntRole,
    IntegerClass, SequenceClass, StringClass, StructClass, StructMember, VariantClass,
    VariantOption,
};

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
