//! The one clock of every rttng domain (DESIGN.md "Clock"): [`now`] reads the TSC with
//! `rdtsc` when it is invariant (`constant_tsc` and `nonstop_tsc` in /proc/cpuinfo, x86-64
//! only), else CLOCK_MONOTONIC in nanoseconds. tracefs with `trace_clock=x86-tsc` (or `mono`
//! in the fallback) stamps kernel events with the same counter, so kernel and user events
//! merge exactly.
//!
//! [`ClockParams::detect`] gives what a CTF `clock` block needs to map those cycles to
//! nanoseconds since the epoch: `ns = offset_s·1e9 + (offset + cycles)·1e9/freq`. The TSC
//! frequency is derived deterministically from the kernel's own cycles-to-ns conversion
//! (the perf_event_open mmap page: `time_mult`, `time_shift`), so every process on the
//! machine computes the same `freq`. Where that page offers no conversion (a KVM guest
//! whose sched_clock is kvm-clock, like the test VM), the frequency is calibrated once per
//! boot against CLOCK_MONOTONIC over [`CALIBRATION_NS`] and cached in
//! `/dev/shm/rttng-clock-BOOT_ID` (trusted only when owned by root or the caller), so
//! later processes read the very same value. The epoch offset is a measurement (best of
//! [`OFFSET_SAMPLES`] bracketed readings of CLOCK_REALTIME), quantised to
//! [`OFFSET_QUANTUM_NS`]: processes agree on it within one quantum; a session computes it
//! once (at session start) and every trace of the session uses that one value.
//!
//! [`date`] holds the wall-clock dates every crate names traces and prints events with.
//!
//! Not here: CTF emission beyond [`ClockParams::clock_class`], kernel tracefs setup,
//! NTP slewing after calibration (the mapping is linear from calibration on).

pub mod date;

use std::sync::atomic::{AtomicU8, Ordering};

/// Samples taken to measure the epoch offset; the one with the narrowest bracket wins.
pub const OFFSET_SAMPLES: usize = 64;

/// The epoch offset is rounded to a multiple of this many nanoseconds, so that two
/// processes measuring it at different times usually compute the very same value.
pub const OFFSET_QUANTUM_NS: i128 = 1_000;

/// Length of the one-per-boot TSC calibration when the kernel publishes no conversion.
pub const CALIBRATION_NS: u64 = 200_000_000;

/// Directory of the per-boot calibration cache.
pub const CACHE_DIR: &str = "/dev/shm";

/// Environment variable forcing the fallback clock (`RTTNG_CLOCK=monotonic`), read once.
pub const CLOCK_ENV: &str = "RTTNG_CLOCK";

/// Which counter [`now`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `rdtsc`, invariant TSC (tracefs `trace_clock=x86-tsc`).
    Tsc,
    /// CLOCK_MONOTONIC in nanoseconds (tracefs `trace_clock=mono`).
    Monotonic,
}

impl Source {
    /// The tracefs `trace_clock` giving kernel events the same time base.
    pub fn tracefs_clock(self) -> &'static str {
        match self {
            Source::Tsc => "x86-tsc",
            Source::Monotonic => "mono",
        }
    }
}

const UNKNOWN: u8 = 0;
const TSC: u8 = 1;
const MONOTONIC: u8 = 2;
/// [`TSC`] on a CPU with `rdtscp` (what [`now_ordered`] then uses).
const TSC_RDTSCP: u8 = 3;

/// The selected source; written once by [`source`] (every writer computes the same value,
/// so a race between two first callers is harmless).
static SOURCE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Current clock value in cycles of the trace clock. The very first call in a process
/// selects the source (reads /proc/cpuinfo); call [`source`] early to keep that off the
/// event path. No allocation, no panic; no system call once the source is known (the
/// fallback reads CLOCK_MONOTONIC through the vDSO).
#[inline(always)]
pub fn now() -> u64 {
    // Relaxed: SOURCE only ever goes from UNKNOWN to one fixed value.
    match SOURCE.load(Ordering::Relaxed) {
        TSC | TSC_RDTSCP => rdtsc(),
        _ => now_slow(),
    }
}

/// [`now`], read only after every earlier load of this thread has completed: for a
/// writer whose timestamp must not precede what it just loaded (the ring buffer's
/// reservation: the clock read after the `write_pos` load that its CAS then confirms).
/// `rdtscp` where the CPU has it (it waits for earlier instructions and loads, not for
/// stores, and does not hold back later instructions: measured cheaper than `lfence;
/// rdtsc` here, see BENCHMARKS.md), else `lfence; rdtsc`, as Linux's `rdtsc_ordered`;
/// CLOCK_MONOTONIC is already ordered.
#[inline(always)]
pub fn now_ordered() -> u64 {
    match SOURCE.load(Ordering::Relaxed) {
        TSC_RDTSCP => rdtscp(),
        TSC => {
            lfence();
            rdtsc()
        }
        _ => now_ordered_slow(),
    }
}

