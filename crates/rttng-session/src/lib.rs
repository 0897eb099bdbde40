//! The session logic of `rttng-sessiond`, with no sockets: sessions, channels, event rules,
//! contexts, registered applications, and one trace registry (metadata, event ids) per trace
//! directory. Requests come in as values ([`Registry::handle`], [`Registry::app_registered`],
//! [`Registry::app_gone`]); every effect on the outside world goes out through the [`Port`]
//! trait (a consumer request, an application command), whose answers come back as values. The
//! daemon implements `Port` with sockets; tests implement it with a recorder.
//!
//! The central rule is [`Registry::reconcile`]: after every change, each registered
//! application is driven to the state the rules ask for (buffers installed for active
//! sessions, exactly the matching events enabled), so the order of `enable-event`, `start` and
//! app registration never matters. Not here: credentials checks beyond session ownership,
//! time and host lookups (the caller passes [`Clock`] values), threads.

#![forbid(unsafe_code)]

pub mod glob;
pub mod metadata;

use metadata::TraceMetadata;
use rttng_ctf::ir::{ClockClass, EnvValue, FieldClass};
use rttng_proto::*;
use std::collections::{BTreeMap, BTreeSet};

/// Default sub-buffer sizes and counts (lttng 2.13's).
pub const UST_UID_SUBBUF_SIZE: u64 = 524_288;
pub const UST_PID_SUBBUF_SIZE: u64 = 16_384;
pub const DEFAULT_NUM_SUBBUF: u64 = 4;
pub const MIN_SUBBUF_SIZE: u64 = 4096;
pub const MAX_SUBBUF_SIZE: u64 = 1 << 27;
pub const MAX_NUM_SUBBUF: u64 = 65_536;
pub const DEFAULT_CHANNEL: &str = "channel0";
/// Limits on what a client or an app can make us hold.
pub const MAX_SESSIONS: usize = 1024;
pub const MAX_CHANNELS: usize = 256;
pub const MAX_RULES: usize = 4096;
pub const MAX_NAME_BYTES: usize = 255;
pub const MAX_APP_EVENTS: usize = 65_535;

pub type AppId = u64;

/// The outside world, as the state machine sees it.
pub trait Port {
    /// Sends a request to the consumer daemon. For `AddBuffer` the runtime keeps the returned
    /// fd under the buffer id, and passes it with `InstallChannel` for that buffer.
    fn consumer(&mut self, req: ConsumerRequest) -> Result<ConsumerReply, String>;
    /// Sends a command to application `app`; `buffer` names the buffer whose fd goes with it.
    fn app(&mut self, app: AppId, cmd: AppCommand, buffer: Option<u64>)
        -> Result<AppReply, String>;
    fn new_uuid(&mut self) -> [u8; 16];
    /// Acts on the kernel tracing session of session `session_id` (root daemon only).
    fn kernel(&mut self, session_id: u64, op: KernelOp) -> Result<KernelReply, String>;
}

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelReply {
    Ok,
    Stopped { events_discarded: u64 },
}

/// Wall-clock strings, given by the caller (the state machine reads no clock).
#[derive(Debug, Clone)]
pub struct Clock {
    /// `YYYYmmdd-HHMMSS`, local time.
    pub compact: String,
    /// `YYYYmmddTHHMMSS+hhmm`.
    pub iso: String,
}

/// Facts about the daemon's host and user.
#[derive(Debug, Clone)]
pub struct Host {
    /// `$RTTNG_HOME`.
    pub home: String,
    pub hostname: String,
    pub cpu_count: u32,
    /// This daemon may trace the kernel (it runs as root).
    pub kernel: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Uid(u32),
    Pid(AppId),
}

#[derive(Debug)]
struct Channel {
    id: u64,
    name: String,
    domain: Domain,
    enabled: bool,
    attrs: ResolvedAttrs,
    contexts: Vec<ContextType>,
    rules: Vec<RuleInfo>,
    stream_class_id: u32,
}

#[derive(Debug)]
struct Session {
    id: u64,
    name: String,
    output: String,
    owner_uid: u32,
    active: bool,
    started_once: bool,
    channels: Vec<Channel>,
    creation_iso: String,
    /// Events the kernel lost, as of the last stop.
    kernel_discarded: u64,
}

#[derive(Debug)]
struct App {
    hello: AppHello,
    registered_compact: String,
    /// Channels installed, with the buffer each uses.
    installed: BTreeMap<ChannelKey, u64>,
    /// (event index, channel) → event class id, currently enabled.
    enabled: BTreeMap<(u32, ChannelKey), u32>,
}

#[derive(Debug)]
struct Trace {
    dir: String,
    uuid: [u8; 16],
    md: TraceMetadata,
}

#[derive(Debug)]
struct Buffer {
    id: u64,
    session_id: u64,
    channel_id: u64,
    owner: Owner,
    users: BTreeSet<AppId>,
    /// The consumer holds it (AddBuffer succeeded).
    created: bool,
}

/// The session daemon's whole state.
#[derive(Debug)]
pub struct Registry {
    host: Host,
    sessions: Vec<Session>,
    apps: BTreeMap<AppId, App>,
    traces: BTreeMap<(u64, Owner), Trace>,
    buffers: Vec<Buffer>,
    next_id: u64,
    consumer_dead: Option<String>,
}

/// The result of a client request, plus problems met while applying it to applications
/// (an app that did not answer is not the client's error).
#[derive(Debug)]
pub struct Outcome {
    pub response: Response,
    pub app_errors: Vec<String>,
}

fn err(code: ErrorCode, msg: impl Into<String>) -> Response {
    Response::error(code, msg)
}

