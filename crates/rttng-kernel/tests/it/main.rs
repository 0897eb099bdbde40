//! Integration tests of rttng-kernel against the real tracefs of this machine (run as root).
//! Each test uses its own session (its own tracefs instance) and its own output directory,
//! filters on its own thread id, and checks that nothing of it is left in tracefs.

mod consume;
mod filters;
mod sessions;
mod task;
mod trace_cmd;

/// The kernel tests run one at a time: they share the machine's tracefs, its CPUs' ring
/// buffers and, for the trace-cmd comparison, its scheduler, and concurrent sessions made
/// them flaky (a trace-cmd run losing writes, an instance busy at removal).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
