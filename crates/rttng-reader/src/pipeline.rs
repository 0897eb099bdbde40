//! The merge on one thread, the consumer of its messages on another.
//!
//! A producer thread decodes and merges, its cursors decoding each event's values straight
//! into the batch being filled (events refer to packet bytes in the mapped files, which
//! outlive both threads); the calling thread
//! turns each batch entry back into an [`EventView`] and hands it to the sink. Decoding and,
//! say, text formatting then overlap on two cores. Messages arrive in exactly the order
//! [`crate::TraceSet::for_each_message`] gives.

use std::sync::mpsc;

use rttng_ctf::event::{ClockSnapshot, EventView, Scope, Val};
use rttng_ctf::ir::{EventClass, FieldClass, StreamClass};

use crate::discover::Trace;
use crate::merge::{merge_with, Arena, Cursor, Discarded, Message, Step};
use crate::{ReadError, TraceSet};

/// Events per batch: large enough to amortise the hand-over, small enough to stay in cache.
const BATCH_EVENTS: usize = 8192;
/// Batches in flight (being filled, queued, being consumed).
const BATCHES_IN_FLIGHT: usize = 3;

/// A scope's values, as a range `start..end` of the batch's value buffer (its class comes
/// from the event's stream or event class).
type Range = (u32, u32);

enum Item<'a> {
    Event {
        trace: &'a Trace,
        stream_class: &'a StreamClass,
        event_class: &'a EventClass,
        bytes: &'a [u8],
        clock: Option<ClockSnapshot<'a>>,
        /// Packet context, stream event context, event context, payload (the event header
        /// is not decoded: see `StreamDecoder::next_event_into`).
        ranges: [Range; 4],
    },
    Lost(Discarded<'a>),
}

struct Batch<'a> {
    items: Vec<Item<'a>>,
    values: Vec<Val>,
    /// The clock of the last event before this batch that had one (for the first delta).
    previous_clock: Option<ClockSnapshot<'a>>,
    /// A decode error after the items: the end of the stream of batches.
    error: Option<ReadError>,
}

impl<'a> Batch<'a> {
    fn new() -> Self {
        Batch {
            items: Vec::with_capacity(BATCH_EVENTS + 16),
            values: Vec::with_capacity(BATCH_EVENTS * 16),
            previous_clock: None,
            error: None,
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.values.clear();
        self.previous_clock = None;
        self.error = None;
    }

    /// Hands each message to `f`, in order, until it returns `false`; returns whether all were.
    fn for_each(&self, f: &mut dyn FnMut(&Message<'_>) -> bool) -> bool {
        for item in &self.items {
            let keep_going = match item {
                Item::Event {
                    trace,
                    stream_class,
                    event_class,
                    bytes,
                    clock,
                    ranges,
                } => {
                    let values = &self.values[..];
                    let view = EventView {
                        metadata: &trace.metadata,
                        stream_class,
                        event_class,
                        bytes,
                        clock: *clock,
                        packet_context: scope_of(&stream_class.packet_context, ranges[0], values),
                        event_header: None,
                        stream_event_context: scope_of(
                            &stream_class.event_context,
                            ranges[1],
                            values,
                        ),
                        event_context: scope_of(&event_class.context, ranges[2], values),
                        payload: scope_of(&event_class.fields, ranges[3], values),
                    };
                    f(&Message::Event { trace, view })
                }
                Item::Lost(d) => f(&Message::Discarded(*d)),
            };
            if !keep_going {
                return false;
            }
        }
        true
    }
}

/// The producer's side of the batches: the [`Arena`] the cursors decode into.
struct Filler<'a, 'f> {
    batch: Batch<'a>,
    fresh: &'f mut dyn FnMut() -> Batch<'a>,
    send: &'f mut dyn FnMut(Batch<'a>) -> bool,
    /// The clock of the last event handed out that had one.
    last_clock: Option<ClockSnapshot<'a>>,
    /// Per cursor: the packet (serial) whose context values are in this batch, and where.
    packet_context: Vec<(u64, u32, u32)>,
    stopped: bool,
}

/// No packet's context in this batch yet (packet serials start at 1).
const NO_PACKET: u64 = 0;

impl Arena for Filler<'_, '_> {
    fn values(&mut self) -> &mut Vec<Val> {
        &mut self.batch.values
    }

