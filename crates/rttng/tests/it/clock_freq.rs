//! Issue 2: timestamps of clocks that do not tick at 1 GHz (a TSC clock, as rttng-ust writes)
//! convert to wall time exactly as babeltrace2 converts them, to the nanosecond.

use std::process::Command;
use std::time::Duration;

use rttng_ctf::encode::Value;
use rttng_ctf::lttng::EventHeaderKind;
use rttng_ctf::writer::{samples, PacketOpen, PacketSize, StreamWriter};

use crate::support::{first_difference, require_tools, run_bounded, TempDir};

const BOUND: Duration = Duration::from_secs(60);

#[test]
fn issue_2_non_gigahertz_clock_times_match_babeltrace2() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    let mut md = samples::golden_metadata(EventHeaderKind::Large);
    // A 2.394 GHz TSC, with an offset in cycles larger than one second's worth (babeltrace2
    // normalises it) and whole seconds in offset_s.
    md.clocks[0].freq = 2_394_123_457;
    md.clocks[0].offset_s = 1_700_000_000;
    md.clocks[0].offset = 7_654_321_987;
    let dir = TempDir::new("rttng-clock-freq").unwrap();
    let trace = dir.path().join("trace");
    std::fs::create_dir_all(&trace).unwrap();
    std::fs::write(trace.join("metadata"), rttng_ctf::emit::emit_metadata(&md)).unwrap();
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    let mut ts: u64 = 987_654_321_123;
    w.open_packet(&PacketOpen {
        timestamp_begin: ts,
        ..PacketOpen::default()
    })
    .unwrap();
    for i in 0..40u64 {
        // Irregular steps, so the fractional nanoseconds vary.
        ts += 1 + (i * 7_919_993) % 3_000_017;
        w.append_event(
            0,
            ts,
            &Value::Struct(vec![Value::SInt(i as i64), Value::Str(format!("e{i}"))]),
        )
        .unwrap();
    }
    w.close_packet(ts, PacketSize::Aligned8).unwrap();
    std::fs::write(trace.join("chan_0"), w.take_data()).unwrap();

    for opts in [
        &[][..],
        &["--clock-seconds"][..],
        &["--clock-date", "--clock-gmt"][..],
    ] {
        let bt = run_bounded(
            Command::new("babeltrace2")
                .args(opts)
                .arg(&trace)
                .env("TZ", "UTC"),
            BOUND,
        )
        .unwrap();
        assert!(bt.status.success(), "babeltrace2: {}", bt.stderr_quote());
        assert_eq!(String::from_utf8_lossy(&bt.stdout).lines().count(), 40);
        let ours = run_bounded(
            Command::new(env!("CARGO_BIN_EXE_rttng"))
                .arg("view")
                .args(opts)
                .arg(&trace)
                .env("TZ", "UTC"),
            BOUND,
        )
        .unwrap();
        assert!(ours.status.success(), "rttng view: {}", ours.stderr_quote());
        if let Some(d) = first_difference(&bt.stdout, &ours.stdout) {
            panic!("{opts:?}: {d}");
        }
    }
}
