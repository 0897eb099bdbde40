//! Real LTTng 2.13 as the oracle: `tests/lttng/filter-reference.sh` traces a C app
//! (`filter_app.c`, LTTng-UST) that emits the events of [`rows`] with every filter of
//! [`VALID`] and [`REFUSED`], each in its own session; this test evaluates rttng-filter's
//! compiled filter over the same values and requires exactly LTTng's kept event set, and
//! that both refuse the same filters. Every operator, literal form and glob form is in
//! [`VALID`].

use super::TempDir;
use rttng_filter::{Event, FieldType, Reference, Root, Schema, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Bound for building the app, running every session and reading the traces.
const PEER_TIMEOUT_S: u32 = 600;

const NS: [i32; 11] = [0, 1, 2, 3, 4, 5, -1, -2, -7, i32::MIN, i32::MAX];
const US: [u64; 6] = [0, 1, 4_294_967_297, u64::MAX, 1 << 63, 12];
const DS: [f64; 7] = [0.0, 0.75, -1.5, 2.5, 1e300, f64::NAN, 3.0];
const SS: [&str; 13] = [
    "hello",
    "help",
    "hel*",
    "world",
    "",
    "a*b",
    "HELLO",
    "h\\x",
    "h\u{e9}llo",
    "zebra",
    "*",
    "hello world",
    "hel",
];
const ROWS: usize = 60;

/// One event's values (`rttng_filt:ev`; `rttng_filt:other` has `idx` and `v = n`).
#[derive(Debug, Clone)]
struct Row {
    n: i32,
    u: u64,
    d: f64,
    s: &'static str,
}

fn rows() -> Vec<Row> {
    (0..ROWS)
        .map(|i| Row {
            n: NS[i % NS.len()],
            u: US[i % US.len()],
            d: DS[i % DS.len()],
            s: SS[i % SS.len()],
        })
        .collect()
}

/// Filters LTTng accepts; each line is one session.
const VALID: &[&str] = &[
    "n == 3",
    "n != 3 && idx < 6",
    "n < -2",
    "n <= -2",
    "n > 4",
    "n >= 4",
    "n == 2 || n == -7",
    "!(n > -5)",
    "n & 1 == 1",
    "(n | 2) == 3",
    "n ^ 1 == 5",
    "n << 2 == 8",
    "n >> 1 == 2",
    "~n == -1",
    "-n == 7",
    "+n == 4",
    "n << 40 < 0",
    "n >> 64 == 0 || n == 1",
    "n << -1 == 0",
    "u > 0x100000000",
    "u < 0",
    "u == 18446744073709551615",
    "u == 0 || u == 014",
    "d > 1.5",
    "d == 0.75",
    "d != d",
    "d < n",
    "n > 2.5",
    "1.5 < n",
    "-d == 1.5",
    "!d",
    "d && n == 1",
    "u && n == 1",
    "n",
    "!!n",
    "n == 0x3 || n == 07 || n == 5u || n == 2ULL",
    "d == 0x1.8p1 || d == 25e-1",
    "s == \"hello\"",
    "s != \"hello\"",
    "'hello' == s",
    "s == \"hel*\"",
    "s == \"*llo\"",
    "s == \"h*l*o\"",
    "s == \"h**o\"",
    "s == \"hel\\*\"",
    "s == \"a\\*b\"",
    "s == \"h\\\\x\"",
    "s == \"h\\\\*\"",
    "s == \"*\"",
    "s == \"\"",
    "s != \"*o\"",
    "\"*l*\" == s",
    "s > \"help\"",
    "s <= \"hello\"",
    "s < \"h\"",
    "s >= \"hel*\"",
    "s == s",
    "s == \"h\u{e9}*\"",
    "s > \"h\u{e9}\"",
    "$ctx.procname == \"filter*\" && n == 1",
    "$ctx.vpid > 0 && n == 2",
    "$ctx.vpid == 1",
    "n == 2 || v == 3",
    "v == 3",
    "v >= 4 && idx < 30",
    "s == 3",
    "n == \"3\"",
    "nonexistent == 1 || 1",
    "$ctx.nosuch == 1 || n == 1",
    "s",
    "1 || v == \"a\"",
    "n == 3 /* c */ || n == 4 // d",
    "n == -2147483648 || n == 2147483647",
    "(n == 1 || n == 2) && (s == \"help\" || idx > 50)",
];

/// Filters LTTng refuses at `enable-event`.
const REFUSED: &[&str] = &[
    "n === 1",
    "n == 1e",
    "n + 1 == 3",
    "n * 2",
    "n - 1",
    "arr[n] == 1",
    "\"abc\"",
    "1.5",
    "$foo.x == 1",
    "s == \"a\\nb\"",
    "s == \"a\\qb\"",
    "s == \"a\\\"b\"",
    "s < \"a*b\"",
    "\"a*b\" == \"*c\"",
    "\"a*b\" == \"c*\"",
    "n && \"a\"",
    "n & 1.5",
    "(n == 1",
    "n == 1)",
    "n == 1 ? 1 : 0",
    "-\"a\" == s",
    "\"a\" == 1",
    "$ctx.perf:thread:cpu-cycles == 1",
    "1f == n",
    "s == \"ESCSEQ\"",
    "s == \"a\\\"",
    "s == 'a\\'",
];

/// Event class `ev` (slots 0..5) and `other` (idx, v), and the contexts.
struct Class {
    other: bool,
}

const CTX_VPID: u16 = 10;
const CTX_PROCNAME: u16 = 11;

impl Schema for Class {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        let name = r.simple_name()?;
        let ev: &[(&str, FieldType)] = &[
            ("idx", FieldType::Int),
            ("n", FieldType::Int),
            ("u", FieldType::Int),
            ("d", FieldType::Float),
            ("s", FieldType::Str),
        ];
        let other: &[(&str, FieldType)] = &[("idx", FieldType::Int), ("v", FieldType::Int)];
        match r.root {
            Root::Payload => {
                let fields = if self.other { other } else { ev };
                let p = fields.iter().position(|(n, _)| *n == name)?;
                Some((p as u16, fields[p].1))
            }
            Root::Context if name == "vpid" => Some((CTX_VPID, FieldType::Int)),
            Root::Context if name == "procname" => Some((CTX_PROCNAME, FieldType::Str)),
            _ => None,
        }
    }
}

