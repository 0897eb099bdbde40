//! Loss accounting between consecutive packets of one stream, as babeltrace2 reports it: a
//! rise of `events_discarded` is discarded events, a gap in `packet_seq_num` is discarded
//! packets, each with the time range it covers. Shared by the file merge (`merge.rs`) and the
//! live merge (`live.rs`). Not here: how a report is carried to the printer (each merge has its
//! own message type).

use rttng_ctf::decode::PacketInfo;

use crate::merge::DiscardKind;

/// The facts of the previous packet that loss reports compare against.
#[derive(Clone, Copy, Default)]
pub(crate) struct PrevPacket {
    seen: bool,
    events_discarded: Option<u64>,
    packet_seq_num: Option<u64>,
    timestamp_end: Option<u64>,
}

impl PrevPacket {
    /// The packet just begun becomes the previous one.
    pub(crate) fn of(info: &PacketInfo) -> PrevPacket {
        PrevPacket {
            seen: true,
            events_discarded: info.events_discarded,
            packet_seq_num: info.packet_seq_num,
            timestamp_end: info.timestamp_end,
        }
    }
}

/// One loss: what, how many (`None`: the tracer may have discarded some, count unknown), and
/// the range it covers in clock cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loss {
    pub(crate) kind: DiscardKind,
    pub(crate) count: Option<u64>,
    pub(crate) begin_cycles: Option<u64>,
    pub(crate) end_cycles: Option<u64>,
}

/// The losses between `prev` and the packet `info` begins, discarded events first (at most
/// one of each kind; no allocation).
pub(crate) fn losses(prev: &PrevPacket, info: &PacketInfo) -> impl Iterator<Item = Loss> {
    let mut events = None;
    if let Some(cur) = info.events_discarded {
        if !prev.seen {
            if cur != 0 {
                events = Some(Loss {
                    kind: DiscardKind::Events,
                    count: None,
                    begin_cycles: info.timestamp_begin,
                    end_cycles: info.timestamp_end,
                });
            }
        } else if let Some(before) = prev.events_discarded {
            if cur > before {
                events = Some(Loss {
                    kind: DiscardKind::Events,
                    count: Some(cur - before),
                    begin_cycles: prev.timestamp_end,
                    end_cycles: info.timestamp_end,
                });
            }
        }
    }
    let mut packets = None;
    if let (true, Some(before), Some(cur)) = (prev.seen, prev.packet_seq_num, info.packet_seq_num) {
        if cur > before.saturating_add(1) {
            packets = Some(Loss {
                kind: DiscardKind::Packets,
                count: Some(cur - before - 1),
                begin_cycles: prev.timestamp_end,
                end_cycles: info.timestamp_begin,
            });
        }
    }
    events.into_iter().chain(packets)
}
