//! Typed tracepoint fields: the [`Field`] trait says, for a Rust type, which CTF members
//! it declares (LTTng naming, x86 packed layout: every integer/float `align = 8`, no
//! padding), how many bytes a value takes, and how it is written. [`Fields`] does the
//! same for the tuple of all fields of one tracepoint.
//!
//! Wire forms (little-endian, like LTTng on x86-64): integers in their width (`isize` and
//! `usize` as 64 bits), `bool` as a u8 0/1, `char` as a u32 code point, f32/f64 IEEE
//! 754, `&str` as its bytes up to the first NUL then one NUL, `[T; N]` as N elements
//! (CTF array), `&[T]` as a u32 count then the elements (CTF sequence, with LTTng's
//! `__NAME_length` member). Enums with labels: [`crate::trace_enum!`].
//!
//! Not here: alignment for architectures without efficient unaligned access, variants,
//! nested structs.

use rttng_desc::{
    ArrayClass, ByteOrder, DisplayBase, Encoding, FieldClass, FloatClass, IntegerClass,
    SequenceClass, StringClass, StructMember,
};

/// Longest sequence written: the u32 count field bounds it anyway.
pub const MAX_SEQUENCE_ELEMENTS: usize = u32::MAX as usize;

/// Writes a record's bytes into reserved ring-buffer space. Never panics: bytes that
/// would not fit are dropped, and so is everything after them (cannot happen when sizes
/// come from [`Field::encoded_len`]). Each write is one length check on the remaining
/// space, then plain stores.
#[derive(Debug)]
pub struct Writer<'a> {
    /// The space not written yet (empty after an overflow).
    rest: &'a mut [u8],
    /// Bytes written, plus those dropped.
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    #[inline(always)]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { rest: buf, pos: 0 }
    }

    /// Appends `bytes`.
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) {
        let rest = std::mem::take(&mut self.rest);
        if bytes.len() <= rest.len() {
            let (dst, tail) = rest.split_at_mut(bytes.len());
            copy_short(dst, bytes);
            self.rest = tail;
        }
        self.pos = self.pos.saturating_add(bytes.len());
    }

    /// Appends a fixed-size array (compiles to plain stores).
    #[inline(always)]
    pub fn put_array<const N: usize>(&mut self, bytes: [u8; N]) {
        let rest = std::mem::take(&mut self.rest);
        if let Some((dst, tail)) = rest.split_first_chunk_mut::<N>() {
            *dst = bytes;
            self.rest = tail;
        }
        self.pos = self.pos.saturating_add(N);
    }

    /// Bytes written (or skipped) so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Copies `src` into `dst` (same length; otherwise nothing). Lengths up to 16 take two
