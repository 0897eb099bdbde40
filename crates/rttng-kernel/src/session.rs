//! A kernel tracing session: one tracefs instance per channel, events and system calls enabled
//! per instance, and, when it drains its own buffers, a CTF kernel trace in `OUT/kernel/`
//! (`metadata`, `CHANNEL_CPU` streams, `index/`), the way lttng-modules lays it out.
//!
//! It keeps no global state. Used by itself (`rttng trace`, `rttng top`), it drains its own
//! buffers on one thread per channel (`crate::drain`) with the consumer's conversion
//! (`crate::consume::ChannelDrain`): the packets are appended while tracing, and
//! start/stop/start/stop yields one trace. The session daemon instead creates it
//! [`KernelSession::create_for_user`]: it only controls the instances, and rttng-consumerd
//! drains and converts them (the same `ChannelDrain`). Not here: page parsing and
//! conversion (`consume.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod clock;

pub use clock::{datetime_now, ClockSpec};

use crate::bpf::{PathLog, PathRecorder};
use crate::consume::{context_kind, ChannelDrain, KernelMetadata};
use crate::convert::ContextKind;
use crate::drain::{Drain, Drained, PageObserver, TraceFiles};
use crate::error::{io_err, KernelError};
use crate::format::{EventFormat, PageLayout};
use crate::live::{LiveFieldRef, LivePage, LiveRecord, LiveTable};
use crate::syscall_args::path_arg_mask;
use crate::tracefs::{check_name, instance_name, Instance, Tracefs};

/// lttng-modules' default sub-buffer size and count for kernel channels.
pub const DEFAULT_SUBBUF_BYTES: u64 = 1 << 20;
pub const DEFAULT_SUBBUF_COUNT: u64 = 4;
/// How full a CPU buffer gets before its drain thread wakes (trace-cmd leaves the kernel default,
/// 50; waking earlier leaves more room for a drain thread delayed by other load).
pub const DRAIN_BUFFER_PERCENT: u32 = 20;
/// Largest per-CPU buffer a channel may ask for.
pub const MAX_BUFFER_BYTES_PER_CPU: u64 = 1 << 32;
/// Most event classes per channel (the large header's 16-bit id leaves room for more; this is
/// a sanity bound on what a wildcard can enable).
pub const MAX_EVENT_CLASSES: usize = 8192;
/// Event classes below which a channel uses the compact header (lttng-modules' rule).
pub const COMPACT_HEADER_MAX_CLASSES: usize = 31;
/// Metadata packet size (LTTng's).
pub const METADATA_PACKET_BYTES: usize = 4096;

/// What `enable-channel -k` sets.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelConfig {
    pub name: String,
    pub subbuf_bytes: u64,
    pub subbuf_count: u64,
    /// Flight-recorder mode: overwrite the oldest data instead of discarding new events.
    pub overwrite: bool,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            name: "channel0".to_string(),
            subbuf_bytes: DEFAULT_SUBBUF_BYTES,
            subbuf_count: DEFAULT_SUBBUF_COUNT,
            overwrite: false,
        }
    }
}

/// Which system calls to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Syscalls {
    All,
    Names(Vec<String>),
}

/// A context that `add-context -k` may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Pid,
    Tid,
    Procname,
    CpuId,
    Prio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Created,
    Running,
    Stopped,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Stopped => "stopped",
        }
    }
}

#[derive(Debug)]
struct Channel {
    config: ChannelConfig,
    instance: Instance,
    /// Enabled ftrace events `(system, event)` in enable order; their CTF class id is the index.
    events: Vec<(String, String)>,
    formats: Vec<Arc<EventFormat>>,
    /// Events enabled only through filtered rules: their tracefs filters, OR-ed (an event
    /// enabled by an unfiltered rule is absent: it records everything).
    filters: std::collections::BTreeMap<(String, String), Vec<String>>,
    contexts: Vec<ContextKind>,
    /// The running drain thread (own-process use).
    drain: Option<Drain>,
    /// The drain and its files while the session is stopped.
    parked: Option<Drained>,
}

