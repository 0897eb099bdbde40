//! Bit-level encoding of CTF fields: a [`BitWriter`] that places integers of any size at any bit
//! position in either byte order, and [`encode_field`], which writes a [`Value`] tree as a
//! [`FieldClass`] lays it out.
//!
//! Bit layout is the one babeltrace2's `bitfield.h` reads: in little-endian fields the first bit
//! written is the least significant bit of the value and goes to the least significant free bit of
//! the current byte; in big-endian fields the most significant bit of the value goes first, into
//! the most significant free bit. Positions and alignments count from the start of the buffer,
//! which the caller makes the start of a packet.
//!
//! This module does no I/O and knows nothing about packets, headers or metadata text; see
//! `writer` for packets and `emit` for TSDL.

use crate::ir::{ByteOrder, EnumClass, FieldClass, IntegerClass};

/// Deepest field class nesting [`encode_field`] follows before giving up.
pub const MAX_NESTING_DEPTH: u32 = 64;

/// Most integer values remembered per event for sequence-length and variant-tag checks.
pub const MAX_REMEMBERED_INTEGERS: usize = 4096;

/// A saved [`BitWriter`] position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pos_bits: u64,
    partial_byte: u8,
    last_byte_order: Option<ByteOrder>,
}

/// Writes bits into a growable byte buffer. Bytes past the current position are always zero, so
/// alignment padding and the unused high bits of a partly written byte are zero.
#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    buf: Vec<u8>,
    pos_bits: u64,
    /// Byte order of the last integer written, to refuse a change in the middle of a byte
    /// (babeltrace2 rejects it: the two orders fill a byte from opposite ends).
    last_byte_order: Option<ByteOrder>,
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Write the low `size_bits` bits of `value` at bit position `pos_bits` of `buf`, replacing the
/// bits there. `buf` must already cover the range.
fn put_bits(buf: &mut [u8], pos_bits: u64, value: u64, size_bits: u32, byte_order: ByteOrder) {
    let value = value & mask(size_bits);
    let mut pos = pos_bits;
    let mut remaining = size_bits;
    match byte_order {
        ByteOrder::Little => {
            let mut v = value;
            while remaining > 0 {
                let byte = (pos / 8) as usize;
                let off = (pos % 8) as u32;
                let n = remaining.min(8 - off);
                let m = (mask(n) as u8) << off;
                buf[byte] = (buf[byte] & !m) | (((v & mask(n)) as u8) << off);
                v = if n >= 64 { 0 } else { v >> n };
                pos += u64::from(n);
                remaining -= n;
            }
        }
        ByteOrder::Big => {
            while remaining > 0 {
                let byte = (pos / 8) as usize;
                let off = (pos % 8) as u32;
                let n = remaining.min(8 - off);
                let shift = 8 - off - n;
                let bits = ((value >> (remaining - n)) & mask(n)) as u8;
                let m = (mask(n) as u8) << shift;
                buf[byte] = (buf[byte] & !m) | (bits << shift);
                pos += u64::from(n);
                remaining -= n;
            }
        }
    }
}

impl BitWriter {
    pub fn new() -> BitWriter {
        BitWriter::default()
    }

    /// A writer that reuses `buf`'s allocation; the buffer is cleared.
    pub fn with_buffer(mut buf: Vec<u8>) -> BitWriter {
        buf.clear();
        BitWriter {
            buf,
            pos_bits: 0,
            last_byte_order: None,
        }
    }

    /// Current position in bits from the start of the buffer.
    pub fn pos_bits(&self) -> u64 {
        self.pos_bits
    }

