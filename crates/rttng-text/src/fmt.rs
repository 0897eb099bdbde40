//! Hand-written number and string formatting into a `Vec<u8>`, matching the C `printf`
//! conversions babeltrace2 uses (`%PRIu64`, `%PRIX64`, `%PRIo64`, `%g`) and its string escaping.
//!
//! Nothing here allocates beyond growing the output vector; the `fmt` machinery is used only for
//! floats, through a fixed stack buffer. Colors and layout are not handled here.
//!
//! Short variable-length copies are the printer's main cost, and a variable-length
//! `extend_from_slice` compiles to an out-of-line `memmove` call. So the hot helpers build their
//! bytes in a fixed-size array, append the whole array (a fixed-size copy, inlined as a few
//! vector moves) and then `truncate` the vector to the real length ([`push_prefix`]).

use std::fmt::Write as _;

/// Bytes [`push_padded`] copies at once.
pub const COPY_CHUNK: usize = 32;
/// Padding after stored literals: lets [`push_padded`] copy up to `2 * COPY_CHUNK` bytes as one
/// fixed-size copy.
pub const PAD_BYTES: usize = 2 * COPY_CHUNK;

/// `"00" "01" … "99"`: two decimal digits per entry.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Append the first `len` bytes of `buf` (`len <= N`): a fixed-size copy then a truncation,
/// which is cheaper than a variable-length copy for short byte strings.
#[inline(always)]
pub fn push_prefix<const N: usize>(out: &mut Vec<u8>, buf: &[u8; N], len: usize) {
    let old = out.len();
    out.extend_from_slice(buf);
    out.truncate(old + len.min(N));
}

/// Append `src[start..start + len]`, where `src` holds [`PAD_BYTES`] readable bytes past
/// `start + len` whenever that is possible (a padded literal pool, or the packet around a
/// string): copies whole chunks and truncates. Falls back to a plain copy near the end of `src`.
#[inline(always)]
pub fn push_padded(out: &mut Vec<u8>, src: &[u8], start: usize, len: usize) {
    if len <= COPY_CHUNK {
        if let Some(chunk) = src.get(start..).and_then(|s| s.first_chunk::<COPY_CHUNK>()) {
            push_prefix(out, chunk, len);
            return;
        }
    } else if len <= 2 * COPY_CHUNK {
        if let Some(chunk) = src
            .get(start..)
            .and_then(|s| s.first_chunk::<{ 2 * COPY_CHUNK }>())
        {
            push_prefix(out, chunk, len);
            return;
        }
    }
    push_padded_long(out, src, start, len);
}

#[inline(never)]
fn push_padded_long(out: &mut Vec<u8>, src: &[u8], start: usize, len: usize) {
    let Some(bytes) = src.get(start..start.saturating_add(len)) else {
        return;
    };
    let old = out.len();
    let mut rest = src.get(start..).unwrap_or(&[]);
    let mut copied = 0;
    while copied < len {
        let Some((chunk, tail)) = rest.split_first_chunk::<COPY_CHUNK>() else {
            break;
        };
        out.extend_from_slice(chunk);
        rest = tail;
        copied += COPY_CHUNK;
    }
    if copied >= len {
        out.truncate(old + len);
    } else {
        out.truncate(old);
        out.extend_from_slice(bytes);
    }
}

/// Number of decimal digits of `v` (1..=20).
#[inline(always)]
fn decimal_len(v: u64) -> usize {
    match v.checked_ilog10() {
        Some(l) => l as usize + 1,
        None => 1,
    }
}

/// Write the decimal digits of `v` so that the last one is at `buf[end - 1]`; `end` must be at
/// least `decimal_len(v)`.
#[inline(always)]
fn write_digits(buf: &mut [u8; 20], end: usize, mut v: u64) {
    let mut i = end;
    while v >= 100 && i >= 2 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i] = DIGIT_PAIRS[r];
        buf[i + 1] = DIGIT_PAIRS[r + 1];
    }
    if v >= 10 && i >= 2 {
        let r = v as usize * 2;
        buf[i - 2] = DIGIT_PAIRS[r];
        buf[i - 1] = DIGIT_PAIRS[r + 1];
    } else if i >= 1 {
        buf[i - 1] = b'0' + v as u8;
    }
}

