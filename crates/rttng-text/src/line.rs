//! [`Line`]: the printer's output cursor for one event line. Bytes go to a fixed scratch buffer
//! first, with the write position in a local variable, and reach the caller's `Vec<u8>` in one
//! copy at the end of the line (or when the scratch is full).
//!
//! Appending to a `Vec` loads and stores its length in memory each time, so a line of some
//! thirty small appends becomes one long chain of dependent loads and stores; a cursor held in a
//! register does not. For the cursor to stay in a register, every method is inlined and the
//! out-of-line helpers take the cursor by value, never the `Line` by address.
//!
//! This module formats nothing itself beyond copying fixed-size chunks: the number and string
//! routines live in [`crate::fmt`].

use crate::fmt::{
    any_needs_escape, decimal_4, decimal_8, digits8, digits9, push_c_string, push_u64_padded,
    COPY_CHUNK,
};

/// Size of the scratch buffer. A longer line is flushed to the output as it grows.
pub const LINE_BUF_BYTES: usize = 4096;

/// The line being written: `out[start..]` then `buf[..pos]`.
pub struct Line<'a> {
    out: &'a mut Vec<u8>,
    buf: &'a mut [u8],
    pos: usize,
    /// `out.len()` when the line began.
    start: usize,
}

impl<'a> Line<'a> {
    /// A line appended to `out`, staged in `buf` (at least `2 * COPY_CHUNK` bytes long).
    #[inline]
    pub fn new(out: &'a mut Vec<u8>, buf: &'a mut [u8]) -> Self {
        let start = out.len();
        Line {
            out,
            buf,
            pos: 0,
            start,
        }
    }

    /// Bytes written so far in this line.
    #[inline]
    pub fn written(&self) -> usize {
        self.out.len() - self.start + self.pos
    }

    /// Drop what was written after the first `len` bytes of the line (`len <= written()`).
    pub fn rewind(&mut self, len: usize) {
        let flushed = self.out.len() - self.start;
        if len >= flushed {
            self.pos = (len - flushed).min(self.pos);
        } else {
            self.out.truncate(self.start + len);
            self.pos = 0;
        }
    }

    /// The output vector, with everything written so far in it: for the rare, longer formats.
    #[inline(always)]
    pub fn vec(&mut self) -> &mut Vec<u8> {
        self.pos = flush(self.out, self.buf, self.pos);
        self.out
    }

    /// Flush the line to the output.
    #[inline(always)]
    pub fn finish(self) {
        flush(self.out, self.buf, self.pos);
    }

    /// Append the first `len` bytes of `chunk` (`len <= N`).
    #[inline(always)]
    pub fn put<const N: usize>(&mut self, chunk: &[u8; N], len: usize) {
        match self.buf.get_mut(self.pos..self.pos + N) {
            Some(dst) => {
                dst.copy_from_slice(chunk);
                self.pos += len.min(N);
            }
            None => self.pos = put_slow(self.out, self.buf, self.pos, &chunk[..len.min(N)]),
        }
    }

    #[inline(always)]
    pub fn byte(&mut self, b: u8) {
        self.put(&[b], 1);
    }

    /// Append `src[start..start + len]`; `src` should hold [`crate::fmt::PAD_BYTES`] bytes
    /// past the range (else the copy is slower, not wrong).
    #[inline(always)]
    pub fn padded(&mut self, src: &[u8], start: usize, len: usize) {
        if len <= COPY_CHUNK {
            if let Some(chunk) = src.get(start..).and_then(|s| s.first_chunk::<COPY_CHUNK>()) {
                self.put(chunk, len);
                return;
            }
        } else if len <= 2 * COPY_CHUNK {
            if let Some(chunk) = src
                .get(start..)
                .and_then(|s| s.first_chunk::<{ 2 * COPY_CHUNK }>())
            {
                self.put(chunk, len);
                return;
            }
        }
        // Near the end of `src`: two overlapping fixed-size copies.
        if let Some(s) = src.get(start..start.saturating_add(len)) {
            let end = self.pos + 2 * COPY_CHUNK;
            if let Some(dst) = self.buf.get_mut(self.pos..end) {
                let done = match len {
                    0 => Some(()),
                    1..=3 => {
                        for (d, &b) in dst.iter_mut().zip(s) {
                            *d = b;
                        }
                        Some(())
                    }
                    4..=7 => overlap::<4>(dst, s),
                    8..=15 => overlap::<8>(dst, s),
                    16..=31 => overlap::<16>(dst, s),
                    _ => overlap::<32>(dst, s),
                };
                if done.is_some() {
                    self.pos += len;
                    return;
                }
            }
        }
        self.pos = padded_slow(self.out, self.buf, self.pos, src, start, len);
    }

