//! Reads LTTng-UST probe descriptors (C data a provider compiled in) into rttng's event
//! descriptions: names, log levels and payload classes laid out as LTTng's metadata
//! declares them (every member `_NAME`, x86 packing: `align = 8`, network-order
//! integers big-endian, text arrays and sequences as UTF-8 integer elements, enum `auto`
//! values following the previous entry).
//!
//! Nothing from a provider is trusted: every pointer is checked for null, every struct's
//! `struct_size` must cover what is read, every count and length is bounded by the named
//! limits below, and recursion is bounded. A bad event is refused with a reason (the
//! caller logs it once); it never panics. What cannot be checked is the memory behind a
//! non-null pointer: strings are read with a bounded `strnlen`.
//!
//! Not here: registration, the probes' writes.

use crate::abi::*;
use rttng_desc::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, EnumClass, EnumMapping, FieldClass, FloatClass,
    IntegerClass, SequenceClass, StringClass, StructClass, StructMember,
};
use std::ffi::{c_char, CStr};

/// Provider ABI majors accepted (`LTTNG_UST_PROVIDER_MAJOR_OLDEST_COMPATIBLE..=PROVIDER_MAJOR`).
pub const PROVIDER_MAJOR_MIN: u32 = 3;
pub const PROVIDER_MAJOR_MAX: u32 = 3;
/// Most events one provider declares.
pub const MAX_EVENTS_PER_PROVIDER: usize = 65_535;
/// Most fields of one event or struct.
pub const MAX_FIELDS: usize = 4096;
/// Deepest nesting of structs, arrays and sequences.
pub const MAX_DEPTH: u32 = 8;
/// Most entries of one enumeration.
pub const MAX_ENUM_ENTRIES: usize = 65_536;
/// Longest static array, in elements.
pub const MAX_ARRAY_LENGTH: u32 = 1 << 24;
/// Longest name read from a descriptor (LTTng: `provider:event` < 256 bytes).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest enum label or signature read.
const MAX_TEXT_BYTES: usize = 4096;
/// LTTng's log level for events that declare none (TRACE_DEBUG_LINE).
pub const DEFAULT_LOGLEVEL: i32 = 13;

/// A C string from a descriptor: None when null, too long, or not UTF-8.
///
/// # Safety
/// `p` is null or points to readable memory holding a NUL within `max` bytes (or at
/// least `max` readable bytes).
pub unsafe fn text(p: *const c_char, max: usize) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's contract; strnlen reads at most `max` bytes.
    let n = unsafe { libc::strnlen(p, max + 1) };
    if n > max {
        return None;
    }
    // SAFETY: `n` bytes then a NUL are readable (found by strnlen).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().ok()
}

/// One event read from a provider.
#[derive(Debug, Clone)]
pub struct Event {
    /// `provider:event`.
    pub name: String,
    pub loglevel: i32,
    pub fields: FieldClass,
    pub signature: &'static str,
    pub callback: unsafe extern "C" fn(),
    /// The generated probe's filter stack (None: a field type this layout does not know,
    /// so filters reject every event of it).
    pub filter: Option<Vec<FilterSlot>>,
}

/// How a filter slot of the probe's interpreter stack holds its value (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// 8 bytes, sign- or zero-extended to 64 bits, host order.
    Int,
    /// A `double`.
    Float,
    /// A pointer to a NUL-terminated string.
    Str,
    /// `unsigned long` count, then a pointer: a text array or sequence.
    Text,
    /// Count and pointer of an array or sequence of numbers (filters cannot read it).
    Opaque,
}

/// One field of the filter stack.
#[derive(Debug, Clone)]
pub struct FilterSlot {
    /// As users name it in `--filter` (no leading `_`).
    pub name: String,
    pub kind: SlotKind,
    /// Byte offset in the stack.
    pub offset: usize,
}

/// The filter stack of a field array: every field not marked nofilter, in order
/// (nowrite fields included).
///
/// # Safety
/// `f` is an array of `n` field pointers already checked by [`fields`].
unsafe fn filter_layout(f: *const *const EventField, n: usize) -> Option<Vec<FilterSlot>> {
    let mut out = Vec::with_capacity(n);
    let mut offset = 0usize;
    for i in 0..n {
        // SAFETY: checked by `fields`: `n` non-null descriptors with valid names and types.
        let (field, t) = unsafe {
            let field = &**f.add(i);
            (field, field.type_.as_ref()?)
        };
        if field.bits & 2 != 0 {
            continue; // nofilter (a sequence's length)
        }
        // SAFETY: checked by `fields`.
        let name = unsafe { text(field.name, MAX_NAME_BYTES) }?.to_string();
        // SAFETY: each arm reads its own type struct (sizes checked by `fields`).
        let kind = unsafe {
            match t.type_ {
                TYPE_INTEGER | TYPE_ENUM => SlotKind::Int,
                TYPE_FLOAT => SlotKind::Float,
                TYPE_STRING => SlotKind::Str,
                TYPE_ARRAY => {
                    if (*(t as *const TypeCommon as *const TypeArray)).encoding != 0 {
                        SlotKind::Text
                    } else {
                        SlotKind::Opaque
                    }
                }
                TYPE_SEQUENCE => {
                    if (*(t as *const TypeCommon as *const TypeSequence)).encoding != 0 {
                        SlotKind::Text
                    } else {
                        SlotKind::Opaque
                    }
                }
                _ => return None,
            }
        };
        out.push(FilterSlot { name, kind, offset });
        offset += match kind {
            SlotKind::Text | SlotKind::Opaque => 16,
            _ => 8,
        };
    }
    Some(out)
}

