//! CLI ↔ sessiond: client requests and the daemon's responses. Not here: how the daemon
//! answers them (rttng-session), or the frame around them (`frame.rs`).

use super::*;
use crate::wire::{Dec, DecodeError, Enc, Wire};
use crate::wire_struct;

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
    /// The loggers of the live agents of an agent domain (`list -j/-l/-p`), answered with
    /// [`Response::AgentLoggers`].
    ListAgentLoggers {
        domain: Domain,
    },
    /// A session's agent rules (`list SESSION`), answered with [`Response::AgentRules`].
    ListAgentRules {
        session: String,
    },
    /// `disable-event -a`: every rule of the channel (`None`: `channel0`), whatever its
    /// pattern.
    DisableEventAll {
        session: String,
        domain: Domain,
        channel: Option<String>,
    },
    /// `stop -n`: like `Stop`, without waiting for a relay to have the data.
    StopNoWait {
        session: String,
    },
    /// `destroy -n`: like `DestroySession`, without waiting for a relay to have the data.
    DestroySessionNoWait {
        session: String,
    },
    /// `track`: adds `value` to the inclusion set of the session's `attr` tracker in
    /// `domain`; `all`: tracks everything instead (the set is emptied).
    Track {
        session: String,
        domain: Domain,
        attr: ProcessAttr,
        value: u32,
        all: bool,
    },
    /// `untrack`: removes `value` from the inclusion set; `all`: tracks nothing.
    Untrack {
        session: String,
        domain: Domain,
        attr: ProcessAttr,
        value: u32,
        all: bool,
    },
    /// The session's trackers (answered with [`Response::Trackers`]).
    ListTrackers {
        session: String,
    },
    /// `add-context -u/-j/-l -t '$app.PROVIDER:NAME'`: an application context (`name` is
    /// `PROVIDER:NAME`, at most [`MAX_APP_CONTEXT_BYTES`]); for `-j`/`-l` the agents of
    /// the domain are told to provide it.
    AddAppContext {
        session: String,
        domain: Domain,
        channel: Option<String>,
        name: String,
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
    20 => ListAgentLoggers { domain },
    21 => ListAgentRules { session },
    22 => DisableEventAll { session, domain, channel },
    23 => StopNoWait { session },
    24 => DestroySessionNoWait { session },
    25 => Track { session, domain, attr, value, all },
    26 => Untrack { session, domain, attr, value, all },
    27 => ListTrackers { session },
    28 => AddAppContext { session, domain, channel, name },
});

/// Longest application context name (`PROVIDER:NAME`) accepted.
pub const MAX_APP_CONTEXT_BYTES: usize = 255;

/// A process attribute a tracker selects on (lttng's `lttng_process_attr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProcessAttr {
    Pid,
    Vpid,
    Uid,
    Vuid,
    Gid,
    Vgid,
}
wire_enum!(ProcessAttr, "process attribute" {
    0 => Pid, 1 => Vpid, 2 => Uid, 3 => Vuid, 4 => Gid, 5 => Vgid,
});

impl ProcessAttr {
    pub const ALL: [ProcessAttr; 6] = [
        ProcessAttr::Pid,
        ProcessAttr::Vpid,
        ProcessAttr::Uid,
        ProcessAttr::Vuid,
        ProcessAttr::Gid,
        ProcessAttr::Vgid,
    ];

    /// The tracker a `track` of this attribute addresses in `domain`: user space has only
    /// the virtual ones (lttng maps `-u --pid` to the virtual process ID tracker).
    pub fn in_domain(self, domain: Domain) -> ProcessAttr {
        match (domain, self) {
            (Domain::Kernel, a) => a,
            (_, ProcessAttr::Pid) => ProcessAttr::Vpid,
            (_, ProcessAttr::Uid) => ProcessAttr::Vuid,
            (_, ProcessAttr::Gid) => ProcessAttr::Vgid,
            (_, a) => a,
        }
    }

    /// lttng's words: "process ID", "virtual user ID", ...
    pub fn words(self) -> &'static str {
        match self {
            ProcessAttr::Pid => "process ID",
            ProcessAttr::Vpid => "virtual process ID",
            ProcessAttr::Uid => "user ID",
            ProcessAttr::Vuid => "virtual user ID",
            ProcessAttr::Gid => "group ID",
            ProcessAttr::Vgid => "virtual group ID",
        }
    }
}

/// One tracker of a session: everything (`all`), or exactly the processes whose attribute is
/// in `values` (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerInfo {
    pub domain: Domain,
    pub attr: ProcessAttr,
    pub all: bool,
    pub values: Vec<u32>,
}
wire_struct!(TrackerInfo {
    domain,
    attr,
    all,
    values
});

/// The loggers one live agent reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLoggers {
    /// As the agent declared it at registration (not verified).
    pub pid: u32,
    pub loggers: Vec<String>,
}
wire_struct!(AgentLoggers { pid, loggers });

/// A session's agent rule: `rule.loglevel` holds the agent's own level value (higher is
/// more severe: `AtLeast` means `int_loglevel >= level`); `filter` is the filter the rule
/// applies on the agent's tracepoint (empty: none), as lttng shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRuleInfo {
    pub domain: Domain,
    pub rule: EventRule,
    pub enabled: bool,
    pub filter: String,
}
wire_struct!(AgentRuleInfo {
    domain,
    rule,
    enabled,
    filter
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
    /// Events inside packets that could not be written (full disk, I/O error).
    pub lost_events: u64,
}
wire_struct!(ChannelInfo {
    domain,
    name,
    enabled,
    attrs,
    contexts,
    rules,
    discarded_events,
    lost_packets,
    lost_events
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
    /// The trackers of a session's domains ([`Request::ListTrackers`]): every tracker of each
    /// domain the session has.
    Trackers {
        list: Vec<TrackerInfo>,
    },
    /// [`Request::ListAgentLoggers`]: per live agent of the domain, by pid.
    AgentLoggers {
        list: Vec<AgentLoggers>,
    },
    /// [`Request::ListAgentRules`].
    AgentRules {
        list: Vec<AgentRuleInfo>,
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
    11 => AgentLoggers { list },
    12 => AgentRules { list },
    13 => Trackers { list },
});

impl Response {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Response {
        Response::Error {
            code,
            message: message.into(),
        }
    }
}
