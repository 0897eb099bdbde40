//! Field classes compiled for decoding, once per trace: small nodes with alignment, roles and
//! value slots resolved.
//!
//! Each scope becomes two flat programs (lists of [`Op`]s; nested structs are flattened, only
//! arrays, sequences and variants have sub-programs). The decode program produces every
//! value. The skip program only moves the position and applies the fields' effects (clock
//! updates, event ids, stored lengths and tags), for consumers that need the structure but not
//! the values; there, runs of fixed-size fields without effects become one step. Counting
//! programs are skip programs in which clock values are not effects, one per event header and
//! one per event class for its contexts and payload together (`--count`). All check every
//! bound, so a damaged packet fails in each.

use super::{Bits, DecodeError, Result, State, MAX_DECODE_DEPTH, MAX_VALUES_PER_SCOPE};
use crate::event::Val;
use crate::ir::{ByteOrder, FieldClass, IntRole, IntegerClass};

const NO_SLOT: u32 = u32::MAX;

#[derive(Debug)]
pub(super) struct IntNode {
    size_bits: u32,
    align_bits: u32,
    order: ByteOrder,
    signed: bool,
    slot: u32,
    role: Option<IntRole>,
}

impl IntNode {
    fn new(ic: &IntegerClass) -> IntNode {
        IntNode {
            size_bits: ic.size_bits,
            align_bits: ic.align_bits,
            order: ic.byte_order,
            signed: ic.signed,
            slot: ic.store_slot.unwrap_or(NO_SLOT),
            role: ic.role,
        }
    }

    #[inline(always)]
    fn read(&self, r: &mut Bits<'_>, st: &mut State) -> Result<Val> {
        r.align(self.align_bits)?;
        let raw = r.read_uint(self.size_bits, self.order)?;
        let (val, stored) = if self.signed {
            let v = super::sign_extend(raw, self.size_bits);
            (Val::SInt(v), v as u64)
        } else {
            (Val::UInt(raw), raw)
        };
        if self.slot != NO_SLOT {
            if let Some(s) = st.slots.get_mut(self.slot as usize) {
                *s = stored;
            }
        }
        if let Some(role) = self.role {
            st.on_role(role, raw, self.size_bits);
        }
        Ok(val)
    }
}

#[derive(Debug)]
pub(super) enum Length {
    Fixed(u64),
    Slot(u32),
}

impl Length {
    #[inline]
    fn get(&self, st: &State) -> u64 {
        match *self {
            Length::Fixed(n) => n,
            Length::Slot(s) => st.slots.get(s as usize).copied().unwrap_or(0),
        }
    }
}

fn struct_align(s: &crate::ir::StructClass) -> u32 {
    s.members
        .iter()
        .map(|m| m.class.align_bits())
        .fold(s.min_align_bits, u32::max)
}

/// One step of a program: a scope flattened into a list, so that decoding or skipping an event
/// is a short loop rather than a walk down the tree.
#[derive(Debug)]
pub(super) enum Op {
    Align(u32),
    /// Decode programs only: align, and push the `Val::Struct` marker of a struct.
    StructBegin(u32),
    /// Align to a byte, then move this many bits (fixed-size fields without effects, merged).
    SkipBytes(u64),
    Int(IntNode),
    Float {
        align_bits: u32,
        size_bits: u32,
        order: ByteOrder,
    },
    Str,
    Text {
        length: Length,
    },
    List {
        length: Length,
        align_bits: u32,
        element_min_bits: u64,
        element: Box<[Op]>,
    },
    Variant {
        tag_slot: u32,
        tag_signed: bool,
        selector: Box<[(i128, i128, u32)]>,
        options: Box<[Box<[Op]>]>,
    },
    /// Skip programs only: an integer (an enum) immediately followed by the variant it tags,
    /// as in LTTng's event headers; one step instead of three.
    TaggedVariant {
        tag: IntNode,
        selector: Box<[(i128, i128, u32)]>,
        options: Box<[Box<[Op]>]>,
    },
}

/// The skip program of a scope.
pub(super) fn compile_skip(fc: &FieldClass) -> Box<[Op]> {
    compile(fc, Purpose::Skip)
}