/// The 8 ASCII decimal digits of `v` (< 10^8, zero-padded) as the bytes of a little-endian
/// `u64`, most significant digit in the lowest byte: three independent look-ups of 3 digits
/// (measured faster than computing all digits in registers, and than 2-digit look-ups).
#[inline(always)]
pub(crate) fn digits8(v: u32) -> u64 {
    let a = v / 1_000_000;
    let r = v % 1_000_000;
    let (b, c) = (r / 1000, r % 1000);
    let t = |x: u32| u64::from(TRIPLES.get(x as usize).copied().unwrap_or(0));
    (t(a) >> 8) | t(b) << 16 | t(c) << 40
}

/// Entry `n` (< 1000): the three ASCII digits of `n`, zero-padded, in the low bytes.
static TRIPLES: [u32; 1000] = {
    let mut t = [0u32; 1000];
    let mut i = 0;
    while i < 1000 {
        let d = [
            b'0' + (i / 100) as u8,
            b'0' + (i / 10 % 10) as u8,
            b'0' + (i % 10) as u8,
            0,
        ];
        t[i] = u32::from_le_bytes(d);
        i += 1;
    }
    t
};

/// `v` (10 ≤ v < 10^4) in decimal: the digits in the low bytes of a little-endian `u32`, and
/// their count.
#[inline(always)]
pub(crate) fn decimal_4(v: u32) -> (u32, usize) {
    let (hi, lo) = (v / 1000, v % 1000);
    let digits = (u32::from(b'0') + hi) | TRIPLES.get(lo as usize).copied().unwrap_or(0) << 8;
    let len = 2 + usize::from(v >= 100) + usize::from(v >= 1000);
    (digits >> (8 * (4 - len)), len)
}

/// The 9 ASCII digits of `ns` (< 10^9, zero-padded): the first 3, then the other 6, in the low
/// bytes of each word.
#[inline(always)]
pub(crate) fn digits9(ns: u32) -> (u32, u64) {
    let (a, r) = (ns / 1_000_000, ns % 1_000_000);
    let (b, c) = (r / 1000, r % 1000);
    let t = |x: u32| TRIPLES.get(x as usize).copied().unwrap_or(0);
    (t(a), u64::from(t(b)) | u64::from(t(c)) << 24)
}

/// `0` in each byte of a `u64`.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// `v` (10 ≤ v < 10^8) in decimal: the digits in the low bytes of a little-endian `u64`, and
/// their count.
#[inline(always)]
pub(crate) fn decimal_8(v: u32) -> (u64, usize) {
    let d = digits8(v);
    // Leading zero digits are the low `0` bytes; v >= 10 so at most 6 of them.
    let zeros = (d ^ ASCII_ZEROS).trailing_zeros() as usize / 8;
    (d >> (8 * zeros), 8 - zeros)
}

/// `v` (10^8 ≤ v < 10^16) in decimal, as [`decimal_8`] with a `u128`.
#[inline(always)]
pub(crate) fn decimal_16(v: u64) -> (u128, usize) {
    let hi = digits8((v / 100_000_000) as u32);
    let lo = digits8((v % 100_000_000) as u32);
    let zeros = (hi ^ ASCII_ZEROS).trailing_zeros() / 8;
    let all = (u128::from(hi) | u128::from(lo) << 64) >> (8 * zeros);
    (all, 16 - zeros as usize)
}

/// Append `v` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
    } else if v < 10_000 {
        let (digits, len) = decimal_4(v as u32);
        push_prefix(out, &digits.to_le_bytes(), len);
    } else if v < 100_000_000 {
        let (digits, len) = decimal_8(v as u32);
        push_prefix(out, &digits.to_le_bytes(), len);
    } else if v < 10_000_000_000_000_000 {
        let (digits, len) = decimal_16(v);
        push_prefix(out, &digits.to_le_bytes(), len);
    } else {
        // Up to 4 digits, then exactly 16.
        push_u64(out, v / 10_000_000_000_000_000);
        let rest = v % 10_000_000_000_000_000;
        out.extend_from_slice(&digits8((rest / 100_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&digits8((rest % 100_000_000) as u32).to_le_bytes());
    }
}

/// Append `v` in decimal with a leading `-` when negative.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Append `v` in decimal, zero-padded to at least `width` digits (`%0*u`, `width` at most 20).
#[inline]
pub fn push_u64_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let len = decimal_len(v).max(width.min(20));
    let mut buf = [b'0'; 20];
    write_digits(&mut buf, len, v);
    push_prefix(out, &buf, len);
}

