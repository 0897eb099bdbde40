//! System call path strings in a consumer's kernel trace: the eBPF recorder of the
//! path-taking system calls the channels enable (attached while tracing) and the one matcher
//! that gives each `sys_enter` record its strings as its page is converted. Not here: the
//! eBPF programs and the log (`crate::bpf`).

use std::sync::Arc;

use super::ChannelDrain;
use crate::bpf::{PathLog, PathMatcher, PathRecorder};
use crate::convert::plan_event_with_paths;
use crate::error::KernelError;
use crate::syscall_args::path_arg_mask;

/// The path records of a session and their one matcher, shared by its channels.
pub(super) struct Paths {
    pub(super) log: Arc<PathLog>,
    pub(super) matcher: std::sync::Mutex<PathMatcher>,
    /// The log has other readers (a live view): records are not taken out of it.
    pub(super) shared: bool,
}

/// Makes `drains`' path fields strings matched from `log`, which a recorder of the caller
/// fills and other readers may read too (the session's own process: `rttng trace`). Before
/// the stream classes are declared.
pub(crate) fn attach_shared(drains: &mut [&mut ChannelDrain], log: Arc<PathLog>) {
    let paths = Arc::new(Paths {
        log,
        matcher: std::sync::Mutex::new(PathMatcher::new()),
        shared: true,
    });
    attach(drains, &paths);
}

fn attach(drains: &mut [&mut ChannelDrain], paths: &Arc<Paths>) {
    for d in drains.iter_mut() {
        d.paths = Some(paths.clone());
        d.plans = d
            .formats
            .iter()
            .map(|f| plan_event_with_paths(f, true))
            .collect();
    }
}

/// System call path strings for a session's channels: the eBPF recorder (attached while
/// tracing) and the log its records go to.
pub struct PathStrings {
    paths: Arc<Paths>,
    recorder: Option<PathRecorder>,
    detaching: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for PathStrings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathStrings").finish()
    }
}

impl PathStrings {
    /// Loads and attaches the eBPF programs for the path-taking system calls the channels
    /// enable, and makes their path fields strings. Before the stream classes are declared.
    /// An error says why (the trace then keeps pointers).
    pub fn start(drains: &mut [&mut ChannelDrain]) -> Result<PathStrings, KernelError> {
        let mut events: Vec<(String, u8)> = Vec::new();
        for d in drains.iter() {
            for f in &d.formats {
                let m = path_arg_mask(f);
                if m != 0 && !events.iter().any(|(n, _)| *n == f.name) {
                    events.push((f.name.clone(), m));
                }
            }
        }
        if events.is_empty() {
            return Err(KernelError::BadConfig {
                what: "path-taking system calls enabled",
                value: 0,
            });
        }
        let log = Arc::new(PathLog::default());
        let recorder = PathRecorder::start(&events, None, log.clone())?;
        let paths = Arc::new(Paths {
            log,
            matcher: std::sync::Mutex::new(PathMatcher::new()),
            shared: false,
        });
        attach(drains, &paths);
        Ok(PathStrings {
            paths,
            recorder: Some(recorder),
            detaching: Vec::new(),
        })
    }

    /// Tracing stops (the buffers are drained): the programs are detached, on a thread.
    pub fn pause(&mut self) {
        if let Some(mut r) = self.recorder.take() {
            self.detaching.extend(r.stop_recording());
        }
    }

    /// Tracing starts again: the programs are attached again for `drains`' system calls.
    pub fn resume(&mut self, drains: &[&ChannelDrain]) -> Result<(), KernelError> {
        if self.recorder.is_some() {
            return Ok(());
        }
        let mut events: Vec<(String, u8)> = Vec::new();
        for d in drains {
            for f in &d.formats {
                let m = path_arg_mask(f);
                if m != 0 && !events.iter().any(|(n, _)| *n == f.name) {
                    events.push((f.name.clone(), m));
                }
            }
        }
        self.recorder = Some(PathRecorder::start(&events, None, self.paths.log.clone())?);
        Ok(())
    }
}

impl Drop for PathStrings {
    fn drop(&mut self) {
        self.pause();
        for t in self.detaching.drain(..) {
            let _ = t.join();
        }
    }
}