struct Values<'a> {
    other: bool,
    idx: i64,
    row: &'a Row,
    pid: i64,
}

impl Event for Values<'_> {
    fn value(&self, slot: u16) -> Value<'_> {
        match (self.other, slot) {
            (_, 0) => Value::Int(self.idx),
            // `n` of rttng_filt:ev, `v` (= n) of rttng_filt:other.
            (_, 1) => Value::Int(i64::from(self.row.n)),
            (false, 2) => Value::Int(self.row.u as i64),
            (false, 3) => Value::Float(self.row.d),
            (false, 4) => Value::Str(self.row.s.as_bytes()),
            (_, CTX_VPID) => Value::Int(self.pid),
            (_, CTX_PROCNAME) => Value::Str(b"filter_app"),
            _ => Value::Absent,
        }
    }
}

fn read_events(path: &Path) -> BTreeSet<(String, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let (ev, idx) = l.split_once(' ').expect("EVENT IDX");
            (ev.to_owned(), idx.parse().expect("idx"))
        })
        .collect()
}

#[test]
fn same_kept_events_and_refusals_as_lttng_ust() {
    let work = TempDir::new("filter-peer");
    let rows = rows();
    let mut tsv = String::new();
    for r in &rows {
        tsv.push_str(&format!("{}\t{}\t{:?}\t{}\n", r.n, r.u, r.d, r.s));
    }
    std::fs::write(work.path().join("values.tsv"), tsv).unwrap();
    let all: Vec<&str> = VALID.iter().chain(REFUSED).copied().collect();
    std::fs::write(work.path().join("filters.txt"), all.join("\n") + "\n").unwrap();

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lttng/filter-reference.sh");
    let status = Command::new("timeout")
        .arg(PEER_TIMEOUT_S.to_string())
        .arg("bash")
        .arg(&script)
        .arg(work.path())
        .status()
        .expect("run filter-reference.sh (needs bash and coreutils' timeout)");
    assert!(
        status.success(),
        "filter-reference.sh failed ({status}); it needs lttng-tools, liblttng-ust-dev, babeltrace2 and gcc: apt-get install lttng-tools liblttng-ust-dev babeltrace2 gcc"
    );
    let out = work.path().join("out");
    let pid: i64 = std::fs::read_to_string(out.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // The unfiltered session holds every event the app emitted, so nothing was lost.
    let everything = read_events(&out.join("all.events"));
    assert_eq!(
        everything.len(),
        2 * ROWS,
        "events in the unfiltered session"
    );

    let mut failures = Vec::new();
    for (k, expr) in all.iter().enumerate() {
        let lttng_status: i32 = std::fs::read_to_string(out.join(format!("{k}.status")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let ours = rttng_filter::compile(expr);
        let expect_valid = k < VALID.len();
        if (lttng_status == 0) != expect_valid {
            let err = std::fs::read_to_string(out.join(format!("{k}.stderr"))).unwrap_or_default();
            failures.push(format!(
                "{expr}: lttng status {lttng_status} ({})",
                err.trim()
            ));
            continue;
        }
        match (&ours, expect_valid) {
            (Err(e), true) => {
                failures.push(format!(
                    "{expr}: lttng accepts it, rttng-filter refuses: {e}"
                ));
                continue;
            }
            (Ok(_), false) => {
                failures.push(format!("{expr}: lttng refuses it, rttng-filter accepts it"));
                continue;
            }
            (Err(_), false) => continue,
            (Ok(_), true) => {}
        }
        let program = ours.unwrap();
        let lttng_kept = read_events(&out.join(format!("{k}.events")));
        let mut our_kept = BTreeSet::new();
        for other in [false, true] {
            let filter = program.bind(&Class { other });
            for (idx, row) in rows.iter().enumerate() {
                let v = Values {
                    other,
                    idx: idx as i64,
                    row,
                    pid,
                };
                if filter.matches(&v) {
                    let name = if other { "other" } else { "ev" };
                    our_kept.insert((name.to_owned(), idx as i64));
                }
            }
        }
        if our_kept != lttng_kept {
            let only_ours: Vec<_> = our_kept.difference(&lttng_kept).take(6).collect();
            let only_lttng: Vec<_> = lttng_kept.difference(&our_kept).take(6).collect();
            failures.push(format!(
                "{expr}: kept {} vs LTTng's {}; only ours {only_ours:?}; only LTTng's {only_lttng:?}",
                our_kept.len(),
                lttng_kept.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
