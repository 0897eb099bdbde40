//! The relay's log: one line per event on stderr, `rttng-relayd: ` first. Refusals and errors
//! are always written; `-v` adds connections and sessions, `-vv` every command. Lines are
//! written whole (std locks stderr per call), so threads do not interleave within a line.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: errors and refusals; 1: connections, sessions, streams; 2: every command.
static VERBOSITY: AtomicU8 = AtomicU8::new(0);

pub fn set_verbosity(v: u8) {
    VERBOSITY.store(v, Ordering::Relaxed);
}

pub fn enabled(level: u8) -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= level
}

pub fn line(level: u8, args: std::fmt::Arguments<'_>) {
    if enabled(level) {
        eprintln!("rttng-relayd: {args}");
    }
}

/// Always written.
#[macro_export]
macro_rules! log_error {
    ($($t:tt)*) => { $crate::log::line(0, format_args!($($t)*)) };
}

/// With `-v`.
#[macro_export]
macro_rules! log_info {
    ($($t:tt)*) => { $crate::log::line(1, format_args!($($t)*)) };
}

/// With `-vv`.
#[macro_export]
macro_rules! log_debug {
    ($($t:tt)*) => { $crate::log::line(2, format_args!($($t)*)) };
}
