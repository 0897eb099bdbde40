//! The consumer's side of kernel tracing: what turns a tracefs instance's per-CPU
//! `trace_pipe_raw` into CTF kernel packets continuously, for a process that does not own the
//! instance (rttng-consumerd; the session daemon creates the instance and enables its events).
//!
//! [`KernelMetadata`] (`consume/metadata.rs`) is the kernel trace's TSDL, handed out
//! append-only: the base blocks and every stream class at the first start, then one `event`
//! block per event enabled later.
//! [`ChannelDrain`] is one channel (instance): it opens each CPU's `trace_pipe_raw`, waits in
//! `poll()` (the kernel wakes it at `buffer_percent`), reads the pages (`read()`, partial
//! pages included) and converts them, pass by pass, into whole CTF packets with their index
//! entries, counting the kernel's losses (page "missed events" flags, per-CPU `stats`) in the
//! packets' cumulative `events_discarded`.
//!
//! [`PathStrings`] (`consume/paths.rs`) records the path arguments of the channels' system
//! calls with eBPF (as `rttng trace` does) and gives each `sys_enter` record its strings as
//! its page is converted.
//!
//! Not here: where packets go (files, relay, snapshot memory: the caller), creating or
//! enabling anything in tracefs.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rttng_ctf::index::IndexEntry;
use rttng_ctf::ir::{struct_class, FieldClass, Metadata};
use rttng_ctf::lttng::EventHeaderKind;
use rttng_ctf::writer::{HeaderForm, PacketOpen, PacketSize, StreamWriter};

use crate::bpf::PathValue;
use crate::convert::{
    plan_event_with_paths, write_context, write_payload_with_paths, ContextKind, ContextValues,
    EventPlan,
};
use crate::error::{io_err, KernelError};
use crate::format::{EventFormat, PageLayout};
use crate::page::parse_page;
use crate::session::{ClockSpec, Context, COMPACT_HEADER_MAX_CLASSES};
use crate::syscall_args::{enter_key, path_arg_mask, MAX_ARGS};
use crate::tracefs::{check_name, parse_stats_lost, Tracefs, INSTANCE_PREFIX};

mod metadata;
mod paths;
mod tasks;

pub use metadata::KernelMetadata;
pub(crate) use paths::attach_shared;
pub use paths::PathStrings;
use paths::Paths;
pub use tasks::TaskContexts;

/// Smallest and largest CTF packet a pass cuts (the channel's sub-buffer size, clamped).
pub const MIN_PACKET_BYTES: u64 = 4096;
pub const MAX_PACKET_BYTES: u64 = 4 << 20;
/// Pages read per CPU in one pass beyond the buffer's size (writers keep writing meanwhile;
/// this bounds a pass under a storm, the rest waits for the next one).
pub const PASS_EXTRA_PAGES: u64 = 64;
/// Most event classes one channel may have (as [`crate::session::MAX_EVENT_CLASSES`]).
pub const MAX_CHANNEL_EVENTS: usize = crate::session::MAX_EVENT_CLASSES;
/// Most contexts of one channel.
pub const MAX_CONTEXTS: usize = 48;

/// Most threads [`ProcessNames`] remembers; past it the maps start again from tracefs's lists.
pub const MAX_PROCESS_NAMES: usize = 1 << 16;
/// The command name of a thread that neither tracefs nor `/proc` knows any more (it exited
/// and tracefs's 128-entry `saved_cmdlines` dropped it), as trace-cmd prints it. Never empty:
/// babeltrace2 prints an empty `procname` as the previous event's.
pub const UNKNOWN_COMM: &[u8] = b"<...>";

/// Thread → process and thread → command name maps, from tracefs's `saved_tgids` and
/// `saved_cmdlines` (filled while tracing), kept across passes: `saved_cmdlines` holds only the
/// last 128 command names system-wide, so a busy machine drops a short-lived thread's name
/// before the next pass; a thread found in neither is looked up in `/proc` once.
#[derive(Debug, Default)]
pub(crate) struct ProcessNames {
    pub(crate) tgid: HashMap<i32, i32>,
    pub(crate) comm: HashMap<i32, Vec<u8>>,
}

