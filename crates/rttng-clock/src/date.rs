//! Wall-clock dates, the one place they are computed: broken-down UTC time (computed here) and
//! local time (the C library's `localtime_r`, so `TZ` and the zone database apply as in LTTng
//! and babeltrace2), and the two forms LTTng names things with: `YYYYmmdd-HHMMSS` (session and
//! trace directory names) and `YYYYmmddTHHMMSS+hhmm` (`trace_creation_datetime`). Not here: the
//! trace clock ([`crate::now`]), what a viewer prints (`rttng-text`).

/// Broken-down time.
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
    /// Seconds east of UTC (0 for [`gmtime`]).
    pub utc_offset_s: i64,
}

/// Seconds since the Unix epoch now (0 if the system clock is before it).
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
        utc_offset_s: 0,
    }
}

/// Local broken-down time of `secs`, as the C library computes it; `None` when it cannot.
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
        utc_offset_s: tm.tm_gmtoff,
    })
}

/// Read `TZ` again (the C library caches it); call before the first local time conversion
/// when `TZ` may have changed since the process started.
pub fn init_local_zone() {
    // SAFETY: `tzset` only reads the environment and updates the C library's zone globals.
    unsafe { tzset() };
}

extern "C" {
    /// POSIX `tzset(3)` (not exported by the `libc` crate).
    fn tzset();
}

impl Tm {
    /// `YYYYmmdd-HHMMSS`, as LTTng names sessions and trace directories.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        )
    }

    /// `YYYYmmddTHHMMSS+hhmm`, as LTTng writes `trace_creation_datetime`.
    pub fn iso(&self) -> String {
        let sign = if self.utc_offset_s < 0 { '-' } else { '+' };
        let off_min = self.utc_offset_s.abs() / 60;
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}{sign}{:02}{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            off_min / 60,
            off_min % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let d = |s: i64| {
            let t = gmtime(s);
            (t.year, t.month, t.day, t.hour, t.min, t.sec)
        };
        assert_eq!(d(0), (1970, 1, 1, 0, 0, 0));
        // 2023-11-14 22:13:20 UTC
        assert_eq!(d(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(d(-1), (1969, 12, 31, 23, 59, 59));
        // 2000-02-29, a leap day of a century year.
        assert_eq!(d(951_782_400), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn gmtime_agrees_with_libc() {
        // Compare with the C library's UTC conversion for a spread of instants.
        let mut s: i64 = 0;
        for _ in 0..2000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let secs = (s >> 20).rem_euclid(1 << 34);
            // SAFETY: all-zero is a valid `libc::tm`.
            let mut t: libc::tm = unsafe { std::mem::zeroed() };
            let tt = secs as libc::time_t;
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
                utc_offset_s: 0,
            };
            assert_eq!(gmtime(secs), want, "secs {secs}");
        }
    }

    #[test]
    fn lttng_forms() {
        let t = gmtime(1_700_000_000);
        assert_eq!(t.compact(), "20231114-221320");
        assert_eq!(t.iso(), "20231114T221320+0000");
        let east = Tm {
            utc_offset_s: 5 * 3600 + 30 * 60,
            ..t
        };
        assert_eq!(east.iso(), "20231114T221320+0530");
        let west = Tm {
            utc_offset_s: -(3 * 3600),
            ..t
        };
        assert_eq!(west.iso(), "20231114T221320-0300");
    }

    #[test]
    fn local_time_agrees_with_utc_plus_its_offset() {
        let s = 1_700_000_000;
        let local = localtime(s).expect("the C library converts a 2023 date");
        let shifted = gmtime(s + local.utc_offset_s);
        assert_eq!(
            (
                shifted.year,
                shifted.month,
                shifted.day,
                shifted.hour,
                shifted.min,
                shifted.sec
            ),
            (
                local.year,
                local.month,
                local.day,
                local.hour,
                local.min,
                local.sec
            )
        );
    }
}
