//! The packet decoder: CTF 1.8 data stream bytes to packet facts and event values.
//!
//! One [`StreamDecoder`] walks the packets of one data stream, in order, and the event records in
//! each packet. It keeps the state babeltrace2 keeps per stream: the current default clock value
//! (with wrap reconstruction of truncated timestamps) and the values of fields that sequence
//! lengths and variant tags refer to. It decodes from a byte slice the caller provides (an mmap
//! of the file, a network buffer); it never reads files itself, and allocates only while its
//! value buffers grow.
//!
//! Every read is bounds-checked against the packet's content size, and every loop is bounded,
//! so damaged input gives a [`DecodeError`] with its byte offset, never a panic.

mod plan;

use crate::event::{ClockSnapshot, EventView, Scope, Val};
use crate::ir::{ByteOrder, ClockClass, EventClass, FieldClass, IntRole, Metadata, StreamClass};

/// CTF packet header magic number.
pub const PACKET_MAGIC: u64 = 0xC1FC_1FC1;
/// At most this many values in one scope of one event: bounds the work a damaged length can cause.
pub const MAX_VALUES_PER_SCOPE: usize = 1 << 22;
/// Nesting depth bound while decoding (the parser bounds metadata nesting more tightly).
pub const MAX_DECODE_DEPTH: u32 = 256;

/// What is wrong with a packet, and where (absolute byte offset in the data stream file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A field runs past the end of the packet content (or of the file, for headers).
    Truncated {
        offset: u64,
        needed_bits: u64,
        available_bits: u64,
    },
    BadMagic {
        offset: u64,
        found: u64,
    },
    UnknownStreamClass {
        offset: u64,
        id: u64,
    },
    /// The packet header has no `stream_id` and the trace has several stream classes.
    NoStreamClassId {
        offset: u64,
    },
    UnknownEventClass {
        offset: u64,
        stream_class_id: u64,
        id: u64,
    },
    /// The event header has no `id` and the stream class has several event classes.
    NoEventClassId {
        offset: u64,
    },
    /// `packet_size` exceeds what the file holds from this packet on.
    PacketBeyondFile {
        offset: u64,
        packet_bits: u64,
        available_bits: u64,
    },
    /// `content_size` exceeds `packet_size`, or is smaller than the packet's own header.
    BadContentSize {
        offset: u64,
        content_bits: u64,
        packet_bits: u64,
    },
    /// `packet_size` is not a whole number of bytes, or is zero.
    BadPacketSize {
        offset: u64,
        packet_bits: u64,
    },
    UnterminatedString {
        offset: u64,
    },
    /// A sequence or array holds more elements than the packet can.
    LengthTooLarge {
        offset: u64,
        length: u64,
    },
    /// A variant's tag value selects no option.
    NoVariantOption {
        offset: u64,
        tag: i128,
    },
    UnsupportedFloat {
        offset: u64,
        size_bits: u32,
    },
    TooManyValues {
        offset: u64,
    },
    TooDeep {
        offset: u64,
    },
}