impl ProcessNames {
    /// Merges tracefs's current lists into the maps (newer names replace older ones).
    pub(crate) fn refresh(&mut self, tfs: &Tracefs) {
        if self.tgid.len() > MAX_PROCESS_NAMES || self.comm.len() > MAX_PROCESS_NAMES {
            *self = ProcessNames::default();
        }
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
                self.tgid.insert(t, p);
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
                    if c != "<...>" {
                        self.comm.insert(t, c.as_bytes().to_vec());
                    }
                }
            }
        }
    }

    /// The process of thread `tid`: tracefs's, else `/proc`'s, else `tid` itself.
    pub(crate) fn pid(&mut self, tid: i32) -> i32 {
        if let Some(&p) = self.tgid.get(&tid) {
            return p;
        }
        let p = std::fs::read_to_string(format!("/proc/{tid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Tgid:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(tid);
        self.tgid.insert(tid, p);
        p
    }

    /// The command name of thread `tid`: tracefs's, else `/proc`'s, else [`UNKNOWN_COMM`].
    pub(crate) fn procname(&mut self, tid: i32) -> &[u8] {
        self.comm
            .entry(tid)
            .or_insert_with(|| match std::fs::read(format!("/proc/{tid}/comm")) {
                Ok(mut c) if !c.is_empty() => {
                    if c.last() == Some(&b'\n') {
                        c.pop();
                    }
                    c
                }
                _ => UNKNOWN_COMM.to_vec(),
            })
    }
}

pub(crate) fn context_kind(c: Context) -> Result<ContextKind, KernelError> {
    Ok(c)
}

/// A kernel context by its `add-context` name.
pub fn context_by_name(name: &str) -> Option<Context> {
    ContextKind::ALL.into_iter().find(|k| k.name() == name)
}

/// The name [`context_by_name`] takes.
pub fn context_name(c: Context) -> &'static str {
    c.name()
}

/// Events the kernel lost on `cpu` of the instance in `dir`, as its `stats` say (cumulative).
fn stats_lost(dir: &std::path::Path, cpu: u32) -> u64 {
    let p = dir.join(format!("per_cpu/cpu{cpu}/stats"));
    crate::tracefs::read_text(&p)
        .map(|t| parse_stats_lost(&t))
        .unwrap_or(0)
}

/// Waits for a channel's CPU buffers ([`ChannelDrain::waiter`]).
#[derive(Debug)]
pub struct Waiter {
    fds: Vec<std::os::fd::OwnedFd>,
}

impl Waiter {
    /// Waits until a CPU buffer is `buffer_percent` full, at most `timeout`; returns the
    /// indexes (into [`ChannelDrain::cpus`]) of the ready ones.
    pub fn wait(&self, timeout: Duration) -> Result<Vec<usize>, KernelError> {
        let fds: Vec<_> = self.fds.iter().map(|f| f.as_fd()).collect();
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let ready = crate::sys::poll_many(&fds, ms).map_err(|source| KernelError::Drain {
            cpu: u32::MAX,
            source,
        })?;
        Ok(ready
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| i)
            .collect())
    }
}

/// What a pass over one CPU produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub pages: u64,
    pub events: u64,
    pub packets: u64,
}

struct CpuPipe {
    cpu: u32,
    file: File,
    /// Next CTF packet sequence number.
    seq: u64,
    /// Events lost as the pages said (cumulative).
    missed: u64,
    /// The `events_discarded` of the last packet.
    reported: u64,
    last_ts: u64,
    events: u64,
}