    /// Append `v` in decimal.
    #[inline(always)]
    pub fn u64(&mut self, v: u64) {
        if v < 10 {
            self.byte(b'0' + v as u8);
        } else if v < 10_000 {
            let (digits, len) = decimal_4(v as u32);
            self.put(&digits.to_le_bytes(), len);
        } else if v < 100_000_000 {
            let (digits, len) = decimal_8(v as u32);
            self.put(&digits.to_le_bytes(), len);
        } else if v < 10_000_000_000_000_000 {
            let (hi, len) = decimal_8((v / 100_000_000) as u32);
            self.put(&hi.to_le_bytes(), len);
            self.put(&digits8((v % 100_000_000) as u32).to_le_bytes(), 8);
        } else {
            self.pos = u64_20(self.out, self.buf, self.pos, v);
        }
    }

    /// Append `v` in decimal with a leading `-` when negative.
    #[inline(always)]
    pub fn i64(&mut self, v: i64) {
        if v < 0 {
            self.byte(b'-');
        }
        self.u64(v.unsigned_abs());
    }

    /// Append exactly 9 digits of `ns` (< 10^9), as `%09u`.
    #[inline(always)]
    pub fn nanos(&mut self, ns: u64) {
        if ns < 1_000_000_000 {
            let (hi, lo) = digits9(ns as u32);
            self.put(&hi.to_le_bytes(), 3);
            self.put(&lo.to_le_bytes(), 6);
        } else {
            push_u64_padded(self.vec(), ns, 9);
        }
    }

    /// The C string `src[start..end]` quoted and escaped (see [`push_c_string`]).
    #[inline(always)]
    pub fn c_string(&mut self, src: &[u8], start: usize, end: usize) {
        let Some(s) = src.get(start..end) else {
            return;
        };
        if !any_needs_escape(s) {
            self.byte(b'"');
            self.padded(src, start, s.len());
            self.byte(b'"');
        } else {
            self.pos = escaped_slow(self.out, self.buf, self.pos, src, start, end);
        }
    }
}

/// Copy `s` (`N <= s.len() <= 2 * N`) to the start of `dst` as its first and last `N` bytes.
#[inline(always)]
fn overlap<const N: usize>(dst: &mut [u8], s: &[u8]) -> Option<()> {
    let len = s.len();
    dst.get_mut(..N)?.copy_from_slice(s.first_chunk::<N>()?);
    dst.get_mut(len.checked_sub(N)?..len)?
        .copy_from_slice(s.last_chunk::<N>()?);
    Some(())
}

/// Move `buf[..pos]` to `out`; returns the new position (0).
#[inline(always)]
fn flush(out: &mut Vec<u8>, buf: &[u8], pos: usize) -> usize {
    out.extend_from_slice(buf.get(..pos).unwrap_or(buf));
    0
}

#[cold]
#[inline(never)]
fn put_slow(out: &mut Vec<u8>, buf: &[u8], pos: usize, bytes: &[u8]) -> usize {
    flush(out, buf, pos);
    out.extend_from_slice(bytes);
    0
}

#[inline(never)]
fn padded_slow(
    out: &mut Vec<u8>,
    buf: &[u8],
    pos: usize,
    src: &[u8],
    start: usize,
    len: usize,
) -> usize {
    flush(out, buf, pos);
    crate::fmt::push_padded(out, src, start, len);
    0
}

#[inline(never)]
fn escaped_slow(
    out: &mut Vec<u8>,
    buf: &[u8],
    pos: usize,
    src: &[u8],
    start: usize,
    end: usize,
) -> usize {
    flush(out, buf, pos);
    push_c_string(out, src, start, end);
    0
}

/// 17 to 20 digits.
#[inline(never)]
fn u64_20(out: &mut Vec<u8>, buf: &[u8], pos: usize, v: u64) -> usize {
    flush(out, buf, pos);
    crate::fmt::push_u64(out, v);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_and_rewinds_across_the_scratch_end() {
        let mut out = b"previous line\n".to_vec();
        let mut buf = [0u8; 2 * COPY_CHUNK];
        let mut line = Line::new(&mut out, &mut buf);
        let mut want = Vec::new();
        for i in 0..40u64 {
            line.u64(i * 1_000_003);
            line.byte(b',');
            want.extend_from_slice(format!("{},", i * 1_000_003).as_bytes());
        }
        assert_eq!(line.written(), want.len());
        line.rewind(7);
        want.truncate(7);
        line.c_string(b"abc\0def", 0, 7);
        want.extend_from_slice(b"\"abc\"");
        // Strings near the end of their buffer, of every short length.
        let src: Vec<u8> = (b'a'..=b'z').cycle().take(70).collect();
        for len in 0..=src.len() {
            line.padded(&src, src.len() - len, len);
            want.extend_from_slice(&src[src.len() - len..]);
        }
        let before = line.written();
        line.byte(b'x');
        line.rewind(before);
        line.nanos(42);
        want.extend_from_slice(b"000000042");
        line.finish();
        assert_eq!(out, [&b"previous line\n"[..], &want].concat());
    }
}
