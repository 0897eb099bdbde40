//! When an unlinked channel may be unmapped: no thread is inside the event path that could
//! still hold a pointer to it (a grace period, as userspace RCU's membarrier flavour does).
//!
//! Event path ([`enter`]/[`Section`]): each thread owns one counter, claimed on its first
//! event (from a fixed pool; past it, from a list that grows and is reused) and given back
//! when it exits; entering and leaving the event path is a plain load and store of that
//! counter (no read-modify-write, no fence instruction).
//!
//! Control side ([`quiescent`]): after a channel is unlinked, `membarrier` makes every running
//! thread of the process execute a full barrier, so a thread either published its counter
//! before loading the channel pointer (and is seen inside) or loads the pointer after the
//! unlink (and cannot see the channel). If every counter reads zero after it, no thread can
//! be inside an unlinked channel, and the caller may free it. Without `membarrier` (kernel
//! before 4.14, or a seccomp filter), nothing is ever known quiescent: channels stay mapped,
//! as before.
//!
//! Not here: which channels are unlinked and their freeing (`channel.rs`).

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

/// Threads whose counters come from the fixed pool; more get one from [`MORE`].
pub const MAX_READERS: usize = 1024;

/// One thread's counter, alone on its cache line (threads never write each other's lines).
#[repr(align(64))]
struct Reader {
    /// Nesting depth of the owning thread in the event path (a signal handler may nest).
    /// Written only by the owner (Relaxed load + Release store); read by [`quiescent`].
    depth: AtomicU32,
    /// Claimed by a live thread.
    taken: AtomicBool,
}

impl Reader {
    const fn new() -> Reader {
        Reader {
            depth: AtomicU32::new(0),
            taken: AtomicBool::new(false),
        }
    }

    fn claim(&self) -> bool {
        self.taken
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
}

static READERS: [Reader; MAX_READERS] = [const { Reader::new() }; MAX_READERS];

/// Counters past the pool (never freed; reused after their thread exits).
static MORE: Mutex<Vec<&'static Reader>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's counter; null before its first event.
    static MINE: Cell<*const Reader> = const { Cell::new(std::ptr::null()) };
    /// Gives the counter back when the thread exits (touched once, on the first event).
    static RELEASE: Release = const { Release(Cell::new(std::ptr::null())) };
}

struct Release(Cell<*const Reader>);

impl Drop for Release {
    fn drop(&mut self) {
        // An event from a later thread-local destructor claims a counter again (which then
        // stays taken): this one may go to another thread as soon as it is given back.
        let _ = MINE.try_with(|m| m.set(std::ptr::null()));
        // SAFETY: a non-null pointer here is a `'static` reader this thread claimed.
        if let Some(r) = unsafe { self.0.get().as_ref() } {
            r.depth.store(0, Ordering::Release);
            r.taken.store(false, Ordering::Release);
        }
    }
}

/// The event path of this thread is inside [`Section`] until it is dropped.
pub(crate) struct Section(&'static Reader);

impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Section")
    }
}

/// Enters the event path.
#[inline(always)]
pub(crate) fn enter() -> Section {
    let mine = MINE.try_with(Cell::get).unwrap_or(std::ptr::null());
    // SAFETY: a non-null `MINE` is a `'static` reader this thread claimed.
    let r = match unsafe { mine.as_ref() } {
        Some(r) => r,
        None => claim(),
    };
    r.depth
        .store(r.depth.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    // The store above must not move after the loads of the event path (the control side's
    // membarrier orders it against them at run time).
    compiler_fence(Ordering::SeqCst);
    Section(r)
}

impl Drop for Section {
    #[inline(always)]
    fn drop(&mut self) {
        let d = &self.0.depth;
        // Release: every access to the channel happens before the control side reads zero.
        d.store(d.load(Ordering::Relaxed).wrapping_sub(1), Ordering::Release);
    }
}

/// Claims a counter for this thread (its first event): a free one of the pool, else of
/// [`MORE`], else a new one there.
#[cold]
#[inline(never)]
fn claim() -> &'static Reader {
    let r = claim_free();
    // During thread teardown (RELEASE gone) the counter stays taken: never shared.
    let _ = RELEASE.try_with(|g| g.0.set(r));
    let _ = MINE.try_with(|m| m.set(r));
    r
}