/// One kernel channel's streams, drained by a process that does not own the instance.
pub struct ChannelDrain {
    tracefs: Tracefs,
    instance_dir: PathBuf,
    stream_id: u64,
    layout: PageLayout,
    packet_bytes: u64,
    buffer_pages: u64,
    cpus: Vec<CpuPipe>,
    events: Vec<String>,
    formats: Vec<Arc<EventFormat>>,
    plans: Vec<EventPlan>,
    by_id: HashMap<u16, usize>,
    contexts: Vec<ContextKind>,
    /// Fixed at the first start (the stream class is declared then).
    header: Option<EventHeaderKind>,
    md: Option<Metadata>,
    page: Vec<u8>,
    records: Vec<(u64, usize, usize)>,
    /// Path arguments of each event (bit N: argument N), when path strings are recorded.
    path_masks: Vec<u8>,
    paths: Option<Arc<Paths>>,
    /// Per event class: the payload ranges its eBPF task record key is compared on.
    key_ranges: Vec<Vec<(usize, usize)>>,
    /// The task records, when a context or a tracker needs them.
    tasks: Option<Arc<tasks::Tasks>>,
    /// This channel's bit among the readers of the task records (0 until it has one).
    task_reader: u64,
    /// The session's kernel trackers, once one was set.
    trackers: Option<Arc<crate::tracker::KernelTrackers>>,
    /// Records dropped because a tracker did not track their task (or no task record
    /// showed it was tracked).
    records_untracked: u64,
    /// The trace clock (rttng-clock's), for the time of packets without events.
    clock: ClockSpec,
    /// Per CPU index: what is called with every page read (a live view in the process that
    /// owns the session, [`crate::KernelSession::set_live_observer`]).
    observers: Vec<crate::drain::PageFn>,
    /// False: pages go to the observers only (a live-only session), nothing is converted.
    convert: bool,
    /// Records whose type id matched no enabled event (enabled by someone else, or a race).
    records_skipped: u64,
    /// Process ids and command names of the threads seen, for the `pid`/`procname` contexts.
    names: ProcessNames,
}

impl std::fmt::Debug for ChannelDrain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelDrain")
            .field("instance_dir", &self.instance_dir)
            .field("stream_id", &self.stream_id)
            .finish()
    }
}

