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
//! Records written over several calls (the drop-in's C probes: reserve, writes, commit)
//! are built in place in a per-thread [`ThreadRecords`] slot ([`DynSlot`]): a pointer to
//! the next byte and one to the payload's end, the ring buffer's [`rttng_ringbuf::Pending`]
//! commit, and the thread's own reclaim counter (held from reserve to commit, so the
//! channel stays mapped). The usual case (one session, no filter, no contexts) is inline;
//! the rest out of line.
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
    /// Keeps the channels mapped until the record is committed (dropped after `res`).
    _inside: crate::reclaim::Section,
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
        // From the load of the channel pointer to the commit, the channel is not unmapped.
        let inside = crate::reclaim::enter();
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
            _inside: inside,
        })
    }

    /// The first target that records the event given the filtered targets that accepted
    /// it (0: none), off the usual path (filters, several sessions).
    #[cold]
    #[inline(never)]
    fn first_target_slow(self, accepted: u8) -> u64 {
        let ok = |(i, t): (usize, u64)| t != 0 && (t & FILTERED == 0 || accepted & (1 << i) != 0);
        self.cs
            .targets
            .iter()
            .map(|t| t.load(Ordering::Acquire))
            .enumerate()
            .find(|&it| ok(it))
            .map_or(0, |it| it.1)
    }
}

/// Records in progress at once on one thread ([`ThreadRecords`]): a signal handler or a
/// probe inside a probe nests a record in another (as LTTng's 4 nested reserves).
pub const MAX_NESTED_RECORDS: usize = 4;

/// One record in progress of a [`ThreadRecords`]: its payload is written by
/// [`DynSlot::write`] calls through a pointer its producer keeps (the drop-in: the C probe's
/// context), then [`DynSlot::commit`]. Plain data built in place: reserving and committing
/// move nothing.
#[derive(Debug)]
pub struct DynSlot {
    /// The next payload byte to write; null while the slot is free.
    cur: *mut u8,
    /// One past the payload's last byte (null while free): writes never go past it.
    end: *mut u8,
    pending: Option<rttng_ringbuf::Pending<'static>>,
    /// Set when the event records in other channels too: `copies` says how.
    many: Option<&'static Callsite>,
    /// The copies into the event's other channels (valid when `many` is set).
    copies: Copies,
    /// The reclaim counter entered at reserve, left at commit (its `ThreadRecords`'s,
    /// which outlives the record).
    held: *const crate::reclaim::Held,
}

/// What [`DynSlot::commit`] needs to copy a record into the event's other channels.
#[derive(Debug, Clone, Copy)]
struct Copies {
    first: u64,
    accepted: u8,
    cpu: u32,
    ip: u64,
    payload_bytes: usize,
}

impl DynSlot {
    const FREE: DynSlot = DynSlot {
        cur: std::ptr::null_mut(),
        end: std::ptr::null_mut(),
        pending: None,
        many: None,
        copies: Copies {
            first: 0,
            accepted: 0,
            cpu: 0,
            ip: 0,
            payload_bytes: 0,
        },
        held: std::ptr::null(),
    };

    /// Payload bytes not written yet (0 for a free slot).
    #[inline(always)]
    pub fn remaining(&self) -> usize {
        (self.end as usize).wrapping_sub(self.cur as usize)
    }

    /// Appends `n` bytes from `src` to the payload. Refused (false, nothing written) when
    /// they do not fit in what is left of the reserved payload, or the slot is free.
    ///
    /// # Safety
    /// `src` is readable for `n` bytes when they fit (`n <= remaining()`), and does not
    /// point into this record.
    #[inline(always)]
    pub unsafe fn write_raw(&mut self, src: *const u8, n: usize) -> bool {
        if n > SHORT_WRITE_BYTES {
            // SAFETY: caller's contract.
            return unsafe { self.write_long(src, n) };
        }
        // SAFETY: caller's contract.
        unsafe { self.write_short(src, n) }
    }

