//! Registered applications and the central rule, [`Registry::reconcile`]: each app is driven
//! to the state the rules ask for (channels installed with their buffers, exactly the matching
//! events enabled), creating per-user or per-process trace registries and their metadata on
//! the way. Not here: client requests (`requests.rs`), decoding the app's hello (the daemon).

use crate::metadata::TraceMetadata;
use crate::validate::{validate_class, validate_hello};
use crate::{
    App, AppId, Awaited, Buffer, Clock, Deferred, Owner, Port, Registry, Trace, MAX_APP_EVENTS,
};
use rttng_ctf::ir::ClockClass;
use rttng_proto::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

fn rule_matches(rule: &EventRule, ev: &EventDesc) -> bool {
    rttng_glob::matches(&rule.pattern, &ev.name)
        && rule.loglevel.accepts(ev.loglevel)
        && !rule
            .exclusions
            .iter()
            .any(|x| rttng_glob::matches(x, &ev.name))
}

impl Registry {
    /// Registers an application (after its hello was decoded and its credentials checked),
    /// and applies the current rules to it. Returns problems to log.
    pub fn app_registered(
        &mut self,
        app: AppId,
        hello: AppHello,
        now: &Clock,
        port: &mut dyn Port,
    ) -> Result<Vec<String>, String> {
        self.app_registered_as(app, hello, None, now, port)
    }

    /// [`Self::app_registered`] with the app's group id from its socket's credentials
    /// (group trackers need it; an app whose gid is unknown is not in any group set).
    pub fn app_registered_as(
        &mut self,
        app: AppId,
        hello: AppHello,
        gid: Option<u32>,
        now: &Clock,
        port: &mut dyn Port,
    ) -> Result<Vec<String>, String> {
        // The runtime validates before taking its lock; this is for every other caller.
        validate_hello(&hello)?;
        self.apps.insert(
            app,
            App {
                hello,
                gid,
                registered_compact: now.compact.clone(),
                installed: BTreeMap::new(),
                installing: BTreeMap::new(),
                enabled: BTreeMap::new(),
                awaiting: VecDeque::new(),
                registration_done: false,
                initialized: false,
                filters: BTreeMap::new(),
            },
        );
        let mut errs = Vec::new();
        self.reconcile(port, &mut errs);
        self.registration_done(app, port, &mut errs);
        Ok(errs)
    }

    /// Tracepoints a registered application added after its hello ([`rttng_proto::AppEvents`]):
    /// validated like the hello's (a bad one refuses the whole batch), then the current
    /// rules are applied to them. Returns problems to log.
    pub fn app_events_added(
        &mut self,
        app: AppId,
        events: Vec<rttng_proto::EventDesc>,
        port: &mut dyn Port,
    ) -> Result<Vec<String>, String> {
        let a = self.apps.get(&app).ok_or("not a registered application")?;
        if a.hello.events.len().saturating_add(events.len()) > MAX_APP_EVENTS {
            return Err(format!(
                "too many tracepoints ({} + {})",
                a.hello.events.len(),
                events.len()
            ));
        }
        // Each tracepoint checked as a hello's would be (name, payload, resolution against
        // the app's clock).
        validate_hello(&AppHello {
            events: events.clone(),
            ..a.hello.clone()
        })?;
        for e in &events {
            if a.hello.events.iter().any(|x| x.index == e.index)
                || events.iter().filter(|x| x.index == e.index).count() > 1
            {
                return Err(format!(
                    "tracepoint {}: index {} already used",
                    e.name, e.index
                ));
            }
        }
        if let Some(a) = self.apps.get_mut(&app) {
            a.hello.events.extend(events);
        }
        let mut errs = Vec::new();
        self.reconcile(port, &mut errs);
        Ok(errs)
    }

    /// An application disconnected or died: its per-process buffers are recovered and
    /// closed; a per-user buffer is recovered once no live application uses it.
    pub fn app_gone(&mut self, app: AppId, port: &mut dyn Port) -> Vec<String> {
        let (mut errs, deferred) = self.app_gone_deferring(app, port);
        for d in deferred {
            let replies = d.carry_out(port);
            self.complete(d, replies, &mut errs);
        }
        errs
    }

