//! rttng-reader integration tests: the direct and the pipelined merge hand out the same
//! messages in the same order, over the whole conformance corpus (multi-stream, multi-trace,
//! loss reports, traces without clocks).

use std::path::{Path, PathBuf};

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