    /// [`DynSlot::write_raw`] of at most [`SHORT_WRITE_BYTES`] (inline, no call): for a
    /// producer that sends longer writes elsewhere itself (the drop-in's `event_write`,
    /// whose long writes tail-call [`DynSlot::write_raw`]).
    ///
    /// # Safety
    /// As [`DynSlot::write_raw`], and `n <= SHORT_WRITE_BYTES`.
    #[inline(always)]
    pub unsafe fn write_short(&mut self, src: *const u8, n: usize) -> bool {
        debug_assert!(n <= SHORT_WRITE_BYTES);
        if n > self.remaining() {
            return false;
        }
        let to = self.cur;
        // SAFETY: `to..to + n` is inside this record's payload (`n <= end - cur`, both in
        // the reservation `pending` commits, exclusively ours until then); `src` is
        // readable for `n` bytes and disjoint from it (caller). Each fixed-size move below
        // reads and writes inside the first `n` bytes of both (unaligned accesses).
        unsafe {
            // Up to 16 bytes as two fixed-size moves that together cover them (possibly
            // overlapping): no call to memcpy for the probe's fields and short strings.
            // Two fixed-size moves that together cover the `n` bytes (overlapping unless
            // `n` is twice their size), chosen by ranges (compares, not a jump table).
            if n >= 8 {
                // 8..=16 (the caller's contract).
                to.cast::<u64>()
                    .write_unaligned(src.cast::<u64>().read_unaligned());
                to.add(n - 8)
                    .cast::<u64>()
                    .write_unaligned(src.add(n - 8).cast::<u64>().read_unaligned());
            } else if n >= 4 {
                to.cast::<u32>()
                    .write_unaligned(src.cast::<u32>().read_unaligned());
                to.add(n - 4)
                    .cast::<u32>()
                    .write_unaligned(src.add(n - 4).cast::<u32>().read_unaligned());
            } else if n >= 2 {
                to.cast::<u16>()
                    .write_unaligned(src.cast::<u16>().read_unaligned());
                to.add(n - 2)
                    .cast::<u16>()
                    .write_unaligned(src.add(n - 2).cast::<u16>().read_unaligned());
            } else if n == 1 {
                to.write(src.read());
            }
            self.cur = to.add(n);
        }
        true
    }

    /// [`DynSlot::write_raw`] of more than 16 bytes, out of line (so that the short
    /// writes' path saves no register for a call).
    ///
    /// # Safety
    /// As [`DynSlot::write_raw`].
    #[cold]
    #[inline(never)]
    unsafe fn write_long(&mut self, src: *const u8, n: usize) -> bool {
        if n > self.remaining() {
            return false;
        }
        // SAFETY: as in `write_raw`: inside our payload, `src` readable and disjoint.
        unsafe {
            std::ptr::copy_nonoverlapping(src, self.cur, n);
            self.cur = self.cur.add(n);
        }
        true
    }

    /// Appends `bytes` (see [`DynSlot::write_raw`]).
    #[inline]
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: a slice is readable for its length; it cannot point into the record,
        // which no Rust reference covers.
        unsafe { self.write_raw(bytes.as_ptr(), bytes.len()) }
    }

    /// Appends `n` copies of `byte` (refused as [`DynSlot::write_raw`]).
    #[inline]
    pub fn fill(&mut self, byte: u8, n: usize) -> bool {
        if n > self.remaining() {
            return false;
        }
        if n != 0 {
            // SAFETY: `cur..cur + n` is inside our payload (checked above).
            unsafe {
                std::ptr::write_bytes(self.cur, byte, n);
                self.cur = self.cur.add(n);
            }
        }
        true
    }

    /// Commits the record (payload bytes not written are zero), copies it into the
    /// event's other channels, and frees the slot. Nothing for a free slot (a second
    /// commit).
    #[inline(always)]
    pub fn commit(&mut self) {
        let n = self.remaining();
        if self.cur.is_null() {
            return;
        }
        if n != 0 {
            // A probe that wrote less than it reserved: no stale bytes in the trace.
            // SAFETY: `cur..end` is the rest of our payload.
            unsafe { std::ptr::write_bytes(self.cur, 0, n) };
        }
        if let Some(cs) = self.many {
            let c = &self.copies;
            // SAFETY: `end - payload_bytes .. end` is our payload, fully written now.
            let payload = unsafe {
                std::slice::from_raw_parts(self.end.sub(c.payload_bytes), c.payload_bytes)
            };
            c.write(cs, payload);
        }
        if let Some(p) = self.pending.take() {
            p.commit();
        }
        self.cur = std::ptr::null_mut();
        self.end = std::ptr::null_mut();
        // SAFETY: set at reserve to the counter of the `ThreadRecords` holding this slot,
        // alive while the slot is.
        if let Some(h) = unsafe { self.held.as_ref() } {
            h.leave();
        }
    }
}