impl ChannelDrain {
    /// Opens every CPU's `trace_pipe_raw` of instance `instance` (an rttng instance name),
    /// whose stream class is `stream_id` and whose sub-buffers are `subbuf_bytes` ×
    /// `subbuf_count` per CPU.
    pub fn open(
        instance: &str,
        stream_id: u64,
        subbuf_bytes: u64,
        subbuf_count: u64,
    ) -> Result<ChannelDrain, KernelError> {
        if !instance.starts_with(INSTANCE_PREFIX)
            || instance.len() > INSTANCE_PREFIX.len() + 24 + 3 * crate::tracefs::MAX_NAME_BYTES
            || instance.contains('/')
            || instance.contains("..")
        {
            return Err(KernelError::BadName {
                name: instance.to_string(),
            });
        }
        let tracefs = Tracefs::open()?;
        let layout = tracefs.page_layout()?;
        let instance_dir = tracefs.path("instances").join(instance);
        let per_cpu = instance_dir.join("per_cpu");
        let rd = std::fs::read_dir(&per_cpu).map_err(io_err(&per_cpu))?;
        let mut cpu_ids: Vec<u32> = rd
            .take(crate::tracefs::MAX_LIST_LINES)
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("cpu")?.parse().ok())
            .collect();
        cpu_ids.sort_unstable();
        let mut cpus = Vec::new();
        for cpu in cpu_ids {
            let p = per_cpu.join(format!("cpu{cpu}/trace_pipe_raw"));
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(&p)
                .map_err(io_err(&p))?;
            cpus.push(CpuPipe {
                cpu,
                file,
                seq: 0,
                missed: 0,
                reported: 0,
                last_ts: 0,
                events: 0,
            });
        }
        let page_bytes = u64::from(layout.page_bytes());
        Ok(ChannelDrain {
            tracefs,
            instance_dir,
            stream_id,
            layout,
            packet_bytes: subbuf_bytes.clamp(MIN_PACKET_BYTES, MAX_PACKET_BYTES),
            buffer_pages: subbuf_bytes
                .saturating_mul(subbuf_count)
                .div_ceil(page_bytes.max(1)),
            cpus,
            events: Vec::new(),
            formats: Vec::new(),
            plans: Vec::new(),
            by_id: HashMap::new(),
            contexts: Vec::new(),
            header: None,
            md: None,
            page: vec![0; page_bytes as usize],
            records: Vec::new(),
            path_masks: Vec::new(),
            paths: None,
            key_ranges: Vec::new(),
            tasks: None,
            task_reader: 0,
            trackers: None,
            records_untracked: 0,
            clock: ClockSpec::shared(),
            observers: Vec::new(),
            convert: true,
            records_skipped: 0,
            names: ProcessNames::default(),
        })
    }

    pub fn stream_id(&self) -> u64 {
        self.stream_id
    }

    /// Whether a context or a tracker of this channel needs the eBPF task records.
    pub fn needs_tasks(&self) -> bool {
        self.trackers.is_some() || self.contexts.iter().any(|k| k.needs_task_record())
    }

    /// The call stacks this channel's contexts record.
    pub fn stack_walks(&self) -> crate::bpf_task::StackWalks {
        crate::bpf_task::StackWalks {
            kernel: self.contexts.contains(&ContextKind::CallstackKernel),
            user: self.contexts.contains(&ContextKind::CallstackUser),
        }
    }

    /// The session's kernel trackers: from now on, records are kept only when the tracker
    /// policy of their time tracks their task.
    pub fn set_trackers(&mut self, t: Arc<crate::tracker::KernelTrackers>) {
        self.trackers = Some(t);
    }

    /// Records dropped so far by the trackers.
    pub fn records_untracked(&self) -> u64 {
        self.records_untracked
    }

    /// The trace clock now (what stamps a tracker change).
    pub fn clock_now(&self) -> u64 {
        self.clock.now()
    }

    /// The CPUs drained, in order (stream `CHANNEL_<cpu>` each).
    pub fn cpus(&self) -> Vec<u32> {
        self.cpus.iter().map(|c| c.cpu).collect()
    }

    fn header_kind(&self) -> EventHeaderKind {
        self.header
            .unwrap_or(if self.plans.len() < COMPACT_HEADER_MAX_CLASSES {
                EventHeaderKind::Compact
            } else {
                EventHeaderKind::Large
            })
    }

    fn event_context(&self) -> Option<FieldClass> {
        if self.contexts.is_empty() {
            return None;
        }
        let members: Vec<(String, FieldClass)> =
            self.contexts.iter().flat_map(|k| k.members()).collect();
        Some(struct_class(
            members
                .iter()
                .map(|(n, c)| (n.as_str(), c.clone()))
                .collect(),
            1,
        ))
    }

    /// The channel's enabled events (`system:event`, in enable order: the CTF id is the
    /// position) and contexts, as the session daemon knows them. The list only grows: the
    /// events known already must be its start. Contexts change only before the first start.
    pub fn set_events(
        &mut self,
        events: &[String],
        contexts: &[Context],
    ) -> Result<(), KernelError> {
        if events.len() > MAX_CHANNEL_EVENTS || contexts.len() > MAX_CONTEXTS {
            return Err(KernelError::BadConfig {
                what: "event classes or contexts in a channel",
                value: events.len().max(contexts.len()) as u64,
            });
        }
        if events.get(..self.events.len()) != Some(&self.events[..]) {
            return Err(KernelError::BadConfig {
                what: "kernel event list that does not extend the previous one, of length",
                value: events.len() as u64,
            });
        }
        let mut kinds = Vec::new();
        for c in contexts {
            let k = context_kind(*c)?;
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        if self.md.is_some() && kinds != self.contexts {
            return Err(KernelError::WrongState {
                operation: "change the contexts",
                state: "started",
            });
        }
        self.contexts = kinds;
        for full in &events[self.events.len()..] {
            let (system, event) = full
                .split_once(':')
                .ok_or_else(|| KernelError::BadName { name: full.clone() })?;
            check_name(system)?;
            check_name(event)?;
            let fmt = Arc::new(self.tracefs.event_format(system, event)?);
            self.by_id.insert(fmt.id, self.plans.len());
            self.plans
                .push(plan_event_with_paths(&fmt, self.paths.is_some()));
            self.path_masks.push(path_arg_mask(&fmt));
            self.key_ranges.push(crate::bpf_task::key_ranges(&fmt));
            self.formats.push(fmt);
            self.events.push(full.clone());
        }
        Ok(())
    }

    /// Fixes the stream class (at the first start, after [`KernelMetadata::declare`]).
    pub fn declared(&mut self, md: &KernelMetadata) {
        self.header = Some(self.header_kind());
        self.md = md.stream_metadata(self.stream_id);
    }

    /// What waits for the CPU buffers (duplicates of their fds), usable while the drain
    /// itself is busy elsewhere.
    pub fn waiter(&self) -> Result<Waiter, KernelError> {
        let fds = self
            .cpus
            .iter()
            .map(|c| {
                c.file
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|source| KernelError::Drain { cpu: c.cpu, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Waiter { fds })
    }

    /// Events lost so far, summed over CPUs, as the packets written so far say.
    pub fn events_discarded(&self) -> u64 {
        self.cpus.iter().map(|c| c.reported).sum()
    }

    /// Hands every page read to an observer made for its CPU by `make`; with `convert`
    /// false, to it only (nothing is converted).
    pub(crate) fn observe_pages(&mut self, make: &crate::drain::PageObserver, convert: bool) {
        self.observers = self.cpus.iter().map(|c| make(c.cpu)).collect();
        self.convert = convert;
    }

    /// The trace clock, when it is not the shared one ([`ClockSpec::shared`]).
    pub(crate) fn set_clock(&mut self, clock: ClockSpec) {
        self.clock = clock;
    }

    /// The CPU buffers' fds, in [`Self::cpus`] order, to `poll` on.
    pub(crate) fn fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        self.cpus.iter().map(|c| c.file.as_fd()).collect()
    }

    /// Records skipped so far: their type id matched no enabled event.
    pub(crate) fn records_skipped(&self) -> u64 {
        self.records_skipped
    }

    /// Events converted so far, summed over CPUs.
    pub fn events_written(&self) -> u64 {
        self.cpus.iter().map(|c| c.events).sum()
    }

    /// Reads what CPU index `i`'s buffer holds now (bounded by the buffer's size and a
    /// margin) and hands each whole CTF packet it converts to `out` as `(cpu, bytes, index
    /// entry)`. The last packet is closed at the end of the pass. With `last` (tracing is
    /// off: a stop or a snapshot), a packet carrying the final loss count follows when the
    /// kernel lost events since the last packet, and an empty first packet makes a stream
    /// that never had an event exist. Nothing is read before the stream class is declared.
    pub fn pass(
        &mut self,
        i: usize,
        last: bool,
        out: &mut dyn FnMut(u32, &[u8], &IndexEntry),
    ) -> Result<PassStats, KernelError> {
        let mut stats = PassStats::default();
        if !self.convert {
            return self.observe_only(i, &mut stats).map(|()| stats);
        }
        let Some(md) = self.md.take() else {
            return Ok(stats);
        };
        let r = self.pass_with(&md, i, last, out, &mut stats);
        self.md = Some(md);
        r.map(|()| stats)
    }

    /// A pass of a live-only session: the pages go to CPU index `i`'s observer.
    fn observe_only(&mut self, i: usize, stats: &mut PassStats) -> Result<(), KernelError> {
        let limit = self.buffer_pages.saturating_add(PASS_EXTRA_PAGES);
        let cpu = self.cpus[i].cpu;
        for _ in 0..limit {
            match self.cpus[i].file.read(&mut self.page) {
                Ok(0) => break,
                Ok(got) => {
                    self.page[got..].fill(0);
                    stats.pages += 1;
                    if let Some(o) = self.observers.get_mut(i) {
                        o(&self.page);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(KernelError::Drain { cpu, source: e }),
            }
        }
        Ok(())
    }

    fn pass_with(
        &mut self,
        md: &Metadata,
        i: usize,
        last: bool,
        out: &mut dyn FnMut(u32, &[u8], &IndexEntry),
        stats: &mut PassStats,
    ) -> Result<(), KernelError> {
        let cpu = self.cpus[i].cpu;
        let stream_name = format!("{}_{cpu}", self.instance_dir.display());
        let ctf = |source| KernelError::Ctf {
            stream: stream_name.clone(),
            source,
        };
        let drain_err = |source| KernelError::Drain { cpu, source };
        let names_needed = self
            .contexts
            .iter()
            .any(|k| matches!(k, ContextKind::Pid | ContextKind::Procname));
        if names_needed {
            self.names.refresh(&self.tracefs);
        }
        let paths = self.paths.clone();
        let mut matcher = paths.as_ref().map(|p| {
            let mut m = p.matcher.lock().unwrap_or_else(|e| e.into_inner());
            if p.shared {
                // Another reader (a live view) takes from the log too.
                p.log.poll();
                m.refresh(&p.log);
            } else {
                m.refresh_taking(&p.log);
            }
            m
        });
        let tasks = self.tasks.clone();
        let mut task_matcher = tasks.as_ref().map(|t| {
            let mut m = t.matcher.lock().unwrap_or_else(|e| e.into_inner());
            m.refresh(&t.log);
            m
        });
        let policies = self
            .trackers
            .as_ref()
            .map(|t| t.snapshot())
            .unwrap_or_default();
        let mut strings: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut w = StreamWriter::new(md, self.stream_id, u64::from(cpu)).map_err(ctf)?;
        let limit = self.buffer_pages.saturating_add(PASS_EXTRA_PAGES);
        let mut emit = |w: &mut StreamWriter<'_>, end_ts: u64, stats: &mut PassStats| {
            let entry = w.close_packet(end_ts, PacketSize::Aligned8).map_err(ctf)?;
            let data = w.take_data();
            out(cpu, &data, &entry);
            stats.packets += 1;
            Ok::<(), KernelError>(())
        };
        let mut n = 0u64;
        while n < limit {
            let got = match self.cpus[i].file.read(&mut self.page) {
                Ok(0) => break,
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(drain_err(e)),
            };
            n += 1;
            stats.pages += 1;
            // A partial page: the rest stays zero (its commit word says how much is data).
            self.page[got..].fill(0);
            if let Some(o) = self.observers.get_mut(i) {
                o(&self.page);
            }
            let mut records = std::mem::take(&mut self.records);
            records.clear();
            let base = self.page.as_ptr() as usize;
            let parsed = parse_page(&self.layout, &self.page, |r| {
                records.push((r.timestamp, r.data.as_ptr() as usize - base, r.data.len()))
            });
            let c = &mut self.cpus[i];
            let info = match parsed {
                Ok(info) => info,
                // A damaged page loses its events; count them as one unknown loss.
                Err(_) => {
                    c.missed = c.missed.saturating_add(1);
                    self.records = records;
                    continue;
                }
            };
            if let Some(m) = info.missed {
                c.missed = c.missed.saturating_add(if m == u64::MAX { 1 } else { m });
            }
            if records.is_empty() {
                self.records = records;
                continue;
            }
            let first_ts = records[0].0.max(c.last_ts);
            if w.is_packet_open()
                && (w.packet_content_bits() / 8 + 2 * self.page.len() as u64 > self.packet_bytes
                    || info.missed.is_some())
            {
                emit(&mut w, c.last_ts, stats)?;
            }
            if !w.is_packet_open() {
                // Discard mode counts its losses only in `stats`: read them as the packet is
                // cut (a pass takes microseconds, so they are the losses up to its end).
                let lost = stats_lost(&self.instance_dir, cpu);
                let discarded = c.missed.max(c.reported).max(lost);
                if c.seq == 0 && discarded > 0 {
                    // Readers see losses between packets only: an empty first packet
                    // makes those before the first event visible.
                    w.open_packet(&PacketOpen {
                        timestamp_begin: first_ts,
                        packet_seq_num: 0,
                        events_discarded: 0,
                        cpu_id: u64::from(cpu),
                        extra: &[],
                    })
                    .map_err(ctf)?;
                    c.seq = 1;
                    emit(&mut w, first_ts, stats)?;
                }
                w.open_packet(&PacketOpen {
                    timestamp_begin: first_ts,
                    packet_seq_num: c.seq,
                    events_discarded: discarded,
                    cpu_id: u64::from(cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
                c.reported = discarded;
                c.seq += 1;
                // The stream has reached the packet's start even if a tracker or an unknown
                // type drops every record after it: the packet must not end before it begins.
                c.last_ts = first_ts;
            }
            for &(ts, off, len) in &records {
                let data = &self.page[off..off + len];
                let type_id = u16::from_le_bytes([
                    data.first().copied().unwrap_or(0),
                    data.get(1).copied().unwrap_or(0),
                ]);
                let Some(&class) = self.by_id.get(&type_id) else {
                    self.records_skipped += 1;
                    continue;
                };
                let ts = ts.max(c.last_ts);
                let tid = i32::from_le_bytes(
                    data.get(4..8)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0; 4]),
                );
                let task = match (task_matcher.as_mut(), tasks.as_ref()) {
                    (Some(m), Some(t)) => {
                        let payload = data.get(8..).unwrap_or(&[]);
                        let ranges = &self.key_ranges[class];
                        let me = self.task_reader.max(1);
                        let found =
                            m.take_as(me, tid as u32, type_id, payload, ranges)
                                .or_else(|| {
                                    // Its eBPF record may still wait in the ring buffer.
                                    m.refresh(&t.log);
                                    m.take_as(me, tid as u32, type_id, payload, ranges)
                                });
                        if found.is_none() {
                            t.note_unmatched();
                        }
                        found
                    }
                    _ => None,
                };
                if let Some(p) = crate::tracker::policy_at(&policies, ts) {
                    if !task.as_ref().is_some_and(|v| p.tracks(v)) {
                        self.records_untracked += 1;
                        continue;
                    }
                }
                let (pid, procname) = if names_needed {
                    (self.names.pid(tid), self.names.procname(tid))
                } else {
                    (tid, &b""[..])
                };
                let ctxv = ContextValues {
                    tid,
                    pid,
                    procname,
                    cpu,
                    flags: data.get(2).copied().unwrap_or(0),
                    preempt: data.get(3).copied().unwrap_or(0),
                    task: task.as_ref(),
                };
                strings.clear();
                let mask = self.path_masks.get(class).copied().unwrap_or(0);
                if let (Some(m), true) = (matcher.as_mut(), mask != 0) {
                    for a in 0..MAX_ARGS as u8 {
                        if mask & (1 << a) == 0 {
                            continue;
                        }
                        if let Some((tid, nr, ptr)) = enter_key(data, a) {
                            if let Some(PathValue::Text(t)) = m.take_unordered(tid, nr, a, ptr) {
                                strings.push((a, t));
                            }
                        }
                    }
                }
                let found: Vec<(u8, &[u8])> =
                    strings.iter().map(|(a, t)| (*a, t.as_slice())).collect();
                let ops = &self.plans[class].ops;
                let contexts = &self.contexts;
                w.append_event_raw(class as u64, ts, HeaderForm::Auto, |bw| {
                    write_context(bw, contexts, &ctxv);
                    write_payload_with_paths(bw, ops, data, &found);
                })
                .map_err(ctf)?;
                c.last_ts = ts;
                c.events += 1;
                stats.events += 1;
            }
            self.records = records;
        }
        let c_last_ts = self.cpus[i].last_ts;
        if w.is_packet_open() {
            emit(&mut w, c_last_ts, stats)?;
        }
        // An empty page: this pass over the CPU is over ([`crate::drain::PageFn`]).
        if let Some(o) = self.observers.get_mut(i) {
            o(&[]);
        }
        if last {
            // Losses the pages did not report (discard mode counts them only in `stats`).
            let lost = stats_lost(&self.instance_dir, cpu);
            // Empty packets are stamped now (never before what the stream holds), so a live
            // reader sees time go on.
            let now = self.clock.now();
            let c = &mut self.cpus[i];
            let total = c.missed.max(lost).max(c.reported);
            let ts = c.last_ts.max(now);
            if c.seq == 0 && total > 0 {
                // As above: a count in a stream's first packet is not seen by readers.
                w.open_packet(&PacketOpen {
                    timestamp_begin: ts,
                    packet_seq_num: 0,
                    events_discarded: 0,
                    cpu_id: u64::from(cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
                c.seq = 1;
                emit(&mut w, ts, stats)?;
            }
            if total > c.reported || c.seq == 0 {
                w.open_packet(&PacketOpen {
                    timestamp_begin: ts,
                    packet_seq_num: c.seq,
                    events_discarded: total,
                    cpu_id: u64::from(cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
                c.seq += 1;
                c.reported = total;
                c.last_ts = ts;
                emit(&mut w, ts, stats)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ProcessNames, UNKNOWN_COMM};

    #[test]
    fn a_thread_tracefs_forgot_is_named_from_proc_and_an_exited_one_is_marked_unknown() {
        let mut names = ProcessNames::default();
        let me = std::process::id() as i32;
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(names.procname(me), comm.trim_end().as_bytes());
        assert_eq!(names.pid(me), me);
        // A child that has exited and been reaped: neither tracefs nor /proc knows it.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id() as i32;
        child.wait().unwrap();
        assert_eq!(names.procname(gone), UNKNOWN_COMM);
        assert_eq!(names.pid(gone), gone);
    }
}