/// One counting program for consecutive scopes (an event's header alone, or its contexts and
/// payload together): a skip program in which clock values are not effects (counting needs
/// the records' ids and sizes, not their times), so that more fields merge into single
/// steps, and in which the scopes' steps merge across their boundaries.
pub(super) fn compile_count(scopes: &[&FieldClass]) -> Box<[Op]> {
    let mut ops = Vec::new();
    for fc in scopes {
        flatten(fc, Purpose::Count, &mut ops);
    }
    ops.into()
}

/// Size in bits of a field that is skippable in one step: no effects, no strings, lengths or
/// variants, and every part aligned to exactly 8 bits with a whole number of bytes, so that
/// after aligning to a byte it always takes the same room.
fn fixed_bits(fc: &FieldClass, purpose: Purpose) -> Option<u64> {
    match fc {
        FieldClass::Integer(ic) => int_fixed_bits(ic, purpose),
        FieldClass::Enum(e) => int_fixed_bits(&e.container, purpose),
        FieldClass::Float(f) => {
            (f.align_bits == 8 && f.size_bits() % 8 == 0).then_some(u64::from(f.size_bits()))
        }
        FieldClass::Array(a) => fixed_bits(&a.element, purpose).map(|b| b.saturating_mul(a.length)),
        FieldClass::Struct(s) if struct_align(s) == 8 && !s.members.is_empty() => {
            s.members.iter().try_fold(0u64, |acc, m| {
                fixed_bits(&m.class, purpose).map(|b| acc.saturating_add(b))
            })
        }
        _ => None,
    }
}

fn int_fixed_bits(ic: &IntegerClass, purpose: Purpose) -> Option<u64> {
    let role_effect = match ic.role {
        None => false,
        Some(IntRole::DefaultClockTimestamp) => purpose != Purpose::Count,
        Some(_) => true,
    };
    let effect = ic.store_slot.is_some() || role_effect;
    (!effect && ic.align_bits == 8 && ic.size_bits.is_multiple_of(8))
        .then_some(u64::from(ic.size_bits))
}

fn push_skip(ops: &mut Vec<Op>, bits: u64) {
    // Every skippable field is byte-aligned and byte-sized: consecutive ones merge.
    match ops.last_mut() {
        Some(Op::SkipBytes(b)) => *b = b.saturating_add(bits),
        _ => ops.push(Op::SkipBytes(bits)),
    }
}

/// The alignment the first step of `fc` applies by itself, if it is at least `align_bits`:
/// then an explicit `Align` before it is redundant.
fn aligns_itself_to(fc: &FieldClass, align_bits: u32, purpose: Purpose) -> bool {
    if fixed_bits(fc, purpose).is_some() {
        return align_bits <= 8;
    }
    match fc {
        FieldClass::Integer(i) => i.align_bits >= align_bits,
        FieldClass::Enum(e) => e.container.align_bits >= align_bits,
        FieldClass::Float(f) => f.align_bits >= align_bits,
        FieldClass::String(_) => align_bits <= 8,
        FieldClass::Struct(s) => struct_align(s) >= align_bits,
        _ => false,
    }
}

/// What a program is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Produce every value.
    Decode,
    /// Only move past the fields and apply their effects.
    Skip,
    /// Like `Skip`, but clock values are not effects.
    Count,
}

fn compile(fc: &FieldClass, purpose: Purpose) -> Box<[Op]> {
    let mut ops = Vec::new();
    flatten(fc, purpose, &mut ops);
    ops.into()
}