/// overlapping fixed-size loads and stores, written as array copies so that the compiler
/// cannot merge them into one out-of-line `memcpy` call of variable length.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n != dst.len() {
        return;
    }
    if (8..=16).contains(&n) {
        copy_two::<8>(dst, src);
    } else if (4..8).contains(&n) {
        copy_two::<4>(dst, src);
    } else if n < 4 {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// The first and the last `N` bytes of `src` into `dst` (`N <= len <= 2N`: together
/// they cover it).
#[inline(always)]
fn copy_two<const N: usize>(dst: &mut [u8], src: &[u8]) {
    if let (Some(head), Some(tail)) = (src.first_chunk::<N>(), src.last_chunk::<N>()) {
        let (head, tail) = (*head, *tail);
        if let Some(d) = dst.first_chunk_mut::<N>() {
            *d = head;
        }
        if let Some(d) = dst.last_chunk_mut::<N>() {
            *d = tail;
        }
    }
}

fn int_class(size_bits: u32, signed: bool) -> IntegerClass {
    IntegerClass {
        size_bits,
        align_bits: 8,
        signed,
        byte_order: ByteOrder::Little,
        base: DisplayBase::Decimal,
        encoding: Encoding::None,
        mapped_clock: None,
        role: None,
        store_slot: None,
    }
}

fn member(name: &str, class: FieldClass) -> StructMember {
    StructMember {
        name: format!("_{name}"),
        class,
    }
}

/// A value type a tracepoint field can have.
pub trait Field {
    /// Appends the CTF members a field called `name` (without LTTng's `_` prefix)
    /// declares in the payload struct.
    fn members(name: &str, out: &mut Vec<StructMember>);
    /// Bytes this value takes in the record.
    fn encoded_len(&self) -> usize;
    /// Writes this value: exactly [`Field::encoded_len`] bytes. (Writing fewer leaves
    /// stale bytes in the record and writing more is cut off; either way the reader
    /// misparses that record, but nothing outside it is touched and nothing panics.)
    fn encode(&self, w: &mut Writer<'_>);
    /// Writes this value, `len` being what [`Field::encoded_len`] just returned for it:
    /// the event path calls this, so that a value whose length takes work to find (a
    /// string's first NUL) finds it once. The default ignores `len`.
    #[inline(always)]
    fn encode_with_len(&self, w: &mut Writer<'_>, len: usize) {
        let _ = len;
        self.encode(w);
    }
    /// The value a `--filter` expression sees (integers as `i64`, floats as `f64`,
    /// strings up to the first NUL). The default, [`FilterValue::Absent`], makes a filter
    /// that reads this field reject the event; arrays and sequences keep it.
    #[inline(always)]
    fn filter_value(&self) -> FilterValue<'_> {
        FilterValue::Absent
    }
}

pub use rttng_filter::Value as FilterValue;

/// A fixed-size element of arrays and sequences (integers, floats, bool, char).
pub trait ScalarField: Field + Copy {
    /// The element's class.
    fn class() -> FieldClass;
    /// Size in bytes.
    const BYTES: usize;
}

macro_rules! int_field {
    ($($t:ty => $bits:expr, $signed:expr, $conv:ty);* $(;)?) => {$(
        impl Field for $t {
            fn members(name: &str, out: &mut Vec<StructMember>) {
                out.push(member(name, <$t as ScalarField>::class()));
            }
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                $bits / 8
            }
            #[inline(always)]
            fn encode(&self, w: &mut Writer<'_>) {
                w.put_array((*self as $conv).to_le_bytes());
            }
            #[inline(always)]
            fn filter_value(&self) -> FilterValue<'_> {
                FilterValue::Int(*self as i64)
            }
        }
        impl ScalarField for $t {
            fn class() -> FieldClass {
                FieldClass::Integer(int_class($bits, $signed))
            }
            const BYTES: usize = $bits / 8;
        }
    )*};
}

int_field! {
    u8 => 8, false, u8;
    u16 => 16, false, u16;
    u32 => 32, false, u32;
    u64 => 64, false, u64;
    usize => 64, false, u64;
    i8 => 8, true, i8;
    i16 => 16, true, i16;
    i32 => 32, true, i32;
    i64 => 64, true, i64;
    isize => 64, true, i64;
}

impl Field for bool {
    fn members(name: &str, out: &mut Vec<StructMember>) {
        out.push(member(name, <bool as ScalarField>::class()));
    }
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        1
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) {
        w.put_array([u8::from(*self)]);
    }
    #[inline(always)]
    fn filter_value(&self) -> FilterValue<'_> {
        FilterValue::Int(i64::from(*self))
    }
}

impl ScalarField for bool {
    fn class() -> FieldClass {
        FieldClass::Integer(int_class(8, false))
    }
    const BYTES: usize = 1;
}

impl Field for char {
    fn members(name: &str, out: &mut Vec<StructMember>) {
        out.push(member(name, <char as ScalarField>::class()));
    }
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        4
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) {
        w.put_array(u32::from(*self).to_le_bytes());
    }
    #[inline(always)]
    fn filter_value(&self) -> FilterValue<'_> {
        FilterValue::Int(i64::from(u32::from(*self)))
    }
}

impl ScalarField for char {
    fn class() -> FieldClass {
        FieldClass::Integer(int_class(32, false))
    }
    const BYTES: usize = 4;
}

