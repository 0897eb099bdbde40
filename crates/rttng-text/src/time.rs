//! Broken-down time for the `[HH:MM:SS.nnnnnnnnn]` and `--clock-date` forms: UTC computed here,
//! local time through the C library's `localtime_r` (so `TZ` and the system zone database apply
//! exactly as in babeltrace2), with a one-second cache of the formatted prefix.
//!
//! This is the crate's only `unsafe` code. It does not format nanoseconds or deltas.

/// The calendar fields babeltrace2 prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
}

/// UTC broken-down time of `secs` seconds since the Unix epoch (proleptic Gregorian calendar).
pub fn gmtime(secs: i64) -> Tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Civil-from-days (H. Hinnant's algorithm), days relative to 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Tm {
        year,
        month,
        day,
        hour: rem / 3600,
        min: rem / 60 % 60,
        sec: rem % 60,
    }
}

/// Local broken-down time of `secs`, as the C library computes it; `None` when it cannot.
#[allow(unsafe_code)]
pub fn localtime(secs: i64) -> Option<Tm> {
    let t: libc::time_t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `libc::tm` is a plain C struct for which all-zero bytes are a valid value (its
    // only pointer field, `tm_zone`, may be null).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live, properly aligned locals for the whole call;
    // `localtime_r` is the re-entrant variant and keeps no reference to them.
    let res = unsafe { libc::localtime_r(&t, &mut tm) };
    if res.is_null() {
        return None;
    }
    Some(Tm {
        year: i64::from(tm.tm_year) + 1900,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        min: u32::try_from(tm.tm_min).ok()?,
        sec: u32::try_from(tm.tm_sec).ok()?,
    })
}

/// Read `TZ` again (the C library caches it); call before the first local time conversion.
#[allow(unsafe_code)]
pub fn init_local_zone() {
    // SAFETY: `tzset` only reads the environment and updates the C library's zone globals;
    // babeltrace2 relies on the same call sequence.
    unsafe { tzset() };
}

#[allow(unsafe_code)]
extern "C" {
    /// POSIX `tzset(3)` (not exported by the `libc` crate).
    fn tzset();
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmtime_known_dates() {
        // 1700000000 = 2023-11-14 22:13:20 UTC (spec §9 golden example).
        assert_eq!(
            gmtime(1_700_000_000),
            Tm {
                year: 2023,
                month: 11,
                day: 14,
                hour: 22,
                min: 13,
                sec: 20
            }
        );
        assert_eq!(
            gmtime(0),
            Tm {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                min: 0,
                sec: 0
            }
        );
        // 2000-02-29 12:00:00 UTC, a leap day.
        assert_eq!(
            gmtime(951_825_600),
            Tm {
                year: 2000,
                month: 2,
                day: 29,
                hour: 12,
                min: 0,
                sec: 0
            }
        );
        assert_eq!(
            gmtime(-1),
            Tm {
                year: 1969,
                month: 12,
                day: 31,
                hour: 23,
                min: 59,
                sec: 59
            }
        );
    }

    #[test]
    fn gmtime_agrees_with_libc() {
        // Compare with the C library under UTC for a spread of instants.
        let mut s: i64 = 0;
        for _ in 0..2000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let secs = (s >> 20).rem_euclid(1 << 34);
            let mut t: libc::tm = unsafe_zeroed_tm();
            let tt = secs as libc::time_t;
            #[allow(unsafe_code)]
            // SAFETY: pointers to live locals, re-entrant function.
            let r = unsafe { libc::gmtime_r(&tt, &mut t) };
            assert!(!r.is_null());
            let want = Tm {
                year: i64::from(t.tm_year) + 1900,
                month: (t.tm_mon + 1) as u32,
                day: t.tm_mday as u32,
                hour: t.tm_hour as u32,
                min: t.tm_min as u32,
                sec: t.tm_sec as u32,
            };
            assert_eq!(gmtime(secs), want, "secs {secs}");
        }
    }

    #[allow(unsafe_code)]
    fn unsafe_zeroed_tm() -> libc::tm {
        // SAFETY: all-zero is a valid `libc::tm`.
        unsafe { std::mem::zeroed() }
    }
}
