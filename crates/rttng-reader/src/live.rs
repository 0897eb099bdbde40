//! Merging streams whose packets arrive while they are read: the reader of live sessions.
//!
//! A [`PacketSource`] hands out each stream's packets as owned bytes, or says that the stream
//! is quiet until a time (an LTTng live "inactivity beacon"), has nothing yet, or has ended.
//! [`run`] decodes the packets with `rttng_ctf`'s [`StreamDecoder`], the file reader's decoder,
//! and hands out events in timestamp order with babeltrace2's `lttng-live` rule: an event is
//! handed out only once every other stream has either a later event or a beacon past it, so a
//! stream with nothing yet holds everything back until the source has news.
//!
//! Metadata grows while a session runs. The source replaces a trace's [`LiveTrace`] and bumps
//! its generation; the merge then rebuilds its decoders over the new metadata and re-enters
//! each stream's current packet, skipping the events already handed out (decoding is
//! deterministic, so the clock and every value come out the same).
//!
//! Deliberately no network and no waiting policy here: both are the source's.

use std::sync::Arc;

use rttng_ctf::decode::{DecodeError, StreamDecoder};
use rttng_ctf::event::{ClockSnapshot, EventView};
use rttng_ctf::ir::Metadata;

use crate::loss::{losses, PrevPacket};
use crate::merge::DiscardKind;

/// One trace of a live session: its metadata as known so far.
pub struct LiveTrace {
    /// babeltrace2's trace name (shown only with `-f trace`); live traces have none.
    pub name: String,
    pub metadata: Metadata,
}

/// What a source has for a stream.
pub enum Poll {
    /// The stream's next packet: `packet_size` bytes (content, then padding the source may
    /// have zero-filled).
    Packet(Vec<u8>),
    /// No packet; the stream has no event before `timestamp_end` (cycles of the clock of
    /// stream class `stream_class_id`).
    Inactive {
        stream_class_id: u64,
        timestamp_end: u64,
    },
    /// Nothing yet: ask again after [`PacketSource::wait`].
    Pending,
    /// The stream is closed and every packet was handed out.
    End,
}

pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// A stream as the merge knows it.
#[derive(Clone, Debug)]
pub struct LiveStream {
    /// Index in [`PacketSource::traces`].
    pub trace: usize,
    /// The source's id for it (the relay's viewer stream id).
    pub id: u64,
    /// A name for messages (`ust/uid/0/64-bit/chan_0`).
    pub name: String,
}

pub trait PacketSource {
    /// Changes whenever a trace's metadata or the list of streams changed.
    fn generation(&self) -> u64;
    /// The traces; indexes are stable, an entry is replaced when its metadata grows. A trace
    /// whose metadata is not known yet is `None`, and none of its streams is listed.
    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>>;
    /// The streams; the list only grows.
    fn streams(&self) -> Vec<LiveStream>;
    /// The next packet (or state) of stream `stream` (index in [`Self::streams`]).
    fn poll(&mut self, stream: usize) -> Result<Poll, SourceError>;
    /// Some stream has nothing yet: wait a little (and look for news).
    fn wait(&mut self) -> Result<(), SourceError>;
    /// Every known stream has ended: `true` when the session is over, else (after waiting a
    /// little) `false` and new streams may have appeared.
    fn finished(&mut self) -> Result<bool, SourceError>;
}

/// A report of lost events or packets in one live stream.
pub struct LiveDiscarded<'a> {
    pub kind: DiscardKind,
    /// `None`: the tracer may have discarded some, count unknown.
    pub count: Option<u64>,
    pub begin: Option<ClockSnapshot<'a>>,
    pub end: Option<ClockSnapshot<'a>>,
    pub trace: &'a LiveTrace,
    pub stream: &'a LiveStream,
    pub stream_class_id: u64,
}

pub enum LiveMessage<'a> {
    Event {
        trace: &'a LiveTrace,
        stream: &'a LiveStream,
        view: EventView<'a>,
    },
    Discarded(LiveDiscarded<'a>),
}

#[derive(Debug)]
pub enum LiveError {
    Source(SourceError),
    Decode { stream: String, source: DecodeError },
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Source(e) => write!(f, "{e}"),
            LiveError::Decode { stream, source } => write!(f, "stream {stream}: {source}"),
        }
    }
}

/// The message already says the cause: no `source()`, so that error chains do not repeat it
/// (a caller looking for a particular cause matches [`LiveError::Source`]).
impl std::error::Error for LiveError {}