/// What a stop produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopReport {
    /// `OUT/kernel`.
    pub trace_dir: PathBuf,
    pub events_written: u64,
    /// Events the kernel lost, summed over CPUs and channels.
    pub events_discarded: u64,
    /// Records whose type id matched no enabled event (enabled by someone else, or a race).
    pub records_skipped: u64,
}

/// One kernel tracing session.
pub struct KernelSession {
    tracefs: Tracefs,
    name: String,
    out_dir: PathBuf,
    clock: ClockSpec,
    layout: PageLayout,
    channels: Vec<Channel>,
    state: State,
    observer: Option<PageObserver>,
    /// Longest wait of an observed drain thread between two reads.
    live_period: std::time::Duration,
    /// False: a live-only session, whose pages go to the observer only (no trace at stop).
    write_trace: bool,
    pid_filter: Option<(Vec<u32>, bool)>,
    creation_datetime: String,
    /// Record system call path strings with eBPF when possible.
    record_paths: bool,
    /// Set once the eBPF recorder has loaded: the path fields become strings.
    path_log: Option<Arc<PathLog>>,
    path_recorder: Option<PathRecorder>,
    /// The eBPF programs being detached after a stop (joined by `destroy`).
    path_detach: Option<std::thread::JoinHandle<()>>,
    path_warning: Option<String>,
    /// Another process (rttng-consumerd) drains and converts the buffers: no drain threads,
    /// no spool, nothing written at stop ([`KernelSession::set_consumer_drained`]).
    consumer_drained: bool,
    /// Part of the instance names, so that sessions of the same name of different users
    /// never share one (the session owner's uid).
    owner_tag: Option<u32>,
    /// The trace's metadata, declared at the first start (own-process use).
    md: Option<KernelMetadata>,
}

impl std::fmt::Debug for KernelSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelSession")
            .field("name", &self.name)
            .field("out_dir", &self.out_dir)
            .field("state", &self.state)
            .field("channels", &self.channels.len())
            .finish()
    }
}

impl KernelSession {
    /// Create a session writing to `out_dir/kernel`, with a first channel and the clock shared
    /// with user space ([`ClockSpec::shared`]).
    pub fn create(
        name: &str,
        out_dir: &Path,
        config: ChannelConfig,
    ) -> Result<KernelSession, KernelError> {
        Self::create_with_clock(name, out_dir, config, ClockSpec::shared())
    }

