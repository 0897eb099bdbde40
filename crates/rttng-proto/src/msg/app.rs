//! app ↔ sessiond: an application's hello and run-time events, the daemon's commands and the
//! app's replies. Not here: the shared-memory layout (rttng-abi) or the app's side (rttng-ust).

use super::*;
use crate::wire::{Dec, DecodeError, Enc, Wire};
use crate::wire_struct;
use rttng_desc::FieldClass;

/// The clock the application stamps events with (becomes the trace's `clock` block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockDesc {
    pub name: String,
    pub description: String,
    pub freq: u64,
    pub offset_s: i64,
    pub offset: i64,
    pub precision: u64,
    pub uuid: Option<[u8; 16]>,
    pub absolute: bool,
}
wire_struct!(ClockDesc {
    name,
    description,
    freq,
    offset_s,
    offset,
    precision,
    uuid,
    absolute
});

/// One tracepoint of the application.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDesc {
    /// The application's own index, used in [`AppCommand::Enable`].
    pub index: u32,
    /// `provider:event`.
    pub name: String,
    pub loglevel: i32,
    /// The payload struct.
    pub fields: FieldClass,
}
wire_struct!(EventDesc {
    index,
    name,
    loglevel,
    fields
});

/// First message of an application after connecting.
#[derive(Debug, Clone, PartialEq)]
pub struct AppHello {
    pub pid: u32,
    pub uid: u32,
    pub procname: String,
    /// 64 or 32.
    pub bitness: u32,
    pub clock: ClockDesc,
    pub events: Vec<EventDesc>,
}
wire_struct!(AppHello {
    pid,
    uid,
    procname,
    bitness,
    clock,
    events
});

/// Tracepoints an application registered after its hello (providers of a library it
/// loaded later, or whose constructor ran after the tracer's). Sent on a connection of its
/// own, only after the main connection's `RegistrationDone`; the daemon finds the app by
/// the connection's credentials (pid, uid). Indexes continue the hello's.
#[derive(Debug, Clone, PartialEq)]
pub struct AppEvents {
    pub events: Vec<EventDesc>,
}
wire_struct!(AppEvents { events });

/// What the session daemon asks an application to do. The application answers every
/// command with one [`AppReply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCommand {
    /// Map the ring buffer passed with this message (one fd) for channel `key`.
    InstallChannel {
        key: ChannelKey,
        stream_class_id: u32,
        contexts: Vec<ContextType>,
    },
    RemoveChannel {
        key: ChannelKey,
    },
    Enable {
        event_index: u32,
        key: ChannelKey,
        event_class_id: u32,
    },
    Disable {
        event_index: u32,
        key: ChannelKey,
    },
    /// Close every open packet of every channel.
    FlushAll,
    /// The initial state is applied: the application may go on with `main`.
    RegistrationDone,
    /// Event `event_index` records into channel `key` only when one of `programs` (encoded
    /// `rttng_filter::Program`s, each at most `rttng_filter::MAX_PROGRAM_BYTES`) accepts it;
    /// none = no filter. Holds for this (event, channel) until replaced, also across
    /// `Disable`/`Enable`; sent before the `Enable` it applies to. Minor version 1.
    SetFilter {
        event_index: u32,
        key: ChannelKey,
        programs: Vec<Vec<u8>>,
    },
}
wire_enum!(AppCommand, "app command" {
    0 => InstallChannel { key, stream_class_id, contexts },
    1 => RemoveChannel { key },
    2 => Enable { event_index, key, event_class_id },
    3 => Disable { event_index, key },
    4 => FlushAll,
    5 => RegistrationDone,
    6 => SetFilter { event_index, key, programs },
});

#[derive(Debug, Clone, PartialEq)]
pub enum AppReply {
    /// `context_class`: for `InstallChannel`, the `stream.event.context` struct the
    /// application writes (None when the channel has no context).
    Ok {
        context_class: Option<FieldClass>,
    },
    Error {
        message: String,
    },
}
wire_enum!(AppReply, "app reply" { 0 => Ok { context_class }, 1 => Error { message } });