/// What the merge keeps of a stream across generations (no borrow of any metadata).
#[derive(Default)]
struct StreamState {
    packet: Option<Vec<u8>>,
    /// The packet was not entered yet (its losses are not reported yet).
    fresh: bool,
    /// Events of the current packet already handed out.
    events_done: u64,
    /// A beacon not yet consumed: (stream class id, cycles).
    inactive: Option<(u64, u64)>,
    /// Cycles of the last beacon consumed: the same beacon again means "nothing new".
    last_inactivity: Option<u64>,
    /// The current packet's `timestamp_end`: (stream class id, cycles). Once its last event
    /// is handed out, it stands as a beacon (the stream has nothing before it), as the packet
    /// end message does in babeltrace2: the other streams' events up to it go out without
    /// waiting for this stream's next index, which would cost a whole live period.
    packet_end: Option<(u64, u64)>,
    /// `inactive` is the end of the last packet, not the source's beacon: it releases only
    /// the events strictly before it (the next packet may begin with an event at that very
    /// time), and it is not a beacon the source could repeat.
    inactive_is_packet_end: bool,
    prev: PrevPacket,
    ended: bool,
}

impl StreamState {
    fn needs_data(&self) -> bool {
        !self.ended && self.packet.is_none() && self.inactive.is_none()
    }
}

