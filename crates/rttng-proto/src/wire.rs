//! The payload encoding: little-endian fixed-width integers, length-prefixed UTF-8 strings,
//! count-prefixed lists, one tag byte for enums and options. Every read is bounds-checked and
//! every count and nesting depth is limited by a named constant, so a decoder never allocates
//! more than a small multiple of its input and never panics. Not here: framing and sockets.

use rttng_desc::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, EnumClass, EnumMapping, FieldClass, FloatClass,
    IntegerClass, SequenceClass, StringClass, StructClass, StructMember, VariantClass,
    VariantOption,
};

/// Most items in one list.
pub const MAX_ITEMS: u32 = 65_536;
/// Longest string, in bytes.
pub const MAX_STRING_BYTES: u32 = 1 << 20;
/// Deepest nesting of field classes (structs in arrays in variants ...).
pub const MAX_CLASS_DEPTH: u32 = 32;

/// Why a payload does not decode. `offset` is the byte offset in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Truncated {
        offset: usize,
        needed: usize,
    },
    BadTag {
        offset: usize,
        what: &'static str,
        tag: u8,
    },
    TooMany {
        offset: usize,
        what: &'static str,
        count: u32,
        max: u32,
    },
    BadUtf8 {
        offset: usize,
    },
    TooDeep {
        offset: usize,
    },
    BadValue {
        offset: usize,
        what: &'static str,
    },
    Trailing {
        offset: usize,
        extra: usize,
    },
}

impl DecodeError {
    pub fn truncated(offset: usize, needed: usize) -> DecodeError {
        DecodeError::Truncated { offset, needed }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { offset, needed } => {
                write!(f, "truncated at byte {offset}: {needed} more bytes needed")
            }
            DecodeError::BadTag { offset, what, tag } => {
                write!(f, "unknown {what} tag {tag} at byte {offset}")
            }
            DecodeError::TooMany {
                offset,
                what,
                count,
                max,
            } => {
                write!(
                    f,
                    "{what} of {count} at byte {offset} exceeds the limit of {max}"
                )
            }
            DecodeError::BadUtf8 { offset } => write!(f, "string at byte {offset} is not UTF-8"),
            DecodeError::TooDeep { offset } => {
                write!(
                    f,
                    "field class nested deeper than {MAX_CLASS_DEPTH} at byte {offset}"
                )
            }
            DecodeError::BadValue { offset, what } => write!(f, "invalid {what} at byte {offset}"),
            DecodeError::Trailing { offset, extra } => {
                write!(
                    f,
                    "{extra} unexpected bytes after the message at byte {offset}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Output buffer.
#[derive(Debug, Default)]
pub struct Enc {
    buf: Vec<u8>,
}

impl Enc {
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    fn count(&mut self, n: usize) {
        // Over-long lists are cut to the limit so that what we send always decodes.
        let n = u32::try_from(n).unwrap_or(u32::MAX).min(MAX_ITEMS);
        n.put(self);
    }
}

/// Input cursor.
#[derive(Debug)]
pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec {
            buf,
            pos: 0,
            depth: 0,
        }
    }
    pub fn offset(&self) -> usize {
        self.pos
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(DecodeError::truncated(self.pos, n)),
        }
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn tag(&mut self) -> Result<(usize, u8), DecodeError> {
        let at = self.pos;
        Ok((at, u8::get(self)?))
    }
    fn count(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let at = self.pos;
        let n = u32::get(self)?;
        if n > MAX_ITEMS {
            return Err(DecodeError::TooMany {
                offset: at,
                what,
                count: n,
                max: MAX_ITEMS,
            });
        }
        Ok(n)
    }
    fn enter(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_CLASS_DEPTH {
            return Err(DecodeError::TooDeep { offset: self.pos });
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

/// A value with a wire form.
pub trait Wire: Sized {
    fn put(&self, e: &mut Enc);
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError>;
}

/// Decodes exactly one `T` from `bytes`, refusing trailing bytes.
pub fn decode_all<T: Wire>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut d = Dec::new(bytes);
    let v = T::get(&mut d)?;
    if d.pos != bytes.len() {
        return Err(DecodeError::Trailing {
            offset: d.pos,
            extra: bytes.len() - d.pos,
        });
    }
    Ok(v)
}

/// Encodes one value.
pub fn encode<T: Wire>(v: &T) -> Vec<u8> {
    let mut e = Enc::default();
    v.put(&mut e);
    e.into_bytes()
}

macro_rules! int_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, e: &mut Enc) {
                e.bytes(&self.to_le_bytes());
            }
            fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(d.array()?))
            }
        }
    )*};
}
int_wire!(u8, u16, u32, u64, i32, i64);