    fn full(&self) -> bool {
        self.batch.items.len() >= BATCH_EVENTS
    }

    fn rotate(&mut self, carry: &mut dyn FnMut(&[Val], &mut Vec<Val>)) -> bool {
        let mut next = (self.fresh)();
        next.previous_clock = self.last_clock;
        carry(&self.batch.values, &mut next.values);
        self.packet_context.fill((NO_PACKET, 0, 0));
        let full = std::mem::replace(&mut self.batch, next);
        if !(self.send)(full) {
            self.stopped = true;
            return false;
        }
        true
    }
}

impl<'a> Filler<'a, '_> {
    /// Adds the event the cursor holds (its values are already in the batch).
    fn push_event(&mut self, c: &Cursor<'a>) {
        let d = &c.decoder;
        let sc = d.stream_class().expect("an event was decoded");
        let ec = d.event_class().expect("an event was decoded");
        let clock = d.clock_snapshot(d.clock_value());
        // The packet context's values, once per packet per batch.
        if self.packet_context.len() <= c.index {
            self.packet_context.resize(c.index + 1, (NO_PACKET, 0, 0));
        }
        let (serial, mut pc_start, mut pc_end) = self.packet_context[c.index];
        if serial != c.packet_serial {
            pc_start = self.batch.values.len() as u32;
            self.batch
                .values
                .extend_from_slice(d.packet_context_values());
            pc_end = self.batch.values.len() as u32;
            self.packet_context[c.index] = (c.packet_serial, pc_start, pc_end);
        }
        let r = c.ranges;
        self.batch.items.push(Item::Event {
            trace: c.trace,
            stream_class: sc,
            event_class: ec,
            // The packet bytes with the files' lifetime, not the cursor's.
            bytes: &c.data()[c.packet_offset..],
            clock,
            ranges: [
                (pc_start, pc_end),
                r.stream_event_context,
                r.event_context,
                r.payload,
            ],
        });
        if clock.is_some() {
            self.last_clock = clock;
        }
    }
}

/// Decodes and merges, handing out full batches (numbered from 0) through `send`, which
/// returns `false` to stop. A decode error travels in the last batch.
fn produce<'a>(
    set: &'a TraceSet,
    fresh: &mut dyn FnMut() -> Batch<'a>,
    send: &mut dyn FnMut(Batch<'a>) -> bool,
) {
    let batch = fresh();
    let mut filler = Filler {
        batch,
        fresh,
        send,
        last_clock: None,
        packet_context: Vec::new(),
        stopped: false,
    };
    let result = merge_with(set, Some(&mut filler), &mut |step, filler| {
        let Some(filler) = filler else { return false };
        match step {
            Step::Event(c) => filler.push_event(c),
            Step::Lost(d) => filler.batch.items.push(Item::Lost(d)),
        }
        true
    });
    if filler.stopped {
        return;
    }
    if let Err(e) = result {
        filler.batch.error = Some(e);
    }
    (filler.send)(filler.batch);
}

/// One batch of messages, as a parallel consumer sees it.
pub struct BatchView<'b, 'a> {
    batch: &'b Batch<'a>,
}

impl BatchView<'_, '_> {
    /// Hands each message of the batch to `f`, in order, until it returns `false`.
    pub fn for_each(&self, f: &mut dyn FnMut(&Message<'_>) -> bool) -> bool {
        self.batch.for_each(f)
    }

    /// The clock of the last event (with a clock) before this batch.
    pub fn previous_clock(&self) -> Option<ClockSnapshot<'_>> {
        self.batch.previous_clock
    }
}