#[cold]
#[inline(never)]
fn now_ordered_slow() -> u64 {
    match source() {
        Source::Tsc => {
            lfence();
            rdtsc()
        }
        Source::Monotonic => monotonic_ns(),
    }
}

#[inline(always)]
fn lfence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: lfence has no memory effects beyond ordering; every x86-64 CPU has it.
    unsafe {
        core::arch::x86_64::_mm_lfence()
    };
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtscp() -> u64 {
    let mut aux = 0u32;
    // SAFETY: only called when the CPU has rdtscp (SOURCE is TSC_RDTSCP, set from CPUID);
    // it writes the 32-bit aux value we own and has no other memory effect.
    unsafe { core::arch::x86_64::__rdtscp(&mut aux) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtscp() -> u64 {
    monotonic_ns()
}

/// Whether the CPU has `rdtscp` (CPUID 0x8000_0001, EDX bit 27).
fn has_rdtscp() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // CPUID exists on every x86-64 CPU; leaf 0x8000_0000 gives the highest extended
        // leaf, checked before reading 0x8000_0001.
        let max = core::arch::x86_64::__cpuid(0x8000_0000).eax;
        if max < 0x8000_0001 {
            return false;
        }
        let edx = core::arch::x86_64::__cpuid(0x8000_0001).edx;
        edx & (1 << 27) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// [`now`], read only once every load and store before it in program order has completed
/// (`lfence` before `rdtsc`; CLOCK_MONOTONIC is already ordered). For a reader that must
/// stamp something *after* what it observed, e.g. a flush that closes a packet: a plain
/// `rdtsc` may execute before the load that saw the last reservation, and then stamp the
/// packet's end before that reservation's event. Costs a pipeline drain; not for the
/// event path.
pub fn now_after_loads() -> u64 {
    if matches!(SOURCE.load(Ordering::Relaxed), TSC | TSC_RDTSCP) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: lfence has no memory effects beyond ordering; every x86-64 CPU has it.
        unsafe {
            core::arch::x86_64::_mm_lfence()
        };
    }
    now()
}

#[cold]
#[inline(never)]
fn now_slow() -> u64 {
    match source() {
        Source::Tsc => rdtsc(),
        Source::Monotonic => monotonic_ns(),
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no memory effects and exists on every x86-64 CPU.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtsc() -> u64 {
    monotonic_ns()
}

fn clock_ns(id: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own; it cannot fail for these ids.
    unsafe { libc::clock_gettime(id, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonic_ns() -> u64 {
    u64::try_from(clock_ns(libc::CLOCK_MONOTONIC)).unwrap_or(0)
}

/// CLOCK_REALTIME in nanoseconds since the epoch.
pub fn realtime_ns() -> i128 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// The source [`now`] reads, selected on the first call.
pub fn source() -> Source {
    match SOURCE.load(Ordering::Relaxed) {
        TSC | TSC_RDTSCP => return Source::Tsc,
        MONOTONIC => return Source::Monotonic,
        _ => {}
    }
    let forced_mono = std::env::var(CLOCK_ENV).is_ok_and(|v| v == "monotonic");
    let tsc = !forced_mono && cfg!(target_arch = "x86_64") && invariant_tsc();
    let selected = match (tsc, has_rdtscp()) {
        (true, true) => TSC_RDTSCP,
        (true, false) => TSC,
        (false, _) => MONOTONIC,
    };
    SOURCE.store(selected, Ordering::Relaxed);
    if tsc {
        Source::Tsc
    } else {
        Source::Monotonic
    }
}

/// Whether /proc/cpuinfo lists both `constant_tsc` and `nonstop_tsc`.
fn invariant_tsc() -> bool {
    match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(text) => cpuinfo_has_invariant_tsc(&text),
        Err(_) => false,
    }
}

/// The `flags` line of the first CPU lists both `constant_tsc` and `nonstop_tsc`.
pub fn cpuinfo_has_invariant_tsc(cpuinfo: &str) -> bool {
    let Some(flags) = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags") && l.contains(':'))
    else {
        return false;
    };
    let mut words = flags.split_whitespace();
    let (mut constant, mut nonstop) = (false, false);
    for w in words.by_ref() {
        constant |= w == "constant_tsc";
        nonstop |= w == "nonstop_tsc";
    }
    constant && nonstop
}

/// Why the clock parameters could not be derived.
#[derive(Debug)]
pub enum ClockError {
    /// perf_event_open / mmap failed, so the kernel's TSC conversion is unknown.
    PerfPage {
        op: &'static str,
        source: std::io::Error,
    },
    /// The perf page exists but does not offer a user-space time conversion.
    NoUserTime,
    /// The kernel's conversion factors are unusable (zero multiplier, shift ≥ 64).
    BadConversion { time_mult: u32, time_shift: u16 },
}

impl std::fmt::Display for ClockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockError::PerfPage { op, source } => write!(f, "perf mmap page: {op}: {source}"),
            ClockError::NoUserTime => write!(f, "perf mmap page has no cap_user_time"),
            ClockError::BadConversion {
                time_mult,
                time_shift,
            } => write!(
                f,
                "perf mmap page conversion unusable: time_mult {time_mult}, time_shift {time_shift}"
            ),
        }
    }
}

impl std::error::Error for ClockError {}

/// What a CTF `clock` block needs: `ns_since_epoch = offset_s·1e9 + (offset + cycles)·1e9/freq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockParams {
    /// Always `monotonic` (LTTng's name; babeltrace2 treats it as absolute for lttng traces).
    pub name: &'static str,
    pub source: Source,
    /// Cycles per second.
    pub freq_hz: u64,
    /// Whole seconds, ≥ 0.
    pub offset_s: i64,
    /// Cycles, in `0..freq_hz`.
    pub offset_cycles: i64,
    /// The kernel boot id (/proc/sys/kernel/random/boot_id), shared by every trace of this boot.
    pub uuid: Option<[u8; 16]>,
}

impl ClockParams {
    /// Derives the parameters of the clock [`now`] reads.
    pub fn detect() -> Result<ClockParams, ClockError> {
        let source = source();
        let freq_hz = match source {
            Source::Monotonic => 1_000_000_000,
            Source::Tsc => tsc_freq_from_perf()?,
        };
        let epoch_at_zero_ns = measure_epoch_at_zero(freq_hz);
        let quantised = (epoch_at_zero_ns + OFFSET_QUANTUM_NS / 2).div_euclid(OFFSET_QUANTUM_NS)
            * OFFSET_QUANTUM_NS;
        let (offset_s, offset_cycles) = split_offset(quantised, freq_hz);
        Ok(ClockParams {
            name: "monotonic",
            source,
            freq_hz,
            offset_s,
            offset_cycles,
            uuid: boot_id(),
        })
    }

    /// Nanoseconds since the epoch of clock value `cycles`, as a CTF reader computes it.
    pub fn ns_since_epoch(&self, cycles: u64) -> i128 {
        i128::from(self.offset_s) * 1_000_000_000
            + (i128::from(self.offset_cycles) + i128::from(cycles)) * 1_000_000_000
                / i128::from(self.freq_hz.max(1))
    }

    /// The CTF clock class (`absolute = true` so that babeltrace2 merges our traces with
    /// others even when `env.tracer_name` is not LTTng's).
    pub fn clock_class(&self) -> rttng_desc::ClockClass {
        rttng_desc::ClockClass {
            name: self.name.to_string(),
            uuid: self.uuid,
            description: Some("Monotonic Clock".to_string()),
            freq: self.freq_hz,
            offset_s: self.offset_s,
            offset: self.offset_cycles,
            precision: 0,
            absolute: true,
        }
    }
}

/// Splits "epoch ns at clock value 0" into whole seconds and cycles in `0..freq`.
fn split_offset(epoch_at_zero_ns: i128, freq_hz: u64) -> (i64, i64) {
    let s = epoch_at_zero_ns.div_euclid(1_000_000_000);
    let rem_ns = epoch_at_zero_ns.rem_euclid(1_000_000_000);
    let cycles = rem_ns * i128::from(freq_hz) / 1_000_000_000;
    (
        i64::try_from(s).unwrap_or(0),
        i64::try_from(cycles).unwrap_or(0),
    )
}

/// Epoch nanoseconds at clock value 0: the best of [`OFFSET_SAMPLES`] readings of
/// CLOCK_REALTIME bracketed by two clock reads.
fn measure_epoch_at_zero(freq_hz: u64) -> i128 {
    let mut best: Option<(u64, i128)> = None;
    for _ in 0..OFFSET_SAMPLES {
        let c1 = now();
        let real = realtime_ns();
        let c2 = now();
        let width = c2.wrapping_sub(c1);
        let mid = i128::from(c1) + i128::from(width / 2);
        let at_zero = real - mid * 1_000_000_000 / i128::from(freq_hz.max(1));
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, at_zero));
        }
    }
    best.map_or(0, |(_, v)| v)
}