fn check_name(what: &str, name: &str) -> Result<(), Response> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.contains('/')
        || name.starts_with('.')
        || name.chars().any(char::is_control)
    {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("invalid {what} name {name:?}: it must be 1 to {MAX_NAME_BYTES} bytes, without '/', not starting with '.'"),
        ));
    }
    Ok(())
}

/// Applies defaults and lttng's rounding rules to user channel attributes.
pub fn resolve_attrs(domain: Domain, a: &ChannelAttrs) -> Result<ResolvedAttrs, Response> {
    let buffers = match (domain, a.buffers) {
        (Domain::Kernel, None | Some(Buffers::Global)) => Buffers::Global,
        (Domain::Kernel, Some(_)) => {
            return Err(err(
                ErrorCode::InvalidArgument,
                "the kernel domain only has global buffers",
            ))
        }
        (Domain::Ust, Some(Buffers::Global)) => {
            return Err(err(
                ErrorCode::InvalidArgument,
                "user-space channels take --buffers-uid or --buffers-pid, not --buffers-global",
            ))
        }
        (Domain::Ust, b) => b.unwrap_or(Buffers::PerUid),
    };
    let default_size = match buffers {
        Buffers::PerPid => UST_PID_SUBBUF_SIZE,
        Buffers::PerUid => UST_UID_SUBBUF_SIZE,
        Buffers::Global => 1_048_576,
    };
    let subbuf_size = a.subbuf_size.unwrap_or(default_size);
    if subbuf_size < MIN_SUBBUF_SIZE {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!(
                "sub-buffer size {subbuf_size} is below the page size ({MIN_SUBBUF_SIZE} bytes)"
            ),
        ));
    }
    if subbuf_size > MAX_SUBBUF_SIZE {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("sub-buffer size {subbuf_size} exceeds {MAX_SUBBUF_SIZE} bytes"),
        ));
    }
    let num_subbuf = a.num_subbuf.unwrap_or(DEFAULT_NUM_SUBBUF);
    if num_subbuf == 0 || num_subbuf > MAX_NUM_SUBBUF {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("sub-buffer count must be 1 to {MAX_NUM_SUBBUF}"),
        ));
    }
    let tracefile_size = a.tracefile_size.unwrap_or(0);
    let tracefile_count = a.tracefile_count.unwrap_or(0);
    if tracefile_count != 0 && tracefile_size == 0 {
        return Err(err(
            ErrorCode::InvalidArgument,
            "--tracefile-count needs --tracefile-size",
        ));
    }
    if tracefile_size != 0 && tracefile_size < subbuf_size.next_power_of_two() {
        return Err(err(
            ErrorCode::InvalidArgument,
            "--tracefile-size must be at least the sub-buffer size",
        ));
    }
    Ok(ResolvedAttrs {
        subbuf_size: subbuf_size.next_power_of_two(),
        num_subbuf: num_subbuf.next_power_of_two().max(2),
        overwrite: a.overwrite.unwrap_or(false),
        switch_timer_us: a.switch_timer_us.unwrap_or(0),
        read_timer_us: a.read_timer_us.unwrap_or(0),
        buffers,
        tracefile_size,
        tracefile_count,
    })
}

/// Checks an app-supplied field class: names must be identifiers (they go into TSDL as is).
pub fn validate_class(c: &FieldClass, depth: u32) -> Result<(), String> {
    if depth > 32 {
        return Err("field class nested too deeply".into());
    }
    let ident = |s: &str| {
        let mut ch = s.chars();
        matches!(ch.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
            && ch.all(|c| c == '_' || c.is_ascii_alphanumeric())
            && s.len() <= MAX_NAME_BYTES
    };
    match c {
        FieldClass::Struct(s) => {
            for m in &s.members {
                if !ident(&m.name) {
                    return Err(format!("field name {:?} is not an identifier", m.name));
                }
                validate_class(&m.class, depth + 1)?;
            }
            Ok(())
        }
        FieldClass::Array(a) => validate_class(&a.element, depth + 1),
        FieldClass::Sequence(s) => {
            if !ident(&s.length_ref) {
                return Err(format!(
                    "sequence length {:?} is not an identifier",
                    s.length_ref
                ));
            }
            validate_class(&s.element, depth + 1)
        }
        FieldClass::Variant(v) => {
            if !ident(&v.tag_ref) {
                return Err(format!("variant tag {:?} is not an identifier", v.tag_ref));
            }
            for o in &v.options {
                if !ident(&o.name) {
                    return Err(format!("variant option {:?} is not an identifier", o.name));
                }
                validate_class(&o.class, depth + 1)?;
            }
            Ok(())
        }
        FieldClass::Integer(i) => match &i.mapped_clock {
            Some(_) => Err("payload integers may not map to a clock".into()),
            None => Ok(()),
        },
        FieldClass::Enum(e) => {
            if e.mappings.iter().any(|m| {
                m.label
                    .chars()
                    .any(|c| c == '"' || c == '\\' || c.is_control())
            }) {
                return Err("enum label with a quote, backslash or control character".into());
            }
            Ok(())
        }
        FieldClass::Float(_) | FieldClass::String(_) => Ok(()),
    }
}

fn field_kind(c: &FieldClass) -> &'static str {
    match c {
        FieldClass::Integer(_) => "integer",
        FieldClass::Float(_) => "float",
        FieldClass::Enum(_) => "enum",
        FieldClass::String(_) => "string",
        FieldClass::Array(a) if a.element.is_text_element() => "string",
        FieldClass::Sequence(s) if s.element.is_text_element() => "string",
        _ => "unknown",
    }
}

