//! Integration tests of rttng-text: a synthetic trace covering every field kind is written to a
//! temporary directory, babeltrace2 2.0.4 prints it with each option set, and our printer must
//! produce the same bytes from hand-built `EventView`s of the same events.

mod expected;
mod model;

use std::path::PathBuf;
use std::process::Command;

use model::{packet, view, RichArgs};
use rttng_text::{PrettyOptions, PrettyPrinter};

struct TempTrace {
    dir: PathBuf,
}

impl Drop for TempTrace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// 3.1415927 is a test input (an f32 value), not an approximation of pi.
#[allow(clippy::approx_constant)]
fn events() -> Vec<(u64, Option<RichArgs<'static>>)> {
    vec![
        (
            1500,
            Some(RichArgs {
                u8_: 255,
                i32_: -42,
                i64_: i64::MIN,
                u64_: u64::MAX,
                hexneg: -2,
                octneg: -1,
                binneg: -128,
                e1: 3,
                e2: 0,
                f32_: 3.141_592_7,
                f64_: 1234565.0,
                s: b"hello",
                txt: b"abcdefgh",
                txtseq: b"",
                var_str: None,
            }),
        ),
        (1_000_002_000, None),
        (
            1_000_002_500,
            Some(RichArgs {
                u8_: 0,
                i32_: i32::MAX as i64,
                i64_: -1,
                u64_: 0,
                hexneg: 0x7f,
                octneg: -32768,
                binneg: 1,
                e1: 9,
                e2: -3,
                f32_: -0.000012345,
                f64_: 1e-300,
                s: b"a\\b'c\"d?e\nf\tg\x01h\x7fi\x1bj\xff\xc3\xa9k",
                txt: b"ab\0cdefg",
                txtseq: b"x?y",
                var_str: Some(b"Daniel Lavoie"),
            }),
        ),
        (5_000_000_000, None),
    ]
}

fn write_trace() -> (TempTrace, Vec<u8>, Vec<model::Decoded>) {
    write_trace_with_offset("main", 1_700_000_000)
}

