//! LTTng-UST's library events (`lttng_ust_lib:load`, `build_id`, `debug_link`,
//! `unload`), as `lttng_ust_dl_update(ip)` emits them, and the dlopen wrapper's own
//! events (`lttng_ust_dl:dlopen`, `dlmopen`, `build_id`, `debug_link`, `dlclose`).
//!
//! A dlopen wrapper (rttng's `liblttng-ust-dl.so.1`, crate `rttng-lttng-ust-dl`, or
//! LTTng's own file, unchanged) calls `lttng_ust_dl_update` after each
//! dlopen/dlmopen/dlclose with the caller's address. It compares the loaded objects with
//! those it saw last (by base address, path and size) and records a `load` (then
//! `build_id`, `debug_link`) for each new one and an `unload` for each one gone, with the
//! caller's address as the `ip` context. As in LTTng, the process's constructor takes the
//! first look (nothing is recorded then: the objects of the program's start are in the
//! statedump instead), and every statedump looks again first.
//!
//! rttng's wrapper also calls `rttng_lttng_ust_dl_wrapper_init` (its constructor: the
//! `lttng_ust_dl` provider registers then, so that LTTng's wrapper, which registers its
//! own, never meets a second one), `rttng_lttng_ust_dl_opened` after an object opened and
//! `rttng_lttng_ust_dl_closing` before one closes, which record the `lttng_ust_dl:*`
//! events as LTTng's wrapper does (its `ust_dl.h`): size and build id from the loaded
//! object, the debug link from its file.
//!
//! Fields as LTTng declares them (`ust_lib.h`): `load` {baddr hex, memsz, path,
//! has_build_id, has_debug_link}, `build_id` {baddr hex, build_id hex sequence},
//! `debug_link` {baddr hex, crc, filename}, `unload` {baddr hex}; no log level declared
//! (TRACE_DEBUG_LINE). `lttng_ust_dl:dlopen` {baddr hex, memsz, flags hex, path,
//! has_build_id, has_debug_link}, `dlmopen` the same with nsid after memsz, `build_id`,
//! `debug_link` as above, `dlclose` {baddr hex}.

use crate::statedump::{baddr_member, emit_at, int, loaded_objects, member, string};
use rttng_desc::{FieldClass, SequenceClass, StructClass, StructMember};
use rttng_ust::dynamic::{self, DynamicCallsite, DynamicEvent};
use std::ffi::{c_char, c_int, c_long, c_void};
use std::sync::{Mutex, OnceLock};

/// LTTng's default log level (TRACE_DEBUG_LINE), for events that declare none.
const LOGLEVEL: i32 = 13;
/// Longest object name taken from a link map.
const MAX_PATH_BYTES: usize = 4096;

/// One provider's `load`-like events: the object, its build id, its debug link.
struct ObjectEvents {
    build_id: DynamicCallsite,
    debug_link: DynamicCallsite,
}

struct Events {
    load: DynamicCallsite,
    unload: DynamicCallsite,
    object: ObjectEvents,
}

/// The wrapper's `lttng_ust_dl:*` events.
struct WrapperEvents {
    dlopen: DynamicCallsite,
    dlmopen: DynamicCallsite,
    dlclose: DynamicCallsite,
    object: ObjectEvents,
}

static EVENTS: OnceLock<Option<Events>> = OnceLock::new();
static WRAPPER_EVENTS: OnceLock<Option<WrapperEvents>> = OnceLock::new();

/// The objects the last look saw: (base address, size, path).
static KNOWN: Mutex<Vec<(u64, u64, String)>> = Mutex::new(Vec::new());

fn register(name: &str, members: Vec<StructMember>) -> Option<DynamicCallsite> {
    dynamic::register(DynamicEvent {
        name: name.to_string(),
        loglevel: LOGLEVEL,
        fields: FieldClass::Struct(StructClass {
            members,
            min_align_bits: 1,
        }),
        filter_fields: Vec::new(),
    })
    .map_err(|e| crate::log(&format!("library events: {e}")))
    .ok()
}

fn u8_member(name: &str) -> StructMember {
    member(name, int(8, false, false, false))
}

fn object_events(provider: &str) -> Option<ObjectEvents> {
    Some(ObjectEvents {
        build_id: register(
            &format!("{provider}:build_id"),
            vec![
                baddr_member(),
                member("__build_id_length", int(64, false, false, false)),
                member(
                    "_build_id",
                    FieldClass::Sequence(SequenceClass {
                        element: Box::new(int(8, false, true, false)),
                        length_ref: "__build_id_length".into(),
                        length_slot: 0,
                    }),
                ),
            ],
        )?,
        debug_link: register(
            &format!("{provider}:debug_link"),
            vec![
                baddr_member(),
                member("_crc", int(32, false, false, false)),
                member("_filename", string()),
            ],
        )?,
    })
}

/// Registers the events and takes the first look (the process's constructor).
pub(crate) fn init() {
    EVENTS.get_or_init(|| {
        let load = register(
            "lttng_ust_lib:load",
            vec![
                baddr_member(),
                member("_memsz", int(64, false, false, false)),
                member("_path", string()),
                u8_member("_has_build_id"),
                u8_member("_has_debug_link"),
            ],
        )?;
        let object = object_events("lttng_ust_lib")?;
        let unload = register("lttng_ust_lib:unload", vec![baddr_member()])?;
        Some(Events {
            load,
            unload,
            object,
        })
    });
    update(0);
}

