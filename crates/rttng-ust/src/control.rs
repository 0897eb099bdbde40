//! The control API of the tracer, for the registration thread (and the in-process test
//! harness). **Not for applications**: apps only use `tracepoint!`.
//!
//! Every function here takes the control lock, a spin lock that is also taken around
//! `fork` (pthread_atfork prepare/parent/child), so a child never inherits it held. None
//! of these functions is called on the event path; they may allocate.
//!
//! Fork: in the child, every channel is unlinked (its shared memory still maps the
//! parent's buffers: the child must never write there), every target is cleared, every
//! call site goes back to `UNINIT` and process init is re-armed, so that the child's first
//! tracepoint starts its own registration (issue 4's thread re-registers it). exec: the
//! mappings vanish with the address space; channel fds are the registration thread's
//! (they must be close-on-exec).

use crate::callsite::{self, pack_target, target_slot, FILTERED, MAX_TARGETS, UNINIT};
use crate::channel::{self, Channel};
pub use crate::channel::{ChannelKey, ChannelSetup, Context, LOCAL_DAEMON};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// One event call site of this process.
#[derive(Clone, Debug)]
pub struct EventDescription {
    /// Stable for the life of the process.
    pub index: usize,
    /// `provider:event`.
    pub name: &'static str,
    pub loglevel: i32,
    /// The payload struct, LTTng naming (`_field`).
    pub fields: rttng_desc::FieldClass,
}

/// Every tracepoint call site of this process (all linked providers).
pub fn events() -> Vec<EventDescription> {
    events_from(0)
}

/// [`events`] from index `first` on (run-time events are appended as they register).
pub fn events_from(first: usize) -> Vec<EventDescription> {
    let n = callsite::static_count();
    let statics = callsite::all()
        .enumerate()
        .skip(first)
        .map(|(index, cs)| EventDescription {
            index,
            name: cs.meta.name,
            loglevel: cs.meta.loglevel,
            fields: cs.meta.payload_class(),
        });
    let dynamics = (first.saturating_sub(n)..crate::dynamic::count()).filter_map(|i| {
        let (cs, fields) = crate::dynamic::get(i)?;
        Some(EventDescription {
            index: n + i,
            name: cs.meta.name,
            loglevel: cs.meta.loglevel,
            fields: fields.clone(),
        })
    });
    statics.chain(dynamics).collect()
}

/// Whether some call site of event `name` (`provider:event`) currently records into at
/// least one channel (benchmarks and tests check that registration enabled it).
pub fn is_recording(name: &str) -> bool {
    callsite::every()
        .any(|cs| cs.meta.name == name && cs.targets.iter().any(|t| t.load(Ordering::Acquire) != 0))
}

/// Why a control call did nothing. Also counted in [`errors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// [`crate::channel::MAX_CHANNELS`] channels are installed.
    TooManyChannels,
    /// No channel with this key.
    UnknownChannel(ChannelKey),
    /// No call site with this index.
    UnknownEvent(usize),
    /// The event already records into [`MAX_TARGETS`] channels.
    TooManyTargets(usize),
    /// A channel with this key is already installed.
    DuplicateChannel(ChannelKey),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::TooManyChannels => write!(f, "too many channels installed"),
            ControlError::UnknownChannel(k) => {
                write!(f, "no channel {} of session {}", k.channel_id, k.session_id)
            }
            ControlError::UnknownEvent(i) => write!(f, "no event with index {i}"),
            ControlError::TooManyTargets(i) => {
                write!(f, "event {i} already records into {MAX_TARGETS} channels")
            }
            ControlError::DuplicateChannel(k) => write!(
                f,
                "channel {} of session {} already installed",
                k.channel_id, k.session_id
            ),
        }
    }
}

impl std::error::Error for ControlError {}

static ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Control calls that did nothing (see [`ControlError`]).
pub fn errors() -> u64 {
    ERRORS.load(Ordering::Relaxed)
}

fn count<T>(r: Result<T, ControlError>) -> Result<T, ControlError> {
    if r.is_err() {
        ERRORS.fetch_add(1, Ordering::Relaxed);
    }
    r
}

