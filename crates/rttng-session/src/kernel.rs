//! The kernel domain as the state machine sees it: the operations it asks of the root
//! daemon's kernel tracer, and their answers. Not here: carrying them out (`rttng-sessiond`
//! controls the tracefs instances with `rttng-kernel`; the consumer drains them).

use rttng_proto::{ContextType, TrackerInfo};

/// A kernel channel's geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelChannel {
    pub name: String,
    pub subbuf_bytes: u64,
    pub subbuf_count: u64,
    pub overwrite: bool,
    pub tracefile_size: u64,
    pub tracefile_count: u64,
    /// The switch timer (µs; a live session's timer when the channel sets none).
    pub switch_timer_us: u64,
}

/// What the kernel domain of a session is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelOp {
    /// The session's first kernel channel: create the kernel session (output `OUT/kernel`).
    Create {
        session: String,
        output: String,
        channel: KernelChannel,
        /// A snapshot session: the consumer keeps the packets in memory; nothing is written
        /// but by `Snapshot`.
        snapshot: bool,
        /// A network session's relay session (the trace path is then `kernel`, relative).
        relay_id: Option<u64>,
        /// The session's owner (part of the tracefs instance names).
        owner_uid: u32,
    },
    AddChannel {
        channel: KernelChannel,
    },
    EnableTracepoints {
        channel: String,
        pattern: String,
    },
    /// `names` empty = every system call.
    EnableSyscalls {
        channel: String,
        names: Vec<String>,
    },
    DisableTracepoints {
        channel: String,
        pattern: String,
    },
    AddContext {
        channel: String,
        context: ContextType,
    },
    Start,
    /// Stop and write the trace.
    Stop,
    Destroy,
    /// Write the newest packets of every CPU buffer, at most `max_packets` each (0: all),
    /// as a CTF kernel trace in `output` (absolute), or with `relay_id` to that relay session
    /// as `output` (relative), without stopping tracing or consuming them.
    Snapshot {
        output: String,
        max_packets: u64,
        relay_id: Option<u64>,
    },
    /// `EnableTracepoints` with a filter (already compiled and checked by the registry):
    /// the kernel side translates it into tracefs filters or refuses it.
    EnableTracepointsFiltered {
        channel: String,
        pattern: String,
        filter: String,
    },
    /// The kernel's losses so far (for `list`): the reply is `Stopped`.
    Stats,
    /// The session's kernel trackers, whole (`track -k`/`untrack -k`): those with an
    /// inclusion set; a tracker absent tracks everything.
    Trackers {
        trackers: Vec<TrackerInfo>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelReply {
    Ok,
    Stopped { events_discarded: u64 },
}
