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

mod agent;
mod apps;
mod attrs;
mod deferred;
mod effects;
mod kernel;
pub mod metadata;
mod relay;
mod requests;
mod snapshot;
mod trackers;
mod validate;

pub use agent::{agent_filter, ust_names, AgentAppContext, AgentEnable};
pub use attrs::*;
pub use deferred::{Answer, Deferred, Effect, Reply};
pub use effects::SessionSave;
pub use kernel::{KernelChannel, KernelOp, KernelReply};
pub use requests::lost_message;
pub use snapshot::{packets_per_stream, StreamGroup, MAX_SNAPSHOT_OUTPUTS};
pub use trackers::MAX_TRACKER_VALUES;
pub use validate::{validate_class, validate_clock, validate_hello};

use metadata::TraceMetadata;
use rttng_proto::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub type AppId = u64;

/// The outside world, as the state machine sees it.
pub trait Port {
    /// Sends a request to the consumer daemon. For `AddBuffer` the runtime keeps the returned
    /// fd under the buffer id, and passes it with `InstallChannel` for that buffer.
    fn consumer(&mut self, req: ConsumerRequest) -> Result<ConsumerReply, String>;
    /// [`Port::consumer`] for a request on behalf of session `session_id` (the daemon
    /// carries out each session's requests in order, outside its lock, and may answer
    /// effects such as buffer creation or metadata at once: their failures come back
    /// through [`Registry::effect_failed`]).
    fn consumer_in(
        &mut self,
        session_id: u64,
        req: ConsumerRequest,
    ) -> Result<ConsumerReply, String> {
        let _ = session_id;
        self.consumer(req)
    }
    /// Sends a command to application `app`; `buffer` names the buffer whose fd goes with it.
    /// `Ok(None)`: the command is on its way and its answer comes later, through
    /// [`Registry::app_replied`], in the order the commands were sent (the daemon does no
    /// application I/O while it holds its lock). `Err`: the app cannot be reached.
    fn app(
        &mut self,
        app: AppId,
        cmd: AppCommand,
        buffer: Option<u64>,
    ) -> Result<Option<AppReply>, String>;
    fn new_uuid(&mut self) -> [u8; 16];
    /// Acts on the kernel tracing session of session `session_id` (root daemon only).
    fn kernel(&mut self, session_id: u64, op: KernelOp) -> Result<KernelReply, String>;
    /// Creates the trace output directory `path` of a session of user `uid` if needed and
    /// checks that files can be written in it; the error names the path and the reason.
    fn prepare_output(&mut self, path: &str, uid: u32) -> Result<(), String> {
        let _ = (path, uid);
        Ok(())
    }
    /// The home directory of user `uid`, when it is another user than the daemon's: a
    /// session's default output goes below its owner's home (lttng's client computes it from
    /// its own), so that the owner can write it. `None`: the daemon's home.
    fn home_of(&mut self, uid: u32) -> Option<String> {
        let _ = uid;
        None
    }
}

