//! Client requests on sessions, one method each (list, start, create, destroy, describe),
//! and what the others share (filters, the lost-consumer message); channel, event and
//! context requests are in `requests/channels.rs`. Each method checks its arguments, changes the
//! state, then calls [`Registry::reconcile`] when applications are affected. Not here:
//! attribute rules (`attrs.rs`), the per-app work (`apps.rs`).

use crate::attrs::MAX_SESSIONS;
use crate::attrs::MAX_SESSIONS_PER_UID;
use crate::deferred::{next_consumer, next_kernel};
use crate::validate::{check_name, field_kind};
use crate::StoredFilter;
use crate::{
    err, Answer, AppId, Clock, Deferred, Effect, KernelOp, KernelReply, Port, Registry, Session,
};
use rttng_proto::*;

mod channels;

impl Registry {
    pub(crate) fn list_sessions(&self, uid: u32) -> Response {
        Response::Sessions {
            list: self
                .sessions
                .iter()
                .filter(|s| s.owner_uid == uid || uid == 0)
                .map(|s| SessionSummary {
                    name: s.name.clone(),
                    output: s.output.clone(),
                    active: s.active,
                    snapshot: s.snapshot.is_some(),
                })
                .collect(),
        }
    }

    pub(crate) fn list_apps(&self, uid: u32) -> Response {
        Response::Apps {
            list: self
                .apps
                .values()
                // An app is listed once it has carried out its initial state (as when
                // registration was synchronous): listed means traced as the rules say.
                .filter(|a| (a.hello.uid == uid || uid == 0) && a.initialized)
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
                                                rttng_ctf::ir::display_name(&m.name).to_string(),
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
        }
    }

