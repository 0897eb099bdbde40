//! The live merge (`rttng_reader::live`) against the file merge: a scripted packet source hands
//! out a trace's packets one by one, with "nothing yet" answers, inactivity beacons and metadata
//! generations in between, and the live merge must hand out the very events the file merge
//! hands out for the same files, in the same order.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use rttng_ctf::decode::StreamDecoder;
use rttng_reader::live::{
    self, LiveMessage, LiveStream, LiveTrace, PacketSource, Poll, SourceError,
};
use rttng_reader::{Message, TraceSet};

/// Bounds the scripted source's waits: a merge that never progresses fails instead of hanging.
const MAX_WAITS: u64 = 100_000;

struct Scripted {
    md_text: String,
    traces: Vec<Option<Arc<LiveTrace>>>,
    /// Per stream: (timestamp_begin, packet bytes) still to hand out.
    packets: Vec<VecDeque<(u64, Vec<u8>)>>,
    calls: u64,
    generation: u64,
    waits: u64,
    generations_bumped: u64,
    beacons: u64,
}

fn parse(text: &str) -> LiveTrace {
    let mut md = rttng_ctf::tsdl::parse_metadata(text).expect("metadata");
    rttng_ctf::roles::prepare(&mut md).expect("prepare");
    LiveTrace {
        name: String::new(),
        metadata: md,
    }
}

impl Scripted {
    fn new(dir: &Path, streams: u64) -> Scripted {
        let md_text = std::fs::read_to_string(dir.join("metadata")).unwrap();
        let trace = parse(&md_text);
        let mut packets = Vec::new();
        for s in 0..streams {
            let file = std::fs::read(dir.join(format!("channel0_{s}"))).unwrap();
            let mut d = StreamDecoder::new(&trace.metadata);
            let mut q = VecDeque::new();
            let mut at = 0usize;
            while at < file.len() {
                let info = d.begin_packet(&file[at..], at as u64).unwrap().clone();
                let len = (info.packet_bits / 8) as usize;
                q.push_back((info.timestamp_begin.unwrap(), file[at..at + len].to_vec()));
                at += len;
            }
            packets.push(q);
        }
        Scripted {
            md_text,
            traces: vec![Some(Arc::new(trace))],
            packets,
            calls: 0,
            generation: 0,
            waits: 0,
            generations_bumped: 0,
            beacons: 0,
        }
    }
}

impl PacketSource for Scripted {
    fn generation(&self) -> u64 {
        self.generation
    }
    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>> {
        self.traces.clone()
    }
    fn streams(&self) -> Vec<LiveStream> {
        (0..self.packets.len())
            .map(|i| LiveStream {
                trace: 0,
                id: i as u64,
                name: format!("channel0_{i}"),
            })
            .collect()
    }
    fn poll(&mut self, stream: usize) -> Result<Poll, SourceError> {
        self.calls += 1;
        if self.calls.is_multiple_of(11) {
            // The metadata "grew": same text, new generation; the merge must re-enter packets.
            self.traces[0] = Some(Arc::new(parse(&self.md_text)));
            self.generation += 1;
            self.generations_bumped += 1;
        }
        if self.calls.is_multiple_of(3) {
            return Ok(Poll::Pending);
        }
        let Some((ts, _)) = self.packets[stream].front() else {
            return Ok(Poll::End);
        };
        if self.calls.is_multiple_of(5) {
            // Quiet until just before its next packet: never a lie.
            self.beacons += 1;
            return Ok(Poll::Inactive {
                stream_class_id: 0,
                timestamp_end: ts - 1,
            });
        }
        Ok(Poll::Packet(self.packets[stream].pop_front().unwrap().1))
    }
    fn wait(&mut self) -> Result<(), SourceError> {
        self.waits += 1;
        assert!(self.waits < MAX_WAITS, "the live merge does not progress");
        Ok(())
    }
    fn finished(&mut self) -> Result<bool, SourceError> {
        Ok(true)
    }
}

fn summarize(view: &rttng_ctf::event::EventView<'_>) -> String {
    format!(
        "{} {:?} {:?} {:?}",
        view.event_class.name,
        view.clock.map(|c| (c.cycles, c.ns_from_origin)),
        view.payload.map(|s| s.values.to_vec()),
        view.packet_context.map(|s| s.values.to_vec()),
    )
}

