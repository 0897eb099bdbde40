//! Application context providers (`lttng_ust_context_provider_register`/`_unregister`,
//! as LTTng-UST 2.13's `ust-context-provider.h` declares them): the Java agents' JNI
//! library (`liblttng-ust-context-jni`) registers one per context retriever (`$app.NAME`),
//! and a C program may too. A channel with `$app.PROVIDER:NAME` contexts
//! (rttng-ust's `appctx`) asks, per record, the provider named `$app.PROVIDER` for the
//! value's size (`get_size`) and has it write tag and value (`record`) through a channel
//! whose ops write into the record's context bytes, as LTTng's tracer does; a context
//! whose provider is not registered records the `_none` tag.
//!
//! Lock-free on the event path: per interned context name an entry (LTTng's
//! `lttng_ust_app_context`, the `priv` the provider gets) with the provider's pointer,
//! set and cleared under a lock; `unregister` waits for an urcu-ust grace period (C probes
//! run inside read-side sections) before the provider may be freed.
//!
//! Filters read a context through the provider's `get_value` ([`value`]), as lttng-ust
//! 2.13's interpreter does (`BYTECODE_OP_GET_CONTEXT_REF` in `lttng-bytecode-interpreter.c`):
//! only `S64`, `DOUBLE` and a non-NULL `STRING` are values; `NONE`, a NULL string, and every
//! other selector (`S8`…`S32`, `U8`…`U64`, `FLOAT` included: that op's switch does not
//! take them) are no value, which rejects the event; a missing provider or callback too
//! (LTTng's dummy `get_value` says `NONE`).
//!
//! Not here: more than [`MAX_PROVIDERS`] providers.

use crate::abi::{ChannelBuffer, ChannelBufferOps, ProbeCtx, RingBufferCtx};
use rttng_ust::appctx::{self, MAX_APP_CONTEXTS};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};

/// Most providers registered at once.
pub const MAX_PROVIDERS: usize = 256;
/// Longest provider name accepted (`$app.NAME`).
const MAX_PROVIDER_NAME_BYTES: usize = 256;

/// `struct lttng_ust_context_provider` (2.13).
#[repr(C)]
pub struct Provider {
    pub struct_size: u32,
    pub name: *const c_char,
    pub get_size: Option<unsafe extern "C" fn(*mut c_void, *mut ProbeCtx, usize) -> usize>,
    pub record: Option<
        unsafe extern "C" fn(*mut c_void, *mut ProbeCtx, *mut RingBufferCtx, *mut ChannelBuffer),
    >,
    pub get_value: Option<unsafe extern "C" fn(*mut c_void, *mut ProbeCtx, *mut c_void)>,
    pub priv_: *mut c_void,
}

/// `struct lttng_ust_app_context` (2.13): what the provider gets as `priv`.
#[repr(C)]
struct AppContext {
    struct_size: u32,
    event_field: *mut c_void,
    ctx_name: *mut c_char,
}

/// One interned context name: its `priv` for the provider, the provider's name
/// (`$app.PROVIDER`) and the registered provider, if any.
struct Entry {
    app: AppContext,
    provider_name: String,
    provider: AtomicPtr<Provider>,
}

// SAFETY: `app` is written once before publication and read-only after; the provider
// pointer is atomic.
unsafe impl Sync for Entry {}
// SAFETY: as above.
unsafe impl Send for Entry {}

static ENTRIES: [OnceLock<Entry>; MAX_APP_CONTEXTS] = [const { OnceLock::new() }; MAX_APP_CONTEXTS];

/// The registered providers: (name, provider).
struct Registered(Vec<(String, usize)>);
static PROVIDERS: Mutex<Registered> = Mutex::new(Registered(Vec::new()));

extern "C" {
    fn lttng_ust_urcu_synchronize_rcu();
}

fn registered() -> std::sync::MutexGuard<'static, Registered> {
    PROVIDERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The entry of context `index` (`PROVIDER:NAME`), made on first use.
fn entry(index: u16, name: &str) -> Option<&'static Entry> {
    let cell = ENTRIES.get(usize::from(index))?;
    if let Some(e) = cell.get() {
        return Some(e);
    }
    // First record of this context: its entry (allocation once per context name).
    let provider_name = format!("$app.{}", name.split(':').next().unwrap_or(""));
    let full = CString::new(format!("$app.{name}")).ok()?;
    let e = Entry {
        app: AppContext {
            struct_size: std::mem::size_of::<AppContext>() as u32,
            event_field: std::ptr::null_mut(),
            ctx_name: full.into_raw(),
        },
        provider_name,
        provider: AtomicPtr::new(std::ptr::null_mut()),
    };
    let reg = registered();
    let found = reg
        .0
        .iter()
        .find(|(n, _)| *n == e.provider_name)
        .map_or(std::ptr::null_mut(), |(_, p)| *p as *mut Provider);
    e.provider.store(found, Ordering::Release);
    let _ = cell.set(e);
    drop(reg);
    cell.get()
}

