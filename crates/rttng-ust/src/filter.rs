//! `--filter` in the tracer: a filter set (the programs of every rule that enables one event
//! in one channel; the event is recorded when any of them accepts it) is bound once to the
//! call site's fields, and evaluated on the event path before anything is reserved.
//!
//! Filter sets live in an append-only table of [`MAX_FILTER_SETS`] write-once slots, so the
//! event path reads them without a lock, a reference count or `unsafe`: a call site's
//! target holds a slot number, and replacing a filter takes a new slot (the old one is
//! never freed). When the table is full, a new filter becomes [`REJECT_ALL`]: the event
//! records nothing rather than something not asked for.
//!
//! What a filter sees: payload fields by name (integers, enums, `bool`, `char` as integers;
//! `f32`/`f64`; `&str`), and `$ctx.vpid`, `$ctx.vtid`, `$ctx.procname`, `$ctx.pthread_id`,
//! `$ctx.cpu_id`; `$app.PROVIDER:NAME` as a dynamic value (typed per event, read from its
//! provider through `appctx`'s hook when the filter asks for it, as LTTng's `get_value`;
//! no provider or no value rejects the event). Arrays, sequences and other contexts are
//! unknown: a filter naming them rejects every event of that call site, as LTTng does for
//! unknown fields.
//! A run-time event's filters see the fields its producer declared (the drop-in: every
//! integer, enum, float, string and text array or sequence of a C probe).
//!
//! Not here: compiling filters (the session daemon), the control lock (`control`).

use crate::appctx::RawValue;
use crate::callsite::EventMeta;
use crate::field::{Fields, FilterValue};
use rttng_desc::FieldClass;
use rttng_filter::{Event, FieldType, Filter, Program, Reference, Root, Schema};
use std::cell::OnceCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Most filter sets installed over the life of a process.
pub const MAX_FILTER_SETS: usize = 1024;

/// The filter-set number that rejects every event (none installed, or the table is full).
pub(crate) const REJECT_ALL: u32 = u32::MAX;

/// Programs bound to one call site; accepts when any accepts.
#[derive(Debug)]
struct FilterSet {
    filters: Vec<Filter>,
    /// No filter of the set reads a `$ctx` or `$app` slot (decided at bind time): the event
    /// path then reads the payload directly, without the context dispatch or its state.
    payload_only: bool,
}

impl FilterSet {
    /// Whether any filter accepts the event (one rule, the usual case, without a loop).
    #[inline(always)]
    fn matches<E: Event>(&self, ev: &E) -> bool {
        match &self.filters[..] {
            [f] => f.matches(ev),
            fs => fs.iter().any(|f| f.matches(ev)),
        }
    }
}

static SETS: [OnceLock<FilterSet>; MAX_FILTER_SETS] = [const { OnceLock::new() }; MAX_FILTER_SETS];
static NEXT_SET: AtomicUsize = AtomicUsize::new(0);

/// Binds `programs` to call site `event_index` (described by `meta`; a run-time event by
/// the filter fields it declared) and stores the set; its number, or [`REJECT_ALL`] when
/// the table is full. Control path only (allocates).
pub(crate) fn install(event_index: usize, meta: &EventMeta, programs: &[Option<Program>]) -> u32 {
    let meta_schema = MetaSchema(meta);
    let dyn_schema = crate::dynamic::filter_fields(event_index).map(DynSchema);
    let schema: &dyn Schema = match &dyn_schema {
        Some(d) => d,
        None => &meta_schema,
    };
    let watch = WatchSchema {
        inner: schema,
        context: std::cell::Cell::new(false),
    };
    let filters = programs
        .iter()
        .map(|p| p.as_ref().map_or_else(Filter::never, |p| p.bind(&watch)))
        .collect();
    let payload_only = !watch.context.get();
    let i = NEXT_SET.fetch_add(1, Ordering::Relaxed);
    if i >= MAX_FILTER_SETS {
        NEXT_SET.store(MAX_FILTER_SETS, Ordering::Relaxed);
        return REJECT_ALL;
    }
    match SETS[i].set(FilterSet {
        filters,
        payload_only,
    }) {
        Ok(()) => i as u32,
        Err(_) => REJECT_ALL,
    }
}

/// Whether filter set `set` accepts the event. Never allocates or panics. Inlined into the
/// call site's filtered path (one frame for the whole verdict).
#[inline(always)]
pub(crate) fn accepts<F: Fields>(set: u32, fields: &F) -> bool {
    let Some(set) = SETS.get(set as usize).and_then(OnceLock::get) else {
        return false;
    };
    if set.payload_only {
        return set.matches(&PayloadOnly(StaticPayload(fields)));
    }
    let ev = Values {
        fields: StaticPayload(fields),
        procname: OnceCell::new(),
    };
    set.matches(&ev)
}

/// [`accepts`] for a run-time event, whose values its producer reads.
#[inline]
pub(crate) fn accepts_dynamic<V: crate::dynamic::FilterValues + ?Sized>(
    set: u32,
    values: &V,
) -> bool {
    let Some(set) = SETS.get(set as usize).and_then(OnceLock::get) else {
        return false;
    };
    let ev = Values {
        fields: DynPayload(values),
        procname: OnceCell::new(),
    };
    set.matches(&ev)
}

/// A schema that notes whether any reference resolved to a `$ctx` or `$app` slot.
struct WatchSchema<'a> {
    inner: &'a dyn Schema,
    context: std::cell::Cell<bool>,
}

impl Schema for WatchSchema<'_> {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        let resolved = self.inner.resolve(r);
        if resolved.is_some_and(|(slot, _)| slot >= CONTEXT_SLOT) {
            self.context.set(true);
        }
        resolved
    }
}

