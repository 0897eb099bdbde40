//! Task contexts in a consumer's kernel trace: the eBPF task recorder attached to every
//! tracepoint of the channels that write a context tracefs records lack (vpid, uid, the
//! namespaces, ...), and the one matcher that gives each tracefs record its task values as its
//! page is converted. Not here: the eBPF program, the log and the matching rule
//! (`crate::bpf_task`).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::ChannelDrain;
use crate::bpf_task::{StackWalks, TaskEvent, TaskLog, TaskMatcher, TaskRecorder};
use crate::error::KernelError;

/// The task records of a session and their one matcher, shared by its channels.
pub(super) struct Tasks {
    pub(super) log: Arc<TaskLog>,
    pub(super) matcher: Mutex<TaskMatcher>,
    /// Tracefs records no task record matched (their contexts are written as zeros).
    pub(super) unmatched: AtomicU64,
    /// Channels given a reader bit so far.
    readers: AtomicU32,
}

/// Channels with their own reader bit; the ones beyond share the last bit (one of them takes
/// a record shared with another: the other then writes zeros, counted as unmatched).
pub const MAX_TASK_READERS: u32 = 64;

impl Tasks {
    /// Gives `d` the records: a reader bit of its own (the first time), registered as a
    /// reader of each of its tracepoints (again as events are added).
    fn enroll(self: &Arc<Self>, d: &mut ChannelDrain) {
        if d.task_reader == 0 {
            let n = self.readers.fetch_add(1, Ordering::Relaxed);
            d.task_reader = 1u64 << n.min(MAX_TASK_READERS - 1);
        }
        let mut m = self.matcher.lock().unwrap_or_else(|e| e.into_inner());
        for f in &d.formats {
            m.add_reader(f.id, d.task_reader);
        }
        drop(m);
        d.tasks = Some(self.clone());
    }

    pub(super) fn note_unmatched(&self) {
        self.unmatched.fetch_add(1, Ordering::Relaxed);
    }
}

/// The eBPF task recorder of a session's channels.
pub struct TaskContexts {
    tasks: Arc<Tasks>,
    recorder: Option<TaskRecorder>,
    /// Ring-buffer losses of the recorders stopped so far.
    lost: u64,
    detaching: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TaskContexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContexts").finish()
    }
}

/// The tracepoints of the drains that need task records, each once, with whether a drain
/// that records it records call stacks.
fn events_of(drains: &[&ChannelDrain]) -> Vec<TaskEvent> {
    let mut out: Vec<TaskEvent> = Vec::new();
    for d in drains.iter().filter(|d| d.needs_tasks()) {
        let stacks = d.stack_walks().any();
        for f in &d.formats {
            match out.iter_mut().find(|(o, _)| o.id == f.id) {
                Some((_, s)) => *s |= stacks,
                None => out.push((f.clone(), stacks)),
            }
        }
    }
    out
}

/// The call stacks any of the drains records.
fn walks_of(drains: &[&ChannelDrain]) -> StackWalks {
    drains
        .iter()
        .map(|d| d.stack_walks())
        .fold(StackWalks::default(), |a, b| StackWalks {
            kernel: a.kernel || b.kernel,
            user: a.user || b.user,
        })
}

impl TaskContexts {
    /// Loads and attaches the eBPF program to every tracepoint of the channels that need task
    /// records. `Ok(None)` when none does. An error says why (the session then cannot record
    /// those contexts).
    pub fn start(drains: &mut [&mut ChannelDrain]) -> Result<Option<TaskContexts>, KernelError> {
        let (events, walks) = {
            let view: Vec<&ChannelDrain> = drains.iter().map(|d| &**d).collect();
            (events_of(&view), walks_of(&view))
        };
        if events.is_empty() {
            return Ok(None);
        }
        let log = Arc::new(TaskLog::default());
        let recorder = TaskRecorder::start_with_stacks(&events, walks, log.clone())?;
        let tasks = Arc::new(Tasks {
            log,
            matcher: Mutex::new(TaskMatcher::new()),
            unmatched: AtomicU64::new(0),
            readers: AtomicU32::new(0),
        });
        for d in drains.iter_mut().filter(|d| d.needs_tasks()) {
            tasks.enroll(d);
        }
        Ok(Some(TaskContexts {
            tasks,
            recorder: Some(recorder),
            lost: 0,
            detaching: Vec::new(),
        }))
    }

    /// Tracing stopped and the buffers are drained: the programs are detached, on a thread.
    pub fn pause(&mut self) {
        if let Some(mut r) = self.recorder.take() {
            self.lost += r.lost();
            self.detaching.extend(r.stop_recording());
        }
    }

    /// Tracing starts again: the program is attached again to the channels' tracepoints
    /// (events enabled since the last start included).
    pub fn resume(&mut self, drains: &[&ChannelDrain]) -> Result<(), KernelError> {
        if self.recorder.is_some() {
            return Ok(());
        }
        self.recorder = Some(TaskRecorder::start_with_stacks(
            &events_of(drains),
            walks_of(drains),
            self.tasks.log.clone(),
        )?);
        Ok(())
    }

    /// Events enabled while tracing, or channels that need task records since (a tracker
    /// set): the program is attached to their tracepoints too.
    pub fn attach_more(&mut self, drains: &mut [&mut ChannelDrain]) -> Result<(), KernelError> {
        for d in drains.iter_mut().filter(|d| d.needs_tasks()) {
            self.tasks.enroll(d);
        }
        let view: Vec<&ChannelDrain> = drains.iter().map(|d| &**d).collect();
        match self.recorder.as_mut() {
            Some(r) => r.attach_more(&events_of(&view)),
            None => Ok(()),
        }
    }

    /// Whether the program is attached (tracing).
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Tracefs records written without their task values so far: no eBPF record matched
    /// (the eBPF ring buffer was full, or the program was not attached yet).
    pub fn unmatched(&self) -> u64 {
        self.tasks.unmatched.load(Ordering::Relaxed)
    }

    /// eBPF records lost because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost + self.recorder.as_ref().map_or(0, TaskRecorder::lost)
    }
}

impl Drop for TaskContexts {
    fn drop(&mut self) {
        self.pause();
        for t in self.detaching.drain(..) {
            let _ = t.join();
        }
    }
}
