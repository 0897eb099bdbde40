//! LTTng-UST's statedump (`lttng_ust_statedump:*`): the process's loaded objects, so that
//! `babeltrace2 --debug-info` maps the `ip` context of events to binaries, functions and
//! source lines. Events and fields as LTTng declares them: `start` {}, `procname`
//! {procname text[17]}, `bin_info` {baddr hex, memsz, path, is_pic, has_build_id,
//! has_debug_link}, `build_id` {baddr hex, build_id hex sequence}, `debug_link` {baddr
//! hex, crc, filename} (read from the object's file, `elf`), `end` {}; log level
//! DEBUG_LINE.
//!
//! When: each time `lttng_ust_statedump:end` starts recording (a session with these events
//! starts, or the app registers into one that is active; the daemon enables an app's
//! events in index order, and `end` is the statedump's last), on a thread of its own:
//! `dl_iterate_phdr` waits for the loader lock, which a constructor may hold.
//!
//! Not here: `lttng_ust_lib:*` (`dl`), writing to the enabling session only (every session
//! recording these events gets the statedump).

use rttng_desc::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, FieldClass, IntegerClass, SequenceClass,
    StringClass, StructClass, StructMember,
};
use rttng_ust::dynamic::{self, DynamicCallsite, DynamicEvent};
use std::sync::OnceLock;

/// LTTng's log level of the statedump events (TRACE_DEBUG_LINE).
const LOGLEVEL: i32 = 13;
/// Bytes of the procname array (16-byte comm and a NUL).
const PROCNAME_BYTES: usize = 17;
/// Most objects described in one statedump.
const MAX_OBJECTS: usize = 4096;
/// Longest build id recorded.
const MAX_BUILD_ID_BYTES: usize = 64;

struct Events {
    start: DynamicCallsite,
    procname: DynamicCallsite,
    bin_info: DynamicCallsite,
    build_id: DynamicCallsite,
    debug_link: DynamicCallsite,
    end: DynamicCallsite,
}

static EVENTS: OnceLock<Option<Events>> = OnceLock::new();

pub(crate) fn int(bits: u32, signed: bool, hex: bool, text: bool) -> FieldClass {
    FieldClass::Integer(IntegerClass {
        size_bits: bits,
        align_bits: 8,
        signed,
        byte_order: ByteOrder::Little,
        base: if hex {
            DisplayBase::Hexadecimal
        } else {
            DisplayBase::Decimal
        },
        encoding: if text { Encoding::Utf8 } else { Encoding::None },
        mapped_clock: None,
        role: None,
        store_slot: None,
    })
}

fn m(name: &str, class: FieldClass) -> StructMember {
    member(name, class)
}

/// A payload member.
pub(crate) fn member(name: &str, class: FieldClass) -> StructMember {
    StructMember {
        name: name.to_string(),
        class,
    }
}

/// `baddr`, hexadecimal, as LTTng declares it in its statedump and library events.
pub(crate) fn baddr_member() -> StructMember {
    m("_baddr", int(64, false, true, false))
}

pub(crate) fn string() -> FieldClass {
    FieldClass::String(StringClass {
        encoding: Encoding::Utf8,
    })
}

fn register(event: &str, members: Vec<StructMember>) -> Option<DynamicCallsite> {
    dynamic::register(DynamicEvent {
        filter_fields: Vec::new(),
        name: format!("lttng_ust_statedump:{event}"),
        loglevel: LOGLEVEL,
        fields: FieldClass::Struct(StructClass {
            members,
            min_align_bits: 1,
        }),
    })
    .map_err(|e| crate::log(&format!("statedump: {e}")))
    .ok()
}

