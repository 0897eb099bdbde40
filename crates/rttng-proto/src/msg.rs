//! The message types of the three conversations (CLI ↔ sessiond, app ↔ sessiond,
//! sessiond ↔ consumerd) and their wire forms. Field order is the wire order; new variants go
//! at the end of an enum (a minor version bump). Not here: what a daemon does with them.

use crate::wire::{Dec, DecodeError, Enc, Wire};
use crate::wire_struct;
use rttng_ctf::ir::FieldClass;

/// Implements [`Wire`] for an enum: one tag byte, then the variant's fields in order.
macro_rules! wire_enum {
    ($name:ident, $what:literal { $($tag:literal => $var:ident $({ $($f:ident),* $(,)? })? ),* $(,)? }) => {
        impl Wire for $name {
            fn put(&self, e: &mut Enc) {
                match self {
                    $( $name::$var $({ $($f),* })? => {
                        e.u8($tag);
                        $($( Wire::put($f, e); )*)?
                    } )*
                }
            }
            fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
                match d.tag()? {
                    $( (_, $tag) => Ok($name::$var $({ $($f: Wire::get(d)?),* })?), )*
                    (offset, tag) => Err(DecodeError::BadTag { offset, what: $what, tag }),
                }
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Shared vocabulary

/// Tracing domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    Ust,
    Kernel,
}
wire_enum!(Domain, "domain" { 0 => Ust, 1 => Kernel });

impl Domain {
    pub fn name(self) -> &'static str {
        match self {
            Domain::Ust => "ust",
            Domain::Kernel => "kernel",
        }
    }
}

/// UST buffering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffers {
    PerUid,
    PerPid,
    Global,
}
wire_enum!(Buffers, "buffering scheme" { 0 => PerUid, 1 => PerPid, 2 => Global });

/// Channel attributes as the user gave them; `None` = the domain's default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelAttrs {
    pub subbuf_size: Option<u64>,
    pub num_subbuf: Option<u64>,
    /// `Some(true)` = overwrite, `Some(false)` = discard.
    pub overwrite: Option<bool>,
    pub switch_timer_us: Option<u64>,
    pub read_timer_us: Option<u64>,
    pub buffers: Option<Buffers>,
    pub tracefile_size: Option<u64>,
    pub tracefile_count: Option<u64>,
}
wire_struct!(ChannelAttrs {
    subbuf_size,
    num_subbuf,
    overwrite,
    switch_timer_us,
    read_timer_us,
    buffers,
    tracefile_size,
    tracefile_count
});

/// Channel attributes with every default applied (what `list SESSION` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedAttrs {
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    pub overwrite: bool,
    pub switch_timer_us: u64,
    pub read_timer_us: u64,
    pub buffers: Buffers,
    pub tracefile_size: u64,
    pub tracefile_count: u64,
}
wire_struct!(ResolvedAttrs {
    subbuf_size,
    num_subbuf,
    overwrite,
    switch_timer_us,
    read_timer_us,
    buffers,
    tracefile_size,
    tracefile_count
});

/// Which log levels a rule accepts (UST: lower value = more severe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoglevelRule {
    All,
    /// `--loglevel=L`: value ≤ L.
    AtLeast {
        level: i32,
    },
    /// `--loglevel-only=L`: value == L.
    Exactly {
        level: i32,
    },
}
wire_enum!(LoglevelRule, "log level rule" { 0 => All, 1 => AtLeast { level }, 2 => Exactly { level } });

impl LoglevelRule {
    pub fn accepts(self, loglevel: i32) -> bool {
        match self {
            LoglevelRule::All => true,
            LoglevelRule::AtLeast { level } => loglevel <= level,
            LoglevelRule::Exactly { level } => loglevel == level,
        }
    }
}

/// A recording event rule: a name pattern with `*` wildcards, a log level rule, exclusions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    pub pattern: String,
    pub loglevel: LoglevelRule,
    pub exclusions: Vec<String>,
    /// Kernel only: `pattern` names system calls (`enable-event -k --syscall`).
    pub syscall: bool,
}
wire_struct!(EventRule {
    pattern,
    loglevel,
    exclusions,
    syscall
});