fn flatten(fc: &FieldClass, purpose: Purpose, ops: &mut Vec<Op>) {
    let skip = purpose != Purpose::Decode;
    if skip {
        if let Some(bits) = fixed_bits(fc, purpose) {
            push_skip(ops, bits);
            return;
        }
    }
    let sub = |fc: &FieldClass| compile(fc, purpose);
    match fc {
        FieldClass::Integer(ic) => ops.push(Op::Int(IntNode::new(ic))),
        FieldClass::Enum(e) => ops.push(Op::Int(IntNode::new(&e.container))),
        FieldClass::Float(f) => ops.push(Op::Float {
            align_bits: f.align_bits,
            size_bits: f.size_bits(),
            order: f.byte_order,
        }),
        FieldClass::String(_) => ops.push(Op::Str),
        FieldClass::Array(a) => ops.push(list_op(&a.element, Length::Fixed(a.length), purpose)),
        FieldClass::Sequence(s) => {
            ops.push(list_op(&s.element, Length::Slot(s.length_slot), purpose))
        }
        FieldClass::Struct(s) if !skip => {
            ops.push(Op::StructBegin(struct_align(s)));
            for m in &s.members {
                flatten(&m.class, purpose, ops);
            }
        }
        FieldClass::Struct(s) => {
            let align = struct_align(s);
            if align > 1
                && !s
                    .members
                    .first()
                    .is_some_and(|m| aligns_itself_to(&m.class, align, purpose))
            {
                ops.push(Op::Align(align));
            }
            let mut members = s.members.iter().peekable();
            while let Some(m) = members.next() {
                // An integer followed by the variant it tags becomes one step.
                let tag = match &m.class {
                    FieldClass::Enum(e) => Some(&e.container),
                    FieldClass::Integer(i) => Some(i),
                    _ => None,
                };
                if let (Some(tag), Some(FieldClass::Variant(v))) =
                    (tag, members.peek().map(|n| &n.class))
                {
                    if tag.store_slot == Some(v.tag_slot) && fixed_bits(&m.class, purpose).is_none()
                    {
                        ops.push(Op::TaggedVariant {
                            tag: IntNode::new(tag),
                            selector: v.selector.clone().into(),
                            options: v.options.iter().map(|o| sub(&o.class)).collect(),
                        });
                        members.next();
                        continue;
                    }
                }
                flatten(&m.class, purpose, ops);
            }
        }
        FieldClass::Variant(v) => ops.push(Op::Variant {
            tag_slot: v.tag_slot,
            tag_signed: v.tag_signed,
            selector: v.selector.clone().into(),
            options: v.options.iter().map(|o| sub(&o.class)).collect(),
        }),
    }
}

/// An array or sequence: text when its elements are encoded bytes, else a list whose element
/// program `compile` builds (a decode or a skip program).
fn list_op(element: &FieldClass, length: Length, purpose: Purpose) -> Op {
    if element.is_text_element() {
        Op::Text { length }
    } else {
        Op::List {
            length,
            align_bits: element.align_bits(),
            element_min_bits: super::min_bits(element),
            element: compile(element, purpose),
        }
    }
}

/// The decode program of a scope: every field produces its `Val`s (see `crate::event::Val`).
pub(super) fn compile_decode(fc: &FieldClass) -> Box<[Op]> {
    compile(fc, Purpose::Decode)
}

/// Runs a decode program, appending the fields' values to `out`.
pub(super) fn decode(
    ops: &[Op],
    r: &mut Bits<'_>,
    st: &mut State,
    out: &mut Vec<Val>,
    depth: u32,
) -> Result<()> {
    if depth > MAX_DECODE_DEPTH {
        return Err(DecodeError::TooDeep { offset: r.offset() });
    }
    for op in ops {
        match op {
            Op::StructBegin(a) => {
                r.align(*a)?;
                out.push(Val::Struct);
            }
            Op::Int(n) => {
                let v = n.read(r, st)?;
                out.push(v);
            }
            Op::Str => out.push(str_val(read_str(r)?)),
            Op::Float {
                align_bits,
                size_bits,
                order,
            } => {
                r.align(*align_bits)?;
                out.push(Val::Float(read_float(r, *size_bits, *order)?));
            }
            Op::Text { length } => out.push(str_val(read_text(r, length.get(st))?)),
            Op::List {
                length,
                align_bits,
                element_min_bits,
                element,
            } => {
                let n = length.get(st);
                check_list(r, n, *align_bits, *element_min_bits)?;
                out.push(Val::List(n as u32));
                for _ in 0..n {
                    decode(element, r, st, out, depth + 1)?;
                    if out.len().saturating_sub(st.values_base) > MAX_VALUES_PER_SCOPE {
                        return Err(DecodeError::TooManyValues { offset: r.offset() });
                    }
                }
            }
            Op::Variant {
                tag_slot,
                tag_signed,
                selector,
                options,
            } => {
                let i = select(r, st, *tag_slot, *tag_signed, selector)?;
                out.push(Val::Variant(i as u32));
                decode(&options[i], r, st, out, depth + 1)?;
            }
            Op::Align(a) => r.align(*a)?,
            Op::SkipBytes(bits) => {
                r.align(8)?;
                r.skip(*bits)?;
            }
            // Only skip programs fuse a tag with its variant; decode values it anyway.
            Op::TaggedVariant {
                tag,
                selector,
                options,
            } => {
                let v = tag.read(r, st)?;
                out.push(v);
                let i = select_value(r, tag_value(v), selector)?;
                out.push(Val::Variant(i as u32));
                decode(&options[i], r, st, out, depth + 1)?;
            }
        }
    }
    if out.len().saturating_sub(st.values_base) > MAX_VALUES_PER_SCOPE {
        return Err(DecodeError::TooManyValues { offset: r.offset() });
    }
    Ok(())
}

