//! Events whose descriptions arrive at run time (the LTTng-UST drop-in: C probe
//! descriptors registered by `lttng_ust_probe_register`). Each gets a [`Callsite`] like a
//! `tracepoint!` expansion, so it is announced to the session daemons, enabled, disabled
//! and written exactly like the static ones (same targets, same record layout); only its
//! payload is produced by someone else: [`DynamicCallsite::begin`] reserves the record and
//! writes the header and contexts, the caller fills the payload, [`DynRecord::commit`]
//! commits it (and copies it into the event's other channels when several sessions
//! record it).
//!
//! The table is append-only and lock-free for readers (an array of pointers and a count):
//! fork handlers and the event path read it without locks. Entries are never freed
//! ([`DynamicCallsite::retire`] only disables one), so a pointer stays valid for the life of
//! the process; [`MAX_DYNAMIC_EVENTS`] bounds the memory.
//!
//! Event indexes: the static call sites come first (their position in the linker section),
//! dynamic events follow in registration order.
//!
//! Filters: a run-time event declares the fields filters may name
//! ([`DynamicEvent::filter_fields`]); its producer reads their values
//! ([`FilterValues`]) and asks [`DynamicCallsite::filter`] before reserving.
//!
//! Not here: C descriptor parsing (the drop-in library), the announcement to the daemons
//! (`registration`).

use crate::callsite::{Callsite, EventMeta, FILTERED, ON_MANY};
use crate::channel;
pub use crate::field::FilterValue;
use crate::field::{Fields, Writer};
use rttng_desc::FieldClass;
pub use rttng_filter::FieldType as FilterType;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Most run-time events one process registers (each provider (re)load adds its events).
pub const MAX_DYNAMIC_EVENTS: usize = 16_384;

/// Longest event name (`provider:event`) accepted, as LTTng's 256-byte limit.
pub const MAX_EVENT_NAME_BYTES: usize = 255;

/// What a run-time event declares.
#[derive(Debug, Clone)]
pub struct DynamicEvent {
    /// `provider:event`.
    pub name: String,
    pub loglevel: i32,
    /// The payload struct (LTTng member names, e.g. `_field`).
    pub fields: FieldClass,
    /// What `--filter` expressions may name (field names as users write them), in the
    /// order of [`FilterValues::filter_value`]'s index. Empty: filters reject every event.
    pub filter_fields: Vec<(String, FilterType)>,
}

/// A run-time event's values for filters, read by its producer (index: position in
/// [`DynamicEvent::filter_fields`]). Must not allocate, block or panic.
pub trait FilterValues {
    fn filter_value(&self, index: usize) -> FilterValue<'_>;
}

/// Why [`register`] refused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// [`MAX_DYNAMIC_EVENTS`] events are registered.
    TableFull,
    /// Empty, longer than [`MAX_EVENT_NAME_BYTES`], without a `:`, or with a control
    /// character or a quote.
    BadName(String),
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterError::TableFull => {
                write!(
                    f,
                    "{MAX_DYNAMIC_EVENTS} run-time events are registered already"
                )
            }
            RegisterError::BadName(n) => write!(f, "invalid event name {n:?}"),
        }
    }
}

impl std::error::Error for RegisterError {}

struct Entry {
    callsite: Callsite,
    fields: FieldClass,
    filter_fields: &'static [(String, FilterType)],
}

static TABLE: [AtomicPtr<Entry>; MAX_DYNAMIC_EVENTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_DYNAMIC_EVENTS];
/// Entries published in [`TABLE`] (Release after the slot's store; Acquire by readers).
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Called (under the control lock) when a run-time event starts or stops recording:
/// `(event index, recording)`. Set once by the drop-in library, to arm or disarm its
/// C call sites (whose disabled check must stay one load).
pub type StateHook = fn(usize, bool);
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Installs the [`StateHook`].
pub fn set_state_hook(hook: StateHook) {
    HOOK.store(hook as *mut (), Ordering::Release);
}

/// Runs the hook for the call site with index `index`, if it is a run-time one.
pub(crate) fn notify(index: usize, cs: &Callsite) {
    let p = HOOK.load(Ordering::Acquire);
    if p.is_null() || index < crate::callsite::static_count() {
        return;
    }
    // SAFETY: HOOK only ever holds a `StateHook` stored by `set_state_hook`.
    let hook: StateHook = unsafe { std::mem::transmute::<*mut (), StateHook>(p) };
    hook(
        index,
        cs.state.load(Ordering::Relaxed) & crate::callsite::ON != 0,
    );
}

