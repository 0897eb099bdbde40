//! The 15 log levels against LTTng-UST's own header (liblttng-ust-dev), the oracle for
//! their names and numbers.

use rttng_ust::LogLevel;

const HEADERS: [&str; 2] = [
    "/usr/include/lttng/tracepoint.h",
    "/usr/include/x86_64-linux-gnu/lttng/tracepoint.h",
];

/// `(name, number)` of every `LTTNG_UST_TRACEPOINT_LOGLEVEL_NAME = N,` in the header.
fn lttng_levels() -> Vec<(String, i32)> {
    let text = HEADERS
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_else(|| {
            panic!("LTTng-UST's tracepoint.h not found in {HEADERS:?}; install: apt-get install liblttng-ust-dev")
        });
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("LTTNG_UST_TRACEPOINT_LOGLEVEL_")?;
            let (name, value) = rest.split_once('=')?;
            let value = value.trim().trim_end_matches(',').parse().ok()?;
            Some((name.trim().to_string(), value))
        })
        .collect()
}

#[test]
fn log_levels_match_lttng_ust_names_and_numbers() {
    let theirs = lttng_levels();
    assert_eq!(theirs.len(), 15, "{theirs:?}");
    for (name, number) in &theirs {
        let ours = LogLevel::from_i32(*number)
            .unwrap_or_else(|| panic!("no rttng level numbered {number} ({name})"));
        assert_eq!(&format!("{ours:?}"), name, "level {number}");
        assert_eq!(ours as i32, *number);
    }
    assert_eq!(LogLevel::from_i32(15), None);
}
