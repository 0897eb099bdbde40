//! rttng-reader integration tests: the direct and the pipelined merge hand out the same
//! messages in the same order, over the whole conformance corpus (multi-stream, multi-trace,
//! loss reports, traces without clocks).

use std::path::{Path, PathBuf};

mod live;

use rttng_reader::{Message, TraceSet};

fn corpus_traces() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/ctf-conformance");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join("traces")).expect("corpus") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let rc = std::fs::read_to_string(root.join(format!("expected/{name}.rc"))).unwrap();
        if rc.trim() == "0" {
            out.push(root.join("traces").join(name));
        }
    }
    out.sort();
    out
}

/// A summary line per message: enough to tell any difference in order or content.
fn summarize(msg: &Message<'_>) -> String {
    match msg {
        Message::Event { trace, view } => format!(
            "{} {} {:?} {:?} {:?} {:?}",
            trace.name,
            view.event_class.name,
            view.clock.map(|c| (c.cycles, c.ns_from_origin)),
            view.payload.map(|s| s.values.to_vec()),
            view.stream_event_context.map(|s| s.values.to_vec()),
            view.packet_context.map(|s| s.values.to_vec()),
        ),
        Message::Discarded(d) => format!(
            "lost {:?} {:?} {} {}",
            d.kind, d.count, d.stream.stream_class_id, d.stream.id
        ),
    }
}

#[test]
fn pipelined_and_direct_merges_agree_on_the_corpus() {
    let traces = corpus_traces();
    assert!(traces.len() >= 20);
    let mut total = 0;
    for t in &traces {
        let set = TraceSet::open(std::slice::from_ref(t)).expect("corpus trace opens");
        let mut direct = Vec::new();
        set.for_each_message(&mut |m| {
            direct.push(summarize(m));
            true
        })
        .unwrap();
        let mut piped = Vec::new();
        set.for_each_message_pipelined(&mut |m| {
            piped.push(summarize(m));
            true
        })
        .unwrap();
        assert_eq!(direct, piped, "{}", t.display());
        total += direct.len();
    }
    assert!(
        total > 20_000,
        "the corpus has tens of thousands of events, saw {total}"
    );
}

#[test]
fn pipelined_merge_stops_when_the_sink_says_so() {
    let t = corpus_traces()
        .into_iter()
        .find(|p| p.ends_with("succeed__succeed1"))
        .unwrap();
    let set = TraceSet::open(&[t]).unwrap();
    let mut seen = 0;
    set.for_each_message_pipelined(&mut |_| {
        seen += 1;
        seen < 10
    })
    .unwrap();
    assert_eq!(seen, 10);
}

/// Writes a trace of `streams` streams with `per_stream` events each into `dir`: small
/// packets (each with its own `cpu_id`, so a packet context shown with the wrong event is
/// seen), irregular interleaving of the streams' timestamps, and a string field.
fn write_many_packets(dir: &Path, streams: u64, per_stream: u64) {
    use rttng_ctf::encode::BitWriter;
    use rttng_ctf::ir::{ByteOrder, Encoding, FieldClass, StringClass};
    use rttng_ctf::lttng::{EventHeaderKind, LttngLayout};
    use rttng_ctf::writer::{self, HeaderForm, PacketOpen};

    const PACKET_BYTES: u64 = 4096;
    let le = ByteOrder::Little;
    let layout = LttngLayout::x86_64();
    let fields = rttng_ctf::ir::struct_class(
        vec![
            (
                "_n",
                FieldClass::Integer(rttng_ctf::ir::uint_class(64, 8, le)),
            ),
            (
                "_s",
                FieldClass::String(StringClass {
                    encoding: Encoding::Utf8,
                }),
            ),
        ],
        1,
    );
    let uuid = *b"rttng-reader-it!";
    let mut md = layout.metadata(
        uuid,
        rttng_ctf::lttng::monotonic_clock(None, 1_700_000_000_000_000_000),
        rttng_ctf::lttng::ust_uid_env("host", "it", "20231114T221320+0000", 0),
    );
    let mut sc = layout.stream_class(0, EventHeaderKind::Large, None);
    sc.events.push(rttng_ctf::lttng::event_class(
        0,
        0,
        "it:event",
        Some(13),
        fields,
    ));
    md.streams.push(sc);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("metadata"), rttng_ctf::emit::emit_metadata(&md)).unwrap();
    for stream in 0..streams {
        let mut w = writer::StreamWriter::new(&md, 0, stream).unwrap();
        let mut file = Vec::new();
        let (mut seq, mut ts) = (0u64, 1_000 + stream * 7);
        for k in 0..per_stream {
            if !w.is_packet_open() {
                let open = PacketOpen {
                    timestamp_begin: ts,
                    packet_seq_num: seq,
                    cpu_id: stream * 1000 + seq,
                    ..PacketOpen::default()
                };
                w.open_packet(&open).unwrap();
                seq += 1;
            }
            let text = "x".repeat((k % 7) as usize);
            w.append_event_raw(0, ts, HeaderForm::Auto, |b: &mut BitWriter| {
                b.write_uint(stream << 32 | k, 64, le);
                b.write_string(text.as_bytes());
            })
            .unwrap();
            // Streams advance at different, varying paces.
            ts += 1 + (k * (stream + 3)) % 97;
            if w.packet_content_bits() / 8 + 64 > PACKET_BYTES {
                w.close_packet(ts, writer::PacketSize::Bytes(PACKET_BYTES))
                    .unwrap();
                file.extend_from_slice(&w.take_data());
            }
        }
        if w.is_packet_open() {
            w.close_packet(ts, writer::PacketSize::Bytes(PACKET_BYTES))
                .unwrap();
        }
        file.extend_from_slice(&w.take_data());
        std::fs::write(dir.join(format!("channel0_{stream}")), file).unwrap();
    }
}

