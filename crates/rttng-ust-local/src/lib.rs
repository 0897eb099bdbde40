//! rttng-ust-local: a daemon-less local session for tests and benchmarks: one channel (a
//! [`Consumer`] in this process), a drain thread writing LTTng's on-disk layout (`metadata`,
//! `channel0_CPU`, `index/channel0_CPU.idx` under `ust/uid/UID/64-bit/` or
//! `ust/pid/NAME-PID-DATE/`), and the events enabled by name. A child process can record
//! into the same channel: [`LocalSession::child_env`] names an inherited fd and the
//! events, and the child attaches by calling [`attach_from_env`] before its first event.
//!
//! This lives in its own crate, which only tests, benchmarks and the example app use, so that
//! an application linking rttng-ust gets neither this harness nor what it needs (TSDL
//! emission, the index format: rttng-ctf), and `rttng_ust::init` reads no test variable.
//!
//! Not here: the session daemon, sockets, live enablement changes, metadata updates
//! after start (the events are those linked when the session starts, plus the named
//! events of a child, whose payload classes the caller supplies).

use rttng_abi::packet::HEADER_BYTES;
use rttng_ctf::ir::{FieldClass, Metadata};
use rttng_ctf::lttng::{event_class, EventHeaderKind, LttngLayout};
use rttng_ringbuf::{disk, Config, Consumer, Mode, Producer};
use rttng_ust::control::{self, ChannelKey, ChannelSetup, Context};
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Environment variable a child reads in [`attach_from_env`].
pub const LOCAL_ENV: &str = "RTTNG_UST_LOCAL";

/// Most events a child attachment names.
const MAX_ATTACH_EVENTS: usize = 256;

/// Packets are written up to their content rounded up to this (LTTng rounds to the page
/// size; a cache line is enough for readers and keeps the last packets small).
const TRIM_ALIGN_BYTES: usize = 64;

/// How long the drain thread sleeps on the futex between scans.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Buffer ownership, as in LTTng (`--buffers-uid` / `--buffers-pid`): only the output
/// path and the env differ here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffers {
    PerUid,
    PerPid,
}

/// What to record.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Session output directory (the trace goes below it).
    pub dir: PathBuf,
    pub session_id: u64,
    pub subbuf_bytes: u32,
    pub subbuf_count: u32,
    pub mode: Mode,
    pub buffers: Buffers,
    pub contexts: Vec<Context>,
    /// Event names to enable in this process (`*` = all linked call sites).
    pub enable: Vec<String>,
    /// Events recorded by a child process: name, log level, payload class. They get ids
    /// after this process's enabled events.
    pub child_events: Vec<(String, i32, FieldClass)>,
}

impl LocalConfig {
    /// LTTng's UST defaults: 4 sub-buffers of 512 KiB, discard mode, per-user buffers.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalConfig {
            dir: dir.into(),
            session_id: 1,
            subbuf_bytes: 512 * 1024,
            subbuf_count: 4,
            mode: Mode::Discard,
            buffers: Buffers::PerUid,
            contexts: Vec::new(),
            enable: vec!["*".to_string()],
            child_events: Vec::new(),
        }
    }
}

/// Why the harness failed.
#[derive(Debug)]
pub enum LocalError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    Map(rttng_ringbuf::MapError),
    Control(control::ControlError),
    Corrupt(rttng_ringbuf::CorruptPacket),
    DrainThreadPanicked,
    Filter(rttng_filter::Error),
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LocalError::Map(e) => write!(f, "ring buffer: {e}"),
            LocalError::Control(e) => write!(f, "control: {e}"),
            LocalError::Corrupt(e) => write!(f, "corrupt packet: {e:?}"),
            LocalError::DrainThreadPanicked => write!(f, "drain thread panicked"),
            LocalError::Filter(e) => write!(f, "invalid filter: {e}"),
        }
    }
}

impl std::error::Error for LocalError {}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Totals of a stopped session.
#[derive(Clone, Debug, Default)]
pub struct LocalReport {
    pub trace_dir: PathBuf,
    pub packets: u64,
    /// Bytes of the data stream files.
    pub stream_bytes: u64,
    /// Sum over CPUs of the final `events_discarded`.
    pub discarded: u64,
    /// Whether dead-producer recovery ran (see [`LocalSession::stop_after_crash`]).
    pub recovered: Option<rttng_ringbuf::RecoveryReport>,
}

/// A running local session.
pub struct LocalSession {
    key: ChannelKey,
    trace_dir: PathBuf,
    stop: Arc<AtomicBool>,
    drain: Option<JoinHandle<Result<(Consumer, LocalReport), LocalError>>>,
    child_fd: OwnedFd,
    child_events: Vec<(String, u32)>,
    installed_here: bool,
}

