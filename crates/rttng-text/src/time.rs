//! The `[HH:MM:SS.nnnnnnnnn]` and `--clock-date` prefixes, with a one-second cache of the
//! formatted prefix. The dates themselves (UTC, and local time through the C library so `TZ`
//! applies exactly as in babeltrace2) come from `rttng_clock::date`. It does not format
//! nanoseconds or deltas.

use rttng_clock::date::{gmtime, localtime};

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// The formatted `[YYYY-MM-DD ]HH:MM:SS.` prefix of the last second asked for.
#[derive(Debug)]
pub struct SecondCache {
    gmt: bool,
    date: bool,
    sec: Option<u64>,
    /// Empty when the conversion failed (the caller falls back to seconds).
    prefix: Vec<u8>,
    /// `prefix` then zeros, when it fits: appended as one fixed-size copy.
    fixed: Option<[u8; FIXED_PREFIX_BYTES]>,
}

/// Longest prefix kept in [`SecondCache`]'s fixed-size copy (a 12-digit year with the date form
/// takes 28 bytes).
pub const FIXED_PREFIX_BYTES: usize = 32;

impl SecondCache {
    pub fn new(gmt: bool, date: bool) -> Self {
        SecondCache {
            gmt,
            date,
            sec: None,
            prefix: Vec::with_capacity(32),
            fixed: None,
        }
    }

    /// The prefix for `sec` seconds since the epoch, or `None` when the C library cannot
    /// convert it.
    pub fn prefix(&mut self, sec: u64) -> Option<&[u8]> {
        if self.sec != Some(sec) {
            self.sec = Some(sec);
            self.prefix.clear();
            let tm = match i64::try_from(sec) {
                Ok(s) if self.gmt => Some(gmtime(s)),
                Ok(s) => localtime(s),
                Err(_) => None,
            };
            if let Some(tm) = tm {
                if self.date {
                    crate::fmt::push_i64(&mut self.prefix, tm.year);
                    self.prefix.push(b'-');
                    push2(&mut self.prefix, tm.month);
                    self.prefix.push(b'-');
                    push2(&mut self.prefix, tm.day);
                    self.prefix.push(b' ');
                }
                push2(&mut self.prefix, tm.hour);
                self.prefix.push(b':');
                push2(&mut self.prefix, tm.min);
                self.prefix.push(b':');
                push2(&mut self.prefix, tm.sec);
                self.prefix.push(b'.');
            }
            self.fixed = None;
            if self.prefix.len() <= FIXED_PREFIX_BYTES {
                let mut fixed = [0u8; FIXED_PREFIX_BYTES];
                fixed[..self.prefix.len()].copy_from_slice(&self.prefix);
                self.fixed = Some(fixed);
            }
        }
        if self.prefix.is_empty() {
            None
        } else {
            Some(&self.prefix)
        }
    }

    /// The prefix for `sec` in a fixed-size array, and its length; `None` when the C library
    /// cannot convert it or the prefix is too long for the array.
    #[inline]
    pub fn fixed_prefix(&mut self, sec: u64) -> Option<(&[u8; FIXED_PREFIX_BYTES], usize)> {
        if self.sec != Some(sec) {
            self.prefix(sec)?;
        }
        if self.prefix.is_empty() {
            return None;
        }
        self.fixed.as_ref().map(|f| (f, self.prefix.len()))
    }

    /// Append the prefix for `sec` (as [`SecondCache::prefix`]); false when the C library cannot
    /// convert it (nothing appended).
    #[inline]
    pub fn push_prefix(&mut self, sec: u64, out: &mut Vec<u8>) -> bool {
        if self.sec != Some(sec) && self.prefix(sec).is_none() {
            return false;
        }
        match &self.fixed {
            _ if self.prefix.is_empty() => false,
            Some(fixed) => {
                crate::fmt::push_prefix(out, fixed, self.prefix.len());
                true
            }
            None => {
                out.extend_from_slice(&self.prefix);
                true
            }
        }
    }
}