/// Runs a skip program: moves past the fields, applying their effects, producing no values.
pub(super) fn skip(ops: &[Op], r: &mut Bits<'_>, st: &mut State, depth: u32) -> Result<()> {
    skip_inline(ops, r, st, depth)
}

/// [`skip`], inlined into its caller (the counting loop keeps the cursor in registers);
/// nested programs go through the out-of-line [`skip`].
#[inline(always)]
pub(super) fn skip_inline(ops: &[Op], r: &mut Bits<'_>, st: &mut State, depth: u32) -> Result<()> {
    if depth > MAX_DECODE_DEPTH {
        return Err(DecodeError::TooDeep { offset: r.offset() });
    }
    for op in ops {
        match op {
            Op::Align(a) => r.align(*a)?,
            Op::SkipBytes(bits) => {
                r.align(8)?;
                r.skip(*bits)?;
            }
            Op::Int(n) => {
                n.read(r, st)?;
            }
            Op::Float {
                align_bits,
                size_bits,
                order,
            } => {
                r.align(*align_bits)?;
                read_float(r, *size_bits, *order)?;
            }
            Op::Str => {
                read_str(r)?;
            }
            Op::Text { length } => {
                read_text(r, length.get(st))?;
            }
            Op::List {
                length,
                align_bits,
                element_min_bits,
                element,
            } => {
                let n = length.get(st);
                check_list(r, n, *align_bits, *element_min_bits)?;
                for _ in 0..n {
                    skip(element, r, st, depth + 1)?;
                }
            }
            Op::Variant {
                tag_slot,
                tag_signed,
                selector,
                options,
            } => {
                let i = select(r, st, *tag_slot, *tag_signed, selector)?;
                skip_option(&options[i], r, st, depth)?;
            }
            Op::TaggedVariant {
                tag,
                selector,
                options,
            } => {
                let v = tag.read(r, st)?;
                let i = select_value(r, tag_value(v), selector)?;
                skip_option(&options[i], r, st, depth)?;
            }
            Op::StructBegin(a) => r.align(*a)?,
        }
    }
    Ok(())
}

/// A variant's option: a lone integer (the usual timestamp) without a nested call.
#[inline(always)]
fn skip_option(ops: &[Op], r: &mut Bits<'_>, st: &mut State, depth: u32) -> Result<()> {
    match ops {
        [Op::Int(n)] => n.read(r, st).map(|_| ()),
        [Op::SkipBytes(bits)] => {
            r.align(8)?;
            r.skip(*bits)
        }
        _ => skip(ops, r, st, depth + 1),
    }
}

#[inline]
fn read_float(r: &mut Bits<'_>, size_bits: u32, order: ByteOrder) -> Result<f64> {
    match size_bits {
        32 => Ok(f64::from(f32::from_bits(r.read_uint(32, order)? as u32))),
        64 => Ok(f64::from_bits(r.read_uint(64, order)?)),
        _ => Err(DecodeError::UnsupportedFloat {
            offset: r.offset(),
            size_bits,
        }),
    }
}

/// The value of a string read as (start byte, length).
#[inline]
fn str_val((start, len): (usize, usize)) -> Val {
    Val::Str {
        start: start as u32,
        end: (start + len) as u32,
    }
}