fn provider_of(index: u16, name: &str) -> Option<(&'static Entry, &'static Provider)> {
    let e = entry(index, name)?;
    // SAFETY: a registered provider stays valid until unregister's grace period ends.
    let p = unsafe { e.provider.load(Ordering::Acquire).as_ref()? };
    Some((e, p))
}

fn probe_ctx() -> ProbeCtx {
    ProbeCtx {
        struct_size: std::mem::size_of::<ProbeCtx>() as u32,
        ip: std::ptr::null_mut(),
    }
}

fn size(index: u16, name: &str) -> usize {
    let Some((e, p)) = provider_of(index, name) else {
        return 1;
    };
    let Some(get_size) = p.get_size else { return 1 };
    let mut pc = probe_ctx();
    // SAFETY: the provider's own callback with the priv LTTng gives it.
    unsafe { get_size(std::ptr::addr_of!(e.app) as *mut c_void, &mut pc, 0) }
}

/// Where a provider's `record` writes: the context bytes of the record in progress.
struct Cursor {
    out: *mut u8,
    len: usize,
    pos: usize,
}

unsafe fn cursor<'a>(ctx: *mut RingBufferCtx) -> Option<&'a mut Cursor> {
    // SAFETY: ctx is the context `write` built, whose priv is its cursor.
    unsafe { (ctx.as_ref()?.priv_ as *mut Cursor).as_mut() }
}

unsafe fn put(ctx: *mut RingBufferCtx, src: *const u8, n: usize, pad_to: usize, pad: u8) {
    // SAFETY: as in `cursor`.
    let Some(c) = (unsafe { cursor(ctx) }) else {
        return;
    };
    let room = c.len - c.pos;
    if pad_to > room || n > pad_to || (n > 0 && src.is_null()) {
        c.pos = c.len; // refuse what does not fit: the rest stays zero
        return;
    }
    // SAFETY: `out` has `len` bytes; we write `pad_to` <= room of them at `pos`; `src`
    // holds `n` readable bytes (the provider's value).
    unsafe {
        if n > 0 {
            std::ptr::copy_nonoverlapping(src, c.out.add(c.pos), n);
        }
        std::ptr::write_bytes(c.out.add(c.pos + n), pad, pad_to - n);
    }
    c.pos += pad_to;
}

unsafe extern "C" fn ctx_reserve(_ctx: *mut RingBufferCtx) -> c_int {
    -libc::EPERM
}
unsafe extern "C" fn ctx_commit(_ctx: *mut RingBufferCtx) {}
unsafe extern "C" fn ctx_write(ctx: *mut RingBufferCtx, src: *const c_void, len: usize, _a: usize) {
    // SAFETY: the provider passes `len` readable bytes.
    unsafe { put(ctx, src.cast(), len, len, 0) }
}
unsafe extern "C" fn ctx_strcpy(ctx: *mut RingBufferCtx, src: *const c_char, len: usize) {
    if len == 0 {
        return;
    }
    let n = if src.is_null() {
        0
    } else {
        // SAFETY: a C string; strnlen reads at most len - 1 bytes of it.
        unsafe { libc::strnlen(src, len - 1) }
    };
    // SAFETY: as above; the NUL comes from the padding (then the last byte is set).
    unsafe { put(ctx, src.cast(), n, len - 1, b'#') };
    // SAFETY: as above.
    unsafe { put(ctx, [0u8].as_ptr(), 1, 1, 0) };
}
unsafe extern "C" fn ctx_pstrcpy_pad(ctx: *mut RingBufferCtx, src: *const c_char, len: usize) {
    let n = if src.is_null() {
        0
    } else {
        // SAFETY: at most len bytes or a NUL before them; strnlen stops at either.
        unsafe { libc::strnlen(src, len) }
    };
    // SAFETY: as above.
    unsafe { put(ctx, src.cast(), n, len, 0) }
}

struct Ops(ChannelBufferOps);
// SAFETY: function pointers and a null priv, never written.
unsafe impl Sync for Ops {}
static OPS: Ops = Ops(ChannelBufferOps {
    struct_size: std::mem::size_of::<ChannelBufferOps>() as u32,
    priv_: std::ptr::null_mut(),
    event_reserve: ctx_reserve,
    event_commit: ctx_commit,
    event_write: ctx_write,
    event_strcpy: ctx_strcpy,
    event_pstrcpy_pad: ctx_pstrcpy_pad,
});

fn write(index: u16, name: &str, out: &mut [u8]) {
    out.fill(0);
    let Some((e, p)) = provider_of(index, name) else {
        return;
    };
    let Some(record) = p.record else { return };
    let mut cur = Cursor {
        out: out.as_mut_ptr(),
        len: out.len(),
        pos: 0,
    };
    let mut chan = ChannelBuffer {
        struct_size: std::mem::size_of::<ChannelBuffer>() as u32,
        parent: std::ptr::null_mut(),
        priv_: std::ptr::null_mut(),
        ops: std::ptr::addr_of!(OPS.0) as *mut ChannelBufferOps,
    };
    let mut pc = probe_ctx();
    let mut ctx = RingBufferCtx {
        struct_size: std::mem::size_of::<RingBufferCtx>() as u32,
        client_priv: std::ptr::null_mut(),
        data_size: out.len(),
        largest_align: 1,
        probe_ctx: &mut pc,
        priv_: std::ptr::addr_of_mut!(cur).cast(),
    };
    // SAFETY: the provider's callback, with its priv, our context (priv: the cursor over
    // `out`) and a channel whose ops write only through that cursor.
    unsafe {
        record(
            std::ptr::addr_of!(e.app) as *mut c_void,
            &mut pc,
            &mut ctx,
            &mut chan,
        )
    };
}

