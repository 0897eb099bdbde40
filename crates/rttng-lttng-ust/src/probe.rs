//! The probe side: `lttng_ust_probe_register` turns a provider's descriptors into
//! rttng-ust run-time events (announced to the session daemons, enabled by their rules)
//! and hands the probe code LTTng's objects: per event an `event_common` +
//! `event_recorder` pair, all pointing to one channel whose ops vtable writes into
//! rttng-ust's ring buffer.
//!
//! Event path (the generated probe, then the vtable): `event_reserve` finds the event's
//! [`DynamicCallsite`] through the recorder's private pointer and reserves a record there
//! (header and contexts written); `event_write`/`event_strcpy`/`event_pstrcpy_pad` append
//! the payload; `event_commit` commits. The record in progress is built in place in one
//! of a few per-thread slots (rttng-ust's [`ThreadRecords`], [`MAX_NESTING`]: signal
//! handlers and probes inside probes), pointed to by the context's `priv`; the thread's
//! records are reached through an initial-exec thread-local pointer (`compat.c`), two
//! instructions. Every write is checked against what the reservation has left (sizes
//! come from the app's code). No lock, no allocation after a thread's first event.
//!
//! Bad descriptors give one log line and are ignored (the provider still gets a cookie:
//! LTTng's generated constructor aborts on NULL).
//!
//! Not here: descriptor parsing (`desc`), call sites (`tracepoint`).

use crate::abi::*;
use crate::desc::{self, FilterSlot, SlotKind};
use rttng_ust::dynamic::{
    self, BeginError, DynSlot, DynamicCallsite, DynamicEvent, FilterType, FilterValue,
    FilterValues, ThreadRecords,
};
use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;
use std::time::Duration;

/// Records in progress on one thread at once (as LTTng's 4 nested reserves).
pub const MAX_NESTING: usize = dynamic::MAX_NESTED_RECORDS;

/// How long a provider registered after the tracer's start waits for the session daemons
/// to apply their rules to its events (LTTng's default registration wait).
const ANNOUNCE_WAIT: Duration = Duration::from_secs(3);

/// One event of a registered provider: LTTng's objects, then ours.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct EventBlock {
    /// Read by the C probe; we write only `eval_filter` (atomically) after publication.
    common: UnsafeCell<EventCommon>,
    recorder: EventRecorder,
    pub(crate) callsite: DynamicCallsite,
    /// The filterable slots of the probe's interpreter stack, in the order of the event's
    /// `filter_fields`.
    filter: Vec<FilterSlot>,
}

impl EventBlock {
    fn common_ptr(&self) -> *mut EventCommon {
        self.common.get()
    }

    /// Whether the probe runs the filter.
    #[inline]
    fn eval_filter(&self) -> bool {
        // SAFETY: as in `set_eval_filter`.
        let p = unsafe { std::ptr::addr_of_mut!((*self.common_ptr()).eval_filter) };
        // SAFETY: valid and aligned; only accessed atomically or by volatile reads.
        unsafe { std::sync::atomic::AtomicI32::from_ptr(p) }
            .load(std::sync::atomic::Ordering::Relaxed)
            != 0
    }

    /// Tells the probe whether to run the filter (some target is filtered).
    fn set_eval_filter(&self, on: bool) {
        // SAFETY: `eval_filter` is an aligned c_int inside our leaked block; the C probe
        // reads it with a volatile load, we write it with an atomic store.
        let p = unsafe { std::ptr::addr_of_mut!((*self.common_ptr()).eval_filter) };
        // SAFETY: as above: valid, aligned, only accessed atomically or by volatile reads.
        unsafe { std::sync::atomic::AtomicI32::from_ptr(p) }
            .store(c_int::from(on), std::sync::atomic::Ordering::Release);
    }
}

