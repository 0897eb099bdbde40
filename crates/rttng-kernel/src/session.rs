//! A kernel tracing session: one tracefs instance per channel, events and system calls enabled
//! per instance, drain threads while running, and at stop a CTF kernel trace in `OUT/kernel/`
//! (`metadata`, `CHANNEL_CPU` streams, `index/`), the way lttng-modules lays it out.
//!
//! The session daemon drives it; it keeps no global state. Raw pages are spooled in
//! `OUT/kernel/.spool/` (a dot-directory, so trace readers skip it) until `destroy`, and every
//! `stop` converts the whole spool again, so start/stop/start/stop yields one trace.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rttng_ctf::emit::{emit_metadata, packetize_metadata};
use rttng_ctf::index::{encode_index, IndexVersion};
use rttng_ctf::ir::{ClockClass, FieldClass, Metadata};
use rttng_ctf::writer::{
    event_class, kernel_env, monotonic_clock, struct_class, EventHeaderKind, HeaderForm,
    LttngLayout, PacketOpen, PacketSize, StreamWriter,
};

use crate::bpf::{path_arg_mask, PathLog, PathMatcher, PathRecorder, PathValue};
use crate::convert::{
    plan_event_with_paths, write_context, write_payload_with_paths, ContextKind, ContextValues,
    EventPlan,
};
use crate::drain::{Drain, PageObserver};
use crate::error::{io_err, KernelError};
use crate::format::{EventFormat, PageLayout};
use crate::page::parse_page;
use crate::tracefs::{check_name, glob_match, instance_name, Instance, Tracefs};

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
/// Largest CTF packet content before the converter starts a new packet.
pub const PACKET_CONTENT_BYTES: u64 = 256 * 1024;
/// Metadata packet size (LTTng's).
pub const METADATA_PACKET_BYTES: usize = 4096;

/// The tracefs clock and the CTF clock class describing its values.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockSpec {
    /// Written to `trace_clock` (`mono`, `x86-tsc`).
    pub trace_clock: String,
    pub ctf: ClockClass,
}

impl ClockSpec {
    /// A tracefs clock and the CTF clock class of its values (e.g. from `rttng-clock`).
    pub fn new(trace_clock: &str, ctf: ClockClass) -> ClockSpec {
        ClockSpec {
            trace_clock: trace_clock.to_string(),
            ctf,
        }
    }

    /// The clock every rttng domain shares (`rttng-clock`): `x86-tsc` with the TSC frequency
    /// and epoch offset when the TSC is invariant, else `mono`; falls back to
    /// [`ClockSpec::monotonic`] if the parameters cannot be derived.
    pub fn shared() -> ClockSpec {
        match rttng_clock::ClockParams::detect() {
            Ok(p) => ClockSpec {
                trace_clock: p.source.tracefs_clock().to_string(),
                ctf: p.clock_class(),
            },
            Err(_) => ClockSpec::monotonic(),
        }
    }

    /// The current value of this clock, in the units tracefs stamps events with.
    pub fn now(&self) -> u64 {
        if self.trace_clock == "x86-tsc" {
            rttng_clock::now()
        } else {
            crate::sys::monotonic_ns().max(0) as u64
        }
    }

    /// `ns` nanoseconds in clock cycles.
    pub fn cycles(&self, ns: u64) -> u64 {
        (u128::from(ns) * u128::from(self.ctf.freq) / 1_000_000_000) as u64
    }

    /// `trace_clock=mono`, a 1 GHz CTF clock whose offset is CLOCK_REALTIME − CLOCK_MONOTONIC now,
    /// with the boot id as uuid (what LTTng writes).
    pub fn monotonic() -> ClockSpec {
        ClockSpec {
            trace_clock: "mono".to_string(),
            ctf: monotonic_clock(boot_id(), crate::sys::realtime_minus_monotonic_ns()),
        }
    }
}

