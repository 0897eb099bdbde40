//! The tracepoint side of LTTng-UST (what `liblttng-ust-tracepoint.so.1` provides): the
//! `lttng_ust_tracepoint` call-site objects that instrumented objects register from their
//! constructors, matched by `provider:event` name and signature to the probes that
//! providers register, and armed (`state`) only while the event records somewhere, so
//! that a disabled C tracepoint costs one load, as with LTTng.
//!
//! One table behind a mutex; it is never touched on the event path. Probe arrays are
//! published with release order and never freed (a call site may still be walking an old
//! one; LTTng frees them after a grace period, which costs more than the few bytes).
//! Detaching waits for a urcu-ust grace period, so that a provider's code can be unmapped
//! once `lttng_ust_probe_unregister` returns.
//!
//! Not here: probe descriptors (`desc`), the event path (`probe`).

use crate::abi::{Tracepoint, TracepointProbe};
use crate::desc::{text, MAX_NAME_BYTES};
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Mutex;

/// Most call-site objects one module (object file section) registers.
const MAX_TRACEPOINTS_PER_MODULE: usize = 1 << 20;
/// Longest signature compared.
const MAX_SIGNATURE_BYTES: usize = 4096;

extern "C" {
    fn lttng_ust_urcu_synchronize_rcu();
    fn lttng_ust_urcu_read_lock();
    fn lttng_ust_urcu_read_unlock();
}

#[derive(Debug)]
struct Attached {
    signature: &'static str,
    array: *mut TracepointProbe,
}

#[derive(Debug, Default)]
struct Site {
    tracepoints: Vec<*mut Tracepoint>,
    probe: Option<Attached>,
    recording: bool,
}

#[derive(Debug, Default)]
struct Table {
    sites: HashMap<String, Site>,
    /// (start of a registered module's pointer array, its count).
    modules: Vec<(usize, usize)>,
}

struct Shared(Mutex<Option<Table>>);
// SAFETY: the raw pointers inside point to app memory (call-site objects) or leaked probe
// arrays that live as long as the process; they are only used under the mutex.
unsafe impl Sync for Shared {}

static TABLE: Shared = Shared(Mutex::new(None));

fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    let mut g = TABLE.0.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Table::default))
}

fn state_of(tp: *mut Tracepoint) -> &'static AtomicI32 {
    // SAFETY: `tp` is a registered call-site object in writable app memory; its `state` is
    // an aligned int, read by call sites with plain loads.
    unsafe { AtomicI32::from_ptr(std::ptr::addr_of_mut!((*tp).state)) }
}

fn probes_of(tp: *mut Tracepoint) -> &'static AtomicPtr<TracepointProbe> {
    // SAFETY: as `state_of`, for the `probes` pointer.
    unsafe { AtomicPtr::from_ptr(std::ptr::addr_of_mut!((*tp).probes)) }
}

/// The `provider:event` name and signature of a call-site object, if well-formed.
///
/// # Safety
/// `tp` points to a call-site object.
unsafe fn identity(tp: *mut Tracepoint) -> Option<(String, Option<&'static str>)> {
    // SAFETY: caller's contract.
    let t = unsafe { &*tp };
    if (t.struct_size as usize) < std::mem::size_of::<Tracepoint>() {
        return None;
    }
    // SAFETY: C strings from the object's string section, or null.
    let (p, e) = unsafe {
        (
            text(t.provider_name, MAX_NAME_BYTES)?,
            text(t.event_name, MAX_NAME_BYTES)?,
        )
    };
    if p.len() + 1 + e.len() > MAX_NAME_BYTES {
        return None;
    }
    // SAFETY: as above.
    let sig = unsafe { text(t.signature, MAX_SIGNATURE_BYTES) };
    Some((format!("{p}:{e}"), sig))
}

fn arm(tp: *mut Tracepoint, site: &Site, sig: Option<&str>) {
    match &site.probe {
        Some(a) if sig == Some(a.signature) => {
            probes_of(tp).store(a.array, Ordering::Release);
            state_of(tp).store(i32::from(site.recording), Ordering::Release);
        }
        _ => state_of(tp).store(0, Ordering::Release),
    }
}

/// `lttng_ust_tracepoint_module_register`: an object's call sites.
///
/// # Safety
/// `start` is null or an array of `count` pointers to call-site objects (or nulls).
pub unsafe fn module_register(start: *const *mut Tracepoint, count: c_int) -> c_int {
    let Ok(n) = usize::try_from(count) else {
        return -1;
    };
    if start.is_null() || n > MAX_TRACEPOINTS_PER_MODULE {
        if n > 0 {
            crate::log(&format!("ignoring a tracepoint section of {count} entries"));
        }
        return 0;
    }
    with_table(|t| {
        t.modules.push((start as usize, n));
        for i in 0..n {
            // SAFETY: `i < count`.
            let tp = unsafe { *start.add(i) };
            if tp.is_null() {
                continue;
            }
            // SAFETY: a non-null entry of the section.
            let Some((name, sig)) = (unsafe { identity(tp) }) else {
                crate::log("ignoring a malformed tracepoint (bad size or name)");
                continue;
            };
            let site = t.sites.entry(name).or_default();
            if !site.tracepoints.contains(&tp) {
                site.tracepoints.push(tp);
            }
            arm(tp, site, sig);
        }
    });
    0
}

