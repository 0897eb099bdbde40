//! Integration tests of rttng-clock against the kernel's clocks and across processes.

use rttng_clock::{now, realtime_ns, ClockParams};
use std::process::Command;

/// Child mode of `params_agree_across_processes`: prints the detected parameters. Ignored in
/// normal runs (it checks nothing by itself); the parent runs it with `--ignored`.
#[test]
#[ignore = "child of params_agree_across_processes"]
fn print_params_child() {
    assert!(
        std::env::var("RTTNG_CLOCK_PRINT").is_ok(),
        "child mode only: run by params_agree_across_processes (RTTNG_CLOCK_PRINT set)"
    );
    let p = ClockParams::detect().expect("detect");
    println!(
        "PARAMS {} {} {} {:?}",
        p.freq_hz, p.offset_s, p.offset_cycles, p.uuid
    );
}

fn child_params() -> (u64, i64, i64, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "print_params_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RTTNG_CLOCK_PRINT", "1")
        .output()
        .expect("spawn child");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.split_once("PARAMS ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no PARAMS line in {text}"));
    let mut parts = line.splitn(4, ' ');
    let freq = parts.next().unwrap().parse().unwrap();
    let off_s = parts.next().unwrap().parse().unwrap();
    let off_c = parts.next().unwrap().parse().unwrap();
    (freq, off_s, off_c, parts.next().unwrap().to_string())
}

#[test]
fn params_agree_across_processes() {
    let a = child_params();
    let b = child_params();
    // The frequency comes from the kernel's conversion: identical.
    assert_eq!(a.0, b.0, "freq differs between processes");
    assert_eq!(a.3, b.3, "boot id differs");
    assert!(a.3.starts_with("Some("), "no boot id: {}", a.3);
    // The offset is a quantised measurement: equal or one quantum apart.
    let ns = |p: &(u64, i64, i64, String)| {
        i128::from(p.1) * 1_000_000_000 + i128::from(p.2) * 1_000_000_000 / i128::from(p.0)
    };
    let d = (ns(&a) - ns(&b)).abs();
    assert!(d <= 1_001, "epoch offsets differ by {d} ns");
}

#[test]
fn cycles_map_to_realtime_and_monotonic() {
    let p = ClockParams::detect().expect("detect");
    for _ in 0..3 {
        let c1 = now();
        let real = realtime_ns();
        let c2 = now();
        let mapped = (p.ns_since_epoch(c1) + p.ns_since_epoch(c2)) / 2;
        let err = (mapped - real).abs();
        assert!(err < 5_000, "cycles→ns is {err} ns off CLOCK_REALTIME");
    }
    // Rates: 50 ms of CLOCK_MONOTONIC against the mapped cycles.
    let m1 = rttng_clock::monotonic_ns();
    let c1 = now();
    let deadline = m1 + 50_000_000;
    while rttng_clock::monotonic_ns() < deadline {
        std::hint::spin_loop();
    }
    let c2 = now();
    let m2 = rttng_clock::monotonic_ns();
    let mapped = p.ns_since_epoch(c2) - p.ns_since_epoch(c1);
    let mono = i128::from(m2 - m1);
    assert!(
        (mapped - mono).abs() < 5_000,
        "50 ms: mapped {mapped} ns vs monotonic {mono} ns"
    );
}

#[test]
fn clock_class_uses_params() {
    let p = ClockParams::detect().expect("detect");
    let c = p.clock_class();
    assert_eq!(c.name, "monotonic");
    assert_eq!(c.freq, p.freq_hz);
    assert!(c.offset >= 0 && (c.offset as u64) < c.freq);
    assert!(c.absolute);
}
