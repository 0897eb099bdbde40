//! Client requests on channels, event rules and contexts: enable/disable channel, enable
//! and disable event (one rule, or all), add-context, and the filters `list` shows. Not here:
//! session life cycle requests (`requests.rs`), attribute rules (`attrs.rs`), the per-app
//! work (`apps.rs`).

use super::compile_filter;
use crate::attrs::{resolve_attrs, DEFAULT_CHANNEL, MAX_CHANNELS, MAX_NAME_BYTES, MAX_RULES};
use crate::validate::check_name;
use crate::StoredFilter;
use crate::{err, Channel, KernelChannel, KernelOp, Port, Registry};
use rttng_proto::*;

impl Registry {
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
            self.checkpoint(sid);
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
                    self.checkpoint(sid);
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
        let sid = self.sessions[i].id;
        let which: Vec<usize> = (0..self.sessions[i].channels.len())
            .filter(|&k| {
                let c = &self.sessions[i].channels[k];
                c.domain == domain && channel.as_ref().is_none_or(|n| *n == c.name)
            })
            .collect();
        let any = !which.is_empty();
        for k in which {
            if domain == Domain::Kernel {
                let op = KernelOp::AddContext {
                    channel: self.sessions[i].channels[k].name.clone(),
                    context,
                };
                self.checkpoint(sid);
                port.kernel(sid, op)
                    .map_err(|e| err(ErrorCode::InvalidArgument, e))?;
            }
            let c = &mut self.sessions[i].channels[k];
            if !c.contexts.contains(&context) {
                c.contexts.push(context);
            }
        }
        if !any {
            return Err(err(
                ErrorCode::NoChannel,
                format!("channel {} not found", channel.unwrap_or_default()),
            ));
        }
        Ok(Response::Ok)
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
            let trackers = crate::trackers::kernel_trackers(s);
            self.checkpoint(sid);
            port.kernel(sid, op)
                .map_err(|e| err(ErrorCode::KernelUnavailable, e))?;
            // Kernel trackers set before the kernel domain existed.
            if stream_class_id == 0 && !trackers.is_empty() {
                self.checkpoint(sid);
                port.kernel(sid, KernelOp::Trackers { trackers })
                    .map_err(|e| err(ErrorCode::KernelUnavailable, e))?;
            }
        }
        let s = &mut self.sessions[i];
        s.channels.push(Channel {
            id,
            name: name.to_string(),
            domain,
            enabled: true,
            attrs: resolved,
            contexts: Vec::new(),
            app_contexts: Vec::new(),
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
