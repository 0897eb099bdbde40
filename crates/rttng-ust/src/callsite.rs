//! Static call sites: one [`Callsite`] per `tracepoint!` expansion, its compile-time
//! [`EventMeta`], and the process-wide registry of every call site linked in.
//!
//! Registry: each expansion also places a pointer to its call site in the ELF section
//! `rttng_callsites_v1` (`#[used]` + `#[link_section]`); the linker gathers the pointers of
//! every crate of the executable between `__start_rttng_callsites_v1` and
//! `__stop_rttng_callsites_v1`. The section name carries the layout version of
//! [`Callsite`]: two incompatible rttng-ust versions linked into one program each read only
//! their own section (a new layout takes a new name, `_v2`). So the registry is complete
//! before `main` without any global constructor, and an event index is the position in that section (stable for the life
//! of the process). Limits: ELF targets only; each shared object (a `cdylib` provider) has
//! its own section that this executable's registry does not see; an executable linked
//! with `-z start-stop-gc` would drop the section.
//!
//! Fast path: [`Callsite::is_on`] is one relaxed load and a branch; arguments are
//! evaluated only after it. A call site starts in the `UNINIT` state (counts as on), so
//! its very first call takes the slow path once: process init (which starts registration)
//! then the state is recomputed from the already-installed targets.
//!
//! Not here: the record layout (`channel`), enablement rules (the session daemon).

use crate::channel;
use crate::field::Fields;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Most channels (sessions) one call site can record into at once.
pub const MAX_TARGETS: usize = 4;

/// Call site states. Bit 0 set = recording: `ON` (only `targets[0]` can be set, the usual
/// single session: the event path loads one target) or `ON_MANY` (any target).
pub(crate) const OFF: u8 = 0;
pub(crate) const ON: u8 = 1;
pub(crate) const UNINIT: u8 = 2;
pub(crate) const ON_MANY: u8 = 3;

/// What one field declares (filled by the macro at compile time).
#[derive(Debug)]
pub struct FieldMeta {
    /// Field name without LTTng's `_` prefix.
    pub name: &'static str,
    /// Appends the field's CTF members (see [`crate::Field::members`]).
    pub members: fn(&str, &mut Vec<rttng_desc::StructMember>),
}

/// Compile-time description of an event.
#[derive(Debug)]
pub struct EventMeta {
    /// `provider:event`.
    pub name: &'static str,
    pub loglevel: i32,
    pub fields: &'static [FieldMeta],
    pub file: &'static str,
    pub line: u32,
}

impl EventMeta {
    /// The payload struct class, LTTng naming.
    pub fn payload_class(&self) -> rttng_desc::FieldClass {
        let mut members = Vec::new();
        for f in self.fields {
            (f.members)(f.name, &mut members);
        }
        rttng_desc::FieldClass::Struct(rttng_desc::StructClass {
            members,
            min_align_bits: 1,
        })
    }
}

/// One tracepoint call site.
#[derive(Debug)]
pub struct Callsite {
    /// OFF / ON / ON_MANY / UNINIT. Written by control (under the control lock) and by the first
    /// call (CAS from UNINIT only).
    pub(crate) state: AtomicU8,
    pub meta: &'static EventMeta,
    /// `0` = empty, else [`pack_target`]`(channel slot, event class id)`. Written under
    /// the control lock (Release), read by the event path (Acquire).
    pub(crate) targets: [AtomicU64; MAX_TARGETS],
    /// For each target with [`FILTERED`]: its filter set (`crate::filter`). Written under
    /// the control lock before the target word (Release); read after the target's Acquire.
    pub(crate) filters: [AtomicU32; MAX_TARGETS],
}

/// Packs a channel slot and an event class id into a target word (0 means empty).
pub(crate) fn pack_target(slot: usize, event_id: u32) -> u64 {
    ((slot as u64 + 1) << 32) | u64::from(event_id)
}

/// Set in a target word when that target records only what its filter set
/// ([`Callsite::filters`]) accepts: the unfiltered event path tests the word's sign, which
/// costs nothing over its test for an empty target.
pub(crate) const FILTERED: u64 = 1 << 63;

/// The channel slot a non-empty target word names (with or without [`FILTERED`]).
pub(crate) fn target_slot(t: u64) -> usize {
    (((t & !FILTERED) >> 32) - 1) as usize
}

/// The channel slot and event class id of a non-empty target word ([`FILTERED`] ignored:
/// run-time events are filtered by their producer before `DynamicCallsite::begin_filtered`).
pub(crate) fn unpack_target(t: u64) -> (usize, u32) {
    (target_slot(t), t as u32)
}

impl Callsite {
    #[doc(hidden)]
    pub const fn new(meta: &'static EventMeta) -> Self {
        Callsite {
            state: AtomicU8::new(UNINIT),
            meta,
            targets: [const { AtomicU64::new(0) }; MAX_TARGETS],
            filters: [const { AtomicU32::new(crate::filter::REJECT_ALL) }; MAX_TARGETS],
        }
    }