/// The control lock (see the module doc for why not a `Mutex`).
static LOCK: AtomicBool = AtomicBool::new(false);

/// Bounded spin before yielding the CPU while waiting for the control lock.
const SPINS_BEFORE_YIELD: u32 = 64;

pub(crate) struct Guard(());

pub(crate) fn lock() -> Guard {
    let mut spins = 0u32;
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins += 1;
        if spins < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    Guard(())
}

impl Drop for Guard {
    fn drop(&mut self) {
        LOCK.store(false, Ordering::Release);
    }
}

/// Installs a channel. Events start recording into it once [`enable`]d.
pub fn install_channel(setup: ChannelSetup) {
    let _ = try_install_channel(setup);
}

/// [`install_channel`], with the reason it did nothing.
pub fn try_install_channel(setup: ChannelSetup) -> Result<(), ControlError> {
    let _g = lock();
    // Channels removed while events were in flight are freed now if they can be.
    channel::reclaim();
    count(if channel::find(setup.key).is_some() {
        Err(ControlError::DuplicateChannel(setup.key))
    } else {
        channel::install(Channel::new(setup))
            .map(|_| ())
            .ok_or(ControlError::TooManyChannels)
    })
}

fn clear_targets_of_slot(slot: usize) {
    for (index, cs) in callsite::every().enumerate() {
        let mut changed = false;
        for t in &cs.targets {
            let v = t.load(Ordering::Relaxed);
            if v != 0 && target_slot(v) == slot {
                t.store(0, Ordering::Release);
                changed = true;
            }
        }
        if changed {
            cs.refresh();
            crate::dynamic::notify(index, cs);
        }
    }
}

/// Stops recording into a channel, unlinks it, and frees it with its mapping once no thread
/// can be inside the event path with it (else at a later control call).
pub fn remove_channel(key: ChannelKey) {
    let _g = lock();
    match channel::find(key) {
        Some(slot) => {
            clear_targets_of_slot(slot);
            channel::retire(slot);
            with_filters(|m| m.retain(|(_, k), _| *k != key));
        }
        None => {
            let _ = count::<()>(Err(ControlError::UnknownChannel(key)));
        }
    }
}

/// Records event `event_index` into channel `key` with id `event_class_id` (its id in
/// that channel's stream class).
pub fn enable(event_index: usize, key: ChannelKey, event_class_id: u32) {
    let _ = try_enable(event_index, key, event_class_id);
}

/// [`enable`], with the reason it did nothing.
pub fn try_enable(
    event_index: usize,
    key: ChannelKey,
    event_class_id: u32,
) -> Result<(), ControlError> {
    let _g = lock();
    count((|| {
        let slot = channel::find(key).ok_or(ControlError::UnknownChannel(key))?;
        let cs = callsite::by_index(event_index).ok_or(ControlError::UnknownEvent(event_index))?;
        let mut word = pack_target(slot, event_class_id);
        let i = target_of_slot(cs, slot)
            .or_else(|| {
                cs.targets
                    .iter()
                    .position(|t| t.load(Ordering::Relaxed) == 0)
            })
            .ok_or(ControlError::TooManyTargets(event_index))?;
        if let Some(set) = with_filters(|m| m.get(&(event_index, key)).copied()) {
            cs.filters[i].store(set, Ordering::Relaxed);
            word |= FILTERED;
        }
        // Release pairs with the event path's Acquire load of the target (and publishes
        // the filter set stored just before).
        cs.targets[i].store(word, Ordering::Release);
        cs.refresh();
        crate::dynamic::notify(event_index, cs);
        Ok(())
    })())
}

/// Stops recording event `event_index` into channel `key`.
pub fn disable(event_index: usize, key: ChannelKey) {
    let _g = lock();
    let (Some(slot), Some(cs)) = (channel::find(key), callsite::by_index(event_index)) else {
        let _ = count::<()>(Err(ControlError::UnknownEvent(event_index)));
        return;
    };
    if let Some(i) = target_of_slot(cs, slot) {
        cs.targets[i].store(0, Ordering::Release);
    }
    if cs.state.load(Ordering::Relaxed) != UNINIT {
        cs.refresh();
        crate::dynamic::notify(event_index, cs);
    }
}