macro_rules! float_field {
    ($($t:ty => $exp:expr, $mant:expr, $bytes:expr);* $(;)?) => {$(
        impl Field for $t {
            fn members(name: &str, out: &mut Vec<StructMember>) {
                out.push(member(name, <$t as ScalarField>::class()));
            }
            #[inline(always)]
            fn encoded_len(&self) -> usize {
                $bytes
            }
            #[inline(always)]
            fn encode(&self, w: &mut Writer<'_>) {
                w.put_array(self.to_le_bytes());
            }
            #[inline(always)]
            fn filter_value(&self) -> FilterValue<'_> {
                FilterValue::Float(f64::from(*self))
            }
        }
        impl ScalarField for $t {
            fn class() -> FieldClass {
                FieldClass::Float(FloatClass {
                    exp_dig: $exp,
                    mant_dig: $mant,
                    align_bits: 8,
                    byte_order: ByteOrder::Little,
                })
            }
            const BYTES: usize = $bytes;
        }
    )*};
}

float_field! {
    f32 => 8, 24, 4;
    f64 => 11, 53, 8;
}

/// Length of `s` up to its first NUL (a NUL inside would end the CTF string early and
/// shift every later field). A word at a time (short strings: one or two loads), since
/// the event path scans each string twice (size, then copy).
#[inline(always)]
fn text_len(s: &[u8]) -> usize {
    let n = s.len();
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            if let Some(z) = zero_byte(word8(s, i)) {
                return i + z;
            }
            i += 8;
        }
        if i == n {
            return n;
        }
        // The last 8 bytes overlap bytes already checked (free of NUL).
        return match zero_byte(word8(s, n - 8)) {
            Some(z) => n - 8 + z,
            None => n,
        };
    }
    if n >= 4 {
        let lo = u64::from(word4(s, 0));
        let hi = u64::from(word4(s, n - 4));
        // Bytes 4..8 of the probe are 0xFF (not NUL): only the string's bytes count.
        return match zero_byte(lo | 0xFFFF_FFFF_0000_0000) {
            Some(z) => z,
            None => match zero_byte(hi | 0xFFFF_FFFF_0000_0000) {
                Some(z) => n - 4 + z,
                None => n,
            },
        };
    }
    s.iter().position(|&b| b == 0).unwrap_or(n)
}

/// Index of the first zero byte of `v` (little-endian byte order).
#[inline(always)]
fn zero_byte(v: u64) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Exact for the lowest zero byte: borrows only propagate above a zero byte.
    let m = v.wrapping_sub(LO) & !v & HI;
    (m != 0).then(|| (m.trailing_zeros() / 8) as usize)
}

#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = s.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = s.get(at..at + 4) {
        b.copy_from_slice(src);
    }
    u32::from_le_bytes(b)
}

impl Field for &str {
    fn members(name: &str, out: &mut Vec<StructMember>) {
        out.push(member(
            name,
            FieldClass::String(StringClass {
                encoding: Encoding::Utf8,
            }),
        ));
    }
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        text_len(self.as_bytes()) + 1
    }
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) {
        self.encode_with_len(w, self.encoded_len());
    }
    #[inline(always)]
    fn encode_with_len(&self, w: &mut Writer<'_>, len: usize) {
        let b = self.as_bytes();
        // `len` is text_len + 1 (the caller's encoded_len); anything else falls back.
        match b.get(..len.wrapping_sub(1)) {
            Some(text) => w.put(text),
            None => w.put(&b[..text_len(b)]),
        }
        w.put_array([0u8]);
    }
    #[inline(always)]
    fn filter_value(&self) -> FilterValue<'_> {
        FilterValue::Str(self.as_bytes())
    }
}

impl<T: ScalarField, const N: usize> Field for [T; N] {
    fn members(name: &str, out: &mut Vec<StructMember>) {
        out.push(member(
            name,
            FieldClass::Array(ArrayClass {
                element: Box::new(T::class()),
                length: N as u64,
            }),
        ));
    }
    #[inline]
    fn encoded_len(&self) -> usize {
        N * T::BYTES
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        for v in self {
            v.encode(w);
        }
    }
}

