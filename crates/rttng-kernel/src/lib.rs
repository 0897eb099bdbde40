//! The kernel domain without a kernel module: rttng traces the kernel through tracefs.
//!
//! A [`KernelSession`] owns one tracefs instance per channel (named `rttng-<pid>-<session>-<channel>`,
//! never the global buffer), enables tracepoints and system calls per instance, and drains
//! each CPU's `trace_pipe_raw` while running into a CTF kernel trace laid out and named like
//! lttng-modules' (`rttng trace`). A session can instead leave its buffers to another process
//! ([`KernelSession::set_consumer_drained`], rttng-consumerd). Both convert with
//! [`ChannelDrain`] and [`KernelMetadata`], continuously. [`cleanup_stale_instances`]
//! removes what a killed process left in tracefs.
//!
//! This crate does not speak the control protocol or check who the caller is (the session
//! daemon does), and it does not trace user space.
#![deny(unsafe_code)]

mod bpf;
mod bpf_log;
mod bpf_task;
mod consume;
mod convert;
mod drain;
mod error;
mod filter;
mod format;
mod live;
mod page;
mod session;
mod sys;
mod syscall_args;
mod tracefs;
mod tracker;

// The API: a kernel session and what configures it, the live view of its records, the path
// strings its eBPF recorder resolves, tracefs listing and cleanup. Everything else (page
// and format parsing, conversion, the drain threads, system calls) is internal.
pub use bpf::{quote, PathLog, PathMatcher, PathValue};
pub use bpf_task::{
    stack_depth, StackWalks, TaskEvent, TaskLog, TaskMatcher, TaskRecord, TaskRecorder, TaskValues,
    MAX_STACK_ENTRIES, STACK_TRUNCATED_MARK,
};
pub use consume::{
    context_by_name, context_name, ChannelDrain, KernelMetadata, PassStats, PathStrings,
    TaskContexts, Waiter,
};
pub use convert::{plan_event, EventPlan};
pub use error::KernelError;
pub use filter::{to_tracefs, Translation, Untranslatable};
pub use format::EventFormat;
pub use live::{LiveField, LiveFieldRef, LivePage, LiveRecord};
pub use session::{
    datetime_now, ChannelConfig, ClockSpec, Context, KernelSession, StopReport, Syscalls,
    DEFAULT_SUBBUF_BYTES, DEFAULT_SUBBUF_COUNT,
};
pub use sys::{spawn_paused, PausedChild};
pub use tracefs::{check_function_tracing, check_kprobes, cleanup_stale_instances, Tracefs};
pub use tracker::{KernelTrackers, TrackedAttr, TrackerPolicy};

/// Every tracepoint as `system:event`, as `available_events` lists them.
pub fn list_tracepoints() -> Result<Vec<EventFormat>, KernelError> {
    let tfs = Tracefs::open()?;
    let mut out = Vec::new();
    for (s, e) in tfs.available_events()? {
        out.push(tfs.event_format(&s, &e)?);
    }
    Ok(out)
}

/// Every system call with tracepoints, sorted by name.
pub fn list_syscalls() -> Result<Vec<String>, KernelError> {
    Tracefs::open()?.syscalls()
}