/// Checks the provider's header: its name and ABI major.
///
/// # Safety
/// `d` is null or points to a provider's `lttng_ust_probe_desc`.
pub unsafe fn provider(d: *const ProbeDesc) -> Result<(&'static str, usize), String> {
    // SAFETY: caller's contract.
    let Some(d) = (unsafe { d.as_ref() }) else {
        return Err("null probe descriptor".into());
    };
    if (d.struct_size as usize) < std::mem::size_of::<ProbeDesc>() {
        return Err(format!(
            "probe descriptor of {} bytes is too short",
            d.struct_size
        ));
    }
    // SAFETY: a provider's name is a C string literal.
    let name =
        unsafe { text(d.provider_name, MAX_NAME_BYTES) }.ok_or("provider without a valid name")?;
    if !(PROVIDER_MAJOR_MIN..=PROVIDER_MAJOR_MAX).contains(&d.major) {
        return Err(format!(
            "provider {name}: ABI major {} is not supported (rttng supports {PROVIDER_MAJOR_MIN}..={PROVIDER_MAJOR_MAX})",
            d.major
        ));
    }
    let n = d.nr_events as usize;
    if n > MAX_EVENTS_PER_PROVIDER || (n > 0 && d.event_desc.is_null()) {
        return Err(format!("provider {name}: bad event count {n}"));
    }
    Ok((name, n))
}

/// Reads event `i` of a provider already checked by [`provider`].
///
/// # Safety
/// As [`provider`]; `i` is below its event count.
pub unsafe fn event(d: *const ProbeDesc, provider: &str, i: usize) -> Result<Event, String> {
    // SAFETY: checked by `provider`: a non-null array of nr_events pointers.
    let e = unsafe { *(*d).event_desc.add(i) };
    // SAFETY: a provider's event descriptor or null.
    let Some(e) = (unsafe { e.as_ref() }) else {
        return Err(format!("provider {provider}: null event descriptor #{i}"));
    };
    if (e.struct_size as usize) < std::mem::size_of::<EventDesc>() {
        return Err(format!(
            "provider {provider}: event descriptor #{i} is too short"
        ));
    }
    // SAFETY: C string or null.
    let ev = unsafe { text(e.event_name, MAX_NAME_BYTES) }
        .ok_or_else(|| format!("provider {provider}: event #{i} without a valid name"))?;
    let name = format!("{provider}:{ev}");
    if name.len() > MAX_NAME_BYTES
        || name
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(format!("event {name:?}: name too long or not printable"));
    }
    // loglevel: NULL member (no TRACEPOINT_LOGLEVEL), or the address of a weak reference.
    let loglevel = if e.loglevel.is_null() {
        DEFAULT_LOGLEVEL
    } else {
        // SAFETY: a non-null `const int **` from the provider.
        match unsafe { (*e.loglevel).as_ref() } {
            Some(v) if (0..=14).contains(v) => *v,
            Some(v) => return Err(format!("event {name}: log level {v} out of 0..=14")),
            None => DEFAULT_LOGLEVEL,
        }
    };
    // SAFETY: class pointer or null.
    let Some(class) = (unsafe { e.tp_class.as_ref() }) else {
        return Err(format!("event {name}: no tracepoint class"));
    };
    if (class.struct_size as usize) < std::mem::size_of::<TracepointClass>() {
        return Err(format!("event {name}: tracepoint class too short"));
    }
    let callback = class
        .probe_callback
        .ok_or_else(|| format!("event {name}: no probe callback"))?;
    // SAFETY: C string or null.
    let signature = unsafe { text(class.signature, MAX_TEXT_BYTES) }
        .ok_or_else(|| format!("event {name}: no valid signature"))?;
    // SAFETY: the class's field array of nr_fields pointers.
    let members = unsafe { fields(class.fields, class.nr_fields, 0) }
        .map_err(|m| format!("event {name}: {m}"))?;
    // SAFETY: the same array, checked just above.
    let filter = unsafe { filter_layout(class.fields, class.nr_fields) };
    Ok(Event {
        name,
        loglevel,
        fields: FieldClass::Struct(StructClass {
            members,
            min_align_bits: 1,
        }),
        signature,
        callback,
        filter,
    })
}