/// `struct lttng_ust_ctx_value` (2.13, `src/common/ust-context-provider.h`): the selector
/// (`enum lttng_ust_dynamic_type`, an `int`) and the union.
#[repr(C)]
struct CtxValue {
    sel: c_int,
    u: u64,
}

/// `LTTNG_UST_DYNAMIC_TYPE_S64`, `_DOUBLE`, `_STRING`.
const SEL_S64: c_int = 4;
const SEL_DOUBLE: c_int = 10;
const SEL_STRING: c_int = 11;

/// The value of context `index` for a filter: the provider's `get_value`, read as
/// lttng-ust's interpreter reads it.
fn value(index: u16, name: &str) -> appctx::RawValue {
    use appctx::RawValue;
    let Some((e, p)) = provider_of(index, name) else {
        return RawValue::None;
    };
    let Some(get_value) = p.get_value else {
        return RawValue::None;
    };
    // A selector the provider does not set reads as NONE (0).
    let mut v = CtxValue { sel: 0, u: 0 };
    let mut pc = probe_ctx();
    // SAFETY: the provider's own callback with the priv LTTng gives it and a value of the
    // 2.13 layout.
    unsafe {
        get_value(
            std::ptr::addr_of!(e.app) as *mut c_void,
            &mut pc,
            std::ptr::addr_of_mut!(v).cast(),
        )
    };
    match v.sel {
        SEL_S64 => RawValue::Int(v.u as i64),
        SEL_DOUBLE => RawValue::Float(f64::from_bits(v.u)),
        SEL_STRING if v.u != 0 => {
            let ptr = v.u as usize as *const c_char;
            // SAFETY: a C string the provider keeps valid during this call (LTTng's
            // contract); strnlen reads at most the bound.
            let len = unsafe { libc::strnlen(ptr, appctx::MAX_FILTER_STRING_BYTES) };
            RawValue::Str {
                ptr: ptr.cast(),
                len,
            }
        }
        _ => RawValue::None,
    }
}

/// Installs the value hook into rttng-ust (the library's constructor).
pub(crate) fn init() {
    appctx::set_hook(appctx::Hook { size, write, value });
}

/// Points every entry of provider `name` at `p` (null: none).
fn retarget(name: &str, p: *mut Provider) {
    for e in ENTRIES.iter().filter_map(|c| c.get()) {
        if e.provider_name == name {
            e.provider.store(p, Ordering::Release);
        }
    }
}

/// `lttng_ust_context_provider_register`: NULL for a name that is not `$app.NAME` (without
/// `:`), a second provider of one name, or too many providers; else a cookie.
///
/// # Safety
/// `provider` is null or a provider that stays valid until unregistered.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_context_provider_register(
    provider: *mut Provider,
) -> *mut c_void {
    // SAFETY: the caller's provider, or null.
    let Some(p) = (unsafe { provider.as_ref() }) else {
        return std::ptr::null_mut();
    };
    // SAFETY: a C string or null.
    let Some(name) = (unsafe { crate::desc::text(p.name, MAX_PROVIDER_NAME_BYTES) }) else {
        crate::log("context provider without a name ignored");
        return std::ptr::null_mut();
    };
    if !name.starts_with("$app.") || name.contains(':') || name.len() <= 5 {
        crate::log(&format!(
            "context provider {name:?} ignored: its name must be $app.NAME"
        ));
        return std::ptr::null_mut();
    }
    let mut reg = registered();
    if reg.0.iter().any(|(n, _)| n == name) || reg.0.len() >= MAX_PROVIDERS {
        return std::ptr::null_mut();
    }
    reg.0.push((name.to_string(), provider as usize));
    retarget(name, provider);
    provider.cast()
}

/// `lttng_ust_context_provider_unregister`: the provider is no longer called once this
/// returns (after an urcu-ust grace period).
///
/// # Safety
/// `cookie` is null or what `lttng_ust_context_provider_register` returned.
#[no_mangle]
pub unsafe extern "C" fn lttng_ust_context_provider_unregister(cookie: *mut c_void) {
    let mut reg = registered();
    let Some(at) = reg.0.iter().position(|(_, p)| *p == cookie as usize) else {
        return;
    };
    let (name, _) = reg.0.remove(at);
    retarget(&name, std::ptr::null_mut());
    drop(reg);
    // SAFETY: urcu-ust's grace period (compat.c).
    unsafe { lttng_ust_urcu_synchronize_rcu() };
}