/// A context field a channel adds to every event record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContextType {
    Vpid,
    Vtid,
    Procname,
    PthreadId,
    Hostname,
    CpuId,
    Ip,
    CgroupNs,
    IpcNs,
    MntNs,
    NetNs,
    PidNs,
    TimeNs,
    UserNs,
    UtsNs,
    Vuid,
    Veuid,
    Vsuid,
    Vgid,
    Vegid,
    Vsgid,
    /// Kernel contexts.
    Pid,
    Tid,
    Prio,
}
wire_enum!(ContextType, "context type" {
    0 => Vpid, 1 => Vtid, 2 => Procname, 3 => PthreadId, 4 => Hostname, 5 => CpuId, 6 => Ip,
    7 => CgroupNs, 8 => IpcNs, 9 => MntNs, 10 => NetNs, 11 => PidNs, 12 => TimeNs, 13 => UserNs,
    14 => UtsNs, 15 => Vuid, 16 => Veuid, 17 => Vsuid, 18 => Vgid, 19 => Vegid, 20 => Vsgid,
    21 => Pid, 22 => Tid, 23 => Prio,
});

impl ContextType {
    pub const ALL: [ContextType; 24] = [
        ContextType::Vpid,
        ContextType::Vtid,
        ContextType::Procname,
        ContextType::PthreadId,
        ContextType::Hostname,
        ContextType::CpuId,
        ContextType::Ip,
        ContextType::CgroupNs,
        ContextType::IpcNs,
        ContextType::MntNs,
        ContextType::NetNs,
        ContextType::PidNs,
        ContextType::TimeNs,
        ContextType::UserNs,
        ContextType::UtsNs,
        ContextType::Vuid,
        ContextType::Veuid,
        ContextType::Vsuid,
        ContextType::Vgid,
        ContextType::Vegid,
        ContextType::Vsgid,
        ContextType::Pid,
        ContextType::Tid,
        ContextType::Prio,
    ];

    /// The name `add-context -t` takes (lttng's spelling).
    pub fn name(self) -> &'static str {
        match self {
            ContextType::Vpid => "vpid",
            ContextType::Vtid => "vtid",
            ContextType::Procname => "procname",
            ContextType::PthreadId => "pthread_id",
            ContextType::Hostname => "hostname",
            ContextType::CpuId => "cpu_id",
            ContextType::Ip => "ip",
            ContextType::CgroupNs => "cgroup_ns",
            ContextType::IpcNs => "ipc_ns",
            ContextType::MntNs => "mnt_ns",
            ContextType::NetNs => "net_ns",
            ContextType::PidNs => "pid_ns",
            ContextType::TimeNs => "time_ns",
            ContextType::UserNs => "user_ns",
            ContextType::UtsNs => "uts_ns",
            ContextType::Vuid => "vuid",
            ContextType::Veuid => "veuid",
            ContextType::Vsuid => "vsuid",
            ContextType::Vgid => "vgid",
            ContextType::Vegid => "vegid",
            ContextType::Vsgid => "vsgid",
            ContextType::Pid => "pid",
            ContextType::Tid => "tid",
            ContextType::Prio => "prio",
        }
    }

    pub fn from_name(name: &str) -> Option<ContextType> {
        ContextType::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Names a channel inside an application: which buffers its events go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelKey {
    pub session_id: u64,
    pub channel_id: u64,
}
wire_struct!(ChannelKey {
    session_id,
    channel_id
});

/// Stable error codes of [`Response::Error`] (the CLI maps them to exit statuses and hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed or refused request (protocol level).
    Protocol,
    NoSession,
    SessionExists,
    NoChannel,
    ChannelExists,
    InvalidArgument,
    /// The session is active (or was started) and the request needs it stopped/never started.
    SessionActive,
    AlreadyStopped,
    AlreadyStarted,
    /// The peer's credentials do not allow this.
    PermissionDenied,
    /// The consumer daemon died.
    ConsumerDead,
    /// The kernel domain is not available from this daemon.
    KernelUnavailable,
    Internal,
    NoEvent,
    /// A snapshot command on a session that writes its trace as it goes.
    NotSnapshotSession,
    /// A snapshot session has one output (lttng 2.13).
    SnapshotOutputExists,
    /// `snapshot record` before the session's first start.
    StartSessionOnce,
    /// `snapshot record` with no output, or an output that could not be written.
    SnapshotFailed,
    /// `--max-size` smaller than one packet of each stream.
    MaxSizeInvalid,
    /// The trace output directory cannot be created or written (lttng's
    /// LTTNG_ERR_CREATE_DIR_FAIL).
    CreateDirFailed,
    /// A filter expression that does not compile (lttng's `LTTNG_ERR_FILTER_INVAL`).
    InvalidFilter,
}
wire_enum!(ErrorCode, "error code" {
    0 => Protocol, 1 => NoSession, 2 => SessionExists, 3 => NoChannel, 4 => ChannelExists,
    5 => InvalidArgument, 6 => SessionActive, 7 => AlreadyStopped, 8 => AlreadyStarted,
    9 => PermissionDenied, 10 => ConsumerDead, 11 => KernelUnavailable, 12 => Internal, 13 => NoEvent,
    14 => NotSnapshotSession, 15 => SnapshotOutputExists, 16 => StartSessionOnce,
    17 => SnapshotFailed, 18 => MaxSizeInvalid,
    19 => CreateDirFailed,
    20 => InvalidFilter,
});

