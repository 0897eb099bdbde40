//! Walking streams packet by packet and merging them in timestamp order.
//!
//! Each stream has a cursor that always holds its next decoded event. The merge repeatedly takes
//! the cursor with the earliest event (ties: trace order, then stream order), hands the event
//! out, and advances that cursor. Crossing into a new packet compares its `events_discarded` and
//! `packet_seq_num` with the previous packet's and reports losses as babeltrace2 does.
//!
//! Like babeltrace2's muxer, the merge refuses a stream whose time goes back: each packet's
//! `timestamp_begin`, each event and each packet's `timestamp_end` must be no earlier than the
//! stream's message before it. A stream that fails (time going back, or a record that cannot be
//! decoded) stops the merge where babeltrace2 stops: once every message up to the stream's last
//! good one has been handed out (its time is the failure's place in the merge order).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rttng_ctf::decode::{EventRanges, StreamDecoder};
use rttng_ctf::event::{ClockSnapshot, EventView, Val};

use crate::discover::{Stream, Trace};
use crate::loss::{losses, PrevPacket};
use crate::{ReadError, TraceSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardKind {
    Events,
    Packets,
}

/// A report of lost events or packets in one stream.
#[derive(Clone, Copy)]
pub struct Discarded<'a> {
    pub kind: DiscardKind,
    /// `None`: the tracer may have discarded some, count unknown.
    pub count: Option<u64>,
    pub begin: Option<ClockSnapshot<'a>>,
    pub end: Option<ClockSnapshot<'a>>,
    pub trace: &'a Trace,
    pub stream: &'a Stream,
}

pub enum Message<'a> {
    Event {
        trace: &'a Trace,
        view: EventView<'a>,
    },
    Discarded(Discarded<'a>),
}

pub(crate) struct Cursor<'a> {
    pub(crate) trace: &'a Trace,
    stream: &'a Stream,
    pub(crate) decoder: StreamDecoder<'a>,
    file_index: usize,
    /// Offset of the current packet in the current file.
    pub(crate) packet_offset: usize,
    /// Offset of the next packet, valid once a packet is open.
    next_packet_offset: usize,
    /// Ordinal of the current packet in the current file (to find it in the file's index).
    packet_ordinal: usize,
    in_packet: bool,
    prev: PrevPacket,
    /// Position among the merge's cursors.
    pub(crate) index: usize,
    /// Counts the packets entered: tells a consumer when the packet context changed.
    pub(crate) packet_serial: u64,
    /// With an [`Arena`]: where the next event's values are in its buffer.
    pub(crate) ranges: EventRanges,
    /// Time (ns from origin) of the stream's last message: packet beginning, event or packet
    /// end. `i64::MIN` before the first, and in streams without a clock.
    last_ns: i64,
}

impl<'a> Cursor<'a> {
    fn new(trace: &'a Trace, stream: &'a Stream, index: usize) -> Self {
        Cursor {
            index,
            packet_serial: 0,
            ranges: EventRanges::default(),
            trace,
            stream,
            decoder: StreamDecoder::new(&trace.metadata),
            file_index: 0,
            packet_offset: 0,
            next_packet_offset: 0,
            packet_ordinal: 0,
            in_packet: false,
            prev: PrevPacket::default(),
            last_ns: i64::MIN,
        }
    }