    /// Bytes written so far; the last one may be partly used.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Forget everything written, keeping the allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.pos_bits = 0;
        self.last_byte_order = None;
    }

    /// Whether writing an integer of `byte_order` here would change the byte order in the
    /// middle of a byte, which readers reject.
    pub fn byte_order_conflict(&self, byte_order: ByteOrder) -> bool {
        !self.pos_bits.is_multiple_of(8) && self.last_byte_order.is_some_and(|b| b != byte_order)
    }

    fn grow_to(&mut self, end_bits: u64) {
        let need = end_bits.div_ceil(8) as usize;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
    }

    /// Zero-pad up to the next multiple of `align_bits` (a power of two; 0 and 1 do nothing).
    pub fn align(&mut self, align_bits: u32) {
        if align_bits > 1 {
            let a = u64::from(align_bits);
            let rem = self.pos_bits % a;
            if rem != 0 {
                self.pos_bits += a - rem;
                self.grow_to(self.pos_bits);
            }
        }
    }

    /// The current position, to [`rewind`](Self::rewind) to if what follows must be undone.
    pub fn mark(&self) -> Mark {
        let partial = if !self.pos_bits.is_multiple_of(8) {
            self.buf.last().copied().unwrap_or(0)
        } else {
            0
        };
        Mark {
            pos_bits: self.pos_bits,
            partial_byte: partial,
            last_byte_order: self.last_byte_order,
        }
    }

    /// Undo everything written since `mark` (no effect if the writer is already before it).
    pub fn rewind(&mut self, mark: Mark) {
        if mark.pos_bits <= self.pos_bits {
            self.buf.truncate(mark.pos_bits.div_ceil(8) as usize);
            if !mark.pos_bits.is_multiple_of(8) {
                if let Some(last) = self.buf.last_mut() {
                    *last = mark.partial_byte;
                }
            }
            self.pos_bits = mark.pos_bits;
            self.last_byte_order = mark.last_byte_order;
        }
    }

    /// Zero-pad up to bit position `pos_bits` (no effect if already past it).
    pub fn pad_to(&mut self, pos_bits: u64) {
        if pos_bits > self.pos_bits {
            self.pos_bits = pos_bits;
            self.grow_to(pos_bits);
        }
    }

    /// Write the low `size_bits` (1..=64, clamped) bits of `value`, unaligned.
    pub fn write_uint(&mut self, value: u64, size_bits: u32, byte_order: ByteOrder) {
        let size_bits = size_bits.clamp(1, 64);
        let start = self.pos_bits;
        self.grow_to(start + u64::from(size_bits));
        if start.is_multiple_of(8) && size_bits.is_multiple_of(8) {
            let at = (start / 8) as usize;
            let n = (size_bits / 8) as usize;
            match byte_order {
                ByteOrder::Little => {
                    self.buf[at..at + n].copy_from_slice(&value.to_le_bytes()[..n])
                }
                ByteOrder::Big => {
                    self.buf[at..at + n].copy_from_slice(&value.to_be_bytes()[8 - n..])
                }
            }
        } else {
            put_bits(&mut self.buf, start, value, size_bits, byte_order);
        }
        self.pos_bits = start + u64::from(size_bits);
        self.last_byte_order = Some(byte_order);
    }

    /// Write `value` as a `size_bits`-bit two's complement integer, unaligned.
    pub fn write_sint(&mut self, value: i64, size_bits: u32, byte_order: ByteOrder) {
        self.write_uint(value as u64, size_bits, byte_order);
    }

    /// Overwrite `size_bits` bits at an earlier position (for fields filled in at packet close).
    /// Returns false, writing nothing, if the range is not inside what was written.
    pub fn patch_uint(
        &mut self,
        at_bits: u64,
        value: u64,
        size_bits: u32,
        byte_order: ByteOrder,
    ) -> bool {
        let size_bits = size_bits.clamp(1, 64);
        if at_bits + u64::from(size_bits) > self.pos_bits {
            return false;
        }
        put_bits(&mut self.buf, at_bits, value, size_bits, byte_order);
        true
    }

    pub fn write_f32(&mut self, value: f32, byte_order: ByteOrder) {
        self.write_uint(u64::from(value.to_bits()), 32, byte_order);
    }

    pub fn write_f64(&mut self, value: f64, byte_order: ByteOrder) {
        self.write_uint(value.to_bits(), 64, byte_order);
    }

    /// Byte-align, then write `bytes` as they are.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.align(8);
        self.buf.extend_from_slice(bytes);
        self.pos_bits += 8 * bytes.len() as u64;
    }

    /// Byte-align, then write `s` and a terminating NUL. The caller checks `s` holds no NUL.
    pub fn write_string(&mut self, s: &[u8]) {
        self.write_bytes(s);
        self.buf.push(0);
        self.pos_bits += 8;
    }
}