/// The written members of a field array.
///
/// # Safety
/// `f` is null or an array of `n` field pointers.
unsafe fn fields(
    f: *const *const EventField,
    n: usize,
    depth: u32,
) -> Result<Vec<StructMember>, String> {
    if n > MAX_FIELDS {
        return Err(format!("{n} fields (at most {MAX_FIELDS})"));
    }
    if n > 0 && f.is_null() {
        return Err("null field array".into());
    }
    let mut out: Vec<StructMember> = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: `i < n`.
        let p = unsafe { *f.add(i) };
        // SAFETY: field descriptor or null.
        let Some(field) = (unsafe { p.as_ref() }) else {
            return Err(format!("null field #{i}"));
        };
        if (field.struct_size as usize) < std::mem::size_of::<EventField>() {
            return Err(format!("field #{i}: descriptor too short"));
        }
        // SAFETY: C string or null.
        let fname = unsafe { text(field.name, MAX_NAME_BYTES) }
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("field #{i}: no valid name"))?;
        if field.bits & 1 != 0 {
            continue; // nowrite: neither written nor declared
        }
        let prev = out.last().map(|m| m.name.clone());
        // SAFETY: the field's type pointer.
        let class = unsafe { type_class(field.type_, prev.as_deref(), depth) }
            .map_err(|m| format!("field {fname}: {m}"))?;
        out.push(StructMember {
            name: format!("_{fname}"),
            class,
        });
    }
    Ok(out)
}

fn integer(t: &TypeInteger) -> Result<IntegerClass, String> {
    if (t.struct_size as usize) < std::mem::size_of::<TypeInteger>() {
        return Err("integer type too short".into());
    }
    if !matches!(t.size, 8 | 16 | 32 | 64) {
        return Err(format!("integer of {} bits", t.size));
    }
    if !matches!(t.alignment, 0 | 1 | 8 | 16 | 32 | 64) {
        return Err(format!("integer alignment of {} bits", t.alignment));
    }
    Ok(IntegerClass {
        size_bits: t.size,
        align_bits: u32::from(t.alignment).max(8),
        signed: t.bits & 1 != 0,
        byte_order: if t.bits & 2 != 0 {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        },
        base: match t.base {
            2 => DisplayBase::Binary,
            8 => DisplayBase::Octal,
            16 => DisplayBase::Hexadecimal,
            _ => DisplayBase::Decimal,
        },
        encoding: Encoding::None,
        mapped_clock: None,
        role: None,
        store_slot: None,
    })
}