/// Registers the statedump events (process init, before the first hello).
pub(crate) fn init() {
    EVENTS.get_or_init(|| {
        let baddr = || m("_baddr", int(64, false, true, false));
        let string = || {
            FieldClass::String(StringClass {
                encoding: Encoding::Utf8,
            })
        };
        Some(Events {
            start: register("start", vec![])?,
            procname: register(
                "procname",
                vec![m(
                    "_procname",
                    FieldClass::Array(ArrayClass {
                        element: Box::new(int(8, true, false, true)),
                        length: PROCNAME_BYTES as u64,
                    }),
                )],
            )?,
            bin_info: register(
                "bin_info",
                vec![
                    baddr(),
                    m("_memsz", int(64, false, false, false)),
                    m("_path", string()),
                    m("_is_pic", int(8, false, false, false)),
                    m("_has_build_id", int(8, false, false, false)),
                    m("_has_debug_link", int(8, false, false, false)),
                ],
            )?,
            build_id: register(
                "build_id",
                vec![
                    baddr(),
                    m("__build_id_length", int(64, false, false, false)),
                    m(
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
                "debug_link",
                vec![
                    baddr(),
                    m("_crc", int(32, false, false, false)),
                    m("_filename", string()),
                ],
            )?,
            end: register("end", vec![])?,
        })
    });
}

/// The state hook's share: runs a statedump when `end` starts recording.
pub(crate) fn state_hook(index: usize, on: bool) -> bool {
    let Some(Some(e)) = EVENTS.get() else {
        return false;
    };
    let mine = [
        e.start,
        e.procname,
        e.bin_info,
        e.build_id,
        e.debug_link,
        e.end,
    ]
    .iter()
    .any(|c| c.index() == index);
    if mine && on && index == e.end.index() {
        // While the app starts, its code waits for this statedump (as LTTng-UST's
        // constructor does), so that its first events come after their objects' bin_info.
        let hold = rttng_ust::hold_startup();
        spawn(Box::new(move || {
            run();
            drop(hold);
        }));
    }
    mine
}

/// Runs `f` on a detached thread with signals blocked, without std's thread start (whose
/// thread-locals would wait for the loader lock in a library loaded by dlopen).
fn spawn(f: Box<dyn FnOnce() + Send>) {
    extern "C" fn tramp(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the `Box<Box<dyn FnOnce()>>` leaked below, taken back once.
        let f = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new(f)).cast::<libc::c_void>();
    // SAFETY: plain pthread calls on local values; the mask is restored right after. On a
    // failed create, `arg` is taken back here (the thread never saw it).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let mut tid: libc::pthread_t = std::mem::zeroed();
        if libc::pthread_create(&mut tid, std::ptr::null(), tramp, arg) == 0 {
            libc::pthread_detach(tid);
        } else {
            drop(Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()));
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// One loaded object.
pub(crate) struct Object {
    pub(crate) baddr: u64,
    /// The load bias (the link map's `l_addr`).
    pub(crate) bias: u64,
    pub(crate) memsz: u64,
    pub(crate) path: String,
    is_pic: bool,
    pub(crate) build_id: Vec<u8>,
}

/// The loaded objects, as `dl_iterate_phdr` lists them (the vdso left out).
pub(crate) fn loaded_objects() -> Vec<Object> {
    let mut objects: Vec<Object> = Vec::new();
    // SAFETY: the callback only reads the infos it is given and pushes to our Vec.
    unsafe {
        libc::dl_iterate_phdr(Some(collect), std::ptr::addr_of_mut!(objects).cast());
    }
    objects
}

unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: dl_iterate_phdr passes a valid info and our Vec.
    let (info, out) = unsafe { (&*info, &mut *data.cast::<Vec<Object>>()) };
    if out.len() >= MAX_OBJECTS {
        return 1;
    }
    // SAFETY: dlpi_phdr holds dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let loads = phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD);
    let (lo, hi) = loads.fold((u64::MAX, 0u64), |(lo, hi), p| {
        (
            lo.min(p.p_vaddr),
            hi.max(p.p_vaddr.saturating_add(p.p_memsz)),
        )
    });
    if lo == u64::MAX {
        return 0;
    }
    // SAFETY: a NUL-terminated name or null.
    let name = unsafe { crate::desc::text(info.dlpi_name, 4096) }.unwrap_or("");
    let path = if name.is_empty() {
        match std::fs::read_link("/proc/self/exe") {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => return 0,
        }
    } else if name.starts_with("linux-vdso") {
        return 0; // babeltrace2 skips it (no file); LTTng records memsz 0
    } else {
        std::fs::canonicalize(name)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| name.to_string())
    };
    let baddr = info.dlpi_addr.wrapping_add(lo);
    // Executables load at their link address (bias 0); shared objects and PIEs do not.
    let is_pic = info.dlpi_addr != 0;
    let mut build_id = Vec::new();
    for p in phdrs.iter().filter(|p| p.p_type == libc::PT_NOTE) {
        let start = info.dlpi_addr.wrapping_add(p.p_vaddr) as *const u8;
        // SAFETY: a PT_NOTE segment of a loaded object is mapped and readable.
        let notes = unsafe { std::slice::from_raw_parts(start, p.p_memsz as usize) };
        if let Some(id) = gnu_build_id(notes) {
            build_id = id.to_vec();
            break;
        }
    }
    out.push(Object {
        baddr,
        bias: info.dlpi_addr,
        memsz: hi - lo,
        path,
        is_pic,
        build_id,
    });
    0
}

/// The NT_GNU_BUILD_ID note's descriptor in a note segment.
fn gnu_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    while notes.len() >= 12 {
        let namesz = word(notes, 0)? as usize;
        let descsz = word(notes, 4)? as usize;
        let kind = word(notes, 8)?;
        let name_end = 12usize.checked_add(align4(namesz)?)?;
        let desc_end = name_end.checked_add(align4(descsz)?)?;
        let name = notes.get(12..12 + namesz)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return notes
                .get(name_end..name_end + descsz)
                .filter(|d| d.len() <= MAX_BUILD_ID_BYTES);
        }
        notes = notes.get(desc_end..)?;
    }
    None
}