    /// Same, with the clock the user-space tracer uses.
    pub fn create_with_clock(
        name: &str,
        out_dir: &Path,
        config: ChannelConfig,
        clock: ClockSpec,
    ) -> Result<KernelSession, KernelError> {
        check_name(name)?;
        let tracefs = Tracefs::open()?;
        let layout = tracefs.page_layout()?;
        let mut s = KernelSession {
            tracefs,
            name: name.to_string(),
            out_dir: out_dir.to_path_buf(),
            clock,
            layout,
            channels: Vec::new(),
            state: State::Created,
            observer: None,
            live_period: crate::drain::DRAIN_PERIOD,
            write_trace: true,
            pid_filter: None,
            creation_datetime: datetime_now(),
            record_paths: true,
            path_log: None,
            path_recorder: None,
            path_detach: None,
            path_warning: None,
            consumer_drained: false,
            owner_tag: None,
            md: None,
        };
        s.add_channel(config)?;
        Ok(s)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn clock(&self) -> &ClockSpec {
        &self.clock
    }

    /// `OUT/kernel`.
    pub fn trace_dir(&self) -> PathBuf {
        self.out_dir.join("kernel")
    }

    /// Names of the tracefs instances of this session.
    pub fn instance_names(&self) -> Vec<String> {
        self.channels
            .iter()
            .map(|c| c.instance.name().to_string())
            .collect()
    }

    /// `enable-channel -k`: a new tracefs instance with its buffer size and mode.
    pub fn add_channel(&mut self, config: ChannelConfig) -> Result<(), KernelError> {
        check_name(&config.name)?;
        if self.channels.iter().any(|c| c.config.name == config.name) {
            return Err(KernelError::ChannelExists {
                channel: config.name,
            });
        }
        if self.state == State::Running {
            return Err(KernelError::WrongState {
                operation: "add a channel",
                state: "running",
            });
        }
        let total = config.subbuf_bytes.saturating_mul(config.subbuf_count);
        if config.subbuf_bytes == 0 || config.subbuf_count == 0 || total > MAX_BUFFER_BYTES_PER_CPU
        {
            return Err(KernelError::BadConfig {
                what: "per-cpu buffer bytes",
                value: total,
            });
        }
        let instance = Instance::create(
            &self.tracefs,
            &instance_name(self.owner_tag, &self.name, &config.name),
        )?;
        instance.write("trace_clock", &self.clock.trace_clock)?;
        instance.write("buffer_size_kb", &total.div_ceil(1024).to_string())?;
        // The drain sleeps until this much of a CPU buffer is full (kernels before 5.x lack
        // the file; their readers wake on any data).
        let _ = instance.write("buffer_percent", &DRAIN_BUFFER_PERCENT.to_string());
        instance.write(
            "options/overwrite",
            if config.overwrite { "1" } else { "0" },
        )?;
        self.channels.push(Channel {
            config,
            instance,
            events: Vec::new(),
            formats: Vec::new(),
            filters: Default::default(),
            contexts: Vec::new(),
            drain: None,
            parked: None,
        });
        Ok(())
    }

    fn channel_mut(&mut self, channel: &str) -> Result<&mut Channel, KernelError> {
        self.channels
            .iter_mut()
            .find(|c| c.config.name == channel)
            .ok_or_else(|| KernelError::NoSuchChannel {
                channel: channel.to_string(),
            })
    }

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

    /// `add-context -k`. `prio` is refused: tracefs records do not carry it.
    pub fn add_context(&mut self, channel: &str, context: Context) -> Result<(), KernelError> {
        let kind = context_kind(context)?;
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

    /// Whether to record the path strings of the file and exec system calls with eBPF
    /// (default: yes). Must be set before `start`.
    pub fn set_record_paths(&mut self, on: bool) {
        self.record_paths = on;
    }

    /// The path records of this session, once the eBPF recorder has started (for live views).
    pub fn path_log(&self) -> Option<Arc<PathLog>> {
        self.path_log.clone()
    }

    /// Why path strings are not recorded, when the eBPF recorder could not start (the trace
    /// then keeps the pointers).
    pub fn path_warning(&self) -> Option<&str> {
        self.path_warning.as_deref()
    }

    /// The enabled `sys_enter_X` events with path arguments, with their argument masks.
    fn path_events(&self) -> Vec<(String, u8)> {
        let mut out: Vec<(String, u8)> = Vec::new();
        for ch in &self.channels {
            for f in &ch.formats {
                let m = path_arg_mask(f);
                if m != 0 && !out.iter().any(|(n, _)| *n == f.name) {
                    out.push((f.name.clone(), m));
                }
            }
        }
        out
    }

    fn start_paths(&mut self) {
        let events = self.path_events();
        if !self.record_paths || events.is_empty() {
            return;
        }
        let tids = self.pid_filter.as_ref().map(|(pids, _)| threads_of(pids));
        let log = self.path_log.clone().unwrap_or_default();
        match PathRecorder::start(&events, tids.as_deref(), log.clone()) {
            Ok(r) => {
                self.path_recorder = Some(r);
                self.path_log = Some(log);
                self.path_warning = None;
            }
            Err(e) => {
                if self.path_log.is_none() {
                    self.path_warning = Some(format!(
                        "system call path strings are not recorded ({e}); the trace keeps the pointers"
                    ));
                }
            }
        }
    }

    /// Calls `observer` from the drain threads with the records of enabled events of each
    /// page read while the session runs (one CPU's records in order), for a live view. Set it
    /// after enabling the events and before `start`.
    pub fn set_live_observer(
        &mut self,
        observer: impl Fn(u32, &[LiveRecord<'_>]) + Send + Sync + 'static,
    ) {
        let observer = Arc::new(observer);
        let table = Arc::new(self.live_table());
        self.observer = Some(Arc::new(move |cpu| {
            let table = table.clone();
            let observer = observer.clone();
            Box::new(move |page: &[u8]| {
                let records = table.records(page);
                if !records.is_empty() {
                    observer(cpu, &records);
                }
            })
        }));
    }

    fn live_table(&self) -> LiveTable {
        let mut formats = HashMap::new();
        for ch in &self.channels {
            for f in &ch.formats {
                formats.insert(f.id, f.clone());
            }
        }
        LiveTable::new(self.layout, &formats)
    }

    /// The enabled events as `(ftrace type id, tracefs name)`: what [`LiveRecord::type_id`]
    /// tells apart, for a page handler that maps ids to what it counts once.
    pub fn live_events(&self) -> Vec<(u16, String)> {
        let mut out: Vec<(u16, String)> = self
            .channels
            .iter()
            .flat_map(|ch| ch.formats.iter().map(|f| (f.id, f.name.clone())))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Where field `field` (tracefs's name) of the enabled event with type id `id` lies.
    pub fn live_field(&self, id: u16, field: &str) -> Option<LiveFieldRef> {
        let format = self
            .channels
            .iter()
            .flat_map(|ch| ch.formats.iter())
            .find(|f| f.id == id)?;
        LiveFieldRef::of(format, field)
    }

    /// Like [`Self::set_live_observer`], for handlers that look at every record: `make(cpu)`
    /// makes the handler of each CPU's drain thread (state per CPU needs no sharing), which is
    /// called with each page read; [`LivePage::for_each`] walks its records with no allocation.
    /// Set it after enabling the events and before `start`.
    pub fn set_live_page_handler<H>(&mut self, make: impl Fn(u32) -> H + Send + Sync + 'static)
    where
        H: FnMut(LivePage<'_>) + Send + 'static,
    {
        let table = Arc::new(self.live_table());
        self.observer = Some(Arc::new(move |cpu| {
            let table = table.clone();
            let mut handler = make(cpu);
            Box::new(move |page: &[u8]| handler(table.page(page)))
        }));
    }

    /// Longest time an observed buffer waits to be read when it is not `buffer_percent` full
    /// (default 3 ms, for lines that show up promptly): a counter
    /// that shows figures once a second reads less often, in bigger batches.
    pub fn set_live_period(&mut self, period: std::time::Duration) {
        self.live_period = period;
    }

    /// `false`: a live-only session. The pages go to the live observer only; nothing is kept
    /// on disk and `stop` writes no trace (its report counts nothing). Set before `start`,
    /// with an observer.
    pub fn set_write_trace(&mut self, on: bool) {
        self.write_trace = on;
    }

    /// Another process drains the buffers (rttng-consumerd, through
    /// [`crate::ChannelDrain`]): `start` and `stop` only turn tracing on and off. Before
    /// `start`. System call path strings are not recorded.
    pub fn set_consumer_drained(&mut self) {
        self.consumer_drained = true;
        self.record_paths = false;
    }

    /// Create a session whose instance names carry `owner_uid` (the root daemon serves
    /// several users, whose session names may be equal), drained by another process
    /// ([`Self::set_consumer_drained`]).
    pub fn create_for_user(
        name: &str,
        owner_uid: u32,
        out_dir: &Path,
        config: ChannelConfig,
        clock: ClockSpec,
    ) -> Result<KernelSession, KernelError> {
        check_name(name)?;
        let tracefs = Tracefs::open()?;
        let layout = tracefs.page_layout()?;
        let mut s = KernelSession {
            tracefs,
            name: name.to_string(),
            out_dir: out_dir.to_path_buf(),
            clock,
            layout,
            channels: Vec::new(),
            state: State::Created,
            observer: None,
            pid_filter: None,
            creation_datetime: datetime_now(),
            record_paths: false,
            path_log: None,
            path_recorder: None,
            path_detach: None,
            path_warning: None,
            consumer_drained: true,
            owner_tag: Some(owner_uid),
            live_period: crate::drain::DRAIN_PERIOD,
            write_trace: true,
            md: None,
        };
        s.add_channel(config)?;
        Ok(s)
    }

    /// Channel `channel`'s tracefs instance name, its enabled events (`system:event`, in
    /// enable order: the CTF event id is the position) and its contexts: what the drain of
    /// another process needs ([`crate::ChannelDrain::set_events`]).
    pub fn channel_plan(&self, channel: &str) -> Option<(String, Vec<String>, Vec<Context>)> {
        let ch = self.channels.iter().find(|c| c.config.name == channel)?;
        Some((
            ch.instance.name().to_string(),
            Self::events_of(ch),
            Self::plan_contexts(ch),
        ))
    }

    /// Start the drain threads, then turn tracing on.
    pub fn start(&mut self) -> Result<(), KernelError> {
        if self.state == State::Running {
            return Err(KernelError::WrongState {
                operation: "start",
                state: "running",
            });
        }
        if self.consumer_drained {
            for ch in &self.channels {
                ch.instance.set_tracing(true)?;
            }
            self.state = State::Running;
            return Ok(());
        }
        if self.channels.iter().all(|c| c.parked.is_none()) {
            self.open_drains()?;
        } else {
            self.update_drains()?;
        }
        let period = self.observer.is_some().then_some(self.live_period);
        for ch in &mut self.channels {
            let Some((drain, files)) = ch.parked.take() else {
                continue;
            };
            ch.drain = Some(Drain::start(drain, files, period)?);
        }
        for ch in &self.channels {
            ch.instance.set_tracing(true)?;
        }
        self.state = State::Running;
        Ok(())
    }

    /// The channels' contexts as the consumer's drain takes them.
    fn plan_contexts(ch: &Channel) -> Vec<Context> {
        ch.contexts
            .iter()
            .map(|k| match k {
                ContextKind::Pid => Context::Pid,
                ContextKind::Tid => Context::Tid,
                ContextKind::Procname => Context::Procname,
                ContextKind::CpuId => Context::CpuId,
            })
            .collect()
    }

    fn events_of(ch: &Channel) -> Vec<String> {
        ch.events.iter().map(|(s, e)| format!("{s}:{e}")).collect()
    }

    /// At the first start: each channel's drain, the path recorder, the metadata and the
    /// stream files.
    fn open_drains(&mut self) -> Result<(), KernelError> {
        let mut drains = Vec::new();
        for (sid, ch) in self.channels.iter().enumerate() {
            let mut d = ChannelDrain::open(
                ch.instance.name(),
                sid as u64,
                ch.config.subbuf_bytes,
                ch.config.subbuf_count,
            )?;
            d.set_clock(self.clock.clone());
            d.set_events(&Self::events_of(ch), &Self::plan_contexts(ch))?;
            if let Some(make) = &self.observer {
                d.observe_pages(make, self.write_trace);
            }
            drains.push(d);
        }
        self.start_paths();
        if let Some(log) = &self.path_log {
            let mut refs: Vec<&mut ChannelDrain> = drains.iter_mut().collect();
            crate::consume::attach_shared(&mut refs, log.clone());
        }
        let mut md = KernelMetadata::new_at(&self.name, &self.clock, &self.creation_datetime);
        md.declare(&drains.iter().collect::<Vec<_>>());
        let keep = self.keeps_trace();
        let dir = self.trace_dir();
        if keep {
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            write_metadata(&dir, &md)?;
        }
        for (ch, mut d) in self.channels.iter_mut().zip(drains) {
            d.declared(&md);
            let files = if keep {
                Some(TraceFiles::create(&dir, &ch.config.name, &d.cpus())?)
            } else {
                None
            };
            ch.parked = Some((d, files));
        }
        self.md = Some(md);
        Ok(())
    }

    /// At a later start: events enabled since are declared, the path recorder attached again.
    fn update_drains(&mut self) -> Result<(), KernelError> {
        let dir = self.trace_dir();
        let Some(md) = self.md.as_mut() else {
            return Ok(());
        };
        let mut grew = false;
        for ch in &mut self.channels {
            let (events, contexts) = (Self::events_of(ch), Self::plan_contexts(ch));
            if let Some((d, _)) = ch.parked.as_mut() {
                d.set_events(&events, &contexts)?;
                grew |= !md.add_events(d)?.is_empty();
            }
        }
        if grew && self.write_trace {
            write_metadata(&dir, md)?;
        }
        self.start_paths();
        Ok(())
    }

    /// Whether a trace is written (not a live-only session).
    fn keeps_trace(&self) -> bool {
        self.write_trace || self.observer.is_none()
    }

    /// Turn tracing off, drain every buffer (including the last partial pages), and write the
    /// CTF trace.
    pub fn stop(&mut self) -> Result<StopReport, KernelError> {
        if self.state != State::Running {
            return Err(KernelError::WrongState {
                operation: "stop",
                state: self.state.name(),
            });
        }
        for ch in &self.channels {
            ch.instance.set_tracing(false)?;
        }
        if self.consumer_drained {
            // The consumer drains the buffers: nothing is written here.
            self.state = State::Stopped;
            return Ok(StopReport {
                trace_dir: self.trace_dir(),
                ..StopReport::default()
            });
        }
        let mut first_err = None;
        let mut report = StopReport {
            trace_dir: self.trace_dir(),
            ..StopReport::default()
        };
        for ch in &mut self.channels {
            let Some(d) = ch.drain.take() else { continue };
            let (drained, err) = d.finish();
            if let Some(e) = err {
                first_err.get_or_insert(e);
            }
            let Some((drain, files)) = drained else {
                continue;
            };
            report.events_written += drain.events_written();
            report.events_discarded += drain.events_discarded();
            report.records_skipped += drain.records_skipped();
            let mut files = files;
            if let Some(f) = files.as_mut() {
                if let Err(e) = f.write_indexes() {
                    first_err.get_or_insert(e);
                }
            }
            ch.parked = Some((drain, files));
        }
        if let Some(mut r) = self.path_recorder.take() {
            // The drains are done: every recorded sys_enter's path has been matched.
            self.path_detach = r.stop_recording();
        }
        self.state = State::Stopped;
        if let Some(e) = first_err {
            return Err(e);
        }
        if !self.keeps_trace() {
            return Ok(StopReport {
                trace_dir: self.trace_dir(),
                ..StopReport::default()
            });
        }
        Ok(report)
    }

    /// Remove every instance. The trace stays.
    pub fn destroy(mut self) -> Result<(), KernelError> {
        if self.state == State::Running {
            let _ = self.stop();
        }
        let mut first_err = None;
        for ch in &mut self.channels {
            ch.drain = None;
            // The drain's fds close, so the instance can go.
            ch.parked = None;
            if let Err(e) = ch.instance.remove() {
                first_err.get_or_insert(e);
            }
        }
        if let Some(detach) = self.path_detach.take() {
            let _ = detach.join();
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The threads of these processes (their `/proc/PID/task` entries), for the eBPF filter.
fn threads_of(pids: &[u32]) -> Vec<u32> {
    let mut out = pids.to_vec();
    for &p in pids {
        if let Ok(rd) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for e in rd.take(crate::tracefs::MAX_LIST_LINES).flatten() {
                if let Some(t) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
    }
    out
}

impl Drop for KernelSession {
    fn drop(&mut self) {
        for ch in &mut self.channels {
            let _ = ch.instance.set_tracing(false);
            ch.drain = None;
            ch.parked = None;
        }
        // Instances remove themselves when dropped.
    }
}

/// Writes the whole metadata file of the trace in `dir` (packetized, as LTTng's).
fn write_metadata(dir: &Path, md: &KernelMetadata) -> Result<(), KernelError> {
    let p = dir.join("metadata");
    let bytes = rttng_ctf::emit::packetize_metadata(
        md.text(),
        md.uuid(),
        rttng_ctf::ir::ByteOrder::NATIVE,
        METADATA_PACKET_BYTES,
    );
    std::fs::write(&p, bytes).map_err(io_err(&p))
}