impl DecodeError {
    /// The absolute byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        use DecodeError::*;
        match *self {
            Truncated { offset, .. }
            | BadMagic { offset, .. }
            | UnknownStreamClass { offset, .. }
            | NoStreamClassId { offset }
            | UnknownEventClass { offset, .. }
            | NoEventClassId { offset }
            | PacketBeyondFile { offset, .. }
            | BadContentSize { offset, .. }
            | BadPacketSize { offset, .. }
            | UnterminatedString { offset }
            | LengthTooLarge { offset, .. }
            | NoVariantOption { offset, .. }
            | UnsupportedFloat { offset, .. }
            | TooManyValues { offset }
            | TooDeep { offset } => offset,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use DecodeError::*;
        match self {
            Truncated { offset, needed_bits, available_bits } => write!(
                f,
                "at byte {offset}: field needs {needed_bits} bits but only {available_bits} remain in the packet"
            ),
            BadMagic { offset, found } => write!(f, "at byte {offset}: bad packet magic {found:#x} (expected 0xc1fc1fc1)"),
            UnknownStreamClass { offset, id } => write!(f, "at byte {offset}: unknown stream class id {id}"),
            NoStreamClassId { offset } => {
                write!(f, "at byte {offset}: packet header has no stream_id and the trace has several stream classes")
            }
            UnknownEventClass { offset, stream_class_id, id } => {
                write!(f, "at byte {offset}: unknown event class id {id} in stream class {stream_class_id}")
            }
            NoEventClassId { offset } => {
                write!(f, "at byte {offset}: event header has no id and the stream class has several event classes")
            }
            PacketBeyondFile { offset, packet_bits, available_bits } => write!(
                f,
                "at byte {offset}: packet size {packet_bits} bits exceeds the {available_bits} bits left in the file"
            ),
            BadContentSize { offset, content_bits, packet_bits } => {
                write!(f, "at byte {offset}: bad content size {content_bits} bits (packet size {packet_bits} bits)")
            }
            BadPacketSize { offset, packet_bits } => write!(f, "at byte {offset}: bad packet size {packet_bits} bits"),
            UnterminatedString { offset } => write!(f, "at byte {offset}: string is not terminated within the packet"),
            LengthTooLarge { offset, length } => {
                write!(f, "at byte {offset}: length {length} does not fit in the packet")
            }
            NoVariantOption { offset, tag } => write!(f, "at byte {offset}: variant tag value {tag} selects no option"),
            UnsupportedFloat { offset, size_bits } => {
                write!(f, "at byte {offset}: unsupported {size_bits}-bit floating point number")
            }
            TooManyValues { offset } => write!(f, "at byte {offset}: too many values in one event"),
            TooDeep { offset } => write!(f, "at byte {offset}: fields nested too deeply"),
        }
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

/// Facts about the current packet, from its header and context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    /// Byte offset of the packet in its file.
    pub file_offset: u64,
    pub packet_bits: u64,
    pub content_bits: u64,
    pub stream_class_id: u64,
    pub stream_instance_id: Option<u64>,
    pub timestamp_begin: Option<u64>,
    pub timestamp_end: Option<u64>,
    /// Cumulative count, as written.
    pub events_discarded: Option<u64>,
    pub packet_seq_num: Option<u64>,
    /// Bit offset of the first event record.
    pub events_begin_bits: u64,
}

/// Per-stream decoding state that fields update through their roles.
#[derive(Debug, Default)]
struct State {
    slots: Vec<u64>,
    clock: u64,
    magic: Option<u64>,
    stream_class_id: Option<u64>,
    stream_instance_id: Option<u64>,
    ts_begin: Option<u64>,
    ts_end: Option<u64>,
    content_bits: Option<u64>,
    packet_bits: Option<u64>,
    events_discarded: Option<u64>,
    packet_seq_num: Option<u64>,
    event_id: Option<u64>,
    /// Length of the value buffer before the scope being decoded (scopes decoded into an
    /// outside buffer start past earlier events' values): the per-scope limit counts from here.
    values_base: usize,
}

impl State {
    #[inline]
    fn on_role(&mut self, role: IntRole, raw: u64, size_bits: u32) {
        match role {
            IntRole::PacketMagic => self.magic = Some(raw),
            IntRole::StreamClassId => self.stream_class_id = Some(raw),
            IntRole::StreamInstanceId => self.stream_instance_id = Some(raw),
            IntRole::PacketBeginTimestamp => self.ts_begin = Some(raw),
            IntRole::PacketEndTimestamp => self.ts_end = Some(raw),
            IntRole::PacketContentSize => self.content_bits = Some(raw),
            IntRole::PacketTotalSize => self.packet_bits = Some(raw),
            IntRole::DiscardedEventCounter => self.events_discarded = Some(raw),
            IntRole::PacketSequenceNumber => self.packet_seq_num = Some(raw),
            IntRole::EventClassId => self.event_id = Some(raw),
            IntRole::DefaultClockTimestamp => self.update_clock(raw, size_bits),
        }
    }