impl Wire for bool {
    fn put(&self, e: &mut Enc) {
        e.u8(u8::from(*self));
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        match d.tag()? {
            (_, 0) => Ok(false),
            (_, 1) => Ok(true),
            (offset, tag) => Err(DecodeError::BadTag {
                offset,
                what: "bool",
                tag,
            }),
        }
    }
}

impl Wire for String {
    fn put(&self, e: &mut Enc) {
        let n = self.len().min(MAX_STRING_BYTES as usize);
        // Cut at a char boundary so the result is still UTF-8.
        let mut cut = n;
        while !self.is_char_boundary(cut) {
            cut -= 1;
        }
        (cut as u32).put(e);
        e.bytes(&self.as_bytes()[..cut]);
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        let at = d.offset();
        let n = u32::get(d)?;
        if n > MAX_STRING_BYTES {
            return Err(DecodeError::TooMany {
                offset: at,
                what: "string length",
                count: n,
                max: MAX_STRING_BYTES,
            });
        }
        let b = d.take(n as usize)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadUtf8 { offset: at })
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, e: &mut Enc) {
        e.count(self.len());
        for v in self.iter().take(MAX_ITEMS as usize) {
            v.put(e);
        }
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        let n = d.count("list")?;
        // Each item takes at least one byte: never reserve more than the input can hold.
        let mut v = Vec::with_capacity((n as usize).min(d.buf.len().saturating_sub(d.pos)));
        for _ in 0..n {
            v.push(T::get(d)?);
        }
        Ok(v)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, e: &mut Enc) {
        match self {
            None => e.u8(0),
            Some(v) => {
                e.u8(1);
                v.put(e);
            }
        }
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        match d.tag()? {
            (_, 0) => Ok(None),
            (_, 1) => Ok(Some(T::get(d)?)),
            (offset, tag) => Err(DecodeError::BadTag {
                offset,
                what: "option",
                tag,
            }),
        }
    }
}

