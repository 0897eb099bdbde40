//! The few operating-system facts the event path needs, cached so that the event path
//! makes no system call: the CPU number, the vpid, the thread's vtid and name. Caches are
//! invalidated at `fork` through [`FORK_GENERATION`].
//!
//! CPU number: read straight from the thread's rseq area that glibc (2.35+) registers
//! for every thread: one load of the area's offset (a plain static) and one `%fs`-relative
//! load, ~1 ns. Where that is unavailable (older glibc, musl, rseq disabled by a tunable,
//! valgrind, a thread whose registration failed) it falls back to `sched_getcpu` (~3 ns,
//! a vDSO call or system call). The number may be stale by the time it is used (the
//! thread can migrate); the ring buffer is correct for any CPU number. The clock is read
//! by the ring buffer's reservation loop (`rttng-clock`), not here: one clock read per
//! event.
//!
//! Not here: registration, signals, fork handlers themselves (see `control`).

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU32, Ordering};

/// Bumped in the child after `fork` (single-threaded then): every cache tagged with an
/// older generation is stale.
pub(crate) static FORK_GENERATION: AtomicU32 = AtomicU32::new(1);

/// Offset of the rseq area from the thread pointer (glibc's `__rseq_offset`), or
/// [`RSEQ_NONE`] when the area is not usable.
static RSEQ_OFFSET: AtomicIsize = AtomicIsize::new(RSEQ_NONE);

/// "No rseq area": the event path calls `sched_getcpu`.
const RSEQ_NONE: isize = isize::MIN;

/// Offset of `cpu_id` (u32) in `struct rseq` (after `cpu_id_start`).
const RSEQ_CPU_ID: isize = 4;

/// `__rseq_size` of a registered area: 20 (the original ABI's fields, what glibc 2.35+
/// reports) or more; 0 means glibc did not register one.
const RSEQ_MIN_SIZE: u32 = 20;

/// Selects the clock source and the CPU-number method (system calls: once).
pub(crate) fn init() {
    let _ = rttng_clock::source();
    RSEQ_OFFSET.store(rseq_offset().unwrap_or(RSEQ_NONE), Ordering::Relaxed);
}

/// glibc's rseq area offset, if glibc registered one for its threads.
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
fn rseq_offset() -> Option<isize> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches loaded objects.
    let size = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr()) };
    // SAFETY: as above.
    let off = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr()) };
    if size.is_null() || off.is_null() {
        return None;
    }
    // SAFETY: glibc defines `unsigned int __rseq_size` and `ptrdiff_t __rseq_offset`,
    // constant after startup; the pointers come from dlsym for those very symbols.
    let (size, off) = unsafe { (*size.cast::<u32>(), *off.cast::<isize>()) };
    if size < RSEQ_MIN_SIZE {
        return None; // registration disabled or failed
    }
    // Check on this thread that the area holds our CPU number.
    // SAFETY: sched_getcpu has no preconditions.
    let before = unsafe { libc::sched_getcpu() };
    let got = rseq_cpu(off);
    // SAFETY: as above.
    let after = unsafe { libc::sched_getcpu() };
    // A migration between the reads may disagree; only a thread that stayed put must.
    if before >= 0 && before == after && got != Some(before as u32) {
        return None;
    }
    Some(off)
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
fn rseq_offset() -> Option<isize> {
    None
}