    /// Whether the call site must run its slow path: one relaxed load.
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.state.load(Ordering::Relaxed) != OFF
    }

    /// The state the targets call for (`Ordering` of the target loads given).
    fn state_of_targets(&self, order: Ordering) -> u8 {
        let [first, rest @ ..] = &self.targets;
        if rest.iter().any(|t| t.load(order) != 0) {
            ON_MANY
        } else if first.load(order) != 0 {
            ON
        } else {
            OFF
        }
    }

    /// Recomputes `state` from the targets (control side, under the control lock).
    pub(crate) fn refresh(&self) {
        self.state
            .store(self.state_of_targets(Ordering::Relaxed), Ordering::Release);
    }

    /// After [`Callsite::is_on`]: false if this was the first call and the event turned
    /// out disabled (so arguments are never evaluated for a disabled event).
    #[inline(always)]
    pub fn ready(&self) -> bool {
        self.state.load(Ordering::Relaxed) & ON != 0 || self.first_call()
    }

    #[cold]
    #[inline(never)]
    fn first_call(&self) -> bool {
        crate::init();
        let state = self.state_of_targets(Ordering::Acquire);
        let _ = self
            .state
            .compare_exchange(UNINIT, state, Ordering::AcqRel, Ordering::Relaxed);
        self.state.load(Ordering::Acquire) & ON != 0
    }

    /// Records the event in every channel it is enabled in. No allocation, no panic, no
    /// system call (after the first call); failures are counted by the ring buffer.
    ///
    /// A small function: one target load and two tests, then a tail call to the usual
    /// case (one session, no filter: [`record`]) or to the out-of-line rest, so that a
    /// rejected event never runs the record path's prologue.
    ///
    /// `ip`: the call site's code address (the `ip` context), from [`here`].
    #[inline(never)]
    pub fn emit<F: Fields>(&'static self, fields: &F, ip: u64) {
        // Filtered targets and the other slots (state ON_MANY) take the out-of-line path
        // (a target being added concurrently may be missed by this one event).
        // Acquire pairs with the Release in control::enable: the channel slot the target
        // names (and its filter set) is published before the target.
        let t = self.targets[0].load(Ordering::Acquire);
        if (t as i64) < 0 || self.state.load(Ordering::Relaxed) == ON_MANY {
            return self.emit_slow(t, fields, ip);
        }
        if t != 0 {
            record(t, fields, ip);
        }
    }

    /// Filters first: a filter runs before anything is reserved (no clock read, no CPU
    /// lookup, no thread-local access before its verdict), so a rejected event costs no
    /// buffer space and its fields are not even measured. `t`: the first target as
    /// [`Callsite::emit`] loaded it. Out of line, so that the usual path stays compact, and
    /// small, so that a rejected event costs little more than the comparisons.
    #[cold]
    #[inline(never)]
    fn emit_slow<F: Fields>(&self, t: u64, fields: &F, ip: u64) {
        // One session (state ON): only the first target can be set.
        if self.state.load(Ordering::Relaxed) != ON_MANY {
            if t & FILTERED != 0
                && !crate::filter::accepts(self.filters[0].load(Ordering::Relaxed), fields)
            {
                return;
            }
            let t = t & !FILTERED;
            if t != 0 {
                record(t, fields, ip);
            }
            return;
        }
        self.emit_many(fields, ip);
    }

    /// Every target (state ON_MANY), each filter before its target's write.
    #[cold]
    #[inline(never)]
    fn emit_many<F: Fields>(&self, fields: &F, ip: u64) {
        let mut cpu: Option<u32> = None;
        let mut sized: Option<(F::Lens, usize)> = None;
        for (t, set) in self.targets.iter().zip(&self.filters) {
            let mut t = t.load(Ordering::Acquire);
            if t == 0 {
                continue;
            }
            if t & FILTERED != 0 {
                if !crate::filter::accepts(set.load(Ordering::Relaxed), fields) {
                    continue;
                }
                t &= !FILTERED;
            }
            let cpu = *cpu.get_or_insert_with(crate::sys::cpu);
            let (lens, payload) = *sized.get_or_insert_with(|| {
                let lens = fields.lens();
                (lens, F::total(&lens))
            });
            write_target(t, cpu, payload, fields, &lens, ip);
        }
    }
}

/// The event path of one unfiltered target `t` (non-zero, without [`FILTERED`]): sizes
/// the fields, reads the CPU, writes the record.
#[inline(never)]
fn record<F: Fields>(t: u64, fields: &F, ip: u64) {
    let lens = fields.lens();
    let payload = F::total(&lens);
    let cpu = crate::sys::cpu();
    write_target(t, cpu, payload, fields, &lens, ip);
}