/// Wall-clock strings, given by the caller (the state machine reads no clock).
#[derive(Debug, Clone)]
pub struct Clock {
    /// `YYYYmmdd-HHMMSS`, local time.
    pub compact: String,
    /// `YYYYmmddTHHMMSS+hhmm`.
    pub iso: String,
    /// The same instant, seconds since the Epoch (a relay names the session's directory
    /// from it).
    pub epoch_s: u64,
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

#[derive(Debug, Clone)]
struct Channel {
    id: u64,
    name: String,
    domain: Domain,
    enabled: bool,
    attrs: ResolvedAttrs,
    contexts: Vec<ContextType>,
    /// Application contexts (`PROVIDER:NAME`), each at its position among all the
    /// channel's contexts (`contexts` fill the others, in order).
    app_contexts: Vec<AppContextAt>,
    rules: Vec<RuleInfo>,
    /// The filter of each rule (same length as `rules`).
    filters: Vec<Option<StoredFilter>>,
    stream_class_id: u32,
    /// Losses of this channel's buffers that are gone (exited apps' per-process buffers):
    /// (discarded events, lost packets, events in packets that could not be written), as
    /// the consumer last counted them.
    gone_losses: (u64, u64, u64),
}

/// A rule's filter: the text as given (for `list`) and the compiled program sent to apps.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredFilter {
    text: String,
    program: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Session {
    id: u64,
    name: String,
    output: String,
    owner_uid: u32,
    active: bool,
    started_once: bool,
    channels: Vec<Channel>,
    creation_iso: String,
    /// Seconds since the Epoch.
    creation_s: u64,
    /// Events the kernel lost, as of the last stop.
    kernel_discarded: u64,
    /// The consumer daemon holding this session's buffers died (why): what it wrote stays,
    /// nothing more is recorded; the session can only be stopped, listed and destroyed.
    consumer_lost: Option<String>,
    /// Network output (`create --set-url`): its trace directories are relative to a relay
    /// session the consumer holds.
    net: Option<relay::NetOutput>,
    /// A snapshot session: its outputs (nothing is written until `snapshot record`).
    snapshot: Option<snapshot::SnapshotState>,
    /// Process attribute trackers (absent: everything is tracked).
    trackers: trackers::Trackers,
    /// Rules of the agents' domains (`agent.rs`).
    agent_rules: Vec<agent::AgentRule>,
    /// Application contexts the agents of a domain are asked to provide (`add-context
    /// -j/-l -t '$app.P:N'`): (domain, provider, name).
    agent_app_contexts: Vec<(Domain, String, String)>,
}

impl Session {
    /// The session's channel `name` in `domain`, or the `NoChannel` answer naming both.
    fn channel_mut(&mut self, domain: Domain, name: &str) -> Result<&mut Channel, Response> {
        let session = &self.name;
        self.channels
            .iter_mut()
            .find(|c| c.domain == domain && c.name == name)
            .ok_or_else(|| {
                err(
                    ErrorCode::NoChannel,
                    format!("channel {name} not found in session {session}"),
                )
            })
    }
}

#[derive(Debug)]
struct App {
    hello: AppHello,
    /// The app's group id as the kernel reported it (None: not known).
    gid: Option<u32>,
    registered_compact: String,
    /// Channels installed, with the buffer each uses.
    installed: BTreeMap<ChannelKey, u64>,
    /// Channels whose install is not answered yet, with their buffers.
    installing: BTreeMap<ChannelKey, u64>,
    /// Commands sent and not answered yet, oldest first.
    awaiting: VecDeque<Awaited>,
    /// `RegistrationDone` was sent.
    registration_done: bool,
    /// ... and answered: every command of its initial state was carried out.
    initialized: bool,
    /// (event index, channel) → event class id, currently enabled.
    enabled: BTreeMap<(u32, ChannelKey), u32>,
    /// (event index, channel) → the filter programs last sent (absent: none).
    filters: BTreeMap<(u32, ChannelKey), Vec<Vec<u8>>>,
}

/// What an unanswered command was.
#[derive(Debug, Clone, Copy)]
enum Awaited {
    Install(ChannelKey),
    RegistrationDone,
    Other,
}

#[derive(Debug)]
struct Trace {
    dir: String,
    /// `dir` below the session's output (`ust/uid/1000/64-bit`): where a snapshot puts it.
    rel: String,
    /// A snapshot session's: the whole metadata so far (a snapshot writes it in full).
    /// A relayed trace's: the base blocks until the first stream class is sent with them.
    text: String,
    uuid: [u8; 16],
    md: TraceMetadata,
    /// The relay session (its id) this trace streams to; `dir` is then relative.
    relay: Option<u64>,
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
    /// This daemon instance's uuid, as relays know it (drawn at the first relay session).
    instance_uuid: Option<[u8; 16]>,
    /// Sessions as they were before each effect that may fail the request
    /// (`effects.rs`).
    checkpoints: Vec<effects::SessionSave>,
}

/// The result of a client request, plus problems met while applying it to applications
/// (an app that did not answer is not the client's error).
#[derive(Debug)]
pub struct Outcome {
    pub response: Response,
    pub app_errors: Vec<String>,
    /// Consumer requests left to carry out (by [`Registry::handle_deferring`] only); the
    /// response is then that of [`Registry::complete`].
    pub deferred: Option<Deferred>,
}

fn err(code: ErrorCode, msg: impl Into<String>) -> Response {
    Response::error(code, msg)
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
            instance_uuid: None,
            checkpoints: Vec::new(),
        }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Records that the consumer daemon died (`why` says how): every session that had
    /// buffers in it, or kernel channels (their drains were in it), lost them (and says so),
    /// and the buffers are forgotten. Until
    /// [`Self::consumer_restarted`], requests that need a consumer are refused.
    pub fn consumer_died(&mut self, why: String) {
        for s in self.sessions.iter_mut() {
            if self
                .buffers
                .iter()
                .any(|b| b.session_id == s.id && b.created)
                || s.channels.iter().any(|c| c.domain == Domain::Kernel)
            {
                s.consumer_lost.get_or_insert_with(|| why.clone());
            }
        }
        self.buffers.clear();
        self.consumer_dead.get_or_insert(why);
    }