#[repr(transparent)]
struct Wrap<T>(T);
// SAFETY: the wrapped LTTng objects are written once before being shared and only read
// afterwards (the C probe code reads them); the pointers inside point to other statics.
unsafe impl<T> Sync for Wrap<T> {}

static SESSION: Wrap<Session> = Wrap(Session {
    struct_size: std::mem::size_of::<Session>() as u32,
    priv_: std::ptr::null_mut(),
    active: 1,
});

static CHANNEL: Wrap<ChannelCommon> = Wrap(ChannelCommon {
    struct_size: std::mem::size_of::<ChannelCommon>() as u32,
    priv_: std::ptr::null_mut(),
    type_: 0,
    child: std::ptr::addr_of!(CHANNEL_BUFFER) as *mut c_void,
    enabled: 1,
    session: std::ptr::addr_of!(SESSION) as *mut Session,
});

static CHANNEL_BUFFER: Wrap<ChannelBuffer> = Wrap(ChannelBuffer {
    struct_size: std::mem::size_of::<ChannelBuffer>() as u32,
    parent: std::ptr::addr_of!(CHANNEL) as *mut ChannelCommon,
    priv_: std::ptr::null_mut(),
    ops: std::ptr::addr_of!(OPS) as *mut ChannelBufferOps,
});

static OPS: Wrap<ChannelBufferOps> = Wrap(ChannelBufferOps {
    struct_size: std::mem::size_of::<ChannelBufferOps>() as u32,
    priv_: std::ptr::null_mut(),
    event_reserve,
    event_commit,
    event_write,
    event_strcpy,
    event_pstrcpy_pad,
});

/// A cookie for the provider's destructor.
#[derive(Debug)]
struct Registered {
    provider: String,
    /// Empty for a refused provider (its cookie only exists to keep the app alive).
    events: Vec<(String, &'static EventBlock)>,
}

#[derive(Default)]
struct Probes {
    /// Registered providers by name.
    providers: HashMap<String, usize>,
    /// Event index → event name and block address, for the state hook.
    by_index: HashMap<usize, (String, usize)>,
}

static PROBES: Mutex<Option<Probes>> = Mutex::new(None);

fn with_probes<R>(f: impl FnOnce(&mut Probes) -> R) -> R {
    let mut g = PROBES.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Probes::default))
}

/// rttng-ust's state hook: a run-time event started or stopped recording.
pub(crate) fn state_hook(index: usize, on: bool) {
    let name = with_probes(|p| p.by_index.get(&index).cloned());
    match name {
        Some((n, block)) => {
            // SAFETY: the address of a leaked EventBlock (never freed).
            let block = unsafe { &*(block as *const EventBlock) };
            block.set_eval_filter(block.callsite.is_filtered());
            crate::tracepoint::set_recording(&n, on)
        }
        None => {
            if !crate::statedump::state_hook(index, on) {
                crate::tracef::state_hook(index, on);
            }
        }
    }
}

fn leak_cookie(r: Registered) -> *mut c_void {
    Box::into_raw(Box::new(r)).cast()
}

