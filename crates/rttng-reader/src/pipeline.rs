//! The merge on one thread, the consumer of its messages on another.
//!
//! A producer thread decodes and merges, copying each event's values into batches (events
//! refer to packet bytes in the mapped files, which outlive both threads); the calling thread
//! turns each batch entry back into an [`EventView`] and hands it to the sink. Decoding and,
//! say, text formatting then overlap on two cores. Messages arrive in exactly the order
//! [`crate::TraceSet::for_each_message`] gives.

use std::sync::mpsc;

use rttng_ctf::event::{ClockSnapshot, EventView, Scope, Val};
use rttng_ctf::ir::{EventClass, FieldClass, StreamClass};

use crate::discover::Trace;
use crate::merge::{merge, Discarded, Message, Step};
use crate::{ReadError, TraceSet};

/// Events per batch: large enough to amortise the hand-over, small enough to stay in cache.
const BATCH_EVENTS: usize = 8192;
/// Batches in flight (being filled, queued, being consumed).
const BATCHES_IN_FLIGHT: usize = 3;

/// A scope's class and its values, as a range of the batch's value buffer.
type ScopeRef<'a> = Option<(&'a FieldClass, u32, u32)>;

enum Item<'a> {
    Event {
        trace: &'a Trace,
        stream_class: &'a StreamClass,
        event_class: &'a EventClass,
        bytes: &'a [u8],
        clock: Option<ClockSnapshot<'a>>,
        /// packet context, event header, stream event context, event context, payload
        scopes: [ScopeRef<'a>; 5],
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
                    scopes,
                } => {
                    let values = &self.values[..];
                    let view = EventView {
                        metadata: &trace.metadata,
                        stream_class,
                        event_class,
                        bytes,
                        clock: *clock,
                        packet_context: scope_of(scopes[0], values),
                        event_header: scope_of(scopes[1], values),
                        stream_event_context: scope_of(scopes[2], values),
                        event_context: scope_of(scopes[3], values),
                        payload: scope_of(scopes[4], values),
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

    fn push_event(
        &mut self,
        trace: &'a Trace,
        view: &EventView<'_>,
        bytes: &'a [u8],
        stream_class: &'a StreamClass,
        event_class: &'a EventClass,
        clock: Option<ClockSnapshot<'a>>,
    ) {
        let mut scope = |s: Option<Scope<'_>>, class: Option<&'a FieldClass>| -> ScopeRef<'a> {
            let (s, class) = (s?, class?);
            let start = self.values.len() as u32;
            self.values.extend_from_slice(s.values);
            Some((class, start, self.values.len() as u32))
        };
        let ec = event_class;
        let sc = stream_class;
        let scopes = [
            scope(view.packet_context, sc.packet_context.as_ref()),
            scope(view.event_header, sc.event_header.as_ref()),
            scope(view.stream_event_context, sc.event_context.as_ref()),
            scope(view.event_context, ec.context.as_ref()),
            scope(view.payload, ec.fields.as_ref()),
        ];
        self.items.push(Item::Event {
            trace,
            stream_class,
            event_class,
            bytes,
            clock,
            scopes,
        });
    }
}

/// Decodes and merges, handing out full batches (numbered from 0) through `send`, which
/// returns `false` to stop. A decode error travels in the last batch.
fn produce<'a>(
    set: &'a TraceSet,
    fresh: &mut dyn FnMut() -> Batch<'a>,
    send: &mut dyn FnMut(Batch<'a>) -> bool,
) {
    let mut batch = fresh();
    let mut last_clock: Option<ClockSnapshot<'a>> = None;
    let mut stopped = false;
    let result = merge(set, &mut |step| {
        match step {
            Step::Event(c) => {
                let view = c.view();
                // The packet bytes with the files' lifetime, not the cursor's.
                let bytes = &c.data()[c.packet_offset..];
                // The same snapshot, with the clock borrowed from the metadata.
                let clock = match (c.decoder.stream_clock(), view.clock) {
                    (Some(clock), Some(v)) => Some(ClockSnapshot {
                        clock,
                        cycles: v.cycles,
                        ns_from_origin: v.ns_from_origin,
                    }),
                    _ => None,
                };
                let sc = c.decoder.stream_class().expect("an event was decoded");
                let ec = c.decoder.event_class().expect("an event was decoded");
                batch.push_event(c.trace, &view, bytes, sc, ec, clock);
                if clock.is_some() {
                    last_clock = clock;
                }
            }
            Step::Lost(d) => batch.items.push(Item::Lost(d)),
        }
        if batch.items.len() < BATCH_EVENTS {
            return true;
        }
        let mut next = fresh();
        next.previous_clock = last_clock;
        if !send(std::mem::replace(&mut batch, next)) {
            stopped = true;
            return false;
        }
        true
    });
    if stopped {
        return;
    }
    if let Err(e) = result {
        batch.error = Some(e);
    }
    send(batch);
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
        mpsc::sync_channel::<(u64, Result<O, ReadError>, Batch<'_>)>(workers * 2);
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
                    let out = match batch.error.take() {
                        Some(e) => Err(e),
                        None => Ok(work(&mut w, &BatchView { batch: &batch })),
                    };
                    if out_tx.send((seq, out, batch)).is_err() {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        drop(out_tx);
        let mut next = 0u64;
        let mut pending = std::collections::BTreeMap::new();
        let result = (|| {
            for (seq, out, batch) in &out_rx {
                pending.insert(seq, (out, batch));
                while let Some((out, mut batch)) = pending.remove(&next) {
                    next += 1;
                    batch.clear();
                    let _ = empty_tx.try_send(batch);
                    if !emit(out?) {
                        return Ok(());
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

fn scope_of<'v>(r: ScopeRef<'v>, values: &'v [Val]) -> Option<Scope<'v>> {
    r.map(|(class, start, end)| Scope {
        class,
        values: &values[start as usize..end as usize],
    })
}
