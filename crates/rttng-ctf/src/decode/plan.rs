//! Field classes compiled for decoding: small nodes with alignment, roles and value slots
//! resolved once per trace, and, for each node, how to *skip* it cheaply.
//!
//! Two walks share these nodes. `decode` produces the `Val`s of every field. `skip` only moves
//! the position and applies the fields' effects (clock updates, event ids, stored lengths and
//! tags), for consumers that need the structure but not the values, such as counting; runs of
//! fixed-size fields without effects are skipped in one step. Both check every bound the same
//! way, so a damaged packet fails identically in both.

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

    fn has_effect(&self) -> bool {
        self.slot != NO_SLOT || self.role.is_some()
    }

    #[inline]
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
enum Length {
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

#[derive(Debug)]
enum Kind {
    Int(IntNode),
    Float { align_bits: u32, size_bits: u32, order: ByteOrder },
    Str,
    /// An array or sequence of 8-bit integers with an encoding: shown as text.
    Text { length: Length },
    List { length: Length, align_bits: u32, element_min_bits: u64, element: Box<Node> },
    Struct { align_bits: u32, members: Box<[Node]>, skip_members: Box<[Node]> },
    Variant { tag_slot: u32, tag_signed: bool, selector: Box<[(i128, i128, u32)]>, options: Box<[Node]> },
    /// Only in `skip_members`: a run of fixed-size fields without effects (its length is the
    /// node's `fixed_bits`), with the fields themselves for when it starts mid-byte.
    SkipRun { first: Box<[Node]> },
}

/// One compiled field.
#[derive(Debug)]
pub(super) struct Node {
    kind: Kind,
    /// When the field has no effects and takes this many bits wherever it starts on a byte
    /// boundary (every part byte-sized, aligned to at most 8 bits, no strings or variants).
    fixed_bits: Option<u64>,
}

pub(super) fn compile(fc: &FieldClass) -> Node {
    match fc {
        FieldClass::Integer(ic) => int_node(ic),
        FieldClass::Enum(e) => int_node(&e.container),
        FieldClass::Float(f) => Node {
            kind: Kind::Float { align_bits: f.align_bits, size_bits: f.size_bits(), order: f.byte_order },
            fixed_bits: (f.align_bits <= 8 && f.size_bits() % 8 == 0).then_some(u64::from(f.size_bits())),
        },
        FieldClass::String(_) => Node { kind: Kind::Str, fixed_bits: None },
        FieldClass::Array(a) => list_node(&a.element, Length::Fixed(a.length)),
        FieldClass::Sequence(s) => list_node(&s.element, Length::Slot(s.length_slot)),
        FieldClass::Struct(s) => {
            let members: Vec<Node> = s.members.iter().map(|m| compile(&m.class)).collect();
            let align_bits = s.members.iter().map(|m| m.class.align_bits()).fold(s.min_align_bits, u32::max);
            let fixed_bits = if align_bits <= 8 {
                members.iter().try_fold(0u64, |acc, m| m.fixed_bits.map(|b| acc.saturating_add(b)))
            } else {
                None
            };
            let skip_members = coalesce(s.members.iter().map(|m| compile(&m.class)).collect());
            Node { kind: Kind::Struct { align_bits, members: members.into(), skip_members: skip_members.into() }, fixed_bits }
        }
        FieldClass::Variant(v) => Node {
            kind: Kind::Variant {
                tag_slot: v.tag_slot,
                tag_signed: v.tag_signed,
                selector: v.selector.clone().into(),
                options: v.options.iter().map(|o| compile(&o.class)).collect(),
            },
            fixed_bits: None,
        },
    }
}

fn int_node(ic: &IntegerClass) -> Node {
    let n = IntNode::new(ic);
    let fixed_bits = (!n.has_effect() && n.align_bits <= 8 && n.size_bits % 8 == 0).then_some(u64::from(n.size_bits));
    Node { kind: Kind::Int(n), fixed_bits }
}

fn list_node(element: &FieldClass, length: Length) -> Node {
    let elem = compile(element);
    let fixed_bits = match (&length, elem.fixed_bits) {
        (Length::Fixed(n), Some(b)) if element.align_bits() <= 8 => Some(n.saturating_mul(b)),
        _ => None,
    };
    let kind = if element.is_text_element() {
        Kind::Text { length }
    } else {
        Kind::List { length, align_bits: element.align_bits(), element_min_bits: super::min_bits(element), element: Box::new(elem) }
    };
    Node { kind, fixed_bits }
}

/// Merges consecutive fixed, effect-free members into skip runs (keeping the originals for
/// when a run does not start on a byte boundary).
fn coalesce(members: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::with_capacity(members.len());
    let mut run: Vec<Node> = Vec::new();
    let flush = |run: &mut Vec<Node>, out: &mut Vec<Node>| {
        if run.len() >= 2 {
            let bits = run.iter().map(|n| n.fixed_bits.unwrap_or(0)).sum();
            out.push(Node { kind: Kind::SkipRun { first: std::mem::take(run).into() }, fixed_bits: Some(bits) });
        } else {
            out.append(run);
        }
    };
    for m in members {
        if m.fixed_bits.is_some() {
            run.push(m);
        } else {
            flush(&mut run, &mut out);
            out.push(m);
        }
    }
    flush(&mut run, &mut out);
    out
}

impl Node {
    /// Appends this field's values to `out`.
    pub(super) fn decode(&self, r: &mut Bits<'_>, st: &mut State, out: &mut Vec<Val>, depth: u32) -> Result<()> {
        match &self.kind {
            Kind::Int(n) => {
                let v = n.read(r, st)?;
                out.push(v);
            }
            Kind::Float { align_bits, size_bits, order } => {
                r.align(*align_bits)?;
                out.push(Val::Float(read_float(r, *size_bits, *order)?));
            }
            Kind::Str => {
                let (start, len) = read_str(r)?;
                out.push(Val::Str { start: start as u32, end: (start + len) as u32 });
            }
            Kind::Text { length } => {
                let n = length.get(st);
                let (start, len) = read_text(r, n)?;
                out.push(Val::Str { start: start as u32, end: (start + len) as u32 });
            }
            Kind::List { length, align_bits, element_min_bits, element } => {
                let n = length.get(st);
                check_list(r, n, *align_bits, *element_min_bits)?;
                out.push(Val::List(n as u32));
                for _ in 0..n {
                    element.decode(r, st, out, depth + 1)?;
                    if out.len() > MAX_VALUES_PER_SCOPE {
                        return Err(DecodeError::TooManyValues { offset: r.offset() });
                    }
                }
            }
            Kind::Struct { align_bits, members, .. } => {
                if depth > MAX_DECODE_DEPTH {
                    return Err(DecodeError::TooDeep { offset: r.offset() });
                }
                r.align(*align_bits)?;
                out.push(Val::Struct);
                for m in members.iter() {
                    m.decode(r, st, out, depth + 1)?;
                }
            }
            Kind::Variant { tag_slot, tag_signed, selector, options } => {
                if depth > MAX_DECODE_DEPTH {
                    return Err(DecodeError::TooDeep { offset: r.offset() });
                }
                let i = select(r, st, *tag_slot, *tag_signed, selector)?;
                out.push(Val::Variant(i as u32));
                options[i].decode(r, st, out, depth + 1)?;
            }
            Kind::SkipRun { first, .. } => {
                for m in first.iter() {
                    m.decode(r, st, out, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Moves past this field, applying its effects, producing no values.
    pub(super) fn skip(&self, r: &mut Bits<'_>, st: &mut State, depth: u32) -> Result<()> {
        if let Some(bits) = self.fixed_bits {
            if r.pos % 8 == 0 {
                return r.skip(bits);
            }
        }
        match &self.kind {
            Kind::Int(n) => {
                n.read(r, st)?;
            }
            Kind::Float { align_bits, size_bits, order } => {
                r.align(*align_bits)?;
                read_float(r, *size_bits, *order)?;
            }
            Kind::Str => {
                read_str(r)?;
            }
            Kind::Text { length } => {
                read_text(r, length.get(st))?;
            }
            Kind::List { length, align_bits, element_min_bits, element } => {
                let n = length.get(st);
                check_list(r, n, *align_bits, *element_min_bits)?;
                for _ in 0..n {
                    element.skip(r, st, depth + 1)?;
                }
            }
            Kind::Struct { align_bits, skip_members, .. } => {
                if depth > MAX_DECODE_DEPTH {
                    return Err(DecodeError::TooDeep { offset: r.offset() });
                }
                r.align(*align_bits)?;
                for m in skip_members.iter() {
                    m.skip(r, st, depth + 1)?;
                }
            }
            Kind::Variant { tag_slot, tag_signed, selector, options } => {
                if depth > MAX_DECODE_DEPTH {
                    return Err(DecodeError::TooDeep { offset: r.offset() });
                }
                let i = select(r, st, *tag_slot, *tag_signed, selector)?;
                options[i].skip(r, st, depth + 1)?;
            }
            Kind::SkipRun { first, .. } => {
                for m in first.iter() {
                    m.skip(r, st, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

#[inline]
fn read_float(r: &mut Bits<'_>, size_bits: u32, order: ByteOrder) -> Result<f64> {
    match size_bits {
        32 => Ok(f64::from(f32::from_bits(r.read_uint(32, order)? as u32))),
        64 => Ok(f64::from_bits(r.read_uint(64, order)?)),
        _ => Err(DecodeError::UnsupportedFloat { offset: r.offset(), size_bits }),
    }
}

/// A NUL-terminated string: (start byte, length without the NUL).
#[inline]
fn read_str(r: &mut Bits<'_>) -> Result<(usize, usize)> {
    r.align(8)?;
    let start = (r.pos / 8) as usize;
    let end_byte = (r.end / 8) as usize;
    let rest = &r.buf[start..end_byte];
    let len = rest.iter().position(|&b| b == 0).ok_or(DecodeError::UnterminatedString { offset: r.offset() })?;
    r.pos += (len as u64 + 1) * 8;
    Ok((start, len))
}

/// `n` bytes of text (an 8-bit encoded array or sequence): (start byte, length before any NUL).
#[inline]
fn read_text(r: &mut Bits<'_>, n: u64) -> Result<(usize, usize)> {
    r.align(8)?;
    if n > (r.end - r.pos) / 8 {
        return Err(DecodeError::LengthTooLarge { offset: r.offset(), length: n });
    }
    let start = (r.pos / 8) as usize;
    let bytes = &r.buf[start..start + n as usize];
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    r.pos += n * 8;
    Ok((start, len))
}

#[inline]
fn check_list(r: &mut Bits<'_>, n: u64, align_bits: u32, element_min_bits: u64) -> Result<()> {
    r.align(align_bits)?;
    let remaining = r.end - r.pos;
    if (element_min_bits > 0 && n > remaining / element_min_bits) || (element_min_bits == 0 && n > MAX_VALUES_PER_SCOPE as u64) {
        return Err(DecodeError::LengthTooLarge { offset: r.offset(), length: n });
    }
    Ok(())
}

#[inline]
fn select(r: &Bits<'_>, st: &State, tag_slot: u32, tag_signed: bool, selector: &[(i128, i128, u32)]) -> Result<usize> {
    let raw = st.slots.get(tag_slot as usize).copied().unwrap_or(0);
    let tag = if tag_signed { i128::from(raw as i64) } else { i128::from(raw) };
    selector
        .iter()
        .find(|&&(lo, hi, _)| lo <= tag && tag <= hi)
        .map(|&(_, _, i)| i as usize)
        .ok_or(DecodeError::NoVariantOption { offset: r.offset(), tag })
}