    pub(crate) fn data(&self) -> &'a [u8] {
        self.stream.files[self.file_index].bytes()
    }

    fn path_error(&self, source: rttng_ctf::decode::DecodeError) -> ReadError {
        ReadError::Decode {
            path: self.stream.files[self.file_index.min(self.stream.files.len() - 1)]
                .path
                .clone(),
            source,
        }
    }

    /// Moves the stream's time to `cycles` (when the stream has a clock), refusing a time
    /// before its previous message's, as babeltrace2's muxer does.
    #[inline]
    fn time_to(&mut self, cycles: u64, what: &'static str) -> Result<(), ReadError> {
        let Some(ns) = self.decoder.ns_from_origin(cycles) else {
            return Ok(());
        };
        if ns < self.last_ns {
            return Err(ReadError::TimeGoesBack {
                path: self.stream.files[self.file_index.min(self.stream.files.len() - 1)]
                    .path
                    .clone(),
                packet_offset: self.packet_offset as u64,
                what,
                ns,
                previous_ns: self.last_ns,
            });
        }
        self.last_ns = ns;
        Ok(())
    }

    fn snapshot(&self, cycles: Option<u64>) -> Option<ClockSnapshot<'a>> {
        self.decoder.clock_snapshot(cycles?)
    }

    /// Advances to the next event, decoding its values into `values` when given (see
    /// [`StreamDecoder::next_event_into`]; their place is then in `self.ranges`), else into
    /// the decoder's own buffers. Loss reports found on the way go to `lost`. Returns false at
    /// the end of the stream.
    fn advance(
        &mut self,
        lost: &mut Vec<Discarded<'a>>,
        mut values: Option<&mut Vec<Val>>,
    ) -> Result<bool, ReadError> {
        loop {
            if self.in_packet {
                let data = &self.data()[self.packet_offset..];
                let next = match values.as_deref_mut() {
                    Some(v) => self.decoder.next_event_into(data, v),
                    None => self.decoder.next_event(data),
                };
                if let (Ok(true), Some(_)) = (&next, &values) {
                    self.ranges = self.decoder.event_ranges();
                }
                match next {
                    Ok(true) => {
                        self.time_to(self.decoder.clock_value(), "an event's timestamp")?;
                        return Ok(true);
                    }
                    Ok(false) => {
                        let p = self.decoder.packet();
                        if let Some(end) = p.timestamp_end {
                            let q = self.trace.quirks;
                            let crashed = q.lttng_crash
                                && end == 0
                                && p.timestamp_begin.is_some_and(|b| b != 0);
                            // (The decoder's clock is already at the packet's end.)
                            let after = q.lttng_event_after_packet
                                && self.decoder.ns_from_origin(end) < Some(self.last_ns);
                            if !crashed && !after {
                                self.time_to(end, "the packet's timestamp_end")?;
                            }
                        }
                        self.in_packet = false;
                        self.packet_offset = self.next_packet_offset;
                        self.stream.files[self.file_index]
                            .map
                            .release_before(self.packet_offset);
                    }
                    Err(e) => return Err(self.path_error(e)),
                }
            }
            if self.file_index >= self.stream.files.len() {
                return Ok(false);
            }
            let file_len = self.data().len();
            if self.packet_offset >= file_len {
                self.file_index += 1;
                self.packet_offset = 0;
                self.packet_ordinal = 0;
                continue;
            }
            let data = &self.data()[self.packet_offset..];
            let info = match self.decoder.begin_packet(data, self.packet_offset as u64) {
                Ok(info) => info.clone(),
                Err(e) => return Err(self.path_error(e)),
            };
            let file = &self.stream.files[self.file_index];
            let indexed = file
                .indexed_packets
                .as_ref()
                .and_then(|p| p.get(self.packet_ordinal))
                .copied();
            self.next_packet_offset = match indexed {
                Some((start, size)) if start as usize == self.packet_offset && size > 0 => {
                    (start + size) as usize
                }
                _ => self.packet_offset + (info.packet_bits / 8) as usize,
            };
            self.packet_ordinal += 1;
            self.packet_serial += 1;
            self.in_packet = true;
            self.report_losses(&info, lost);
            if let (Some(begin), false) = (
                info.timestamp_begin,
                self.trace.quirks.barectf_event_before_packet,
            ) {
                self.time_to(begin, "the packet's timestamp_begin")?;
            }
            self.prev = PrevPacket::of(&info);
        }
    }

    fn report_losses(&self, info: &rttng_ctf::decode::PacketInfo, lost: &mut Vec<Discarded<'a>>) {
        lost.extend(losses(&self.prev, info).map(|l| Discarded {
            kind: l.kind,
            count: l.count,
            begin: self.snapshot(l.begin_cycles),
            end: self.snapshot(l.end_cycles),
            trace: self.trace,
            stream: self.stream,
        }));
    }

    /// Merge key of the current event: nanoseconds from origin, or the minimum when the stream
    /// has no clock (such streams keep their relative order through the tie-breakers).
    #[inline]
    fn key(&self) -> i64 {
        // The event just decoded moved the stream's time to its own.
        self.last_ns
    }

    #[inline]
    pub(crate) fn view(&self) -> EventView<'_> {
        self.decoder.event_view(&self.data()[self.packet_offset..])
    }
}

/// Up to this many streams, the earliest is found by a linear scan, cheaper than a heap.
const LINEAR_MERGE_MAX_STREAMS: usize = 16;

/// The cursors that have a next event, by merge key `(time, cursor index)`.
enum Queue {
    Linear(Vec<(i64, usize)>),
    Heap(BinaryHeap<Reverse<(i64, usize)>>),
}