    /// Like [`Registry::app_gone`], but the removals of per-process buffers (which write
    /// to disk) are returned, to be carried out without the caller's lock and then handed
    /// with their answers to [`Registry::complete`] (which keeps their losses). Recoveries
    /// are sent at once: a per-user buffer must be recovered before another app of the
    /// user maps it again.
    pub fn app_gone_deferring(
        &mut self,
        app: AppId,
        port: &mut dyn Port,
    ) -> (Vec<String>, Vec<Deferred>) {
        let mut errs = Vec::new();
        if self.apps.remove(&app).is_none() {
            return (errs, Vec::new());
        }
        let mut recover = Vec::new();
        let mut remove = Vec::new();
        // A snapshot session keeps the per-process buffers of exited apps until it is
        // destroyed (as LTTng does): a later snapshot still holds their last events.
        let snapshot_sessions: BTreeSet<u64> = self
            .sessions
            .iter()
            .filter(|s| s.snapshot.is_some())
            .map(|s| s.id)
            .collect();
        for b in self.buffers.iter_mut() {
            if b.users.remove(&app) && b.users.is_empty() && b.created {
                recover.push((b.session_id, b.id));
                if b.owner == Owner::Pid(app) && !snapshot_sessions.contains(&b.session_id) {
                    remove.push(b.id);
                }
            }
        }
        if self.consumer_dead.is_none() {
            for (sid, id) in recover {
                if let Err(e) = port.consumer_in(sid, ConsumerRequest::Recover { buffer_id: id }) {
                    errs.push(self.consumer_failed(e));
                    break;
                }
            }
        }
        // One removal per session: each session's work is carried out in its own order.
        let mut by_session: BTreeMap<u64, Vec<(u64, u64, u64)>> = BTreeMap::new();
        if self.consumer_dead.is_none() {
            for b in remove
                .iter()
                .filter_map(|id| self.buffers.iter().find(|b| b.id == *id))
            {
                by_session.entry(b.session_id).or_default().push((
                    b.id,
                    b.session_id,
                    b.channel_id,
                ));
            }
        }
        let deferred = by_session
            .into_iter()
            .map(|(sid, removed)| Deferred::app_gone(sid, removed))
            .collect();
        self.buffers.retain(|b| !remove.contains(&b.id));
        self.traces
            .retain(|(s, o), _| *o != Owner::Pid(app) || snapshot_sessions.contains(s));
        (errs, deferred)
    }

