//! The kernel domain without a kernel module: rttng traces the kernel through tracefs.
//!
//! A [`KernelSession`] owns one tracefs instance per channel (named `rttng-<pid>-<session>-<channel>`,
//! never the global buffer), enables tracepoints and system calls per instance, drains each
//! CPU's `trace_pipe_raw` while running, and at stop converts the ftrace ring-buffer pages into
//! a CTF kernel trace laid out and named like lttng-modules'. [`cleanup_stale_instances`]
//! removes what a killed process left in tracefs.
//!
//! This crate does not speak the control protocol or check who the caller is (the session
//! daemon does), and it does not trace user space.
#![deny(unsafe_code)]

pub mod bpf;
pub mod convert;
pub mod drain;
pub mod error;
pub mod filter;
pub mod format;
pub mod page;
pub mod session;
pub mod sys;
pub mod tracefs;

pub use drain::PageObserver;
pub use error::KernelError;
pub use session::{
    ChannelConfig, ClockSpec, Context, FormatTable, KernelSession, StopReport, Syscalls,
};
pub use tracefs::{check_function_tracing, check_kprobes, cleanup_stale_instances, Tracefs};

/// Every tracepoint as `system:event`, as `available_events` lists them.
pub fn list_tracepoints() -> Result<Vec<format::EventFormat>, KernelError> {
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
