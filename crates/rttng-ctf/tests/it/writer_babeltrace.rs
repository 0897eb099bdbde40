//! babeltrace2 judges the writer: each sample trace of `rttng_ctf::writer::samples` is written
//! to a fresh temporary directory and read with `babeltrace2 DIR` (`TZ=UTC LC_ALL=C`). The
//! expected lines are derived by hand from the values the samples write and babeltrace2's text
//! formats (spec §8/§9, the conformance corpus' expected outputs, `print.c`): the clock offset
//! 1_700_000_000 s puts cycle 0 at 22:13:20 UTC, and the first event shows `(+?.?????????)`.
//!
//! babeltrace2 missing is a failure, not a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use rttng_ctf::writer::samples::{self, SampleTrace};

/// A temporary trace directory, removed on drop.
struct TempTrace {
    dir: PathBuf,
}

impl Drop for TempTrace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_trace(t: &SampleTrace) -> TempTrace {
    let dir =
        std::env::temp_dir().join(format!("rttng-writer-bt-{}-{}", std::process::id(), t.name));
    let _ = std::fs::remove_dir_all(&dir);
    for (rel, bytes) in &t.files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    TempTrace { dir }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn babeltrace(dir: &Path) -> Run {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run babeltrace2 ({e}); it judges the writer: apt-get install babeltrace2"
            )
        });
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn check(t: SampleTrace, expected_stdout: &[String], expected_stderr: &[String]) {
    let trace = write_trace(&t);
    let run = babeltrace(&trace.dir);
    let got: Vec<&str> = run.stdout.lines().collect();
    let want: Vec<&str> = expected_stdout.iter().map(String::as_str).collect();
    assert_eq!(
        run.status, 0,
        "babeltrace2 failed on {}: {}",
        t.name, run.stderr
    );
    assert_eq!(got, want, "stdout of babeltrace2 on {}", t.name);
    let got_err: Vec<&str> = run.stderr.lines().collect();
    let want_err: Vec<&str> = expected_stderr.iter().map(String::as_str).collect();
    assert_eq!(got_err, want_err, "stderr of babeltrace2 on {}", t.name);
}

const GOLDEN_LINE: &str = "[22:13:20.000001500] (+?.?????????) myhost my_provider:my_event: { cpu_id = 0 }, { my_int = 42, my_str = \"hello\" }";

#[test]
fn golden_reads_as_the_spec_says() {
    check(samples::golden().unwrap(), &[GOLDEN_LINE.to_string()], &[]);
}

#[test]
fn golden_with_packetized_metadata() {
    check(
        samples::golden_packetized().unwrap(),
        &[GOLDEN_LINE.to_string()],
        &[],
    );
}

#[test]
fn golden_with_compact_header() {
    check(
        samples::golden_compact().unwrap(),
        &[GOLDEN_LINE.to_string()],
        &[],
    );
}

#[test]
fn compact_timestamp_wrap() {
    // Cycles 134217712, 134217744, 134217760 (spec §9): deltas 32 and 16 ns.
    let ev = "myhost my_provider:my_event: { cpu_id = 0 }";
    check(
        samples::wrap27().unwrap(),
        &[
            format!("[22:13:20.134217712] (+?.?????????) {ev}, {{ my_int = 1, my_str = \"a\" }}"),
            format!("[22:13:20.134217744] (+0.000000032) {ev}, {{ my_int = 2, my_str = \"b\" }}"),
            format!("[22:13:20.134217760] (+0.000000016) {ev}, {{ my_int = 3, my_str = \"c\" }}"),
        ],
        &[],
    );
}

#[test]
fn discarded_events_and_packets() {
    let t = samples::discarded().unwrap();
    let trace = write_trace(&t);
    let run = babeltrace(&trace.dir);
    let ev = "myhost my_provider:my_event: { cpu_id = 0 }";
    let want = [
        format!("[22:13:20.000001500] (+?.?????????) {ev}, {{ my_int = 0, my_str = \"p0\" }}"),
        format!("[22:13:20.000003500] (+0.000002000) {ev}, {{ my_int = 1, my_str = \"p1\" }}"),
        format!("[22:13:20.000009500] (+0.000006000) {ev}, {{ my_int = 3, my_str = \"p3\" }}"),
    ];
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), want);
    // 5 events lost between packet 0's end (2000) and packet 1's end (4000); packet 2 lost
    // between packet 1's end (4000) and packet 3's begin (9000).
    let stream = trace.dir.join("chan_0");
    let tail = format!(
        "in trace \"myhost\" (UUID: 2a6422d0-6cee-11e0-8c08-cb07d7b3a564) within stream \"{}\" (stream class ID: 0, stream ID: 0).",
        stream.display()
    );
    let want_err = [
        format!("WARNING: Tracer discarded 5 events between [22:13:20.000002000] and [22:13:20.000004000] {tail}"),
        format!("WARNING: Tracer discarded 1 packet between [22:13:20.000004000] and [22:13:20.000009000] {tail}"),
    ];
    assert_eq!(run.stderr.lines().collect::<Vec<_>>(), want_err);
}

/// What babeltrace2 prints for `all_types_payload`'s values.
fn all_types_fields() -> String {
    [
        "u1 = 1, s3 = -3, u7 = 100, u13 = 5000, bin = 0b0101, s8 = -128, hex16 = 0xBEEF, oct = 010",
        "s32 = -123456, other_bo = 16909060, u64 = 18446744073709551615, s64 = -9223372036854775808",
        "en = ( \"BC\" : container = 2 ), en_multi = ( \"a b\" : container = 30 ), en_unknown = ( <unknown> : container = 7 )",
        "f = 1.5, d = -0.25, d_big = 1.23457e+08, str = \"hello\", str_esc = \"q\\\"b\\\\t\\tn\\n\\?\"",
        "arr = [ [0] = 1, [1] = 2, [2] = 65535 ], arr0 = [ ], txt = \"hell\"",
        "_seq_length = 2, seq = [ [0] = -1, [1] = 2 ], _seqtxt_length = 2, seqtxt = \"he\"",
        "nested = { a = 7, b = { c = \"x\" } }, pts = [ [0] = { x = 1, y = 2 }, [1] = { x = 3, y = -4 } ]",
        "tag = ( \"STR\" : container = 1 ), var = { \"text\" }, tag2 = ( \"INT\" : container = 0 ), var2 = { 77 }",
        "aligned = { z = 9 }",
    ]
    .join(", ")
}

fn all_types_lines(big_id_name: &str) -> Vec<String> {
    let f = all_types_fields();
    // Events at 5000, 6000 and 5000 + 2^32 + 10 = 4294972306 cycles.
    vec![
        format!("[22:13:20.000005000] (+?.?????????) myhost test:all_types: {{ cpu_id = 3 }}, {{ vtid = 77 }}, {{ ctx = 5 }}, {{ {f} }}"),
        format!("[22:13:20.000006000] (+0.000001000) myhost {big_id_name}: {{ cpu_id = 3 }}, {{ vtid = 78 }}, {{ x = 200 }}"),
        format!("[22:13:24.294972306] (+4.294966306) myhost test:all_types: {{ cpu_id = 3 }}, {{ vtid = 79 }}, {{ ctx = 6 }}, {{ {f} }}"),
    ]
}

#[test]
fn every_field_class_little_endian_large_header() {
    check(
        samples::all_types_le().unwrap(),
        &all_types_lines("test:big_id"),
        &[],
    );
}

#[test]
fn every_field_class_big_endian_natural_alignment_compact_header() {
    check(
        samples::all_types_be().unwrap(),
        &all_types_lines("test:big_id"),
        &[],
    );
}