/// The address of the code it is inlined into: the `tracepoint!` expansion's own
/// instruction pointer, which the `ip` context records (LTTng-UST records the probe's
/// return address, also an address inside the instrumented function; both resolve to it
/// with `addr2line` or babeltrace2's debug-info). One `lea` on the enabled path; 0 on
/// architectures without it here.
#[doc(hidden)]
#[inline(always)]
pub fn here() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let ip: u64;
        // SAFETY: computes the address of this instruction into a register: no memory
        // access, no stack, no flags.
        unsafe {
            core::arch::asm!("lea {}, [rip]", out(reg) ip, options(pure, nomem, nostack, preserves_flags))
        };
        ip
    }
    #[cfg(target_arch = "aarch64")]
    {
        let ip: u64;
        // SAFETY: as above (`adr` of the current instruction).
        unsafe {
            core::arch::asm!("adr {}, .", out(reg) ip, options(pure, nomem, nostack, preserves_flags))
        };
        ip
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

#[inline(always)]
fn write_target<F: Fields>(
    packed: u64,
    cpu: u32,
    payload: usize,
    fields: &F,
    lens: &F::Lens,
    ip: u64,
) {
    let (slot, event_id) = unpack_target(packed);
    // From the load of the channel pointer to the end of the write, the channel is not
    // unmapped (`reclaim`).
    let _inside = crate::reclaim::enter();
    if let Some(ch) = channel::get(slot) {
        ch.write_event(cpu, event_id, payload, fields, lens, ip);
    }
}

/// An entry of the `rttng_callsites_v1` section.
#[doc(hidden)]
#[derive(Debug)]
#[repr(transparent)]
pub struct CallsiteRef(pub *const Callsite);

// SAFETY: a CallsiteRef points to a `static Callsite` (Sync) or is null; it is never
// written after link time.
unsafe impl Sync for CallsiteRef {}

extern "C" {
    #[link_name = "__start_rttng_callsites_v1"]
    static CALLSITES_START: u8;
    #[link_name = "__stop_rttng_callsites_v1"]
    static CALLSITES_STOP: u8;
}

/// Every call site linked into the executable, in section order (the event index).
pub(crate) fn all() -> impl Iterator<Item = &'static Callsite> {
    // A null entry, so that the section (and its start/stop symbols) exists even in a
    // program without tracepoints.
    #[used]
    #[link_section = "rttng_callsites_v1"]
    static SENTINEL: CallsiteRef = CallsiteRef(std::ptr::null());
    // The linker defines both symbols around the section, which holds only CallsiteRef
    // values (this crate's macro and the sentinel are its only writers).
    let start = std::ptr::addr_of!(CALLSITES_START).cast::<CallsiteRef>();
    let stop = std::ptr::addr_of!(CALLSITES_STOP).cast::<CallsiteRef>();
    let count = (stop as usize).saturating_sub(start as usize) / std::mem::size_of::<CallsiteRef>();
    // SAFETY: `count` entries of the section lie between the two symbols.
    let entries: &'static [CallsiteRef] = unsafe { std::slice::from_raw_parts(start, count) };
    // SAFETY: a non-null entry points to a `static Callsite`.
    entries.iter().filter_map(|e| unsafe { e.0.as_ref() })
}

/// Number of static call sites (the first event indexes; run-time events follow).
pub(crate) fn static_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| all().count())
}

/// Every call site, static ones then run-time ones ([`crate::dynamic`]), in event index
/// order.
pub(crate) fn every() -> impl Iterator<Item = &'static Callsite> {
    all().chain(crate::dynamic::callsites())
}

/// The call site with index `index` (position among the non-null entries, then among
/// run-time events).
pub(crate) fn by_index(index: usize) -> Option<&'static Callsite> {
    let n = static_count();
    if index < n {
        all().nth(index)
    } else {
        crate::dynamic::get(index - n).map(|(cs, _)| cs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FOREIGN_META: EventMeta = EventMeta {
        name: "other_version:event",
        loglevel: 13,
        fields: &[],
        file: file!(),
        line: line!(),
    };
    static FOREIGN: Callsite = Callsite::new(&FOREIGN_META);
    /// An entry as another (incompatible) rttng-ust version would place it in the same
    /// program: in its own versioned section.
    #[used]
    #[link_section = "rttng_callsites_v2"]
    static FOREIGN_REF: CallsiteRef = CallsiteRef(&FOREIGN);

    fn own_site() {
        crate::tracepoint!(this_version, event, INFO);
    }

    #[test]
    fn the_registry_reads_only_its_own_versions_section() {
        let _ = own_site;
        let names: Vec<&str> = all().map(|c| c.meta.name).collect();
        assert!(names.contains(&"this_version:event"), "{names:?}");
        assert!(!names.contains(&"other_version:event"), "{names:?}");
    }
}