/// A field value to encode, shaped like its field class.
///
/// Sequences and variants are written as given: their length and tag are ordinary integer or enum
/// members the caller supplies earlier in the same (or an enclosing) scope, and [`encode_field`]
/// checks that they agree.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// For integers, enums (their container) and nothing else.
    UInt(u64),
    SInt(i64),
    Float(f64),
    /// For strings; also for a text array/sequence (8-bit element with an encoding), whose length
    /// must then be the byte length of the string.
    Str(String),
    /// Raw bytes for an array or sequence of 8-bit integers.
    Bytes(Vec<u8>),
    /// Elements of an array or sequence.
    Array(Vec<Value>),
    /// Members of a struct, in declaration order.
    Struct(Vec<Value>),
    /// The selected option of a variant, by name as the metadata spells it, and its value.
    Variant {
        option: String,
        value: Box<Value>,
    },
}

/// Why a value could not be encoded. `field` is the member name where it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum EncodeError {
    /// The value's shape does not fit the field class.
    TypeMismatch {
        field: String,
        expected: &'static str,
    },
    /// An integer value does not fit its field.
    IntegerOutOfRange {
        field: String,
        value: i128,
        size_bits: u32,
        signed: bool,
    },
    /// A struct value has the wrong number of members, or an array the wrong number of elements.
    CountMismatch {
        field: String,
        expected: u64,
        actual: u64,
    },
    /// A sequence's element count differs from its length field.
    SequenceLengthMismatch {
        field: String,
        length_ref: String,
        length: u64,
        actual: u64,
    },
    /// The length field of a sequence was not written before it.
    LengthFieldNotFound { field: String, length_ref: String },
    /// The tag of a variant was not written before it, or is not an enum.
    TagNotFound { field: String, tag_ref: String },
    /// The variant has no option with this name.
    UnknownOption { field: String, option: String },
    /// The tag value does not select the given option.
    TagMismatch {
        field: String,
        option: String,
        tag: i128,
    },
    /// A string holds a NUL byte, which would end it early.
    StringHasNul { field: String },
    /// Only IEEE 754 binary32 and binary64 are supported.
    UnsupportedFloat {
        field: String,
        exp_dig: u32,
        mant_dig: u32,
    },
    /// The field would change the byte order in the middle of a byte.
    ByteOrderChangeMidByte { field: String },
    /// Field classes nest deeper than [`MAX_NESTING_DEPTH`].
    TooDeep { field: String },
    /// More than [`MAX_REMEMBERED_INTEGERS`] integers in one scope chain.
    TooManyIntegers { field: String },
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::TypeMismatch { field, expected } => {
                write!(f, "field `{field}`: value does not match the field class, expected {expected}")
            }
            EncodeError::IntegerOutOfRange { field, value, size_bits, signed } => write!(
                f,
                "field `{field}`: {value} does not fit a {} {size_bits}-bit integer",
                if *signed { "signed" } else { "unsigned" }
            ),
            EncodeError::CountMismatch { field, expected, actual } => {
                write!(f, "field `{field}`: expected {expected} elements or members, got {actual}")
            }
            EncodeError::SequenceLengthMismatch { field, length_ref, length, actual } => write!(
                f,
                "sequence `{field}`: length field `{length_ref}` says {length}, value has {actual} elements"
            ),
            EncodeError::LengthFieldNotFound { field, length_ref } => {
                write!(f, "sequence `{field}`: length field `{length_ref}` was not written before it")
            }
            EncodeError::TagNotFound { field, tag_ref } => {
                write!(f, "variant `{field}`: tag enum `{tag_ref}` was not written before it")
            }
            EncodeError::UnknownOption { field, option } => write!(f, "variant `{field}`: no option named `{option}`"),
            EncodeError::TagMismatch { field, option, tag } => {
                write!(f, "variant `{field}`: tag value {tag} does not select option `{option}`")
            }
            EncodeError::StringHasNul { field } => write!(f, "string `{field}` contains a nul byte"),
            EncodeError::UnsupportedFloat { field, exp_dig, mant_dig } => write!(
                f,
                "field `{field}`: unsupported floating point class (exp_dig {exp_dig}, mant_dig {mant_dig})"
            ),
            EncodeError::ByteOrderChangeMidByte { field } => {
                write!(f, "field `{field}`: byte order changes in the middle of a byte")
            }
            EncodeError::TooDeep { field } => {
                write!(f, "field `{field}`: field classes nest deeper than {MAX_NESTING_DEPTH}")
            }
            EncodeError::TooManyIntegers { field } => {
                write!(f, "field `{field}`: more than {MAX_REMEMBERED_INTEGERS} integers in one record")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// One integer written so far, remembered so later sequences and variants can be checked.
#[derive(Clone, Copy, Debug)]
struct Remembered<'m> {
    name: &'m str,
    value: i128,
    enum_class: Option<&'m EnumClass>,
}