    /// Adds the final losses of a removed buffer of session `sid`'s channel `cid` to the
    /// channel's. `losses`: (discarded events, lost packets, events in the lost packets).
    pub(crate) fn keep_losses(&mut self, sid: u64, cid: u64, losses: (u64, u64, u64)) {
        if let Some(c) = self
            .sessions
            .iter_mut()
            .filter(|s| s.id == sid)
            .flat_map(|s| s.channels.iter_mut())
            .find(|c| c.id == cid)
        {
            c.gone_losses.0 += losses.0;
            c.gone_losses.1 += losses.1;
            c.gone_losses.2 += losses.2;
        }
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
        // The filter programs of each wanted (event, channel): empty = unfiltered (some
        // matching rule has no filter), else the event records when any accepts it.
        let mut want_filters: BTreeMap<(u32, ChannelKey), Vec<Vec<u8>>> = BTreeMap::new();
        for (si, s) in self.sessions.iter().enumerate() {
            if !s.active
                || s.consumer_lost.is_some()
                || (s.owner_uid != 0 && s.owner_uid != app.hello.uid)
                || !crate::trackers::ust_tracked(s, app.hello.pid, app.hello.uid, app.gid)
            {
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
                    let mut matched = false;
                    let mut unfiltered = false;
                    let mut programs: Vec<Vec<u8>> = Vec::new();
                    for (r, f) in c.rules.iter().zip(&c.filters) {
                        if !(r.enabled && rule_matches(&r.rule, ev)) {
                            continue;
                        }
                        matched = true;
                        match f {
                            None => unfiltered = true,
                            Some(f) if !programs.contains(&f.program) => {
                                programs.push(f.program.clone())
                            }
                            Some(_) => {}
                        }
                    }
                    if matched {
                        want_events.insert((ev.index, key), (si, ci, ei));
                        if !unfiltered {
                            want_filters.insert((ev.index, key), programs);
                        }
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
            self.send_app(port, a, AppCommand::Disable { event_index, key })?;
            self.apps
                .get_mut(&a)
                .map(|x| x.enabled.remove(&(event_index, key)));
        }
        if self.consumer_dead.is_some() && !wanted.is_empty() {
            return Err("the consumer daemon is gone; no buffers can be created".into());
        }
        // Install channels. With a port that answers later, events of a channel are enabled
        // once its install is answered (`app_replied`), after its stream is declared.
        let mut failed = Vec::new();
        for (si, ci) in wanted {
            let key = ChannelKey {
                session_id: self.sessions[si].id,
                channel_id: self.sessions[si].channels[ci].id,
            };
            let app = &self.apps[&a];
            if app.installed.contains_key(&key) || app.installing.contains_key(&key) {
                continue;
            }
            // A session whose buffer cannot be made (its output refused) must not keep the
            // app out of the others: go on, and report it at the end.
            let buffer = match self.ensure_buffer(si, ci, a, port) {
                Ok(b) => b,
                Err(e) => {
                    let name = &self.sessions[si].name;
                    failed.push(format!("session {name}: {e}"));
                    continue;
                }
            };
            // A user from now on, so that its buffer is recovered if the app dies before
            // answering.
            if let Some(b) = self.buffers.iter_mut().find(|b| b.id == buffer) {
                b.users.insert(a);
            }
            let c = &self.sessions[si].channels[ci];
            let cmd = AppCommand::InstallChannel {
                key,
                stream_class_id: c.stream_class_id,
                contexts: c.contexts.clone(),
            };
            match port.app(a, cmd, Some(buffer))? {
                Some(reply) => self.channel_installed(a, key, buffer, reply, port)?,
                None => {
                    let app = self.apps.get_mut(&a).ok_or("app vanished")?;
                    app.installing.insert(key, buffer);
                    app.awaiting.push_back(Awaited::Install(key));
                }
            }
        }
        // Filters first: an event must never record unfiltered, even briefly. The app
        // keeps a filter for an (event, channel) across disable and enable.
        for &(event_index, key) in want_events.keys() {
            let want = want_filters.remove(&(event_index, key)).unwrap_or_default();
            let sent = self.apps[&a].filters.get(&(event_index, key));
            if sent.map_or(want.is_empty(), |s| *s == want) {
                continue;
            }
            let cmd = AppCommand::SetFilter {
                event_index,
                key,
                programs: want.clone(),
            };
            // An answer that comes later is checked like every other command's answer.
            self.send_app(port, a, cmd)
                .map_err(|message| format!("the application refused a filter: {message}"))?;
            let app = self.apps.get_mut(&a).ok_or("app vanished")?;
            if want.is_empty() {
                app.filters.remove(&(event_index, key));
            } else {
                app.filters.insert((event_index, key), want);
            }
        }
        // Enable what is wanted and not enabled yet.
        for ((event_index, key), (si, ci, ei)) in want_events {
            let app = &self.apps[&a];
            if app.enabled.contains_key(&(event_index, key)) || !app.installed.contains_key(&key) {
                continue;
            }
            let tk = self.trace_key(si, ci, a);
            let sc = u64::from(self.sessions[si].channels[ci].stream_class_id);
            let ev = &self.apps[&a].hello.events[ei];
            let (name, loglevel, fields) = (ev.name.clone(), ev.loglevel, ev.fields.clone());
            let snapshot = self.sessions[si].snapshot.is_some();
            let t = self.traces.get_mut(&tk).ok_or("trace registry missing")?;
            let (id, text) =
                t.md.event_id(sc, &name, i64::from(loglevel), &fields)
                    .map_err(|e| e.to_string())?;
            if snapshot {
                t.text.push_str(&text);
            } else if !text.is_empty() {
                let (dir, uuid, relay) = (t.dir.clone(), t.uuid, t.relay);
                self.append_metadata(tk.0, relay, dir, uuid, text, port)?;
            }
            let id = u32::try_from(id).map_err(|_| "event id out of range")?;
            self.send_app(
                port,
                a,
                AppCommand::Enable {
                    event_index,
                    key,
                    event_class_id: id,
                },
            )?;
            self.apps
                .get_mut(&a)
                .map(|x| x.enabled.insert((event_index, key), id));
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }

    /// Sends `cmd` (one without a buffer) to app `a`; an error answer is an error.
    pub(crate) fn send_app(
        &mut self,
        port: &mut dyn Port,
        a: AppId,
        cmd: AppCommand,
    ) -> Result<(), String> {
        match port.app(a, cmd, None)? {
            Some(AppReply::Error { message }) => Err(message),
            Some(AppReply::Ok { .. }) => Ok(()),
            None => {
                if let Some(app) = self.apps.get_mut(&a) {
                    app.awaiting.push_back(Awaited::Other);
                }
                Ok(())
            }
        }
    }

    /// App `a` answered the install of channel `key` (buffer `buffer`): its stream class
    /// is declared with the context struct the app writes, and the channel counts as
    /// installed. A channel whose session went away meanwhile is ignored.
    fn channel_installed(
        &mut self,
        a: AppId,
        key: ChannelKey,
        buffer: u64,
        reply: AppReply,
        port: &mut dyn Port,
    ) -> Result<(), String> {
        let context_class = match reply {
            AppReply::Ok { context_class } => context_class,
            AppReply::Error { message } => {
                return Err(format!("installing a channel failed: {message}"))
            }
        };
        if let Some(cc) = &context_class {
            validate_class(cc)?;
        }
        let Some(si) = self.sessions.iter().position(|s| s.id == key.session_id) else {
            return Ok(());
        };
        let Some(ci) = self.sessions[si]
            .channels
            .iter()
            .position(|c| c.id == key.channel_id)
        else {
            return Ok(());
        };
        let tk = self.trace_key(si, ci, a);
        let sc = u64::from(self.sessions[si].channels[ci].stream_class_id);
        let snapshot = self.sessions[si].snapshot.is_some();
        if let Some(t) = self.traces.get_mut(&tk) {
            if !t.md.has_stream(sc) {
                let text =
                    t.md.add_stream(sc, context_class)
                        .map_err(|e| e.to_string())?;
                if snapshot {
                    t.text.push_str(&text);
                } else {
                    // With the base blocks still held back, if this is the first stream.
                    let text = format!("{}{text}", t.text);
                    let (dir, uuid, relay) = (t.dir.clone(), t.uuid, t.relay);
                    self.append_metadata(tk.0, relay, dir, uuid, text, port)?;
                    if let Some(t) = self.traces.get_mut(&tk) {
                        t.text.clear();
                    }
                }
            }
        }
        let app = self.apps.get_mut(&a).ok_or("app vanished")?;
        app.installed.insert(key, buffer);
        Ok(())
    }

    /// The next answer of app `a`, for a port that answers later (commands are answered in
    /// order). An install answered enables the channel's events. `Err`: the app broke the
    /// protocol or failed an install; the caller disconnects it (then calls `app_gone`).
    /// `Ok`: problems to log.
    pub fn app_replied(
        &mut self,
        a: AppId,
        reply: AppReply,
        port: &mut dyn Port,
    ) -> Result<Vec<String>, String> {
        let app = self.apps.get_mut(&a).ok_or("app is not registered")?;
        let pid = app.hello.pid;
        match app.awaiting.pop_front() {
            None => Err("an answer to no command".into()),
            Some(Awaited::Other) => Ok(match reply {
                AppReply::Error { message } => vec![format!("app {pid}: {message}")],
                AppReply::Ok { .. } => Vec::new(),
            }),
            Some(Awaited::RegistrationDone) => {
                app.initialized = true;
                Ok(match reply {
                    AppReply::Error { message } => vec![format!("app {pid}: {message}")],
                    AppReply::Ok { .. } => Vec::new(),
                })
            }
            Some(Awaited::Install(key)) => {
                let Some(buffer) = app.installing.remove(&key) else {
                    // Removed meanwhile (session destroyed).
                    return Ok(Vec::new());
                };
                self.channel_installed(a, key, buffer, reply, port)?;
                let mut errs = Vec::new();
                if let Err(e) = self.reconcile_app(a, port) {
                    errs.push(format!("app {pid}: {e}"));
                }
                self.registration_done(a, port, &mut errs);
                Ok(errs)
            }
        }
    }

    /// Tells app `a` that its initial state is applied, once no install is unanswered
    /// (so its events are enabled before it goes on with `main`).
    pub(crate) fn registration_done(
        &mut self,
        a: AppId,
        port: &mut dyn Port,
        errs: &mut Vec<String>,
    ) {
        let Some(app) = self.apps.get_mut(&a) else {
            return;
        };
        if app.registration_done || !app.installing.is_empty() {
            return;
        }
        app.registration_done = true;
        let pid = app.hello.pid;
        match port.app(a, AppCommand::RegistrationDone, None) {
            Err(e) | Ok(Some(AppReply::Error { message: e })) => {
                errs.push(format!("app {pid}: {e}"))
            }
            Ok(Some(AppReply::Ok { .. })) => {
                if let Some(app) = self.apps.get_mut(&a) {
                    app.initialized = true;
                }
            }
            Ok(None) => {
                if let Some(app) = self.apps.get_mut(&a) {
                    app.awaiting.push_back(Awaited::RegistrationDone);
                }
            }
        }
    }

    /// Whether app `a` has commands not answered yet.
    pub fn app_awaiting(&self, a: AppId) -> usize {
        self.apps.get(&a).map_or(0, |x| x.awaiting.len())
    }

    /// Appends metadata to the trace's file, or to its relay session's metadata stream.
    fn append_metadata(
        &mut self,
        session_id: u64,
        relay: Option<u64>,
        trace_dir: String,
        uuid: [u8; 16],
        text: String,
        port: &mut dyn Port,
    ) -> Result<(), String> {
        let req = match relay {
            None => ConsumerRequest::AppendMetadata {
                trace_dir,
                uuid,
                text,
            },
            Some(relay_id) => ConsumerRequest::AppendRelayMetadata {
                relay_id,
                trace_dir,
                uuid,
                text,
            },
        };
        match port.consumer_in(session_id, req) {
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
            // A network session's traces are paths relative to its relay session.
            let relay = self.ensure_relay(si, port)?;
            let s = &self.sessions[si];
            let app = &self.apps[&a];
            let h = &app.hello;
            let (rel, env) = match tk.1 {
                Owner::Uid(uid) => (
                    format!("ust/uid/{uid}/{}-bit", h.bitness),
                    rttng_ctf::lttng::ust_uid_env(
                        &self.host.hostname,
                        &s.name,
                        &s.creation_iso,
                        i64::from(uid),
                    ),
                ),
                Owner::Pid(_) => (
                    format!(
                        "ust/pid/{}-{}-{}",
                        h.procname, h.pid, app.registered_compact
                    ),
                    rttng_ctf::lttng::ust_pid_env(
                        &self.host.hostname,
                        &s.name,
                        &s.creation_iso,
                        i64::from(h.bitness),
                        i64::from(h.pid),
                        &h.procname,
                        &app.registered_compact,
                    ),
                ),
            };
            let uuid = port.new_uuid();
            let dir = match relay {
                Some(_) => rel.clone(),
                None => format!("{}/{rel}", s.output),
            };
            // A snapshot session keeps its metadata for the snapshots; nothing is written.
            // Another keeps the base blocks until its first stream class, and appends them
            // together: metadata without a stream class makes babeltrace2's live client keep
            // a trace class without a clock, and abort at the stream's first beacon.
            let (md, text) = TraceMetadata::new(uuid, clock_class(&h.clock), env);
            self.traces.insert(
                tk,
                Trace {
                    dir,
                    rel,
                    text,
                    uuid,
                    md,
                    relay,
                },
            );
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
            // A live session flushes on its live timer unless the channel asks otherwise.
            switch_timer_us: match (&self.sessions[si].net, c.attrs.switch_timer_us) {
                (Some(n), 0) => n.live_timer_us,
                (_, t) => t,
            },
            read_timer_us: c.attrs.read_timer_us,
            tracefile_size: c.attrs.tracefile_size,
            tracefile_count: c.attrs.tracefile_count,
        };
        let req = match t.relay {
            None if self.sessions[si].snapshot.is_some() => {
                ConsumerRequest::AddSnapshotBuffer { spec }
            }
            None => ConsumerRequest::AddBuffer { spec },
            Some(relay_id) => ConsumerRequest::AddRelayBuffer { relay_id, spec },
        };
        match port.consumer_in(sid, req) {
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

/// The trace clock an app declared (validated by `validate_clock`).
pub(crate) fn clock_class(c: &ClockDesc) -> ClockClass {
    ClockClass {
        name: c.name.clone(),
        uuid: c.uuid,
        description: Some(c.description.clone()),
        freq: c.freq,
        offset_s: c.offset_s,
        offset: c.offset,
        precision: c.precision,
        absolute: c.absolute,
    }
}
