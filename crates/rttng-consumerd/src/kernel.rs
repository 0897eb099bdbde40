//! Kernel channels in the consumer: the session daemon keeps the tracefs instances (it
//! creates them and enables their events) and tells the consumer which instance each channel
//! is; the consumer drains each channel's per-CPU `trace_pipe_raw` on a thread of its own
//! (`rttng_kernel::ChannelDrain`: `poll` until `buffer_percent`, `read`, convert) and writes
//! the CTF packets as they come, through the same outputs as user-space buffers
//! (`stream::Output`: stream and index files created with the session owner's credentials,
//! or a relay session), and the metadata through `metadata.rs` or the relay. A snapshot
//! session's channels keep their packets in memory instead ([`Store`], bounded by the
//! channel's size, oldest whole packets dropped first), which `KernelSnapshot` copies out
//! without consuming them.
//!
//! Not here: tracefs control (the session daemon), page parsing and conversion
//! (rttng-kernel), the wire format of files or relay.

use crate::metadata::METADATA_PACKET_BYTES;
use crate::relay::RelaySession;
use crate::stream::Output;
use rttng_ctf::index::IndexEntry;
use rttng_kernel::{ChannelDrain, KernelMetadata};
use rttng_proto::{ConsumerReply, KernelChannelSpec, ProcessAttr, TrackerInfo};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest sleep of a channel thread between two looks at its stop flag.
const COMMAND_LATENCY: Duration = Duration::from_millis(50);
/// Most kernel sessions, and channels per session, one consumer drains.
const MAX_KERNEL_SESSIONS: usize = 1024;
const MAX_CHANNELS_PER_SESSION: usize = 64;
/// A snapshot store never holds less than this per CPU (whatever the channel says).
const MIN_STORE_BYTES: u64 = 64 << 10;

/// A snapshot session's packets of one channel, per CPU, newest last.
struct Store {
    cpus: Vec<VecDeque<(Vec<u8>, IndexEntry)>>,
    bytes: Vec<u64>,
    /// Most bytes kept per CPU: the channel's size (sub-buffer size × count).
    bound_bytes: u64,
}

impl Store {
    fn push(&mut self, cpu: usize, data: &[u8], entry: &IndexEntry) {
        let (q, b) = (&mut self.cpus[cpu], &mut self.bytes[cpu]);
        q.push_back((data.to_vec(), *entry));
        *b += data.len() as u64;
        // Whole packets only, the oldest first; the newest always stays.
        while *b > self.bound_bytes && q.len() > 1 {
            if let Some((d, _)) = q.pop_front() {
                *b -= d.len() as u64;
            }
        }
    }
}

enum Sink {
    Out(Output),
    Store(Store),
}

struct Worker {
    drain: ChannelDrain,
    sink: Sink,
    /// The first conversion or read error, logged once.
    failed: Option<String>,
}

impl Worker {
    /// One pass over CPU index `i`.
    fn pass(&mut self, i: usize, last: bool) {
        let Worker { drain, sink, .. } = self;
        // CPUs are 0..N (checked when the channel was added): the CPU is the stream index.
        let r = drain.pass(i, last, &mut |cpu, data, entry| match sink {
            Sink::Out(out) => out.write_bytes(cpu, entry, data),
            Sink::Store(st) => st.push(cpu as usize, data, entry),
        });
        if let Err(e) = r {
            if self.failed.is_none() {
                crate::log(&format!("kernel channel: {e}"));
            }
            self.failed.get_or_insert(e.to_string());
        }
    }

    fn pass_all(&mut self, last: bool) {
        for i in 0..self.drain.cpus().len() {
            self.pass(i, last);
        }
    }
}

struct Channel {
    name: String,
    worker: Arc<Mutex<Worker>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    spec: KernelChannelSpec,
}

/// Most values in one kernel tracker (as the session daemon's limit).
const MAX_TRACKER_VALUES: usize = 4096;

