//! The clock a kernel session records with, and the host facts its trace names: the tracefs
//! clock with its CTF clock class, the boot id, the creation date. Not here: reading the clock
//! in the hot path (the kernel stamps events), the trace's layout (`write.rs`).

use rttng_ctf::ir::ClockClass;
use rttng_ctf::lttng::monotonic_clock;

/// The tracefs clock and the CTF clock class describing its values.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockSpec {
    /// Written to `trace_clock` (`mono`, `x86-tsc`).
    pub trace_clock: String,
    pub ctf: ClockClass,
}

impl ClockSpec {
    /// A tracefs clock and the CTF clock class of its values (e.g. from `rttng-clock`).
    pub fn new(trace_clock: &str, ctf: ClockClass) -> ClockSpec {
        ClockSpec {
            trace_clock: trace_clock.to_string(),
            ctf,
        }
    }

    /// The clock every rttng domain shares (`rttng-clock`): `x86-tsc` with the TSC frequency
    /// and epoch offset when the TSC is invariant, else `mono`; falls back to
    /// [`ClockSpec::monotonic`] if the parameters cannot be derived.
    pub fn shared() -> ClockSpec {
        match rttng_clock::ClockParams::detect() {
            Ok(p) => ClockSpec {
                trace_clock: p.source.tracefs_clock().to_string(),
                ctf: p.clock_class(),
            },
            Err(_) => ClockSpec::monotonic(),
        }
    }

    /// The current value of this clock, in the units tracefs stamps events with.
    pub fn now(&self) -> u64 {
        if self.trace_clock == "x86-tsc" {
            rttng_clock::now()
        } else {
            crate::sys::monotonic_ns().max(0) as u64
        }
    }

    /// `ns` nanoseconds in clock cycles.
    pub fn cycles(&self, ns: u64) -> u64 {
        (u128::from(ns) * u128::from(self.ctf.freq) / 1_000_000_000) as u64
    }

    /// `trace_clock=mono`, a 1 GHz CTF clock whose offset is CLOCK_REALTIME − CLOCK_MONOTONIC now,
    /// with the boot id as uuid (what LTTng writes).
    pub fn monotonic() -> ClockSpec {
        ClockSpec {
            trace_clock: "mono".to_string(),
            ctf: monotonic_clock(boot_id(), crate::sys::realtime_minus_monotonic_ns()),
        }
    }
}

/// The kernel boot id as 16 bytes.
pub fn boot_id() -> Option<[u8; 16]> {
    let t = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let hex: String = t.trim().chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `YYYYmmddTHHMMSS+0000` (UTC) for `trace_creation_datetime`.
pub fn datetime_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19675), (2023, 11, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
