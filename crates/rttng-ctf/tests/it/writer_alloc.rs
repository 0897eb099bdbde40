//! Appending an event must not allocate once the packet buffer has grown (the writer generates
//! 10-million-event benchmark traces). A counting global allocator, per thread so that other
//! tests running in parallel do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rttng_ctf::encode::Value;
use rttng_ctf::lttng::EventHeaderKind;
use rttng_ctf::writer::samples::golden_metadata;
use rttng_ctf::writer::{PacketOpen, PacketSize, StreamWriter};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn appending_events_does_not_allocate_after_warm_up() {
    let md = golden_metadata(EventHeaderKind::Compact);
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    let mut payload = Value::Struct(vec![Value::SInt(0), Value::Str(String::with_capacity(16))]);
    // Warm-up packet: the packet buffer and scratch grow to their working size.
    for round in 0..2u64 {
        let begin = round * 1_000_000;
        w.open_packet(&PacketOpen {
            timestamp_begin: begin,
            packet_seq_num: round,
            ..PacketOpen::default()
        })
        .unwrap();
        let before = allocations();
        for i in 0..1000u64 {
            if let Value::Struct(m) = &mut payload {
                m[0] = Value::SInt(i as i64);
                if let Value::Str(s) = &mut m[1] {
                    s.clear();
                    s.push_str(if i % 2 == 0 { "even" } else { "odd" });
                }
            }
            w.append_event(0, begin + i * 100, &payload).unwrap();
        }
        let during = allocations() - before;
        if round == 0 {
            // The counter works: the cold writer grows its packet buffer.
            assert!(during > 0, "a cold writer grows its buffer");
        } else {
            assert_eq!(
                during, 0,
                "allocations while appending 1000 events to a warm writer"
            );
        }
        w.close_packet(begin + 200_000, PacketSize::Bytes(64 * 1024))
            .unwrap();
    }
    assert_eq!(w.event_count(), 2000);
}
