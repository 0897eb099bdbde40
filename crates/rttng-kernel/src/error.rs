//! The typed errors of the kernel domain. Every variant names what it was working on (a tracefs
//! path, an event, a CPU, a byte offset) so a message can be acted on without a debugger.
//!
//! Deliberately no catch-all string variant.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug)]
pub enum KernelError {
    /// tracefs is not mounted and could not be mounted.
    NoTracefs { source: std::io::Error },
    /// A tracefs (or output) file operation failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The caller is not allowed to use the kernel domain.
    PermissionDenied { path: PathBuf },
    /// A name that cannot become a tracefs instance name or a file name.
    BadName { name: String },
    /// A channel with this name already exists in the session.
    ChannelExists { channel: String },
    /// No channel with this name in the session.
    NoSuchChannel { channel: String },
    /// A pattern matched no tracepoint.
    NoSuchEvent { pattern: String },
    /// A system call name with no tracepoint.
    NoSuchSyscall { name: String },
    /// A `format` file could not be parsed.
    Format {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
    /// `events/header_page` or `header_event` describes a layout this parser does not know.
    UnsupportedHeader { path: PathBuf, reason: &'static str },
    /// A context this tracer cannot record from tracefs.
    UnsupportedContext { context: String },
    /// The operation needs a state the session is not in (e.g. enabling while running).
    WrongState {
        operation: &'static str,
        state: &'static str,
    },
    /// A configuration value out of range.
    BadConfig { what: &'static str, value: u64 },
    /// `--function` or `--probe` was asked for; the text says what the kernel allows.
    Unavailable {
        feature: &'static str,
        reason: String,
    },
    /// A drain thread failed.
    Drain { cpu: u32, source: std::io::Error },
    /// The eBPF path recorder could not be loaded or attached (`step` says where).
    Bpf { step: String, reason: String },
    /// Building the CTF trace failed.
    Ctf {
        stream: String,
        source: rttng_ctf::writer::WriteError,
    },
    /// `--filter` cannot be expressed exactly as a tracefs filter.
    Filter(crate::filter::Untranslatable),
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelError::NoTracefs { source } => {
                write!(f, "tracefs is not mounted and mounting it failed: {source}")
            }
            KernelError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            KernelError::PermissionDenied { path } => write!(
                f,
                "{}: permission denied (the kernel domain needs root or the `tracing` group)",
                path.display()
            ),
            KernelError::BadName { name } => write!(
                f,
                "invalid name {name:?} (use letters, digits, `_`, `-` and `.`)"
            ),
            KernelError::ChannelExists { channel } => {
                write!(f, "channel {channel:?} already exists")
            }
            KernelError::NoSuchChannel { channel } => write!(f, "no channel {channel:?}"),
            KernelError::NoSuchEvent { pattern } => {
                write!(f, "no kernel tracepoint matches {pattern:?}")
            }
            KernelError::NoSuchSyscall { name } => write!(f, "no system call named {name:?}"),
            KernelError::Format { path, line, reason } => {
                write!(f, "{}:{line}: {reason}", path.display())
            }
            KernelError::UnsupportedHeader { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
            KernelError::UnsupportedContext { context } => {
                write!(f, "kernel context {context:?} is not available here: it is recorded with eBPF by the consumer daemon (rttng-sessiond sessions)")
            }
            KernelError::WrongState { operation, state } => {
                write!(f, "cannot {operation} while the session is {state}")
            }
            KernelError::BadConfig { what, value } => write!(f, "invalid {what}: {value}"),
            KernelError::Unavailable { feature, reason } => {
                write!(f, "{feature} is unavailable: {reason}")
            }
            KernelError::Drain { cpu, source } => write!(f, "draining cpu {cpu}: {source}"),
            KernelError::Ctf { stream, source } => write!(f, "writing stream {stream}: {source}"),
            KernelError::Bpf { step, reason } => write!(f, "ebpf {step}: {reason}"),
            KernelError::Filter(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KernelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KernelError::NoTracefs { source }
            | KernelError::Io { source, .. }
            | KernelError::Drain { source, .. } => Some(source),
            KernelError::Ctf { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Wrap an I/O error with its path, turning EACCES/EPERM into [`KernelError::PermissionDenied`].
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> KernelError {
    let path = path.into();
    move |source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            KernelError::PermissionDenied { path }
        } else {
            KernelError::Io { path, source }
        }
    }
}