// ---------------------------------------------------------------------------------------------
// CLI ↔ sessiond

/// A client request. Session names are always explicit: the client resolves the current
/// session itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Version,
    CreateSession {
        name: Option<String>,
        output: Option<String>,
        /// A live session's timer (µs; 0: not live). Needs a network output.
        live_timer_us: u64,
    },
    DestroySession {
        session: String,
    },
    ListSessions,
    ListSession {
        session: String,
    },
    ListApps,
    EnableChannel {
        session: String,
        domain: Domain,
        channel: String,
        attrs: ChannelAttrs,
    },
    DisableChannel {
        session: String,
        domain: Domain,
        channel: String,
    },
    EnableEvent {
        session: String,
        domain: Domain,
        channel: Option<String>,
        rule: EventRule,
    },
    DisableEvent {
        session: String,
        domain: Domain,
        channel: Option<String>,
        pattern: String,
    },
    AddContext {
        session: String,
        domain: Domain,
        channel: Option<String>,
        context: ContextType,
    },
    Start {
        session: String,
    },
    Stop {
        session: String,
    },
    /// `create --snapshot`: `output` is the default snapshot output (None: the default
    /// directory; `no_output`: none).
    CreateSnapshotSession {
        name: Option<String>,
        output: Option<String>,
        no_output: bool,
    },
    SnapshotAddOutput {
        session: String,
        output: SnapshotOutput,
    },
    /// By id (`id != 0`) or by name.
    SnapshotDelOutput {
        session: String,
        id: u32,
        name: String,
    },
    SnapshotListOutputs {
        session: String,
    },
    /// Record to `output` if given (a temporary output), else to the session's output;
    /// `name` (if not empty) and `max_size` (if given) override the output's.
    SnapshotRecord {
        session: String,
        output: Option<SnapshotOutput>,
        name: String,
        max_size: Option<u64>,
    },
    /// `enable-event --filter`: like `EnableEvent`, with a filter expression in LTTng's
    /// language (the daemon compiles and checks it; rule identity includes the filter).
    EnableEventFilter {
        session: String,
        domain: Domain,
        channel: Option<String>,
        rule: EventRule,
        filter: String,
    },
    /// The filters of a session's rules (answered with [`Response::Filters`]).
    ListFilters {
        session: String,
    },
}
wire_enum!(Request, "request" {
    0 => Version,
    1 => CreateSession { name, output, live_timer_us },
    2 => DestroySession { session },
    3 => ListSessions,
    4 => ListSession { session },
    5 => ListApps,
    6 => EnableChannel { session, domain, channel, attrs },
    7 => DisableChannel { session, domain, channel },
    8 => EnableEvent { session, domain, channel, rule },
    9 => DisableEvent { session, domain, channel, pattern },
    10 => AddContext { session, domain, channel, context },
    11 => Start { session },
    12 => Stop { session },
    13 => CreateSnapshotSession { name, output, no_output },
    14 => SnapshotAddOutput { session, output },
    15 => SnapshotDelOutput { session, id, name },
    16 => SnapshotListOutputs { session },
    17 => SnapshotRecord { session, output, name, max_size },
    18 => EnableEventFilter { session, domain, channel, rule, filter },
    19 => ListFilters { session },
});