/// Reads /proc/sys/kernel/random/boot_id.
pub fn boot_id() -> Option<[u8; 16]> {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    rttng_desc::parse_uuid(text.trim())
}

/// The kernel's cycles→ns conversion for the TSC, from the perf_event_open mmap page:
/// `ns = time_zero + (tsc·time_mult >> time_shift)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerfTimeConversion {
    pub time_mult: u32,
    pub time_shift: u16,
    pub time_zero: u64,
}

impl PerfTimeConversion {
    /// The TSC frequency this conversion implies, rounded to the nearest Hz.
    pub fn freq_hz(&self) -> Result<u64, ClockError> {
        if self.time_mult == 0 || self.time_shift >= 64 {
            return Err(ClockError::BadConversion {
                time_mult: self.time_mult,
                time_shift: self.time_shift,
            });
        }
        let num = 1_000_000_000u128 << self.time_shift;
        let mult = u128::from(self.time_mult);
        u64::try_from((num + mult / 2) / mult).map_err(|_| ClockError::BadConversion {
            time_mult: self.time_mult,
            time_shift: self.time_shift,
        })
    }
}

fn tsc_freq_from_perf() -> Result<u64, ClockError> {
    match perf_time_conversion().and_then(|c| c.freq_hz()) {
        Ok(f) => Ok(f),
        Err(_) => Ok(cached_calibration()),
    }
}