    /// babeltrace2's rule for an N-bit clock value: a smaller low part means the low bits wrapped.
    #[inline]
    fn update_clock(&mut self, value: u64, size_bits: u32) {
        if size_bits >= 64 {
            self.clock = value;
            return;
        }
        let mask = (1u64 << size_bits) - 1;
        if value < self.clock & mask {
            self.clock = self.clock.wrapping_add(1u64 << size_bits);
        }
        self.clock = (self.clock & !mask) | value;
    }
}

/// A bounds-checked bit cursor over one packet. Positions count bits from the packet start.
struct Bits<'a> {
    buf: &'a [u8],
    pos: u64,
    end: u64,
    /// Byte offset of `buf[0]` in its file, for error messages.
    base: u64,
}

impl<'a> Bits<'a> {
    fn offset(&self) -> u64 {
        self.base + self.pos / 8
    }

    #[inline]
    fn align(&mut self, align_bits: u32) -> Result<()> {
        let a = u64::from(align_bits.max(1));
        // CTF alignments are powers of two (the parser checks), so a mask does it.
        let aligned = if a.is_power_of_two() {
            (self.pos + a - 1) & !(a - 1)
        } else {
            self.pos.div_ceil(a) * a
        };
        if aligned > self.end {
            return Err(self.truncated(aligned - self.pos));
        }
        self.pos = aligned;
        Ok(())
    }

    #[inline]
    fn skip(&mut self, bits: u64) -> Result<()> {
        if self.end - self.pos < bits {
            return Err(self.truncated(bits));
        }
        self.pos += bits;
        Ok(())
    }

    fn truncated(&self, needed_bits: u64) -> DecodeError {
        DecodeError::Truncated {
            offset: self.offset(),
            needed_bits,
            available_bits: self.end.saturating_sub(self.pos),
        }
    }

    #[inline(always)]
    fn read_uint(&mut self, size_bits: u32, order: ByteOrder) -> Result<u64> {
        let size = u64::from(size_bits);
        if self.end - self.pos < size {
            return Err(self.truncated(size));
        }
        let start = (self.pos / 8) as usize;
        if self.pos.is_multiple_of(8) && size_bits.is_multiple_of(8) {
            if let Some(window) = self.buf.get(start..start + 8) {
                // Fast path: one unaligned 8-byte load, then keep the field's bytes.
                let w: [u8; 8] = window.try_into().expect("8-byte window");
                self.pos += size;
                return Ok(match order {
                    ByteOrder::Little => u64::from_le_bytes(w) & low_mask(size_bits),
                    ByteOrder::Big => u64::from_be_bytes(w) >> (64 - size_bits),
                });
            }
        }
        let v = self.read_uint_slow(start, size_bits, order);
        self.pos += size;
        Ok(v)
    }

    /// Bit fields, and byte fields within 8 bytes of the buffer's end. The caller checked the
    /// bounds.
    #[cold]
    fn read_uint_slow(&self, start: usize, size_bits: u32, order: ByteOrder) -> u64 {
        let shift = (self.pos % 8) as u32;
        let nbytes = (shift + size_bits).div_ceil(8) as usize;
        let bytes = &self.buf[start..start + nbytes];
        let mask = if size_bits == 64 {
            u128::from(u64::MAX)
        } else {
            (1u128 << size_bits) - 1
        };
        match order {
            ByteOrder::Little => {
                let mut acc = 0u128;
                for (i, b) in bytes.iter().enumerate() {
                    acc |= u128::from(*b) << (8 * i);
                }
                ((acc >> shift) & mask) as u64
            }
            ByteOrder::Big => {
                let mut acc = 0u128;
                for b in bytes {
                    acc = (acc << 8) | u128::from(*b);
                }
                let total = nbytes as u32 * 8;
                ((acc >> (total - shift - size_bits)) & mask) as u64
            }
        }
    }
}

#[inline]
fn low_mask(size_bits: u32) -> u64 {
    if size_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << size_bits) - 1
    }
}

#[inline]
fn sign_extend(raw: u64, size_bits: u32) -> i64 {
    if size_bits >= 64 {
        raw as i64
    } else {
        let s = 64 - size_bits;
        ((raw << s) as i64) >> s
    }
}