impl std::fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSession")
            .field("trace_dir", &self.trace_dir)
            .finish()
    }
}

/// (`trace_creation_datetime`, directory stamp) now, in UTC.
fn datetime() -> (String, String) {
    let tm = rttng_clock::date::gmtime(rttng_clock::date::now_s());
    (tm.iso(), tm.compact())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

fn cpu_count() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    u32::try_from(n).unwrap_or(1).max(1)
}

fn name_matches(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| rttng_glob::matches(p, name))
}

impl LocalSession {
    /// Creates the channel, installs it in this process, enables the named events and
    /// starts draining.
    pub fn start(cfg: &LocalConfig) -> Result<LocalSession, LocalError> {
        let uuid = uuid::Uuid::new_v4().into_bytes();
        let cpus = cpu_count();
        let consumer = Consumer::create(&Config {
            cpu_count: cpus,
            subbuf_count: cfg.subbuf_count,
            subbuf_bytes: cfg.subbuf_bytes,
            mode: cfg.mode,
            stream_id: 0,
            uuid,
        })
        .map_err(LocalError::Map)?;
        // SAFETY: getuid / getpid have no preconditions.
        let (uid, pid) = unsafe { (libc::getuid(), libc::getpid()) };
        let (created, stamp) = datetime();
        let procname = std::fs::read_to_string("/proc/self/comm")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let trace_dir = match cfg.buffers {
            Buffers::PerUid => cfg.dir.join(format!("ust/uid/{uid}/64-bit")),
            Buffers::PerPid => cfg.dir.join(format!("ust/pid/{procname}-{pid}-{stamp}")),
        };
        std::fs::create_dir_all(trace_dir.join("index")).map_err(io(&trace_dir))?;

        // Metadata: this process's enabled call sites, then the child's events.
        let layout = LttngLayout::x86_64();
        let clock = rttng_clock::ClockParams::detect()
            .map(|p| p.clock_class())
            .unwrap_or_else(|_| rttng_ctf::lttng::monotonic_clock(None, 0));
        let env = match cfg.buffers {
            Buffers::PerUid => {
                rttng_ctf::lttng::ust_uid_env(&hostname(), "local", &created, i64::from(uid))
            }
            Buffers::PerPid => rttng_ctf::lttng::ust_pid_env(
                &hostname(),
                "local",
                &created,
                64,
                i64::from(pid),
                &procname,
                &stamp,
            ),
        };
        let mut md: Metadata = layout.metadata(uuid, clock, env);
        let mut sc = layout.stream_class(
            0,
            EventHeaderKind::Large,
            control::stream_event_context_class(&cfg.contexts),
        );
        let key = ChannelKey {
            daemon: control::LOCAL_DAEMON,
            session_id: cfg.session_id,
            channel_id: 0,
        };
        let mut to_enable = Vec::new();
        for e in control::events() {
            if name_matches(&cfg.enable, e.name) && !sc.events.iter().any(|x| x.name == e.name) {
                let id = sc.events.len() as u64;
                sc.events.push(event_class(
                    id,
                    0,
                    e.name,
                    Some(i64::from(e.loglevel)),
                    e.fields.clone(),
                ));
                to_enable.push((e.index, id as u32));
            } else if let Some(x) = sc.events.iter().find(|x| x.name == e.name) {
                // A second call site of the same event shares its id.
                to_enable.push((e.index, x.id as u32));
            }
        }
        let mut child_events = Vec::new();
        for (name, level, fields) in &cfg.child_events {
            let id = sc.events.len() as u64;
            sc.events.push(event_class(
                id,
                0,
                name,
                Some(i64::from(*level)),
                fields.clone(),
            ));
            child_events.push((name.clone(), id as u32));
        }
        md.streams.push(sc);
        let text = rttng_ctf::emit::emit_metadata(&md);
        let packets = rttng_ctf::emit::packetize_metadata(&text, uuid, md.trace.byte_order, 4096);
        let mpath = trace_dir.join("metadata");
        std::fs::write(&mpath, packets).map_err(io(&mpath))?;

        let installed_here = !to_enable.is_empty();
        if installed_here {
            let producer = consumer.producer();
            control::try_install_channel(ChannelSetup {
                key,
                producer,
                stream_class_id: 0,
                contexts: cfg.contexts.clone(),
            })
            .map_err(LocalError::Control)?;
            for (index, id) in to_enable {
                control::try_enable(index, key, id).map_err(LocalError::Control)?;
            }
        }
        // An inheritable duplicate of the memfd for children.
        // SAFETY: dup of a valid fd; the result (no CLOEXEC) is owned below.
        let dup = unsafe { libc::dup(consumer.fd().as_raw_fd()) };
        if dup < 0 {
            return Err(LocalError::Io {
                path: PathBuf::from("memfd"),
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `dup` is a fresh fd we own.
        let child_fd = unsafe { OwnedFd::from_raw_fd(dup) };

        let stop = Arc::new(AtomicBool::new(false));
        let drain = {
            let stop = stop.clone();
            let dir = trace_dir.clone();
            std::thread::Builder::new()
                .name("rttng-local-drain".into())
                .spawn(move || drain_loop(consumer, &dir, &stop))
                .map_err(io(&trace_dir))?
        };
        Ok(LocalSession {
            key,
            trace_dir,
            stop,
            drain: Some(drain),
            child_fd,
            child_events,
            installed_here,
        })
    }

    /// The trace directory.
    pub fn trace_dir(&self) -> &Path {
        &self.trace_dir
    }

    /// The channel key used in this process.
    pub fn key(&self) -> ChannelKey {
        self.key
    }

    /// Records the events named `event` only when one of `filters` (LTTng filter
    /// expressions) accepts them, as the session daemon's `enable-event --filter` does;
    /// an empty list removes the filter.
    pub fn set_filter(&self, event: &str, filters: &[&str]) -> Result<(), LocalError> {
        let programs = filters
            .iter()
            .map(|f| rttng_filter::compile(f).map(Some))
            .collect::<Result<Vec<_>, _>>()
            .map_err(LocalError::Filter)?;
        for e in control::events().iter().filter(|e| e.name == event) {
            control::set_filter(e.index, self.key, &programs).map_err(LocalError::Control)?;
        }
        Ok(())
    }

    /// `(name, value)` of the environment variable that makes a child process (spawned
    /// while this session runs; it inherits the fd) record the configured child events.
    pub fn child_env(&self) -> (String, String) {
        let events: Vec<String> = self
            .child_events
            .iter()
            .map(|(n, id)| format!("{n}={id}"))
            .collect();
        (
            LOCAL_ENV.to_string(),
            format!(
                "fd={};session={};events={}",
                self.child_fd.as_raw_fd(),
                self.key.session_id,
                events.join(",")
            ),
        )
    }

    /// Flushes, drains everything and writes the index files.
    pub fn stop(self) -> Result<LocalReport, LocalError> {
        self.finish(false)
    }

    /// Like [`LocalSession::stop`], for a session whose producer processes were killed:
    /// runs dead-producer recovery first. No producer may be running any more (this
    /// process's events must have stopped too).
    pub fn stop_after_crash(self) -> Result<LocalReport, LocalError> {
        self.finish(true)
    }

    fn finish(mut self, crashed: bool) -> Result<LocalReport, LocalError> {
        if self.installed_here {
            control::flush(self.key);
            control::remove_channel(self.key);
        }
        self.stop.store(true, Ordering::Release);
        let handle = self.drain.take().ok_or(LocalError::DrainThreadPanicked)?;
        let (mut consumer, mut report) = handle
            .join()
            .map_err(|_| LocalError::DrainThreadPanicked)??;
        if crashed {
            // SAFETY: the caller guarantees no producer runs any more.
            report.recovered = Some(unsafe { consumer.recover_dead_producer(rttng_clock::now()) });
        }
        let mut streams = Streams::open(&self.trace_dir, consumer.cpu_count())?;
        // Final switch (empty packets carry the final discarded counts), then drain.
        for cpu in 0..consumer.cpu_count() {
            let _ = consumer.flush(cpu, true, rttng_clock::now);
        }
        drain_ready(&mut consumer, &mut streams)?;
        report.packets += streams.packets;
        report.stream_bytes += streams.bytes;
        streams.finish()?;
        report.discarded = (0..consumer.cpu_count())
            .map(|c| consumer.events_discarded(c))
            .sum();
        report.trace_dir = self.trace_dir.clone();
        Ok(report)
    }
}

/// Data stream files and their index entries, appended across drain rounds.
struct Streams {
    dir: PathBuf,
    files: Vec<std::fs::File>,
    offsets: Vec<u64>,
    index: Vec<Vec<rttng_ctf::index::IndexEntry>>,
    packets: u64,
    bytes: u64,
}

impl Streams {
    fn open(dir: &Path, cpus: u32) -> Result<Streams, LocalError> {
        let mut files = Vec::new();
        let mut offsets = Vec::new();
        let mut index = Vec::new();
        for cpu in 0..cpus {
            let p = dir.join(format!("channel0_{cpu}"));
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(io(&p))?;
            offsets.push(f.metadata().map_err(io(&p))?.len());
            files.push(f);
            let ip = dir.join(format!("index/channel0_{cpu}.idx"));
            let existing = std::fs::read(&ip)
                .ok()
                .and_then(|b| rttng_ctf::index::decode_index(&b, None).ok());
            index.push(existing.map(|i| i.entries).unwrap_or_default());
        }
        Ok(Streams {
            dir: dir.to_path_buf(),
            files,
            offsets,
            index,
            packets: 0,
            bytes: 0,
        })
    }

    fn append(&mut self, cpu: u32, packet: &[u8]) -> Result<(), LocalError> {
        let c = cpu as usize;
        let (Some(f), Some(off), Some(idx)) = (
            self.files.get_mut(c),
            self.offsets.get_mut(c),
            self.index.get_mut(c),
        ) else {
            return Ok(());
        };
        // Like LTTng's consumer: the packet on disk ends at its content rounded up (here to a
        // cache line), so the last, partly filled packets of a trace do not pad the files.
        let Some(head) = packet.first_chunk::<HEADER_BYTES>() else {
            return Ok(());
        };
        let mut head = *head;
        let len = disk::trim_packet(&mut head, packet.len(), TRIM_ALIGN_BYTES);
        idx.push(disk::index_entry(&head, *off, 0, u64::from(cpu)));
        let p = self.dir.join(format!("channel0_{cpu}"));
        f.write_all(&head).map_err(io(&p))?;
        f.write_all(&packet[HEADER_BYTES..len]).map_err(io(&p))?;
        *off += len as u64;
        self.packets += 1;
        self.bytes += len as u64;
        Ok(())
    }

    fn finish(self) -> Result<(), LocalError> {
        for (cpu, entries) in self.index.iter().enumerate() {
            let p = self.dir.join(format!("index/channel0_{cpu}.idx"));
            let bytes =
                rttng_ctf::index::encode_index(entries, rttng_ctf::index::IndexVersion::V1_1);
            std::fs::write(&p, bytes).map_err(io(&p))?;
        }
        Ok(())
    }
}

fn drain_ready(consumer: &mut Consumer, streams: &mut Streams) -> Result<bool, LocalError> {
    let mut any = false;
    for cpu in 0..consumer.cpu_count() {
        loop {
            match consumer.get_next(cpu) {
                Ok(Some(p)) => {
                    let r = streams.append(cpu, p.bytes());
                    p.release();
                    r?;
                    any = true;
                }
                Ok(None) => break,
                // A corrupt packet is skipped by the consumer; keep going.
                Err(_) => continue,
            }
        }
    }
    Ok(any)
}

fn drain_loop(
    mut consumer: Consumer,
    dir: &Path,
    stop: &AtomicBool,
) -> Result<(Consumer, LocalReport), LocalError> {
    let mut streams = Streams::open(dir, consumer.cpu_count())?;
    while !stop.load(Ordering::Acquire) {
        if !drain_ready(&mut consumer, &mut streams)? {
            consumer.wait(DRAIN_WAIT);
        }
    }
    drain_ready(&mut consumer, &mut streams)?;
    let report = LocalReport {
        packets: streams.packets,
        stream_bytes: streams.bytes,
        ..LocalReport::default()
    };
    streams.finish()?;
    Ok((consumer, report))
}

/// In a child started with [`LocalSession::child_env`]: maps the inherited channel and
/// enables the named events. The child calls it before its first event; it does nothing
/// without the variable.
pub fn attach_from_env() {
    let Ok(spec) = std::env::var(LOCAL_ENV) else {
        return;
    };
    let _ = attach(&spec);
}

fn attach(spec: &str) -> Option<()> {
    let mut fd = None;
    let mut session = 1u64;
    let mut events: Vec<(&str, u32)> = Vec::new();
    for part in spec.split(';') {
        let (k, v) = part.split_once('=')?;
        match k {
            "fd" => fd = v.parse::<i32>().ok(),
            "session" => session = v.parse().ok()?,
            "events" => {
                for e in v
                    .split(',')
                    .filter(|e| !e.is_empty())
                    .take(MAX_ATTACH_EVENTS)
                {
                    let (name, id) = e.rsplit_once('=')?;
                    events.push((name, id.parse().ok()?));
                }
            }
            _ => {}
        }
    }
    let fd = fd?;
    // SAFETY: the parent passed this inherited fd for us to map; it stays open.
    let producer = Producer::from_fd(unsafe { BorrowedFd::borrow_raw(fd) }).ok()?;
    let key = ChannelKey {
        daemon: control::LOCAL_DAEMON,
        session_id: session,
        channel_id: 0,
    };
    control::try_install_channel(ChannelSetup {
        key,
        producer,
        stream_class_id: 0,
        contexts: Vec::new(),
    })
    .ok()?;
    for e in control::events() {
        if let Some(&(_, id)) = events.iter().find(|(n, _)| *n == e.name) {
            control::enable(e.index, key, id);
        }
    }
    Some(())
}
