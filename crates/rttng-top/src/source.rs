//! Where `rttng top`'s figures come from: a kernel session of its own (tracefs through
//! `rttng_kernel`: `sched_switch`, every system call's entry, and the exits of the I/O system
//! calls), counted in the drain threads, one [`CpuCounts`] per CPU, with no allocation per
//! record and no name looked up per record (event ids and field offsets are resolved once);
//! and optionally a live user-space session read from a relay daemon through `rttng_live`,
//! whose event names come over a channel to the caller's thread.
//!
//! Nothing here reads /proc: task names come from `sched_switch`'s `prev_comm`/`next_comm`.

use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use rttng_kernel::{ChannelConfig, KernelSession, LiveFieldRef, LivePage};

use rttng_reader::live::{PacketSource, Poll};

use crate::agg::{io_kind, Aggregator, CpuCounts, Input, IoKind};

/// Longest time a CPU buffer waits to be counted when it is not `buffer_percent` full (the
/// figures are shown once a second by default; a busy buffer is read as soon as it fills).
pub const KERNEL_READ_PERIOD: Duration = Duration::from_millis(100);

/// A user-space event with its name owned (it crosses threads).
#[derive(Clone, Debug)]
pub enum Owned {
    User {
        name: String,
    },
    /// The user-space source stopped (why).
    UserEnded(String),
}

impl Owned {
    pub fn input(&self) -> Option<Input<'_>> {
        match self {
            Owned::User { name } => Some(Input::User { name }),
            Owned::UserEnded(_) => None,
        }
    }
}

/// What top does with a record, by ftrace type id.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Other,
    Switch,
    Entry(u16),
    Exit(IoKind, LiveFieldRef),
}

/// The record layouts top reads, resolved once from the session's formats.
#[derive(Clone, Debug)]
struct Decoder {
    kinds: Vec<Kind>,
    prev_pid: LiveFieldRef,
    prev_comm: LiveFieldRef,
    next_pid: LiveFieldRef,
    next_comm: LiveFieldRef,
    clock: rttng_ctf::ir::ClockClass,
}

impl Decoder {
    fn new(session: &KernelSession, agg: &mut Aggregator) -> Result<Decoder> {
        let events = session.live_events();
        let len = events.iter().map(|(id, _)| usize::from(*id) + 1).max();
        let mut kinds = vec![Kind::Other; len.unwrap_or(0)];
        let mut switch = None;
        for (id, name) in &events {
            let kind = if name == "sched_switch" {
                switch = Some(*id);
                Kind::Switch
            } else if let Some(n) = name.strip_prefix("sys_enter_") {
                match agg.syscall_id(n) {
                    Some(sid) => Kind::Entry(sid),
                    None => Kind::Other,
                }
            } else if let Some(n) = name.strip_prefix("sys_exit_") {
                match (io_kind(n), session.live_field(*id, "ret")) {
                    (Some(k), Some(ret)) => Kind::Exit(k, ret),
                    _ => Kind::Other,
                }
            } else {
                Kind::Other
            };
            kinds[usize::from(*id)] = kind;
        }
        let switch = switch.context("sched_switch is not enabled")?;
        let field = |name| {
            session
                .live_field(switch, name)
                .with_context(|| format!("sched_switch has no field {name} here"))
        };
        Ok(Decoder {
            kinds,
            prev_pid: field("prev_pid")?,
            prev_comm: field("prev_comm")?,
            next_pid: field("next_pid")?,
            next_comm: field("next_comm")?,
            clock: session.clock().ctf.clone(),
        })
    }