/// Nanoseconds from the clock's origin (the Unix epoch for LTTng clocks) for `cycles`, computed
/// exactly as babeltrace2 does: the offset is normalised so that `0 <= offset < freq`, then
/// the seconds, the offset cycles and the value are converted separately, cycles through a
/// `double` when the frequency is not 1 GHz (`bt_util_ns_from_origin_inline`).
pub fn ns_from_origin(clock: &ClockClass, cycles: u64) -> i64 {
    ClockConverter::new(clock).ns_from_origin(cycles)
}

/// [`ns_from_origin`] with the clock's offset converted once, for converting many values.
#[derive(Clone, Copy, Debug)]
pub struct ClockConverter {
    freq: u64,
    /// `offset_s` and the normalised offset cycles, in ns.
    base_ns: i128,
}

impl ClockConverter {
    pub fn new(clock: &ClockClass) -> ClockConverter {
        let freq = clock.freq.max(1);
        let offset_s =
            i128::from(clock.offset_s) + i128::from(clock.offset).div_euclid(i128::from(freq));
        let offset_cycles = i128::from(clock.offset).rem_euclid(i128::from(freq));
        ClockConverter {
            freq,
            base_ns: offset_s * 1_000_000_000
                + i128::from(cycles_to_ns(freq, offset_cycles as u64)),
        }
    }

    #[inline]
    pub fn ns_from_origin(&self, cycles: u64) -> i64 {
        let ns = self.base_ns + i128::from(cycles_to_ns(self.freq, cycles));
        if ns > i128::from(i64::MAX) {
            i64::MAX
        } else if ns < i128::from(i64::MIN) {
            i64::MIN
        } else {
            ns as i64
        }
    }
}

#[inline]
fn cycles_to_ns(freq: u64, cycles: u64) -> u64 {
    if freq == 1_000_000_000 {
        cycles
    } else {
        let ns = 1e9 * cycles as f64 / freq as f64;
        if ns >= u64::MAX as f64 {
            u64::MAX
        } else {
            ns as u64
        }
    }
}

/// One scope compiled both ways: to decode values, and to skip.
struct ScopePlan {
    decode: Box<[plan::Op]>,
    skip: Box<[plan::Op]>,
}

impl ScopePlan {
    fn new(fc: &Option<FieldClass>) -> Option<ScopePlan> {
        fc.as_ref().map(|fc| ScopePlan {
            decode: plan::compile_decode(fc),
            skip: plan::compile_skip(fc),
        })
    }
}

/// Compiled scopes of one stream class.
struct StreamPlan {
    packet_context: Option<ScopePlan>,
    event_header: Option<ScopePlan>,
    event_context: Option<ScopePlan>,
    /// Per event class (same order as `StreamClass::events`): context, payload.
    events: Vec<(Option<ScopePlan>, Option<ScopePlan>)>,
    /// Counting programs (see `plan::compile_count`): the event header; per event class, the
    /// stream event context, event context and payload as one program.
    count_header: Option<Box<[plan::Op]>>,
    count_records: Vec<Box<[plan::Op]>>,
}

/// Decodes the packets of one data stream, in order.
pub struct StreamDecoder<'m> {
    md: &'m Metadata,
    packet_header_plan: Option<ScopePlan>,
    /// By index in `md.streams`.
    plans: Vec<StreamPlan>,
    stream_index: usize,
    event_index: usize,
    /// Default clock of each stream class, by index in `md.streams`.
    default_clocks: Vec<Option<&'m ClockClass>>,
    st: State,
    packet: PacketInfo,
    stream_class: Option<&'m StreamClass>,
    stream_clock: Option<&'m ClockClass>,
    stream_clock_converter: Option<ClockConverter>,
    event_class: Option<&'m EventClass>,
    pos_bits: u64,
    event_begin_bits: u64,
    packet_context: Vec<Val>,
    event_header: Vec<Val>,
    stream_event_context: Vec<Val>,
    event_context: Vec<Val>,
    payload: Vec<Val>,
    ranges: EventRanges,
}

/// The value ranges (`start..end` indices) of one event's scopes in an outside buffer (see
/// [`StreamDecoder::next_event_into`]). A scope the stream or event class lacks has an empty
/// range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventRanges {
    pub event_header: (u32, u32),
    pub stream_event_context: (u32, u32),
    pub event_context: (u32, u32),
    pub payload: (u32, u32),
}