#[test]
fn live_merge_hands_out_what_the_file_merge_hands_out() {
    let dir = std::env::temp_dir().join(format!("rttng-reader-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    const STREAMS: u64 = 3;
    crate::write_many_packets(&dir, STREAMS, 20_000);
    let set = TraceSet::open(std::slice::from_ref(&dir)).unwrap();
    let mut from_files = Vec::new();
    set.for_each_message(&mut |m| {
        if let Message::Event { view, .. } = m {
            from_files.push(summarize(view));
        }
        true
    })
    .unwrap();

    let mut src = Scripted::new(&dir, STREAMS);
    let mut from_live = Vec::new();
    live::run(&mut src, &mut |m| {
        match m {
            LiveMessage::Event { view, .. } => from_live.push(summarize(view)),
            LiveMessage::Discarded(_) => from_live.push("lost".into()),
        }
        true
    })
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let counts = (src.generations_bumped, src.beacons, src.waits);
    assert!(
        counts.0 > 10 && counts.1 > 10 && counts.2 > 10,
        "the script did not exercise the merge: (generations, beacons, waits) = {counts:?}"
    );
    assert_eq!(from_live.len(), from_files.len());
    if let Some(i) = (0..from_files.len()).find(|&i| from_files[i] != from_live[i]) {
        panic!(
            "event {i} differs:\n files: {}\n live:  {}",
            from_files[i], from_live[i]
        );
    }
}

#[test]
fn live_merge_stops_when_the_sink_says_so() {
    let dir = std::env::temp_dir().join(format!("rttng-reader-live-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::write_many_packets(&dir, 2, 500);
    let mut src = Scripted::new(&dir, 2);
    let mut n = 0;
    live::run(&mut src, &mut |_| {
        n += 1;
        n < 10
    })
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(n, 10);
}

/// Stream 0 hands out its first packet and then has nothing new for `HOLD` waits (a quiet
/// stream whose next index is a live period away); stream 1 hands out all its packets.
struct OnePacketThenQuiet {
    inner: Scripted,
    sent_first: bool,
    waits: u64,
}

const HOLD: u64 = 50;

impl PacketSource for OnePacketThenQuiet {
    fn generation(&self) -> u64 {
        0
    }
    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>> {
        self.inner.traces.clone()
    }
    fn streams(&self) -> Vec<LiveStream> {
        self.inner.streams()
    }
    fn poll(&mut self, stream: usize) -> Result<Poll, SourceError> {
        if stream == 0 && self.sent_first {
            return Ok(if self.waits < HOLD {
                Poll::Pending
            } else {
                Poll::End
            });
        }
        self.sent_first |= stream == 0;
        Ok(match self.inner.packets[stream].pop_front() {
            Some((_, p)) => Poll::Packet(p),
            None => Poll::End,
        })
    }
    fn wait(&mut self) -> Result<(), SourceError> {
        self.waits += 1;
        assert!(self.waits < MAX_WAITS, "the live merge does not progress");
        Ok(())
    }
    fn finished(&mut self) -> Result<bool, SourceError> {
        Ok(true)
    }
}

/// A packet's end says its stream has no event before it: once its last event is out, the
/// other streams' events before that time go out at once, without waiting for the stream's
/// next index (babeltrace2 does the same through its packet end message). Events at or after
/// it still wait.
#[test]
fn a_finished_packet_releases_the_other_streams_events_before_its_end() {
    let dir = std::env::temp_dir().join(format!("rttng-reader-live-end-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::write_many_packets(&dir, 2, 2000);
    let inner = Scripted::new(&dir, 2);
    let first = &inner.packets[0][0].1;
    let md = &inner.traces[0].as_ref().unwrap().metadata;
    let end = StreamDecoder::new(md)
        .begin_packet(first, 0)
        .unwrap()
        .timestamp_end
        .unwrap();
    let mut src = OnePacketThenQuiet {
        inner,
        sent_first: false,
        waits: 0,
    };
    // (stream 1's event cycles, waits so far): the sink sees the waits through `Counting`.
    let waits = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let mut last0 = 0;
    let w = waits.clone();
    live::run(
        &mut Counting {
            inner: &mut src,
            waits: w,
        },
        &mut |m| {
            if let LiveMessage::Event { stream, view, .. } = m {
                let cycles = view.clock.unwrap().cycles;
                if stream.id == 1 {
                    seen.push((cycles, waits.get()));
                } else {
                    last0 = cycles;
                }
            }
            true
        },
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let between = seen.iter().filter(|(c, _)| *c > last0 && *c < end).count();
    assert!(
        between > 0,
        "the script has no event of stream 1 between stream 0's last event and its packet end"
    );
    for &(c, w) in &seen {
        if c < end {
            assert_eq!(w, 0, "stream 1's event at {c} (< {end}) waited");
        } else {
            assert!(w >= HOLD, "stream 1's event at {c} (>= {end}) did not wait");
        }
    }
}

/// Passes everything through and counts the waits where the sink can see them.
struct Counting<'a> {
    inner: &'a mut OnePacketThenQuiet,
    waits: std::rc::Rc<std::cell::Cell<u64>>,
}

impl PacketSource for Counting<'_> {
    fn generation(&self) -> u64 {
        self.inner.generation()
    }
    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>> {
        self.inner.traces()
    }
    fn streams(&self) -> Vec<LiveStream> {
        self.inner.streams()
    }
    fn poll(&mut self, stream: usize) -> Result<Poll, SourceError> {
        self.inner.poll(stream)
    }
    fn wait(&mut self) -> Result<(), SourceError> {
        self.inner.wait()?;
        self.waits.set(self.inner.waits);
        Ok(())
    }
    fn finished(&mut self) -> Result<bool, SourceError> {
        self.inner.finished()
    }
}

/// Two traces whose streams hold the very same packets: every event of one has a twin of the
/// same time in the other.
struct Twins {
    traces: Vec<Option<Arc<LiveTrace>>>,
    packets: Vec<VecDeque<(u64, Vec<u8>)>>,
}

impl PacketSource for Twins {
    fn generation(&self) -> u64 {
        0
    }
    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>> {
        self.traces.clone()
    }
    fn streams(&self) -> Vec<LiveStream> {
        (0..self.packets.len())
            .map(|i| LiveStream {
                trace: i,
                id: i as u64,
                name: format!("trace{i}/channel0_0"),
            })
            .collect()
    }
    fn poll(&mut self, stream: usize) -> Result<Poll, SourceError> {
        Ok(match self.packets[stream].pop_front() {
            Some((_, p)) => Poll::Packet(p),
            None => Poll::End,
        })
    }
    fn wait(&mut self) -> Result<(), SourceError> {
        panic!("every packet is there at once: nothing to wait for")
    }
    fn finished(&mut self) -> Result<bool, SourceError> {
        Ok(true)
    }
}

/// Events of the same time in two traces come out as babeltrace2's `lttng-live` orders them
/// (`common_muxing_compare_messages`: the smaller trace UUID, bytes compared, first), not in
/// the source's stream order: here the source lists the trace with the larger UUID first.
/// (A kernel and a user-space trace of one live session tie now and then; the UUIDs are
/// random, so the order differed from babeltrace2's in about half of those runs.)
#[test]
fn events_of_the_same_time_in_two_traces_come_out_by_trace_uuid() {
    let dir = std::env::temp_dir().join(format!("rttng-reader-live-ties-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::write_many_packets(&dir, 1, 300);
    let one = Scripted::new(&dir, 1);
    std::fs::remove_dir_all(&dir).unwrap();
    let with_uuid = |name: &str, first_byte: u8| {
        let mut t = parse(&one.md_text);
        t.name = name.to_string();
        let mut uuid = [7u8; 16];
        uuid[0] = first_byte;
        t.metadata.trace.uuid = Some(uuid);
        Some(Arc::new(t))
    };
    let mut src = Twins {
        traces: vec![with_uuid("larger", 0xfa), with_uuid("smaller", 0xef)],
        packets: vec![one.packets[0].clone(), one.packets[0].clone()],
    };
    let mut order = Vec::new();
    live::run(&mut src, &mut |m| {
        if let LiveMessage::Event { trace, view, .. } = m {
            order.push((view.clock.map(|c| c.cycles), trace.name.clone()));
        }
        true
    })
    .unwrap();
    assert_eq!(order.len(), 600);
    for pair in order.chunks(2) {
        assert_eq!(pair[0].0, pair[1].0, "twins of one time: {pair:?}");
        assert_eq!(
            (pair[0].1.as_str(), pair[1].1.as_str()),
            ("smaller", "larger"),
            "at cycles {:?}",
            pair[0].0
        );
    }
}
