//! sessiond ↔ consumerd: buffer specs, consumer requests (files, relay, snapshots) and
//! replies. Not here: what the consumer does with them (rttng-consumerd).

use crate::wire::{Dec, DecodeError, Enc, Wire};
use crate::wire_struct;

/// Geometry and output of one ring buffer (one channel of one trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferSpec {
    pub buffer_id: u64,
    /// Absolute trace directory (`.../ust/uid/1000/64-bit`).
    pub trace_dir: String,
    pub channel: String,
    pub cpu_count: u32,
    pub subbuf_bytes: u32,
    pub subbuf_count: u32,
    pub overwrite: bool,
    pub stream_id: u32,
    pub uuid: [u8; 16],
    pub switch_timer_us: u64,
    pub read_timer_us: u64,
    pub tracefile_size: u64,
    pub tracefile_count: u64,
}
wire_struct!(BufferSpec {
    buffer_id,
    trace_dir,
    channel,
    cpu_count,
    subbuf_bytes,
    subbuf_count,
    overwrite,
    stream_id,
    uuid,
    switch_timer_us,
    read_timer_us,
    tracefile_size,
    tracefile_count
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerRequest {
    /// Create the shared memory; the reply carries its fd.
    AddBuffer {
        spec: BufferSpec,
    },
    /// Append TSDL text to `trace_dir/metadata` (packetized).
    AppendMetadata {
        trace_dir: String,
        uuid: [u8; 16],
        text: String,
    },
    /// Close open packets, write everything complete; reply once written.
    Flush {
        buffer_id: u64,
    },
    /// Every producer of the buffer is dead: close their packets, then write them.
    Recover {
        buffer_id: u64,
    },
    /// Final flush, write, close the files, free the memory.
    RemoveBuffer {
        buffer_id: u64,
    },
    Stats {
        buffer_id: u64,
    },
    Quit,
    /// Connect to a relay daemon (LTTng 2.13 relay protocol) and open a relay session on it:
    /// VERSION, GET_CONFIGURATION, CREATE_SESSION, CREATE_TRACE_CHUNK 0. The reply is
    /// `RelayOpened`.
    OpenRelay {
        relay: RelaySpec,
    },
    /// As `AddBuffer`, but the buffer's packets and indexes go to relay `relay_id`, and
    /// `spec.trace_dir` is the stream path relative to the relay session
    /// (`ust/uid/1000/64-bit`).
    AddRelayBuffer {
        relay_id: u64,
        spec: BufferSpec,
    },
    /// As `AppendMetadata`, to the metadata stream of trace `trace_dir` (relative) on relay
    /// `relay_id`.
    AppendRelayMetadata {
        relay_id: u64,
        trace_dir: String,
        uuid: [u8; 16],
        text: String,
    },
    /// Waits (bounded, in the consumer) until the relay holds the data and indexes sent so far
    /// (lttng's data pending). The reply is `RelayPending`: whether something still pends.
    RelayDataPending {
        relay_id: u64,
    },
    /// Close the relay session's streams and chunk, then its connections. The reply is
    /// `RelayClosed` with the packets lost since the relay failed (0 when it never did).
    CloseRelay {
        relay_id: u64,
    },
    /// Whether streaming to the relay failed, without waiting. The reply is `RelayStatus`.
    RelayStatus {
        relay_id: u64,
    },
    /// Like `AddBuffer`, for a snapshot session: nothing is written while tracing (the
    /// buffer is overwrite-mode memory that only `Snapshot` reads); `spec.trace_dir` is
    /// not used.
    AddSnapshotBuffer {
        spec: BufferSpec,
    },
    /// Write a snapshot of the buffer as the stream files of `trace_dir` (absolute): the
    /// newest whole packets of each CPU, at most `max_packets` each (0: all). With
    /// `relay_id` (not 0), send them to that relay session instead, as streams of
    /// `trace_dir` (relative).
    Snapshot {
        buffer_id: u64,
        trace_dir: String,
        max_packets: u64,
        relay_id: u64,
    },
    /// Write a snapshot's whole metadata to `trace_dir/metadata` (packetized), creating
    /// the directory; unlike `AppendMetadata`, not synced to disk (a snapshot is written
    /// once, like LTTng's).
    SnapshotMetadata {
        trace_dir: String,
        uuid: [u8; 16],
        text: String,
    },
    /// The files below `output` (a session's output directory) belong to this user: the
    /// consumer creates them with these filesystem credentials and umask, and never
    /// through a symbolic link below `output` (rttng-runas).
    SetOwner {
        output: String,
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
        umask: u32,
    },
    /// A channel of kernel session `spec.session_key` to drain: the consumer opens each CPU's
    /// `trace_pipe_raw` of the tracefs instance the session daemon created, and writes its
    /// CTF packets (or keeps them, in a snapshot session) as they come.
    AddKernelChannel {
        spec: KernelChannelSpec,
    },
    /// Channel `channel`'s enabled events (`system:event`, in enable order) and contexts
    /// (`pid`, `tid`, `procname`, `cpu_id`), whole each time: the list only grows. Events
    /// enabled after the first start get their metadata appended.
    KernelEvents {
        session_key: u64,
        channel: String,
        events: Vec<String>,
        contexts: Vec<String>,
    },
    /// Tracing is about to start: at the first one the kernel trace's metadata is written.
    KernelStart {
        session_key: u64,
    },
    /// Tracing is off: write (or keep, in a snapshot session) everything the buffers hold.
    /// The reply is `Stats` (events discarded by the kernel, packets lost to write errors).
    KernelFlush {
        session_key: u64,
    },
    /// Flush, close the files, stop draining (the session daemon removes the instances
    /// after). The reply is `Stats`.
    RemoveKernel {
        session_key: u64,
    },
    /// A snapshot session's kernel trace: its metadata and the newest packets of each
    /// stream, at most `max_packets` each (0: all), to `trace_dir` (absolute), or with
    /// `relay_id` (not 0) to that relay session as `trace_dir` (relative). The packets stay
    /// for the next snapshot. The reply is `SnapshotWritten`.
    KernelSnapshot {
        session_key: u64,
        trace_dir: String,
        max_packets: u64,
        relay_id: u64,
    },
    /// Statistics of a kernel session: the reply is `Stats`.
    KernelStats {
        session_key: u64,
    },
    /// Sent with a socket: the consumer answers the requests that arrive on it on a thread
    /// of its own, so that those that wait for the disk or the network (flushes, buffer
    /// removals, relay waits, snapshots) never hold up the requests of this socket.
    OpenLane,
    /// The files below `output` no longer belong to a declared owner (its last session
    /// was destroyed): forget it (`SetOwner`'s list is bounded).
    ForgetOwner {
        output: String,
    },
    /// The kernel trackers of a session, whole each time (`track -k`/`untrack -k`): each
    /// tracker with an inclusion set (`all` false); a tracker absent tracks everything. They
    /// apply to the records stamped from now on.
    KernelTrackers {
        session_key: u64,
        trackers: Vec<super::TrackerInfo>,
    },
}
wire_enum!(ConsumerRequest, "consumer request" {
    0 => AddBuffer { spec },
    1 => AppendMetadata { trace_dir, uuid, text },
    2 => Flush { buffer_id },
    3 => Recover { buffer_id },
    4 => RemoveBuffer { buffer_id },
    5 => Stats { buffer_id },
    6 => Quit,
    7 => OpenRelay { relay },
    8 => AddRelayBuffer { relay_id, spec },
    9 => AppendRelayMetadata { relay_id, trace_dir, uuid, text },
    10 => RelayDataPending { relay_id },
    11 => CloseRelay { relay_id },
    12 => RelayStatus { relay_id },
    13 => AddSnapshotBuffer { spec },
    14 => Snapshot { buffer_id, trace_dir, max_packets, relay_id },
    15 => SnapshotMetadata { trace_dir, uuid, text },
    16 => SetOwner { output, uid, gid, groups, umask },
    17 => AddKernelChannel { spec },
    18 => KernelEvents { session_key, channel, events, contexts },
    19 => KernelStart { session_key },
    20 => KernelFlush { session_key },
    21 => RemoveKernel { session_key },
    22 => KernelSnapshot { session_key, trace_dir, max_packets, relay_id },
    23 => KernelStats { session_key },
    24 => OpenLane,
    25 => ForgetOwner { output },
    26 => KernelTrackers { session_key, trackers },
});

/// One kernel channel, as the consumer drains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelChannelSpec {
    /// The kernel session (the session daemon's session id).
    pub session_key: u64,
    /// The trace's name (`trace_name` in its env).
    pub session_name: String,
    /// `OUT/kernel` (absolute), or relative to relay session `relay_id`.
    pub trace_dir: String,
    /// 0: local files.
    pub relay_id: u64,
    /// The tracefs instance (`rttng-...`).
    pub instance: String,
    pub channel: String,
    /// The channel's stream class id in the kernel trace.
    pub stream_id: u32,
    pub subbuf_bytes: u64,
    pub subbuf_count: u64,
    /// A snapshot session: nothing is written but by `KernelSnapshot`.
    pub snapshot: bool,
    pub tracefile_size: u64,
    pub tracefile_count: u64,
    /// A live session's timer (µs; 0: none): packets are cut and sent at each tick.
    pub switch_timer_us: u64,
}
wire_struct!(KernelChannelSpec {
    session_key,
    session_name,
    trace_dir,
    relay_id,
    instance,
    channel,
    stream_id,
    subbuf_bytes,
    subbuf_count,
    snapshot,
    tracefile_size,
    tracefile_count,
    switch_timer_us
});

/// Where and as what a session streams to a relay daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySpec {
    /// The session daemon's id for this relay session (one per tracing session).
    pub relay_id: u64,
    pub host: String,
    pub control_port: u32,
    pub data_port: u32,
    pub session_name: String,
    /// This host's name (the relay's first directory level).
    pub hostname: String,
    /// Seconds since the Epoch.
    pub creation_time_s: u64,
    /// The session daemon instance.
    pub sessiond_uuid: [u8; 16],
    /// The session daemon's id of the tracing session.
    pub session_id: u64,
    /// Relative, or empty: where the session goes under `HOSTNAME/` on the relay (instead of
    /// `SESSION-DATE`).
    pub base_path: String,
    /// A live session's timer (µs; 0: not live): the consumer flushes on it and sends
    /// beacons for quiet streams.
    pub live_timer_us: u64,
}
wire_struct!(RelaySpec {
    relay_id,
    host,
    control_port,
    data_port,
    session_name,
    hostname,
    creation_time_s,
    sessiond_uuid,
    session_id,
    base_path,
    live_timer_us
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerReply {
    Ok,
    Stats {
        events_discarded: u64,
        packets_lost: u64,
        packets_written: u64,
        /// Events inside the packets that could not be written (full disk, I/O error).
        events_lost: u64,
    },
    Error {
        message: String,
    },
    /// The relay session's id and its directory on the relay (relative to its output).
    RelayOpened {
        relay_session_id: u64,
        output_path: String,
    },
    RelayPending {
        pending: bool,
    },
    RelayClosed {
        packets_lost: u64,
    },
    /// `failure` is empty while streaming works.
    RelayStatus {
        failure: String,
        packets_lost: u64,
    },
    /// A snapshot was written: packets and bytes of the stream files.
    SnapshotWritten {
        packets: u64,
        bytes: u64,
    },
}
wire_enum!(ConsumerReply, "consumer reply" {
    0 => Ok,
    1 => Stats { events_discarded, packets_lost, packets_written, events_lost },
    2 => Error { message },
    3 => RelayOpened { relay_session_id, output_path },
    4 => RelayPending { pending },
    5 => RelayClosed { packets_lost },
    6 => RelayStatus { failure, packets_lost },
    7 => SnapshotWritten { packets, bytes },
});