impl Queue {
    fn new(streams: usize) -> Queue {
        if streams <= LINEAR_MERGE_MAX_STREAMS {
            Queue::Linear(Vec::with_capacity(streams))
        } else {
            Queue::Heap(BinaryHeap::with_capacity(streams))
        }
    }

    #[inline]
    fn push(&mut self, key: (i64, usize)) {
        match self {
            Queue::Linear(v) => v.push(key),
            Queue::Heap(h) => h.push(Reverse(key)),
        }
    }

    /// Removes and returns the cursor index with the smallest key.
    #[inline]
    fn pop(&mut self) -> Option<usize> {
        match self {
            Queue::Linear(v) => {
                let (pos, _) = v.iter().enumerate().min_by_key(|(_, k)| **k)?;
                Some(v.swap_remove(pos).1)
            }
            Queue::Heap(h) => h.pop().map(|Reverse((_, i))| i),
        }
    }
}

pub fn run(set: &TraceSet, f: &mut dyn FnMut(&Message<'_>) -> bool) -> Result<(), ReadError> {
    merge(set, &mut |step| match step {
        Step::Event(c) => f(&Message::Event {
            trace: c.trace,
            view: c.view(),
        }),
        Step::Lost(d) => f(&Message::Discarded(d)),
    })
}

/// What the merge loop hands out next: the cursor holding the next event, or a loss report.
pub(crate) enum Step<'c, 'a> {
    Event(&'c Cursor<'a>),
    Lost(Discarded<'a>),
}

/// One buffer that the cursors decode all events' values into, for a consumer that keeps
/// many events (see `crate::pipeline`): no copy of each event's values out of the decoder.
pub(crate) trait Arena {
    fn values(&mut self) -> &mut Vec<Val>;
    /// Whether to hand the buffer off now (between two events).
    fn full(&self) -> bool;
    /// Hands the buffer off and starts a fresh one; `carry` moves the values of the events
    /// still waiting in cursors from the old buffer to the new. Returns false to stop.
    fn rotate(&mut self, carry: &mut dyn FnMut(&[Val], &mut Vec<Val>)) -> bool;
}

/// The merge loop: hands each event (as the cursor holding it) and each loss report to `sink`,
/// in order, until it returns `false` or the streams end.
pub(crate) fn merge<'a>(
    set: &'a TraceSet,
    sink: &mut dyn FnMut(Step<'_, 'a>) -> bool,
) -> Result<(), ReadError> {
    merge_with(set, None::<&mut NoArena>, &mut |step, _| sink(step))
}

/// The [`Arena`] type of a merge without one: each decoder keeps its event's values (read
/// through [`Cursor::view`]). Never instantiated.
enum NoArena {}
impl Arena for NoArena {
    fn values(&mut self) -> &mut Vec<Val> {
        match *self {}
    }
    fn full(&self) -> bool {
        match *self {}
    }
    fn rotate(&mut self, _: &mut dyn FnMut(&[Val], &mut Vec<Val>)) -> bool {
        match *self {}
    }
}

/// [`merge`], decoding values into `arena` when given; `sink` gets the arena too.
pub(crate) fn merge_with<'a, A: Arena>(
    set: &'a TraceSet,
    mut arena: Option<&mut A>,
    sink: &mut dyn FnMut(Step<'_, 'a>, Option<&mut A>) -> bool,
) -> Result<(), ReadError> {
    let mut cursors: Vec<Cursor<'a>> = set
        .traces
        .iter()
        .flat_map(|t| t.streams.iter().map(move |s| (t, s)))
        .enumerate()
        .map(|(i, (t, s))| Cursor::new(t, s, i))
        .collect();
    let mut queue = Queue::new(cursors.len());
    // Cursors holding a next event (whose values, with an arena, are in it).
    let mut waiting = vec![false; cursors.len()];
    let mut lost = Vec::new();
    // A stream that failed waits in the queue, at its last good message's time, with its error.
    let mut failed: Vec<Option<ReadError>> = Vec::new();
    for (i, c) in cursors.iter_mut().enumerate() {
        let more = match c.advance(&mut lost, arena.as_deref_mut().map(A::values)) {
            Ok(more) => more,
            Err(e) => fail(&mut failed, &mut queue, c, e),
        };
        for d in lost.drain(..) {
            if !sink(Step::Lost(d), arena.as_deref_mut()) {
                return Ok(());
            }
        }
        if more {
            queue.push((c.key(), i));
        }
        waiting[i] = more;
    }
    while let Some(i) = queue.pop() {
        if let Some(e) = failed.get_mut(i).and_then(Option::take) {
            return Err(e);
        }
        let c = &mut cursors[i];
        if !sink(Step::Event(c), arena.as_deref_mut()) {
            return Ok(());
        }
        let more = match c.advance(&mut lost, arena.as_deref_mut().map(A::values)) {
            Ok(more) => more,
            Err(e) => fail(&mut failed, &mut queue, c, e),
        };
        waiting[i] = more;
        for d in lost.drain(..) {
            if !sink(Step::Lost(d), arena.as_deref_mut()) {
                return Ok(());
            }
        }
        if more {
            queue.push((c.key(), i));
        }
        if let Some(a) = arena.as_deref_mut() {
            if a.full() {
                let go_on = a.rotate(&mut |old, new| {
                    for (c, _) in cursors.iter_mut().zip(&waiting).filter(|(_, w)| **w) {
                        carry(&mut c.ranges, old, new);
                    }
                });
                if !go_on {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Queues the error of cursor `c` at the time of its stream's last good message; returns that
/// it has no next event.
#[cold]
fn fail(
    failed: &mut Vec<Option<ReadError>>,
    queue: &mut Queue,
    c: &Cursor<'_>,
    e: ReadError,
) -> bool {
    if failed.len() <= c.index {
        failed.resize_with(c.index + 1, || None);
    }
    failed[c.index] = Some(e);
    queue.push((c.last_ns, c.index));
    false
}

/// Moves one event's values (its scopes are contiguous, in order) from `old` to the end of
/// `new`, and its ranges with them.
fn carry(r: &mut EventRanges, old: &[Val], new: &mut Vec<Val>) {
    let (start, end) = (r.event_header.0, r.payload.1);
    let at = new.len() as u32;
    new.extend_from_slice(old.get(start as usize..end as usize).unwrap_or(&[]));
    let shift = |(s, e): (u32, u32)| (s - start + at, e - start + at);
    *r = EventRanges {
        event_header: shift(r.event_header),
        stream_event_context: shift(r.stream_event_context),
        event_context: shift(r.event_context),
        payload: shift(r.payload),
    };
}

/// Decodes every event of every stream, streams in parallel, and counts them per name.
pub fn count(set: &TraceSet) -> Result<Vec<(String, u64)>, ReadError> {
    let jobs: Vec<(&Trace, &Stream)> = set
        .traces
        .iter()
        .flat_map(|t| t.streams.iter().map(move |s| (t, s)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<Vec<(String, u64)>, ReadError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(trace, stream)) = jobs.get(j) else {
                            break;
                        };
                        let md = &trace.metadata;
                        // Per stream class (by index), per event class (by index).
                        let mut counts: Vec<Vec<u64>> = md
                            .streams
                            .iter()
                            .map(|sc| vec![0; sc.events.len()])
                            .collect();
                        let mut decoder = StreamDecoder::new(md);
                        for file in &stream.files {
                            let data = file.bytes();
                            let error = |source| ReadError::Decode {
                                path: file.path.clone(),
                                source,
                            };
                            let (mut offset, mut ordinal) = (0usize, 0usize);
                            while offset < data.len() {
                                let packet = &data[offset..];
                                let info =
                                    decoder.begin_packet(packet, offset as u64).map_err(error)?;
                                let indexed = file
                                    .indexed_packets
                                    .as_ref()
                                    .and_then(|p| p.get(ordinal))
                                    .copied();
                                let next_offset = match indexed {
                                    Some((start, size)) if start as usize == offset && size > 0 => {
                                        (start + size) as usize
                                    }
                                    _ => offset + (info.packet_bits / 8) as usize,
                                };
                                let sc = decoder.stream_class_index();
                                decoder
                                    .count_packet_events(packet, &mut counts[sc])
                                    .map_err(error)?;
                                file.map.release_before(next_offset);
                                offset = next_offset;
                                ordinal += 1;
                            }
                        }
                        for (sc, per_class) in md.streams.iter().zip(&counts) {
                            for (ec, n) in sc.events.iter().zip(per_class) {
                                if *n > 0 {
                                    out.push((ec.name.clone(), *n));
                                }
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("counting thread panicked"))
            .collect()
    });
    let mut total: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for r in results {
        for (name, n) in r? {
            *total.entry(name).or_default() += n;
        }
    }
    Ok(total.into_iter().collect())
}