/// A free counter of the pool, else of [`MORE`], else a new one there; taken.
fn claim_free() -> &'static Reader {
    match READERS.iter().find(|r| r.claim()) {
        Some(r) => r,
        None => {
            let mut more = MORE.lock().unwrap_or_else(|e| e.into_inner());
            match more.iter().find(|r| r.claim()) {
                Some(r) => r,
                None => {
                    let r: &'static Reader = Box::leak(Box::new(Reader::new()));
                    r.taken.store(true, Ordering::Relaxed);
                    more.push(r);
                    r
                }
            }
        }
    }
}

thread_local! {
    /// The counter of this thread's [`Held`], if any (so that a fork child keeps it).
    static HELD: Cell<*const Reader> = const { Cell::new(std::ptr::null()) };
}

/// A counter of its own for a producer that keeps per-thread state across calls (the
/// drop-in's records in progress, [`crate::dynamic::ThreadRecords`]): entering and leaving
/// through it touches no thread-local. Created and dropped on the thread that uses it
/// (dropping it gives the counter back).
pub(crate) struct Held(&'static Reader);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

impl Held {
    /// Claims a counter for the calling thread (at most one `Held` per thread: a fork child
    /// keeps only the last one's).
    #[cold]
    pub(crate) fn claim() -> Held {
        let r = claim_free();
        let _ = HELD.try_with(|h| h.set(r));
        Held(r)
    }

    /// Enters the event path (as [`enter`]); pair with [`Held::leave`].
    #[inline(always)]
    pub(crate) fn enter(&self) {
        let d = &self.0.depth;
        d.store(d.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        // As in `enter`: the store must not move after the event path's loads.
        compiler_fence(Ordering::SeqCst);
    }

    /// Leaves the event path (as dropping a [`Section`]).
    #[inline(always)]
    pub(crate) fn leave(&self) {
        let d = &self.0.depth;
        // Release: every access to the channel happens before the control side reads zero.
        d.store(d.load(Ordering::Relaxed).wrapping_sub(1), Ordering::Release);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = HELD.try_with(|h| {
            if std::ptr::eq(h.get(), self.0) {
                h.set(std::ptr::null());
            }
        });
        self.0.depth.store(0, Ordering::Release);
        self.0.taken.store(false, Ordering::Release);
    }
}

/// `membarrier` state: 0 = not tried, 1 = registered, 2 = unavailable.
static MEMBARRIER: AtomicU8 = AtomicU8::new(0);

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

fn membarrier(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

/// Whether no thread is inside the event path now, so that nothing unlinked before this call
/// can still be in use. Control side only (it issues a system call). False when it cannot be
/// known.
pub(crate) fn quiescent() -> bool {
    let state = match MEMBARRIER.load(Ordering::Acquire) {
        0 => {
            let ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
            let s = if ok { 1 } else { 2 };
            MEMBARRIER.store(s, Ordering::Release);
            s
        }
        s => s,
    };
    if state != 1 || !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
        return false;
    }
    let idle = |r: &Reader| r.depth.load(Ordering::Acquire) == 0;
    READERS.iter().all(idle) && MORE.lock().is_ok_and(|more| more.iter().all(|r| idle(r)))
}

/// In a fork child (single-threaded, async-signal-safe stores only): the other threads are
/// gone, so their counters are free again.
pub(crate) fn after_fork_child() {
    let mine = MINE.try_with(Cell::get).unwrap_or(std::ptr::null());
    let held = HELD.try_with(Cell::get).unwrap_or(std::ptr::null());
    for r in &READERS {
        if !std::ptr::eq(r, mine) && !std::ptr::eq(r, held) {
            r.depth.store(0, Ordering::Relaxed);
            r.taken.store(false, Ordering::Relaxed);
        }
    }
    // The `MORE` counters of the parent's other threads are not reset: taking its lock here
    // could deadlock; a child with that many threads keeps its unlinked channels mapped.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_inside_the_event_path_blocks_quiescence() {
        let (tx_in, rx_in) = std::sync::mpsc::channel();
        let (tx_out, rx_out) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let s = enter();
            tx_in.send(()).unwrap();
            rx_out.recv().unwrap();
            drop(s);
        });
        rx_in.recv().unwrap();
        assert!(!quiescent(), "a thread is inside the event path");
        tx_out.send(()).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn nested_sections_count() {
        let a = enter();
        let b = enter();
        drop(b);
        let mine = MINE.with(Cell::get);
        // SAFETY: claimed by this thread above.
        let r = unsafe { mine.as_ref() }.expect("claimed on the first enter");
        assert_eq!(r.depth.load(Ordering::Relaxed), 1);
        drop(a);
        assert_eq!(r.depth.load(Ordering::Relaxed), 0);
    }
}