/// Integers written in the current record (and its packet), by member name. Reused from record to
/// record so that encoding allocates nothing once it has grown.
#[derive(Debug, Default)]
pub struct EncodeScratch<'m> {
    ints: Vec<Remembered<'m>>,
}

impl<'m> EncodeScratch<'m> {
    pub fn new() -> EncodeScratch<'m> {
        EncodeScratch { ints: Vec::new() }
    }

    /// A mark to [`truncate`](Self::truncate) back to (e.g. the end of the packet context).
    pub fn mark(&self) -> usize {
        self.ints.len()
    }

    pub fn truncate(&mut self, mark: usize) {
        self.ints.truncate(mark);
    }

    fn remember(
        &mut self,
        name: &'m str,
        value: i128,
        enum_class: Option<&'m EnumClass>,
    ) -> Result<(), EncodeError> {
        if self.ints.len() >= MAX_REMEMBERED_INTEGERS {
            return Err(EncodeError::TooManyIntegers {
                field: name.to_string(),
            });
        }
        self.ints.push(Remembered {
            name,
            value,
            enum_class,
        });
        Ok(())
    }

    /// The most recent integer whose name is the last component of `path`
    /// (`__seq_length`, `stream.event.context._len`).
    fn lookup(&self, path: &str) -> Option<Remembered<'m>> {
        let last = path.rsplit('.').next().unwrap_or(path).trim();
        self.ints.iter().rev().find(|r| r.name == last).copied()
    }
}

fn int_range(class: &IntegerClass) -> (i128, i128) {
    let size = class.size_bits.clamp(1, 64);
    if class.signed {
        (-(1i128 << (size - 1)), (1i128 << (size - 1)) - 1)
    } else {
        (0, (1i128 << size) - 1)
    }
}

/// Check `value` fits `class` and return it as i128.
fn int_value(field: &str, class: &IntegerClass, value: &Value) -> Result<i128, EncodeError> {
    let v = match value {
        Value::UInt(u) => i128::from(*u),
        Value::SInt(s) => i128::from(*s),
        _ => {
            return Err(EncodeError::TypeMismatch {
                field: field.to_string(),
                expected: "an integer",
            })
        }
    };
    let (lo, hi) = int_range(class);
    if v < lo || v > hi {
        return Err(EncodeError::IntegerOutOfRange {
            field: field.to_string(),
            value: v,
            size_bits: class.size_bits,
            signed: class.signed,
        });
    }
    Ok(v)
}