impl<'m> StreamDecoder<'m> {
    /// `md` must have gone through [`crate::roles::prepare`].
    pub fn new(md: &'m Metadata) -> Self {
        let compile = ScopePlan::new;
        StreamDecoder {
            md,
            packet_header_plan: compile(&md.trace.packet_header),
            plans: md
                .streams
                .iter()
                .map(|sc| StreamPlan {
                    packet_context: compile(&sc.packet_context),
                    event_header: compile(&sc.event_header),
                    event_context: compile(&sc.event_context),
                    events: sc
                        .events
                        .iter()
                        .map(|ec| (compile(&ec.context), compile(&ec.fields)))
                        .collect(),
                    count_header: sc.event_header.as_ref().map(|h| plan::compile_count(&[h])),
                    count_records: sc
                        .events
                        .iter()
                        .map(|ec| {
                            let scopes: Vec<&FieldClass> =
                                [&sc.event_context, &ec.context, &ec.fields]
                                    .into_iter()
                                    .flatten()
                                    .collect();
                            plan::compile_count(&scopes)
                        })
                        .collect(),
                })
                .collect(),
            stream_index: 0,
            event_index: 0,
            default_clocks: md
                .streams
                .iter()
                .map(|sc| crate::roles::stream_default_clock(md, sc))
                .collect(),
            st: State {
                slots: vec![0; md.slot_count as usize],
                ..State::default()
            },
            packet: PacketInfo::default(),
            stream_class: None,
            stream_clock: None,
            stream_clock_converter: None,
            event_class: None,
            pos_bits: 0,
            event_begin_bits: 0,
            packet_context: Vec::new(),
            event_header: Vec::new(),
            stream_event_context: Vec::new(),
            event_context: Vec::new(),
            payload: Vec::new(),
            ranges: EventRanges::default(),
        }
    }

