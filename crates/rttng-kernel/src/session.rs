//! A kernel tracing session: one tracefs instance per channel, events and system calls enabled
//! per instance, and, when it drains its own buffers, a CTF kernel trace in `OUT/kernel/`
//! (`metadata`, `CHANNEL_CPU` streams, `index/`), the way lttng-modules lays it out.
//!
//! It keeps no global state. Used by itself (`rttng trace`, `rttng top`), it drains its own
//! buffers on one thread per channel (`crate::drain`) with the consumer's conversion
//! (`crate::consume::ChannelDrain`): the packets are appended while tracing, and
//! start/stop/start/stop yields one trace. The session daemon instead creates it
//! [`KernelSession::create_for_user`]: it only controls the instances, and rttng-consumerd
//! drains and converts them (the same `ChannelDrain`). This file holds the session, its
//! channels and life cycle; `session/events.rs` what is enabled, `session/view.rs` the live
//! view, `session/drive.rs` the own drain's setup, `session/clock.rs` the clock. Not here:
//! page parsing and conversion (`consume.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

mod clock;
mod drive;
mod events;
mod view;

pub use clock::{datetime_now, ClockSpec};

use crate::bpf::{PathLog, PathRecorder};
use crate::consume::KernelMetadata;
use crate::convert::ContextKind;
use crate::drain::{Drain, Drained, PageObserver};
use crate::error::KernelError;
use crate::format::{EventFormat, PageLayout};
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

/// A context that `add-context -k` may ask for (lttng-modules' context types).
pub type Context = crate::convert::ContextKind;

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
        Self::create_owned(name, out_dir, config, clock, None)
    }

    /// A session drained by itself (`owner_uid` none) or, with instance names carrying
    /// `owner_uid`, by another process.
    fn create_owned(
        name: &str,
        out_dir: &Path,
        config: ChannelConfig,
        clock: ClockSpec,
        owner_uid: Option<u32>,
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
            record_paths: owner_uid.is_none(),
            path_log: None,
            path_recorder: None,
            path_detach: None,
            path_warning: None,
            consumer_drained: owner_uid.is_some(),
            owner_tag: owner_uid,
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
        Self::create_owned(name, out_dir, config, clock, Some(owner_uid))
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