/// Write one integer of class `class` (aligned), with the range already checked.
pub fn write_integer(w: &mut BitWriter, class: &IntegerClass, value: i128) {
    w.align(class.align_bits);
    w.write_uint(value as u64, class.size_bits, class.byte_order);
}

/// Encode `value` as a field of class `class` named `name`, at the writer's current position.
pub fn encode_field<'m>(
    w: &mut BitWriter,
    scratch: &mut EncodeScratch<'m>,
    name: &'m str,
    class: &'m FieldClass,
    value: &Value,
) -> Result<(), EncodeError> {
    encode_at(w, scratch, name, class, value, 0)
}

fn byte_element(class: &FieldClass) -> Option<&IntegerClass> {
    match class {
        FieldClass::Integer(i) if i.size_bits == 8 => Some(i),
        _ => None,
    }
}

fn encode_at<'m>(
    w: &mut BitWriter,
    scratch: &mut EncodeScratch<'m>,
    name: &'m str,
    class: &'m FieldClass,
    value: &Value,
    depth: u32,
) -> Result<(), EncodeError> {
    if depth > MAX_NESTING_DEPTH {
        return Err(EncodeError::TooDeep {
            field: name.to_string(),
        });
    }
    match class {
        FieldClass::Integer(ic) => {
            let v = int_value(name, ic, value)?;
            check_bo(w, name, ic.align_bits, ic.byte_order)?;
            write_integer(w, ic, v);
            scratch.remember(name, v, None)
        }
        FieldClass::Enum(ec) => {
            let v = int_value(name, &ec.container, value)?;
            check_bo(w, name, ec.container.align_bits, ec.container.byte_order)?;
            write_integer(w, &ec.container, v);
            scratch.remember(name, v, Some(ec))
        }
        FieldClass::Float(fc) => {
            let Value::Float(x) = value else {
                return Err(EncodeError::TypeMismatch {
                    field: name.to_string(),
                    expected: "a float",
                });
            };
            check_bo(w, name, fc.align_bits, fc.byte_order)?;
            w.align(fc.align_bits);
            match (fc.exp_dig, fc.mant_dig) {
                (8, 24) => w.write_f32(*x as f32, fc.byte_order),
                (11, 53) => w.write_f64(*x, fc.byte_order),
                (exp_dig, mant_dig) => {
                    return Err(EncodeError::UnsupportedFloat {
                        field: name.to_string(),
                        exp_dig,
                        mant_dig,
                    })
                }
            }
            Ok(())
        }
        FieldClass::String(_) => {
            let Value::Str(s) = value else {
                return Err(EncodeError::TypeMismatch {
                    field: name.to_string(),
                    expected: "a string",
                });
            };
            if s.as_bytes().contains(&0) {
                return Err(EncodeError::StringHasNul {
                    field: name.to_string(),
                });
            }
            w.write_string(s.as_bytes());
            Ok(())
        }
        FieldClass::Array(ac) => {
            encode_elements(w, scratch, name, class, &ac.element, value, depth)?
                .check_count(name, ac.length)
        }
        FieldClass::Sequence(sc) => {
            let Some(len) = scratch.lookup(&sc.length_ref) else {
                return Err(EncodeError::LengthFieldNotFound {
                    field: name.to_string(),
                    length_ref: sc.length_ref.clone(),
                });
            };
            let count = element_count(value);
            if i128::from(count) != len.value {
                return Err(EncodeError::SequenceLengthMismatch {
                    field: name.to_string(),
                    length_ref: sc.length_ref.clone(),
                    length: len.value.clamp(0, i128::from(u64::MAX)) as u64,
                    actual: count,
                });
            }
            encode_elements(w, scratch, name, class, &sc.element, value, depth)?;
            Ok(())
        }
        FieldClass::Struct(st) => {
            let Value::Struct(members) = value else {
                return Err(EncodeError::TypeMismatch {
                    field: name.to_string(),
                    expected: "a struct",
                });
            };
            if members.len() != st.members.len() {
                return Err(EncodeError::CountMismatch {
                    field: name.to_string(),
                    expected: st.members.len() as u64,
                    actual: members.len() as u64,
                });
            }
            w.align(class.align_bits());
            for (m, v) in st.members.iter().zip(members) {
                encode_at(w, scratch, &m.name, &m.class, v, depth + 1)?;
            }
            Ok(())
        }
        FieldClass::Variant(vc) => {
            let Value::Variant {
                option,
                value: inner,
            } = value
            else {
                return Err(EncodeError::TypeMismatch {
                    field: name.to_string(),
                    expected: "a variant",
                });
            };
            let Some(opt) = vc.options.iter().find(|o| o.name == *option) else {
                return Err(EncodeError::UnknownOption {
                    field: name.to_string(),
                    option: option.clone(),
                });
            };
            let tag = match scratch.lookup(&vc.tag_ref) {
                Some(Remembered {
                    value,
                    enum_class: Some(ec),
                    ..
                }) => (value, ec),
                _ => {
                    return Err(EncodeError::TagNotFound {
                        field: name.to_string(),
                        tag_ref: vc.tag_ref.clone(),
                    })
                }
            };
            // CTF matches option names to enum labels; babeltrace2 also accepts an option
            // named `_label` for label `label`.
            let selects = tag.1.labels_for(tag.0).next().is_some_and(|label| {
                label == opt.name || opt.name.strip_prefix('_') == Some(label)
            });
            if !selects {
                return Err(EncodeError::TagMismatch {
                    field: name.to_string(),
                    option: option.clone(),
                    tag: tag.0,
                });
            }
            encode_at(w, scratch, &opt.name, &opt.class, inner, depth + 1)
        }
    }
}