/// `lttng_ust_probe_register`.
///
/// # Safety
/// `d` is null or a provider's probe descriptor that stays mapped until unregistered.
pub unsafe fn register(d: *const ProbeDesc) -> *mut c_void {
    // SAFETY: caller's contract.
    let (provider, n) = match unsafe { desc::provider(d) } {
        Ok(v) => v,
        Err(e) => {
            crate::log(&format!("probe provider ignored: {e}"));
            return leak_cookie(Registered {
                provider: String::new(),
                events: Vec::new(),
            });
        }
    };
    let duplicate = with_probes(|p| {
        let count = p.providers.entry(provider.to_string()).or_insert(0);
        *count += 1;
        *count > 1
    });
    if duplicate {
        crate::log(&format!(
            "probe provider {provider} is already registered; this copy is ignored"
        ));
        return leak_cookie(Registered {
            provider: provider.to_string(),
            events: Vec::new(),
        });
    }
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: checked by `desc::provider`; `i < n`.
        let ev = match unsafe { desc::event(d, provider, i) } {
            Ok(ev) => ev,
            Err(e) => {
                crate::log(&format!("event ignored: {e}"));
                continue;
            }
        };
        let filter: Vec<FilterSlot> = ev
            .filter
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.kind != SlotKind::Opaque)
            .collect();
        let filter_fields = filter
            .iter()
            .map(|f| {
                let t = match f.kind {
                    SlotKind::Float => FilterType::Float,
                    SlotKind::Str | SlotKind::Text => FilterType::Str,
                    _ => FilterType::Int,
                };
                (f.name.clone(), t)
            })
            .collect();
        let callsite = match dynamic::register(DynamicEvent {
            name: ev.name.clone(),
            loglevel: ev.loglevel,
            fields: ev.fields,
            filter_fields,
        }) {
            Ok(c) => c,
            Err(e) => {
                crate::log(&format!("event {} ignored: {e}", ev.name));
                continue;
            }
        };
        let block: &'static mut EventBlock = Box::leak(Box::new(EventBlock {
            common: UnsafeCell::new(EventCommon {
                struct_size: std::mem::size_of::<EventCommon>() as u32,
                priv_: std::ptr::null_mut(),
                type_: 0,
                child: std::ptr::null_mut(),
                enabled: 1,
                eval_filter: 0,
                run_filter: Some(run_filter),
            }),
            recorder: EventRecorder {
                struct_size: std::mem::size_of::<EventRecorder>() as u32,
                parent: std::ptr::null_mut(),
                priv_: std::ptr::null_mut(),
                chan: std::ptr::addr_of!(CHANNEL_BUFFER) as *mut ChannelBuffer,
            },
            callsite,
            filter,
        }));
        let bp: *mut EventBlock = block;
        block.common.get_mut().child = std::ptr::addr_of_mut!(block.recorder).cast();
        block.recorder.parent = block.common.get();
        block.recorder.priv_ = bp.cast();
        let block: &'static EventBlock = block;
        block.set_eval_filter(callsite.is_filtered());
        with_probes(|p| {
            p.by_index
                .insert(callsite.index(), (ev.name.clone(), bp as usize))
        });
        crate::tracepoint::attach(
            &ev.name,
            ev.signature,
            ev.callback,
            block.common_ptr().cast(),
            callsite.is_recording(),
        );
        events.push((ev.name, block));
    }
    if !events.is_empty() && crate::initialized() {
        // Registered after the tracer's start (a dlopen, or a constructor that ran after
        // ours): let the daemons enable these events before the provider's code runs.
        dynamic::wait_announced(ANNOUNCE_WAIT);
    }
    leak_cookie(Registered {
        provider: provider.to_string(),
        events,
    })
}