    /// Counts one page's records.
    fn count(&self, c: &mut CpuCounts, page: LivePage<'_>) {
        let mut last = None;
        page.for_each(|r| {
            last = Some(r.timestamp);
            match self.kinds.get(usize::from(r.type_id())) {
                Some(Kind::Entry(id)) => {
                    if let Some(tid) = r.tid() {
                        c.syscall(i64::from(tid), *id);
                    }
                }
                Some(Kind::Switch) => {
                    let ts = rttng_ctf::decode::ns_from_origin(&self.clock, r.timestamp);
                    if let (Some(prev), Some(next)) =
                        (r.int_at(self.prev_pid), r.int_at(self.next_pid))
                    {
                        c.switch(
                            ts,
                            prev,
                            r.chars_at(self.prev_comm),
                            next,
                            r.chars_at(self.next_comm),
                        );
                    }
                }
                Some(Kind::Exit(kind, ret)) => {
                    if let (Some(tid), Some(ret)) = (r.tid(), r.int_at(*ret)) {
                        c.io(i64::from(tid), *kind, ret);
                    }
                }
                Some(Kind::Other) | None => {}
            }
        });
        // Records of a page are in time order: one clock conversion for the entries.
        if let Some(ts) = last {
            c.saw(rttng_ctf::decode::ns_from_origin(&self.clock, ts));
        }
    }
}

/// The kernel session of `rttng top`; dropping it without [`KernelSource::finish`] still
/// removes its tracefs instance (the session's own drop does).
pub struct KernelSource {
    session: KernelSession,
    /// Each CPU's counts, as its drain thread made them.
    cpus: Arc<Mutex<Vec<Arc<Mutex<CpuCounts>>>>>,
}

impl KernelSource {
    /// Creates and starts the session, with the system-call ids of `agg`. With `keep_trace`
    /// its CTF trace goes to `out_dir/kernel` at the end; without, nothing is written.
    pub fn start(out_dir: &Path, keep_trace: bool, agg: &mut Aggregator) -> Result<KernelSource> {
        let _ = rttng_kernel::cleanup_stale_instances();
        let mut session = KernelSession::create("top", out_dir, ChannelConfig::default()).context(
            "creating the kernel session (the kernel domain needs root or the `tracing` group)",
        )?;
        session.enable_tracepoints("channel0", "sched_switch")?;
        // Every entry; of the exits only those whose return value top shows (half the records
        // of a system-call storm).
        session.enable_tracepoints("channel0", "syscalls:sys_enter_*")?;
        for n in IO_SYSCALLS {
            // Not every architecture has every one.
            let _ = session.enable_tracepoints("channel0", &format!("syscalls:sys_exit_{n}"));
        }
        // The trace kept with -o attributes system calls to tasks as top does.
        session.add_context("channel0", rttng_kernel::Context::Tid)?;
        // The recorder of system-call path strings costs every system call of the machine; top
        // does not show paths.
        session.set_record_paths(false);
        // This thread (the main one: no other exists yet) and every thread it starts from now
        // on (the drain threads among them) stay out of the trace.
        session.exclude_pids(&[std::process::id()])?;
        let decoder = Arc::new(Decoder::new(&session, agg)?);
        let cpus: Arc<Mutex<Vec<Arc<Mutex<CpuCounts>>>>> = Arc::default();
        let all = cpus.clone();
        session.set_live_page_handler(move |_cpu| {
            let counts = Arc::new(Mutex::new(CpuCounts::new()));
            all.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(counts.clone());
            let decoder = decoder.clone();
            move |page: LivePage<'_>| {
                let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
                decoder.count(&mut c, page);
            }
        });
        session.set_live_period(KERNEL_READ_PERIOD);
        session.set_write_trace(keep_trace);
        session.start()?;
        Ok(KernelSource { session, cpus })
    }

    /// Takes every CPU's counts into `agg` (before each snapshot).
    pub fn merge_into(&self, agg: &mut Aggregator) {
        let cpus = self.cpus.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for c in &cpus {
            agg.merge(c);
        }
    }

    /// Stops tracing (every page drained and counted), takes the last counts into `agg`,
    /// writes the trace if kept and removes the tracefs instance. Returns the trace directory.
    pub fn finish(mut self, agg: &mut Aggregator) -> Result<std::path::PathBuf> {
        let report = self.session.stop();
        self.merge_into(agg);
        let report = report?;
        self.session.destroy()?;
        Ok(report.trace_dir)
    }
}

