//! Registered applications and the central rule, [`Registry::reconcile`]: each app is driven
//! to the state the rules ask for (channels installed with their buffers, exactly the matching
//! events enabled), creating per-user or per-process trace registries and their metadata on
//! the way. Not here: client requests (`requests.rs`), decoding the app's hello (the daemon).

use crate::metadata::TraceMetadata;
use crate::validate::{check_name, validate_class};
use crate::{App, AppId, Buffer, Clock, Owner, Port, Registry, Trace};
use crate::{MAX_APP_EVENTS, MAX_NAME_BYTES};
use rttng_ctf::ir::ClockClass;
use rttng_proto::*;
use std::collections::{BTreeMap, BTreeSet};

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
        if hello.events.len() > MAX_APP_EVENTS {
            return Err(format!("too many tracepoints ({})", hello.events.len()));
        }
        for e in &hello.events {
            check_event_desc(e)?;
        }
        check_name("process", &hello.procname).map_err(|_| "bad process name".to_string())?;
        self.apps.insert(
            app,
            App {
                hello,
                registered_compact: now.compact.clone(),
                installed: BTreeMap::new(),
                enabled: BTreeMap::new(),
                filters: BTreeMap::new(),
            },
        );
        let mut errs = Vec::new();
        self.reconcile(port, &mut errs);
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
        for e in &events {
            check_event_desc(e)?;
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
        let mut errs = Vec::new();
        if self.apps.remove(&app).is_none() {
            return errs;
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
                recover.push(b.id);
                if b.owner == Owner::Pid(app) && !snapshot_sessions.contains(&b.session_id) {
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
                match port.consumer(ConsumerRequest::RemoveBuffer { buffer_id: *id }) {
                    Ok(ConsumerReply::Stats {
                        events_discarded,
                        packets_lost,
                        ..
                    }) => self.keep_losses(*id, events_discarded, packets_lost),
                    Ok(_) => {}
                    Err(e) => {
                        errs.push(self.consumer_failed(e));
                        return errs;
                    }
                }
            }
        }
        self.buffers.retain(|b| !remove.contains(&b.id));
        self.traces
            .retain(|(s, o), _| *o != Owner::Pid(app) || snapshot_sessions.contains(s));
        errs
    }

    /// Adds the final losses of buffer `id`, about to be forgotten, to its channel's.
    fn keep_losses(&mut self, id: u64, events_discarded: u64, packets_lost: u64) {
        let Some(b) = self.buffers.iter().find(|b| b.id == id) else {
            return;
        };
        let (sid, cid) = (b.session_id, b.channel_id);
        if let Some(c) = self
            .sessions
            .iter_mut()
            .filter(|s| s.id == sid)
            .flat_map(|s| s.channels.iter_mut())
            .find(|c| c.id == cid)
        {
            c.gone_losses.0 += events_discarded;
            c.gone_losses.1 += packets_lost;
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
            let snapshot = self.sessions[si].snapshot.is_some();
            if let Some(t) = self.traces.get_mut(&tk) {
                if !t.md.has_stream(sc) {
                    let text =
                        t.md.add_stream(sc, context_class)
                            .map_err(|e| e.to_string())?;
                    if snapshot {
                        t.text.push_str(&text);
                    } else {
                        let (dir, uuid, relay) = (t.dir.clone(), t.uuid, t.relay);
                        self.append_metadata(relay, dir, uuid, text, port)?;
                    }
                }
            }
            let app = self.apps.get_mut(&a).ok_or("app vanished")?;
            app.installed.insert(key, buffer);
            if let Some(b) = self.buffers.iter_mut().find(|b| b.id == buffer) {
                b.users.insert(a);
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
            let reply = send_app(port, a, cmd, None)?;
            if let AppReply::Error { message } = reply {
                return Err(format!("the application refused a filter: {message}"));
            }
            let app = self.apps.get_mut(&a).ok_or("app vanished")?;
            if want.is_empty() {
                app.filters.remove(&(event_index, key));
            } else {
                app.filters.insert((event_index, key), want);
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
            let snapshot = self.sessions[si].snapshot.is_some();
            let t = self.traces.get_mut(&tk).ok_or("trace registry missing")?;
            let (id, text) =
                t.md.event_id(sc, &name, i64::from(loglevel), &fields)
                    .map_err(|e| e.to_string())?;
            if snapshot {
                t.text.push_str(&text);
            } else if !text.is_empty() {
                let (dir, uuid, relay) = (t.dir.clone(), t.uuid, t.relay);
                self.append_metadata(relay, dir, uuid, text, port)?;
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

    /// Appends metadata to the trace's file, or to its relay session's metadata stream.
    fn append_metadata(
        &mut self,
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
        match port.consumer(req) {
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
            let dir = match relay {
                Some(_) => rel.clone(),
                None => format!("{}/{rel}", s.output),
            };
            let snapshot = s.snapshot.is_some();
            let (md, text) = TraceMetadata::new(uuid, clock, env);
            // A snapshot session keeps its metadata for the snapshots; nothing is written.
            let text = if snapshot {
                text
            } else {
                self.append_metadata(relay, dir.clone(), uuid, text, port)?;
                String::new()
            };
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
        match port.consumer(req) {
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

/// A tracepoint an application declares: a name TSDL can carry and a valid payload class.
fn check_event_desc(e: &rttng_proto::EventDesc) -> Result<(), String> {
    if e.name.is_empty()
        || e.name.len() > MAX_NAME_BYTES
        || e.name
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(format!("bad tracepoint name {:?}", e.name));
    }
    validate_class(&e.fields, 0).map_err(|m| format!("tracepoint {}: {m}", e.name))
}
