//! Why the stream writer refused an operation. Not here: the writer itself (`writer.rs`).

use crate::encode::EncodeError;

/// Why the writer refused an operation. Nothing is written when an error is returned.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteError {
    /// The metadata has no stream class with this id.
    UnknownStreamClass { stream_class_id: u64 },
    /// The stream class has no event class with this id.
    UnknownEventClass {
        stream_class_id: u64,
        event_class_id: u64,
    },
    /// `append_event`/`close_packet` without an open packet.
    NoOpenPacket,
    /// `open_packet` while a packet is open.
    PacketAlreadyOpen,
    /// A packet header or context field the writer cannot fill and the caller did not supply.
    MissingField { scope: &'static str, field: String },
    /// A scope value was given for a scope the class does not declare, or is missing.
    ScopeMismatch { scope: &'static str, declared: bool },
    /// A header field has a shape the writer does not know how to fill.
    UnsupportedHeaderField { scope: &'static str, field: String },
    /// The event id does not fit the header and the header has no extended form.
    EventIdDoesNotFit { event_class_id: u64 },
    /// The header has no extended form for a timestamp that the compact form cannot carry.
    TimestampNeedsExtendedHeader { timestamp: u64 },
    /// The trace declares no uuid but the packet header has a `uuid` field.
    NoTraceUuid,
    /// Timestamps must not go backwards within a packet.
    TimestampBeforePrevious { timestamp: u64, previous: u64 },
    /// The content does not fit the requested packet size (or [`MAX_PACKET_BYTES`]).
    PacketTooSmall { content_bits: u64, packet_bits: u64 },
    /// A value did not fit its field class.
    Encode {
        scope: &'static str,
        source: EncodeError,
    },
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::UnknownStreamClass { stream_class_id } => {
                write!(f, "no stream class with id {stream_class_id}")
            }
            WriteError::UnknownEventClass {
                stream_class_id,
                event_class_id,
            } => {
                write!(
                    f,
                    "stream class {stream_class_id} has no event class with id {event_class_id}"
                )
            }
            WriteError::NoOpenPacket => write!(f, "no packet is open"),
            WriteError::PacketAlreadyOpen => write!(f, "a packet is already open"),
            WriteError::MissingField { scope, field } => {
                write!(f, "{scope}: no value for field `{field}`")
            }
            WriteError::ScopeMismatch {
                scope,
                declared: true,
            } => write!(f, "{scope}: declared but no value given"),
            WriteError::ScopeMismatch {
                scope,
                declared: false,
            } => {
                write!(f, "{scope}: value given but the scope is not declared")
            }
            WriteError::UnsupportedHeaderField { scope, field } => {
                write!(f, "{scope}: the writer cannot fill field `{field}`")
            }
            WriteError::EventIdDoesNotFit { event_class_id } => {
                write!(f, "event id {event_class_id} does not fit the event header")
            }
            WriteError::TimestampNeedsExtendedHeader { timestamp } => {
                write!(
                    f,
                    "timestamp {timestamp} needs an extended event header, which this stream lacks"
                )
            }
            WriteError::NoTraceUuid => write!(
                f,
                "packet header has a uuid field but the trace has no uuid"
            ),
            WriteError::TimestampBeforePrevious {
                timestamp,
                previous,
            } => {
                write!(
                    f,
                    "timestamp {timestamp} is before the previous one {previous}"
                )
            }
            WriteError::PacketTooSmall {
                content_bits,
                packet_bits,
            } => {
                write!(
                    f,
                    "content of {content_bits} bits does not fit a packet of {packet_bits} bits"
                )
            }
            WriteError::Encode { scope, source } => write!(f, "{scope}: {source}"),
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::Encode { source, .. } => Some(source),
            _ => None,
        }
    }
}