/// A NUL-terminated string: (start byte, length without the NUL).
#[inline]
fn read_str(r: &mut Bits<'_>) -> Result<(usize, usize)> {
    r.align(8)?;
    let start = (r.pos / 8) as usize;
    let end_byte = (r.end / 8) as usize;
    let rest = &r.buf[start..end_byte];
    let len = nul_position(rest).ok_or(DecodeError::UnterminatedString { offset: r.offset() })?;
    r.pos += (len as u64 + 1) * 8;
    Ok((start, len))
}

/// The index of the first NUL of `bytes`. Event strings are mostly short: the first 8 bytes
/// are tested in a register (no call), the rest goes to `memchr`.
#[inline(always)]
fn nul_position(bytes: &[u8]) -> Option<usize> {
    if let Some(head) = bytes.first_chunk::<8>() {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let x = u64::from_le_bytes(*head);
        // Exact for the lowest zero byte: a borrow only propagates past a zero byte.
        let zeros = x.wrapping_sub(ONES) & !x & HIGH;
        if zeros != 0 {
            return Some(zeros.trailing_zeros() as usize / 8);
        }
        return memchr::memchr(0, &bytes[8..]).map(|i| i + 8);
    }
    memchr::memchr(0, bytes)
}

/// `n` bytes of text (an 8-bit encoded array or sequence): (start byte, length before any NUL).
#[inline]
fn read_text(r: &mut Bits<'_>, n: u64) -> Result<(usize, usize)> {
    r.align(8)?;
    if n > (r.end - r.pos) / 8 {
        return Err(DecodeError::LengthTooLarge {
            offset: r.offset(),
            length: n,
        });
    }
    let start = (r.pos / 8) as usize;
    let bytes = &r.buf[start..start + n as usize];
    let len = memchr::memchr(0, bytes).unwrap_or(bytes.len());
    r.pos += n * 8;
    Ok((start, len))
}

#[inline]
fn check_list(r: &mut Bits<'_>, n: u64, align_bits: u32, element_min_bits: u64) -> Result<()> {
    r.align(align_bits)?;
    let remaining = r.end - r.pos;
    if (element_min_bits > 0 && n > remaining / element_min_bits)
        || (element_min_bits == 0 && n > MAX_VALUES_PER_SCOPE as u64)
    {
        return Err(DecodeError::LengthTooLarge {
            offset: r.offset(),
            length: n,
        });
    }
    Ok(())
}

#[inline]
fn select(
    r: &Bits<'_>,
    st: &State,
    tag_slot: u32,
    tag_signed: bool,
    selector: &[(i128, i128, u32)],
) -> Result<usize> {
    let raw = st.slots.get(tag_slot as usize).copied().unwrap_or(0);
    let tag = if tag_signed {
        i128::from(raw as i64)
    } else {
        i128::from(raw)
    };
    select_value(r, tag, selector)
}

/// The option a tag value selects.
#[inline]
fn select_value(r: &Bits<'_>, tag: i128, selector: &[(i128, i128, u32)]) -> Result<usize> {
    selector
        .iter()
        .find(|&&(lo, hi, _)| lo <= tag && tag <= hi)
        .map(|&(_, _, i)| i as usize)
        .ok_or(DecodeError::NoVariantOption {
            offset: r.offset(),
            tag,
        })
}

/// The value of a decoded tag integer.
#[inline]
fn tag_value(v: Val) -> i128 {
    match v {
        Val::SInt(v) => i128::from(v),
        Val::UInt(v) => i128::from(v),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::nul_position;

    #[test]
    fn nul_position_agrees_with_a_plain_search_at_every_length_and_place() {
        for len in 0..40usize {
            for nul in 0..=len {
                let mut v: Vec<u8> = (0..len).map(|i| 1 + (i as u8 % 250)).collect();
                // 0x80 then 0x01: a byte-borrow trick done wrong would see a NUL there.
                if len > 3 {
                    v[0] = 0x80;
                    v[1] = 0x01;
                }
                if nul < len {
                    v[nul] = 0;
                }
                let want = v.iter().position(|&b| b == 0);
                assert_eq!(nul_position(&v), want, "len {len} nul {nul}");
            }
        }
    }
}