impl<T: ScalarField> Field for &[T] {
    fn members(name: &str, out: &mut Vec<StructMember>) {
        let length = format!("__{name}_length");
        out.push(StructMember {
            name: length.clone(),
            class: FieldClass::Integer(int_class(32, false)),
        });
        out.push(member(
            name,
            FieldClass::Sequence(SequenceClass {
                element: Box::new(T::class()),
                length_ref: length,
                length_slot: 0,
            }),
        ));
    }
    #[inline]
    fn encoded_len(&self) -> usize {
        4 + self.len().min(MAX_SEQUENCE_ELEMENTS) * T::BYTES
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        let n = self.len().min(MAX_SEQUENCE_ELEMENTS);
        w.put_array((n as u32).to_le_bytes());
        for v in &self[..n] {
            v.encode(w);
        }
    }
}

/// The fields of one tracepoint, as a tuple of [`Field`] values. The event path finds
/// each field's length once ([`Fields::lens`]): it sizes the reservation, then encoding
/// uses the same lengths.
pub trait Fields {
    /// One length per field.
    type Lens: Copy;
    /// Each field's [`Field::encoded_len`].
    fn lens(&self) -> Self::Lens;
    /// The payload's size for these lengths.
    fn total(lens: &Self::Lens) -> usize;
    /// Writes the fields, given their [`Fields::lens`].
    fn encode_with_lens(&self, w: &mut Writer<'_>, lens: &Self::Lens);
    /// Field `index`'s [`Field::filter_value`] (`Absent` past the last field).
    fn filter_value(&self, index: usize) -> FilterValue<'_>;

    /// The payload's size.
    #[inline(always)]
    fn encoded_len(&self) -> usize {
        Self::total(&self.lens())
    }

    /// Writes the fields.
    #[inline(always)]
    fn encode(&self, w: &mut Writer<'_>) {
        self.encode_with_lens(w, &self.lens());
    }
}

/// A field's length is clamped to this in [`Fields::lens`] (far beyond any sub-buffer, so
/// such a record is refused and counted as discarded), so that a [`Field`] returning an
/// absurd `encoded_len` cannot overflow the record's size.
const MAX_FIELD_BYTES: usize = 1 << 40;

/// `usize`, once per field of a tuple (for [`Fields::Lens`]).
macro_rules! usize_per {
    ($t:ident) => {
        usize
    };
}

macro_rules! tuple_fields {
    ($(($($n:tt $t:ident),*))*) => {$(
        impl<$($t: Field),*> Fields for ($($t,)*) {
            type Lens = ($(usize_per!($t),)*);
            #[inline(always)]
            #[allow(clippy::unused_unit)]
            fn lens(&self) -> Self::Lens {
                ($(self.$n.encoded_len().min(MAX_FIELD_BYTES),)*)
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn total(lens: &Self::Lens) -> usize {
                // At most 16 fields of at most MAX_FIELD_BYTES: no overflow.
                0usize $(.wrapping_add(lens.$n))*
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn encode_with_lens(&self, w: &mut Writer<'_>, lens: &Self::Lens) {
                $(self.$n.encode_with_len(w, lens.$n);)*
            }
            #[allow(unused_variables)]
            #[inline(always)]
            fn filter_value(&self, index: usize) -> FilterValue<'_> {
                match index {
                    $($n => self.$n.filter_value(),)*
                    _ => FilterValue::Absent,
                }
            }
        }
    )*};
}

tuple_fields! {
    ()
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O, 15 P)
}

/// Support for [`crate::trace_enum!`]: the container class and labels of an enum.
pub fn enum_members(
    name: &str,
    container: FieldClass,
    labels: &[(&str, i128)],
    out: &mut Vec<StructMember>,
) {
    let FieldClass::Integer(container) = container else {
        return;
    };
    let ranges: Vec<(&str, i128, i128)> = labels.iter().map(|&(l, v)| (l, v, v)).collect();
    out.push(member(
        name,
        FieldClass::Enum(rttng_desc::enum_class(container, &ranges)),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<F: Fields>(f: &F) -> Vec<u8> {
        let mut buf = vec![0xAAu8; f.encoded_len()];
        let mut w = Writer::new(&mut buf);
        f.encode(&mut w);
        assert_eq!(w.position(), buf.len());
        buf
    }

    #[test]
    fn spec_example_layout() {
        // ctf-1.8-as-lttng-writes-it.md §4 real example (subset).
        let arr: [i32; 3] = [1, 2, 3];
        let seq: &[i32] = &[1, 2];
        let b = bytes_of(&(0i32, 0xDEADu64, "hello", 3.5f64, arr, seq));
        let want: Vec<u8> = [
            &[0u8, 0, 0, 0][..],
            &[0xad, 0xde, 0, 0, 0, 0, 0, 0],
            b"hello\0",
            &[0, 0, 0, 0, 0, 0, 0x0c, 0x40],
            &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0],
            &[2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0],
        ]
        .concat();
        assert_eq!(b, want);
    }

    #[test]
    fn text_len_finds_the_first_nul_at_every_length_and_position() {
        for n in 0..40usize {
            let clean: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(text_len(&clean), n, "no NUL, len {n}");
            for z in 0..n {
                let mut v = clean.clone();
                v[z] = 0;
                // A second NUL after the first must not matter.
                if z + 2 < n {
                    v[z + 2] = 0;
                }
                assert_eq!(text_len(&v), z, "len {n}, NUL at {z}");
            }
        }
        // Bytes with the high bit set (UTF-8) are not zero.
        assert_eq!(text_len("éééé".as_bytes()), 8);
        assert_eq!(text_len(&[0x80, 0x01, 0xff, 0x00, 0x80]), 3);
        assert_eq!(
            text_len(&[0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00]),
            8
        );
    }

    #[test]
    fn strings_of_every_short_length_encode_exactly() {
        // Covers each branch of copy_short (0..4 bytewise, 4..8 and 8..=16 overlapping,
        // longer through copy_from_slice), with distinct bytes so an overlap bug shows.
        for n in 0..40usize {
            let text: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            let mut want = text.as_bytes().to_vec();
            want.push(0);
            assert_eq!(bytes_of(&(text.as_str(),)), want, "length {n}");
        }
    }

    /// A user field claiming an absurd length.
    struct Huge;

    impl Field for Huge {
        fn members(_: &str, _: &mut Vec<StructMember>) {}
        fn encoded_len(&self) -> usize {
            usize::MAX
        }
        fn encode(&self, _: &mut Writer<'_>) {}
    }

    #[test]
    fn absurd_field_lengths_do_not_overflow_the_record_size() {
        let fields = (Huge, Huge, 1u64, "x");
        let total = <(Huge, Huge, u64, &str) as Fields>::total(&fields.lens());
        assert_eq!(total, 2 * MAX_FIELD_BYTES + 8 + 2);
    }

    #[test]
    fn string_with_nul_is_cut() {
        assert_eq!(bytes_of(&("ab\0cd",)), b"ab\0");
        assert_eq!(bytes_of(&(true, 'A', -1i8)), vec![1, 0x41, 0, 0, 0, 0xff]);
    }

    #[test]
    fn short_buffer_never_panics() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        (7u64, "xyz").encode(&mut w);
        assert_eq!(w.position(), 12);
        assert_eq!(buf, [0, 0, 0]);
    }

    #[test]
    fn nothing_is_written_after_an_overflow() {
        // The u32 does not fit in the 3 bytes left; the u8 after it would, but must not
        // land where the u32 should have been.
        let mut buf = [0xAAu8; 5];
        let mut w = Writer::new(&mut buf);
        (1u16, 2u32, 3u8).encode(&mut w);
        assert_eq!(w.position(), 7);
        assert_eq!(buf, [1, 0, 0xAA, 0xAA, 0xAA]);
    }

    #[test]
    fn sequence_declares_length_member() {
        let mut out = Vec::new();
        <&[u16] as Field>::members("seq", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].name, "__seq_length");
        assert_eq!(out[1].name, "_seq");
        match &out[1].class {
            FieldClass::Sequence(s) => assert_eq!(s.length_ref, "__seq_length"),
            other => panic!("not a sequence: {other:?}"),
        }
    }
}
