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
const BATCH_EVENTS: usize = 2048;
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
}

impl<'a> Batch<'a> {
    fn new() -> Self {
        Batch { items: Vec::with_capacity(BATCH_EVENTS + 16), values: Vec::with_capacity(BATCH_EVENTS * 16) }
    }

    fn push_event(&mut self, trace: &'a Trace, view: &EventView<'_>, bytes: &'a [u8], stream_class: &'a StreamClass, event_class: &'a EventClass, clock: Option<ClockSnapshot<'a>>) {
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
        self.items.push(Item::Event { trace, stream_class, event_class, bytes, clock, scopes });
    }
}

/// Like [`crate::merge::run`], with decoding on a second thread.
pub fn run(set: &TraceSet, f: &mut dyn FnMut(&Message<'_>) -> bool) -> Result<(), ReadError> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Result<Batch<'_>, ReadError>>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::sync_channel::<Batch<'_>>(BATCHES_IN_FLIGHT);
        for _ in 0..BATCHES_IN_FLIGHT - 1 {
            let _ = empty_tx.send(Batch::new());
        }
        scope.spawn(move || {
            let mut batch = Batch::new();
            let result = merge(set, &mut |step| {
                match step {
                    Step::Event(c) => {
                        let view = c.view();
                        // The packet bytes with the files' lifetime, not the cursor's.
                        let bytes = &c.data()[c.packet_offset..];
                        // The same snapshot, with the clock borrowed from the metadata.
                        let clock = match (c.decoder.stream_clock(), view.clock) {
                            (Some(clock), Some(v)) => Some(ClockSnapshot { clock, cycles: v.cycles, ns_from_origin: v.ns_from_origin }),
                            _ => None,
                        };
                        let sc = c.decoder.stream_class().expect("an event was decoded");
                        let ec = c.decoder.event_class().expect("an event was decoded");
                        batch.push_event(c.trace, &view, bytes, sc, ec, clock);
                    }
                    Step::Lost(d) => batch.items.push(Item::Lost(d)),
                }
                if batch.items.len() < BATCH_EVENTS {
                    return true;
                }
                let next = empty_rx.recv().unwrap_or_else(|_| Batch::new());
                full_tx.send(Ok(std::mem::replace(&mut batch, next))).is_ok()
            });
            let _ = full_tx.send(Ok(batch));
            if let Err(e) = result {
                let _ = full_tx.send(Err(e));
            }
        });
        for batch in full_rx {
            let mut batch = batch?;
            for item in &batch.items {
                let keep_going = match item {
                    Item::Event { trace, stream_class, event_class, bytes, clock, scopes } => {
                        let values = &batch.values[..];
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
                    // Dropping the receiver stops the producer at its next hand-over.
                    return Ok(());
                }
            }
            batch.items.clear();
            batch.values.clear();
            let _ = empty_tx.send(batch);
        }
        Ok(())
    })
}

fn scope_of<'v>(r: ScopeRef<'v>, values: &'v [Val]) -> Option<Scope<'v>> {
    r.map(|(class, start, end)| Scope { class, values: &values[start as usize..end as usize] })
}
