//! Where `rttng top`'s events come from: a kernel session of its own (tracefs through
//! `rttng_kernel`: `sched_switch` and every system call, pages decoded as the drain threads
//! hand them over), and optionally a live user-space session read from a relay daemon through
//! `rttng_live`. Both send owned events over one channel to the caller's thread.
//!
//! Nothing here reads /proc: task names come from `sched_switch`'s `prev_comm`/`next_comm`.

use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use rttng_kernel::{ChannelConfig, KernelSession, LiveRecord, Syscalls};

use rttng_reader::live::{PacketSource, Poll};

use crate::agg::Input;

/// An event with its strings owned (it crosses threads).
#[derive(Clone, Debug)]
pub enum Owned {
    Switch {
        cpu: u32,
        ts_ns: i64,
        prev_tid: i64,
        prev_comm: String,
        next_tid: i64,
        next_comm: String,
    },
    Entry {
        cpu: u32,
        ts_ns: i64,
        tid: i64,
        name: Arc<str>,
    },
    Exit {
        cpu: u32,
        ts_ns: i64,
        tid: i64,
        name: Arc<str>,
        ret: i64,
    },
    User {
        name: String,
    },
    /// The user-space source stopped (why).
    UserEnded(String),
}

impl Owned {
    pub fn input(&self) -> Option<Input<'_>> {
        Some(match self {
            Owned::Switch {
                cpu,
                ts_ns,
                prev_tid,
                prev_comm,
                next_tid,
                next_comm,
            } => Input::Switch {
                cpu: *cpu,
                ts_ns: *ts_ns,
                prev_tid: *prev_tid,
                prev_comm,
                next_tid: *next_tid,
                next_comm,
            },
            Owned::Entry {
                cpu,
                ts_ns,
                tid,
                name,
            } => Input::SyscallEntry {
                cpu: *cpu,
                ts_ns: *ts_ns,
                tid: *tid,
                name,
            },
            Owned::Exit {
                cpu,
                ts_ns,
                tid,
                name,
                ret,
            } => Input::SyscallExit {
                cpu: *cpu,
                ts_ns: *ts_ns,
                tid: *tid,
                name,
                ret: *ret,
            },
            Owned::User { name } => Input::User { name },
            Owned::UserEnded(_) => return None,
        })
    }
}

/// What top takes of one kernel record (tracefs names: `sched_switch`, `sys_enter_*`,
/// `sys_exit_*`; fields by lttng-modules' names, `prev_comm`/`next_comm` by tracefs's).
fn decode(cpu: u32, clock: &rttng_ctf::ir::ClockClass, r: &LiveRecord<'_>) -> Option<Owned> {
    let ts_ns = rttng_ctf::decode::ns_from_origin(clock, r.timestamp);
    let tid = i64::from(r.tid()?);
    let int = |name| r.int(name).map(|v| v as i64);
    let comm = |name| String::from_utf8_lossy(r.chars(name).unwrap_or(b"")).into_owned();
    let name = r.tracefs_name();
    if name == "sched_switch" {
        return Some(Owned::Switch {
            cpu,
            ts_ns,
            prev_tid: int("prev_tid")?,
            prev_comm: comm("prev_comm"),
            next_tid: int("next_tid")?,
            next_comm: comm("next_comm"),
        });
    }
    if let Some(n) = name.strip_prefix("sys_enter_") {
        return Some(Owned::Entry {
            cpu,
            ts_ns,
            tid,
            name: n.into(),
        });
    }
    if let Some(n) = name.strip_prefix("sys_exit_") {
        return Some(Owned::Exit {
            cpu,
            ts_ns,
            tid,
            name: n.into(),
            ret: int("ret")?,
        });
    }
    None
}

/// The kernel session of `rttng top`; dropping it without [`KernelSource::finish`] still
/// removes its tracefs instance (the session's own drop does).
pub struct KernelSource {
    session: KernelSession,
}

impl KernelSource {
    /// Creates and starts the session; its CTF trace goes to `out_dir/kernel` at the end.
    pub fn start(out_dir: &Path, tx: Sender<Vec<Owned>>) -> Result<KernelSource> {
        let _ = rttng_kernel::cleanup_stale_instances();
        let mut session = KernelSession::create("top", out_dir, ChannelConfig::default()).context(
            "creating the kernel session (the kernel domain needs root or the `tracing` group)",
        )?;
        session.enable_tracepoints("channel0", "sched_switch")?;
        session.enable_syscalls("channel0", &Syscalls::All)?;
        // The trace kept with -o attributes system calls to tasks as top does.
        session.add_context("channel0", rttng_kernel::Context::Tid)?;
        // The recorder of system-call path strings costs every system call of the machine; top
        // does not show paths.
        session.set_record_paths(false);
        // This thread (the main one: no other exists yet) and every thread it starts from now
        // on (the drain threads among them) stay out of the trace.
        session.exclude_pids(&[std::process::id()])?;
        let clock = session.clock().ctf.clone();
        session.set_live_observer(move |cpu, records: &[LiveRecord<'_>]| {
            let out: Vec<Owned> = records
                .iter()
                .filter_map(|r| decode(cpu, &clock, r))
                .collect();
            if !out.is_empty() {
                let _ = tx.send(out);
            }
        });
        session.start()?;
        Ok(KernelSource { session })
    }

    /// Stops tracing (every page drained and handed over), writes the trace and removes the
    /// tracefs instance. Returns the trace directory.
    pub fn finish(mut self) -> Result<std::path::PathBuf> {
        let report = self.session.stop()?;
        self.session.destroy()?;
        Ok(report.trace_dir)
    }
}

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
