//! Application contexts (`$app.PROVIDER:NAME`, LTTng 2.13's dynamic type): a channel's
//! records carry, after its other contexts, one variant per application context: an i8 tag
//! (LTTng's `lttng_ust_dynamic_type`: none, s8…s64, u8…u64, float, double, string) and the
//! value it selects, byte-aligned and packed as LTTng writes them. The values come from
//! whoever defines the providers (the LTTng-UST drop-in's `lttng_ust_context_provider_*`)
//! through the hook set by [`set_hook`]; without a hook, or for a provider nobody
//! registered, the tag is `_none` and nothing follows.
//!
//! Names are interned once per process (a [`crate::control::Context::App`] holds the
//! index), at most [`MAX_APP_CONTEXTS`].
//!
//! Filters read the same contexts through the hook's `value` ([`filter_value`]: LTTng's
//! `get_value`, typed per event).
//!
//! Not here: the providers themselves, the filter's dynamic semantics (rttng-filter).

use rttng_desc::{
    enum_class, uint_class, variant_class, ByteOrder, Encoding, FieldClass, FloatClass,
    StringClass, StructClass, StructMember,
};
use std::sync::{Mutex, OnceLock};

/// Most distinct application context names one process interns.
pub const MAX_APP_CONTEXTS: usize = 256;
/// Largest value (tag included) one application context writes into a record; a provider
/// asking for more records `_none`.
pub const MAX_APP_CONTEXT_BYTES: usize = 4096;
/// Longest string value a filter reads from a provider (what follows is not compared).
pub const MAX_FILTER_STRING_BYTES: usize = 65_536;

/// LTTng's tag labels, in tag order (`lttng_ust_dynamic_type`).
const TAGS: [&str; 12] = [
    "none", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float",
    "double", "string",
];

/// What defines the values: `size(index, name)` is the bytes context `name` (interned at
/// `index`, below [`MAX_APP_CONTEXTS`]) takes in the record being written (tag included);
/// `write(index, name, out)` fills `out`, whose length `size` just gave; `value(index,
/// name)` is the value a filter reads (LTTng's `get_value`). All run on the event path of
/// the recording thread: no lock, no allocation.
#[derive(Clone, Copy, Debug)]
pub struct Hook {
    pub size: fn(index: u16, name: &str) -> usize,
    pub write: fn(index: u16, name: &str, out: &mut [u8]),
    pub value: fn(index: u16, name: &str) -> RawValue,
}

/// A context's value for a filter, as its provider gave it (LTTng's `lttng_ust_ctx_value`
/// once lttng-ust's interpreter has read it: only `S64`, `DOUBLE` and a non-NULL `STRING`
/// are values; anything else is [`RawValue::None`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RawValue {
    None,
    Int(i64),
    Float(f64),
    /// `len` bytes at `ptr` (at most [`MAX_FILTER_STRING_BYTES`], up to the NUL), valid
    /// until the instrumented call that reads it returns: the provider's promise, as in
    /// LTTng.
    Str {
        ptr: *const u8,
        len: usize,
    },
}