impl DynSlot {
    /// A reservation was made for this slot: its payload is `payload_bytes` at `payload`.
    ///
    /// # Safety
    /// `payload..payload + payload_bytes` is the tail of the record `pending` commits.
    #[inline(always)]
    pub(crate) unsafe fn set_reserved(
        &mut self,
        payload: *mut u8,
        payload_bytes: usize,
        pending: rttng_ringbuf::Pending<'static>,
    ) {
        self.cur = payload;
        // SAFETY: caller's contract.
        self.end = unsafe { payload.add(payload_bytes) };
        self.pending = Some(pending);
    }

    #[cold]
    #[inline(never)]
    fn set_copies(
        &mut self,
        cs: &'static Callsite,
        first: u64,
        accepted: u8,
        cpu: u32,
        ip: u64,
        payload_bytes: usize,
    ) {
        self.many = Some(cs);
        self.copies = Copies {
            first,
            accepted,
            cpu,
            ip,
            payload_bytes,
        };
    }
}

impl Copies {
    #[cold]
    #[inline(never)]
    fn write(&self, cs: &Callsite, payload: &[u8]) {
        let raw = Raw(payload);
        let len = payload.len();
        for (i, t) in cs.targets.iter().enumerate() {
            let t = t.load(Ordering::Acquire);
            if t == 0 || t == self.first || (t & FILTERED != 0 && self.accepted & (1 << i) == 0) {
                continue;
            }
            let (slot, event_id) = crate::callsite::unpack_target(t);
            if let Some(ch) = channel::get(slot) {
                ch.write_event(self.cpu, event_id, len, &raw, &len, self.ip);
            }
        }
    }
}

/// Longest write [`DynSlot::write_short`] takes: two fixed-size moves of 8 bytes.
pub const SHORT_WRITE_BYTES: usize = 16;

/// Whether a byte of `x` is zero (the classic carry trick: exact for "any", which is all
/// that is asked).
macro_rules! has_zero_byte {
    ($t:ty, $x:expr) => {{
        let x: $t = $x;
        let ones = <$t>::MAX / 0xFF;
        (x.wrapping_sub(ones) & !x & (ones << 7)) != 0
    }};
}

impl DynSlot {
    /// Appends a C string its producer measured as `len` bytes with the NUL (LTTng's
    /// `event_strcpy`): the bytes before its first NUL, at most `len - 1`, padded with `#`
    /// to `len - 1` when the string got shorter since it was measured, then a NUL. Refused
    /// (false, nothing written) when `len` is 0 or more than what is left.
    ///
    /// # Safety
    /// `src` is null (written as an empty string, padded) or a NUL-terminated string,
    /// read up to its first NUL or `len - 1` bytes. A string of at most 16 bytes is read
    /// with two fixed-size loads that may cover bytes past its NUL, but never past the
    /// `len - 1` bytes the producer measured nor past the memory page of its first byte.
    #[inline(always)]
    pub unsafe fn write_cstr(&mut self, src: *const u8, len: usize) -> bool {
        if len == 0 || len > self.remaining() {
            return false;
        }
        let n = len - 1;
        // Short strings (the usual case): no strnlen call. Loads stay inside the page of
        // `src` (mapped: its first byte is the string's), as libc's own string functions do.
        if !src.is_null()
            && n <= 16
            && (src as usize & (SHORT_STRING_PAGE_BYTES - 1)) + n <= SHORT_STRING_PAGE_BYTES
        {
            let to = self.cur;
            // SAFETY: `to..to + len` is inside our payload (`len <= remaining`); `src..src +
            // n` is readable (see above: within the measured string and the page of its
            // first byte); each pair of fixed-size loads and stores covers exactly the
            // first `n` bytes of both. The stores happen only when no NUL is among the
            // loaded bytes (else the general path below writes the string).
            unsafe {
                // By ranges (compares, not a jump table), as `write_short`.
                let ok = if n >= 8 {
                    let a = src.cast::<u64>().read_unaligned();
                    let b = src.add(n - 8).cast::<u64>().read_unaligned();
                    let ok = !has_zero_byte!(u64, a) && !has_zero_byte!(u64, b);
                    if ok {
                        to.cast::<u64>().write_unaligned(a);
                        to.add(n - 8).cast::<u64>().write_unaligned(b);
                    }
                    ok
                } else if n >= 4 {
                    let a = src.cast::<u32>().read_unaligned();
                    let b = src.add(n - 4).cast::<u32>().read_unaligned();
                    let ok = !has_zero_byte!(u32, a) && !has_zero_byte!(u32, b);
                    if ok {
                        to.cast::<u32>().write_unaligned(a);
                        to.add(n - 4).cast::<u32>().write_unaligned(b);
                    }
                    ok
                } else if n >= 2 {
                    let a = src.cast::<u16>().read_unaligned();
                    let b = src.add(n - 2).cast::<u16>().read_unaligned();
                    let ok = !has_zero_byte!(u16, a) && !has_zero_byte!(u16, b);
                    if ok {
                        to.cast::<u16>().write_unaligned(a);
                        to.add(n - 2).cast::<u16>().write_unaligned(b);
                    }
                    ok
                } else if n == 1 {
                    let a = src.read();
                    let ok = a != 0;
                    if ok {
                        to.write(a);
                    }
                    ok
                } else {
                    true
                };
                if ok {
                    to.add(n).write(0);
                    self.cur = to.add(len);
                    return true;
                }
            }
        }
        // SAFETY: caller's contract.
        unsafe { self.write_cstr_slow(src, len) }
    }

