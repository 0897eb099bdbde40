//! Client requests, one method each, and the session-level operations they share (create,
//! enable a channel, stop, destroy, describe). Each method checks its arguments, changes the
//! state, then calls [`Registry::reconcile`] when applications are affected. Not here:
//! attribute rules (`attrs.rs`), the per-app work (`apps.rs`).

use crate::attrs::MAX_SESSIONS;
use crate::attrs::{
    resolve_attrs, DEFAULT_CHANNEL, MAX_CHANNELS, MAX_NAME_BYTES, MAX_RULES, MAX_SESSIONS_PER_UID,
};
use crate::validate::{check_name, field_kind};
use crate::StoredFilter;
use crate::{
    err, AppId, Channel, Clock, KernelChannel, KernelOp, KernelReply, Port, Registry, Session,
};
use rttng_proto::*;

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

    pub(crate) fn disable_channel(
        &mut self,
        session: &str,
        uid: u32,
        domain: Domain,
        channel: &str,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        let i = self.session_index(session, uid)?;
        self.sessions[i].channel_mut(domain, channel)?.enabled = false;
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    /// `i`: the session's index, its owner checked.
    #[allow(clippy::too_many_arguments)] // the request's fields, then the context
    pub(crate) fn enable_event(
        &mut self,
        i: usize,
        domain: Domain,
        channel: Option<&str>,
        rule: EventRule,
        filter: Option<String>,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        if rule.pattern.is_empty() || rule.pattern.len() > MAX_NAME_BYTES {
            return Err(err(
                ErrorCode::InvalidArgument,
                "event name pattern must be 1 to 255 bytes",
            ));
        }
        let filter = match filter {
            None => None,
            Some(text) => Some(compile_filter(text, &rule)?),
        };
        let c = self.channel_for_event(i, domain, channel, port)?;
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
            } else if let Some(f) = &filter {
                KernelOp::EnableTracepointsFiltered {
                    channel: chname,
                    pattern: rule.pattern.clone(),
                    filter: f.text.clone(),
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
        // The filter is part of a rule's identity, as in lttng.
        let text = |f: &Option<StoredFilter>| f.as_ref().map(|f| f.text.clone());
        let same = (0..ch.rules.len())
            .find(|&k| ch.rules[k].rule == rule && text(&ch.filters[k]) == text(&filter));
        match same {
            Some(k) => ch.rules[k].enabled = true,
            None => {
                ch.rules.push(RuleInfo {
                    rule,
                    enabled: true,
                });
                ch.filters.push(filter);
            }
        }
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    /// The channel a `disable-event` without a rule of its own addresses: `channel`, else
    /// `channel0`, as lttng resolves it.
    fn channel_to_disable(
        &self,
        i: usize,
        domain: Domain,
        channel: Option<&str>,
    ) -> Result<usize, Response> {
        let s = &self.sessions[i];
        let find = |name: &str| {
            s.channels
                .iter()
                .position(|c| c.domain == domain && c.name == name)
        };
        match channel {
            Some(name) => find(name).ok_or_else(|| {
                err(
                    ErrorCode::NoChannel,
                    format!("channel {name} not found in session {}", s.name),
                )
            }),
            None => find(DEFAULT_CHANNEL).ok_or_else(|| {
                if s.channels.iter().any(|c| c.domain == domain) {
                    err(ErrorCode::NeedChannelName, "Non-default channel exists within session: channel name needs to be specified with '-c name'")
                } else {
                    err(ErrorCode::NoChannel, "No channel found in the session")
                }
            }),
        }
    }

    /// Disables the rules of channel `c` of session `i` that `which` selects; kernel rules
    /// are disabled in the kernel first (system call rules as their entry and exit
    /// tracepoints). Returns how many were selected.
    fn disable_rules(
        &mut self,
        i: usize,
        c: usize,
        which: &dyn Fn(&EventRule) -> bool,
        port: &mut dyn Port,
    ) -> Result<usize, Response> {
        let s = &self.sessions[i];
        let ch = &s.channels[c];
        let selected: Vec<usize> = (0..ch.rules.len())
            .filter(|&k| which(&ch.rules[k].rule))
            .collect();
        if ch.domain == Domain::Kernel {
            let (sid, cname) = (s.id, ch.name.clone());
            for &k in &selected {
                let rule = &self.sessions[i].channels[c].rules[k].rule;
                if !self.sessions[i].channels[c].rules[k].enabled {
                    continue;
                }
                let patterns = if rule.syscall {
                    vec![
                        (format!("sys_enter_{}", rule.pattern), true),
                        // exit and exit_group have no exit tracepoint.
                        (format!("sys_exit_{}", rule.pattern), false),
                    ]
                } else {
                    vec![(rule.pattern.clone(), true)]
                };
                for (pattern, required) in patterns {
                    let op = KernelOp::DisableTracepoints {
                        channel: cname.clone(),
                        pattern,
                    };
                    if let Err(e) = port.kernel(sid, op) {
                        if required {
                            return Err(err(ErrorCode::NoEvent, e));
                        }
                    }
                }
            }
        }
        for &k in &selected {
            self.sessions[i].channels[c].rules[k].enabled = false;
        }
        Ok(selected.len())
    }

    /// `i`: the session's index, its owner checked.
    pub(crate) fn disable_event(
        &mut self,
        i: usize,
        domain: Domain,
        channel: Option<String>,
        pattern: String,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        let c = self.channel_to_disable(i, domain, channel.as_deref())?;
        let n = self.disable_rules(i, c, &|r| r.pattern == pattern, port)?;
        if n == 0 {
            let cname = &self.sessions[i].channels[c].name;
            return Err(err(
                ErrorCode::NoEvent,
                format!("no event rule named {pattern:?} in channel {cname}"),
            ));
        }
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    /// `disable-event -a`: every rule of the channel (none is not an error, as in lttng).
    pub(crate) fn disable_event_all(
        &mut self,
        i: usize,
        domain: Domain,
        channel: Option<String>,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) -> Result<Response, Response> {
        let c = self.channel_to_disable(i, domain, channel.as_deref())?;
        self.disable_rules(i, c, &|_| true, port)?;
        self.reconcile(port, errs);
        Ok(Response::Ok)
    }

    pub(crate) fn add_context(
        &mut self,
        session: &str,
        uid: u32,
        domain: Domain,
        channel: Option<String>,
        context: ContextType,
        port: &mut dyn Port,
    ) -> Result<Response, Response> {
        let i = self.session_index(session, uid)?;
        let s = &mut self.sessions[i];
        if s.started_once {
            return Err(err(ErrorCode::SessionActive, format!("session {} was already started; contexts can only be added before the first start", s.name)));
        }
        if s.channels.iter().all(|c| c.domain != domain) && channel.is_none() {
            // lttng creates `channel0` with the default attributes.
            self.enable_channel(i, domain, DEFAULT_CHANNEL, &ChannelAttrs::default(), port)?;
        }
        let s = &mut self.sessions[i];
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
        });
        Ok(Response::SessionCreated { name, output })
    }

    pub(crate) fn enable_channel(
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
        let mut resolved = resolve_attrs(domain, attrs)?;
        if self.sessions[i].snapshot.is_some() && attrs.overwrite.is_none() {
            // lttng: a snapshot session's channels default to overwrite mode.
            resolved.overwrite = true;
        }
        // A network session connects to its relay at its first channel, as lttng does, so
        // that an unreachable relay is reported now.
        let relay_id = self
            .ensure_relay(i, port)
            .map_err(|e| err(ErrorCode::InvalidArgument, e))?;
        let id = self.fresh_id();
        let s = &mut self.sessions[i];
        if let Some(c) = s
            .channels
            .iter_mut()
            .find(|c| c.domain == domain && c.name == name)
        {
            // lttng: enabling a channel that exists and is enabled, or giving attributes
            // again, is LTTNG_ERR_(UST|KERN)_CHAN_EXIST (the CLI makes it a warning).
            if c.enabled || *attrs != ChannelAttrs::default() {
                let what = if domain == Domain::Kernel {
                    "Kernel"
                } else {
                    "UST"
                };
                return Err(err(
                    ErrorCode::ChannelExists,
                    format!("{what} channel already exist"),
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
                tracefile_size: resolved.tracefile_size,
                tracefile_count: resolved.tracefile_count,
                switch_timer_us: match (&s.net, resolved.switch_timer_us) {
                    (Some(n), 0) => n.live_timer_us,
                    (_, t) => t,
                },
            };
            let op = if stream_class_id == 0 {
                KernelOp::Create {
                    session: s.name.clone(),
                    output: s.output.clone(),
                    channel,
                    snapshot: s.snapshot.is_some(),
                    relay_id,
                    owner_uid: s.owner_uid,
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
            filters: Vec::new(),
            stream_class_id,
            gone_losses: (0, 0, 0),
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
            if let Some(p) = s
                .channels
                .iter()
                .position(|c| c.domain == domain && c.name == name)
            {
                return Ok(p);
            }
            // lttng creates the named channel with the default attributes.
            self.enable_channel(i, domain, name, &ChannelAttrs::default(), port)?;
            return Ok(self.sessions[i].channels.len() - 1);
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
                ErrorCode::NeedChannelName,
                "Non-default channel exists within session: channel name needs to be specified with '-c name'",
            ));
        }
        self.enable_channel(i, domain, DEFAULT_CHANNEL, &ChannelAttrs::default(), port)?;
        Ok(self.sessions[i].channels.len() - 1)
    }

    pub(crate) fn consumer_failed(&mut self, e: String) -> String {
        self.consumer_died(e);
        let why = self.consumer_dead.clone().unwrap_or_default();
        lost_message(&why)
    }

    /// Forgets session `i` (its apps told to drop its channels, its kernel session
    /// destroyed) and appends the removal of its buffers and the close of its relay session
    /// to `requests`; returns the relay's URL when its close was appended (last).
    pub(crate) fn destroy_session(
        &mut self,
        i: usize,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
        requests: &mut Vec<ConsumerRequest>,
    ) -> Option<String> {
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
            requests.extend(
                ids.into_iter()
                    .map(|buffer_id| ConsumerRequest::RemoveBuffer { buffer_id }),
            );
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
        let s = &self.sessions[i];
        let relay_url = s
            .net
            .as_ref()
            .filter(|n| n.open && self.consumer_dead.is_none())
            .map(|n| n.url.to_string());
        if relay_url.is_some() {
            requests.push(ConsumerRequest::CloseRelay { relay_id: s.id });
        }
        self.buffers.retain(|b| b.session_id != sid);
        self.traces.retain(|(s, _), _| *s != sid);
        self.sessions.remove(i);
        relay_url
    }

    pub(crate) fn detail(&self, i: usize, port: &mut dyn Port) -> SessionDetail {
        let s = &self.sessions[i];
        let mut warnings = Vec::new();
        if let Some(why) = &s.consumer_lost {
            warnings.push(format!(
                "{}; nothing after it is recorded: destroy this session and create another",
                lost_message(why)
            ));
        } else if let Some(why) = &self.consumer_dead {
            warnings.push(format!("the consumer daemon is gone ({why}); statistics are those last known and no new data is written"));
        }
        if let Some(why) = self.relay_error(i, port) {
            warnings.push(why);
        }
        // While tracing, the kernel's losses as the packets written so far say them.
        let kernel_discarded = if s.active
            && self.consumer_dead.is_none()
            && s.channels.iter().any(|c| c.domain == Domain::Kernel)
        {
            match port.kernel(s.id, KernelOp::Stats) {
                Ok(KernelReply::Stopped { events_discarded }) => events_discarded,
                _ => s.kernel_discarded,
            }
        } else {
            s.kernel_discarded
        };
        let channels = s
            .channels
            .iter()
            .map(|c| {
                // Buffers that are gone (exited apps' per-process ones) still count.
                let (mut discarded, mut lost, mut lost_events) = c.gone_losses;
                // The kernel reports its losses per session: shown on its first channel.
                if c.domain == Domain::Kernel && c.stream_class_id == 0 {
                    discarded += kernel_discarded;
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
                            events_lost,
                            ..
                        }) = port.consumer(ConsumerRequest::Stats { buffer_id: b.id })
                        {
                            discarded += events_discarded;
                            lost += packets_lost;
                            lost_events += events_lost;
                        }
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
        SessionDetail {
            name: s.name.clone(),
            output: s.output.clone(),
            active: s.active,
            channels,
            warnings,
            snapshot: s.snapshot.is_some(),
        }
    }
}

impl Registry {
    /// The filters of session `i`'s rules, for `list`.
    pub(crate) fn filters_of(&self, i: usize) -> Vec<RuleFilter> {
        let mut out = Vec::new();
        for c in &self.sessions[i].channels {
            // Indexes in the listed rules, which skip agent rules' internal ones.
            let shown = c
                .rules
                .iter()
                .zip(&c.filters)
                .filter(|(r, _)| !crate::agent::is_internal(&c.name, &r.rule.pattern));
            for (k, (_, f)) in shown.enumerate() {
                if let Some(f) = f {
                    out.push(RuleFilter {
                        domain: c.domain,
                        channel: c.name.clone(),
                        rule_index: k as u32,
                        filter: f.text.clone(),
                    });
                }
            }
        }
        out
    }
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
pub(crate) fn lost_message(why: &str) -> String {
    format!("the consumer daemon is gone ({why}); the data written before it died stays readable in the trace directory")
}