    pub fn metadata(&self) -> &'m Metadata {
        self.md
    }

    /// Decodes the header and context of the packet at the start of `data` (which runs to the
    /// end of the file). `file_offset` is where `data` starts in its file.
    pub fn begin_packet(&mut self, data: &[u8], file_offset: u64) -> Result<&PacketInfo> {
        let st = &mut self.st;
        st.magic = None;
        st.stream_class_id = None;
        st.stream_instance_id = None;
        st.ts_begin = None;
        st.ts_end = None;
        st.content_bits = None;
        st.packet_bits = None;
        st.events_discarded = None;
        st.packet_seq_num = None;
        let file_bits = data.len() as u64 * 8;
        let mut r = Bits {
            buf: data,
            pos: 0,
            end: file_bits,
            base: file_offset,
        };
        // Like babeltrace2 2.0, the packet uuid is not compared with the trace uuid: real
        // traces (the corpus's intersection/onestream) carry mismatched ones.
        if let Some(h) = &self.packet_header_plan {
            plan::skip(&h.skip, &mut r, st, 0)?;
            if let Some(m) = st.magic {
                if m != PACKET_MAGIC {
                    return Err(DecodeError::BadMagic {
                        offset: file_offset,
                        found: m,
                    });
                }
            }
        }
        let sc_index = match st.stream_class_id {
            Some(id) => self.md.streams.iter().position(|s| s.id == id).ok_or(
                DecodeError::UnknownStreamClass {
                    offset: file_offset,
                    id,
                },
            )?,
            None if self.md.streams.len() == 1 => 0,
            None => {
                return Err(DecodeError::NoStreamClassId {
                    offset: file_offset,
                })
            }
        };
        let sc = &self.md.streams[sc_index];
        self.stream_index = sc_index;
        self.stream_class = Some(sc);
        self.stream_clock = self.default_clocks[sc_index];
        self.stream_clock_converter = self.stream_clock.map(ClockConverter::new);
        self.packet_context.clear();
        st.values_base = 0;
        if let Some(pc) = &self.plans[sc_index].packet_context {
            plan::decode(&pc.decode, &mut r, st, &mut self.packet_context, 0)?;
        }
        let packet_bits = st.packet_bits.unwrap_or(file_bits);
        let content_bits = st.content_bits.unwrap_or(packet_bits);
        if packet_bits == 0 || !packet_bits.is_multiple_of(8) {
            return Err(DecodeError::BadPacketSize {
                offset: file_offset,
                packet_bits,
            });
        }
        if packet_bits > file_bits {
            return Err(DecodeError::PacketBeyondFile {
                offset: file_offset,
                packet_bits,
                available_bits: file_bits,
            });
        }
        if content_bits > packet_bits || content_bits < r.pos {
            return Err(DecodeError::BadContentSize {
                offset: file_offset,
                content_bits,
                packet_bits,
            });
        }
        if let Some(b) = st.ts_begin {
            st.clock = b;
        }
        self.packet = PacketInfo {
            file_offset,
            packet_bits,
            content_bits,
            stream_class_id: sc.id,
            stream_instance_id: st.stream_instance_id,
            timestamp_begin: st.ts_begin,
            timestamp_end: st.ts_end,
            events_discarded: st.events_discarded,
            packet_seq_num: st.packet_seq_num,
            events_begin_bits: r.pos,
        };
        self.pos_bits = r.pos;
        Ok(&self.packet)
    }

    pub fn packet(&self) -> &PacketInfo {
        &self.packet
    }

    /// A bit cursor over the rest of the current packet's content (`data` is the packet).
    fn packet_cursor<'d>(&self, data: &'d [u8]) -> Bits<'d> {
        Bits {
            buf: data,
            pos: self.pos_bits,
            end: self.packet.content_bits,
            base: self.packet.file_offset,
        }
    }

    /// The values of the current packet's context (empty without one).
    pub fn packet_context_values(&self) -> &[Val] {
        &self.packet_context
    }

    /// Decodes the next event record of the current packet; `data` is the same slice given to
    /// [`Self::begin_packet`]. Returns `false` at the end of the packet content.
    pub fn next_event(&mut self, data: &[u8]) -> Result<bool> {
        self.event::<false>(data, None)
    }

    /// Like [`Self::next_event`], but appends the event's values to `values` instead of the
    /// decoder's own buffers (see [`Self::event_ranges`]): a consumer that keeps many events'
    /// values in one buffer decodes straight into it. The event header's values are not
    /// produced (its range is empty; its id and clock value still apply): viewers never show
    /// them. [`Self::event_view`] does not show such an event.
    pub fn next_event_into(&mut self, data: &[u8], values: &mut Vec<Val>) -> Result<bool> {
        self.event::<false>(data, Some(values))
    }

    /// Where the scopes of the event last decoded by [`Self::next_event_into`] are in the
    /// buffer it was given.
    pub fn event_ranges(&self) -> EventRanges {
        self.ranges
    }

    /// Like [`Self::next_event`], but only walks the record's structure (checking every bound,
    /// applying clock updates, ids, lengths and tags) without producing its values: for
    /// consumers that need the event class and time but not the fields.
    pub fn skip_event(&mut self, data: &[u8]) -> Result<bool> {
        self.event::<true>(data, None)
    }

    /// Walks every remaining event record of the current packet with the skip programs (every
    /// bound checked, no values produced) and adds one to `counts[i]` per event of the `i`th
    /// event class of the packet's stream class (see [`Self::stream_class_index`]); `counts`
    /// must be that long. The counting loop keeps its cursor in registers: for consumers that
    /// need only how many events of each class there are.
    pub fn count_packet_events(&mut self, data: &[u8], counts: &mut [u64]) -> Result<()> {
        let sc = self
            .stream_class
            .expect("begin_packet succeeded before count_packet_events");
        let plan = &self.plans[self.stream_index];
        let mut r = self.packet_cursor(data);
        let st = &mut self.st;
        while r.pos < r.end {
            let begin = r.pos;
            st.event_id = None;
            if let Some(h) = &plan.count_header {
                plan::skip_inline(h, &mut r, st, 0)?;
            }
            let index = class_index(sc, st.event_id, self.packet.file_offset + begin / 8)?;
            if let Some(record) = plan.count_records.get(index) {
                plan::skip_inline(record, &mut r, st, 0)?;
            }
            if r.pos == begin {
                // A record of zero bits would repeat forever: the rest is padding.
                break;
            }
            if let Some(c) = counts.get_mut(index) {
                *c += 1;
            }
        }
        self.pos_bits = self.packet.content_bits;
        if let Some(e) = self.packet.timestamp_end {
            self.st.clock = e;
        }
        Ok(())
    }

    /// Index in `Metadata::streams` of the current packet's stream class.
    pub fn stream_class_index(&self) -> usize {
        self.stream_index
    }

    fn event<const SKIP: bool>(
        &mut self,
        data: &[u8],
        mut outside: Option<&mut Vec<Val>>,
    ) -> Result<bool> {
        loop {
            if self.pos_bits >= self.packet.content_bits {
                if let Some(e) = self.packet.timestamp_end {
                    self.st.clock = e;
                }
                return Ok(false);
            }
            let sc = self
                .stream_class
                .expect("begin_packet succeeded before next_event");
            let plan = &self.plans[self.stream_index];
            let mut r = self.packet_cursor(data);
            self.event_begin_bits = r.pos;
            let st = &mut self.st;
            st.event_id = None;
            // Without an outside buffer, each scope goes to its own vector of the decoder;
            // with one, the scopes are appended to it and their ranges noted.
            let mut ranges = [(0u32, 0u32); 4];
            let event_start = outside.as_ref().map_or(0, |v| v.len());
            let outside_given = outside.is_some();
            let mut scope = |which: usize,
                             p: &Option<ScopePlan>,
                             r: &mut Bits<'_>,
                             st: &mut State,
                             own: &mut Vec<Val>|
             -> Result<()> {
                let out = match outside.as_deref_mut() {
                    Some(v) => v,
                    None => {
                        own.clear();
                        own
                    }
                };
                let start = out.len();
                st.values_base = start;
                let done = match p {
                    Some(p) if SKIP => plan::skip(&p.skip, r, st, 0),
                    Some(p) => plan::decode(&p.decode, r, st, out, 0),
                    None => Ok(()),
                };
                ranges[which] = (start as u32, out.len() as u32);
                done
            };
            if outside_given && !SKIP {
                // Into an outside buffer, the event header only has its effects (id, clock):
                // its values are never shown (babeltrace2 does not print the header). Inline:
                // it runs for every event of a view.
                if let Some(h) = &plan.event_header {
                    plan::skip_inline(&h.skip, &mut r, st, 0)?;
                }
                // An empty range for the header.
                scope(0, &None, &mut r, st, &mut self.event_header)?;
            } else {
                scope(0, &plan.event_header, &mut r, st, &mut self.event_header)?;
            }
            let offset = self.packet.file_offset + self.event_begin_bits / 8;
            let index = class_index(sc, st.event_id, offset)?;
            self.event_index = index;
            self.event_class = Some(&sc.events[index]);
            let (context, payload) = &plan.events[index];
            scope(
                1,
                &plan.event_context,
                &mut r,
                st,
                &mut self.stream_event_context,
            )?;
            scope(2, context, &mut r, st, &mut self.event_context)?;
            scope(3, payload, &mut r, st, &mut self.payload)?;
            if r.pos == self.event_begin_bits {
                // An event record of zero bits would repeat forever: treat the rest as padding.
                if let Some(v) = outside.as_deref_mut() {
                    v.truncate(event_start);
                }
                self.pos_bits = self.packet.content_bits;
                continue;
            }
            self.pos_bits = r.pos;
            self.ranges = EventRanges {
                event_header: ranges[0],
                stream_event_context: ranges[1],
                event_context: ranges[2],
                payload: ranges[3],
            };
            return Ok(true);
        }
    }

    /// The current stream clock value (cycles).
    pub fn clock_value(&self) -> u64 {
        self.st.clock
    }

    /// `cycles` of this stream's clock in ns from its origin, if the stream has a clock.
    #[inline]
    pub fn ns_from_origin(&self, cycles: u64) -> Option<i64> {
        self.stream_clock_converter
            .map(|c| c.ns_from_origin(cycles))
    }

    /// `cycles` of this stream's clock with its time in ns from origin, if the stream has a
    /// clock.
    #[inline]
    pub fn clock_snapshot(&self, cycles: u64) -> Option<ClockSnapshot<'m>> {
        let (clock, converter) = (self.stream_clock?, self.stream_clock_converter?);
        Some(ClockSnapshot {
            clock,
            cycles,
            ns_from_origin: converter.ns_from_origin(cycles),
        })
    }

    /// The clock of this stream's class, if it has one.
    pub fn stream_clock(&self) -> Option<&'m ClockClass> {
        self.stream_clock
    }

    pub fn stream_class(&self) -> Option<&'m StreamClass> {
        self.stream_class
    }

    pub fn event_class(&self) -> Option<&'m EventClass> {
        self.event_class
    }

    /// Byte offset, in its file, of the event last decoded.
    pub fn event_offset(&self) -> u64 {
        self.packet.file_offset + self.event_begin_bits / 8
    }

    /// The event last decoded by [`Self::next_event`]; `data` is the packet slice.
    #[inline]
    pub fn event_view<'s>(&'s self, data: &'s [u8]) -> EventView<'s> {
        let sc = self.stream_class.expect("an event was decoded");
        let ec = self.event_class.expect("an event was decoded");
        let scope = |class: &'s Option<FieldClass>, values: &'s [Val]| {
            class.as_ref().map(|class| Scope { class, values })
        };
        EventView {
            metadata: self.md,
            stream_class: sc,
            event_class: ec,
            bytes: data,
            clock: self.clock_snapshot(self.st.clock),
            packet_context: scope(&sc.packet_context, &self.packet_context),
            event_header: scope(&sc.event_header, &self.event_header),
            stream_event_context: scope(&sc.event_context, &self.stream_event_context),
            event_context: scope(&ec.context, &self.event_context),
            payload: scope(&ec.fields, &self.payload),
        }
    }
}

