//! Issue 2: tracefile rotation and index files. A stream split over two files (LTTng's
//! `CHANNEL_N_I` with `--tracefile-size`), each with its index, reads as one stream, in
//! babeltrace2 and in `rttng view` alike; a bad index is ignored as babeltrace2 ignores it.

use std::process::Command;
use std::time::Duration;

use rttng_ctf::encode::Value;
use rttng_ctf::index::{encode_index, IndexEntry, IndexVersion};
use rttng_ctf::lttng::EventHeaderKind;
use rttng_ctf::writer::{samples, PacketOpen, PacketSize, StreamWriter};

use crate::support::{first_difference, require_tools, run_bounded, TempDir};

const BOUND: Duration = Duration::from_secs(60);

fn view_both(trace: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let bt = run_bounded(
        Command::new("babeltrace2").arg(trace).env("TZ", "UTC"),
        BOUND,
    )
    .unwrap();
    assert!(
        bt.status.success(),
        "babeltrace2 failed: {}",
        bt.stderr_quote()
    );
    let ours = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng"))
            .arg("view")
            .arg(trace)
            .env("TZ", "UTC"),
        BOUND,
    )
    .unwrap();
    assert!(
        ours.status.success(),
        "rttng view failed: {}",
        ours.stderr_quote()
    );
    (bt.stdout, ours.stdout)
}

#[test]
fn issue_2_rotated_tracefiles_read_as_one_stream() {
    require_tools(&[("babeltrace2", "babeltrace2")]).unwrap();
    let md = samples::golden_metadata(EventHeaderKind::Large);
    let dir = TempDir::new("rttng-rotation").unwrap();
    let trace = dir.path().join("trace");
    std::fs::create_dir_all(trace.join("index")).unwrap();
    std::fs::write(trace.join("metadata"), rttng_ctf::emit::emit_metadata(&md)).unwrap();

    // Four packets of three events, two packets per file, the second file starting later.
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    let mut files: Vec<(Vec<u8>, Vec<IndexEntry>)> = Vec::new();
    let mut ts = 1_000;
    for packet in 0..4u64 {
        w.open_packet(&PacketOpen {
            timestamp_begin: ts,
            packet_seq_num: packet,
            ..PacketOpen::default()
        })
        .unwrap();
        for i in 0..3 {
            ts += 100;
            let v = Value::Struct(vec![
                Value::SInt((packet * 10 + i) as i64),
                Value::Str(format!("p{packet}e{i}")),
            ]);
            w.append_event(0, ts, &v).unwrap();
        }
        ts += 50;
        let mut entry = w.close_packet(ts, PacketSize::Bytes(256)).unwrap();
        if packet % 2 == 0 {
            files.push((Vec::new(), Vec::new()));
        }
        let (data, index) = files.last_mut().unwrap();
        entry.offset_bytes = data.len() as u64;
        data.extend_from_slice(&w.take_data());
        index.push(entry);
    }
    for (i, (data, index)) in files.iter().enumerate() {
        std::fs::write(trace.join(format!("chan_0_{i}")), data).unwrap();
        std::fs::write(
            trace.join(format!("index/chan_0_{i}.idx")),
            encode_index(index, IndexVersion::V1_1),
        )
        .unwrap();
    }

    let (bt, ours) = view_both(&trace);
    let text = String::from_utf8_lossy(&bt);
    assert_eq!(
        text.lines().count(),
        12,
        "babeltrace2 shows all 12 events:\n{text}"
    );
    assert!(
        text.lines().nth(6).unwrap().contains("my_str = \"p2e0\""),
        "rotated file follows the first:\n{text}"
    );
    if let Some(d) = first_difference(&bt, &ours) {
        panic!("rttng view differs from babeltrace2 on a rotated stream: {d}");
    }

    // A damaged index is ignored: the packets are found by scanning, with the same output.
    std::fs::write(
        trace.join("index/chan_0_1.idx"),
        b"\xc1\xf1\xdc\xc1 not an index",
    )
    .unwrap();
    let (bt2, ours2) = view_both(&trace);
    assert_eq!(bt2, bt, "babeltrace2 ignores the bad index");
    assert_eq!(ours2, bt, "rttng view ignores the bad index");
}