/// Append exactly 9 digits of `ns` (< 10^9), as `%09u`.
#[inline]
pub fn push_nanos(out: &mut Vec<u8>, ns: u64) {
    if ns >= 1_000_000_000 {
        push_u64_padded(out, ns, 9);
        return;
    }
    let (hi, lo) = digits9(ns as u32);
    push_prefix(out, &hi.to_le_bytes(), 3);
    push_prefix(out, &lo.to_le_bytes(), 6);
}

/// Append `v` in upper-case hexadecimal, no prefix (`%X`).
pub fn push_hex_upper(out: &mut Vec<u8>, mut v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Append `v` in octal, no prefix (`%o`).
pub fn push_octal(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 22];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v & 7) as u8;
        v >>= 3;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Append the lowest `len` bits of `v`, most significant first (`len` in 1..=64).
pub fn push_binary(out: &mut Vec<u8>, v: u64, len: u32) {
    let len = len.clamp(1, 64);
    for bit in (0..len).rev() {
        out.push(if (v >> bit) & 1 == 1 { b'1' } else { b'0' });
    }
}

/// What follows the backslash for each byte babeltrace2's `print_escape_string` escapes
/// (`x` for the `\xNN` form), 0 for a byte copied as is: `\\`, `\'`, `\"`, `\?`, and the C
/// control characters 0x00–0x1f and 0x7f.
const ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'x';
        b += 1;
    }
    t[0x7f] = b'x';
    t[0] = b'0';
    t[0x07] = b'a';
    t[0x08] = b'b';
    t[0x1b] = b'e';
    t[0x0c] = b'f';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x0b] = b'v';
    t[b'\\' as usize] = b'\\';
    t[b'\'' as usize] = b'\'';
    t[b'"' as usize] = b'"';
    t[b'?' as usize] = b'?';
    t
};

/// Whether `print_escape_string` escapes `b`.
#[inline(always)]
pub(crate) fn needs_escape(b: u8) -> bool {
    ESCAPES[b as usize] != 0
}

/// Whether any byte of `s` needs an escape (or ends a C string): eight bytes at a time.
#[inline(always)]
pub(crate) fn any_needs_escape(s: &[u8]) -> bool {
    let (chunks, tail) = s.as_chunks::<8>();
    if chunks
        .iter()
        .any(|c| chunk_needs_escape(u64::from_le_bytes(*c)))
    {
        return true;
    }
    match s.last_chunk::<8>() {
        // The last 8 bytes cover the tail (re-checking some bytes is harmless).
        Some(last) if !tail.is_empty() => chunk_needs_escape(u64::from_le_bytes(*last)),
        Some(_) => false,
        None => chunk_needs_escape(short_chunk(s)),
    }
}

/// The bytes of `s` (shorter than 8) in one `u64`, some repeated, the rest `a` (no escape).
#[inline(always)]
fn short_chunk(s: &[u8]) -> u64 {
    const PLAIN: u64 = 0x6161_6161_6161_6161;
    match (s.first_chunk::<4>(), s.last_chunk::<4>()) {
        (Some(first), Some(last)) => {
            u64::from(u32::from_le_bytes(*first)) | u64::from(u32::from_le_bytes(*last)) << 32
        }
        _ => match (s.first(), s.get(s.len() / 2), s.last()) {
            (Some(&a), Some(&b), Some(&c)) => {
                (PLAIN << 24) | u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16
            }
            _ => PLAIN,
        },
    }
}

/// Whether a byte of `x` is below 0x20, 0x7f, `\\`, `'`, `"` or `?` (the bytes of [`ESCAPES`]).
#[inline(always)]
fn chunk_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `v` is zero (exact as a whole: a borrow only follows a zero byte).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    // A byte below 0x20 (exact as a whole, as 0x20 <= 0x80).
    let below_space = x.wrapping_sub(ONES * 0x20) & !x;
    let found = below_space
        | zero(x ^ (ONES * 0x7f))
        | zero(x ^ (ONES * u64::from(b'\\')))
        | zero(x ^ (ONES * u64::from(b'\'')))
        | zero(x ^ (ONES * u64::from(b'"')))
        | zero(x ^ (ONES * u64::from(b'?')));
    found & HIGH != 0
}