static HOOK: OnceLock<Hook> = OnceLock::new();
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
/// Read without the lock on the event path: the interned names, published once each.
static TABLE: [OnceLock<&'static str>; MAX_APP_CONTEXTS] =
    [const { OnceLock::new() }; MAX_APP_CONTEXTS];

/// Sets the value hook (once per process; later calls are ignored).
pub fn set_hook(h: Hook) {
    let _ = HOOK.set(h);
}

/// The index of `name` (`PROVIDER:NAME`), interned if new; None when the table is full.
pub(crate) fn intern(name: &str) -> Option<u16> {
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = names.iter().position(|n| *n == name) {
        return u16::try_from(i).ok();
    }
    if names.len() >= MAX_APP_CONTEXTS {
        return None;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    let i = names.len();
    let _ = TABLE[i].set(leaked);
    names.push(leaked);
    u16::try_from(i).ok()
}

/// The name at `index` (`PROVIDER:NAME`).
pub(crate) fn name(index: u16) -> &'static str {
    TABLE
        .get(usize::from(index))
        .and_then(|c| c.get().copied())
        .unwrap_or("")
}

/// Bytes the context at `index` takes in the record being written.
#[inline]
pub(crate) fn size(index: u16) -> usize {
    match HOOK.get() {
        Some(h) => {
            let n = (h.size)(index, name(index));
            if (1..=MAX_APP_CONTEXT_BYTES).contains(&n) {
                n
            } else {
                1
            }
        }
        None => 1,
    }
}

/// Writes the context at `index` into `out` (`size(index)` bytes). What the provider
/// wrote is checked ([`sanitize`]): the record stays decodable whatever it does.
#[inline]
pub(crate) fn write(index: u16, out: &mut [u8]) {
    match HOOK.get() {
        Some(h) if out.len() > 1 || (h.size)(index, name(index)) == 1 => {
            (h.write)(index, name(index), out);
            sanitize(out);
        }
        _ => out.iter_mut().for_each(|b| *b = 0),
    }
}

/// The value of the context at `index` for a filter (none without a hook).
#[inline]
pub(crate) fn filter_value(index: u16) -> RawValue {
    match HOOK.get() {
        Some(h) => match (h.value)(index, name(index)) {
            RawValue::Str { ptr, len } if ptr.is_null() || len > MAX_FILTER_STRING_BYTES => {
                RawValue::None
            }
            v => v,
        },
        None => RawValue::None,
    }
}

/// Bytes of the value each tag selects (None: a string, NUL-terminated).
fn value_bytes(tag: u8) -> Option<Option<usize>> {
    Some(match tag {
        0 => Some(0),
        1 | 5 => Some(1),
        2 | 6 => Some(2),
        3 | 7 | 9 => Some(4),
        4 | 8 | 10 => Some(8),
        11 => None,
        _ => return None,
    })
}

/// Makes `out` (one context's bytes: tag and value) a valid encoding of its length: a
/// known tag whose value fills the rest exactly (a string ends at the last byte, without
/// an earlier NUL). Otherwise (a provider that wrote another size than it announced, an
/// unknown tag) it becomes `_none` for 1 byte, else a string of `#` of the right length (LTTng's filler for strings that changed),
/// so that the fields after it stay where the reader looks for them.
pub fn sanitize(out: &mut [u8]) {
    let Some((&tag, value)) = out.split_first() else {
        return;
    };
    let ok = match value_bytes(tag) {
        Some(Some(n)) => value.len() == n,
        Some(None) => value
            .split_last()
            .is_some_and(|(&last, text)| last == 0 && !text.contains(&0)),
        None => false,
    };
    if ok {
        return;
    }
    match out.len() {
        1 => out[0] = 0,
        n => {
            out[0] = 11;
            out[1..n - 1].fill(b'#');
            out[n - 1] = 0;
        }
    }
}

/// The metadata member name of `PROVIDER:NAME`: LTTng's `$app.P:N` with `$`, `.` and `:`
/// made `_`, then the metadata's leading `_` (`__app_P_N`).
pub fn member_name(name: &str) -> String {
    let clean: String = format!("$app.{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("_{clean}")
}

/// The two members LTTng declares for an application context: the tag enum
/// (`NAME_tag`) and the variant it selects (`NAME`).
pub fn members(name: &str) -> [StructMember; 2] {
    let base = member_name(name);
    let tag_name = format!("{base}_tag");
    let int = |bits: u32, signed: bool| {
        let mut c = uint_class(bits, 8, ByteOrder::Little);
        c.signed = signed;
        c
    };
    let labels: Vec<(String, i128)> = TAGS
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("_{l}"), i as i128))
        .collect();
    let label_refs: Vec<(&str, i128, i128)> =
        labels.iter().map(|(l, v)| (l.as_str(), *v, *v)).collect();
    let tag = enum_class(int(8, true), &label_refs);
    let float = |exp_dig: u32, mant_dig: u32| {
        FieldClass::Float(FloatClass {
            exp_dig,
            mant_dig,
            align_bits: 8,
            byte_order: ByteOrder::Little,
        })
    };
    let options: Vec<(&str, FieldClass)> = vec![
        (
            "_none",
            FieldClass::Struct(StructClass {
                members: Vec::new(),
                min_align_bits: 1,
            }),
        ),
        ("_int8", FieldClass::Integer(int(8, true))),
        ("_int16", FieldClass::Integer(int(16, true))),
        ("_int32", FieldClass::Integer(int(32, true))),
        ("_int64", FieldClass::Integer(int(64, true))),
        ("_uint8", FieldClass::Integer(int(8, false))),
        ("_uint16", FieldClass::Integer(int(16, false))),
        ("_uint32", FieldClass::Integer(int(32, false))),
        ("_uint64", FieldClass::Integer(int(64, false))),
        ("_float", float(8, 24)),
        ("_double", float(11, 53)),
        (
            "_string",
            FieldClass::String(StringClass {
                encoding: Encoding::Utf8,
            }),
        ),
    ];
    let variant = variant_class(&tag_name, &tag, options);
    [
        StructMember {
            name: tag_name,
            class: FieldClass::Enum(tag),
        },
        StructMember {
            name: base,
            class: variant,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_valid_values_and_repairs_the_rest_to_their_length() {
        // Valid: none, int32, double, string.
        for good in [
            vec![0u8],
            vec![3, 1, 2, 3, 4],
            vec![10, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F],
            b"\x0bhello\0".to_vec(),
        ] {
            let mut v = good.clone();
            sanitize(&mut v);
            assert_eq!(v, good);
        }
        // An int64 tag with 4 bytes, an unknown tag, a string without its NUL, a string
        // with a NUL inside: each becomes a string of its length.
        for (bad, want) in [
            (vec![4u8, 1, 2, 3, 4], b"\x0b###\0".to_vec()),
            (vec![200, 1, 2], b"\x0b#\0".to_vec()),
            (b"\x0babc".to_vec(), b"\x0b##\0".to_vec()),
            (b"\x0ba\0b\0".to_vec(), b"\x0b###\0".to_vec()),
            (vec![8u8], vec![0]),
        ] {
            let mut v = bad.clone();
            sanitize(&mut v);
            assert_eq!(v, want, "{bad:?}");
        }
    }

    #[test]
    fn member_names_are_lttngs() {
        let [tag, value] = members("myprov:text");
        assert_eq!(tag.name, "__app_myprov_text_tag");
        assert_eq!(value.name, "__app_myprov_text");
        let FieldClass::Variant(v) = value.class else {
            panic!("not a variant");
        };
        assert_eq!(v.options.len(), TAGS.len());
        // Tag 11 selects the string, 0 the empty struct.
        assert_eq!(
            v.select(11).map(|i| v.options[i].name.as_str()),
            Some("_string")
        );
        assert_eq!(
            v.select(0).map(|i| v.options[i].name.as_str()),
            Some("_none")
        );
    }
}