/// The per-boot calibrated TSC frequency: read from the cache, or measured and stored.
fn cached_calibration() -> u64 {
    let boot = boot_id()
        .map(|u| rttng_desc::format_uuid(&u))
        .unwrap_or_default();
    let path = std::path::Path::new(CACHE_DIR).join(format!("rttng-clock-{boot}"));
    if let Some(f) = read_cache(&path) {
        return f;
    }
    let f = calibrate_tsc();
    // Write-then-rename: a reader sees the whole value or nothing. If another process won
    // the race, its value is kept and returned (first writer wins via hard link).
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, format!("{f}\n")).is_ok() {
        let _ = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
    }
    read_cache(&path).unwrap_or(f)
}

fn read_cache(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || (meta.uid() != 0 && meta.uid() != me) || meta.len() > 64 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().parse().ok().filter(|&f: &u64| f > 1_000_000)
}

/// Cycles per second of CLOCK_MONOTONIC over [`CALIBRATION_NS`], from bracketed reads.
fn calibrate_tsc() -> u64 {
    let sample = || {
        let mut best = (u64::MAX, 0u64, 0u64);
        for _ in 0..OFFSET_SAMPLES {
            let c1 = rdtsc();
            let m = monotonic_ns();
            let c2 = rdtsc();
            if c2.wrapping_sub(c1) < best.0 {
                best = (c2.wrapping_sub(c1), c1 + (c2.wrapping_sub(c1)) / 2, m);
            }
        }
        (best.1, best.2)
    };
    let (c1, m1) = sample();
    while monotonic_ns().saturating_sub(m1) < CALIBRATION_NS {
        std::hint::spin_loop();
    }
    let (c2, m2) = sample();
    let dm = u128::from(m2.saturating_sub(m1).max(1));
    u64::try_from(u128::from(c2.wrapping_sub(c1)) * 1_000_000_000 / dm).unwrap_or(1_000_000_000)
}

// struct perf_event_mmap_page offsets (include/uapi/linux/perf_event.h).
const PAGE_LOCK: usize = 8;
const PAGE_CAPABILITIES: usize = 40;
const PAGE_TIME_SHIFT: usize = 50;
const PAGE_TIME_MULT: usize = 52;
const PAGE_TIME_ZERO: usize = 64;
const CAP_USER_TIME: u64 = 1 << 3;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_DUMMY: u64 = 9;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `exclude_kernel` and `exclude_hv` bits of perf_event_attr's flag word: allowed at
/// perf_event_paranoid 2 without privileges.
const ATTR_EXCLUDE_KERNEL_HV: u64 = (1 << 5) | (1 << 6);
const ATTR_BYTES: usize = 128;
/// Retries of the perf page's seqlock before giving up.
const MAX_SEQLOCK_RETRIES: usize = 1000;

