//! Issue 11, item 5: `rttng view` checks what babeltrace2 checks. Traces damaged on purpose
//! (timestamps going back within a stream, a packet's `timestamp_end` older than its events,
//! packets beginning before the previous one ended, undecodable events, bad packet bounds)
//! are read by the real babeltrace2 and by `rttng view` on each of its three code paths: the
//! events printed, in order, and the exit status must be the same, and rttng's error is one
//! `Error:` line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rttng_ctf::encode::Value;
use rttng_ctf::ir::{self, FieldClass, Metadata};
use rttng_ctf::lttng::{self, EventHeaderKind, LttngLayout};
use rttng_ctf::writer::{EventRecord, HeaderForm, PacketOpen, PacketSize, StreamWriter};

use crate::support::{first_difference, require_tools, run_bounded, TempDir};

const BOUND: Duration = Duration::from_secs(30);

/// Byte offsets in a packet of LTTng's layout (spec §5).
const TIMESTAMP_BEGIN_AT: usize = 32;
const TIMESTAMP_END_AT: usize = 40;
const CONTENT_SIZE_AT: usize = 48;
const PACKET_SIZE_AT: usize = 56;

/// Events are written with these stand-in timestamps (unique 8-byte patterns), then patched to
/// the wanted ones: the writer refuses timestamps that go back, which is the point here.
const STAND_IN_TS: u64 = 0x0bad_cafe_0000_0000;

/// One packet as the test wants it on disk, however wrong.
#[derive(Clone)]
struct Pkt {
    begin: u64,
    end: u64,
    events: Vec<u64>,
    seq: u64,
    discarded: u64,
    /// Index of an event whose id is made unknown.
    bad_id: Option<usize>,
    /// Whether the packet header's magic number is broken.
    bad_magic: bool,
    /// A content size larger than the packet size.
    bad_content_size: bool,
}

fn pkt(seq: u64, begin: u64, end: u64, events: &[u64]) -> Pkt {
    Pkt {
        begin,
        end,
        events: events.to_vec(),
        seq,
        discarded: 0,
        bad_id: None,
        bad_magic: false,
        bad_content_size: false,
    }
}

fn metadata(tracer_minor: i64) -> Metadata {
    let layout = LttngLayout::x86_64();
    let fields = ir::struct_class(vec![("v", FieldClass::Integer(layout.uint(64)))], 1);
    let mut md = layout.metadata(
        *b"view-checks-0001",
        lttng::monotonic_clock(None, 0),
        lttng::ust_uid_env("h", "damaged", "20240101T000000+0000", 0),
    );
    for (k, v) in md.env.iter_mut() {
        if k == "tracer_minor" {
            *v = rttng_ctf::ir::EnvValue::Int(tracer_minor);
        }
    }
    let mut sc = layout.stream_class(0, EventHeaderKind::Large, None);
    sc.events
        .push(lttng::event_class(0, 0, "p:ev", None, fields));
    md.streams.push(sc);
    md
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The bytes of one stream: each packet written with stand-in times, then patched.
fn stream_bytes(md: &Metadata, stream: u64, packets: &[Pkt]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serial = 0u64;
    for p in packets {
        let mut w = StreamWriter::new(md, 0, stream).unwrap();
        w.open_packet(&PacketOpen {
            timestamp_begin: 0,
            packet_seq_num: p.seq,
            events_discarded: p.discarded,
            cpu_id: stream,
            extra: &[],
        })
        .unwrap();
        let mut stand_ins = Vec::new();
        for _ in &p.events {
            let ts = STAND_IN_TS + serial;
            serial += 1;
            let v = Value::Struct(vec![Value::UInt(serial)]);
            let rec = EventRecord {
                payload: Some(&v),
                ..EventRecord::default()
            };
            w.append_event_record(0, ts, HeaderForm::Extended, &rec)
                .unwrap();
            stand_ins.push(ts);
        }
        w.close_packet(u64::MAX, PacketSize::Aligned8).unwrap();
        let mut b = w.take_data();
        put_u64(&mut b, TIMESTAMP_BEGIN_AT, p.begin);
        put_u64(&mut b, TIMESTAMP_END_AT, p.end);
        for (ts, want) in stand_ins.iter().zip(&p.events) {
            let at = b
                .windows(8)
                .position(|w| w == ts.to_le_bytes())
                .expect("stand-in timestamp in the packet");
            put_u64(&mut b, at, *want);
        }
        if let Some(i) = p.bad_id {
            let at = b
                .windows(8)
                .position(|w| w == p.events[i].to_le_bytes())
                .expect("event timestamp in the packet");
            // The extended header's 32-bit id is just before its timestamp (packed layout).
            b[at - 4..at].copy_from_slice(&999u32.to_le_bytes());
        }
        if p.bad_magic {
            b[0] ^= 0xff;
        }
        if p.bad_content_size {
            let packet_bits =
                u64::from_le_bytes(b[PACKET_SIZE_AT..PACKET_SIZE_AT + 8].try_into().unwrap());
            put_u64(&mut b, CONTENT_SIZE_AT, packet_bits + 64);
        }
        out.extend_from_slice(&b);
    }
    out
}

/// Writes a trace of the given streams into `dir/name` (no index: both readers find the
/// packets from the stream files).
fn build(dir: &Path, name: &str, streams: &[Vec<Pkt>]) -> PathBuf {
    // lttng-ust 2.10 had the event-after-packet bug: babeltrace2 then tolerates it.
    let md = metadata(if name.starts_with("ust-2.10") { 10 } else { 13 });
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("metadata"), rttng_ctf::emit::emit_metadata(&md)).unwrap();
    for (i, packets) in streams.iter().enumerate() {
        std::fs::write(
            root.join(format!("chan_{i}")),
            stream_bytes(&md, i as u64, packets),
        )
        .unwrap();
    }
    root
}

