//! The discarded events/packets warnings babeltrace2's pretty sink writes to stderr
//! (`print_discarded_elements_msg` in `print.c`); see spec §8. Returns the text; the caller
//! writes it. Times are always wall-clock times, even with `--clock-cycles`, as in babeltrace2.

use rttng_ctf::event::ClockSnapshot;

use crate::color;
use crate::fmt::{push_u64, push_uuid};
use crate::options::PrettyOptions;
use crate::printer::WallClock;

/// What was discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardKind {
    Events,
    Packets,
}

/// The full warning line (with its `\n`). `count` is `None` when unknown ("may have
/// discarded"); without both `begin` and `end` the range reads "(unknown time range)".
#[allow(clippy::too_many_arguments)]
pub fn discarded_warning(
    opts: &PrettyOptions,
    kind: DiscardKind,
    count: Option<u64>,
    begin: Option<ClockSnapshot<'_>>,
    end: Option<ClockSnapshot<'_>>,
    trace_name: &str,
    trace_uuid: Option<[u8; 16]>,
    stream_path: &str,
    stream_class_id: u64,
    stream_id: u64,
) -> String {
    let mut out = Vec::with_capacity(256);
    let elem: &[u8] = match kind {
        DiscardKind::Events => b"event",
        DiscardKind::Packets => b"packet",
    };
    if opts.color {
        out.extend_from_slice(color::WARNING);
    }
    out.extend_from_slice(b"WARNING");
    if opts.color {
        out.extend_from_slice(color::RESET);
        out.extend_from_slice(color::YELLOW);
    }
    out.extend_from_slice(b": ");
    match count {
        None => {
            out.extend_from_slice(b"Tracer may have discarded ");
            out.extend_from_slice(elem);
            out.push(b's');
        }
        Some(n) => {
            out.extend_from_slice(b"Tracer discarded ");
            push_u64(&mut out, n);
            out.push(b' ');
            out.extend_from_slice(elem);
            if n != 1 {
                out.push(b's');
            }
        }
    }
    out.push(b' ');
    match (begin, end) {
        (Some(b), Some(e)) => {
            let mut wall = WallClock::new(opts);
            out.extend_from_slice(b"between [");
            wall.push(opts, b.ns_from_origin, &mut out);
            out.extend_from_slice(b"] and [");
            wall.push(opts, e.ns_from_origin, &mut out);
            out.push(b']');
        }
        _ => out.extend_from_slice(b"(unknown time range)"),
    }
    out.extend_from_slice(b" in trace \"");
    out.extend_from_slice(trace_name.as_bytes());
    out.extend_from_slice(b"\" ");
    match trace_uuid {
        Some(u) => {
            out.extend_from_slice(b"(UUID: ");
            push_uuid(&mut out, &u);
            out.extend_from_slice(b") ");
        }
        None => out.extend_from_slice(b"(no UUID) "),
    }
    out.extend_from_slice(b"within stream \"");
    out.extend_from_slice(stream_path.as_bytes());
    out.extend_from_slice(b"\" (stream class ID: ");
    push_u64(&mut out, stream_class_id);
    out.extend_from_slice(b", stream ID: ");
    push_u64(&mut out, stream_id);
    out.extend_from_slice(b").");
    if opts.color {
        out.extend_from_slice(color::RESET);
    }
    out.push(b'\n');
    String::from_utf8_lossy(&out).into_owned()
}