/// Append the escaped form of `s` (every byte of which needs an escape or not), no quotes.
/// `stop_at_nul`: end at the first NUL instead of escaping it.
fn push_escaped_body(out: &mut Vec<u8>, s: &[u8], stop_at_nul: bool) {
    let mut plain_start = 0;
    for (i, &b) in s.iter().enumerate() {
        let e = ESCAPES[b as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&s[plain_start..i]);
        plain_start = i + 1;
        if b == 0 && stop_at_nul {
            return;
        }
        if e == b'x' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        } else {
            out.extend_from_slice(&[b'\\', e]);
        }
    }
    out.extend_from_slice(&s[plain_start..]);
}

/// Append `s` between double quotes with babeltrace2's escaping (`print_escape_string`):
/// `\\`, `\'`, `\"` and `\?` are escaped, the C control characters (0x00–0x1f, 0x7f) become
/// `\a \b \e \f \n \r \t \v` or `\xNN`, every other byte (UTF-8 or not) is copied as is.
pub fn push_escaped(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    push_escaped_body(out, s, false);
    out.push(b'"');
}

/// Like [`push_escaped`] for the C string `src[start..end]`: it ends at its first NUL. Bytes of
/// `src` after `end` may be copied then truncated away (a cheaper copy), never shown. Appends
/// nothing when the range is outside `src`.
#[inline]
pub fn push_c_string(out: &mut Vec<u8>, src: &[u8], start: usize, end: usize) {
    let Some(s) = src.get(start..end) else {
        return;
    };
    let plain = s.iter().position(|&b| needs_escape(b)).unwrap_or(s.len());
    out.push(b'"');
    push_padded(out, src, start, plain);
    if plain < s.len() {
        push_escaped_body(out, &s[plain..], true);
    }
    out.push(b'"');
}

/// A fixed stack buffer for the `fmt` machinery.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Append `v` as C's `printf("%g", v)` does: 6 significant digits, exponent form when the
/// decimal exponent is < -4 or >= 6, trailing zeros removed, `inf`/`nan` with their sign.
pub fn push_g(out: &mut Vec<u8>, v: f64) {
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(b"inf");
        return;
    }
    let a = v.abs();
    // `{:.5e}` rounds exactly, half to even, like glibc: "d.ddddde<exp>".
    let mut sb = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    if write!(sb, "{a:.5e}").is_err() {
        return;
    }
    let s = &sb.buf[..sb.len];
    let Some(epos) = s.iter().position(|&c| c == b'e') else {
        return;
    };
    let mut digits = [0u8; 6];
    let mut nd = 0;
    for &c in &s[..epos] {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let exp: i32 = std::str::from_utf8(&s[epos + 1..])
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    // Significant digits without trailing zeros (at least one).
    let mut sig = nd;
    while sig > 1 && digits[sig - 1] == b'0' {
        sig -= 1;
    }
    let digits = &digits[..sig];
    if (-4..6).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for i in 0..int_len {
                out.push(*digits.get(i).unwrap_or(&b'0'));
            }
            if digits.len() > int_len {
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        push_u64_padded(out, u64::from(exp.unsigned_abs()), 2);
    }
}