/// The values of a filter set that reads only payload fields ([`FilterSet::payload_only`]):
/// a slot is a field position (a context slot, which such a set never asks for, is absent).
struct PayloadOnly<P>(P);

impl<P: Payload> Event for PayloadOnly<P> {
    #[inline(always)]
    fn value(&self, slot: u16) -> FilterValue<'_> {
        self.0.value(usize::from(slot))
    }
}

/// A payload's filter values by field position.
trait Payload {
    fn value(&self, i: usize) -> FilterValue<'_>;
}

struct StaticPayload<'a, F>(&'a F);
impl<F: Fields> Payload for StaticPayload<'_, F> {
    #[inline(always)]
    fn value(&self, i: usize) -> FilterValue<'_> {
        self.0.filter_value(i)
    }
}

struct DynPayload<'a, V: ?Sized>(&'a V);
impl<V: crate::dynamic::FilterValues + ?Sized> Payload for DynPayload<'_, V> {
    #[inline(always)]
    fn value(&self, i: usize) -> FilterValue<'_> {
        self.0.filter_value(i)
    }
}

/// The filter's view of a run-time event: the fields its producer declared for filters.
struct DynSchema(&'static [(String, FieldType)]);

impl Schema for DynSchema {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        let name = r.simple_name()?;
        match r.root {
            Root::Payload => {
                let i = self.0.iter().position(|(n, _)| n == name)?;
                Some((u16::try_from(i).ok()?, self.0[i].1))
            }
            Root::Context => context_slot(name),
            Root::App => app_slot(name),
        }
    }
}

/// `$app.NAME`'s slot (interned: control path only).
fn app_slot(name: &str) -> Option<(u16, FieldType)> {
    let i = crate::appctx::intern(name)?;
    Some((APP_SLOT.checked_add(i)?, FieldType::Dynamic))
}

fn context_slot(name: &str) -> Option<(u16, FieldType)> {
    let i = CONTEXTS.iter().position(|(n, _)| *n == name)?;
    Some((CONTEXT_SLOT + i as u16, CONTEXTS[i].1))
}

/// Context slots start here (payload slots are field positions).
const CONTEXT_SLOT: u16 = 0x8000;
/// Application context slots start here (then the interned index).
const APP_SLOT: u16 = 0xC000;
/// `$ctx` names the tracer provides to filters, in slot order.
const CONTEXTS: [(&str, FieldType); 5] = [
    ("vpid", FieldType::Int),
    ("vtid", FieldType::Int),
    ("procname", FieldType::Str),
    ("pthread_id", FieldType::Int),
    ("cpu_id", FieldType::Int),
];

/// The filter's view of a call site's fields.
struct MetaSchema<'a>(&'a EventMeta);

/// The filter type of a field declared by these CTF members (one member only: a sequence
/// declares two, and arrays have no filter value).
fn field_type(members: &[rttng_desc::StructMember]) -> Option<FieldType> {
    match members {
        [m] => match m.class {
            FieldClass::Integer(_) | FieldClass::Enum(_) => Some(FieldType::Int),
            FieldClass::Float(_) => Some(FieldType::Float),
            FieldClass::String(_) => Some(FieldType::Str),
            _ => None,
        },
        _ => None,
    }
}

impl Schema for MetaSchema<'_> {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        let name = r.simple_name()?;
        match r.root {
            Root::Payload => {
                let i = self.0.fields.iter().position(|f| f.name == name)?;
                let f = &self.0.fields[i];
                let mut members = Vec::new();
                (f.members)(f.name, &mut members);
                Some((u16::try_from(i).ok()?, field_type(&members)?))
            }
            Root::Context => context_slot(name),
            Root::App => app_slot(name),
        }
    }
}

/// One event's values: its fields, and contexts read when a filter asks for them.
struct Values<P> {
    fields: P,
    procname: OnceCell<[u8; crate::sys::PROCNAME_BYTES]>,
}

impl<P: Payload> Event for Values<P> {
    #[inline(always)]
    fn value(&self, slot: u16) -> FilterValue<'_> {
        if slot < CONTEXT_SLOT {
            return self.fields.value(usize::from(slot));
        }
        self.context(slot)
    }
}

impl<P> Values<P> {
    /// A `$ctx` value: out of line, so that payload-only filters carry none of it.
    #[cold]
    #[inline(never)]
    fn context(&self, slot: u16) -> FilterValue<'_> {
        if slot >= APP_SLOT {
            return match crate::appctx::filter_value(slot - APP_SLOT) {
                RawValue::None => FilterValue::Absent,
                RawValue::Int(v) => FilterValue::Int(v),
                RawValue::Float(v) => FilterValue::Float(v),
                RawValue::Str { ptr, len } => {
                    // SAFETY: `filter_value` passes only a non-null pointer to at most
                    // MAX_FILTER_STRING_BYTES bytes that its provider keeps valid until the
                    // instrumented call returns (LTTng's contract for `get_value`); this
                    // value lives only during the evaluation inside that call.
                    let text = unsafe { std::slice::from_raw_parts(ptr, len) };
                    FilterValue::Str(text)
                }
            };
        }
        match slot - CONTEXT_SLOT {
            0 => FilterValue::Int(i64::from(crate::sys::vpid())),
            1 => FilterValue::Int(i64::from(crate::sys::vtid())),
            2 => FilterValue::Str(self.procname.get_or_init(crate::sys::procname)),
            3 => FilterValue::Int(crate::sys::pthread_id() as i64),
            4 => FilterValue::Int(i64::from(crate::sys::cpu())),
            _ => FilterValue::Absent,
        }
    }
}