impl Wire for [u8; 16] {
    fn put(&self, e: &mut Enc) {
        e.bytes(self);
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        d.array()
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn put(&self, e: &mut Enc) {
        self.0.put(e);
        self.1.put(e);
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        Ok((A::get(d)?, B::get(d)?))
    }
}

/// Implements [`Wire`] for a struct: its fields in declaration order.
#[macro_export]
macro_rules! wire_struct {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::wire::Wire for $name {
            fn put(&self, e: &mut $crate::wire::Enc) {
                $( $crate::wire::Wire::put(&self.$field, e); )*
            }
            fn get(d: &mut $crate::wire::Dec<'_>) -> Result<Self, $crate::wire::DecodeError> {
                Ok($name { $( $field: $crate::wire::Wire::get(d)?, )* })
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Field classes (event payloads, stream event contexts)

fn put_bo(e: &mut Enc, bo: ByteOrder) {
    e.u8(match bo {
        ByteOrder::Little => 0,
        ByteOrder::Big => 1,
    });
}

fn get_bo(d: &mut Dec<'_>) -> Result<ByteOrder, DecodeError> {
    match d.tag()? {
        (_, 0) => Ok(ByteOrder::Little),
        (_, 1) => Ok(ByteOrder::Big),
        (offset, tag) => Err(DecodeError::BadTag {
            offset,
            what: "byte order",
            tag,
        }),
    }
}

fn put_encoding(e: &mut Enc, enc: Encoding) {
    e.u8(match enc {
        Encoding::None => 0,
        Encoding::Utf8 => 1,
        Encoding::Ascii => 2,
    });
}

fn get_encoding(d: &mut Dec<'_>) -> Result<Encoding, DecodeError> {
    match d.tag()? {
        (_, 0) => Ok(Encoding::None),
        (_, 1) => Ok(Encoding::Utf8),
        (_, 2) => Ok(Encoding::Ascii),
        (offset, tag) => Err(DecodeError::BadTag {
            offset,
            what: "encoding",
            tag,
        }),
    }
}

fn get_align(d: &mut Dec<'_>) -> Result<u32, DecodeError> {
    let at = d.offset();
    let a = u32::get(d)?;
    if !a.is_power_of_two() || a > 1 << 16 {
        return Err(DecodeError::BadValue {
            offset: at,
            what: "alignment",
        });
    }
    Ok(a)
}

impl Wire for IntegerClass {
    fn put(&self, e: &mut Enc) {
        self.size_bits.put(e);
        self.align_bits.put(e);
        self.signed.put(e);
        put_bo(e, self.byte_order);
        e.u8(match self.base {
            DisplayBase::Binary => 2,
            DisplayBase::Octal => 8,
            DisplayBase::Decimal => 10,
            DisplayBase::Hexadecimal => 16,
        });
        put_encoding(e, self.encoding);
        self.mapped_clock.put(e);
    }
    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        let at = d.offset();
        let size_bits = u32::get(d)?;
        if !(1..=64).contains(&size_bits) {
            return Err(DecodeError::BadValue {
                offset: at,
                what: "integer size",
            });
        }
        let align_bits = get_align(d)?;
        let signed = bool::get(d)?;
        let byte_order = get_bo(d)?;
        let base = match d.tag()? {
            (_, 2) => DisplayBase::Binary,
            (_, 8) => DisplayBase::Octal,
            (_, 10) => DisplayBase::Decimal,
            (_, 16) => DisplayBase::Hexadecimal,
            (offset, tag) => {
                return Err(DecodeError::BadTag {
                    offset,
                    what: "display base",
                    tag,
                })
            }
        };
        let encoding = get_encoding(d)?;
        let mapped_clock = Option::<String>::get(d)?;
        Ok(IntegerClass {
            size_bits,
            align_bits,
            signed,
            byte_order,
            base,
            encoding,
            mapped_clock,
            role: None,
            store_slot: None,
        })
    }
}

impl Wire for FieldClass {
    fn put(&self, e: &mut Enc) {
        match self {
            FieldClass::Integer(i) => {
                e.u8(0);
                i.put(e);
            }
            FieldClass::Float(f) => {
                e.u8(1);
                f.exp_dig.put(e);
                f.mant_dig.put(e);
                f.align_bits.put(e);
                put_bo(e, f.byte_order);
            }
            FieldClass::Enum(en) => {
                e.u8(2);
                en.container.put(e);
                e.count(en.mappings.len());
                for m in en.mappings.iter().take(MAX_ITEMS as usize) {
                    m.label.put(e);
                    e.count(m.ranges.len());
                    for &(lo, hi) in m.ranges.iter().take(MAX_ITEMS as usize) {
                        e.bytes(&lo.to_le_bytes());
                        e.bytes(&hi.to_le_bytes());
                    }
                }
            }
            FieldClass::String(s) => {
                e.u8(3);
                put_encoding(e, s.encoding);
            }
            FieldClass::Array(a) => {
                e.u8(4);
                a.length.put(e);
                a.element.put(e);
            }
            FieldClass::Sequence(s) => {
                e.u8(5);
                s.length_ref.put(e);
                s.element.put(e);
            }
            FieldClass::Struct(s) => {
                e.u8(6);
                s.min_align_bits.put(e);
                e.count(s.members.len());
                for m in s.members.iter().take(MAX_ITEMS as usize) {
                    m.name.put(e);
                    m.class.put(e);
                }
            }
            FieldClass::Variant(v) => {
                e.u8(7);
                v.tag_ref.put(e);
                e.count(v.options.len());
                for o in v.options.iter().take(MAX_ITEMS as usize) {
                    o.name.put(e);
                    o.class.put(e);
                }
            }
        }
    }

    fn get(d: &mut Dec<'_>) -> Result<Self, DecodeError> {
        d.enter()?;
        let r = get_class(d);
        d.leave();
        r
    }
}

fn get_class(d: &mut Dec<'_>) -> Result<FieldClass, DecodeError> {
    let (offset, tag) = d.tag()?;
    Ok(match tag {
        0 => FieldClass::Integer(IntegerClass::get(d)?),
        1 => {
            let at = d.offset();
            let exp_dig = u32::get(d)?;
            let mant_dig = u32::get(d)?;
            if !matches!((exp_dig, mant_dig), (8, 24) | (11, 53)) {
                return Err(DecodeError::BadValue {
                    offset: at,
                    what: "float size",
                });
            }
            FieldClass::Float(FloatClass {
                exp_dig,
                mant_dig,
                align_bits: get_align(d)?,
                byte_order: get_bo(d)?,
            })
        }
        2 => {
            let container = IntegerClass::get(d)?;
            let n = d.count("enum mappings")?;
            let mut mappings = Vec::new();
            for _ in 0..n {
                let label = String::get(d)?;
                let r = d.count("enum ranges")?;
                let mut ranges = Vec::new();
                for _ in 0..r {
                    let lo = i128::from_le_bytes(d.array()?);
                    let hi = i128::from_le_bytes(d.array()?);
                    ranges.push((lo, hi));
                }
                mappings.push(EnumMapping { label, ranges });
            }
            FieldClass::Enum(EnumClass {
                container,
                mappings,
            })
        }
        3 => FieldClass::String(StringClass {
            encoding: get_encoding(d)?,
        }),
        4 => {
            let length = u64::get(d)?;
            FieldClass::Array(ArrayClass {
                element: Box::new(FieldClass::get(d)?),
                length,
            })
        }
        5 => {
            let length_ref = String::get(d)?;
            FieldClass::Sequence(SequenceClass {
                element: Box::new(FieldClass::get(d)?),
                length_ref,
                length_slot: 0,
            })
        }
        6 => {
            let min_align_bits = get_align(d)?;
            let n = d.count("struct members")?;
            let mut members = Vec::new();
            for _ in 0..n {
                let name = String::get(d)?;
                members.push(StructMember {
                    name,
                    class: FieldClass::get(d)?,
                });
            }
            FieldClass::Struct(StructClass {
                members,
                min_align_bits,
            })
        }
        7 => {
            let tag_ref = String::get(d)?;
            let n = d.count("variant options")?;
            let mut options = Vec::new();
            for _ in 0..n {
                let name = String::get(d)?;
                options.push(VariantOption {
                    name,
                    class: FieldClass::get(d)?,
                });
            }
            FieldClass::Variant(VariantClass {
                tag_ref,
                tag_slot: 0,
                tag_signed: false,
                options,
                selector: Vec::new(),
            })
        }
        tag => {
            return Err(DecodeError::BadTag {
                offset,
                what: "field class",
                tag,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(size: u32) -> IntegerClass {
        IntegerClass {
            size_bits: size,
            align_bits: 8,
            signed: true,
            byte_order: ByteOrder::Little,
            base: DisplayBase::Hexadecimal,
            encoding: Encoding::None,
            mapped_clock: None,
            role: None,
            store_slot: None,
        }
    }

    #[test]
    fn field_class_round_trip() {
        let class = FieldClass::Struct(StructClass {
            min_align_bits: 1,
            members: vec![
                StructMember {
                    name: "_a".into(),
                    class: FieldClass::Integer(int(32)),
                },
                StructMember {
                    name: "_s".into(),
                    class: FieldClass::String(StringClass {
                        encoding: Encoding::Utf8,
                    }),
                },
                StructMember {
                    name: "_e".into(),
                    class: FieldClass::Enum(EnumClass {
                        container: int(8),
                        mappings: vec![EnumMapping {
                            label: "A".into(),
                            ranges: vec![(0, 0), (-3, 2)],
                        }],
                    }),
                },
                StructMember {
                    name: "_seq".into(),
                    class: FieldClass::Sequence(SequenceClass {
                        element: Box::new(FieldClass::Integer(int(8))),
                        length_ref: "__seq_length".into(),
                        length_slot: 0,
                    }),
                },
                StructMember {
                    name: "_f".into(),
                    class: FieldClass::Float(FloatClass {
                        exp_dig: 11,
                        mant_dig: 53,
                        align_bits: 8,
                        byte_order: ByteOrder::Big,
                    }),
                },
            ],
        });
        let bytes = encode(&class);
        assert_eq!(decode_all::<FieldClass>(&bytes), Ok(class));
    }

    #[test]
    fn refuses_deep_nesting_without_overflow() {
        // 10_000 nested arrays: must stop at the depth limit, not overflow the stack.
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.push(4u8);
            bytes.extend_from_slice(&1u64.to_le_bytes());
        }
        assert!(matches!(
            decode_all::<FieldClass>(&bytes),
            Err(DecodeError::TooDeep { .. })
        ));
    }

    #[test]
    fn refuses_huge_counts_and_strings_without_allocating() {
        let mut b = Vec::new();
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_all::<Vec<u8>>(&b),
            Err(DecodeError::TooMany { .. })
        ));
        assert!(matches!(
            decode_all::<String>(&b),
            Err(DecodeError::TooMany { .. })
        ));
        let mut c = Vec::new();
        c.extend_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            decode_all::<Vec<u64>>(&c),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn refuses_trailing_bytes_and_bad_utf8() {
        assert_eq!(
            decode_all::<u8>(&[1, 2]),
            Err(DecodeError::Trailing {
                offset: 1,
                extra: 1
            })
        );
        let mut s = 2u32.to_le_bytes().to_vec();
        s.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            decode_all::<String>(&s),
            Err(DecodeError::BadUtf8 { offset: 0 })
        );
    }
}