/// Append a UUID as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lower case).
pub fn push_uuid(out: &mut Vec<u8>, uuid: &[u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut o = Vec::new();
        push_g(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    #[test]
    // 3.1415927 is a test input (an f32 value), not an approximation of pi.
    #[allow(clippy::approx_constant)]
    fn g_matches_c_printf() {
        // Expected values: glibc printf("%g") (checked with python3 '%g', same rules).
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (2.5, "2.5"),
            (1234565.0, "1.23456e+06"),
            (1000000.5, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.000123456789, "0.000123457"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (5e-324, "4.94066e-324"),
            (f64::from(3.141_592_7_f32), "3.14159"),
            (-42.5, "-42.5"),
            (100.0, "100"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
        ];
        for &(v, want) in cases {
            assert_eq!(g(v), want, "value {v:e}");
        }
    }

    #[test]
    fn escapes_like_print_escape_string() {
        let mut o = Vec::new();
        push_escaped(&mut o, b"a\\b'c\"d?e\nf\tg\x01h\x7fi\x1b\xff\xc3");
        assert_eq!(
            o,
            b"\"a\\\\b\\'c\\\"d\\?e\\nf\\tg\\x01h\\x7fi\\e\xff\xc3\"".to_vec()
        );
    }

    #[test]
    fn integers() {
        let mut o = Vec::new();
        push_u64(&mut o, u64::MAX);
        o.push(b' ');
        push_i64(&mut o, i64::MIN);
        o.push(b' ');
        push_u64_padded(&mut o, 1500, 20);
        o.push(b' ');
        push_hex_upper(&mut o, 0xdead_beef);
        o.push(b' ');
        push_octal(&mut o, 8);
        o.push(b' ');
        push_binary(&mut o, 5, 5);
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "18446744073709551615 -9223372036854775808 00000000000000001500 DEADBEEF 10 00101"
        );
    }

    /// Values around every power of ten and a pseudo-random spread, against `std`'s formatting.
    fn sample_u64s() -> Vec<u64> {
        let mut v = vec![0, 1, 9, u64::MAX, u64::MAX - 1];
        let mut p: u64 = 1;
        while let Some(next) = p.checked_mul(10) {
            v.extend([p - 1, p, p + 1, next - 1]);
            p = next;
        }
        v.extend([p - 1, p, p + 1]);
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            v.push(x >> (x % 64));
        }
        v
    }

    #[test]
    fn decimal_matches_std_formatting() {
        for v in sample_u64s() {
            let mut o = b"x".to_vec();
            push_u64(&mut o, v);
            assert_eq!(o, format!("x{v}").into_bytes(), "{v}");
            let mut o = Vec::new();
            push_i64(&mut o, v as i64);
            assert_eq!(o, (v as i64).to_string().into_bytes(), "{v}");
            for width in [0, 2, 9, 12, 20] {
                let mut o = Vec::new();
                push_u64_padded(&mut o, v, width);
                assert_eq!(o, format!("{v:0width$}").into_bytes(), "{v} width {width}");
            }
            let ns = v % 1_000_000_000;
            let mut o = Vec::new();
            push_nanos(&mut o, ns);
            assert_eq!(o, format!("{ns:09}").into_bytes(), "{ns}");
        }
    }

    #[test]
    fn padded_copies_exactly_the_range() {
        let src: Vec<u8> = (0..=255u8).collect();
        for start in [0usize, 1, 100, 190, 200, 250, 255, 256] {
            for len in [0usize, 1, 5, 31, 32, 33, 63, 64, 65, 100] {
                let mut o = b"ab".to_vec();
                push_padded(&mut o, &src, start, len);
                let mut want = b"ab".to_vec();
                if let Some(r) = src.get(start..start + len) {
                    want.extend_from_slice(r);
                }
                assert_eq!(o, want, "start {start} len {len}");
            }
        }
    }

    #[test]
    fn chunked_escape_scan_agrees_with_the_table() {
        for len in 0..40 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[pos] = b;
                    assert_eq!(
                        any_needs_escape(&s),
                        needs_escape(b),
                        "len {len} pos {pos} byte {b}"
                    );
                }
            }
            assert!(!any_needs_escape(&vec![0xffu8; len]));
        }
        // Random mixtures of bytes.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = (x >> 59) as usize;
            let s: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8 | 0x20).collect();
            let want = s.iter().any(|&b| needs_escape(b));
            assert_eq!(any_needs_escape(&s), want, "{s:?}");
        }
    }

    #[test]
    fn c_string_ends_at_nul_and_escapes() {
        let packet = b"..plain text\0after..esc\"aped\tx\0y..".to_vec();
        let cases: &[(usize, usize, &[u8])] = &[
            (2, 17, b"\"plain text\""),
            (2, 12, b"\"plain text\""),
            (13, 18, b"\"after\""),
            (20, 33, b"\"esc\\\"aped\\tx\""),
            (0, 0, b"\"\""),
            (packet.len(), packet.len(), b"\"\""),
        ];
        for &(start, end, want) in cases {
            let mut o = Vec::new();
            push_c_string(&mut o, &packet, start, end);
            assert_eq!(
                o,
                want.to_vec(),
                "{start}..{end}: {}",
                String::from_utf8_lossy(&o)
            );
        }
        // The bytes after `end` are never shown.
        let mut o = Vec::new();
        push_c_string(&mut o, b"abcdef", 0, 3);
        assert_eq!(o, b"\"abc\"".to_vec());
    }
}
