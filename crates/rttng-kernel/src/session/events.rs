//! Enabling what a kernel session records: tracepoints (glob patterns, with tracefs
//! filters translated from `--filter`), system calls, contexts, and which processes are
//! traced or left out. Not here: the life cycle (`session.rs`), draining (`drive.rs`).

use std::sync::Arc;

use super::{Context, KernelSession, State, Syscalls, MAX_EVENT_CLASSES};
use crate::consume::context_kind;
use crate::convert::ContextKind;
use crate::error::KernelError;

impl KernelSession {
    fn enable_one(
        &mut self,
        channel: &str,
        system: &str,
        event: &str,
    ) -> Result<bool, KernelError> {
        let fmt = Arc::new(self.tracefs.event_format(system, event)?);
        let ch = self.channel_mut(channel)?;
        if ch.events.iter().any(|(s, e)| s == system && e == event) {
            ch.instance.set_event(system, event, true)?;
            return Ok(false);
        }
        if ch.events.len() >= MAX_EVENT_CLASSES {
            return Err(KernelError::BadConfig {
                what: "event classes in a channel",
                value: ch.events.len() as u64,
            });
        }
        ch.instance.set_event(system, event, true)?;
        ch.events.push((system.to_string(), event.to_string()));
        ch.formats.push(fmt);
        Ok(true)
    }

    /// `enable-event -k PATTERN`: every tracepoint whose name (`sched_switch`), ftrace name
    /// (`sched:sched_switch`) or lttng-modules name matches the glob (`rttng_glob`, the one
    /// matcher of every domain: `\*` is a literal star). `*` (`-a`) enables every tracepoint
    /// except the system call ones. Returns the ftrace names enabled.
    pub fn enable_tracepoints(
        &mut self,
        channel: &str,
        pattern: &str,
    ) -> Result<Vec<String>, KernelError> {
        let mut enabled = Vec::new();
        for (system, event) in self.tracefs.available_events()? {
            let explicit_system = pattern.contains(':');
            if !explicit_system && matches!(system.as_str(), "syscalls" | "raw_syscalls" | "ftrace")
            {
                continue;
            }
            let full = format!("{system}:{event}");
            let lttng = crate::convert::lttng_event_name(&system, &event);
            if rttng_glob::matches(pattern, &full)
                || (!explicit_system
                    && (rttng_glob::matches(pattern, &event)
                        || rttng_glob::matches(pattern, &lttng)))
            {
                let ch = self.channel_mut(channel)?;
                if ch
                    .filters
                    .remove(&(system.clone(), event.clone()))
                    .is_some()
                {
                    ch.instance
                        .write(&format!("events/{system}/{event}/filter"), "0")?;
                }
                self.enable_one(channel, &system, &event)?;
                enabled.push(full);
            }
        }
        if enabled.is_empty() {
            return Err(KernelError::NoSuchEvent {
                pattern: pattern.to_string(),
            });
        }
        Ok(enabled)
    }

    /// `enable-event -k PATTERN --filter EXPR`: the events [`Self::enable_tracepoints`] would
    /// enable, each with `program` translated into a tracefs filter
    /// ([`crate::filter::to_tracefs`]). Events LTTng would record nothing of (a field they
    /// lack) are not enabled; if the filter cannot be expressed exactly for one of them,
    /// nothing is enabled and the error says why. Several filtered rules on one event are
    /// OR-ed; an unfiltered rule wins. Returns the ftrace names enabled.
    pub fn enable_tracepoints_filtered(
        &mut self,
        channel: &str,
        pattern: &str,
        program: &rttng_filter::Program,
    ) -> Result<Vec<String>, KernelError> {
        use crate::filter::{to_tracefs, Translation};
        let mut plan = Vec::new();
        let mut matched = false;
        for (system, event) in self.tracefs.available_events()? {
            let explicit_system = pattern.contains(':');
            if !explicit_system && matches!(system.as_str(), "syscalls" | "raw_syscalls" | "ftrace")
            {
                continue;
            }
            let full = format!("{system}:{event}");
            let lttng = crate::convert::lttng_event_name(&system, &event);
            if !(rttng_glob::matches(pattern, &full)
                || (!explicit_system
                    && (rttng_glob::matches(pattern, &event)
                        || rttng_glob::matches(pattern, &lttng))))
            {
                continue;
            }
            matched = true;
            let fmt = self.tracefs.event_format(&system, &event)?;
            match to_tracefs(program, &fmt, false).map_err(KernelError::Filter)? {
                Translation::Never => {}
                Translation::Filter(f) => plan.push((system, event, f)),
            }
        }
        if !matched {
            return Err(KernelError::NoSuchEvent {
                pattern: pattern.to_string(),
            });
        }
        let mut enabled = Vec::new();
        for (system, event, f) in plan {
            let ch = self.channel_mut(channel)?;
            let key = (system.clone(), event.clone());
            let unfiltered_already = ch.events.contains(&key) && !ch.filters.contains_key(&key);
            if !unfiltered_already {
                let text = match f {
                    None => {
                        ch.filters.remove(&key);
                        "0".to_string()
                    }
                    Some(f) => {
                        let list = ch.filters.entry(key).or_default();
                        if !list.contains(&f) {
                            list.push(f);
                        }
                        list.iter()
                            .map(|f| format!("({f})"))
                            .collect::<Vec<_>>()
                            .join(" || ")
                    }
                };
                ch.instance
                    .write(&format!("events/{system}/{event}/filter"), &text)?;
            }
            self.enable_one(channel, &system, &event)?;
            enabled.push(format!("{system}:{event}"));
        }
        Ok(enabled)
    }