/// A snapshot output as the user gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOutput {
    /// Empty: `snapshot-ID` (a registered output) or `snapshot-0` (a temporary one).
    pub name: String,
    /// Absolute directory.
    pub path: String,
    /// 0: unlimited.
    pub max_size: u64,
}
wire_struct!(SnapshotOutput {
    name,
    path,
    max_size
});

/// A registered snapshot output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOutputInfo {
    pub id: u32,
    pub name: String,
    pub path: String,
    /// 0: unlimited.
    pub max_size: u64,
}
wire_struct!(SnapshotOutputInfo {
    id,
    name,
    path,
    max_size
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub name: String,
    pub output: String,
    pub active: bool,
    /// A snapshot session (nothing is written until `snapshot record`).
    pub snapshot: bool,
}
wire_struct!(SessionSummary {
    name,
    output,
    active,
    snapshot
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub rule: EventRule,
    pub enabled: bool,
}
wire_struct!(RuleInfo { rule, enabled });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub domain: Domain,
    pub name: String,
    pub enabled: bool,
    pub attrs: ResolvedAttrs,
    pub contexts: Vec<ContextType>,
    pub rules: Vec<RuleInfo>,
    /// Sum over the channel's streams of the last written packet's `events_discarded`.
    pub discarded_events: u64,
    /// Gaps in `packet_seq_num` seen by the consumer.
    pub lost_packets: u64,
}
wire_struct!(ChannelInfo {
    domain,
    name,
    enabled,
    attrs,
    contexts,
    rules,
    discarded_events,
    lost_packets
});

/// The filter of one rule of a [`SessionDetail`]: `rule_index` is the rule's position in
/// that channel's [`ChannelInfo::rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFilter {
    pub domain: Domain,
    pub channel: String,
    pub rule_index: u32,
    pub filter: String,
}
wire_struct!(RuleFilter {
    domain,
    channel,
    rule_index,
    filter
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDetail {
    pub name: String,
    pub output: String,
    pub active: bool,
    pub channels: Vec<ChannelInfo>,
    /// Problems the user should know about (a dead consumer daemon, ...).
    pub warnings: Vec<String>,
    /// A snapshot session.
    pub snapshot: bool,
}
wire_struct!(SessionDetail {
    name,
    output,
    active,
    channels,
    warnings,
    snapshot
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    pub name: String,
    pub loglevel: i32,
    /// (field name, kind: integer|string|float|enum|unknown)
    pub fields: Vec<(String, String)>,
}
wire_struct!(EventInfo {
    name,
    loglevel,
    fields
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    pub pid: u32,
    pub uid: u32,
    pub name: String,
    pub events: Vec<EventInfo>,
}
wire_struct!(AppInfo {
    pid,
    uid,
    name,
    events
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Ok,
    Version {
        text: String,
    },
    SessionCreated {
        name: String,
        output: String,
    },
    Sessions {
        list: Vec<SessionSummary>,
    },
    Session {
        detail: SessionDetail,
    },
    Apps {
        list: Vec<AppInfo>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    /// Success with something the user should read (e.g. "session stopped; the consumer died").
    Warning {
        message: String,
    },
    SnapshotOutputs {
        list: Vec<SnapshotOutputInfo>,
    },
    /// The snapshot directories written (one per output).
    SnapshotRecorded {
        paths: Vec<String>,
    },
    /// The filters of a session's rules ([`Request::ListFilters`]).
    Filters {
        list: Vec<RuleFilter>,
    },
}
wire_enum!(Response, "response" {
    0 => Ok,
    1 => Version { text },
    2 => SessionCreated { name, output },
    3 => Sessions { list },
    4 => Session { detail },
    5 => Apps { list },
    6 => Error { code, message },
    7 => Warning { message },
    8 => SnapshotOutputs { list },
    9 => SnapshotRecorded { paths },
    10 => Filters { list },
});

impl Response {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Response {
        Response::Error {
            code,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// app ↔ sessiond

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

// ---------------------------------------------------------------------------------------------
// sessiond ↔ consumerd

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
    1 => Stats { events_discarded, packets_lost, packets_written },
    2 => Error { message },
    3 => RelayOpened { relay_session_id, output_path },
    4 => RelayPending { pending },
    5 => RelayClosed { packets_lost },
    6 => RelayStatus { failure, packets_lost },
    7 => SnapshotWritten { packets, bytes },
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{decode_frame, encode_frame, Kind};

    #[test]
    fn request_round_trips_through_a_frame() {
        let req = Request::EnableEvent {
            session: "s".into(),
            domain: Domain::Ust,
            channel: Some("c".into()),
            rule: EventRule {
                pattern: "p:*".into(),
                loglevel: LoglevelRule::AtLeast { level: 4 },
                exclusions: vec!["p:x".into()],
                syscall: false,
            },
        };
        let f = encode_frame(Kind::Request, &req).unwrap();
        assert_eq!(decode_frame::<Request>(&f, Kind::Request), Ok(req));
    }

    #[test]
    fn every_truncation_of_a_frame_is_an_error() {
        let resp = Response::Session {
            detail: SessionDetail {
                name: "n".into(),
                output: "/o".into(),
                active: true,
                channels: vec![ChannelInfo {
                    domain: Domain::Ust,
                    name: "channel0".into(),
                    enabled: true,
                    attrs: ResolvedAttrs {
                        subbuf_size: 4096,
                        num_subbuf: 4,
                        overwrite: false,
                        switch_timer_us: 0,
                        read_timer_us: 0,
                        buffers: Buffers::PerUid,
                        tracefile_size: 0,
                        tracefile_count: 0,
                    },
                    contexts: vec![ContextType::Vpid],
                    rules: vec![],
                    discarded_events: 3,
                    lost_packets: 1,
                }],
                warnings: vec![],
                snapshot: false,
            },
        };
        let f = encode_frame(Kind::Response, &resp).unwrap();
        for cut in 0..f.len() {
            assert!(
                decode_frame::<Response>(&f[..cut], Kind::Response).is_err(),
                "cut at {cut}"
            );
        }
        assert_eq!(decode_frame::<Response>(&f, Kind::Response), Ok(resp));
    }

    #[test]
    fn loglevel_rules_select_like_lttng() {
        assert!(LoglevelRule::AtLeast { level: 4 }.accepts(3));
        assert!(LoglevelRule::AtLeast { level: 4 }.accepts(4));
        assert!(!LoglevelRule::AtLeast { level: 4 }.accepts(6));
        assert!(LoglevelRule::Exactly { level: 6 }.accepts(6));
        assert!(!LoglevelRule::Exactly { level: 6 }.accepts(5));
    }

    #[test]
    fn context_names_round_trip() {
        for c in ContextType::ALL {
            assert_eq!(ContextType::from_name(c.name()), Some(c));
        }
        assert_eq!(ContextType::from_name("no_such_context"), None);
    }
}