fn lock(w: &Mutex<Worker>) -> MutexGuard<'_, Worker> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

impl Channel {
    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Session {
    md: KernelMetadata,
    trace_dir: String,
    relay: Option<Arc<RelaySession>>,
    snapshot: bool,
    channels: Vec<Channel>,
    /// System call path strings (eBPF), while the session traces; none in a snapshot session.
    paths: Option<rttng_kernel::PathStrings>,
    /// The eBPF task recorder, when a context or a tracker needs it.
    tasks: Option<rttng_kernel::TaskContexts>,
    /// The kernel trackers (`track -k`), shared with the channels once one is set.
    trackers: Arc<rttng_kernel::KernelTrackers>,
    /// Between a start and the next flush (tracing on).
    running: bool,
}

impl Session {
    /// Appends metadata text to the trace (a snapshot session keeps it in `md` only).
    fn append_metadata(&self, text: &str) -> Result<(), String> {
        if text.is_empty() || self.snapshot {
            return Ok(());
        }
        match &self.relay {
            None => crate::metadata::append(&self.trace_dir, self.md.uuid(), text),
            Some(r) => r.append_metadata(
                &self.trace_dir,
                &rttng_ctf::emit::packetize_metadata(
                    text,
                    self.md.uuid(),
                    rttng_ctf::ir::ByteOrder::NATIVE,
                    METADATA_PACKET_BYTES,
                ),
            ),
        }
    }

    fn stats(&self, failure: Option<String>) -> ConsumerReply {
        let mut discarded = 0;
        let (mut lost, mut written, mut events_lost) = (0, 0, 0);
        let mut failures = Vec::new();
        failures.extend(failure);
        for c in &self.channels {
            let w = lock(&c.worker);
            discarded += w.drain.events_discarded();
            if let Sink::Out(o) = &w.sink {
                let (l, wr) = o.packet_counts();
                lost += l;
                written += wr;
                events_lost += o.events_lost();
                failures.extend(o.failure());
            }
            failures.extend(w.failed.clone());
        }
        if !failures.is_empty() {
            return ConsumerReply::Error {
                message: failures.join("; "),
            };
        }
        ConsumerReply::Stats {
            events_discarded: discarded,
            packets_lost: lost,
            packets_written: written,
            events_lost,
        }
    }
}

/// Every kernel session of this consumer.
#[derive(Default)]
pub struct Kernel {
    sessions: BTreeMap<u64, Session>,
}

fn error(message: impl Into<String>) -> ConsumerReply {
    ConsumerReply::Error {
        message: message.into(),
    }
}

impl Kernel {
    fn session(&mut self, key: u64) -> Result<&mut Session, ConsumerReply> {
        self.sessions
            .get_mut(&key)
            .ok_or_else(|| error(format!("no kernel session {key}")))
    }

    pub fn add_channel(
        &mut self,
        spec: KernelChannelSpec,
        relay: Option<Arc<RelaySession>>,
    ) -> ConsumerReply {
        match self.try_add_channel(spec, relay) {
            Ok(()) => ConsumerReply::Ok,
            Err(message) => error(message),
        }
    }