/// Index in `sc.events` of the class of the event at `offset` whose header gave `event_id`
/// (none: the stream class must have one event class).
fn class_index(sc: &StreamClass, event_id: Option<u64>, offset: u64) -> Result<usize> {
    match event_id {
        Some(id) => event_index(sc, id).ok_or(DecodeError::UnknownEventClass {
            offset,
            stream_class_id: sc.id,
            id,
        }),
        None if sc.events.len() == 1 => Ok(0),
        None => Err(DecodeError::NoEventClassId { offset }),
    }
}

/// Index in `sc.events` of the event class with id `id` (ids are usually dense from 0).
fn event_index(sc: &StreamClass, id: u64) -> Option<usize> {
    match sc.events.get(id as usize) {
        Some(e) if e.id == id => Some(id as usize),
        _ => sc.events.iter().position(|e| e.id == id),
    }
}

/// Smallest number of bits a field of this class can take (for bounding lengths).
fn min_bits(fc: &FieldClass) -> u64 {
    match fc {
        FieldClass::Integer(i) => u64::from(i.size_bits),
        FieldClass::Enum(e) => u64::from(e.container.size_bits),
        FieldClass::Float(f) => u64::from(f.size_bits()),
        FieldClass::String(_) => 8,
        FieldClass::Array(a) => a.length.saturating_mul(min_bits(&a.element)),
        FieldClass::Sequence(_) | FieldClass::Variant(_) => 0,
        FieldClass::Struct(s) => s
            .members
            .iter()
            .map(|m| min_bits(&m.class))
            .fold(0u64, u64::saturating_add),
    }
}

/// Decodes every packet and event of one whole data stream held in `data`, and returns the
/// number of events. For tests, fuzzing and validation; readers use [`StreamDecoder`] directly.
pub fn decode_stream(md: &Metadata, data: &[u8]) -> Result<u64> {
    let mut d = StreamDecoder::new(md);
    let mut offset = 0usize;
    let mut events = 0u64;
    // Each packet is at least one byte long (`BadPacketSize` otherwise), so this ends.
    while offset < data.len() {
        let packet = &data[offset..];
        let packet_bytes = (d.begin_packet(packet, offset as u64)?.packet_bits / 8) as usize;
        while d.next_event(packet)? {
            events += 1;
        }
        offset += packet_bytes;
    }
    Ok(events)
}
