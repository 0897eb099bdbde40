//! `liblttng-ust.so.1` for rttng: a drop-in for LTTng-UST 2.13's application library.
//! Unmodified programs built against liblttng-ust-dev load it (through
//! `rttng run -- CMD`, or `LD_LIBRARY_PATH`), and their C/C++ providers register with
//! `rttng-sessiond` as rttng-ust run-time events: listed by `rttng list -u`, enabled by
//! the same rules (wildcards, log levels, exclusions), recorded into the same ring buffer
//! with the same record layout, so the trace reads like LTTng's.
//!
//! The whole state lives here. `liblttng-ust-tracepoint.so.1` and
//! `liblttng-ust-common.so.1` (crates `rttng-lttng-ust-tracepoint`, `-common`) are empty
//! objects that need this one: `dlsym` on their handle finds the symbols here, and a
//! program that links them resolves through here too.
//!
//! Modules: `abi` (the C structs), `desc` (descriptors → event descriptions), `probe`
//! (registration, the channel-ops vtable), `tracepoint` (call sites), `tracef` (tracef,
//! tracelog), `statedump` (the loaded objects, for babeltrace2's debug-info), `stubs` (the rest of LTTng's exports: fork hooks, fd tracker, clock plugin,
//! context providers), `compat.c` (exported TLS, urcu-ust, C varargs).
//!
//! `appctx` holds the application context providers (`$app.*`). `dl` records `lttng_ust_lib:*` (and `lttng_ust_dl:*` for rttng's dlopen wrapper,
//! crate `rttng-lttng-ust-dl`); `elf` reads `.gnu_debuglink` sections.
//!
//! Not here: the agents' protocol (the session daemon's), the clock-plugin override
//! (accepted, not used).

#![allow(clippy::missing_safety_doc)]

mod abi;
mod appctx;
mod desc;
mod dl;
mod elf;
mod probe;
mod statedump;
mod stubs;
mod tracef;
mod tracepoint;

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Whether the library's constructor finished (the tracer is registered, or found no daemon).
pub(crate) fn initialized() -> bool {
    INITIALIZED.load(Ordering::Acquire)
}

/// One diagnostic line on standard error, as LTTng's `ERR()` does.
pub(crate) fn log(msg: &str) {
    eprintln!("liblttng-ust (rttng): {msg}");
}

extern "C" fn constructor() {
    rttng_ust::dynamic::set_state_hook(probe::state_hook);
    appctx::init();
    tracef::init();
    statedump::init();
    dl::init();
    rttng_ust::init();
    // After rttng-ust's own handlers (registered by init), so that its child handler has
    // dropped the parent's channels when ours registers the child.
    // SAFETY: registers a plain `extern "C"` function.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_child)) };
    INITIALIZED.store(true, Ordering::Release);
}

/// A fork child is a new app: its C call sites are disarmed (the parent's channels are
/// not its own), and it registers with the session daemons at once, as LTTng's fork
/// wrapper makes LTTng do, so that its events are recorded from the start.
extern "C" fn after_fork_child() {
    tracepoint::disarm_all();
    rttng_ust::init();
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = constructor;

/// `lttng_ust_probe_register`: never returns NULL (the caller would abort).
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_probe_register(desc: *const abi::ProbeDesc) -> *mut c_void {
    // SAFETY: the provider passes its descriptor, mapped until it unregisters.
    unsafe { probe::register(desc) }
}

#[no_mangle]
pub unsafe extern "C" fn lttng_ust_probe_unregister(cookie: *mut c_void) {
    // SAFETY: the cookie `lttng_ust_probe_register` returned.
    unsafe { probe::unregister(cookie) }
}

/// Set to 1 once loaded; apps test it through a weak reference.
#[no_mangle]
pub static lttng_ust_loaded: std::ffi::c_int = 1;