/// Records an object's `build_id` and `debug_link` events, where it has them.
fn emit_object(
    e: &ObjectEvents,
    ip: u64,
    baddr: u64,
    build_id: &[u8],
    link: Option<&(String, u32)>,
) {
    if !build_id.is_empty() {
        emit_at(
            e.build_id,
            ip,
            &[
                &baddr.to_le_bytes(),
                &(build_id.len() as u64).to_le_bytes(),
                build_id,
            ],
        );
    }
    if let Some((file, crc)) = link {
        emit_at(
            e.debug_link,
            ip,
            &[
                &baddr.to_le_bytes(),
                &crc.to_le_bytes(),
                file.as_bytes(),
                &[0],
            ],
        );
    }
}

/// `lttng_ust_dl_update`: records what was loaded and unloaded since the last look.
pub(crate) fn update(ip: u64) {
    let Some(Some(e)) = EVENTS.get() else { return };
    if std::env::var_os("LTTNG_UST_WITHOUT_BADDR_STATEDUMP").is_some() {
        return;
    }
    let objects = loaded_objects();
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    let key = |o: &crate::statedump::Object| (o.baddr, o.memsz, o.path.clone());
    for o in &objects {
        if known.contains(&key(o)) {
            continue;
        }
        let path = o.path.split('\0').next().unwrap_or("");
        let link = crate::elf::debug_link(path);
        emit_at(
            e.load,
            ip,
            &[
                &o.baddr.to_le_bytes(),
                &o.memsz.to_le_bytes(),
                path.as_bytes(),
                &[0],
                &[u8::from(!o.build_id.is_empty())],
                &[u8::from(link.is_some())],
            ],
        );
        emit_object(&e.object, ip, o.baddr, &o.build_id, link.as_ref());
    }
    let now: Vec<(u64, u64, String)> = objects.iter().map(key).collect();
    for k in known.iter().filter(|k| !now.contains(k)) {
        emit_at(e.unload, ip, &[&k.0.to_le_bytes()]);
    }
    *known = now;
}

/// rttng's dlopen wrapper loaded (its constructor): registers the `lttng_ust_dl` events.
#[no_mangle]
pub extern "C" fn rttng_lttng_ust_dl_wrapper_init() {
    WRAPPER_EVENTS.get_or_init(|| {
        let opened = |event: &str, nsid: bool| {
            let mut members = vec![
                baddr_member(),
                member("_memsz", int(64, false, false, false)),
            ];
            if nsid {
                members.push(member("_nsid", int(64, true, false, false)));
            }
            members.extend([
                member("_flags", int(32, true, true, false)),
                member("_path", string()),
                u8_member("_has_build_id"),
                u8_member("_has_debug_link"),
            ]);
            register(&format!("lttng_ust_dl:{event}"), members)
        };
        Some(WrapperEvents {
            dlopen: opened("dlopen", false)?,
            dlmopen: opened("dlmopen", true)?,
            object: object_events("lttng_ust_dl")?,
            dlclose: register("lttng_ust_dl:dlclose", vec![baddr_member()])?,
        })
    });
}

/// rttng's wrapper opened an object at load bias `bias` named `name` (its link map's):
/// `lttng_ust_dl:dlopen` (or `dlmopen` with `nsid`), then its build id and debug link.
///
/// # Safety
/// `name` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rttng_lttng_ust_dl_opened(
    ip: *mut c_void,
    bias: usize,
    name: *const c_char,
    flags: c_int,
    nsid: c_long,
    is_dlmopen: c_int,
) {
    let Some(Some(e)) = WRAPPER_EVENTS.get() else {
        return;
    };
    // SAFETY: the wrapper passes its link map's name, NUL-terminated, or null.
    let Some(name) = (unsafe { crate::desc::text(name, MAX_PATH_BYTES) }) else {
        return;
    };
    let Ok(path) = std::fs::canonicalize(name) else {
        crate::log(&format!("dlopen wrapper: cannot resolve path {name:?}"));
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let bias = bias as u64;
    let objects = loaded_objects();
    let Some(o) = objects.iter().find(|o| o.bias == bias && o.path == path) else {
        crate::log(&format!(
            "dlopen wrapper: {path} is not loaded at {bias:#x}"
        ));
        return;
    };
    let link = crate::elf::debug_link(&path);
    let ip = ip as u64;
    let mut parts: Vec<&[u8]> = Vec::with_capacity(7);
    let (baddr, memsz, nsid, flags) = (
        bias.to_le_bytes(),
        o.memsz.to_le_bytes(),
        nsid.to_le_bytes(),
        flags.to_le_bytes(),
    );
    parts.extend([&baddr[..], &memsz[..]]);
    if is_dlmopen != 0 {
        parts.push(&nsid);
    }
    let (has_build_id, has_link) = (
        [u8::from(!o.build_id.is_empty())],
        [u8::from(link.is_some())],
    );
    parts.extend([&flags[..], path.as_bytes(), &[0], &has_build_id, &has_link]);
    let cs = if is_dlmopen != 0 { e.dlmopen } else { e.dlopen };
    emit_at(cs, ip, &parts);
    emit_object(&e.object, ip, bias, &o.build_id, link.as_ref());
}

/// rttng's wrapper is about to close the object at load bias `bias`.
#[no_mangle]
pub extern "C" fn rttng_lttng_ust_dl_closing(ip: *mut c_void, bias: usize) {
    let Some(Some(e)) = WRAPPER_EVENTS.get() else {
        return;
    };
    emit_at(e.dlclose, ip as u64, &[&(bias as u64).to_le_bytes()]);
}
