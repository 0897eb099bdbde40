//! The clock a kernel session records with: the tracefs clock with its CTF clock class, and
//! the trace's creation date. Not here: reading the clock in the hot path (the kernel stamps
//! events), the boot id and date arithmetic (`rttng_clock`), the trace's layout (`write.rs`).

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
            ctf: monotonic_clock(
                rttng_clock::boot_id(),
                crate::sys::realtime_minus_monotonic_ns(),
            ),
        }
    }
}

/// `YYYYmmddTHHMMSS+0000` (UTC) for `trace_creation_datetime`.
pub fn datetime_now() -> String {
    rttng_clock::date::gmtime(rttng_clock::date::now_s()).iso()
}