/// The target of call site `cs` that records into channel slot `slot`.
fn target_of_slot(cs: &callsite::Callsite, slot: usize) -> Option<usize> {
    cs.targets.iter().position(|t| {
        let v = t.load(Ordering::Relaxed);
        v != 0 && target_slot(v) == slot
    })
}

/// The filter set of each (event index, channel) that has one; applied by [`try_enable`].
/// Only touched under the control lock (its own mutex is never contended).
static FILTERS: Mutex<Option<FilterMap>> = Mutex::new(None);

type FilterMap = std::collections::HashMap<(usize, ChannelKey), u32>;

fn with_filters<R>(f: impl FnOnce(&mut FilterMap) -> R) -> R {
    let mut g = FILTERS.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(FilterMap::new))
}

/// Records event `event_index` into channel `key` only when one of `programs` accepts it
/// (`None` entries: programs that could not be decoded, which accept nothing); an empty
/// list removes the filter. Holds for this (event, channel) across disable and enable.
/// Filters run before anything is reserved in the ring buffer.
pub fn set_filter(
    event_index: usize,
    key: ChannelKey,
    programs: &[Option<rttng_filter::Program>],
) -> Result<(), ControlError> {
    let _g = lock();
    count((|| {
        let cs = callsite::by_index(event_index).ok_or(ControlError::UnknownEvent(event_index))?;
        let set =
            (!programs.is_empty()).then(|| crate::filter::install(event_index, cs.meta, programs));
        with_filters(|m| match set {
            Some(set) => m.insert((event_index, key), set),
            None => m.remove(&(event_index, key)),
        });
        let Some(slot) = channel::find(key) else {
            return Ok(());
        };
        if let Some(i) = target_of_slot(cs, slot) {
            let word = cs.targets[i].load(Ordering::Relaxed) & !FILTERED;
            let word = match set {
                Some(set) => {
                    cs.filters[i].store(set, Ordering::Relaxed);
                    word | FILTERED
                }
                None => word,
            };
            cs.targets[i].store(word, Ordering::Release);
            // A run-time event's producer evaluates filters itself: tell it.
            crate::dynamic::notify(event_index, cs);
        }
        Ok(())
    })())
}

/// The stream class's `event.context` struct for these contexts (None when empty), for
/// the metadata writer.
pub fn stream_event_context_class(contexts: &[Context]) -> Option<rttng_desc::FieldClass> {
    if contexts.is_empty() {
        return None;
    }
    Some(rttng_desc::FieldClass::Struct(rttng_desc::StructClass {
        members: contexts.iter().map(|c| c.member()).collect(),
        min_align_bits: 1,
    }))
}

/// Switches every buffer's current packet of every installed channel (stop, app exit):
/// the consumer then sees all committed data.
pub fn flush_all() {
    let _g = lock();
    for (_, ch) in channel::installed() {
        flush_channel(ch);
    }
}

/// Switches every buffer's current packet of channel `key`.
pub fn flush(key: ChannelKey) {
    let _g = lock();
    if let Some(ch) = channel::find(key).and_then(channel::get) {
        flush_channel(ch);
    }
}

fn flush_channel(ch: &Channel) {
    for cpu in 0..ch.producer.cpu_count() {
        // The end time is read inside the flush, after its last look at the buffer:
        // other apps keep writing into a per-user buffer until the flush takes effect.
        let _ = ch.producer.flush(cpu, false, rttng_clock::now);
    }
}

/// Records with an unrebuildable compact timestamp, over all channels (diagnostics).
pub fn timestamp_errors() -> u64 {
    channel::installed()
        .map(|(_, c)| c.timestamp_errors.load(Ordering::Relaxed))
        .sum()
}

// ---------------------------------------------------------------------------------------
// fork

extern "C" fn atfork_prepare() {
    std::mem::forget(lock());
}

extern "C" fn atfork_parent() {
    LOCK.store(false, Ordering::Release);
}

