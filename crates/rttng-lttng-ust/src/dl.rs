//! LTTng-UST's library events (`lttng_ust_lib:load`, `build_id`, `debug_link`,
//! `unload`), as `lttng_ust_dl_update(ip)` emits them: LTTng's dlopen wrapper
//! (`LD_PRELOAD=liblttng-ust-dl.so`, its own file, unchanged) calls it after each
//! dlopen/dlmopen/dlclose with the caller's address. It compares the loaded objects with
//! those it saw last (by base address, path and size) and records a `load` (then `build_id`)
//! for each new one and an `unload` for each one gone, with the caller's address as the
//! `ip` context. As in LTTng, the process's constructor takes the first look (nothing is
//! recorded then: the objects of the program's start are in the statedump instead), and
//! every statedump looks again first.
//!
//! Fields as LTTng declares them (`ust_lib.h`): `load` {baddr hex, memsz, path,
//! has_build_id, has_debug_link}, `build_id` {baddr hex, build_id hex sequence},
//! `debug_link` {baddr hex, crc, filename}, `unload` {baddr hex}; no log level declared
//! (TRACE_DEBUG_LINE). Not here: `debug_link` events are declared but never recorded (as
//! in our statedump, has_debug_link is 0), the dlopen wrapper's own `lttng_ust_dl:*`
//! events (its provider registers like any other).

use crate::statedump::{baddr_member, emit_at, int, loaded_objects, member, string};
use rttng_desc::{FieldClass, SequenceClass, StructClass, StructMember};
use rttng_ust::dynamic::{self, DynamicCallsite, DynamicEvent};
use std::sync::{Mutex, OnceLock};

/// LTTng's default log level (TRACE_DEBUG_LINE), for events that declare none.
const LOGLEVEL: i32 = 13;

struct Events {
    load: DynamicCallsite,
    build_id: DynamicCallsite,
    unload: DynamicCallsite,
}

static EVENTS: OnceLock<Option<Events>> = OnceLock::new();

/// The objects the last look saw: (base address, size, path).
static KNOWN: Mutex<Vec<(u64, u64, String)>> = Mutex::new(Vec::new());

fn register(event: &str, members: Vec<StructMember>) -> Option<DynamicCallsite> {
    dynamic::register(DynamicEvent {
        name: format!("lttng_ust_lib:{event}"),
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

/// Registers the events and takes the first look (the process's constructor).
pub(crate) fn init() {
    EVENTS.get_or_init(|| {
        let u8m = |n: &str| member(n, int(8, false, false, false));
        let e = Events {
            load: register(
                "load",
                vec![
                    baddr_member(),
                    member("_memsz", int(64, false, false, false)),
                    member("_path", string()),
                    u8m("_has_build_id"),
                    u8m("_has_debug_link"),
                ],
            )?,
            build_id: register(
                "build_id",
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
            unload: register("unload", vec![baddr_member()])?,
        };
        register(
            "debug_link",
            vec![
                baddr_member(),
                member("_crc", int(32, false, false, false)),
                member("_filename", string()),
            ],
        )?;
        Some(e)
    });
    update(0);
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
        emit_at(
            e.load,
            ip,
            &[
                &o.baddr.to_le_bytes(),
                &o.memsz.to_le_bytes(),
                path.as_bytes(),
                &[0],
                &[u8::from(!o.build_id.is_empty())],
                &[0],
            ],
        );
        if !o.build_id.is_empty() {
            emit_at(
                e.build_id,
                ip,
                &[
                    &o.baddr.to_le_bytes(),
                    &(o.build_id.len() as u64).to_le_bytes(),
                    &o.build_id,
                ],
            );
        }
    }
    let now: Vec<(u64, u64, String)> = objects.iter().map(key).collect();
    for k in known.iter().filter(|k| !now.contains(k)) {
        emit_at(e.unload, ip, &[&k.0.to_le_bytes()]);
    }
    *known = now;
}