/// The system calls whose exit top records: those [`io_kind`] knows.
const IO_SYSCALLS: [&str; 18] = [
    "read",
    "pread64",
    "readv",
    "preadv",
    "preadv2",
    "write",
    "pwrite64",
    "writev",
    "pwritev",
    "pwritev2",
    "sendfile64",
    "splice",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "sendto",
    "sendmsg",
    "sendmmsg",
];

/// The live session, handing the pending batch of event names over before every wait.
struct Batching {
    inner: rttng_live::viewer::LiveSession,
    batch: std::rc::Rc<std::cell::RefCell<Vec<Owned>>>,
    tx: Sender<Vec<Owned>>,
}

impl Batching {
    fn hand_over(&self) -> Result<(), rttng_reader::live::SourceError> {
        let batch = std::mem::take(&mut *self.batch.borrow_mut());
        if !batch.is_empty() && self.tx.send(batch).is_err() {
            return Err("rttng top ended".into());
        }
        Ok(())
    }
}

impl PacketSource for Batching {
    fn generation(&self) -> u64 {
        self.inner.generation()
    }
    fn traces(&self) -> Vec<Option<Arc<rttng_reader::live::LiveTrace>>> {
        self.inner.traces()
    }
    fn streams(&self) -> Vec<rttng_reader::live::LiveStream> {
        self.inner.streams()
    }
    fn poll(&mut self, stream: usize) -> Result<Poll, rttng_reader::live::SourceError> {
        self.inner.poll(stream)
    }
    fn wait(&mut self) -> Result<(), rttng_reader::live::SourceError> {
        self.hand_over()?;
        self.inner.wait()
    }
    fn finished(&mut self) -> Result<bool, rttng_reader::live::SourceError> {
        self.hand_over()?;
        self.inner.finished()
    }
}

/// Most user-space event names handed over at once.
const USER_BATCH_EVENTS: usize = 4096;

/// Reads the live session at `url` on a thread of its own, sending each event's name; the
/// thread ends with the session (or an error), saying why.
pub fn start_user(url: &str, tx: Sender<Vec<Owned>>) -> Result<()> {
    let url = rttng_live::url::LiveUrl::parse(url)?;
    if url.session_name.is_none() {
        anyhow::bail!("--live needs a session: net://HOST[:PORT]/host/HOSTNAME/SESSION");
    }
    let session = rttng_live::viewer::LiveSession::attach(&url)?;
    std::thread::Builder::new()
        .name("rttng-top-user".into())
        .spawn(move || {
            let batch = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let mut src = Batching {
                inner: session,
                batch: batch.clone(),
                tx: tx.clone(),
            };
            let r = rttng_reader::live::run(&mut src, &mut |m| {
                if let rttng_reader::live::LiveMessage::Event { view, .. } = m {
                    let mut b = batch.borrow_mut();
                    b.push(Owned::User {
                        name: view.event_class.name.clone(),
                    });
                    if b.len() >= USER_BATCH_EVENTS {
                        return tx.send(std::mem::take(&mut *b)).is_ok();
                    }
                }
                true
            });
            let mut rest = std::mem::take(&mut *batch.borrow_mut());
            rest.push(Owned::UserEnded(match r {
                Ok(()) => "the user-space session ended".into(),
                Err(e) => format!("user-space session: {e}"),
            }));
            let _ = tx.send(rest);
        })
        .context("starting the user-space reader thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exits_recorded_are_those_whose_bytes_top_counts() {
        assert!(IO_SYSCALLS.iter().all(|n| io_kind(n).is_some()));
        for n in ["getppid", "openat", "close", "mmap"] {
            assert!(io_kind(n).is_none() && !IO_SYSCALLS.contains(&n));
        }
    }
}