fn view(trace: &Path, path: &str) -> crate::support::Finished {
    run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng"))
            .arg("view")
            .arg(trace)
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .env("RTTNG_VIEW_PATH", path),
        BOUND,
    )
    .unwrap_or_else(|e| panic!("rttng view {}: {e}", trace.display()))
}

/// babeltrace2 and each view path agree on stdout and exit status; rttng's failure is one
/// `Error:` line. Returns babeltrace2's (exit status, stdout lines).
fn compare(trace: &Path) -> (i32, usize) {
    let name = trace.file_name().unwrap().to_string_lossy().into_owned();
    let bt = run_bounded(
        Command::new("babeltrace2")
            .arg(trace)
            .env("TZ", "UTC")
            .env("LC_ALL", "C"),
        BOUND,
    )
    .expect("babeltrace2");
    let bt_code = bt.status.code().expect("babeltrace2 exit status");
    for path in ["direct", "pipelined", "parallel"] {
        let out = view(trace, path);
        if let Some(d) = first_difference(&bt.stdout, &out.stdout) {
            panic!(
                "{name} ({path}): stdout differs from babeltrace2's: {d}\nbabeltrace2 stderr: {}\nrttng stderr: {}",
                bt.stderr_quote(),
                out.stderr_quote()
            );
        }
        assert_eq!(
            out.status.code(),
            Some(bt_code),
            "{name} ({path}): exit status; babeltrace2 stderr: {}; rttng stderr: {}",
            bt.stderr_quote(),
            out.stderr_quote()
        );
        if bt_code != 0 {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("Error: "))
                .collect();
            assert_eq!(
                errors.len(),
                1,
                "{name} ({path}): one `Error:` line, got: {stderr}"
            );
            assert!(
                errors[0].contains(&*trace.to_string_lossy()),
                "{name} ({path}): the error names the file: {stderr}"
            );
        }
    }
    (bt_code, bt.stdout_text().lines().count())
}

/// A healthy second stream interleaved with the damaged one, so that the point where the
/// error stops the merge is visible in the output.
fn healthy() -> Vec<Pkt> {
    vec![
        pkt(0, 50, 260, &[50, 150, 260]),
        pkt(1, 260, 600, &[350, 450, 560, 600]),
    ]
}