    /// [`DynSlot::write_cstr`] for long strings, strings in the last bytes of a page, and
    /// strings that got shorter. `len` is in 1..=remaining (checked by the caller).
    ///
    /// # Safety
    /// As [`DynSlot::write_cstr`].
    #[inline(never)]
    unsafe fn write_cstr_slow(&mut self, src: *const u8, len: usize) -> bool {
        let n = if src.is_null() {
            0
        } else {
            // SAFETY: a NUL-terminated string (caller): strnlen reads at most `len - 1`
            // bytes of it, stopping at its NUL.
            unsafe { libc::strnlen(src.cast(), len - 1) }
        };
        // SAFETY: strnlen found `n` readable bytes at `src` (none when null); `n < len <=
        // remaining`, so they fit.
        unsafe { self.write_raw(src, n) };
        // The string changed between the size pass and now: pad as LTTng does.
        self.fill(b'#', len - 1 - n);
        self.fill(0, 1)
    }
}

/// Strings are read by fixed-size loads only inside the page of their first byte (the
/// smallest page size of the platforms the drop-in runs on).
const SHORT_STRING_PAGE_BYTES: usize = 4096;

/// Why [`ThreadRecords::begin`] reserved nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginError {
    /// [`MAX_NESTED_RECORDS`] records are in progress on this thread.
    Nested,
    /// The event records nowhere now, or the buffer refused the record (counted as
    /// discarded).
    NotRecorded,
}

/// The records in progress of one thread, for a producer whose writes and commit come in
/// separate calls (the drop-in's C probes: `event_reserve`, `event_write`…,
/// `event_commit`). Lives in a thread-local of the producer, on the thread that uses it;
/// dropping it commits what is still in progress. No lock, no allocation after its first
/// record (which claims the thread's reclaim counter).
#[derive(Debug)]
pub struct ThreadRecords {
    slots: [std::cell::UnsafeCell<DynSlot>; MAX_NESTED_RECORDS],
    held: std::cell::UnsafeCell<Option<crate::reclaim::Held>>,
}

impl Default for ThreadRecords {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadRecords {
    pub const fn new() -> ThreadRecords {
        ThreadRecords {
            slots: [const { std::cell::UnsafeCell::new(DynSlot::FREE) }; MAX_NESTED_RECORDS],
            held: std::cell::UnsafeCell::new(None),
        }
    }

    #[inline(always)]
    fn held(&self) -> Option<&crate::reclaim::Held> {
        // SAFETY: written only by `claim_held`, on this thread, before any record uses
        // it; never changed afterwards (until drop).
        unsafe { (*self.held.get()).as_ref() }
    }

    #[cold]
    #[inline(never)]
    fn claim_held(&self) -> &crate::reclaim::Held {
        // SAFETY: this thread's own state; a signal handler interrupting the claim finds
        // `None` too and claims its own counter, which this store then replaces (that
        // handler's record, committed before we resume, left it at depth 0). A counter
        // replaced so stays taken (a leak of one counter, never a shared one).
        unsafe { (*self.held.get()).insert(crate::reclaim::Held::claim()) }
    }

