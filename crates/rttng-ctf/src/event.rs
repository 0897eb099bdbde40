//! Decoded event records: the values the packet decoder produces and every consumer (text
//! printer, counters, analyses) reads.
//!
//! Values are stored flat, in pre-order, parallel to the field class tree, so decoding an event
//! allocates nothing once the value buffer has grown to fit. Strings are byte ranges into the
//! packet, never copies.

use crate::ir::{ClockClass, EventClass, FieldClass, Metadata, StreamClass};

/// One decoded value. A scope's values are a pre-order walk of its field class:
/// - `Integer` → `UInt` or `SInt` (by signedness); `Enum` → the same, of its container;
/// - `Float` → `Float`;
/// - `String`, and an `Array`/`Sequence` of 8-bit integers with an encoding → `Str` (the bytes
///   before the first NUL, or the whole array/sequence when it holds none);
/// - other `Array`/`Sequence` → `List(n)` followed by the values of its `n` elements;
/// - `Struct` → `Struct` followed by the values of each member, in order;
/// - `Variant` → `Variant(i)` (index of the selected option) followed by that option's values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    UInt(u64),
    SInt(i64),
    Float(f64),
    /// Byte range `start..end` of [`EventView::bytes`].
    Str {
        start: u32,
        end: u32,
    },
    List(u32),
    Variant(u32),
    Struct,
}

/// The clock value of an event, when its stream class has a default clock.
#[derive(Clone, Copy, Debug)]
pub struct ClockSnapshot<'a> {
    pub clock: &'a ClockClass,
    /// Raw clock value (cycles).
    pub cycles: u64,
    /// Nanoseconds from the Unix epoch (the clock's origin), as babeltrace2 computes it.
    pub ns_from_origin: i64,
}

/// One decoded scope: its class and its values.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub class: &'a FieldClass,
    pub values: &'a [Val],
}

/// Everything a consumer needs to show one event record.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    pub metadata: &'a Metadata,
    pub stream_class: &'a StreamClass,
    pub event_class: &'a EventClass,
    /// The bytes [`Val::Str`] ranges index into (the packet).
    pub bytes: &'a [u8],
    pub clock: Option<ClockSnapshot<'a>>,
    /// `stream.packet.context`
    pub packet_context: Option<Scope<'a>>,
    /// `stream.event.header`
    pub event_header: Option<Scope<'a>>,
    /// `stream.event.context` (babeltrace2: "common context")
    pub stream_event_context: Option<Scope<'a>>,
    /// `event.context` (babeltrace2: "specific context")
    pub event_context: Option<Scope<'a>>,
    /// `event.fields` (payload)
    pub payload: Option<Scope<'a>>,
}

impl<'a> EventView<'a> {
    pub fn str_bytes(&self, start: u32, end: u32) -> &'a [u8] {
        &self.bytes[start as usize..end as usize]
    }
}