/// The kernel boot id as 16 bytes.
pub fn boot_id() -> Option<[u8; 16]> {
    let t = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let hex: String = t.trim().chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

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

/// The event formats a channel records, by ftrace type id; shared with live observers.
#[derive(Clone, Debug, Default)]
pub struct FormatTable {
    pub layout: Option<PageLayout>,
    pub by_id: HashMap<u16, Arc<EventFormat>>,
}

#[derive(Debug)]
struct Channel {
    config: ChannelConfig,
    instance: Instance,
    /// Enabled ftrace events `(system, event)` in enable order; their CTF class id is the index.
    events: Vec<(String, String)>,
    formats: Vec<Arc<EventFormat>>,
    contexts: Vec<ContextKind>,
    drains: Vec<Drain>,
    cpus: Vec<u32>,
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
            pid_filter: None,
            creation_datetime: datetime_now(),
            record_paths: true,
            path_log: None,
            path_recorder: None,
            path_detach: None,
            path_warning: None,
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
        let instance = Instance::create(&self.tracefs, &instance_name(&self.name, &config.name))?;
        instance.write("trace_clock", &self.clock.trace_clock)?;
        instance.write("buffer_size_kb", &total.div_ceil(1024).to_string())?;
        // The drain sleeps until this much of a CPU buffer is full (kernels before 5.x lack
        // the file; their readers wake on any data).
        let _ = instance.write("buffer_percent", &DRAIN_BUFFER_PERCENT.to_string());
        instance.write(
            "options/overwrite",
            if config.overwrite { "1" } else { "0" },
        )?;
        let cpus = instance.cpus()?;
        self.channels.push(Channel {
            config,
            instance,
            events: Vec::new(),
            formats: Vec::new(),
            contexts: Vec::new(),
            drains: Vec::new(),
            cpus,
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
    /// (`sched:sched_switch`) or lttng-modules name matches the `*` glob. `*` (`-a`) enables every
    /// tracepoint except the system call ones. Returns the ftrace names enabled.
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
            if glob_match(pattern, &full)
                || (!explicit_system
                    && (glob_match(pattern, &event) || glob_match(pattern, &lttng)))
            {
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
            if glob_match(pattern, &full)
                || glob_match(pattern, event)
                || glob_match(pattern, &lttng)
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
                    let matched: Vec<&String> = all.iter().filter(|s| glob_match(n, s)).collect();
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
        let kind = match context {
            Context::Pid => ContextKind::Pid,
            Context::Tid => ContextKind::Tid,
            Context::Procname => ContextKind::Procname,
            Context::CpuId => ContextKind::CpuId,
            Context::Prio => {
                return Err(KernelError::UnsupportedContext {
                    context: "prio".to_string(),
                })
            }
        };
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

    /// Receive every drained page as it arrives (from the drain threads).
    pub fn set_observer(&mut self, observer: PageObserver) {
        self.observer = Some(observer);
    }

    /// The formats of everything enabled so far, by ftrace type id (for live decoding).
    pub fn format_table(&self) -> FormatTable {
        let mut t = FormatTable {
            layout: Some(self.layout),
            by_id: HashMap::new(),
        };
        for ch in &self.channels {
            for f in &ch.formats {
                t.by_id.insert(f.id, f.clone());
            }
        }
        t
    }

    fn spool_dir(&self) -> PathBuf {
        self.trace_dir().join(".spool")
    }

    /// Start the drain threads, then turn tracing on.
    pub fn start(&mut self) -> Result<(), KernelError> {
        if self.state == State::Running {
            return Err(KernelError::WrongState {
                operation: "start",
                state: "running",
            });
        }
        let spool = self.spool_dir();
        std::fs::create_dir_all(&spool).map_err(io_err(&spool))?;
        let page_bytes = self.layout.page_bytes() as usize;
        for ch in &mut self.channels {
            for &cpu in &ch.cpus {
                let pipe = ch
                    .instance
                    .dir()
                    .join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"));
                let file = spool.join(format!("{}_{cpu}", ch.config.name));
                ch.drains.push(Drain::start(
                    cpu,
                    pipe,
                    file,
                    page_bytes,
                    self.observer.clone(),
                )?);
            }
        }
        self.start_paths();
        for ch in &self.channels {
            ch.instance.set_tracing(true)?;
        }
        self.state = State::Running;
        Ok(())
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
        let mut first_err = None;
        for ch in &mut self.channels {
            for d in ch.drains.drain(..) {
                if let Err(e) = d.finish() {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(mut r) = self.path_recorder.take() {
            // The drains are done: every recorded sys_enter's path is in the ring buffer.
            self.path_detach = r.stop_recording();
        }
        self.state = State::Stopped;
        if let Some(e) = first_err {
            return Err(e);
        }
        self.write_trace()
    }

    /// Remove every instance and the spool. The trace stays.
    pub fn destroy(mut self) -> Result<(), KernelError> {
        if self.state == State::Running {
            let _ = self.stop();
        }
        let mut first_err = None;
        for ch in &mut self.channels {
            ch.drains.clear();
            if let Err(e) = ch.instance.remove() {
                first_err.get_or_insert(e);
            }
        }
        let _ = std::fs::remove_dir_all(self.spool_dir());
        if let Some(detach) = self.path_detach.take() {
            let _ = detach.join();
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn metadata(&self) -> Metadata {
        let lay = LttngLayout::x86_64();
        let uuid = trace_uuid(&self.name);
        let env = kernel_env(
            &read_trim("/proc/sys/kernel/hostname"),
            "Linux",
            &read_trim("/proc/sys/kernel/osrelease"),
            &read_trim("/proc/sys/kernel/version"),
            &self.name,
            &self.creation_datetime,
        );
        let mut md = lay.metadata(uuid, self.clock.ctf.clone(), env);
        for (sid, ch) in self.channels.iter().enumerate() {
            let header = if ch.formats.len() < COMPACT_HEADER_MAX_CLASSES {
                EventHeaderKind::Compact
            } else {
                EventHeaderKind::Large
            };
            let ctx = if ch.contexts.is_empty() {
                None
            } else {
                let members: Vec<(String, FieldClass)> =
                    ch.contexts.iter().map(|k| k.member()).collect();
                Some(struct_class(
                    members
                        .iter()
                        .map(|(n, c)| (n.as_str(), c.clone()))
                        .collect(),
                    1,
                ))
            };
            let mut sc = lay.stream_class(sid as u64, header, ctx);
            for (eid, f) in ch.formats.iter().enumerate() {
                let plan = plan_event_with_paths(f, self.path_log.is_some());
                sc.events.push(event_class(
                    eid as u64,
                    sid as u64,
                    &plan.ctf_name,
                    None,
                    plan.fields,
                ));
            }
            md.streams.push(sc);
        }
        md
    }

    fn write_trace(&self) -> Result<StopReport, KernelError> {
        let dir = self.trace_dir();
        let index_dir = dir.join("index");
        std::fs::create_dir_all(&index_dir).map_err(io_err(&index_dir))?;
        let md = self.metadata();
        let text = emit_metadata(&md);
        let uuid = md.trace.uuid.unwrap_or([0; 16]);
        let meta_path = dir.join("metadata");
        std::fs::write(
            &meta_path,
            packetize_metadata(&text, uuid, md.trace.byte_order, METADATA_PACKET_BYTES),
        )
        .map_err(io_err(&meta_path))?;
        let names = ProcessNames::load(&self.tracefs);
        let mut report = StopReport {
            trace_dir: dir.clone(),
            ..StopReport::default()
        };
        for (sid, ch) in self.channels.iter().enumerate() {
            let with_paths = self.path_log.is_some();
            let plans: Vec<EventPlan> = ch
                .formats
                .iter()
                .map(|f| plan_event_with_paths(f, with_paths))
                .collect();
            let by_id: HashMap<u16, usize> = ch
                .formats
                .iter()
                .enumerate()
                .map(|(i, f)| (f.id, i))
                .collect();
            let paths = match &self.path_log {
                Some(log) => self.match_paths(ch, log),
                None => PathTable::new(),
            };
            for &cpu in &ch.cpus {
                let lost_stats = ch.instance.lost_events(cpu).unwrap_or(0);
                let conv = StreamConversion {
                    md: &md,
                    stream_id: sid as u64,
                    cpu,
                    layout: &self.layout,
                    plans: &plans,
                    by_id: &by_id,
                    contexts: &ch.contexts,
                    names: &names,
                    lost_stats,
                    paths: &paths,
                };
                let spool = self.spool_dir().join(format!("{}_{cpu}", ch.config.name));
                let out = dir.join(format!("{}_{cpu}", ch.config.name));
                let idx = index_dir.join(format!("{}_{cpu}.idx", ch.config.name));
                let r = conv.run(&spool, &out, &idx)?;
                report.events_written += r.events_written;
                report.events_discarded += r.events_discarded;
                report.records_skipped += r.records_skipped;
            }
        }
        Ok(report)
    }
}

/// The path strings of the `sys_enter` records of one channel, by (cpu, page number in the
/// spool, record number in the page): `(argument index, string)`.
type PathTable = HashMap<(u32, u64, u32), Vec<(u8, Vec<u8>)>>;

/// Most `sys_enter` records with path arguments matched per channel at conversion.
pub const MAX_PATH_ENTRIES: usize = 1 << 23;

/// A `sys_enter` record with path arguments, located in the spool.
struct PathEntry {
    ts: u64,
    cpu: u32,
    page: u64,
    rec: u32,
    mask: u8,
    data_tid_nr: (u32, u32),
    ptrs: [u64; crate::bpf::MAX_ARGS],
}

impl KernelSession {
    /// Give each `sys_enter` record with path arguments its strings: the records of all CPUs in
    /// time order, each thread's path records in order ([`PathMatcher`]).
    fn match_paths(&self, ch: &Channel, log: &PathLog) -> PathTable {
        let masks: HashMap<u16, u8> = ch
            .formats
            .iter()
            .map(|f| (f.id, path_arg_mask(f)))
            .filter(|(_, m)| *m != 0)
            .collect();
        let mut table = PathTable::new();
        if masks.is_empty() {
            return table;
        }
        let page_bytes = self.layout.page_bytes() as usize;
        let mut entries: Vec<PathEntry> = Vec::new();
        let mut page = vec![0u8; page_bytes];
        for &cpu in &ch.cpus {
            let spool = self.spool_dir().join(format!("{}_{cpu}", ch.config.name));
            let Ok(mut f) = std::fs::File::open(&spool) else {
                continue;
            };
            let mut page_no = 0u64;
            while f.read_exact(&mut page).is_ok() && entries.len() < MAX_PATH_ENTRIES {
                let mut found = Vec::new();
                let mut k = 0u32;
                let parsed = parse_page(&self.layout, &page, |r| {
                    let id = u16::from_le_bytes([
                        r.data.first().copied().unwrap_or(0),
                        r.data.get(1).copied().unwrap_or(0),
                    ]);
                    if let Some(&mask) = masks.get(&id) {
                        let mut ptrs = [0u64; crate::bpf::MAX_ARGS];
                        let mut key = None;
                        for (a, p) in ptrs.iter_mut().enumerate() {
                            if let Some((tid, nr, ptr)) = crate::bpf::enter_key(r.data, a as u8) {
                                *p = ptr;
                                key = Some((tid, nr));
                            }
                        }
                        if let Some(data_tid_nr) = key {
                            found.push(PathEntry {
                                ts: r.timestamp,
                                cpu,
                                page: page_no,
                                rec: k,
                                mask,
                                data_tid_nr,
                                ptrs,
                            });
                        }
                    }
                    k += 1;
                });
                if parsed.is_ok() {
                    entries.extend(found);
                }
                page_no += 1;
            }
        }
        entries.sort_by_key(|e| (e.ts, e.cpu, e.page, e.rec));
        let mut m = PathMatcher::new();
        m.refresh(log);
        for e in entries {
            let (tid, nr) = e.data_tid_nr;
            let mut got = Vec::new();
            for a in 0..crate::bpf::MAX_ARGS as u8 {
                if e.mask & (1 << a) == 0 {
                    continue;
                }
                if let Some(PathValue::Text(t)) = m.take(tid, nr, a, e.ptrs[usize::from(a)]) {
                    got.push((a, t));
                }
            }
            if !got.is_empty() {
                table.insert((e.cpu, e.page, e.rec), got);
            }
        }
        table
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
            ch.drains.clear();
        }
        // Instances remove themselves when dropped.
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A UUID for the trace: random bytes from the kernel, marked as version 4.
fn trace_uuid(_name: &str) -> [u8; 16] {
    let mut u = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut u);
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// `YYYYmmddTHHMMSS+0000` (UTC) for `trace_creation_datetime`.
pub fn datetime_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Thread → process and thread → command name maps, from tracefs's `saved_tgids` and
/// `saved_cmdlines` (filled while tracing).
#[derive(Debug, Default)]
struct ProcessNames {
    tgid: HashMap<i32, i32>,
    comm: HashMap<i32, Vec<u8>>,
}

impl ProcessNames {
    fn load(tfs: &Tracefs) -> ProcessNames {
        let mut n = ProcessNames::default();
        for line in tfs
            .read("saved_tgids")
            .unwrap_or_default()
            .lines()
            .take(crate::tracefs::MAX_LIST_LINES)
        {
            let mut it = line.split_whitespace();
            if let (Some(Ok(t)), Some(Ok(p))) =
                (it.next().map(str::parse), it.next().map(str::parse))
            {
                n.tgid.insert(t, p);
            }
        }
        for line in tfs
            .read("saved_cmdlines")
            .unwrap_or_default()
            .lines()
            .take(crate::tracefs::MAX_LIST_LINES)
        {
            if let Some((t, c)) = line.split_once(' ') {
                if let Ok(t) = t.parse() {
                    n.comm.insert(t, c.as_bytes().to_vec());
                }
            }
        }
        n
    }
}

struct StreamConversion<'a> {
    md: &'a Metadata,
    stream_id: u64,
    cpu: u32,
    layout: &'a PageLayout,
    plans: &'a [EventPlan],
    by_id: &'a HashMap<u16, usize>,
    contexts: &'a [ContextKind],
    names: &'a ProcessNames,
    lost_stats: u64,
    paths: &'a PathTable,
}

#[derive(Debug, Default)]
struct StreamResult {
    events_written: u64,
    events_discarded: u64,
    records_skipped: u64,
}

impl StreamConversion<'_> {
    fn run(&self, spool: &Path, out: &Path, idx: &Path) -> Result<StreamResult, KernelError> {
        let stream_name = out.display().to_string();
        let ctf = |source| KernelError::Ctf {
            stream: stream_name.clone(),
            source,
        };
        let page_bytes = self.layout.page_bytes() as usize;
        let mut file = match std::fs::File::open(spool) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(spool)(e)),
        };
        let mut data_out =
            std::io::BufWriter::new(std::fs::File::create(out).map_err(io_err(out))?);
        let mut w = StreamWriter::new(self.md, self.stream_id, u64::from(self.cpu)).map_err(ctf)?;
        let mut res = StreamResult::default();
        let mut page = vec![0u8; page_bytes];
        let mut seq = 0u64;
        let mut discarded = 0u64;
        let mut last_ts = 0u64;
        let mut records: Vec<(u64, usize, usize)> = Vec::new();
        let mut page_no = 0u64;
        while let Some(f) = file.as_mut() {
            match f.read_exact(&mut page) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(io_err(spool)(e)),
            }
            let this_page = page_no;
            page_no += 1;
            records.clear();
            let base = page.as_ptr() as usize;
            let info = match parse_page(self.layout, &page, |r| {
                records.push((r.timestamp, r.data.as_ptr() as usize - base, r.data.len()))
            }) {
                Ok(i) => i,
                // A damaged page loses its events; count them as one unknown loss.
                Err(_) => {
                    discarded += 1;
                    continue;
                }
            };
            if let Some(m) = info.missed {
                discarded = discarded.saturating_add(if m == u64::MAX { 1 } else { m });
            }
            if records.is_empty() {
                continue;
            }
            let first_ts = records[0].0.max(last_ts);
            if w.is_packet_open()
                && (w.packet_content_bits() / 8 > PACKET_CONTENT_BYTES || info.missed.is_some())
            {
                w.close_packet(last_ts, PacketSize::Aligned8).map_err(ctf)?;
                std::io::Write::write_all(&mut data_out, &w.take_data()).map_err(io_err(out))?;
            }
            if !w.is_packet_open() {
                w.open_packet(&PacketOpen {
                    timestamp_begin: first_ts,
                    packet_seq_num: seq,
                    events_discarded: discarded,
                    cpu_id: u64::from(self.cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
                seq += 1;
            }
            for (k, &(ts, off, len)) in records.iter().enumerate() {
                let data = &page[off..off + len];
                let type_id = u16::from_le_bytes([
                    data.first().copied().unwrap_or(0),
                    data.get(1).copied().unwrap_or(0),
                ]);
                let Some(&class) = self.by_id.get(&type_id) else {
                    res.records_skipped += 1;
                    continue;
                };
                let ts = ts.max(last_ts);
                let tid = i32::from_le_bytes(
                    data.get(4..8)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0; 4]),
                );
                let ctxv = ContextValues {
                    tid,
                    pid: self.names.tgid.get(&tid).copied().unwrap_or(tid),
                    procname: self.names.comm.get(&tid).map(Vec::as_slice).unwrap_or(b""),
                    cpu: self.cpu,
                };
                let ops = &self.plans[class].ops;
                let contexts = self.contexts;
                let paths: Vec<(u8, &[u8])> = self
                    .paths
                    .get(&(self.cpu, this_page, k as u32))
                    .map(|v| v.iter().map(|(a, t)| (*a, t.as_slice())).collect())
                    .unwrap_or_default();
                w.append_event_raw(class as u64, ts, HeaderForm::Auto, |bw| {
                    write_context(bw, contexts, &ctxv);
                    write_payload_with_paths(bw, ops, data, &paths);
                })
                .map_err(ctf)?;
                last_ts = ts;
                res.events_written += 1;
            }
        }
        // Losses the pages did not report (discard mode counts them only in `stats`).
        let total_discarded = discarded.max(self.lost_stats);
        if total_discarded > discarded || !w.is_packet_open() {
            if w.is_packet_open() {
                w.close_packet(last_ts, PacketSize::Aligned8).map_err(ctf)?;
            }
            if total_discarded > 0 || seq == 0 {
                // An empty packet carries the final count (and makes the stream exist).
                w.open_packet(&PacketOpen {
                    timestamp_begin: last_ts,
                    packet_seq_num: seq,
                    events_discarded: total_discarded,
                    cpu_id: u64::from(self.cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
            }
        }
        if w.is_packet_open() {
            w.close_packet(last_ts, PacketSize::Aligned8).map_err(ctf)?;
        }
        let (rest, index) = w.finish();
        std::io::Write::write_all(&mut data_out, &rest).map_err(io_err(out))?;
        std::io::Write::flush(&mut data_out).map_err(io_err(out))?;
        std::fs::write(idx, encode_index(&index, IndexVersion::V1_1)).map_err(io_err(idx))?;
        res.events_discarded = total_discarded;
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19675), (2023, 11, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
