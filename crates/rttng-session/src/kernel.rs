//! The kernel domain as the state machine sees it: the operations it asks of the root
//! daemon's kernel tracer, and their answers. Not here: carrying them out (`rttng-kernel`,
//! driven by `rttng-sessiond`).

use rttng_proto::ContextType;

/// A kernel channel's geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelChannel {
    pub name: String,
    pub subbuf_bytes: u64,
    pub subbuf_count: u64,
    pub overwrite: bool,
}

/// What the kernel domain of a session is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelOp {
    /// The session's first kernel channel: create the kernel session (output `OUT/kernel`).
    Create {
        session: String,
        output: String,
        channel: KernelChannel,
        /// A snapshot session: nothing is drained or written but by `Snapshot`.
        snapshot: bool,
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
    /// Write the newest pages of every CPU buffer, at most `max_packets` sub-buffers' worth
    /// each (0: all), as a CTF kernel trace in `output`, without stopping tracing.
    Snapshot {
        output: String,
        max_packets: u64,
    },
    /// `EnableTracepoints` with a filter (already compiled and checked by the registry):
    /// the kernel side translates it into tracefs filters or refuses it.
    EnableTracepointsFiltered {
        channel: String,
        pattern: String,
        filter: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelReply {
    Ok,
    Stopped { events_discarded: u64 },
}