    fn try_add_channel(
        &mut self,
        spec: KernelChannelSpec,
        relay: Option<Arc<RelaySession>>,
    ) -> Result<(), String> {
        if !self.sessions.contains_key(&spec.session_key) {
            if self.sessions.len() >= MAX_KERNEL_SESSIONS {
                return Err(format!(
                    "too many kernel sessions (limit {MAX_KERNEL_SESSIONS})"
                ));
            }
            if relay.is_none() && !spec.snapshot && !PathBuf::from(&spec.trace_dir).is_absolute() {
                return Err(format!(
                    "trace directory {} is not absolute",
                    spec.trace_dir
                ));
            }
            let clock = rttng_kernel::ClockSpec::shared();
            self.sessions.insert(
                spec.session_key,
                Session {
                    md: KernelMetadata::new(&spec.session_name, &clock),
                    trace_dir: spec.trace_dir.clone(),
                    relay: relay.clone(),
                    snapshot: spec.snapshot,
                    channels: Vec::new(),
                    paths: None,
                    tasks: None,
                    trackers: Arc::default(),
                    running: false,
                },
            );
        }
        let s = self.sessions.get_mut(&spec.session_key).expect("inserted");
        if s.md.is_declared() {
            return Err("kernel channels cannot be added after the first start".into());
        }
        if s.channels.len() >= MAX_CHANNELS_PER_SESSION
            || s.channels.iter().any(|c| c.name == spec.channel)
        {
            return Err(format!(
                "kernel channel {} exists, or too many channels",
                spec.channel
            ));
        }
        let mut drain = ChannelDrain::open(
            &spec.instance,
            u64::from(spec.stream_id),
            spec.subbuf_bytes,
            spec.subbuf_count,
        )
        .map_err(|e| e.to_string())?;
        if s.trackers.ever_set() {
            drain.set_trackers(s.trackers.clone());
        }
        let cpus = drain.cpus();
        if cpus.iter().enumerate().any(|(i, &c)| c as usize != i) {
            return Err(format!(
                "instance {} has CPUs {cpus:?}; only 0..N are supported",
                spec.instance
            ));
        }
        let sink = if spec.snapshot {
            let bound = spec
                .subbuf_bytes
                .saturating_mul(spec.subbuf_count)
                .max(MIN_STORE_BYTES);
            Sink::Store(Store {
                cpus: vec![VecDeque::new(); cpus.len()],
                bytes: vec![0; cpus.len()],
                bound_bytes: bound,
            })
        } else {
            Sink::Out(Output::new(
                PathBuf::from(&s.trace_dir),
                &spec.channel,
                u64::from(spec.stream_id),
                spec.tracefile_size,
                spec.tracefile_count,
                &cpus,
                s.relay.clone().map(|r| (r, s.trace_dir.clone())),
                false,
            )?)
        };
        let waiter = drain.waiter().map_err(|e| e.to_string())?;
        let worker = Arc::new(Mutex::new(Worker {
            drain,
            sink,
            failed: None,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (w2, stop2) = (worker.clone(), stop.clone());
        let period =
            (spec.switch_timer_us > 0).then(|| Duration::from_micros(spec.switch_timer_us));
        let thread = std::thread::Builder::new()
            .name(format!("kdrain-{}", spec.channel))
            .spawn(move || run(&w2, &waiter, &stop2, period))
            .map_err(|e| format!("cannot start a drain thread: {e}"))?;
        s.channels.push(Channel {
            name: spec.channel.clone(),
            worker,
            stop,
            thread: Some(thread),
            spec,
        });
        Ok(())
    }

    pub fn events(
        &mut self,
        key: u64,
        channel: &str,
        events: &[String],
        contexts: &[String],
    ) -> ConsumerReply {
        let s = match self.session(key) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let mut ctx = Vec::new();
        for c in contexts {
            match rttng_kernel::context_by_name(c) {
                Some(c) => ctx.push(c),
                None => return error(format!("unknown kernel context {c:?}")),
            }
        }
        let Some(ch) = s.channels.iter().find(|c| c.name == channel) else {
            return error(format!("no kernel channel {channel}"));
        };
        let text = {
            let mut w = lock(&ch.worker);
            if let Err(e) = w.drain.set_events(events, &ctx) {
                return error(e.to_string());
            }
            match s.md.add_events(&w.drain) {
                Ok(t) => t,
                Err(e) => return error(e.to_string()),
            }
        };
        if let Some(t) = s.tasks.as_mut() {
            // Events enabled while tracing get their task contexts too.
            let mut guards: Vec<MutexGuard<'_, Worker>> =
                s.channels.iter().map(|c| lock(&c.worker)).collect();
            let mut drains: Vec<&mut ChannelDrain> =
                guards.iter_mut().map(|g| &mut g.drain).collect();
            if let Err(e) = t.attach_more(&mut drains) {
                return error(format!("kernel task contexts: {e}"));
            }
        }
        match s.append_metadata(&text) {
            Ok(()) => ConsumerReply::Ok,
            Err(e) => error(e),
        }
    }

    /// `track -k`/`untrack -k`: the session's tracker policy from now on (the records stamped
    /// before keep the previous one). Every channel then needs the eBPF task records: the
    /// recorder starts (or attaches to more tracepoints) first, so every record stamped after
    /// the change has its task record.
    pub fn trackers(&mut self, key: u64, trackers: &[TrackerInfo]) -> ConsumerReply {
        let s = match self.session(key) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let mut policy = rttng_kernel::TrackerPolicy::default();
        for t in trackers {
            if t.values.len() > MAX_TRACKER_VALUES {
                return error(format!(
                    "a tracker holds at most {MAX_TRACKER_VALUES} values"
                ));
            }
            let attr = match t.attr {
                ProcessAttr::Pid => rttng_kernel::TrackedAttr::Pid,
                ProcessAttr::Vpid => rttng_kernel::TrackedAttr::Vpid,
                ProcessAttr::Uid => rttng_kernel::TrackedAttr::Uid,
                ProcessAttr::Vuid => rttng_kernel::TrackedAttr::Vuid,
                ProcessAttr::Gid => rttng_kernel::TrackedAttr::Gid,
                ProcessAttr::Vgid => rttng_kernel::TrackedAttr::Vgid,
            };
            policy.set(attr, (!t.all).then(|| t.values.iter().copied().collect()));
        }
        let mut guards: Vec<MutexGuard<'_, Worker>> =
            s.channels.iter().map(|c| lock(&c.worker)).collect();
        for g in guards.iter_mut() {
            g.drain.set_trackers(s.trackers.clone());
        }
        let mut since = 0;
        if s.md.is_declared() {
            let mut drains: Vec<&mut ChannelDrain> =
                guards.iter_mut().map(|g| &mut g.drain).collect();
            let r = match s.tasks.as_mut() {
                Some(t) => t.attach_more(&mut drains),
                None => rttng_kernel::TaskContexts::start(&mut drains).map(|t| {
                    s.tasks = t;
                }),
            };
            if let Err(e) = r {
                return error(format!("kernel trackers need the eBPF task records: {e}"));
            }
            if !s.running {
                if let Some(t) = s.tasks.as_mut() {
                    t.pause();
                }
            }
            since = drains.first().map_or(0, |d| d.clock_now());
        }
        drop(guards);
        s.trackers.change(since, policy);
        ConsumerReply::Ok
    }

    /// At each start: the first one declares the trace's metadata.
    pub fn start(&mut self, key: u64) -> ConsumerReply {
        let s = match self.session(key) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if s.md.is_declared() {
            if let Some(p) = s.paths.as_mut() {
                let guards: Vec<MutexGuard<'_, Worker>> =
                    s.channels.iter().map(|c| lock(&c.worker)).collect();
                let drains: Vec<&ChannelDrain> = guards.iter().map(|g| &g.drain).collect();
                if let Err(e) = p.resume(&drains) {
                    crate::log(&format!("system call path strings are not recorded: {e}"));
                }
            }
            if let Some(t) = s.tasks.as_mut() {
                let guards: Vec<MutexGuard<'_, Worker>> =
                    s.channels.iter().map(|c| lock(&c.worker)).collect();
                let drains: Vec<&ChannelDrain> = guards.iter().map(|g| &g.drain).collect();
                if let Err(e) = t.resume(&drains) {
                    return error(format!("kernel task contexts: {e}"));
                }
            }
            s.running = true;
            return ConsumerReply::Ok;
        }
        let text = match declare(s) {
            Ok(t) => t,
            Err(e) => return error(e),
        };
        s.running = true;
        match s.append_metadata(&text) {
            Ok(()) => ConsumerReply::Ok,
            Err(e) => error(e),
        }
    }

    /// Tracing is off: everything the buffers hold is written (or kept).
    pub fn flush(&mut self, key: u64) -> ConsumerReply {
        let s = match self.session(key) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if let Err(e) = crate::metadata::retry_pending() {
            crate::log(&e);
        }
        for c in &s.channels {
            lock(&c.worker).pass_all(true);
        }
        // Every record is converted: the eBPF programs can go until the next start.
        if let Some(p) = s.paths.as_mut() {
            p.pause();
        }
        s.running = false;
        if let Some(t) = s.tasks.as_mut() {
            t.pause();
            if t.unmatched() > 0 {
                crate::log(&format!(
                    "kernel task contexts: {} events had no eBPF record ({} lost in its ring buffer); their task contexts are zeros",
                    t.unmatched(),
                    t.lost()
                ));
            }
        }
        s.stats(None)
    }

    pub fn stats(&mut self, key: u64) -> ConsumerReply {
        match self.session(key) {
            Ok(s) => s.stats(None),
            Err(r) => r,
        }
    }

    pub fn remove(&mut self, key: u64) -> ConsumerReply {
        let Some(mut s) = self.sessions.remove(&key) else {
            return error(format!("no kernel session {key}"));
        };
        for c in &mut s.channels {
            c.stop_thread();
            let mut w = lock(&c.worker);
            w.pass_all(true);
            if let Sink::Out(o) = &mut w.sink {
                o.close_all();
            }
        }
        let reply = s.stats(None);
        // The channels' fds close here, so the session daemon can remove the instances.
        drop(s);
        reply
    }

    /// Removes every session (the consumer is ending).
    pub fn remove_all(&mut self) {
        let keys: Vec<u64> = self.sessions.keys().copied().collect();
        for k in keys {
            self.remove(k);
        }
    }

    /// Copies the newest packets of each stream of a snapshot session, at most `max_packets`
    /// each (0: all), with the metadata, to `trace_dir` or `relay`; they stay in memory.
    pub fn snapshot(
        &mut self,
        key: u64,
        trace_dir: &str,
        max_packets: u64,
        relay: Option<Arc<RelaySession>>,
    ) -> ConsumerReply {
        let s = match self.session(key) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if !s.snapshot {
            return error("not a snapshot session (its packets are written as they come)");
        }
        if !s.md.is_declared() {
            if let Err(e) = declare(s) {
                return error(e);
            }
        }
        let uuid = s.md.uuid();
        let written = match &relay {
            None => {
                crate::metadata::write_whole(trace_dir, uuid, s.md.text(), METADATA_PACKET_BYTES)
            }
            Some(r) => r.append_metadata(
                trace_dir,
                &rttng_ctf::emit::packetize_metadata(
                    s.md.text(),
                    uuid,
                    rttng_ctf::ir::ByteOrder::NATIVE,
                    METADATA_PACKET_BYTES,
                ),
            ),
        };
        if let Err(e) = written {
            return error(e);
        }
        let (mut packets, mut bytes) = (0u64, 0u64);
        for c in &s.channels {
            let mut w = lock(&c.worker);
            // What the kernel buffers hold now joins the store (tracing goes on).
            w.pass_all(true);
            let cpus = w.drain.cpus();
            let mut out = match Output::new(
                PathBuf::from(trace_dir),
                &c.spec.channel,
                u64::from(c.spec.stream_id),
                0,
                0,
                &cpus,
                relay.clone().map(|r| (r, trace_dir.to_string())),
                false,
            ) {
                Ok(o) => o,
                Err(e) => return error(e),
            };
            let Sink::Store(st) = &w.sink else {
                continue;
            };
            for (i, q) in st.cpus.iter().enumerate() {
                let skip = if max_packets == 0 {
                    0
                } else {
                    q.len().saturating_sub(max_packets as usize)
                };
                for (data, entry) in q.iter().skip(skip) {
                    out.write_bytes(i as u32, entry, data);
                    packets += 1;
                    bytes += data.len() as u64;
                }
            }
            out.close_all();
            if let Some(e) = out.failure() {
                return error(e);
            }
        }
        ConsumerReply::SnapshotWritten { packets, bytes }
    }
}

/// Declares the session's metadata: every channel's stream class and events (system call
/// path arguments as strings when the eBPF recorder starts), after starting the eBPF task
/// recorder when a context needs it (its failure fails the start: no context is written
/// without its values).
fn declare(s: &mut Session) -> Result<String, String> {
    let mut guards: Vec<MutexGuard<'_, Worker>> =
        s.channels.iter().map(|c| lock(&c.worker)).collect();
    if !s.snapshot && s.paths.is_none() {
        let mut drains: Vec<&mut ChannelDrain> = guards.iter_mut().map(|g| &mut g.drain).collect();
        match rttng_kernel::PathStrings::start(&mut drains) {
            Ok(p) => s.paths = Some(p),
            // No path-taking system call enabled.
            Err(rttng_kernel::KernelError::BadConfig { .. }) => {}
            Err(e) => crate::log(&format!(
                "system call path strings are not recorded ({e}); the trace keeps the pointers"
            )),
        }
    }
    if s.tasks.is_none() {
        let mut drains: Vec<&mut ChannelDrain> = guards.iter_mut().map(|g| &mut g.drain).collect();
        s.tasks = rttng_kernel::TaskContexts::start(&mut drains)
            .map_err(|e| format!("kernel task contexts: {e}"))?;
    }
    let drains: Vec<&ChannelDrain> = guards.iter().map(|g| &g.drain).collect();
    let text = s.md.declare(&drains);
    drop(drains);
    for mut g in guards {
        g.drain.declared(&s.md);
    }
    Ok(text)
}

/// A channel's thread: a pass over each CPU whose buffer is `buffer_percent` full, and over
/// every CPU at each tick of `period` (live sessions: then a live beacon for each stream that
/// sent no packet since the previous tick), until `stop`.
fn run(
    worker: &Mutex<Worker>,
    waiter: &rttng_kernel::Waiter,
    stop: &AtomicBool,
    period: Option<Duration>,
) {
    let mut next_tick = period.map(|p| Instant::now() + p);
    // Packets written per stream at the last tick (live beacons for the quiet ones).
    let mut written_at_tick: Vec<u64> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let mut timeout = COMMAND_LATENCY;
        if let Some(at) = next_tick {
            timeout = timeout.min(at.saturating_duration_since(Instant::now()));
        }
        let ready = match waiter.wait(timeout) {
            Ok(r) => r,
            Err(e) => {
                crate::log(&format!("kernel channel: {e}"));
                std::thread::sleep(COMMAND_LATENCY);
                continue;
            }
        };
        if stop.load(Ordering::Acquire) {
            return;
        }
        let mut w = lock(worker);
        if let (Some(at), Some(p)) = (next_tick, period) {
            if Instant::now() >= at {
                let before = rttng_clock::now();
                w.pass_all(false);
                if let Sink::Out(o) = &mut w.sink {
                    o.beacons(&mut written_at_tick, before);
                }
                next_tick = Some(Instant::now() + p);
                continue;
            }
        }
        for i in &ready {
            w.pass(*i, false);
        }
        drop(w);
        if !ready.is_empty() {
            // Readable without a full buffer (kernels without `buffer_percent` wake on any
            // data): do not spin.
            std::thread::sleep(Duration::from_millis(3));
        }
    }
}