/// Reads the kernel's TSC conversion from a perf_event_open mmap page (a software dummy
/// event on this thread, opened and closed here).
pub fn perf_time_conversion() -> Result<PerfTimeConversion, ClockError> {
    let mut attr = [0u8; ATTR_BYTES];
    attr[0..4].copy_from_slice(&PERF_TYPE_SOFTWARE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(ATTR_BYTES as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&PERF_COUNT_SW_DUMMY.to_ne_bytes());
    attr[40..48].copy_from_slice(&ATTR_EXCLUDE_KERNEL_HV.to_ne_bytes());
    // SAFETY: perf_event_open reads `attr` (ATTR_BYTES long, size field says so); pid 0 =
    // this thread, cpu -1 = any, no group.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            0 as libc::pid_t,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(ClockError::PerfPage {
            op: "perf_event_open",
            source: std::io::Error::last_os_error(),
        });
    }
    let fd = fd as libc::c_int;
    // SAFETY: page size query has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    // SAFETY: maps one page of the perf fd read-only; checked for MAP_FAILED below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        let err = std::io::Error::last_os_error();
        // SAFETY: fd is ours.
        unsafe { libc::close(fd) };
        return Err(ClockError::PerfPage {
            op: "mmap",
            source: err,
        });
    }
    let base = ptr as *const u8;
    let read = |off: usize, len: usize| -> u64 {
        // SAFETY: every offset read is inside the mapped page, aligned for its type (the
        // kernel struct is naturally aligned); the kernel updates it under the `lock`
        // seqlock, hence volatile reads and the retry loop.
        unsafe {
            match len {
                2 => u64::from(std::ptr::read_volatile(base.add(off) as *const u16)),
                4 => u64::from(std::ptr::read_volatile(base.add(off) as *const u32)),
                _ => std::ptr::read_volatile(base.add(off) as *const u64),
            }
        }
    };
    let mut result = Err(ClockError::NoUserTime);
    for _ in 0..MAX_SEQLOCK_RETRIES {
        let seq = read(PAGE_LOCK, 4);
        std::sync::atomic::fence(Ordering::Acquire);
        let caps = read(PAGE_CAPABILITIES, 8);
        let conv = PerfTimeConversion {
            time_shift: read(PAGE_TIME_SHIFT, 2) as u16,
            time_mult: read(PAGE_TIME_MULT, 4) as u32,
            time_zero: read(PAGE_TIME_ZERO, 8),
        };
        std::sync::atomic::fence(Ordering::Acquire);
        if read(PAGE_LOCK, 4) != seq || seq & 1 != 0 {
            continue;
        }
        result = if caps & CAP_USER_TIME == 0 {
            Err(ClockError::NoUserTime)
        } else {
            Ok(conv)
        };
        break;
    }
    // SAFETY: unmaps the page mapped above and closes our fd.
    unsafe {
        libc::munmap(ptr, page);
        libc::close(fd);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_flags_need_both_bits() {
        let both = "processor\t: 0\nflags\t\t: fpu tsc constant_tsc rep_good nonstop_tsc cpuid\n";
        assert!(cpuinfo_has_invariant_tsc(both));
        let one = "flags\t\t: fpu tsc constant_tsc rep_good\n";
        assert!(!cpuinfo_has_invariant_tsc(one));
        assert!(!cpuinfo_has_invariant_tsc("model name : x\n"));
    }

    #[test]
    fn freq_from_conversion() {
        // 2.5 GHz: 0.4 ns per cycle = mult / 2^shift with shift 10 → mult 409.6; use an
        // pair: shift 20, mult = 0.4 · 2^20 = 419430.4 → 419430 gives 1e9·2^20/419430 = 2500002384.2 Hz (computed by hand).
        let c = PerfTimeConversion {
            time_mult: 419_430,
            time_shift: 20,
            time_zero: 0,
        };
        assert_eq!(c.freq_hz().unwrap(), 2_500_002_384);
        let bad = PerfTimeConversion {
            time_mult: 0,
            time_shift: 20,
            time_zero: 0,
        };
        assert!(bad.freq_hz().is_err());
    }

    #[test]
    fn offset_split_is_reader_exact() {
        let freq = 2_000_000_000u64;
        let epoch0 = 1_700_000_000_123_456_789i128;
        let (s, c) = split_offset(epoch0, freq);
        assert_eq!(s, 1_700_000_000);
        assert_eq!(c, 246_913_578);
        let p = ClockParams {
            name: "monotonic",
            source: Source::Tsc,
            freq_hz: freq,
            offset_s: s,
            offset_cycles: c,
            uuid: None,
        };
        // 2e9 cycles later = 1 s later.
        assert_eq!(p.ns_since_epoch(2_000_000_000), 1_700_000_001_123_456_789);
    }
}
