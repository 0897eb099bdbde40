//! Hand-written number and string formatting into a `Vec<u8>`, matching the C `printf`
//! conversions babeltrace2 uses (`%PRIu64`, `%PRIX64`, `%PRIo64`, `%g`) and its string escaping.
//!
//! Nothing here allocates beyond growing the output vector; the `fmt` machinery is used only for
//! floats, through a fixed stack buffer. Colors and layout are not handled here.

use std::fmt::Write as _;

/// Append `v` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Append `v` in decimal with a leading `-` when negative.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Append `v` in decimal, zero-padded to at least `width` digits (`%0*u`).
#[inline]
pub fn push_u64_padded(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let width = width.min(buf.len());
    let start = i.min(buf.len() - width);
    out.extend_from_slice(&buf[start..]);
}

/// Append exactly 9 digits of `ns` (< 10^9), as `%09u`.
#[inline]
pub fn push_nanos(out: &mut Vec<u8>, ns: u64) {
    push_u64_padded(out, ns, 9);
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

/// Append `s` between double quotes with babeltrace2's escaping (`print_escape_string`):
/// `\\`, `\'`, `\"` and `\?` are escaped, the C control characters (0x00–0x1f, 0x7f) become
/// `\a \b \e \f \n \r \t \v` or `\xNN`, every other byte (UTF-8 or not) is copied as is.
pub fn push_escaped(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut plain_start = 0;
    for (i, &b) in s.iter().enumerate() {
        let needs_escape = b < 0x20 || b == 0x7f || matches!(b, b'\\' | b'\'' | b'"' | b'?');
        if !needs_escape {
            continue;
        }
        out.extend_from_slice(&s[plain_start..i]);
        plain_start = i + 1;
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'?' => out.extend_from_slice(b"\\?"),
            0 => out.extend_from_slice(b"\\0"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x1b => out.extend_from_slice(b"\\e"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x0b => out.extend_from_slice(b"\\v"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
            }
        }
    }
    out.extend_from_slice(&s[plain_start..]);
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
}
