//! The few operating-system facts the event path needs, cached so that the event path
//! makes no system call: the CPU number (and the clock, read together by `rdtscp` when
//! the TSC is the clock and TSC_AUX holds the CPU number, as Linux sets it), the vpid,
//! the thread's vtid and name. Caches are invalidated at `fork` through
//! [`FORK_GENERATION`].
//!
//! Not here: registration, signals, fork handlers themselves (see `control`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// Bumped in the child after `fork` (single-threaded then): every cache tagged with an
/// older generation is stale.
pub(crate) static FORK_GENERATION: AtomicU32 = AtomicU32::new(1);

const CPU_UNKNOWN: u8 = 0;
const CPU_RDTSCP: u8 = 1;
const CPU_SCHED: u8 = 2;
static CPU_MODE: AtomicU8 = AtomicU8::new(CPU_UNKNOWN);

/// How often `rdtscp`'s TSC_AUX is compared with `sched_getcpu` before trusting it.
const TSC_AUX_CHECKS: usize = 16;

/// Selects the clock source and the CPU-number method (system calls: once).
pub(crate) fn init() {
    let _ = rttng_clock::source();
    if CPU_MODE.load(Ordering::Relaxed) != CPU_UNKNOWN {
        return;
    }
    let mode = if rttng_clock::source() == rttng_clock::Source::Tsc && tsc_aux_is_cpu() {
        CPU_RDTSCP
    } else {
        CPU_SCHED
    };
    CPU_MODE.store(mode, Ordering::Relaxed);
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtscp() -> (u64, u32) {
    let mut aux = 0u32;
    // SAFETY: rdtscp only writes `aux`; the TSC is the trace clock (checked in init).
    let ts = unsafe { core::arch::x86_64::__rdtscp(&mut aux) };
    (ts, aux & 0xfff)
}

#[cfg(target_arch = "x86_64")]
fn tsc_aux_is_cpu() -> bool {
    (0..TSC_AUX_CHECKS).all(|_| {
        // SAFETY: sched_getcpu has no preconditions.
        let before = unsafe { libc::sched_getcpu() };
        let (_, aux) = rdtscp();
        // SAFETY: as above.
        let after = unsafe { libc::sched_getcpu() };
        // A migration between the calls is allowed to disagree; require agreement only
        // when the thread stayed put.
        before != after || before < 0 || aux == before as u32
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc_aux_is_cpu() -> bool {
    false
}

/// The current clock value and CPU number.
#[inline(always)]
pub(crate) fn clock_and_cpu() -> (u64, u32) {
    #[cfg(target_arch = "x86_64")]
    if CPU_MODE.load(Ordering::Relaxed) == CPU_RDTSCP {
        return rdtscp();
    }
    clock_and_cpu_slow()
}

#[inline(never)]
fn clock_and_cpu_slow() -> (u64, u32) {
    // SAFETY: sched_getcpu has no preconditions (glibc reads it from rseq).
    let cpu = unsafe { libc::sched_getcpu() };
    (rttng_clock::now(), u32::try_from(cpu).unwrap_or(0))
}

static VPID: AtomicU32 = AtomicU32::new(0);
static VPID_GENERATION: AtomicU32 = AtomicU32::new(0);

/// The process id (cached per fork generation).
#[inline]
pub(crate) fn vpid() -> i32 {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    if VPID_GENERATION.load(Ordering::Relaxed) == generation {
        return VPID.load(Ordering::Relaxed) as i32;
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    VPID.store(pid as u32, Ordering::Relaxed);
    VPID_GENERATION.store(generation, Ordering::Relaxed);
    pid
}

/// Bytes of LTTng's `procname` context (a 16-byte comm plus NUL).
pub(crate) const PROCNAME_BYTES: usize = 17;

#[derive(Clone, Copy)]
struct ThreadCache {
    generation: u32,
    tid: i32,
    name: [u8; PROCNAME_BYTES],
}

thread_local! {
    static THREAD: Cell<ThreadCache> = const {
        Cell::new(ThreadCache { generation: 0, tid: 0, name: [0; PROCNAME_BYTES] })
    };
}

#[inline]
fn thread_cache() -> ThreadCache {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    let c = THREAD.try_with(Cell::get).unwrap_or(ThreadCache {
        generation: 0,
        tid: 0,
        name: [0; PROCNAME_BYTES],
    });
    if c.generation == generation {
        return c;
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let mut name = [0u8; PROCNAME_BYTES];
    // SAFETY: PR_GET_NAME writes at most 16 bytes plus NUL into a 17-byte buffer we own.
    unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr(), 0, 0, 0) };
    name[PROCNAME_BYTES - 1] = 0;
    let fresh = ThreadCache {
        generation,
        tid,
        name,
    };
    let _ = THREAD.try_with(|t| t.set(fresh));
    fresh
}

/// The calling thread's id (cached; one system call per thread and fork generation).
#[inline]
pub(crate) fn vtid() -> i32 {
    thread_cache().tid
}

/// The calling thread's name, NUL-padded (cached like [`vtid`]).
#[inline]
pub(crate) fn procname() -> [u8; PROCNAME_BYTES] {
    thread_cache().name
}

/// `pthread_self()` (no system call).
#[inline]
pub(crate) fn pthread_id() -> u64 {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as u64 }
}