/// Refuse a byte order change in the middle of a byte (after the field's own alignment).
fn check_bo(
    w: &BitWriter,
    name: &str,
    align_bits: u32,
    byte_order: ByteOrder,
) -> Result<(), EncodeError> {
    let aligned_to_byte = align_bits >= 8 && align_bits.is_power_of_two();
    if !aligned_to_byte && w.byte_order_conflict(byte_order) {
        return Err(EncodeError::ByteOrderChangeMidByte {
            field: name.to_string(),
        });
    }
    Ok(())
}

fn element_count(value: &Value) -> u64 {
    match value {
        Value::Array(v) => v.len() as u64,
        Value::Bytes(b) => b.len() as u64,
        Value::Str(s) => s.len() as u64,
        _ => 0,
    }
}

struct Written(u64);

impl Written {
    fn check_count(self, name: &str, expected: u64) -> Result<(), EncodeError> {
        if self.0 != expected {
            return Err(EncodeError::CountMismatch {
                field: name.to_string(),
                expected,
                actual: self.0,
            });
        }
        Ok(())
    }
}

/// Write the elements of an array or sequence. Checks the count against the class *before*
/// writing anything for arrays (the caller's `check_count` sees the same count).
fn encode_elements<'m>(
    w: &mut BitWriter,
    scratch: &mut EncodeScratch<'m>,
    name: &'m str,
    class: &'m FieldClass,
    element: &'m FieldClass,
    value: &Value,
    depth: u32,
) -> Result<Written, EncodeError> {
    if let FieldClass::Array(ac) = class {
        let count = element_count(value);
        if count != ac.length {
            return Err(EncodeError::CountMismatch {
                field: name.to_string(),
                expected: ac.length,
                actual: count,
            });
        }
    }
    match value {
        Value::Bytes(b) => {
            let Some(ic) = byte_element(element) else {
                return Err(EncodeError::TypeMismatch {
                    field: name.to_string(),
                    expected: "8-bit integer elements",
                });
            };
            write_byte_run(w, ic, b);
            Ok(Written(b.len() as u64))
        }
        Value::Str(s) => {
            let Some(ic) = byte_element(element) else {
                return Err(EncodeError::TypeMismatch {
                    field: name.to_string(),
                    expected: "8-bit integer elements",
                });
            };
            write_byte_run(w, ic, s.as_bytes());
            Ok(Written(s.len() as u64))
        }
        Value::Array(items) => {
            w.align(element.align_bits());
            for item in items {
                encode_at(w, scratch, name, element, item, depth + 1)?;
            }
            Ok(Written(items.len() as u64))
        }
        _ => Err(EncodeError::TypeMismatch {
            field: name.to_string(),
            expected: "an array of elements",
        }),
    }
}