/// Hands every message of the source's streams to `sink`, in timestamp order, until the
/// session is over or `sink` returns `false`.
pub fn run(
    src: &mut dyn PacketSource,
    sink: &mut dyn FnMut(&LiveMessage<'_>) -> bool,
) -> Result<(), LiveError> {
    let mut states: Vec<StreamState> = Vec::new();
    loop {
        let generation = src.generation();
        let traces = src.traces();
        let streams = src.streams();
        if let Some(s) = streams
            .iter()
            .find(|s| !matches!(traces.get(s.trace), Some(Some(_))))
        {
            return Err(LiveError::Source(
                format!("stream {} has no metadata (packet source bug)", s.name).into(),
            ));
        }
        states.resize_with(streams.len(), StreamState::default);
        match run_generation(src, generation, &traces, &streams, &mut states, sink)? {
            Outcome::Changed => continue,
            Outcome::Done => return Ok(()),
        }
    }
}

enum Outcome {
    /// Traces or streams changed: rebuild the decoders.
    Changed,
    /// The session is over, or the sink said stop.
    Done,
}

fn decode_error(streams: &[LiveStream], i: usize, source: DecodeError) -> LiveError {
    LiveError::Decode {
        stream: streams[i].name.clone(),
        source,
    }
}

fn run_generation<'g>(
    src: &mut dyn PacketSource,
    generation: u64,
    traces: &'g [Option<Arc<LiveTrace>>],
    streams: &'g [LiveStream],
    states: &mut [StreamState],
    sink: &mut dyn FnMut(&LiveMessage<'_>) -> bool,
) -> Result<Outcome, LiveError> {
    let mut decoders: Vec<Option<StreamDecoder<'g>>> = (0..streams.len()).map(|_| None).collect();
    let tie = tie_ranks(traces, streams);
    // Re-enter the packets being read.
    for i in 0..streams.len() {
        if states[i].packet.is_some() && !enter(i, traces, streams, states, &mut decoders, sink)? {
            return Ok(Outcome::Done);
        }
    }
    loop {
        let mut pending = false;
        for i in 0..streams.len() {
            while states[i].needs_data() {
                let poll = src.poll(i).map_err(LiveError::Source)?;
                let st = &mut states[i];
                match poll {
                    Poll::Packet(bytes) => {
                        st.packet = Some(bytes);
                        st.fresh = true;
                        st.events_done = 0;
                    }
                    Poll::Inactive {
                        stream_class_id,
                        timestamp_end,
                    } => {
                        if st.last_inactivity == Some(timestamp_end) {
                            pending = true;
                            break;
                        }
                        st.inactive = Some((stream_class_id, timestamp_end));
                        st.inactive_is_packet_end = false;
                    }
                    Poll::Pending => {
                        pending = true;
                        break;
                    }
                    Poll::End => st.ended = true,
                }
                if src.generation() != generation {
                    return Ok(Outcome::Changed);
                }
                if states[i].packet.is_some()
                    && !enter(i, traces, streams, states, &mut decoders, sink)?
                {
                    return Ok(Outcome::Done);
                }
            }
        }
        if pending {
            src.wait().map_err(LiveError::Source)?;
            if src.generation() != generation {
                return Ok(Outcome::Changed);
            }
            continue;
        }
        // The earliest head: (ns from origin, rank, tie rank, stream index); at the same time
        // a packet's end goes before events (rank 0), and a source's beacon after them (rank
        // 2); streams of different traces as babeltrace2 orders them (`tie_ranks`).
        let mut best: Option<(i64, u8, usize, usize)> = None;
        for i in 0..streams.len() {
            let st = &states[i];
            let key = if st.packet.is_some() {
                let d = decoders[i]
                    .as_ref()
                    .expect("entered packets have a decoder");
                (
                    d.ns_from_origin(d.clock_value()).unwrap_or(i64::MIN),
                    1,
                    tie[i],
                    i,
                )
            } else if let Some((class_id, cycles)) = st.inactive {
                (
                    beacon_ns(&trace_of(traces, streams, i).metadata, class_id, cycles),
                    if st.inactive_is_packet_end { 0 } else { 2 },
                    tie[i],
                    i,
                )
            } else {
                continue;
            };
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        let Some((_, rank, _, i)) = best else {
            if src.finished().map_err(LiveError::Source)? {
                return Ok(Outcome::Done);
            }
            if src.generation() != generation {
                return Ok(Outcome::Changed);
            }
            continue;
        };
        if rank != 1 {
            let st = &mut states[i];
            let beacon = st.inactive.take().map(|(_, c)| c);
            if !std::mem::take(&mut st.inactive_is_packet_end) {
                st.last_inactivity = beacon;
            }
            continue;
        }
        let trace = trace_of(traces, streams, i);
        let data = states[i].packet.as_deref().expect("a packet is open");
        let d = decoders[i]
            .as_mut()
            .expect("entered packets have a decoder");
        let go_on = sink(&LiveMessage::Event {
            trace,
            stream: &streams[i],
            view: d.event_view(data),
        });
        if !go_on {
            return Ok(Outcome::Done);
        }
        states[i].events_done += 1;
        let more = d
            .next_event(data)
            .map_err(|e| decode_error(streams, i, e))?;
        if !more {
            packet_done(&mut states[i]);
        }
    }
}

/// Each stream's rank among events of the same time, as babeltrace2's `lttng-live` breaks
/// such ties (`common_muxing_compare_messages`): the trace with the smaller UUID (bytes
/// compared) first, a trace with a UUID before one without, then the trace name; within a
/// trace, the source's stream order.
fn tie_ranks(traces: &[Option<Arc<LiveTrace>>], streams: &[LiveStream]) -> Vec<usize> {
    let key = |i: usize| {
        let t = trace_of(traces, streams, i);
        let uuid = t.metadata.trace.uuid;
        (uuid.is_none(), uuid.unwrap_or_default(), t.name.as_str(), i)
    };
    let mut order: Vec<usize> = (0..streams.len()).collect();
    order.sort_by_key(|&i| key(i));
    let mut rank = vec![0; streams.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    rank
}

/// The stream's packet has no more events: its end stands as a beacon.
fn packet_done(st: &mut StreamState) {
    st.packet = None;
    if let Some(end) = st.packet_end.take() {
        st.inactive = Some(end);
        st.inactive_is_packet_end = true;
    }
}

/// The trace of stream `i` (checked present by [`run`]).
fn trace_of<'g>(
    traces: &'g [Option<Arc<LiveTrace>>],
    streams: &[LiveStream],
    i: usize,
) -> &'g LiveTrace {
    traces[streams[i].trace]
        .as_deref()
        .expect("run checked every stream's trace")
}

/// Enters stream `i`'s packet: decodes its header and context, reports losses the first time,
/// skips the events already handed out and decodes the next one. A packet without (more)
/// events is dropped. Returns the sink's verdict.
fn enter<'g>(
    i: usize,
    traces: &'g [Option<Arc<LiveTrace>>],
    streams: &'g [LiveStream],
    states: &mut [StreamState],
    decoders: &mut [Option<StreamDecoder<'g>>],
    sink: &mut dyn FnMut(&LiveMessage<'_>) -> bool,
) -> Result<bool, LiveError> {
    let trace = trace_of(traces, streams, i);
    let d = decoders[i].get_or_insert_with(|| StreamDecoder::new(&trace.metadata));
    let st = &mut states[i];
    let data = st.packet.as_deref().expect("called with a packet");
    let info = d
        .begin_packet(data, 0)
        .map_err(|e| decode_error(streams, i, e))?
        .clone();
    st.packet_end = info.timestamp_end.map(|c| (info.stream_class_id, c));
    if st.fresh {
        st.fresh = false;
        let prev = st.prev;
        st.prev = PrevPacket::of(&info);
        for loss in losses(&prev, &info) {
            let msg = LiveMessage::Discarded(LiveDiscarded {
                kind: loss.kind,
                count: loss.count,
                begin: loss.begin_cycles.and_then(|c| d.clock_snapshot(c)),
                end: loss.end_cycles.and_then(|c| d.clock_snapshot(c)),
                trace,
                stream: &streams[i],
                stream_class_id: info.stream_class_id,
            });
            if !sink(&msg) {
                return Ok(false);
            }
        }
    }
    let mut more = true;
    for _ in 0..st.events_done {
        more = d
            .skip_event(data)
            .map_err(|e| decode_error(streams, i, e))?;
        if !more {
            break;
        }
    }
    if more {
        more = d
            .next_event(data)
            .map_err(|e| decode_error(streams, i, e))?;
    }
    if !more {
        packet_done(st);
    }
    Ok(true)
}

/// A beacon's time in ns from origin (the clock of its stream class; without one, the
/// beacon orders first, like a clockless stream's events).
fn beacon_ns(md: &Metadata, stream_class_id: u64, cycles: u64) -> i64 {
    md.streams
        .iter()
        .find(|sc| sc.id == stream_class_id)
        .and_then(|sc| rttng_ctf::roles::stream_default_clock(md, sc))
        .map_or(i64::MIN, |c| rttng_ctf::decode::ns_from_origin(c, cycles))
}