    /// `disable-event -k PATTERN` (same matching as enable). Returns the ftrace names disabled.
    pub fn disable_tracepoints(
        &mut self,
        channel: &str,
        pattern: &str,
    ) -> Result<Vec<String>, KernelError> {
        let ch = self.channel_mut(channel)?;
        let mut disabled = Vec::new();
        for (system, event) in &ch.events {
            let full = format!("{system}:{event}");
            let lttng = crate::convert::lttng_event_name(system, event);
            if rttng_glob::matches(pattern, &full)
                || rttng_glob::matches(pattern, event)
                || rttng_glob::matches(pattern, &lttng)
            {
                ch.instance.set_event(system, event, false)?;
                disabled.push(full);
            }
        }
        if disabled.is_empty() {
            return Err(KernelError::NoSuchEvent {
                pattern: pattern.to_string(),
            });
        }
        Ok(disabled)
    }

    /// `enable-event -k --syscall NAME… | -a`: the entry and exit tracepoints of each system call.
    /// Returns the system call names enabled.
    pub fn enable_syscalls(
        &mut self,
        channel: &str,
        which: &Syscalls,
    ) -> Result<Vec<String>, KernelError> {
        let all = self.tracefs.syscalls()?;
        let names: Vec<String> = match which {
            Syscalls::All => all,
            Syscalls::Names(ns) => {
                let mut out = Vec::new();
                for n in ns {
                    let matched: Vec<&String> =
                        all.iter().filter(|s| rttng_glob::matches(n, s)).collect();
                    if matched.is_empty() {
                        return Err(KernelError::NoSuchSyscall { name: n.clone() });
                    }
                    out.extend(matched.into_iter().cloned());
                }
                out
            }
        };
        for n in &names {
            self.enable_one(channel, "syscalls", &format!("sys_enter_{n}"))?;
            // A few system calls (exit, exit_group) have an entry but no exit tracepoint.
            if self
                .tracefs
                .path(&format!("events/syscalls/sys_exit_{n}"))
                .is_dir()
            {
                self.enable_one(channel, "syscalls", &format!("sys_exit_{n}"))?;
            }
        }
        Ok(names)
    }

    /// `add-context -k`. The contexts tracefs records lack come from the eBPF task recorder,
    /// which the consumer daemon runs: a session that drains its own buffers refuses them.
    pub fn add_context(&mut self, channel: &str, context: Context) -> Result<(), KernelError> {
        let kind = context_kind(context)?;
        if kind.needs_task_record() {
            if !self.consumer_drained {
                return Err(KernelError::UnsupportedContext {
                    context: kind.name().to_string(),
                });
            }
            crate::bpf_task::probe_program(kind.is_callstack())?;
        }
        if self.state != State::Created {
            return Err(KernelError::WrongState {
                operation: "add a context",
                state: self.state.name(),
            });
        }
        let ch = self.channel_mut(channel)?;
        if !ch.contexts.contains(&kind) {
            if kind == ContextKind::Pid {
                ch.instance.write("options/record-tgid", "1")?;
            }
            ch.contexts.push(kind);
        }
        Ok(())
    }

    /// Record only events of these processes (`set_event_pid`); with `follow_children`, their
    /// descendants too (`options/event-fork`).
    pub fn filter_pids(&mut self, pids: &[u32], follow_children: bool) -> Result<(), KernelError> {
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        for ch in &self.channels {
            ch.instance.write(
                "options/event-fork",
                if follow_children { "1" } else { "0" },
            )?;
            ch.instance.write("set_event_pid", &list.join(" "))?;
        }
        self.pid_filter = Some((pids.to_vec(), follow_children));
        Ok(())
    }

    /// Record no event of these tasks (`set_event_notrace_pid`), nor of the tasks they create
    /// from now on (`options/event-fork`): a live viewer in the traced machine leaves its own
    /// system calls out of the trace instead of feeding on them. `sched_switch` still shows
    /// them where the other side of the switch is traced.
    pub fn exclude_pids(&mut self, tids: &[u32]) -> Result<(), KernelError> {
        let list: Vec<String> = tids.iter().map(u32::to_string).collect();
        for ch in &self.channels {
            ch.instance.write("options/event-fork", "1")?;
            ch.instance
                .write("set_event_notrace_pid", &list.join(" "))?;
        }
        Ok(())
    }
}