/// Number of run-time events registered so far.
pub fn count() -> usize {
    COUNT.load(Ordering::Acquire)
}

fn entry(i: usize) -> Option<&'static Entry> {
    if i >= count() {
        return None;
    }
    // SAFETY: slots below COUNT hold leaked entries, never freed.
    unsafe { TABLE.get(i)?.load(Ordering::Acquire).as_ref() }
}

/// The run-time call sites, in registration order.
pub(crate) fn callsites() -> impl Iterator<Item = &'static Callsite> {
    (0..count()).filter_map(|i| entry(i).map(|e| &e.callsite))
}

/// The filter fields of the event with index `event_index`, if it is a run-time one.
pub(crate) fn filter_fields(event_index: usize) -> Option<&'static [(String, FilterType)]> {
    let i = event_index.checked_sub(crate::callsite::static_count())?;
    entry(i).map(|e| e.filter_fields)
}

/// Run-time event `i` (0-based among run-time events): call site and payload class.
pub(crate) fn get(i: usize) -> Option<(&'static Callsite, &'static FieldClass)> {
    entry(i).map(|e| (&e.callsite, &e.fields))
}

fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_EVENT_NAME_BYTES
        && n.contains(':')
        && !n.chars().any(|c| c == '"' || c == '\\' || c.is_control())
}

/// Registers a run-time event; it is announced to the session daemons (at once to those
/// already registered, in the hello to the others) and enabled by their rules like a
/// `tracepoint!`. Returns its call site.
pub fn register(ev: DynamicEvent) -> Result<DynamicCallsite, RegisterError> {
    if !name_ok(&ev.name) {
        return Err(RegisterError::BadName(ev.name));
    }
    let index;
    let cs = {
        let _g = crate::control::lock();
        let i = COUNT.load(Ordering::Relaxed);
        if i >= MAX_DYNAMIC_EVENTS {
            return Err(RegisterError::TableFull);
        }
        let name: &'static str = Box::leak(ev.name.into_boxed_str());
        let meta: &'static EventMeta = Box::leak(Box::new(EventMeta {
            name,
            loglevel: ev.loglevel,
            fields: &[],
            file: "",
            line: 0,
        }));
        let e: &'static mut Entry = Box::leak(Box::new(Entry {
            callsite: Callsite::new(meta),
            fields: ev.fields,
            filter_fields: Box::leak(ev.filter_fields.into_boxed_slice()),
        }));
        // A run-time event is never "first called" through the macro path: it starts off
        // and is switched on by control.
        e.callsite
            .state
            .store(crate::callsite::OFF, Ordering::Relaxed);
        TABLE[i].store(e, Ordering::Release);
        COUNT.store(i + 1, Ordering::Release);
        index = crate::callsite::static_count() + i;
        &e.callsite
    };
    crate::registration::announce();
    Ok(DynamicCallsite { cs, index })
}

/// Waits, at most `timeout`, until the session daemons the process is registered with know
/// every run-time event registered so far and have applied their rules to them (so a
/// provider registered after the tracer's start records its very first event when a rule
/// already asks for it). Returns at once with no daemon.
pub fn wait_announced(timeout: std::time::Duration) {
    crate::registration::wait_announced(timeout);
}

/// A run-time event's call site.
#[derive(Debug, Clone, Copy)]
pub struct DynamicCallsite {
    cs: &'static Callsite,
    index: usize,
}

/// A record being written by [`DynamicCallsite::begin`]'s caller.
#[derive(Debug)]
pub struct DynRecord {
    res: rttng_ringbuf::Reservation<'static>,
    cs: &'static Callsite,
    /// Filtered targets that accepted the event (bit per target).
    accepted: u8,
    /// The target the record was reserved in (the others get a copy at commit).
    first: u64,
    cpu: u32,
    payload_start: usize,
    payload_bytes: usize,
    cursor: usize,
    /// The payload's first byte in the reservation (taken once from `res`, so that each of
    /// the C probe's writes is a bound check and a copy).
    dst: *mut u8,
    /// The instrumented code's address (the `ip` context of the copies in other channels).
    ip: u64,
}