#[test]
fn issue_11_view_stops_where_babeltrace2_stops_on_damaged_streams() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    let dir = TempDir::new("rttng-view-checks").unwrap();
    let d = dir.path();
    // (case, streams, babeltrace2's expected exit status, events it prints)
    let cases: Vec<(&str, Vec<Vec<Pkt>>, i32, usize)> = vec![
        (
            "sound",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 300, 500, &[400, 500]),
                ],
                healthy(),
            ],
            0,
            12,
        ),
        (
            "end-before-last-event",
            vec![
                vec![
                    pkt(0, 100, 250, &[100, 200, 300]),
                    pkt(1, 300, 500, &[400, 500]),
                ],
                healthy(),
            ],
            1,
            6,
        ),
        (
            "end-before-last-event-in-last-packet",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 300, 450, &[400, 500]),
                ],
                healthy(),
            ],
            1,
            10,
        ),
        (
            "begin-after-first-event",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 450, 500, &[400, 500]),
                ],
                healthy(),
            ],
            1,
            7,
        ),
        (
            "begins-before-previous-end",
            vec![
                vec![
                    pkt(0, 100, 320, &[100, 200, 300]),
                    pkt(1, 280, 500, &[400, 500]),
                ],
                healthy(),
            ],
            1,
            6,
        ),
        (
            "event-goes-back",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 300, 500, &[400, 350, 500]),
                ],
                healthy(),
            ],
            1,
            8,
        ),
        (
            "end-before-begin-empty-packet",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 400, 350, &[]),
                    pkt(2, 400, 500, &[450]),
                ],
                healthy(),
            ],
            1,
            7,
        ),
        // babeltrace2's work-arounds for known tracer bugs: lttng-ust before 2.11 could write
        // an event after its packet's end; a crashed lttng tracer leaves timestamp_end zero.
        (
            "ust-2.10-end-before-last-event",
            vec![
                vec![
                    pkt(0, 100, 250, &[100, 200, 300]),
                    pkt(1, 300, 500, &[400, 500]),
                ],
                healthy(),
            ],
            0,
            12,
        ),
        (
            "crash-zero-end",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 300, 0, &[400, 500]),
                ],
                healthy(),
            ],
            0,
            12,
        ),
        (
            "truncated-last-packet",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    pkt(1, 300, 500, &[400, 450, 500]),
                ],
                healthy(),
            ],
            1,
            0,
        ),
        (
            "undecodable-event",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    Pkt {
                        bad_id: Some(1),
                        ..pkt(1, 300, 500, &[400, 450, 500])
                    },
                ],
                healthy(),
            ],
            1,
            8,
        ),
        (
            "undecodable-first-event",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    Pkt {
                        bad_id: Some(0),
                        ..pkt(1, 300, 500, &[400, 450, 500])
                    },
                ],
                healthy(),
            ],
            1,
            6,
        ),
        // Without an index, babeltrace2 reads every packet header when it opens the trace: a
        // bad one fails the whole trace before any event.
        (
            "bad-magic-in-second-packet",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    Pkt {
                        bad_magic: true,
                        ..pkt(1, 300, 500, &[400, 450, 500])
                    },
                ],
                healthy(),
            ],
            1,
            0,
        ),
        (
            "content-size-beyond-packet-size",
            vec![
                vec![
                    pkt(0, 100, 300, &[100, 200, 300]),
                    Pkt {
                        bad_content_size: true,
                        ..pkt(1, 300, 500, &[400, 450, 500])
                    },
                ],
                healthy(),
            ],
            1,
            0,
        ),
    ];
    let mut failures = Vec::new();
    for (name, streams, code, events) in &cases {
        let t = build(d, name, streams);
        if *name == "truncated-last-packet" {
            let f = t.join("chan_0");
            let b = std::fs::read(&f).unwrap();
            std::fs::write(&f, &b[..b.len() - 10]).unwrap();
        }
        let got = compare(&t);
        if got != (*code, *events) {
            failures.push(format!(
                "{name}: babeltrace2 gave exit {} with {} events, the test expects exit {code} with {events}",
                got.0, got.1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