/// `cpu_id` of the calling thread's rseq area at `off` from the thread pointer; None when
/// the area says "not registered" (a negative value).
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
#[inline(always)]
fn rseq_cpu(off: isize) -> Option<u32> {
    let cpu: u32;
    // SAFETY: with glibc, `%fs:0` is the thread pointer and every thread's rseq area lies
    // at `__rseq_offset` from it, inside its static TLS block (so the address is mapped
    // for the thread's whole life); `cpu_id` is an aligned u32 the kernel updates. The
    // load only reads.
    unsafe {
        core::arch::asm!(
            "mov {cpu:e}, dword ptr fs:[{off} + {field}]",
            off = in(reg) off,
            field = const RSEQ_CPU_ID,
            cpu = lateout(reg) cpu,
            options(nostack, readonly, preserves_flags),
        );
    }
    if (cpu as i32) < 0 {
        None
    } else {
        Some(cpu)
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
#[inline(always)]
fn rseq_cpu(_off: isize) -> Option<u32> {
    None
}

/// The CPU the calling thread runs on (possibly stale by the time it is used).
#[inline(always)]
pub(crate) fn cpu() -> u32 {
    let off = RSEQ_OFFSET.load(Ordering::Relaxed);
    if off != RSEQ_NONE {
        if let Some(cpu) = rseq_cpu(off) {
            return cpu;
        }
    }
    cpu_slow()
}

#[cold]
#[inline(never)]
fn cpu_slow() -> u32 {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).unwrap_or(0)
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

/// Longest hostname the `hostname` context carries (the kernel's limit is 64 bytes).
pub(crate) const HOSTNAME_MAX_BYTES: usize = 64;

/// Process facts that change only with fork, exec, setuid or setns: hostname, namespace
/// inodes, and the real/effective/saved user and group ids. Read when a channel is installed
/// (off the event path; a fork child re-registers and installs its channels again), so the
/// contexts cost a copy each. A later setuid/setns is not seen until the next install.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcessFacts {
    pub hostname: [u8; HOSTNAME_MAX_BYTES + 1],
    pub hostname_len: usize,
    /// cgroup, ipc, mnt, net, pid, time, user, uts: inode numbers of /proc/self/ns/*.
    pub ns: [u64; 8],
    /// uid, euid, suid, gid, egid, sgid.
    pub ids: [u32; 6],
}

/// The namespace files, in `ProcessFacts::ns` order.
pub(crate) const NAMESPACES: [&str; 8] =
    ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

pub(crate) fn read_process_facts() -> ProcessFacts {
    let mut hostname = [0u8; HOSTNAME_MAX_BYTES + 1];
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates when it fits.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let name = if ok {
        &buf[..buf.iter().position(|&b| b == 0).unwrap_or(0)]
    } else {
        &[][..]
    };
    let hostname_len = name.len().min(HOSTNAME_MAX_BYTES);
    hostname[..hostname_len].copy_from_slice(&name[..hostname_len]);
    let mut ns = [0u64; 8];
    for (slot, name) in ns.iter_mut().zip(NAMESPACES) {
        use std::os::unix::fs::MetadataExt;
        *slot = std::fs::metadata(format!("/proc/self/ns/{name}"))
            .map(|m| m.ino())
            .unwrap_or(0);
    }
    let (mut r, mut e, mut s) = (0, 0, 0);
    let (mut rg, mut eg, mut sg) = (0, 0, 0);
    // SAFETY: the out-pointers are valid locals.
    unsafe {
        libc::getresuid(&mut r, &mut e, &mut s);
        libc::getresgid(&mut rg, &mut eg, &mut sg);
    }
    ProcessFacts {
        hostname,
        hostname_len,
        ns,
        ids: [r, e, s, rg, eg, sg],
    }
}

/// Starts `f` on a detached thread with every signal blocked, created with
/// `pthread_create` rather than `std::thread`: std's thread start touches Rust
/// thread-locals, and in a library loaded by `dlopen` (the LTTng-UST drop-in under an app
/// with dynamically linked providers, or an agent) the first access to them waits for the
/// loader lock, which the constructor that starts these threads holds while it waits for
/// them. The threads' code touches no thread-local of this crate. Returns false when the
/// thread could not be created (`f` is dropped).
pub(crate) fn spawn_detached(f: Box<dyn FnOnce() + Send + 'static>) -> bool {
    extern "C" fn trampoline(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the Box<Box<dyn FnOnce>> leaked below, taken back exactly once.
        let f = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
        // A panic must not unwind into C; the thread just ends.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new(f)).cast::<libc::c_void>();
    // SAFETY: plain pthread calls on local, initialised values; the new thread inherits the
    // all-blocked mask, and ours is restored right after.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let mut tid: libc::pthread_t = std::mem::zeroed();
        let rc = libc::pthread_create(&mut tid, std::ptr::null(), trampoline, arg);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if rc != 0 {
            drop(Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()));
            return false;
        }
        libc::pthread_detach(tid);
    }
    true
}
