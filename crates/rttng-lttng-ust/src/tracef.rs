//! `tracef` and `tracelog`: LTTng's built-in providers `lttng_ust_tracef` (event `event`,
//! log level DEBUG) and `lttng_ust_tracelog` (one event per log level, named after the
//! level's token, e.g. `LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO`). compat.c formats the message
//! (C varargs) and calls in here; the call sites in apps test the `state` of the
//! copy-relocated tracepoint objects that compat.c defines, which the state hook sets.
//!
//! Fields, as LTTng declares them: tracef {`_msg_length` u32, `msg` text sequence};
//! tracelog {`line` s32, `file` string, `func` string, `_msg_length` u32, `msg`}.

use rttng_desc::{
    ByteOrder, DisplayBase, Encoding, FieldClass, IntegerClass, SequenceClass, StringClass,
    StructClass, StructMember,
};
use rttng_ust::dynamic::{self, DynamicCallsite, DynamicEvent};
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

/// tracef's log level (TRACE_DEBUG).
const TRACEF_LOGLEVEL: i32 = 14;
/// Longest message recorded; longer ones are cut (the ring buffer could not hold them).
const MAX_MESSAGE_BYTES: usize = 1 << 20;

extern "C" {
    fn rttng_compat_tracef_state() -> *mut c_int;
    fn rttng_compat_tracelog_state(level: c_int) -> *mut c_int;
}

struct Events {
    tracef: Option<DynamicCallsite>,
    tracelog: [Option<DynamicCallsite>; 15],
}

static EVENTS: OnceLock<Events> = OnceLock::new();

fn int(bits: u32, signed: bool, text: bool) -> FieldClass {
    FieldClass::Integer(IntegerClass {
        size_bits: bits,
        align_bits: 8,
        signed,
        byte_order: ByteOrder::Little,
        base: DisplayBase::Decimal,
        encoding: if text { Encoding::Utf8 } else { Encoding::None },
        mapped_clock: None,
        role: None,
        store_slot: None,
    })
}

fn m(name: &str, class: FieldClass) -> StructMember {
    StructMember {
        name: name.to_string(),
        class,
    }
}

fn message_members() -> [StructMember; 2] {
    [
        m("__msg_length", int(32, false, false)),
        m(
            "_msg",
            FieldClass::Sequence(SequenceClass {
                element: Box::new(int(8, true, true)),
                length_ref: "__msg_length".into(),
                length_slot: 0,
            }),
        ),
    ]
}

fn register(name: String, loglevel: i32, members: Vec<StructMember>) -> Option<DynamicCallsite> {
    let ev = DynamicEvent {
        name,
        loglevel,
        fields: FieldClass::Struct(StructClass {
            members,
            min_align_bits: 1,
        }),
        filter_fields: Vec::new(),
    };
    dynamic::register(ev)
        .map_err(|e| crate::log(&format!("tracef/tracelog: {e}")))
        .ok()
}

/// Registers the tracef and tracelog events (process init, before the first hello).
pub(crate) fn init() {
    EVENTS.get_or_init(|| {
        let tracef = register(
            "lttng_ust_tracef:event".into(),
            TRACEF_LOGLEVEL,
            message_members().into(),
        );
        let tracelog = std::array::from_fn(|i| {
            let string = || {
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                })
            };
            let mut members = vec![
                m("_line", int(32, true, false)),
                m("_file", string()),
                m("_func", string()),
            ];
            members.extend(message_members());
            register(
                format!(
                    "lttng_ust_tracelog:LTTNG_UST_TRACEPOINT_LOGLEVEL_{}",
                    rttng_desc::LOGLEVEL_NAMES[i]
                ),
                i as i32,
                members,
            )
        });
        Events { tracef, tracelog }
    });
}

/// The state hook for run-time events that are not a provider's.
pub(crate) fn state_hook(index: usize, on: bool) {
    let Some(e) = EVENTS.get() else { return };
    let state = if e.tracef.is_some_and(|c| c.index() == index) {
        // SAFETY: compat.c returns the address of its exported object's state.
        unsafe { rttng_compat_tracef_state() }
    } else if let Some(level) = e
        .tracelog
        .iter()
        .position(|c| c.is_some_and(|c| c.index() == index))
    {
        // SAFETY: as above; `level` < 15.
        unsafe { rttng_compat_tracelog_state(level as c_int) }
    } else {
        return;
    };
    if !state.is_null() {
        // SAFETY: an aligned int of a writable object (possibly the executable's copy).
        unsafe { AtomicI32::from_ptr(state) }.store(i32::from(on), Ordering::Release);
    }
}

fn put_message(r: &mut dynamic::DynRecord, msg: &[u8]) {
    r.write(&(msg.len() as u32).to_le_bytes());
    r.write(msg);
}

/// # Safety
/// `p` is null or holds `len` readable bytes.
unsafe fn bytes<'a>(p: *const c_char, len: usize) -> &'a [u8] {
    if p.is_null() {
        return &[];
    }
    // SAFETY: caller's contract.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len.min(MAX_MESSAGE_BYTES)) }
}

/// # Safety
/// `msg` holds `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rttng_compat_tracef(msg: *const c_char, len: usize, ip: *mut c_void) {
    let Some(cs) = EVENTS.get().and_then(|e| e.tracef) else {
        return;
    };
    // SAFETY: caller's contract.
    let msg = unsafe { bytes(msg, len) };
    if let Some(mut r) = cs.begin_at(4 + msg.len(), ip as u64) {
        put_message(&mut r, msg);
        r.commit();
    }
}

/// # Safety
/// `msg` holds `len` bytes; `file` and `func` are C strings or null.
#[no_mangle]
pub unsafe extern "C" fn rttng_compat_tracelog(
    level: c_int,
    file: *const c_char,
    line: c_int,
    func: *const c_char,
    msg: *const c_char,
    len: usize,
    ip: *mut c_void,
) {
    let Some(cs) = usize::try_from(level)
        .ok()
        .and_then(|l| EVENTS.get()?.tracelog.get(l).copied().flatten())
    else {
        return;
    };
    // SAFETY: caller's contract.
    let (msg, file, func) = unsafe {
        (
            bytes(msg, len),
            crate::desc::text(file, 4096).unwrap_or("").as_bytes(),
            crate::desc::text(func, 4096).unwrap_or("").as_bytes(),
        )
    };
    let size = 4 + file.len() + 1 + func.len() + 1 + 4 + msg.len();
    if let Some(mut r) = cs.begin_at(size, ip as u64) {
        r.write(&line.to_le_bytes());
        r.write(file);
        r.write(&[0]);
        r.write(func);
        r.write(&[0]);
        put_message(&mut r, msg);
        r.commit();
    }
}