impl DynamicCallsite {
    /// The event index the daemons know it by.
    pub fn index(self) -> usize {
        self.index
    }

    /// `provider:event`.
    pub fn name(self) -> &'static str {
        self.cs.meta.name
    }

    /// Whether some channel records it.
    pub fn is_recording(self) -> bool {
        self.cs.is_on()
    }

    /// Whether some channel records it only when a filter accepts it: the producer must
    /// then call [`DynamicCallsite::filter`] and pass its answer to
    /// [`DynamicCallsite::begin_filtered`].
    pub fn is_filtered(self) -> bool {
        self.cs
            .targets
            .iter()
            .any(|t| t.load(Ordering::Relaxed) & FILTERED != 0)
    }

    /// The filtered targets whose filters accept these values: bit `i` for target `i`
    /// (unfiltered targets need no bit). No allocation, no lock.
    #[inline]
    pub fn filter<V: FilterValues + ?Sized>(self, values: &V) -> u8 {
        let mut mask = 0u8;
        for (i, (t, set)) in self.cs.targets.iter().zip(&self.cs.filters).enumerate() {
            let t = t.load(Ordering::Acquire);
            if t & FILTERED != 0
                && crate::filter::accepts_dynamic(set.load(Ordering::Relaxed), values)
            {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// Whether [`DynamicCallsite::filter`]'s answer lets the event record somewhere.
    #[inline]
    pub fn records_with(self, mask: u8) -> bool {
        self.cs.targets.iter().enumerate().any(|(i, t)| {
            let t = t.load(Ordering::Relaxed);
            t != 0 && (t & FILTERED == 0 || mask & (1 << i) != 0)
        })
    }

    /// Stops recording it for good (its provider is being unloaded): every target is
    /// cleared. The index is never reused.
    pub fn retire(self) {
        let _g = crate::control::lock();
        for t in &self.cs.targets {
            t.store(0, Ordering::Release);
        }
        self.cs.refresh();
        notify(self.index, self.cs);
    }

    /// Reserves a record of `payload_bytes` in the first channel that records the event,
    /// with its header and contexts written. None when it records nowhere or the buffer
    /// refused (counted as discarded). No lock, no allocation.
    #[inline]
    pub fn begin(self, payload_bytes: usize) -> Option<DynRecord> {
        self.begin_at(payload_bytes, 0)
    }

    /// [`DynamicCallsite::begin`], with the instrumented code's address for the `ip`
    /// context.
    #[inline]
    pub fn begin_at(self, payload_bytes: usize, ip: u64) -> Option<DynRecord> {
        self.begin_filtered(payload_bytes, ip, u8::MAX)
    }

    /// [`DynamicCallsite::begin_at`] where only the filtered targets set in `accepted`
    /// (from [`DynamicCallsite::filter`]) record; unfiltered targets always do.
    #[inline]
    pub fn begin_filtered(self, payload_bytes: usize, ip: u64, accepted: u8) -> Option<DynRecord> {
        let cs = self.cs;
        let ok = |(i, t): (usize, u64)| t != 0 && (t & FILTERED == 0 || accepted & (1 << i) != 0);
        let first = cs
            .targets
            .iter()
            .map(|t| t.load(Ordering::Acquire))
            .enumerate()
            .find(|&it| ok(it))?
            .1;
        let (slot, event_id) = crate::callsite::unpack_target(first);
        let ch = channel::get(slot)?;
        let cpu = crate::sys::cpu();
        let (mut res, payload_start) = ch.begin_event(cpu, event_id, payload_bytes, ip)?;
        let record = res.bytes_mut();
        // The payload is the record's tail (`begin_event` reserved it so).
        if record.len() < payload_start.saturating_add(payload_bytes) {
            return None; // dropping `res` commits it, zeroed
        }
        let dst = record[payload_start..].as_mut_ptr();
        Some(DynRecord {
            res,
            cs,
            accepted,
            first,
            cpu,
            payload_start,
            payload_bytes,
            cursor: 0,
            dst,
            ip,
        })
    }
}

/// A reserved payload as a [`Fields`] value: its bytes, copied as they are.
struct Raw<'a>(&'a [u8]);

impl Fields for Raw<'_> {
    type Lens = usize;
    #[inline]
    fn lens(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn total(lens: &usize) -> usize {
        *lens
    }
    #[inline]
    fn encode_with_lens(&self, w: &mut Writer<'_>, _: &usize) {
        w.put(self.0);
    }
    /// Never read: a run-time event's filters ran before its reservation
    /// ([`DynamicCallsite::filter`]); this copies an accepted payload.
    #[inline]
    fn filter_value(&self, _: usize) -> crate::field::FilterValue<'_> {
        crate::field::FilterValue::Absent
    }
}

