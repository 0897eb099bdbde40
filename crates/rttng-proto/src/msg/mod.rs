//! The message types of the three conversations and their wire forms: the vocabulary they
//! share is here; CLI ↔ sessiond in `client`, app ↔ sessiond in `app`, sessiond ↔ consumerd in
//! `consumer`. Field order is the wire order; new variants go at the end of an enum (a minor
//! version bump). Not here: what a daemon does with them.

use crate::wire::{Dec, DecodeError, Enc, Wire};
use crate::wire_struct;

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

mod app;
mod client;
mod consumer;

pub use app::*;
pub use client::*;
pub use consumer::*;

// ---------------------------------------------------------------------------------------------
// Shared vocabulary

/// Tracing domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    Ust,
    Kernel,
    /// The LTTng agents' domains (`-j`, `-l`, `-p`): logger rules, applied by the agents
    /// and by a user-space rule on the agent's tracepoint (`crate::agent`).
    Jul,
    Log4j,
    Python,
}
wire_enum!(Domain, "domain" { 0 => Ust, 1 => Kernel, 2 => Jul, 3 => Log4j, 4 => Python });

impl Domain {
    pub fn name(self) -> &'static str {
        match self {
            Domain::Ust => "ust",
            Domain::Kernel => "kernel",
            Domain::Jul => "jul",
            Domain::Log4j => "log4j",
            Domain::Python => "python",
        }
    }

    /// One of the agents' domains.
    pub fn is_agent(self) -> bool {
        matches!(self, Domain::Jul | Domain::Log4j | Domain::Python)
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
    /// Kernel contexts recorded with eBPF or from tracefs's common fields.
    Ppid,
    Vppid,
    Nice,
    Uid,
    Euid,
    Suid,
    Gid,
    Egid,
    Sgid,
    Interruptible,
    Preemptible,
    NeedReschedule,
    Migratable,
    /// Kernel call stacks, walked with eBPF.
    CallstackKernel,
    CallstackUser,
}
wire_enum!(ContextType, "context type" {
    0 => Vpid, 1 => Vtid, 2 => Procname, 3 => PthreadId, 4 => Hostname, 5 => CpuId, 6 => Ip,
    7 => CgroupNs, 8 => IpcNs, 9 => MntNs, 10 => NetNs, 11 => PidNs, 12 => TimeNs, 13 => UserNs,
    14 => UtsNs, 15 => Vuid, 16 => Veuid, 17 => Vsuid, 18 => Vgid, 19 => Vegid, 20 => Vsgid,
    21 => Pid, 22 => Tid, 23 => Prio,
    24 => Ppid, 25 => Vppid, 26 => Nice, 27 => Uid, 28 => Euid, 29 => Suid, 30 => Gid,
    31 => Egid, 32 => Sgid, 33 => Interruptible, 34 => Preemptible, 35 => NeedReschedule,
    36 => Migratable, 37 => CallstackKernel, 38 => CallstackUser,
});

impl ContextType {
    pub const ALL: [ContextType; 39] = [
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
        ContextType::Ppid,
        ContextType::Vppid,
        ContextType::Nice,
        ContextType::Uid,
        ContextType::Euid,
        ContextType::Suid,
        ContextType::Gid,
        ContextType::Egid,
        ContextType::Sgid,
        ContextType::Interruptible,
        ContextType::Preemptible,
        ContextType::NeedReschedule,
        ContextType::Migratable,
        ContextType::CallstackKernel,
        ContextType::CallstackUser,
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
            ContextType::Ppid => "ppid",
            ContextType::Vppid => "vppid",
            ContextType::Nice => "nice",
            ContextType::Uid => "uid",
            ContextType::Euid => "euid",
            ContextType::Suid => "suid",
            ContextType::Gid => "gid",
            ContextType::Egid => "egid",
            ContextType::Sgid => "sgid",
            ContextType::Interruptible => "interruptible",
            ContextType::Preemptible => "preemptible",
            ContextType::NeedReschedule => "need_reschedule",
            ContextType::Migratable => "migratable",
            ContextType::CallstackKernel => "callstack-kernel",
            ContextType::CallstackUser => "callstack-user",
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
    /// A command without `-c` on a session whose domain has channels but no `channel0`
    /// (lttng's `LTTNG_ERR_NEED_CHANNEL_NAME`).
    NeedChannelName,
    /// `track` of a value already tracked (lttng's `LTTNG_ERR_PROCESS_ATTR_EXISTS`, a warning).
    ProcessAttrExists,
    /// `untrack` of a value not tracked (lttng's `LTTNG_ERR_PROCESS_ATTR_MISSING`, a warning).
    ProcessAttrMissing,
}
wire_enum!(ErrorCode, "error code" {
    0 => Protocol, 1 => NoSession, 2 => SessionExists, 3 => NoChannel, 4 => ChannelExists,
    5 => InvalidArgument, 6 => SessionActive, 7 => AlreadyStopped, 8 => AlreadyStarted,
    9 => PermissionDenied, 10 => ConsumerDead, 11 => KernelUnavailable, 12 => Internal, 13 => NoEvent,
    14 => NotSnapshotSession, 15 => SnapshotOutputExists, 16 => StartSessionOnce,
    17 => SnapshotFailed, 18 => MaxSizeInvalid,
    19 => CreateDirFailed,
    20 => InvalidFilter,
    21 => NeedChannelName,
    22 => ProcessAttrExists,
    23 => ProcessAttrMissing,
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
                    lost_events: 7,
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