/// Decoding on one thread, `work` on batches of messages on `workers` threads, and `emit` of
/// the results on the calling thread, in the messages' order. Returns the first decode error
/// after emitting everything before it.
pub fn run_parallel<W, O: Send>(
    set: &TraceSet,
    workers: usize,
    init: &(dyn Fn() -> W + Sync),
    work: &(dyn Fn(&mut W, &BatchView<'_, '_>) -> O + Sync),
    emit: &mut dyn FnMut(O) -> bool,
) -> Result<(), ReadError> {
    let workers = workers.max(1);
    let (batch_tx, batch_rx) = mpsc::sync_channel::<(u64, Batch<'_>)>(workers * 2);
    let batch_rx = std::sync::Mutex::new(batch_rx);
    let (out_tx, out_rx) =
        mpsc::sync_channel::<(u64, O, Option<ReadError>, Batch<'_>)>(workers * 2);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Batch<'_>>(workers * 4);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (batch_rx, stop) = (&batch_rx, &stop);
    std::thread::scope(move |scope| {
        scope.spawn(move || {
            let mut seq = 0u64;
            produce(
                set,
                &mut || empty_rx.try_recv().unwrap_or_else(|_| Batch::new()),
                &mut |b| {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return false;
                    }
                    seq += 1;
                    batch_tx.send((seq - 1, b)).is_ok()
                },
            );
        });
        for _ in 0..workers {
            let out_tx = out_tx.clone();
            scope.spawn(move || {
                let mut w = init();
                loop {
                    let next = batch_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((seq, mut batch)) = next else { break };
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        // Drain so the decoder is never blocked on a full channel.
                        continue;
                    }
                    // The messages before a decode error are worked on too; the error
                    // follows them.
                    let error = batch.error.take();
                    let out = work(&mut w, &BatchView { batch: &batch });
                    if out_tx.send((seq, out, error, batch)).is_err() {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        drop(out_tx);
        let mut next = 0u64;
        let mut pending = std::collections::BTreeMap::new();
        let result = (|| {
            for (seq, out, error, batch) in &out_rx {
                pending.insert(seq, (out, error, batch));
                while let Some((out, error, mut batch)) = pending.remove(&next) {
                    next += 1;
                    batch.clear();
                    let _ = empty_tx.try_send(batch);
                    if !emit(out) {
                        return Ok(());
                    }
                    if let Some(e) = error {
                        return Err(e);
                    }
                }
            }
            Ok(())
        })();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(out_rx);
        drop(empty_tx);
        result
    })
}

/// Like [`crate::merge::run`], with decoding on a second thread.
pub fn run(set: &TraceSet, f: &mut dyn FnMut(&Message<'_>) -> bool) -> Result<(), ReadError> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Batch<'_>>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::sync_channel::<Batch<'_>>(BATCHES_IN_FLIGHT);
        scope.spawn(move || {
            produce(
                set,
                &mut || empty_rx.try_recv().unwrap_or_else(|_| Batch::new()),
                &mut |b| full_tx.send(b).is_ok(),
            );
        });
        for mut batch in full_rx {
            let error = batch.error.take();
            if !batch.for_each(f) {
                // Dropping the receiver stops the producer at its next hand-over.
                return Ok(());
            }
            if let Some(e) = error {
                return Err(e);
            }
            batch.clear();
            let _ = empty_tx.try_send(batch);
        }
        Ok(())
    })
}

/// The scope of class `class` (absent when the class is) with the values `start..end`.
fn scope_of<'v>(
    class: &'v Option<FieldClass>,
    (start, end): Range,
    values: &'v [Val],
) -> Option<Scope<'v>> {
    class.as_ref().map(|class| Scope {
        class,
        values: values.get(start as usize..end as usize).unwrap_or(&[]),
    })
}
