//! The rest of LTTng-UST 2.13's exports, so that every program, helper library and agent
//! that imports them loads (Debian's agent libraries bind at load time: one missing
//! function fails the load). What each does here, and deliberately does not do:
//! - fork hooks (LTTng's `liblttng-ust-fork.so` wrapper): block and restore signals
//!   around `fork`; rttng-ust's own `pthread_atfork` handlers do the tracer's part;
//! - namespace and id hooks, `dl_update`, procname reset, thread init: nothing to do
//!   (rttng-ust reads these facts when a channel is installed);
//! - fd tracker: no tracked descriptors (rttng-ust's sockets are its own), so closing is
//!   delegated to the caller's callback;
//! - the clock and getcpu plugin API: accepted and ignored (the trace clock is
//!   rttng-clock's, shared with the kernel domain);

use std::ffi::{c_char, c_int, c_void};

static SUCCESS: &[u8] = b"Success\0";
static ERROR: &[u8] = b"LTTng-UST error (rttng)\0";

/// # Safety
/// `save` is null or points to a `sigset_t`.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_before_fork(save: *mut libc::sigset_t) {
    if save.is_null() {
        return;
    }
    // SAFETY: a full set blocks every signal; `save` receives the old mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, save);
    }
}

unsafe fn restore(save: *mut libc::sigset_t) {
    if !save.is_null() {
        // SAFETY: the mask lttng_ust_before_fork saved.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, save, std::ptr::null_mut()) };
    }
}

/// # Safety
/// `save` is what `lttng_ust_before_fork` filled.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_after_fork_parent(save: *mut libc::sigset_t) {
    // SAFETY: caller's contract.
    unsafe { restore(save) }
}

/// # Safety
/// `save` is what `lttng_ust_before_fork` filled.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_after_fork_child(save: *mut libc::sigset_t) {
    // SAFETY: caller's contract.
    unsafe { restore(save) }
}

macro_rules! no_ops {
    ($($name:ident),*) => {$(
        #[no_mangle]
        pub extern "C" fn $name() {}
    )*};
}

no_ops!(
    lttng_ust_after_setns,
    lttng_ust_after_unshare,
    lttng_ust_after_setuid,
    lttng_ust_after_setgid,
    lttng_ust_after_seteuid,
    lttng_ust_after_setegid,
    lttng_ust_after_setreuid,
    lttng_ust_after_setregid,
    lttng_ust_after_setresuid,
    lttng_ust_after_setresgid,
    lttng_ust_context_procname_reset,
    lttng_ust_init_thread,
    lttng_ust_libc_wrapper_malloc_ctor,
    lttng_ust_common_ctor,
    lttng_ust_common_alloc_tls,
    lttng_ust_lock_fd_tracker,
    lttng_ust_unlock_fd_tracker,
    lttng_ust_enable_trace_clock_override
);

/// Called by LTTng's dlopen wrapper after each dlopen/dlclose (`lttng_ust_lib:*`).
#[no_mangle]
pub extern "C" fn lttng_ust_dl_update(ip: *mut c_void) {
    crate::dl::update(ip as u64);
}

#[no_mangle]
pub extern "C" fn lttng_ust_strerror(code: c_int) -> *const c_char {
    if code == 0 { SUCCESS } else { ERROR }.as_ptr().cast()
}

#[no_mangle]
pub extern "C" fn lttng_ust_add_fd_to_tracker(fd: c_int) -> c_int {
    fd
}

#[no_mangle]
pub extern "C" fn lttng_ust_delete_fd_from_tracker(_fd: c_int) {}

/// # Safety
/// `close_cb` is null or a function closing `fd`.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_safe_close_fd(
    fd: c_int,
    close_cb: Option<unsafe extern "C" fn(c_int) -> c_int>,
) -> c_int {
    match close_cb {
        // SAFETY: the caller's close function.
        Some(f) => unsafe { f(fd) },
        // SAFETY: plain close of the caller's descriptor.
        None => unsafe { libc::close(fd) },
    }
}