/// `lttng_ust_tracepoint_module_unregister`: the object is going away.
///
/// # Safety
/// `start` is what an earlier [`module_register`] received, or anything else (ignored).
pub unsafe fn module_unregister(start: *const *mut Tracepoint) -> c_int {
    with_table(|t| {
        let Some(pos) = t.modules.iter().position(|m| m.0 == start as usize) else {
            return;
        };
        let (s, n) = t.modules.remove(pos);
        // SAFETY: the module's array is still mapped while it unregisters.
        let mine: std::collections::HashSet<usize> = (0..n)
            .map(|i| unsafe { *(s as *const *mut Tracepoint).add(i) } as usize)
            .filter(|&p| p != 0)
            .collect();
        for site in t.sites.values_mut() {
            site.tracepoints.retain(|&tp| {
                if mine.contains(&(tp as usize)) {
                    state_of(tp).store(0, Ordering::Release);
                    probes_of(tp).store(std::ptr::null_mut(), Ordering::Release);
                    false
                } else {
                    true
                }
            });
        }
    });
    0
}

/// Attaches a provider's probe to every call site of `name` with the same signature.
pub fn attach(
    name: &str,
    signature: &'static str,
    func: unsafe extern "C" fn(),
    data: *mut c_void,
    recording: bool,
) {
    let array: &'static mut [TracepointProbe; 2] = Box::leak(Box::new([
        TracepointProbe {
            func: Some(func),
            data,
        },
        TracepointProbe {
            func: None,
            data: std::ptr::null_mut(),
        },
    ]));
    with_table(|t| {
        let site = t.sites.entry(name.to_string()).or_default();
        site.probe = Some(Attached {
            signature,
            array: array.as_mut_ptr(),
        });
        site.recording = recording;
        for &tp in &site.tracepoints {
            // SAFETY: a registered call-site object.
            let sig = unsafe { identity(tp) }.and_then(|(_, s)| s);
            if sig.is_some() && sig != Some(signature) {
                crate::log(&format!(
                    "tracepoint {name}: the call site's signature differs from the probe's; not attached"
                ));
            }
            arm(tp, site, sig);
        }
    });
}

/// Detaches the probe of `name`, then waits until no call site runs it any more.
pub fn detach(name: &str) {
    with_table(|t| {
        if let Some(site) = t.sites.get_mut(name) {
            site.probe = None;
            for &tp in &site.tracepoints {
                state_of(tp).store(0, Ordering::Release);
                probes_of(tp).store(std::ptr::null_mut(), Ordering::Release);
            }
        }
    });
    // SAFETY: a plain C function of compat.c; never called from a read-side section here.
    unsafe { lttng_ust_urcu_synchronize_rcu() };
}

/// Disarms every call site (a fork child, before it registers). Skipped if another thread
/// of the parent held the table at the fork (its lock is lost): the sites then stay armed
/// and their probes find no channel until the child's registration rearms them.
pub fn disarm_all() {
    let Ok(mut g) = TABLE.0.try_lock() else {
        return;
    };
    if let Some(t) = g.as_mut() {
        for site in t.sites.values_mut() {
            site.recording = false;
            for &tp in &site.tracepoints {
                state_of(tp).store(0, Ordering::Release);
            }
        }
    }
}

/// Arms or disarms the call sites of `name` (the event started or stopped recording).
pub fn set_recording(name: &str, on: bool) {
    with_table(|t| {
        let site = t.sites.entry(name.to_string()).or_default();
        site.recording = on;
        for &tp in &site.tracepoints {
            // SAFETY: a registered call-site object.
            let sig = unsafe { identity(tp) }.and_then(|(_, s)| s);
            arm(tp, site, sig);
        }
    });
}

// ---------------------------------------------------------------------------------------
// The exports objects look up with dlsym on liblttng-ust-tracepoint.so.1 (found in its
// dependency, this library).

static DESTRUCTORS: AtomicI32 = AtomicI32::new(1);

/// # Safety
/// See [`module_register`].
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_tracepoint_module_register(
    start: *const *mut Tracepoint,
    count: c_int,
) -> c_int {
    // SAFETY: caller's contract.
    unsafe { module_register(start, count) }
}

/// # Safety
/// See [`module_unregister`].
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_tracepoint_module_unregister(
    start: *const *mut Tracepoint,
) -> c_int {
    // SAFETY: caller's contract.
    unsafe { module_unregister(start) }
}

#[no_mangle]
pub extern "C" fn lttng_ust_tp_disable_destructors() {
    DESTRUCTORS.store(0, Ordering::Relaxed);
}

#[no_mangle]
pub extern "C" fn lttng_ust_tp_get_destructors_state() -> c_int {
    DESTRUCTORS.load(Ordering::Relaxed)
}

#[no_mangle]
pub extern "C" fn lttng_ust_tp_rcu_read_lock() {
    // SAFETY: compat.c's urcu-ust read side.
    unsafe { lttng_ust_urcu_read_lock() }
}

#[no_mangle]
pub extern "C" fn lttng_ust_tp_rcu_read_unlock() {
    // SAFETY: compat.c's urcu-ust read side.
    unsafe { lttng_ust_urcu_read_unlock() }
}

#[no_mangle]
pub extern "C" fn lttng_ust_tp_rcu_dereference_sym(p: *mut c_void) -> *mut c_void {
    std::sync::atomic::fence(Ordering::Acquire);
    p
}

/// Declared by the header for rare inline helpers; rttng attaches probes itself.
#[no_mangle]
pub extern "C" fn lttng_ust_tracepoint_provider_register(
    _provider: *const libc::c_char,
    _event: *const libc::c_char,
    _func: *mut c_void,
    _data: *mut c_void,
    _signature: *const libc::c_char,
) -> c_int {
    -libc::ENOSYS
}

#[no_mangle]
pub extern "C" fn lttng_ust_tracepoint_provider_unregister(
    _provider: *const libc::c_char,
    _event: *const libc::c_char,
    _func: *mut c_void,
    _data: *mut c_void,
) -> c_int {
    -libc::ENOSYS
}