/// `lttng_ust_probe_unregister`: detaches the provider's probes and waits for a grace
/// period (its code is unmapped next). The events stay known to the daemons (as LTTng's
/// metadata keeps them) but never record again.
///
/// # Safety
/// `cookie` is null or what [`register`] returned, unregistered at most once.
pub unsafe fn unregister(cookie: *mut c_void) {
    if cookie.is_null() {
        return;
    }
    // SAFETY: caller's contract: our own Box.
    let r = unsafe { Box::from_raw(cookie.cast::<Registered>()) };
    for (name, block) in &r.events {
        block.callsite.retire();
        crate::tracepoint::detach(name);
    }
    if !r.events.is_empty() {
        with_probes(|p| {
            p.providers.remove(&r.provider);
            for (_, b) in &r.events {
                p.by_index.remove(&b.callsite.index());
            }
        });
    } else if !r.provider.is_empty() {
        with_probes(|p| {
            if let Some(c) = p.providers.get_mut(&r.provider) {
                *c = c.saturating_sub(1);
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Filters: the probe builds its interpreter stack and calls `run_filter` before reserving.

thread_local! {
    /// `run_filter`'s verdicts waiting for their `event_reserve`: (probe context address,
    /// accepted targets). A nested probe (signal handler) uses another entry: its probe
    /// context lives on another stack frame.
    static VERDICTS: UnsafeCell<[(usize, u8); MAX_NESTING]> =
        const { UnsafeCell::new([(0, 0); MAX_NESTING]) };
}

fn take_verdict(probe_ctx: *mut ProbeCtx) -> u8 {
    let key = probe_ctx as usize;
    if key == 0 {
        return 0;
    }
    VERDICTS
        .try_with(|v| {
            // SAFETY: only this thread touches its entries; a signal handler interrupting
            // us uses and clears its own (different key) entry before we resume.
            let v = unsafe { &mut *v.get() };
            match v.iter_mut().find(|e| e.0 == key) {
                Some(e) => {
                    e.0 = 0;
                    e.1
                }
                None => 0,
            }
        })
        .unwrap_or(0)
}

fn put_verdict(probe_ctx: *mut ProbeCtx, accepted: u8) -> bool {
    let key = probe_ctx as usize;
    if key == 0 {
        return false;
    }
    VERDICTS
        .try_with(|v| {
            // SAFETY: as in `take_verdict`.
            let v = unsafe { &mut *v.get() };
            match v.iter_mut().find(|e| e.0 == key || e.0 == 0) {
                Some(e) => {
                    *e = (key, accepted);
                    true
                }
                None => false,
            }
        })
        .unwrap_or(false)
}

/// Longest string a filter reads from the probe's arguments.
const MAX_FILTER_STRING_BYTES: usize = 1 << 16;

/// The probe's interpreter stack, read through an event's filter slots.
struct Stack<'a> {
    data: *const c_char,
    slots: &'a [FilterSlot],
}

impl FilterValues for Stack<'_> {
    fn filter_value(&self, index: usize) -> FilterValue<'_> {
        let Some(slot) = self.slots.get(index) else {
            return FilterValue::Absent;
        };
        // SAFETY: the generated probe filled its stack with one entry per filter field
        // at these offsets (§4.4), valid for the duration of run_filter; strings are the
        // probe's arguments (NUL-terminated, "(null)" for NULL), text arrays `count`
        // readable bytes.
        unsafe {
            let at = self.data.add(slot.offset);
            match slot.kind {
                SlotKind::Int => FilterValue::Int(std::ptr::read_unaligned(at.cast::<i64>())),
                SlotKind::Float => FilterValue::Float(std::ptr::read_unaligned(at.cast::<f64>())),
                SlotKind::Str => {
                    let p = std::ptr::read_unaligned(at.cast::<*const c_char>());
                    if p.is_null() {
                        return FilterValue::Absent;
                    }
                    let n = libc::strnlen(p, MAX_FILTER_STRING_BYTES);
                    FilterValue::Str(std::slice::from_raw_parts(p.cast::<u8>(), n))
                }
                SlotKind::Text => {
                    let n = std::ptr::read_unaligned(at.cast::<usize>());
                    let p = std::ptr::read_unaligned(at.add(8).cast::<*const u8>());
                    if p.is_null() {
                        return FilterValue::Absent;
                    }
                    let n = libc::strnlen(p.cast(), n.min(MAX_FILTER_STRING_BYTES));
                    FilterValue::Str(std::slice::from_raw_parts(p, n))
                }
                SlotKind::Opaque => FilterValue::Absent,
            }
        }
    }
}

/// `event_common->run_filter`: 0 records, 1 drops.
unsafe extern "C" fn run_filter(
    event: *const EventCommon,
    stack: *const c_char,
    probe_ctx: *mut ProbeCtx,
    _filter_ctx: *mut c_void,
) -> c_int {
    // SAFETY: `event` is the event_common we handed to the probe: the first field of its
    // EventBlock (repr(C), UnsafeCell is transparent).
    let Some(block) = (unsafe { event.cast::<EventBlock>().as_ref() }) else {
        return 1;
    };
    if stack.is_null() {
        return 1;
    }
    let values = Stack {
        data: stack,
        slots: &block.filter,
    };
    let accepted = block.callsite.filter(&values);
    if !block.callsite.records_with(accepted) {
        return 1;
    }
    // Without a place for the verdict the filtered targets cannot record it; the
    // unfiltered ones still do.
    put_verdict(probe_ctx, accepted);
    0
}

// ---------------------------------------------------------------------------------------
// The channel-ops vtable.

/// This thread's records in progress: a nested probe (signal handler, probe inside a probe)
/// takes the next free slot. Reached through an initial-exec pointer (`compat.c`) set on
/// the thread's first event; the writes and the commit reach their slot through the
/// context's `priv`.
struct Records(ThreadRecords);

impl Drop for Records {
    fn drop(&mut self) {
        // Events from later thread-local destructors find no records (and record nothing)
        // instead of this dying state.
        // SAFETY: clears this thread's own pointer.
        unsafe { rttng_compat_records_set(std::ptr::null_mut()) };
    }
}

thread_local! {
    static RECORDS: Records = const { Records(ThreadRecords::new()) };
}

extern "C" {
    fn rttng_compat_records_set(records: *mut c_void);
    #[cfg(not(target_arch = "x86_64"))]
    fn rttng_compat_records_get() -> *mut c_void;
}

/// The pointer `compat.c` keeps for this thread: its [`Records`] or null.
#[inline(always)]
fn records_ptr() -> *const Records {
    #[cfg(target_arch = "x86_64")]
    {
        let p: *const Records;
        // SAFETY: reads the calling thread's `rttng_compat_records`, an initial-exec
        // thread-local pointer defined in compat.c and linked into this library: its offset
        // from the thread pointer comes from the GOT (`@GOTTPOFF`, as the C compiler emits
        // for an initial-exec variable), then one load through `fs`. Two loads, no stack,
        // no flags; the symbol is resolved at link time (a missing one fails the link).
        unsafe {
            std::arch::asm!(
                "mov {p}, qword ptr [rip + rttng_compat_records@GOTTPOFF]",
                "mov {p}, qword ptr fs:[{p}]",
                p = out(reg) p,
                options(nostack, preserves_flags, readonly, pure),
            )
        };
        p
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: a plain read of this thread's pointer.
        unsafe { rttng_compat_records_get() as *const Records }
    }
}

/// This thread's records; None once its thread-locals are destroyed.
#[inline(always)]
fn records<'a>() -> Option<&'a ThreadRecords> {
    // SAFETY: a non-null pointer is this thread's `RECORDS` (set below), cleared before it
    // is destroyed; only this thread uses it.
    match unsafe { records_ptr().as_ref() } {
        Some(r) => Some(&r.0),
        None => records_slow(),
    }
}

#[cold]
#[inline(never)]
fn records_slow<'a>() -> Option<&'a ThreadRecords> {
    RECORDS
        .try_with(|r| {
            let p: *const Records = r;
            // SAFETY: sets this thread's own pointer to its own thread-local, which clears it
            // when it is destroyed.
            unsafe { rttng_compat_records_set(p as *mut c_void) };
            // SAFETY: the thread-local lives until this thread's destructors run, which
            // clear the pointer first.
            unsafe { &(*p).0 }
        })
        .ok()
}

/// The record a context's `priv` points to.
///
/// # Safety
/// `ctx` is null or a probe's context; its `priv_` is null or what [`event_reserve`] set
/// (a slot of this thread's records, free again after the commit).
#[inline(always)]
unsafe fn record<'a>(ctx: *mut RingBufferCtx) -> Option<&'a mut DynSlot> {
    // SAFETY: caller's contract.
    unsafe { (ctx.as_ref()?.priv_ as *mut DynSlot).as_mut() }
}

unsafe extern "C" fn event_reserve(ctx: *mut RingBufferCtx) -> c_int {
    // SAFETY: the probe passes its own context, built by lttng_ust_ring_buffer_ctx_init.
    let Some(c) = (unsafe { ctx.as_mut() }) else {
        return -libc::EINVAL;
    };
    if (c.struct_size as usize) < std::mem::size_of::<RingBufferCtx>() {
        return -libc::EINVAL;
    }
    let rec = c.client_priv as *const EventRecorder;
    // SAFETY: client_priv is the event_recorder we handed out (register), whose priv is
    // its EventBlock.
    let Some(block) = (unsafe {
        rec.as_ref()
            .and_then(|r| (r.priv_ as *const EventBlock).as_ref())
    }) else {
        return -libc::EINVAL;
    };
    // Read only when a context or a copy records it.
    let probe_ctx = c.probe_ctx;
    let ip = move || {
        // SAFETY: the probe's own probe context (alive during this call), or null.
        unsafe { probe_ctx.as_ref() }
            .filter(|p| p.struct_size as usize >= std::mem::size_of::<ProbeCtx>())
            .map_or(0, |p| p.ip as u64)
    };
    let Some(records) = records() else {
        return -libc::EPERM; // the thread is exiting
    };
    // Filtered targets record only what `run_filter` accepted for this very probe call
    // (found by its probe context); without a verdict they record nothing. An event
    // without filters (the usual case) takes no second thread-local access.
    let accepted = if block.eval_filter() {
        take_verdict(c.probe_ctx)
    } else {
        0
    };
    match records.begin(block.callsite, c.data_size, ip, accepted) {
        Ok(slot) => {
            c.priv_ = slot.cast();
            0
        }
        Err(BeginError::Nested) => -libc::EPERM,
        Err(BeginError::NotRecorded) => -libc::ENOBUFS,
    }
}

unsafe extern "C" fn event_commit(ctx: *mut RingBufferCtx) {
    // SAFETY: a context event_reserve accepted.
    if let Some(r) = unsafe { record(ctx) } {
        r.commit();
    }
}

unsafe extern "C" fn event_write(
    ctx: *mut RingBufferCtx,
    src: *const c_void,
    len: usize,
    _align: usize,
) {
    // SAFETY: a context event_reserve accepted.
    let Some(r) = (unsafe { record(ctx) }) else {
        return;
    };
    if src.is_null() {
        return;
    }
    // SAFETY: the probe passes `len` readable bytes at `src` (a value or an array of its
    // own); the write refuses more than the reservation has left before reading any.
    unsafe { r.write_raw(src.cast(), len) };
}

unsafe extern "C" fn event_strcpy(ctx: *mut RingBufferCtx, src: *const c_char, len: usize) {
    // SAFETY: a context event_reserve accepted.
    let Some(r) = (unsafe { record(ctx) }) else {
        return;
    };
    // SAFETY: `src` is the probe's string argument (it replaced NULL by "(null)"), which
    // it measured as `len` bytes with its NUL just before (its size pass).
    unsafe { r.write_cstr(src.cast(), len) };
}

unsafe extern "C" fn event_pstrcpy_pad(ctx: *mut RingBufferCtx, src: *const c_char, len: usize) {
    // SAFETY: a context event_reserve accepted.
    let Some(r) = (unsafe { record(ctx) }) else {
        return;
    };
    if len > r.remaining() {
        return;
    }
    let n = if src.is_null() {
        0
    } else {
        // SAFETY: `src` holds at least `len` bytes or a NUL before them; strnlen stops at
        // either.
        unsafe { libc::strnlen(src, len) }
    };
    // SAFETY: `n` readable bytes at `src` (strnlen; none when null), `n <= len <=
    // remaining`.
    unsafe { r.write_raw(src.cast(), n) };
    r.fill(0, len - n);
}