    pub(crate) fn start(
        &mut self,
        session: &str,
        uid: u32,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        let i = self.session_index(session, uid)?;
        if self.sessions[i].active {
            // lttng's words (a warning, status 80).
            return Err(err(
                ErrorCode::AlreadyStarted,
                format!("Tracing already started for session {session}"),
            ));
        }
        // lttng refuses to start a session with nothing to record (status 72), and the
        // session stays as it was: channels can still be added.
        if self.sessions[i].channels.is_empty() {
            return Err(err(ErrorCode::NoChannel, "No channel found in the session"));
        }
        if let Some(why) = &self.sessions[i].consumer_lost {
            return Err(err(
                ErrorCode::ConsumerDead,
                format!(
                    "session {session} lost its buffers: {}; destroy it and create another",
                    lost_message(why)
                ),
            ));
        }
        if let Some(why) = &self.consumer_dead {
            return Err(err(
                ErrorCode::ConsumerDead,
                format!("the consumer daemon is gone ({why}); restart the session daemon"),
            ));
        }
        // Refuse up front what could not be written (lttng: "Create directory failed"),
        // instead of losing every event in silence.
        // (A network session's output is on the relay's host: the relay reports its own.
        // A snapshot session writes only at `snapshot record`, to its snapshot outputs,
        // which report their own errors then.)
        let s = &self.sessions[i];
        if s.net.is_none() && s.snapshot.is_none() {
            port.prepare_output(&s.output, s.owner_uid).map_err(|e| {
                err(
                    ErrorCode::CreateDirFailed,
                    format!("Create directory failed: {e}"),
                )
            })?;
        }
        let s = &mut self.sessions[i];
        if s.channels.iter().any(|c| c.domain == Domain::Kernel) {
            let sid = s.id;
            self.checkpoint(sid);
            port.kernel(sid, KernelOp::Start)
                .map_err(|e| err(ErrorCode::KernelUnavailable, e))?;
        }
        let s = &mut self.sessions[i];
        s.active = true;
        s.started_once = true;
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    pub(crate) fn create(
        &mut self,
        name: Option<String>,
        output: Option<String>,
        live_timer_us: u64,
        uid: u32,
        home: Option<String>,
        now: &Clock,
    ) -> Result<Response, Response> {
        if live_timer_us > u64::from(u32::MAX) {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("live timer {live_timer_us} µs is beyond {} µs", u32::MAX),
            ));
        }
        // One user's sessions cannot exhaust another's share: a limit per uid, and a
        // total for the users other than root.
        let mine = self.sessions.iter().filter(|s| s.owner_uid == uid).count();
        let others = self.sessions.iter().filter(|s| s.owner_uid != 0).count();
        if mine >= MAX_SESSIONS_PER_UID || (uid != 0 && others >= MAX_SESSIONS) {
            return Err(err(
                ErrorCode::InvalidArgument,
                format!("too many sessions (limit {MAX_SESSIONS_PER_UID} per user, {MAX_SESSIONS} in all); destroy some"),
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
        // Names are per user: another user's session of the same name is neither
        // revealed nor in the way.
        if self
            .sessions
            .iter()
            .any(|s| s.name == name && s.owner_uid == uid)
        {
            return Err(err(
                ErrorCode::SessionExists,
                format!("a session named {name} already exists"),
            ));
        }
        let mut net = None;
        let output = match output {
            Some(o) if o.starts_with('/') => o,
            Some(o) if o.starts_with("net://") || o.starts_with("net6://") => {
                let url = rttng_relay_proto::url::parse_net(&o).map_err(|e| {
                    err(
                        ErrorCode::InvalidArgument,
                        format!("bad relay URL {o:?}: {e}"),
                    )
                })?;
                let shown = url.to_string();
                let mut n = crate::relay::NetOutput::new(url);
                n.live_timer_us = live_timer_us;
                net = Some(n);
                shown
            }
            _ if live_timer_us > 0 => {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    "a live session streams to a relay daemon: give a net:// URL".to_string(),
                ))
            }
            Some(o) => {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    format!("output directory {o:?} must be an absolute path"),
                ))
            }
            None => format!(
                "{}/rttng-traces/{dirname}",
                home.as_deref()
                    .unwrap_or(&self.host.home)
                    .trim_end_matches('/')
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
            creation_s: now.epoch_s,
            kernel_discarded: 0,
            consumer_lost: None,
            net,
            snapshot: None,
            trackers: Default::default(),
            agent_rules: Vec::new(),
            agent_app_contexts: Vec::new(),
        });
        Ok(Response::SessionCreated { name, output })
    }

    /// The consumer daemon stopped answering (`e`): recorded as dead; returns what the
    /// sessions that lost it say.
    pub fn consumer_failed(&mut self, e: String) -> String {
        self.consumer_died(e);
        let why = self.consumer_dead.clone().unwrap_or_default();
        lost_message(&why)
    }

    /// Forgets session `i` (its apps told to drop its channels) and appends the removal of
    /// its buffers, of its kernel session and the close of its relay session to `effects`;
    /// returns whether the kernel removal was appended, and the relay's URL when its close
    /// was appended (last).
    pub(crate) fn destroy_session(
        &mut self,
        i: usize,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
        effects: &mut Vec<Effect>,
    ) -> (bool, Option<String>) {
        let sid = self.sessions[i].id;
        let app_ids: Vec<AppId> = self.apps.keys().copied().collect();
        for a in app_ids {
            let app = &self.apps[&a];
            let keys: Vec<ChannelKey> = app
                .installed
                .keys()
                .chain(app.installing.keys())
                .filter(|k| k.session_id == sid)
                .copied()
                .collect();
            for key in keys {
                if let Err(e) = self.send_app(port, a, AppCommand::RemoveChannel { key }) {
                    errs.push(format!("app {}: {e}", self.apps[&a].hello.pid));
                }
                if let Some(app) = self.apps.get_mut(&a) {
                    app.installed.remove(&key);
                    app.installing.remove(&key);
                    app.enabled.retain(|(_, k), _| *k != key);
                    app.filters.retain(|(_, k), _| *k != key);
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
            effects
                .extend(ids.into_iter().map(|buffer_id| {
                    Effect::Consumer(ConsumerRequest::RemoveBuffer { buffer_id })
                }));
        }
        let kernel = self.sessions[i]
            .channels
            .iter()
            .any(|c| c.domain == Domain::Kernel);
        if kernel {
            effects.push(Effect::Kernel(KernelOp::Destroy));
        }
        let s = &self.sessions[i];
        let relay_url = s
            .net
            .as_ref()
            .filter(|n| n.open && self.consumer_dead.is_none())
            .map(|n| n.url.to_string());
        if relay_url.is_some() {
            effects.push(Effect::Consumer(ConsumerRequest::CloseRelay {
                relay_id: s.id,
            }));
        }
        self.buffers.retain(|b| b.session_id != sid);
        self.traces.retain(|(s, _), _| *s != sid);
        self.sessions.remove(i);
        (kernel, relay_url)
    }

    /// `list SESSION`: what the state says, and the effects that ask the consumer for the
    /// rest (the relay's status, the kernel's and each buffer's losses).
    pub(crate) fn detail_begin(&self, i: usize) -> Deferred {
        let s = &self.sessions[i];
        let mut warnings = Vec::new();
        let mut effects = Vec::new();
        if let Some(why) = &s.consumer_lost {
            warnings.push(format!(
                "{}; nothing after it is recorded: destroy this session and create another",
                lost_message(why)
            ));
        } else if let Some(why) = &self.consumer_dead {
            warnings.push(format!("the consumer daemon is gone ({why}); statistics are those last known and no new data is written"));
        }
        let relay = match self.relay_error(i) {
            Ok(Some(why)) => {
                warnings.push(why);
                None
            }
            Ok(None) => None,
            Err(url) => {
                effects.push(Effect::Consumer(ConsumerRequest::RelayStatus {
                    relay_id: s.id,
                }));
                Some(url)
            }
        };
        // While tracing, the kernel's losses as the packets written so far say them.
        let kernel_stats = s.active
            && self.consumer_dead.is_none()
            && s.channels.iter().any(|c| c.domain == Domain::Kernel);
        if kernel_stats {
            effects.push(Effect::Kernel(KernelOp::Stats));
        }
        let mut stats = Vec::new();
        let channels = s
            .channels
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                // Buffers that are gone (exited apps' per-process ones) still count.
                let (discarded, lost, lost_events) = c.gone_losses;
                if self.consumer_dead.is_none() {
                    for b in self
                        .buffers
                        .iter()
                        .filter(|b| b.session_id == s.id && b.channel_id == c.id && b.created)
                    {
                        effects.push(Effect::Consumer(ConsumerRequest::Stats { buffer_id: b.id }));
                        stats.push(ci);
                    }
                }
                ChannelInfo {
                    domain: c.domain,
                    name: c.name.clone(),
                    enabled: c.enabled,
                    attrs: c.attrs.clone(),
                    contexts: c.contexts.clone(),
                    // Agent rules' internal rules are not shown (as in lttng).
                    rules: c
                        .rules
                        .iter()
                        .filter(|r| !crate::agent::is_internal(&c.name, &r.rule.pattern))
                        .cloned()
                        .collect(),
                    discarded_events: discarded,
                    lost_packets: lost,
                    lost_events,
                }
            })
            .collect();
        // The kernel reports its losses per session: shown on its first channel.
        let kernel_channel = s
            .channels
            .iter()
            .position(|c| c.domain == Domain::Kernel && c.stream_class_id == 0);
        let detail = SessionDetail {
            name: s.name.clone(),
            output: s.output.clone(),
            active: s.active,
            channels,
            warnings,
            snapshot: s.snapshot.is_some(),
        };
        Deferred::detail(
            s.id,
            effects,
            DetailPlan {
                detail,
                relay,
                kernel_stats,
                kernel_discarded: s.kernel_discarded,
                kernel_channel,
                stats,
            },
        )
    }

    /// The `list SESSION` answer, from the answers to [`Self::detail_begin`]'s effects.
    pub(crate) fn detail_complete(
        &mut self,
        plan: DetailPlan,
        replies: &mut impl Iterator<Item = Answer>,
    ) -> Response {
        let mut d = plan.detail;
        if let Some(url) = plan.relay {
            if let Ok(ConsumerReply::RelayStatus {
                failure,
                packets_lost,
            }) = next_consumer(replies)
            {
                if !failure.is_empty() {
                    d.warnings.push(format!(
                        "streaming to the relay at {url} failed: {failure}; {packets_lost} packets lost since"
                    ));
                }
            }
        }
        let mut kernel_discarded = plan.kernel_discarded;
        if plan.kernel_stats {
            if let Ok(KernelReply::Stopped { events_discarded }) = next_kernel(replies) {
                kernel_discarded = events_discarded;
            }
        }
        if let Some(c) = plan.kernel_channel.and_then(|k| d.channels.get_mut(k)) {
            c.discarded_events += kernel_discarded;
        }
        for ci in plan.stats {
            if let Ok(ConsumerReply::Stats {
                events_discarded,
                packets_lost,
                events_lost,
                ..
            }) = next_consumer(replies)
            {
                if let Some(c) = d.channels.get_mut(ci) {
                    c.discarded_events += events_discarded;
                    c.lost_packets += packets_lost;
                    c.lost_events += events_lost;
                }
            }
        }
        Response::Session { detail: d }
    }
}