    /// A new consumer daemon runs (the runtime respawned it): new buffers go to it.
    /// Sessions that lost their buffers stay lost.
    pub fn consumer_restarted(&mut self) {
        self.consumer_dead = None;
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

    /// Session `name` of user `uid`. Names are per user; root also reaches another user's
    /// session when it has none of that name and exactly one other user has.
    fn session_index(&self, name: &str, uid: u32) -> Result<usize, Response> {
        let not_found = || {
            // Another user's session is invisible, as if it did not exist.
            err(ErrorCode::NoSession, format!("session {name:?} not found"))
        };
        let named = |s: &&Session| s.name == name;
        if let Some(i) = self
            .sessions
            .iter()
            .position(|s| named(&s) && s.owner_uid == uid)
        {
            return Ok(i);
        }
        if uid != 0 {
            return Err(not_found());
        }
        let mut others = self.sessions.iter().enumerate().filter(|(_, s)| named(s));
        match (others.next(), others.next()) {
            (Some((i, _)), None) => Ok(i),
            (None, _) => Err(not_found()),
            (Some(_), Some(_)) => Err(err(
                ErrorCode::InvalidArgument,
                format!(
                    "several users have a session named {name:?}; run the command as its owner"
                ),
            )),
        }
    }

    /// Handles one client request from a peer with user id `uid`.
    /// Consumer requests that may wait (see [`Registry::handle_deferring`]) are sent at
    /// once, through `port`.
    pub fn handle(&mut self, req: Request, uid: u32, now: &Clock, port: &mut dyn Port) -> Outcome {
        let mut out = self.handle_deferring(req, uid, now, port);
        if let Some(d) = out.deferred.take() {
            let replies = d.carry_out(port);
            out.response = self.complete(d, replies, &mut out.app_errors);
        }
        out
    }

    pub(crate) fn dispatch(
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
            Request::CreateSession {
                name,
                output,
                live_timer_us,
            } => {
                let home = port.home_of(uid);
                self.create(name, output, live_timer_us, uid, home, now)
            }
            // Their consumer requests may wait: see `handle_deferring`.
            Request::DestroySession { .. }
            | Request::DestroySessionNoWait { .. }
            | Request::Stop { .. }
            | Request::StopNoWait { .. } => Err(err(
                ErrorCode::Internal,
                "stop and destroy go through handle_deferring",
            )),
            Request::ListSessions => Ok(self.list_sessions(uid)),
            // Their answers need consumer requests: see `handle_deferring`.
            Request::ListSession { .. } | Request::SnapshotRecord { .. } => Err(err(
                ErrorCode::Internal,
                "list and snapshot record go through handle_deferring",
            )),
            Request::ListApps => Ok(self.list_apps(uid)),
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
            } => self.disable_channel(&session, uid, domain, &channel, port, errs),
            Request::EnableEvent {
                session,
                domain,
                channel,
                rule,
            } => {
                let i = self.session_index(&session, uid)?;
                if domain.is_agent() {
                    return self.enable_agent_event(i, domain, rule, None, port, errs);
                }
                self.enable_event(i, domain, channel.as_deref(), rule, None, port, errs)
            }
            Request::EnableEventFilter {
                session,
                domain,
                channel,
                rule,
                filter,
            } => {
                let i = self.session_index(&session, uid)?;
                if domain.is_agent() {
                    return self.enable_agent_event(i, domain, rule, Some(filter), port, errs);
                }
                self.enable_event(
                    i,
                    domain,
                    channel.as_deref(),
                    rule,
                    Some(filter),
                    port,
                    errs,
                )
            }
            Request::ListFilters { session } => {
                let i = self.session_index(&session, uid)?;
                Ok(Response::Filters {
                    list: self.filters_of(i),
                })
            }
            Request::DisableEvent {
                session,
                domain,
                channel,
                pattern,
            } => {
                let i = self.session_index(&session, uid)?;
                if domain.is_agent() {
                    return self.disable_agent_event(i, domain, &pattern, port, errs);
                }
                self.disable_event(i, domain, channel, pattern, port, errs)
            }
            Request::ListAgentRules { session } => {
                let i = self.session_index(&session, uid)?;
                Ok(Response::AgentRules {
                    list: self.agent_rules_of(i),
                })
            }
            // The daemon asks its live agents itself (no session state is involved).
            Request::ListAgentLoggers { .. } => Err(err(
                ErrorCode::Internal,
                "agent loggers are listed by the daemon's agent server",
            )),
            Request::AddContext {
                session,
                domain,
                channel,
                context,
            } => self.add_context(&session, uid, domain, channel, context, port),
            Request::AddAppContext {
                session,
                domain,
                channel,
                name,
            } => self.add_app_context(&session, uid, domain, channel, &name, port),
            Request::Start { session } => self.start(&session, uid, port, errs),
            Request::Track {
                session,
                domain,
                attr,
                value,
                all,
            } => {
                let i = self.session_index(&session, uid)?;
                self.track(i, domain, attr, value, all, true, port, errs)
            }
            Request::Untrack {
                session,
                domain,
                attr,
                value,
                all,
            } => {
                let i = self.session_index(&session, uid)?;
                self.track(i, domain, attr, value, all, false, port, errs)
            }
            Request::ListTrackers { session } => {
                let i = self.session_index(&session, uid)?;
                Ok(Response::Trackers {
                    list: self.trackers_of(i),
                })
            }
            Request::DisableEventAll {
                session,
                domain,
                channel,
            } => {
                let i = self.session_index(&session, uid)?;
                self.disable_event_all(i, domain, channel, port, errs)
            }
            Request::CreateSnapshotSession {
                name,
                output,
                no_output,
            } => {
                let home = port.home_of(uid);
                self.create_snapshot(name, output, no_output, uid, home, now)
            }
            Request::SnapshotAddOutput { session, output } => {
                let i = self.session_index(&session, uid)?;
                self.snapshot_add_output(i, output)
            }
            Request::SnapshotDelOutput { session, id, name } => {
                let i = self.session_index(&session, uid)?;
                self.snapshot_del_output(i, id, &name)
            }
            Request::SnapshotListOutputs { session } => {
                let i = self.session_index(&session, uid)?;
                self.snapshot_list_outputs(i)
            }
        }
    }
}

#[cfg(test)]
mod tests;