/// # Safety
/// `t` is null or a type descriptor.
unsafe fn type_class(
    t: *const TypeCommon,
    prev: Option<&str>,
    depth: u32,
) -> Result<FieldClass, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH}"));
    }
    if t.is_null() {
        return Err("null type".into());
    }
    // SAFETY: the type descriptor starts with its kind; each arm reads its own struct,
    // whose `struct_size` is checked before fields past the common part are used.
    unsafe {
        match (*t).type_ {
            TYPE_INTEGER => Ok(FieldClass::Integer(integer(&*(t as *const TypeInteger))?)),
            TYPE_FLOAT => {
                let f = &*(t as *const TypeFloat);
                if (f.struct_size as usize) < std::mem::size_of::<TypeFloat>() {
                    return Err("float type too short".into());
                }
                if !matches!((f.exp_dig, f.mant_dig), (8, 24) | (11, 53)) {
                    return Err(format!("float with {}/{} digits", f.exp_dig, f.mant_dig));
                }
                Ok(FieldClass::Float(FloatClass {
                    exp_dig: f.exp_dig,
                    mant_dig: f.mant_dig,
                    align_bits: u32::from(f.alignment).max(8),
                    byte_order: if f.bits & 1 != 0 {
                        ByteOrder::Big
                    } else {
                        ByteOrder::Little
                    },
                }))
            }
            TYPE_STRING => {
                let s = &*(t as *const TypeString);
                if (s.struct_size as usize) < std::mem::size_of::<TypeString>() {
                    return Err("string type too short".into());
                }
                Ok(FieldClass::String(StringClass {
                    encoding: if s.encoding == 2 {
                        Encoding::Ascii
                    } else {
                        Encoding::Utf8
                    },
                }))
            }
            TYPE_ENUM => {
                let e = &*(t as *const TypeEnum);
                if (e.struct_size as usize) < std::mem::size_of::<TypeEnum>() {
                    return Err("enum type too short".into());
                }
                let c = e.container_type;
                if c.is_null() || (*c).type_ != TYPE_INTEGER {
                    return Err("enum container is not an integer".into());
                }
                let container = integer(&*(c as *const TypeInteger))?;
                let mappings = enum_mappings(e.desc)?;
                Ok(FieldClass::Enum(EnumClass {
                    container,
                    mappings,
                }))
            }
            TYPE_ARRAY => {
                let a = &*(t as *const TypeArray);
                if (a.struct_size as usize) < std::mem::size_of::<TypeArray>() {
                    return Err("array type too short".into());
                }
                if a.length > MAX_ARRAY_LENGTH {
                    return Err(format!("array of {} elements", a.length));
                }
                let element = element(a.elem_type, a.encoding, depth)?;
                Ok(FieldClass::Array(ArrayClass {
                    element: Box::new(element),
                    length: u64::from(a.length),
                }))
            }
            TYPE_SEQUENCE => {
                let s = &*(t as *const TypeSequence);
                if (s.struct_size as usize) < std::mem::size_of::<TypeSequence>() {
                    return Err("sequence type too short".into());
                }
                let length_ref = if s.length_name.is_null() {
                    prev.ok_or("sequence without a length field before it")?
                        .to_string()
                } else {
                    format!(
                        "_{}",
                        text(s.length_name, MAX_NAME_BYTES).ok_or("bad sequence length name")?
                    )
                };
                let element = element(s.elem_type, s.encoding, depth)?;
                Ok(FieldClass::Sequence(SequenceClass {
                    element: Box::new(element),
                    length_ref,
                    length_slot: 0,
                }))
            }
            TYPE_STRUCT => {
                let s = &*(t as *const TypeStruct);
                if (s.struct_size as usize) < std::mem::size_of::<TypeStruct>() {
                    return Err("struct type too short".into());
                }
                let members = fields(s.fields, s.nr_fields as usize, depth + 1)?;
                Ok(FieldClass::Struct(StructClass {
                    members,
                    min_align_bits: 1,
                }))
            }
            TYPE_DYNAMIC => Err("dynamic-type fields are not supported in events".into()),
            other => Err(format!("unknown type kind {other}")),
        }
    }
}

/// An array or sequence element; with a text encoding, an 8-bit integer marked UTF-8.
///
/// # Safety
/// `t` is null or a type descriptor.
unsafe fn element(t: *const TypeCommon, encoding: u32, depth: u32) -> Result<FieldClass, String> {
    // SAFETY: caller's contract.
    let mut c = unsafe { type_class(t, None, depth + 1) }?;
    if encoding != ENCODING_NONE {
        match &mut c {
            FieldClass::Integer(i) if i.size_bits == 8 => i.encoding = Encoding::Utf8,
            _ => return Err("text array of non-byte elements".into()),
        }
    }
    Ok(c)
}

/// # Safety
/// `d` is null or an enum descriptor.
unsafe fn enum_mappings(d: *const EnumDesc) -> Result<Vec<EnumMapping>, String> {
    // SAFETY: caller's contract.
    let Some(d) = (unsafe { d.as_ref() }) else {
        return Err("enum without a descriptor".into());
    };
    if (d.struct_size as usize) < std::mem::size_of::<EnumDesc>() {
        return Err("enum descriptor too short".into());
    }
    let n = d.nr_entries as usize;
    if n > MAX_ENUM_ENTRIES || (n > 0 && d.entries.is_null()) {
        return Err(format!("enum with {n} entries"));
    }
    let mut out: Vec<EnumMapping> = Vec::with_capacity(n);
    // The value an `auto` entry takes: one past the previous entry's end.
    let mut next: i128 = 0;
    for i in 0..n {
        // SAFETY: `i < n` entries.
        let e = unsafe { (*d.entries.add(i)).as_ref() }.ok_or("null enum entry")?;
        if (e.struct_size as usize) < std::mem::size_of::<EnumEntry>() {
            return Err("enum entry too short".into());
        }
        // SAFETY: C string or null.
        let label =
            unsafe { text(e.string, MAX_TEXT_BYTES) }.ok_or("enum entry without a label")?;
        let value = |v: &EnumValue| {
            if v.bits & 1 != 0 {
                i128::from(v.value as i64)
            } else {
                i128::from(v.value)
            }
        };
        let (lo, hi) = if e.options & 1 != 0 {
            (next, next)
        } else {
            (value(&e.start), value(&e.end))
        };
        if lo > hi {
            return Err(format!("enum entry {label:?}: empty range"));
        }
        next = hi + 1;
        match out.iter_mut().find(|m| m.label == label) {
            Some(m) => m.ranges.push((lo, hi)),
            None => out.push(EnumMapping {
                label: label.to_string(),
                ranges: vec![(lo, hi)],
            }),
        }
    }
    Ok(out)
}