extern "C" fn atfork_child() {
    // Single-threaded here: plain atomic stores only.
    crate::sys::FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    for slot in 0..channel::MAX_CHANNELS {
        channel::unlink(slot);
    }
    crate::reclaim::after_fork_child();
    for cs in callsite::all() {
        for t in &cs.targets {
            t.store(0, Ordering::Relaxed);
        }
        cs.state.store(UNINIT, Ordering::Relaxed);
    }
    // The parent's filters name the parent's channels. The map's mutex is only taken
    // under the control lock, which this thread holds: it is free.
    if let Ok(mut m) = FILTERS.try_lock() {
        *m = None;
    }
    // Run-time events are switched on by control only (never by a first call). Their
    // hook is not run here (it may take locks another thread of the parent held); the
    // drop-in library's own fork handler disarms its C call sites.
    for cs in crate::dynamic::callsites() {
        for t in &cs.targets {
            t.store(0, Ordering::Relaxed);
        }
        cs.state.store(callsite::OFF, Ordering::Relaxed);
    }
    crate::rearm_init();
    LOCK.store(false, Ordering::Release);
}

/// Set once the fork handlers are registered. A fork child inherits both the handlers
/// and this flag, so its own init (which runs again) does not register them a second
/// time: two `atfork_prepare` would each take the control lock, and the second would
/// spin forever, so a traced fork child that forked again (a double-fork daemon) hung.
static FORK_HANDLERS_INSTALLED: AtomicBool = AtomicBool::new(false);

/// Registers the fork handlers, once per process image (see [`FORK_HANDLERS_INSTALLED`]).
pub(crate) fn install_fork_handlers() {
    if FORK_HANDLERS_INSTALLED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: the handlers are `extern "C"` functions with no arguments that touch only
    // atomics; registering them has no other effect.
    let rc = unsafe {
        libc::pthread_atfork(
            Some(atfork_prepare),
            Some(atfork_parent),
            Some(atfork_child),
        )
    };
    if rc != 0 {
        // Not registered (out of memory): let the next init try again.
        FORK_HANDLERS_INSTALLED.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_class_follows_order() {
        assert!(stream_event_context_class(&[]).is_none());
        let c = stream_event_context_class(&[Context::Vtid, Context::Procname]).unwrap();
        let s = c.as_struct().unwrap();
        let names: Vec<&str> = s.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["_vtid", "_procname"]);
    }

    /// Mappings of ring-buffer memfds in this process.
    fn ringbuf_mappings() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("/memfd:rttng-ringbuf"))
            .count()
    }

    #[test]
    fn a_removed_channel_is_unmapped_once_no_event_is_in_flight() {
        let consumer = rttng_ringbuf::Consumer::create(&rttng_ringbuf::Config {
            cpu_count: 1,
            subbuf_count: 2,
            subbuf_bytes: 4096,
            mode: rttng_ringbuf::Mode::Discard,
            stream_id: 0,
            uuid: [0; 16],
        })
        .expect("create a channel");
        // The consumer's own mapping stays; the app's (the producer's) is the one to go.
        let before = ringbuf_mappings();
        let producer = rttng_ringbuf::Producer::from_fd(consumer.fd()).expect("map it");
        let key = ChannelKey {
            daemon: LOCAL_DAEMON - 1,
            session_id: 9_999,
            channel_id: 1,
        };
        try_install_channel(ChannelSetup {
            key,
            producer,
            stream_class_id: 0,
            contexts: Vec::new(),
        })
        .expect("install");
        assert_eq!(ringbuf_mappings(), before + 1, "the app maps the channel");
        // A thread inside the event path keeps it mapped.
        let inside = crate::reclaim::enter();
        remove_channel(key);
        assert_eq!(
            ringbuf_mappings(),
            before + 1,
            "unmapped under an event in flight"
        );
        drop(inside);
        // Other tests of this binary may be inside the event path for a moment: bounded retries
        // of the control side's reclaim, as later control calls would do.
        for _ in 0..1000 {
            let _g = lock();
            channel::reclaim();
            if ringbuf_mappings() == before {
                break;
            }
            drop(_g);
            std::thread::yield_now();
        }
        assert_eq!(
            ringbuf_mappings(),
            before,
            "the removed channel is still mapped"
        );
    }
}