fn rule_matches(rule: &EventRule, ev: &EventDesc) -> bool {
    glob::matches(&rule.pattern, &ev.name)
        && rule.loglevel.accepts(ev.loglevel)
        && !rule.exclusions.iter().any(|x| glob::matches(x, &ev.name))
}

impl Registry {
    pub fn new(host: Host) -> Registry {
        Registry {
            host,
            sessions: Vec::new(),
            apps: BTreeMap::new(),
            traces: BTreeMap::new(),
            buffers: Vec::new(),
            next_id: 1,
            consumer_dead: None,
        }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Records that the consumer daemon died (`why` says how); later requests say so.
    pub fn consumer_died(&mut self, why: String) {
        self.consumer_dead = Some(why);
    }

    pub fn consumer_dead(&self) -> Option<&str> {
        self.consumer_dead.as_deref()
    }

    /// Names of active sessions (for shutdown).
    pub fn active_sessions(&self) -> Vec<(String, u32)> {
        self.sessions
            .iter()
            .filter(|s| s.active)
            .map(|s| (s.name.clone(), s.owner_uid))
            .collect()
    }

    pub fn app_pids(&self) -> Vec<(AppId, u32)> {
        self.apps.iter().map(|(id, a)| (*id, a.hello.pid)).collect()
    }

    fn session_index(&self, name: &str, uid: u32) -> Result<usize, Response> {
        match self.sessions.iter().position(|s| s.name == name) {
            Some(i) if self.sessions[i].owner_uid == uid || uid == 0 => Ok(i),
            // Another user's session is invisible, as if it did not exist.
            _ => Err(err(
                ErrorCode::NoSession,
                format!("session {name:?} not found"),
            )),
        }
    }

    /// Handles one client request from a peer with user id `uid`.
    pub fn handle(&mut self, req: Request, uid: u32, now: &Clock, port: &mut dyn Port) -> Outcome {
        let mut app_errors = Vec::new();
        let response = match self.dispatch(req, uid, now, port, &mut app_errors) {
            Ok(r) | Err(r) => r,
        };
        Outcome {
            response,
            app_errors,
        }
    }

    fn dispatch(
        &mut self,
        req: Request,
        uid: u32,
        now: &Clock,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        match req {
            Request::Version => Ok(Response::Version {
                text: format!("rttng-sessiond {}", env!("CARGO_PKG_VERSION")),
            }),
            Request::CreateSession { name, output } => self.create(name, output, uid, now),
            Request::DestroySession { session } => {
                let i = self.session_index(&session, uid)?;
                let warn = self.stop_session(i, port, errs);
                self.destroy_session(i, port, errs);
                match warn {
                    Some(w) => Ok(Response::Warning { message: w }),
                    None => Ok(Response::Ok),
                }
            }
            Request::ListSessions => Ok(Response::Sessions {
                list: self
                    .sessions
                    .iter()
                    .filter(|s| s.owner_uid == uid || uid == 0)
                    .map(|s| SessionSummary {
                        name: s.name.clone(),
                        output: s.output.clone(),
                        active: s.active,
                    })
                    .collect(),
            }),
            Request::ListSession { session } => {
                let i = self.session_index(&session, uid)?;
                Ok(Response::Session {
                    detail: self.detail(i, port),
                })
            }
            Request::ListApps => Ok(Response::Apps {
                list: self
                    .apps
                    .values()
                    .filter(|a| a.hello.uid == uid || uid == 0)
                    .map(|a| AppInfo {
                        pid: a.hello.pid,
                        uid: a.hello.uid,
                        name: a.hello.procname.clone(),
                        events: a
                            .hello
                            .events
                            .iter()
                            .map(|e| EventInfo {
                                name: e.name.clone(),
                                loglevel: e.loglevel,
                                fields: e
                                    .fields
                                    .as_struct()
                                    .map(|s| {
                                        s.members
                                            .iter()
                                            .map(|m| {
                                                (
                                                    rttng_ctf::ir::display_name(&m.name)
                                                        .to_string(),
                                                    field_kind(&m.class).to_string(),
                                                )
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            Request::EnableChannel {
                session,
                domain,
                channel,
                attrs,
            } => {
                let i = self.session_index(&session, uid)?;
                self.enable_channel(i, domain, &channel, &attrs, port)?;
                self.reconcile(port, errs);
                Ok(Response::Ok)
            }
            Request::DisableChannel {
                session,
                domain,
                channel,
            } => {
                let i = self.session_index(&session, uid)?;
                let s = &mut self.sessions[i];
                let c = s
                    .channels
                    .iter_mut()
                    .find(|c| c.domain == domain && c.name == channel)
                    .ok_or_else(|| {
                        err(
                            ErrorCode::NoChannel,
                            format!("channel {channel} not found in session {}", s.name),
                        )
                    })?;
                c.enabled = false;
                self.reconcile(port, errs);
                Ok(Response::Ok)
            }
            Request::EnableEvent {
                session,
                domain,
                channel,
                rule,
            } => {
                let i = self.session_index(&session, uid)?;
                if rule.pattern.is_empty() || rule.pattern.len() > MAX_NAME_BYTES {
                    return Err(err(
                        ErrorCode::InvalidArgument,
                        "event name pattern must be 1 to 255 bytes",
                    ));
                }
                let c = self.channel_for_event(i, domain, channel.as_deref(), port)?;
                if domain == Domain::Kernel {
                    let (sid, chname) = (
                        self.sessions[i].id,
                        self.sessions[i].channels[c].name.clone(),
                    );
                    let op = if rule.syscall {
                        let names = if rule.pattern == "*" {
                            Vec::new()
                        } else {
                            vec![rule.pattern.clone()]
                        };
                        KernelOp::EnableSyscalls {
                            channel: chname,
                            names,
                        }
                    } else {
                        KernelOp::EnableTracepoints {
                            channel: chname,
                            pattern: rule.pattern.clone(),
                        }
                    };
                    port.kernel(sid, op)
                        .map_err(|e| err(ErrorCode::NoEvent, e))?;
                }
                let s = &mut self.sessions[i];
                let ch = &mut s.channels[c];
                if ch.rules.len() >= MAX_RULES {
                    return Err(err(
                        ErrorCode::InvalidArgument,
                        format!("channel {} has {MAX_RULES} rules already", ch.name),
                    ));
                }
                match ch.rules.iter_mut().find(|r| r.rule == rule) {
                    Some(r) => r.enabled = true,
                    None => ch.rules.push(RuleInfo {
                        rule,
                        enabled: true,
                    }),
                }
                self.reconcile(port, errs);
                Ok(Response::Ok)
            }
            Request::DisableEvent {
                session,
                domain,
                channel,
                pattern,
            } => {
                let i = self.session_index(&session, uid)?;
                let s = &mut self.sessions[i];
                let cname = channel.unwrap_or_else(|| DEFAULT_CHANNEL.to_string());
                let ch = s
                    .channels
                    .iter_mut()
                    .find(|c| c.domain == domain && c.name == cname)
                    .ok_or_else(|| {
                        err(
                            ErrorCode::NoChannel,
                            format!("channel {cname} not found in session {session}"),
                        )
                    })?;
                let mut found = false;
                for r in ch.rules.iter_mut().filter(|r| r.rule.pattern == pattern) {
                    r.enabled = false;
                    found = true;
                }
                if !found {
                    return Err(err(
                        ErrorCode::NoEvent,
                        format!("no event rule named {pattern:?} in channel {cname}"),
                    ));
                }
                if domain == Domain::Kernel {
                    let sid = s.id;
                    let op = KernelOp::DisableTracepoints {
                        channel: cname.clone(),
                        pattern: pattern.clone(),
                    };
                    port.kernel(sid, op)
                        .map_err(|e| err(ErrorCode::NoEvent, e))?;
                }
                self.reconcile(port, errs);
                Ok(Response::Ok)
            }
            Request::AddContext {
                session,
                domain,
                channel,
                context,
            } => {
                let i = self.session_index(&session, uid)?;
                let s = &mut self.sessions[i];
                if s.started_once {
                    return Err(err(ErrorCode::SessionActive, format!("session {} was already started; contexts can only be added before the first start", s.name)));
                }
                if domain == Domain::Ust
                    && s.channels.iter().all(|c| c.domain != domain)
                    && channel.is_none()
                {
                    return Err(err(
                        ErrorCode::NoChannel,
                        "no user-space channel in this session; enable a channel or an event first",
                    ));
                }
                let mut any = false;
                let sid = s.id;
                for c in s
                    .channels
                    .iter_mut()
                    .filter(|c| c.domain == domain && channel.as_ref().is_none_or(|n| *n == c.name))
                {
                    if domain == Domain::Kernel {
                        let op = KernelOp::AddContext {
                            channel: c.name.clone(),
                            context,
                        };
                        port.kernel(sid, op)
                            .map_err(|e| err(ErrorCode::InvalidArgument, e))?;
                    }
                    if !c.contexts.contains(&context) {
                        c.contexts.push(context);
                    }
                    any = true;
                }
                if !any {
                    return Err(err(
                        ErrorCode::NoChannel,
                        format!("channel {} not found", channel.unwrap_or_default()),
                    ));
                }
                Ok(Response::Ok)
            }
            Request::Start { session } => {
                let i = self.session_index(&session, uid)?;
                if self.sessions[i].active {
                    return Err(err(
                        ErrorCode::AlreadyStarted,
                        format!("session {session} is already started"),
                    ));
                }
                if let Some(why) = &self.consumer_dead {
                    return Err(err(
                        ErrorCode::ConsumerDead,
                        format!("the consumer daemon is gone ({why}); restart the session daemon"),
                    ));
                }
                let s = &mut self.sessions[i];
                if s.channels.iter().any(|c| c.domain == Domain::Kernel) {
                    let sid = s.id;
                    port.kernel(sid, KernelOp::Start)
                        .map_err(|e| err(ErrorCode::KernelUnavailable, e))?;
                }
                let s = &mut self.sessions[i];
                s.active = true;
                s.started_once = true;
                self.reconcile(port, errs);
                Ok(Response::Ok)
            }
            Request::Stop { session } => {
                let i = self.session_index(&session, uid)?;
                if !self.sessions[i].active {
                    return Err(err(
                        ErrorCode::AlreadyStopped,
                        format!("session {session} is already stopped"),
                    ));
                }
                match self.stop_session(i, port, errs) {
                    Some(w) => Ok(Response::Warning { message: w }),
                    None => Ok(Response::Ok),
                }
            }
            Request::EnableEventFilter { .. } | Request::ListFilters { .. } => Err(err(
                ErrorCode::InvalidArgument,
                "filters are not supported by this session daemon yet",
            )),
        }
    }

    fn create(
        &mut self,
        name: Option<String>,
        output: Option<String>,
        uid: u32,
        now: &Clock,
    ) -> Result<Response, Response> {
        if self.sessions.len() >= MAX_SESSIONS {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("too many sessions (limit {MAX_SESSIONS})"),
            ));
        }
        let (name, dirname) = match name {
            Some(n) => {
                check_name("session", &n)?;
                let d = format!("{n}-{}", now.compact);
                (n, d)
            }
            None => {
                let n = format!("auto-{}", now.compact);
                (n.clone(), n)
            }
        };
        if self.sessions.iter().any(|s| s.name == name) {
            return Err(err(
                ErrorCode::SessionExists,
                format!("a session named {name} already exists"),
            ));
        }
        let output = match output {
            Some(o) if o.starts_with('/') => o,
            Some(o) => {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    format!("output directory {o:?} must be an absolute path"),
                ))
            }
            None => format!(
                "{}/rttng-traces/{dirname}",
                self.host.home.trim_end_matches('/')
            ),
        };
        let id = self.fresh_id();
        self.sessions.push(Session {
            id,
            name: name.clone(),
            output: output.clone(),
            owner_uid: uid,
            active: false,
            started_once: false,
            channels: Vec::new(),
            creation_iso: now.iso.clone(),
            kernel_discarded: 0,
        });
        Ok(Response::SessionCreated { name, output })
    }

    fn enable_channel(
        &mut self,
        i: usize,
        domain: Domain,
        name: &str,
        attrs: &ChannelAttrs,
        port: &mut dyn Port,
    ) -> Result<(), Response> {
        check_name("channel", name)?;
        if domain == Domain::Kernel && !self.host.kernel {
            return Err(err(
                ErrorCode::KernelUnavailable,
                "only the root session daemon can trace the kernel; run rttng as root or as a member of the tracing group while the root daemon runs",
            ));
        }
        let resolved = resolve_attrs(domain, attrs)?;
        let id = self.fresh_id();
        let s = &mut self.sessions[i];
        if let Some(c) = s
            .channels
            .iter_mut()
            .find(|c| c.domain == domain && c.name == name)
        {
            if *attrs != ChannelAttrs::default() {
                return Err(err(
                    ErrorCode::ChannelExists,
                    format!("channel {name} exists already; its attributes cannot change"),
                ));
            }
            if !c.enabled && s.started_once {
                return Err(err(ErrorCode::SessionActive, format!("channel {name} was disabled after the session started; it cannot be enabled again")));
            }
            c.enabled = true;
            return Ok(());
        }
        if s.started_once {
            return Err(err(ErrorCode::SessionActive, format!("session {} was already started; channels can only be created before the first start", s.name)));
        }
        if let Some(other) = s
            .channels
            .iter()
            .find(|c| c.domain == domain && c.attrs.buffers != resolved.buffers)
        {
            return Err(err(ErrorCode::InvalidArgument, format!("channel {} uses another buffering scheme; a session has one buffering scheme per domain", other.name)));
        }
        if s.channels.len() >= MAX_CHANNELS {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("too many channels (limit {MAX_CHANNELS})"),
            ));
        }
        let stream_class_id = s.channels.iter().filter(|c| c.domain == domain).count() as u32;
        if domain == Domain::Kernel {
            let channel = KernelChannel {
                name: name.to_string(),
                subbuf_bytes: resolved.subbuf_size,
                subbuf_count: resolved.num_subbuf,
                overwrite: resolved.overwrite,
            };
            let op = if stream_class_id == 0 {
                KernelOp::Create {
                    session: s.name.clone(),
                    output: s.output.clone(),
                    channel,
                }
            } else {
                KernelOp::AddChannel { channel }
            };
            let sid = s.id;
            port.kernel(sid, op)
                .map_err(|e| err(ErrorCode::KernelUnavailable, e))?;
        }
        let s = &mut self.sessions[i];
        s.channels.push(Channel {
            id,
            name: name.to_string(),
            domain,
            enabled: true,
            attrs: resolved,
            contexts: Vec::new(),
            rules: Vec::new(),
            stream_class_id,
        });
        Ok(())
    }

    /// The channel an event rule goes to: `-c NAME`, else `channel0` (created if the domain
    /// has no channel yet).
    fn channel_for_event(
        &mut self,
        i: usize,
        domain: Domain,
        channel: Option<&str>,
        port: &mut dyn Port,
    ) -> Result<usize, Response> {
        let s = &self.sessions[i];
        if let Some(name) = channel {
            return s
                .channels
                .iter()
                .position(|c| c.domain == domain && c.name == name)
                .ok_or_else(|| err(ErrorCode::NoChannel, format!("channel {name} not found in session {}; create it with `rttng enable-channel`", s.name)));
        }
        if let Some(p) = s
            .channels
            .iter()
            .position(|c| c.domain == domain && c.name == DEFAULT_CHANNEL)
        {
            return Ok(p);
        }
        if s.channels.iter().any(|c| c.domain == domain) {
            return Err(err(
                ErrorCode::NoChannel,
                format!(
                    "session {} has {} channels but none named {DEFAULT_CHANNEL}; name one with -c",
                    s.name,
                    domain.name()
                ),
            ));
        }
        self.enable_channel(i, domain, DEFAULT_CHANNEL, &ChannelAttrs::default(), port)?;
        Ok(self.sessions[i].channels.len() - 1)
    }

    fn stop_session(
        &mut self,
        i: usize,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Option<String> {
        if !self.sessions[i].active {
            return None;
        }
        self.sessions[i].active = false;
        self.reconcile(port, errs);
        let sid = self.sessions[i].id;
        let ids: Vec<u64> = self
            .buffers
            .iter()
            .filter(|b| b.session_id == sid && b.created)
            .map(|b| b.id)
            .collect();
        let mut warn = None;
        if self.sessions[i]
            .channels
            .iter()
            .any(|c| c.domain == Domain::Kernel)
        {
            match port.kernel(sid, KernelOp::Stop) {
                Ok(KernelReply::Stopped { events_discarded }) => {
                    self.sessions[i].kernel_discarded = events_discarded
                }
                Ok(KernelReply::Ok) => {}
                Err(e) => {
                    warn = Some(format!(
                        "the kernel trace could not be written completely: {e}"
                    ))
                }
            }
        }
        for id in ids {
            match port.consumer(ConsumerRequest::Flush { buffer_id: id }) {
                Ok(ConsumerReply::Error { message }) => errs.push(message),
                Ok(_) => {}
                Err(e) => {
                    warn = Some(self.consumer_failed(e));
                }
            }
        }
        warn
    }

    fn consumer_failed(&mut self, e: String) -> String {
        let why = self.consumer_dead.get_or_insert(e).clone();
        format!("the consumer daemon is gone ({why}); the data written before it died stays readable in the trace directory")
    }

    fn destroy_session(&mut self, i: usize, port: &mut dyn Port, errs: &mut Vec<String>) {
        let sid = self.sessions[i].id;
        let app_ids: Vec<AppId> = self.apps.keys().copied().collect();
        for a in app_ids {
            let keys: Vec<ChannelKey> = self.apps[&a]
                .installed
                .keys()
                .filter(|k| k.session_id == sid)
                .copied()
                .collect();
            for key in keys {
                if let Err(e) = port.app(a, AppCommand::RemoveChannel { key }, None) {
                    errs.push(format!("app {}: {e}", self.apps[&a].hello.pid));
                }
                if let Some(app) = self.apps.get_mut(&a) {
                    app.installed.remove(&key);
                    app.enabled.retain(|(_, k), _| *k != key);
                }
            }
        }
        let ids: Vec<u64> = self
            .buffers
            .iter()
            .filter(|b| b.session_id == sid && b.created)
            .map(|b| b.id)
            .collect();
        if self.consumer_dead.is_none() {
            for id in ids {
                if let Err(e) = port.consumer(ConsumerRequest::RemoveBuffer { buffer_id: id }) {
                    errs.push(self.consumer_failed(e));
                    break;
                }
            }
        }
        if self.sessions[i]
            .channels
            .iter()
            .any(|c| c.domain == Domain::Kernel)
        {
            if let Err(e) = port.kernel(sid, KernelOp::Destroy) {
                errs.push(format!("kernel session: {e}"));
            }
        }
        self.buffers.retain(|b| b.session_id != sid);
        self.traces.retain(|(s, _), _| *s != sid);
        self.sessions.remove(i);
    }

    fn detail(&self, i: usize, port: &mut dyn Port) -> SessionDetail {
        let s = &self.sessions[i];
        let mut warnings = Vec::new();
        if let Some(why) = &self.consumer_dead {
            warnings.push(format!("the consumer daemon is gone ({why}); statistics are those last known and no new data is written"));
        }
        let channels = s
            .channels
            .iter()
            .map(|c| {
                let (mut discarded, mut lost) = (0, 0);
                // The kernel reports its losses per session: shown on its first channel.
                if c.domain == Domain::Kernel && c.stream_class_id == 0 {
                    discarded = s.kernel_discarded;
                }
                if self.consumer_dead.is_none() {
                    for b in self
                        .buffers
                        .iter()
                        .filter(|b| b.session_id == s.id && b.channel_id == c.id && b.created)
                    {
                        if let Ok(ConsumerReply::Stats {
                            events_discarded,
                            packets_lost,
                            ..
                        }) = port.consumer(ConsumerRequest::Stats { buffer_id: b.id })
                        {
                            discarded += events_discarded;
                            lost += packets_lost;
                        }
                    }
                }
                ChannelInfo {
                    domain: c.domain,
                    name: c.name.clone(),
                    enabled: c.enabled,
                    attrs: c.attrs.clone(),
                    contexts: c.contexts.clone(),
                    rules: c.rules.clone(),
                    discarded_events: discarded,
                    lost_packets: lost,
                }
            })
            .collect();
        SessionDetail {
            name: s.name.clone(),
            output: s.output.clone(),
            active: s.active,
            channels,
            warnings,
        }
    }

    /// Registers an application (after its hello was decoded and its credentials checked),
    /// and applies the current rules to it. Returns problems to log.
    pub fn app_registered(
        &mut self,
        app: AppId,
        hello: AppHello,
        now: &Clock,
        port: &mut dyn Port,
    ) -> Result<Vec<String>, String> {
        if hello.events.len() > MAX_APP_EVENTS {
            return Err(format!("too many tracepoints ({})", hello.events.len()));
        }
        for e in &hello.events {
            if e.name.is_empty()
                || e.name.len() > MAX_NAME_BYTES
                || e.name
                    .chars()
                    .any(|c| c == '"' || c == '\\' || c.is_control())
            {
                return Err(format!("bad tracepoint name {:?}", e.name));
            }
            validate_class(&e.fields, 0).map_err(|m| format!("tracepoint {}: {m}", e.name))?;
        }
        check_name("process", &hello.procname).map_err(|_| "bad process name".to_string())?;
        self.apps.insert(
            app,
            App {
                hello,
                registered_compact: now.compact.clone(),
                installed: BTreeMap::new(),
                enabled: BTreeMap::new(),
            },
        );
        let mut errs = Vec::new();
        self.reconcile(port, &mut errs);
        Ok(errs)
    }

    /// An application disconnected or died: its per-process buffers are recovered and
    /// closed; a per-user buffer is recovered once no live application uses it.
    pub fn app_gone(&mut self, app: AppId, port: &mut dyn Port) -> Vec<String> {
        let mut errs = Vec::new();
        if self.apps.remove(&app).is_none() {
            return errs;
        }
        let mut recover = Vec::new();
        let mut remove = Vec::new();
        for b in self.buffers.iter_mut() {
            if b.users.remove(&app) && b.users.is_empty() && b.created {
                recover.push(b.id);
                if b.owner == Owner::Pid(app) {
                    remove.push(b.id);
                }
            }
        }
        if self.consumer_dead.is_none() {
            for id in recover {
                if let Err(e) = port.consumer(ConsumerRequest::Recover { buffer_id: id }) {
                    errs.push(self.consumer_failed(e));
                    return errs;
                }
            }
            for id in &remove {
                if let Err(e) = port.consumer(ConsumerRequest::RemoveBuffer { buffer_id: *id }) {
                    errs.push(self.consumer_failed(e));
                    return errs;
                }
            }
        }
        self.buffers.retain(|b| !remove.contains(&b.id));
        self.traces.retain(|(_, o), _| *o != Owner::Pid(app));
        errs
    }

    /// Drives every application to the state the rules ask for.
    pub fn reconcile(&mut self, port: &mut dyn Port, errs: &mut Vec<String>) {
        let app_ids: Vec<AppId> = self.apps.keys().copied().collect();
        for a in app_ids {
            if let Err(e) = self.reconcile_app(a, port) {
                let pid = self.apps.get(&a).map(|x| x.hello.pid).unwrap_or(0);
                errs.push(format!("app {pid}: {e}"));
            }
        }
    }

    fn reconcile_app(&mut self, a: AppId, port: &mut dyn Port) -> Result<(), String> {
        // Desired: (event index, key) → (session index, channel index, event index in hello).
        let app = &self.apps[&a];
        let mut wanted: Vec<(usize, usize)> = Vec::new(); // (session, channel) to install
        let mut want_events: BTreeMap<(u32, ChannelKey), (usize, usize, usize)> = BTreeMap::new();
        for (si, s) in self.sessions.iter().enumerate() {
            if !s.active || (s.owner_uid != 0 && s.owner_uid != app.hello.uid) {
                continue;
            }
            for (ci, c) in s.channels.iter().enumerate() {
                if c.domain != Domain::Ust || !c.enabled {
                    continue;
                }
                wanted.push((si, ci));
                let key = ChannelKey {
                    session_id: s.id,
                    channel_id: c.id,
                };
                for (ei, ev) in app.hello.events.iter().enumerate() {
                    if c.rules
                        .iter()
                        .any(|r| r.enabled && rule_matches(&r.rule, ev))
                    {
                        want_events.insert((ev.index, key), (si, ci, ei));
                    }
                }
            }
        }
        // Disable what is no longer wanted.
        let stale: Vec<(u32, ChannelKey)> = app
            .enabled
            .keys()
            .filter(|k| !want_events.contains_key(k))
            .copied()
            .collect();
        for (event_index, key) in stale {
            send_app(port, a, AppCommand::Disable { event_index, key }, None)?;
            self.apps
                .get_mut(&a)
                .map(|x| x.enabled.remove(&(event_index, key)));
        }
        if self.consumer_dead.is_some() && !wanted.is_empty() {
            return Err("the consumer daemon is gone; no buffers can be created".into());
        }
        // Install channels.
        for (si, ci) in wanted {
            let key = ChannelKey {
                session_id: self.sessions[si].id,
                channel_id: self.sessions[si].channels[ci].id,
            };
            if self.apps[&a].installed.contains_key(&key) {
                continue;
            }
            let buffer = self.ensure_buffer(si, ci, a, port)?;
            let c = &self.sessions[si].channels[ci];
            let cmd = AppCommand::InstallChannel {
                key,
                stream_class_id: c.stream_class_id,
                contexts: c.contexts.clone(),
            };
            let reply = send_app(port, a, cmd, Some(buffer))?;
            let AppReply::Ok { context_class } = reply else {
                return Err("application answered with an error".into());
            };
            if let Some(cc) = &context_class {
                validate_class(cc, 0)?;
            }
            let tk = self.trace_key(si, ci, a);
            let sc = u64::from(self.sessions[si].channels[ci].stream_class_id);
            if let Some(t) = self.traces.get_mut(&tk) {
                if !t.md.has_stream(sc) {
                    let text =
                        t.md.add_stream(sc, context_class)
                            .map_err(|e| e.to_string())?;
                    let (dir, uuid) = (t.dir.clone(), t.uuid);
                    self.append_metadata(dir, uuid, text, port)?;
                }
            }
            let app = self.apps.get_mut(&a).ok_or("app vanished")?;
            app.installed.insert(key, buffer);
            if let Some(b) = self.buffers.iter_mut().find(|b| b.id == buffer) {
                b.users.insert(a);
            }
        }
        // Enable what is wanted and not enabled yet.
        for ((event_index, key), (si, ci, ei)) in want_events {
            if self.apps[&a].enabled.contains_key(&(event_index, key)) {
                continue;
            }
            let tk = self.trace_key(si, ci, a);
            let sc = u64::from(self.sessions[si].channels[ci].stream_class_id);
            let ev = &self.apps[&a].hello.events[ei];
            let (name, loglevel, fields) = (ev.name.clone(), ev.loglevel, ev.fields.clone());
            let t = self.traces.get_mut(&tk).ok_or("trace registry missing")?;
            let (id, text) =
                t.md.event_id(sc, &name, i64::from(loglevel), &fields)
                    .map_err(|e| e.to_string())?;
            if !text.is_empty() {
                let (dir, uuid) = (t.dir.clone(), t.uuid);
                self.append_metadata(dir, uuid, text, port)?;
            }
            let id = u32::try_from(id).map_err(|_| "event id out of range")?;
            send_app(
                port,
                a,
                AppCommand::Enable {
                    event_index,
                    key,
                    event_class_id: id,
                },
                None,
            )?;
            self.apps
                .get_mut(&a)
                .map(|x| x.enabled.insert((event_index, key), id));
        }
        Ok(())
    }

    fn append_metadata(
        &mut self,
        trace_dir: String,
        uuid: [u8; 16],
        text: String,
        port: &mut dyn Port,
    ) -> Result<(), String> {
        match port.consumer(ConsumerRequest::AppendMetadata {
            trace_dir,
            uuid,
            text,
        }) {
            Ok(ConsumerReply::Error { message }) => Err(message),
            Ok(_) => Ok(()),
            Err(e) => Err(self.consumer_failed(e)),
        }
    }

    fn trace_key(&self, si: usize, ci: usize, a: AppId) -> (u64, Owner) {
        let s = &self.sessions[si];
        match s.channels[ci].attrs.buffers {
            Buffers::PerPid => (s.id, Owner::Pid(a)),
            _ => (s.id, Owner::Uid(self.apps[&a].hello.uid)),
        }
    }

    /// The buffer of channel `ci` of session `si` for app `a`, created (with its trace
    /// registry and metadata) if needed.
    fn ensure_buffer(
        &mut self,
        si: usize,
        ci: usize,
        a: AppId,
        port: &mut dyn Port,
    ) -> Result<u64, String> {
        let (sid, cid) = (self.sessions[si].id, self.sessions[si].channels[ci].id);
        let tk = self.trace_key(si, ci, a);
        if let Some(b) = self
            .buffers
            .iter()
            .find(|b| b.session_id == sid && b.channel_id == cid && b.owner == tk.1 && b.created)
        {
            return Ok(b.id);
        }
        if !self.traces.contains_key(&tk) {
            let s = &self.sessions[si];
            let app = &self.apps[&a];
            let h = &app.hello;
            let (dir, env) = match tk.1 {
                Owner::Uid(uid) => (
                    format!("{}/ust/uid/{uid}/{}-bit", s.output, h.bitness),
                    rttng_ctf::writer::ust_uid_env(
                        &self.host.hostname,
                        &s.name,
                        &s.creation_iso,
                        i64::from(uid),
                    ),
                ),
                Owner::Pid(_) => (
                    format!(
                        "{}/ust/pid/{}-{}-{}",
                        s.output, h.procname, h.pid, app.registered_compact
                    ),
                    pid_env(
                        &self.host.hostname,
                        &s.name,
                        &s.creation_iso,
                        h,
                        &app.registered_compact,
                    ),
                ),
            };
            let uuid = port.new_uuid();
            let c = &h.clock;
            let clock = ClockClass {
                name: c.name.clone(),
                uuid: c.uuid,
                description: Some(c.description.clone()),
                freq: c.freq,
                offset_s: c.offset_s,
                offset: c.offset,
                precision: c.precision,
                absolute: c.absolute,
            };
            let (md, text) = TraceMetadata::new(uuid, clock, env);
            self.append_metadata(dir.clone(), uuid, text, port)?;
            self.traces.insert(tk, Trace { dir, uuid, md });
        }
        let t = &self.traces[&tk];
        let c = &self.sessions[si].channels[ci];
        let id = self.next_id;
        self.next_id += 1;
        let spec = BufferSpec {
            buffer_id: id,
            trace_dir: t.dir.clone(),
            channel: c.name.clone(),
            cpu_count: self.host.cpu_count,
            subbuf_bytes: c.attrs.subbuf_size as u32,
            subbuf_count: c.attrs.num_subbuf as u32,
            overwrite: c.attrs.overwrite,
            stream_id: c.stream_class_id,
            uuid: t.uuid,
            switch_timer_us: c.attrs.switch_timer_us,
            read_timer_us: c.attrs.read_timer_us,
            tracefile_size: c.attrs.tracefile_size,
            tracefile_count: c.attrs.tracefile_count,
        };
        match port.consumer(ConsumerRequest::AddBuffer { spec }) {
            Ok(ConsumerReply::Ok) => {}
            Ok(ConsumerReply::Error { message }) => return Err(message),
            Ok(other) => return Err(format!("unexpected consumer reply {other:?}")),
            Err(e) => return Err(self.consumer_failed(e)),
        }
        self.buffers.push(Buffer {
            id,
            session_id: sid,
            channel_id: cid,
            owner: tk.1,
            users: BTreeSet::new(),
            created: true,
        });
        Ok(id)
    }
}

fn send_app(
    port: &mut dyn Port,
    a: AppId,
    cmd: AppCommand,
    buffer: Option<u64>,
) -> Result<AppReply, String> {
    match port.app(a, cmd, buffer)? {
        AppReply::Error { message } => Err(message),
        ok => Ok(ok),
    }
}

/// The `env` block of a per-process lttng-ust trace.
fn pid_env(
    hostname: &str,
    trace_name: &str,
    datetime: &str,
    h: &AppHello,
    registered: &str,
) -> Vec<(String, EnvValue)> {
    let s = |k: &str, v: &str| (k.to_string(), EnvValue::Str(v.to_string()));
    let i = |k: &str, v: i64| (k.to_string(), EnvValue::Int(v));
    vec![
        s("hostname", hostname),
        s("domain", "ust"),
        s("tracer_name", "lttng-ust"),
        i("tracer_major", 2),
        i("tracer_minor", 13),
        i("tracer_patchlevel", 0),
        s("tracer_buffering_scheme", "pid"),
        i("tracer_buffering_id", i64::from(h.pid)),
        i("architecture_bit_width", i64::from(h.bitness)),
        s("trace_name", trace_name),
        s("trace_creation_datetime", datetime),
        i("vpid", i64::from(h.pid)),
        s("procname", &h.procname),
        s("vpid_datetime", registered),
    ]
}

#[cfg(test)]
mod tests;