fn emit(cs: DynamicCallsite, parts: &[&[u8]]) {
    emit_at(cs, 0, parts)
}

/// Records one event of these payload parts, with `ip` for the `ip` context.
pub(crate) fn emit_at(cs: DynamicCallsite, ip: u64, parts: &[&[u8]]) {
    let size = parts.iter().map(|p| p.len()).sum();
    if let Some(mut r) = cs.begin_at(size, ip) {
        for p in parts {
            r.write(p);
        }
        r.commit();
    }
}

fn run() {
    let Some(Some(e)) = EVENTS.get() else { return };
    // As LTTng's statedump: first what changed since the last look (`lttng_ust_lib:*`).
    crate::dl::update(0);
    let objects = loaded_objects();
    emit(e.start, &[]);
    let mut name = [0u8; PROCNAME_BYTES];
    // SAFETY: PR_GET_NAME writes at most 16 bytes and a NUL.
    unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr(), 0, 0, 0) };
    name[PROCNAME_BYTES - 1] = 0;
    emit(e.procname, &[&name]);
    for o in &objects {
        let path = o.path.split('\0').next().unwrap_or("");
        let link = crate::elf::debug_link(path);
        emit(
            e.bin_info,
            &[
                &o.baddr.to_le_bytes(),
                &o.memsz.to_le_bytes(),
                path.as_bytes(),
                &[0],
                &[u8::from(o.is_pic)],
                &[u8::from(!o.build_id.is_empty())],
                &[u8::from(link.is_some())],
            ],
        );
        if !o.build_id.is_empty() {
            emit(
                e.build_id,
                &[
                    &o.baddr.to_le_bytes(),
                    &(o.build_id.len() as u64).to_le_bytes(),
                    &o.build_id,
                ],
            );
        }
        if let Some((file, crc)) = &link {
            emit(
                e.debug_link,
                &[
                    &o.baddr.to_le_bytes(),
                    &crc.to_le_bytes(),
                    file.as_bytes(),
                    &[0],
                ],
            );
        }
    }
    emit(e.end, &[]);
}

#[cfg(test)]
mod tests {
    use super::gnu_build_id;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(name);
        v.resize(v.len().next_multiple_of(4), 0);
        v.extend_from_slice(desc);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    #[test]
    fn finds_the_build_id_after_other_notes() {
        let mut notes = note(
            b"GNU\0",
            1,
            &[0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
        );
        notes.extend(note(b"GNU\0", 3, &[0xAB, 0xCD, 0xEF]));
        assert_eq!(gnu_build_id(&notes), Some(&[0xAB, 0xCD, 0xEF][..]));
    }

    #[test]
    fn malformed_notes_give_none_not_a_panic() {
        let good = note(b"GNU\0", 3, &[1, 2, 3, 4]);
        for cut in 0..good.len() - 1 {
            let _ = gnu_build_id(&good[..cut]);
        }
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(gnu_build_id(&huge), None);
        let mut other = note(b"XYZ\0", 3, &[1]);
        other.extend(note(b"GNU\0", 4, &[1]));
        assert_eq!(gnu_build_id(&other), None);
    }
}