#[test]
fn every_path_agrees_across_many_batches_and_packets() {
    let dir = std::env::temp_dir().join(format!("rttng-reader-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // 3 × 15000 events: several of the pipeline's batches, hundreds of packets.
    write_many_packets(&dir, 3, 15_000);
    let set = TraceSet::open(std::slice::from_ref(&dir)).expect("trace opens");
    let [direct, piped, parallel] = messages_until_error(&set);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(direct.1, "no error");
    assert_eq!(direct.0.len(), 45_000);
    for (name, other) in [("pipelined", &piped), ("parallel", &parallel)] {
        assert_eq!(other.1, "no error", "{name}");
        if let Some(i) = (0..direct.0.len()).find(|&i| other.0.get(i) != Some(&direct.0[i])) {
            panic!(
                "{name}: message {i} differs:\n direct {}\n {name} {:?}",
                direct.0[i],
                other.0.get(i)
            );
        }
        assert_eq!(other.0.len(), direct.0.len(), "{name}");
    }
}

/// Every message before a decode error, then the error, through each delivery path.
fn messages_until_error(set: &TraceSet) -> [(Vec<String>, String); 3] {
    let mut direct = Vec::new();
    let e1 = set.for_each_message(&mut |m| {
        direct.push(summarize(m));
        true
    });
    let mut piped = Vec::new();
    let e2 = set.for_each_message_pipelined(&mut |m| {
        piped.push(summarize(m));
        true
    });
    let parallel = std::sync::Mutex::new(Vec::new());
    let e3 = set.for_each_batch_parallel(
        2,
        &|| (),
        &|_, batch| {
            let mut lines = Vec::new();
            batch.for_each(&mut |m| {
                lines.push(summarize(m));
                true
            });
            lines
        },
        &mut |lines| {
            parallel.lock().unwrap().extend(lines);
            true
        },
    );
    let err = |r: Result<(), rttng_reader::ReadError>| match r {
        Ok(()) => "no error".to_string(),
        Err(e) => e.to_string(),
    };
    [
        (direct, err(e1)),
        (piped, err(e2)),
        (parallel.into_inner().unwrap(), err(e3)),
    ]
}

#[test]
fn every_path_delivers_the_events_before_a_decode_error_then_the_error() {
    let dir = std::env::temp_dir().join(format!("rttng-reader-it-damaged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_many_packets(&dir, 2, 15_000);
    // Overwrite the events of a packet of stream 1 well into the trace with 0xff bytes: its
    // first event has an unknown id. (A damaged packet header or a packet running past the
    // end of the file fails the whole trace when it opens, as in babeltrace2.)
    let f = dir.join("channel0_1");
    let mut bytes = std::fs::read(&f).unwrap();
    let packet = bytes.len() / 2 / 4096 * 4096;
    bytes[packet + 88..packet + 4096].fill(0xff);
    std::fs::write(&f, &bytes).unwrap();
    let set = TraceSet::open(std::slice::from_ref(&dir)).expect("trace opens");
    let [direct, piped, parallel] = messages_until_error(&set);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_ne!(direct.1, "no error");
    assert!(
        direct.0.len() > 10_000,
        "events before the error: {}",
        direct.0.len()
    );
    assert_eq!(piped.1, direct.1);
    assert_eq!(piped.0, direct.0, "pipelined");
    assert_eq!(parallel.1, direct.1);
    assert_eq!(
        parallel.0.len(),
        direct.0.len(),
        "parallel: events before the error"
    );
    assert_eq!(parallel.0, direct.0, "parallel");
}