/// # Safety
/// `fclose_cb` is null or a function closing `stream`.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_safe_fclose_stream(
    stream: *mut libc::FILE,
    fclose_cb: Option<unsafe extern "C" fn(*mut libc::FILE) -> c_int>,
) -> c_int {
    match fclose_cb {
        // SAFETY: the caller's fclose function.
        Some(f) => unsafe { f(stream) },
        // SAFETY: the caller's stream.
        None => unsafe { libc::fclose(stream) },
    }
}

/// # Safety
/// `close_cb` is null or a function closing one descriptor.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_safe_closefrom_fd(
    lowfd: c_int,
    close_cb: Option<unsafe extern "C" fn(c_int) -> c_int>,
) -> c_int {
    let Some(f) = close_cb else { return -1 };
    // SAFETY: sysconf has no memory effects.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(0, 1 << 20) as c_int;
    for fd in lowfd.max(0)..max {
        // SAFETY: the caller's close function; EBADF for unused numbers is fine.
        unsafe { f(fd) };
    }
    0
}

#[no_mangle]
pub extern "C" fn lttng_ust_cancelstate_disable_push() -> c_int {
    0
}

#[no_mangle]
pub extern "C" fn lttng_ust_cancelstate_disable_pop() -> c_int {
    0
}

macro_rules! clock_cb {
    ($($set:ident, $get:ident);*) => {$(
        #[no_mangle]
        pub extern "C" fn $set(_cb: *mut c_void) -> c_int {
            0
        }
        /// # Safety
        /// `out` is null or writable.
        #[no_mangle]
        pub unsafe extern "C" fn $get(out: *mut *mut c_void) -> c_int {
            if !out.is_null() {
                // SAFETY: caller's contract.
                unsafe { *out = std::ptr::null_mut() };
            }
            0
        }
    )*};
}

clock_cb!(
    lttng_ust_trace_clock_set_read64_cb, lttng_ust_trace_clock_get_read64_cb;
    lttng_ust_trace_clock_set_freq_cb, lttng_ust_trace_clock_get_freq_cb;
    lttng_ust_trace_clock_set_uuid_cb, lttng_ust_trace_clock_get_uuid_cb;
    lttng_ust_trace_clock_set_name_cb, lttng_ust_trace_clock_get_name_cb;
    lttng_ust_trace_clock_set_description_cb, lttng_ust_trace_clock_get_description_cb
);

#[no_mangle]
pub extern "C" fn lttng_ust_getcpu_override(_fct: *mut c_void) -> c_int {
    0
}

#[no_mangle]
pub extern "C" fn lttng_ust_rcu_dereference_sym(p: *mut c_void) -> *mut c_void {
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    p
}

/// # Safety
/// `p` points to a pointer-sized, aligned location.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rcu_set_pointer_sym(
    p: *mut *mut c_void,
    v: *mut c_void,
) -> *mut c_void {
    // SAFETY: caller's contract.
    unsafe { std::sync::atomic::AtomicPtr::from_ptr(p) }
        .store(v, std::sync::atomic::Ordering::Release);
    v
}

/// # Safety
/// `p` points to a pointer-sized, aligned location.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rcu_xchg_pointer_sym(
    p: *mut *mut c_void,
    v: *mut c_void,
) -> *mut c_void {
    // SAFETY: caller's contract.
    unsafe { std::sync::atomic::AtomicPtr::from_ptr(p) }
        .swap(v, std::sync::atomic::Ordering::AcqRel)
}

/// # Safety
/// `p` points to a pointer-sized, aligned location.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_rcu_cmpxchg_pointer_sym(
    p: *mut *mut c_void,
    old: *mut c_void,
    new: *mut c_void,
) -> *mut c_void {
    // SAFETY: caller's contract.
    match unsafe { std::sync::atomic::AtomicPtr::from_ptr(p) }.compare_exchange(
        old,
        new,
        std::sync::atomic::Ordering::AcqRel,
        std::sync::atomic::Ordering::Acquire,
    ) {
        Ok(v) | Err(v) => v,
    }
}