impl DynRecord {
    /// Payload bytes not written yet.
    pub fn remaining(&self) -> usize {
        self.payload_bytes - self.cursor
    }

    /// Appends to the payload; bytes beyond the reserved size are dropped (returns false).
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        let n = bytes.len();
        if n > self.payload_bytes - self.cursor {
            return false;
        }
        // SAFETY: `dst..dst + payload_bytes` is this record's payload, inside the
        // reservation `self.res` holds (exclusively ours until commit, which consumes
        // `self`); `cursor + n <= payload_bytes` was checked above; `bytes` is a separate
        // allocation (the caller's), so the ranges do not overlap; each fixed-size move
        // below reads and writes inside the first `n` bytes of both (unaligned accesses).
        unsafe {
            let (from, to) = (bytes.as_ptr(), self.dst.add(self.cursor));
            // Up to 16 bytes as two fixed-size moves that together cover them (possibly
            // overlapping): no call to memcpy for the probe's fields and short strings.
            match n {
                0 => {}
                1 => to.write(from.read()),
                2..=3 => {
                    to.cast::<u16>()
                        .write_unaligned(from.cast::<u16>().read_unaligned());
                    to.add(n - 2)
                        .cast::<u16>()
                        .write_unaligned(from.add(n - 2).cast::<u16>().read_unaligned());
                }
                4..=7 => {
                    to.cast::<u32>()
                        .write_unaligned(from.cast::<u32>().read_unaligned());
                    to.add(n - 4)
                        .cast::<u32>()
                        .write_unaligned(from.add(n - 4).cast::<u32>().read_unaligned());
                }
                8..=16 => {
                    to.cast::<u64>()
                        .write_unaligned(from.cast::<u64>().read_unaligned());
                    to.add(n - 8)
                        .cast::<u64>()
                        .write_unaligned(from.add(n - 8).cast::<u64>().read_unaligned());
                }
                _ => std::ptr::copy_nonoverlapping(from, to, n),
            }
        }
        self.cursor += n;
        true
    }

    /// Appends `n` copies of `byte`.
    #[inline]
    pub fn fill(&mut self, byte: u8, n: usize) -> bool {
        if n > self.payload_bytes - self.cursor {
            return false;
        }
        if n == 0 {
            return true; // the usual case of the probe's string padding: no memset call
        }
        // SAFETY: as in `write`: `cursor + n <= payload_bytes` inside our reservation.
        unsafe { std::ptr::write_bytes(self.dst.add(self.cursor), byte, n) };
        self.cursor += n;
        true
    }

    /// Commits the record (unwritten payload bytes are zero) and copies its payload into
    /// the other channels that record the event.
    #[inline]
    pub fn commit(mut self) {
        if self.cursor < self.payload_bytes {
            // A probe that wrote less than it reserved: no stale bytes in the trace.
            let c = self.cursor;
            self.fill(0, self.payload_bytes - c);
        }
        if self.cs.state.load(Ordering::Relaxed) == ON_MANY {
            let (start, len) = (self.payload_start, self.payload_bytes);
            let payload = self.res.bytes_mut().get(start..start + len).unwrap_or(&[]);
            let raw = Raw(payload);
            for (i, t) in self.cs.targets.iter().enumerate() {
                let t = t.load(Ordering::Acquire);
                if t == 0 || t == self.first || (t & FILTERED != 0 && self.accepted & (1 << i) == 0)
                {
                    continue;
                }
                let (slot, event_id) = crate::callsite::unpack_target(t);
                if let Some(ch) = channel::get(slot) {
                    ch.write_event(self.cpu, event_id, len, &raw, &len, self.ip);
                }
            }
        }
        self.res.commit();
    }
}