/// Write bytes as a run of 8-bit integer elements: a plain copy when byte-aligned.
fn write_byte_run(w: &mut BitWriter, ic: &IntegerClass, bytes: &[u8]) {
    w.align(ic.align_bits);
    if w.pos_bits().is_multiple_of(8) {
        w.write_bytes(bytes);
    } else {
        for &b in bytes {
            w.align(ic.align_bits);
            w.write_uint(u64::from(b), 8, ic.byte_order);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{DisplayBase, Encoding};

    fn int(size: u32, align: u32, signed: bool, bo: ByteOrder) -> IntegerClass {
        IntegerClass {
            size_bits: size,
            align_bits: align,
            signed,
            byte_order: bo,
            base: DisplayBase::Decimal,
            encoding: Encoding::None,
            mapped_clock: None,
            role: None,
            store_slot: None,
        }
    }

    #[test]
    fn little_endian_bit_fields_pack_from_the_lsb() {
        let mut w = BitWriter::new();
        // 5-bit id 3 then 27-bit timestamp 1500: one LE u32 = 3 | 1500 << 5.
        w.write_uint(3, 5, ByteOrder::Little);
        w.write_uint(1500, 27, ByteOrder::Little);
        let expected = (3u32 | (1500 << 5)).to_le_bytes();
        assert_eq!(w.bytes(), &expected);
    }

    #[test]
    fn big_endian_bit_fields_pack_from_the_msb() {
        let mut w = BitWriter::new();
        // 3 bits 0b101 then 7 bits 0b1100110: 1011_1001 10xx_xxxx.
        w.write_uint(0b101, 3, ByteOrder::Big);
        w.write_uint(0b1100110, 7, ByteOrder::Big);
        assert_eq!(w.bytes(), &[0b1011_1001, 0b1000_0000]);
        assert_eq!(w.pos_bits(), 10);
    }

    #[test]
    fn align_pads_with_zero_and_patch_rewrites() {
        let mut w = BitWriter::new();
        w.write_uint(1, 1, ByteOrder::Little);
        w.align(32);
        w.write_uint(0xAABB, 16, ByteOrder::Big);
        assert_eq!(w.bytes(), &[1, 0, 0, 0, 0xAA, 0xBB]);
        assert!(w.patch_uint(32, 0x1234, 16, ByteOrder::Little));
        assert_eq!(w.bytes(), &[1, 0, 0, 0, 0x34, 0x12]);
        assert!(!w.patch_uint(40, 0, 16, ByteOrder::Little));
    }

    #[test]
    fn integer_out_of_range_is_an_error() {
        let class = FieldClass::Integer(int(4, 1, true, ByteOrder::Little));
        let mut w = BitWriter::new();
        let mut s = EncodeScratch::new();
        assert!(encode_field(&mut w, &mut s, "x", &class, &Value::SInt(-8)).is_ok());
        let err = encode_field(&mut w, &mut s, "x", &class, &Value::SInt(8)).unwrap_err();
        assert!(matches!(
            err,
            EncodeError::IntegerOutOfRange { value: 8, .. }
        ));
    }
}