/// What `list SESSION` still needs from the consumer.
#[derive(Debug)]
pub(crate) struct DetailPlan {
    detail: SessionDetail,
    /// The relay's URL when its status is asked.
    relay: Option<String>,
    kernel_stats: bool,
    /// The kernel's losses as of the last stop (when the statistics are not asked or fail).
    kernel_discarded: u64,
    /// The channel that shows the kernel's losses.
    kernel_channel: Option<usize>,
    /// The channel of each buffer whose statistics are asked, in order.
    stats: Vec<usize>,
}

/// Compiles and checks a client's filter (clients are not trusted to have done it).
pub(crate) fn compile_filter(text: String, rule: &EventRule) -> Result<StoredFilter, Response> {
    if rule.syscall {
        return Err(err(
            ErrorCode::InvalidArgument,
            "filters on system call rules are not supported",
        ));
    }
    let program = rttng_filter::compile(&text)
        .map_err(|e| err(ErrorCode::InvalidFilter, format!("invalid filter: {e}")))?;
    let program = program.encode_bounded().ok_or_else(|| {
        err(
            ErrorCode::InvalidFilter,
            format!(
                "filter too large once compiled (over {} bytes)",
                rttng_filter::MAX_PROGRAM_BYTES
            ),
        )
    })?;
    Ok(StoredFilter { text, program })
}

/// What a session whose consumer daemon died says about its data.
pub fn lost_message(why: &str) -> String {
    format!("the consumer daemon is gone ({why}); the data written before it died stays readable in the trace directory")
}