fn write_trace_with_offset(tag: &str, offset_s: i64) -> (TempTrace, Vec<u8>, Vec<model::Decoded>) {
    let dir = std::env::temp_dir().join(format!("rttng-text-it-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (bytes, decoded) = packet(&events());
    let tsdl = model::TSDL.replace("offset_s = 1700000000;", &format!("offset_s = {offset_s};"));
    std::fs::write(dir.join("metadata"), tsdl).unwrap();
    std::fs::write(dir.join("chan_0"), &bytes).unwrap();
    (TempTrace { dir }, bytes, decoded)
}

fn babeltrace2(args: &[&str], trace: &std::path::Path, color: bool) -> String {
    let mut cmd = Command::new("babeltrace2");
    cmd.args(args).arg(trace);
    if color {
        cmd.env("BABELTRACE_TERM_COLOR", "always");
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run babeltrace2 ({e}): apt-get install babeltrace2"),
    };
    assert!(
        out.status.success(),
        "babeltrace2 {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    // babeltrace2 writes a stray color reset at exit when colors are forced.
    if color {
        if let Some(stripped) = s.strip_suffix("\x1b[0m") {
            s = stripped.to_string();
        }
    }
    s
}

fn ours(opts: PrettyOptions, bytes: &[u8], decoded: &[model::Decoded]) -> String {
    ours_with(opts, &model::metadata(), bytes, decoded).0
}

/// Our lines and the stderr warnings.
fn ours_with(
    opts: PrettyOptions,
    md: &rttng_ctf::ir::Metadata,
    bytes: &[u8],
    decoded: &[model::Decoded],
) -> (String, String) {
    let mut warnings = String::new();
    let mut p = PrettyPrinter::new(opts);
    let mut out = Vec::new();
    for d in decoded {
        p.write_event(&view(md, bytes, d), "myhost", &mut out);
        if let Some(w) = p.take_warning() {
            warnings.push_str(w);
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), warnings)
}

fn opts(
    names: Option<&str>,
    fields: Option<&str>,
    f: impl FnOnce(&mut PrettyOptions),
) -> PrettyOptions {
    let mut o = PrettyOptions::default();
    if let Some(n) = names {
        o.names = PrettyOptions::parse_names(n).unwrap();
    }
    if let Some(l) = fields {
        o.fields = PrettyOptions::parse_fields(l).unwrap();
    }
    f(&mut o);
    o
}

#[test]
fn synthetic_trace_matches_babeltrace2_for_every_option_set() {
    let (trace, bytes, decoded) = write_trace();
    type Case = (&'static [&'static str], PrettyOptions, bool);
    let cases: Vec<Case> = vec![
        (&[], opts(None, None, |_| {}), false),
        (
            &["--clock-gmt"],
            opts(None, None, |o| o.clock_gmt = true),
            false,
        ),
        (
            &["--clock-cycles"],
            opts(None, None, |o| o.clock_cycles = true),
            false,
        ),
        (
            &["--clock-gmt", "--clock-date"],
            opts(None, None, |o| (o.clock_gmt, o.clock_date) = (true, true)),
            false,
        ),
        (
            &["--clock-date"],
            opts(None, None, |o| o.clock_date = true),
            false,
        ),
        (
            &["--clock-seconds"],
            opts(None, None, |o| o.clock_seconds = true),
            false,
        ),
        (
            &["--no-delta", "--clock-gmt"],
            opts(None, None, |o| (o.no_delta, o.clock_gmt) = (true, true)),
            false,
        ),
        (
            &["--names", "all", "--fields", "all"],
            opts(Some("all"), Some("all"), |_| {}),
            false,
        ),
        (
            &["--names", "none"],
            opts(Some("none"), None, |_| {}),
            false,
        ),
        (
            &["--names", "header,scope"],
            opts(Some("header,scope"), None, |_| {}),
            false,
        ),
        (
            &["--names", "payload"],
            opts(Some("payload"), None, |_| {}),
            false,
        ),
        (&["--names", "ctx"], opts(Some("ctx"), None, |_| {}), false),
        (
            &["--names", "header", "--clock-cycles"],
            opts(Some("header"), None, |o| o.clock_cycles = true),
            false,
        ),
        (
            &["--fields", "trace,loglevel,emf"],
            opts(None, Some("trace,loglevel,emf"), |_| {}),
            false,
        ),
        (
            &["--fields", "trace:domain,trace:procname,trace:vpid"],
            opts(None, Some("trace:domain,trace:procname,trace:vpid"), |_| {}),
            false,
        ),
        (
            &["--fields", "loglevel"],
            opts(None, Some("loglevel"), |_| {}),
            false,
        ),
        (
            &["--fields", "all", "--names", "header"],
            opts(Some("header"), Some("all"), |_| {}),
            false,
        ),
        (
            &["--color=always"],
            opts(None, None, |o| o.color = true),
            true,
        ),
        (
            &[
                "--color=always",
                "--names",
                "all",
                "--fields",
                "all",
                "--clock-cycles",
            ],
            opts(Some("all"), Some("all"), |o| {
                (o.color, o.clock_cycles) = (true, true)
            }),
            true,
        ),
    ];
    let mut failures = Vec::new();
    for (args, o, color) in cases {
        let want = babeltrace2(args, &trace.dir, color);
        let got = ours(o, &bytes, &decoded);
        if want != got {
            let (w, g) = want
                .lines()
                .zip(got.lines())
                .find(|(w, g)| w != g)
                .unwrap_or((want.as_str(), got.as_str()));
            failures.push(format!(
                "babeltrace2 {args:?}\n  want: {w:?}\n  got:  {g:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} option sets differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn negative_timestamps_match_babeltrace2() {
    // Clock offset -2 s: the first three events are before the epoch. babeltrace2 prints the
    // first in seconds with a one-time stderr warning, then the absolute value's time of day.
    let (trace, bytes, decoded) = write_trace_with_offset("neg", -2);
    let md = model::metadata_with_offset(-2);
    for (args, o) in [
        (
            &["--clock-gmt"][..],
            opts(None, None, |o| o.clock_gmt = true),
        ),
        (
            &["--clock-seconds"][..],
            opts(None, None, |o| o.clock_seconds = true),
        ),
        (
            &["--clock-gmt", "--clock-date"][..],
            opts(None, None, |o| (o.clock_gmt, o.clock_date) = (true, true)),
        ),
    ] {
        let mut cmd = Command::new("babeltrace2");
        cmd.args(args).arg(&trace.dir);
        let out = cmd
            .output()
            .expect("cannot run babeltrace2: apt-get install babeltrace2");
        assert!(out.status.success());
        let (got, warnings) = ours_with(o, &md, &bytes, &decoded);
        assert_eq!(
            got,
            String::from_utf8_lossy(&out.stdout),
            "babeltrace2 {args:?}"
        );
        assert_eq!(
            warnings,
            String::from_utf8_lossy(&out.stderr),
            "stderr of babeltrace2 {args:?}"
        );
        if !args.contains(&"--clock-seconds") {
            assert_eq!(warnings, rttng_text::NEGATIVE_TIME_WARNING);
            assert!(got.starts_with("[-1.999998500] "), "{got}");
        }
    }
}