    /// Reserves a record of `payload_bytes` for run-time event `cs` (header and contexts
    /// written, as [`DynamicCallsite::begin_filtered`]) in a free slot, and returns the
    /// slot: write its payload, then [`DynSlot::commit`] it, through the pointer (valid
    /// while `self` lives; the slot is this record's until its commit). `ip` gives the
    /// instrumented code's address, read only when a context or a copy needs it.
    #[inline(always)]
    pub fn begin(
        &self,
        cs: DynamicCallsite,
        payload_bytes: usize,
        ip: impl Fn() -> u64 + Copy,
        accepted: u8,
    ) -> Result<*mut DynSlot, BeginError> {
        // First, while nothing else is live (a system call where the kernel offers no
        // rseq area).
        let cpu = crate::sys::cpu();
        // A free slot, marked taken at once so that a signal handler's record takes
        // another (mark: non-null `cur`, no room, no commit).
        let mut slot = None;
        for s in &self.slots {
            let p = s.get();
            // SAFETY: this thread's own slots; see `ThreadRecords` (signal handlers take
            // other slots and free theirs before we resume).
            if unsafe { (*p).cur.is_null() } {
                // SAFETY: as above.
                unsafe {
                    (*p).cur = std::ptr::NonNull::dangling().as_ptr();
                    (*p).end = (*p).cur;
                }
                slot = Some(p);
                break;
            }
        }
        let Some(slot) = slot else {
            return Err(BeginError::Nested);
        };
        // SAFETY: taken above; ours until commit or the release below.
        let s = unsafe { &mut *slot };
        match self.begin_in(s, cs, cpu, payload_bytes, ip, accepted) {
            true => Ok(slot),
            false => {
                s.cur = std::ptr::null_mut();
                s.end = std::ptr::null_mut();
                Err(BeginError::NotRecorded)
            }
        }
    }

    #[inline(always)]
    fn begin_in(
        &self,
        s: &mut DynSlot,
        cs: DynamicCallsite,
        cpu: u32,
        payload_bytes: usize,
        ip: impl Fn() -> u64 + Copy,
        accepted: u8,
    ) -> bool {
        // The usual case, as `Callsite::emit`: one session, no filter. The others (and
        // their copies into more channels) out of line.
        let t = cs.cs.targets[0].load(Ordering::Acquire);
        if (t as i64) > 0 && cs.cs.state.load(Ordering::Relaxed) != ON_MANY {
            s.many = None;
            return self.begin_target(s, t, cpu, payload_bytes, ip);
        }
        self.begin_in_slow(s, cs, cpu, payload_bytes, ip, accepted)
    }

    /// [`ThreadRecords::begin_in`] with filters or several sessions.
    #[inline(never)]
    fn begin_in_slow(
        &self,
        s: &mut DynSlot,
        cs: DynamicCallsite,
        cpu: u32,
        payload_bytes: usize,
        ip: impl Fn() -> u64 + Copy,
        accepted: u8,
    ) -> bool {
        let ip_value = ip();
        let ip = move || ip_value;
        let many = cs.cs.state.load(Ordering::Relaxed) == ON_MANY;
        let first = cs.first_target_slow(accepted);
        if first == 0 {
            return false;
        }
        s.many = None;
        if !self.begin_target(s, first, cpu, payload_bytes, ip) {
            return false;
        }
        if many {
            s.set_copies(cs.cs, first, accepted, cpu, ip(), payload_bytes);
        }
        true
    }

    /// Reserves in target `first` (non-zero, its filter passed) for slot `s`.
    #[inline(always)]
    fn begin_target(
        &self,
        s: &mut DynSlot,
        first: u64,
        cpu: u32,
        payload_bytes: usize,
        ip: impl Fn() -> u64 + Copy,
    ) -> bool {
        let (slot, event_id) = crate::callsite::unpack_target(first);
        let held = match self.held() {
            Some(h) => h,
            None => self.claim_held(),
        };
        // From the load of the channel pointer to the commit, the channel is not unmapped.
        held.enter();
        // Stored now, so that it needs no register across the reservation.
        s.held = held;
        let Some(ch) = channel::get(slot) else {
            held.leave();
            return false;
        };
        if !ch.begin_event_raw(s, cpu, event_id, payload_bytes, ip) {
            held.leave();
            return false;
        }
        true
    }
}

impl Drop for ThreadRecords {
    /// The thread exits with records in progress (a probe that never committed): commit
    /// them, so that their sub-buffers can be consumed.
    fn drop(&mut self) {
        for i in 0..MAX_NESTED_RECORDS {
            let p = self.slots[i].get();
            // SAFETY: `&mut self`: nothing else uses the slots now.
            let s = unsafe { &mut *p };
            if s.pending.is_some() {
                s.commit();
            }
        }
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
