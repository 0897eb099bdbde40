//! The packet builder ([`StreamWriter`]): it turns event values into the bytes of one data
//! stream file plus its packet index.
//!
//! The writer follows whatever layout the metadata says (byte order, alignment, compact or large
//! event header): it walks the packet header, packet context and event header classes and fills
//! the fields it knows by name (`magic`, `uuid`, `stream_id`, `timestamp_begin`, `content_size`,
//! `id`, `timestamp`, ...). It does no I/O: stream bytes accumulate in memory and the caller
//! writes them out ([`StreamWriter::take_data`] lets a long run flush as it goes). It does not
//! build trace models (LTTng's layout is [`crate::lttng`]) or produce metadata text
//! ([`crate::emit`]).

mod error;
pub mod samples;

pub use error::WriteError;

use crate::encode::{encode_field, write_integer, BitWriter, EncodeScratch, Value};
use crate::index::IndexEntry;
use crate::ir::{FieldClass, IntegerClass, Metadata, StreamClass};

/// `trace.packet.header.magic` of every data packet.
pub const PACKET_MAGIC: u32 = 0xC1FC_1FC1;

/// Largest packet the writer builds (the packet size field of LTTng's context is 64 bits, but
/// nothing sensible needs more).
pub const MAX_PACKET_BYTES: u64 = 1 << 32;

// ---------------------------------------------------------------------------------------------
// Packet builder

/// How the writer chooses between the compact and extended event header forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampRule {
    /// LTTng's rule: extended whenever the bits above the compact timestamp's width differ from
    /// the previous record's (so the first record after a wrap is always extended).
    HighBitsChange,
    /// Compact whenever the reader can rebuild the value: less than 2^N cycles since the previous
    /// record (a wrap of the low bits is then allowed).
    Delta,
}

/// Which header form to write for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderForm {
    /// Compact when allowed by the id and the [`TimestampRule`], else extended.
    Auto,
    /// Always extended (an error if the header has no extended form).
    Extended,
}

/// How big a closed packet is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketSize {
    /// Exactly this many bytes (LTTng: the sub-buffer size); error if the content is bigger.
    Bytes(u64),
    /// Content rounded up to a whole byte.
    ByteAligned,
    /// Content rounded up to a multiple of 8 bytes.
    Aligned8,
}

/// Values for the packet header and context when opening a packet. Fields the writer fills
/// itself: `magic`, `uuid`, `stream_id`, `stream_instance_id`, `timestamp_begin`, `timestamp_end`,
/// `content_size`, `packet_size`, `packet_seq_num`, `events_discarded`, `cpu_id`. Any other
/// member must be supplied in `extra` by name.
#[derive(Clone, Debug, Default)]
pub struct PacketOpen<'a> {
    pub timestamp_begin: u64,
    pub packet_seq_num: u64,
    /// Cumulative count of discarded events in this stream.
    pub events_discarded: u64,
    pub cpu_id: u64,
    pub extra: &'a [(&'a str, Value)],
}

/// One event record's values beyond its header.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventRecord<'a> {
    /// `stream.event.context`
    pub stream_context: Option<&'a Value>,
    /// `event.context`
    pub context: Option<&'a Value>,
    /// `event.fields`
    pub payload: Option<&'a Value>,
}

/// What the event header looks like, worked out once per stream writer.
#[derive(Clone, Copy, Debug)]
struct HeaderPlan {
    /// Largest id the compact form carries.
    compact_max_id: u64,
    /// Tag value that selects the extended form, when there is one.
    escape_id: Option<u64>,
    /// Width of the compact form's timestamp; `None` if the header has no timestamp.
    compact_ts_bits: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
struct Placeholder<'m> {
    at_bits: u64,
    class: &'m IntegerClass,
}

#[derive(Clone, Copy, Debug)]
struct OpenState<'m> {
    timestamp_begin: u64,
    packet_seq_num: u64,
    events_discarded: u64,
    timestamp_end: Option<Placeholder<'m>>,
    content_size: Option<Placeholder<'m>>,
    packet_size: Option<Placeholder<'m>>,
    scratch_mark: usize,
}

/// Builds the packets of one data stream (one `CHANNEL_N` file) and their index entries.
///
/// Appending an event does not allocate once the packet buffer has grown to its working size.
pub struct StreamWriter<'m> {
    metadata: &'m Metadata,
    stream: &'m StreamClass,
    stream_instance_id: u64,
    plan: Option<HeaderPlan>,
    rule: TimestampRule,
    packet: BitWriter,
    open: Option<OpenState<'m>>,
    scratch: EncodeScratch<'m>,
    prev_ts: u64,
    data: Vec<u8>,
    flushed_bytes: u64,
    index: Vec<IndexEntry>,
    event_count: u64,
}

impl std::fmt::Debug for StreamWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("stream_class_id", &self.stream.id)
            .field("stream_instance_id", &self.stream_instance_id)
            .field("packets", &self.index.len())
            .field("event_count", &self.event_count)
            .finish()
    }
}

fn find_member<'a>(class: &'a FieldClass, name: &str) -> Option<&'a FieldClass> {
    class
        .as_struct()?
        .members
        .iter()
        .find(|m| m.name == name)
        .map(|m| &m.class)
}

fn header_plan(header: &FieldClass) -> HeaderPlan {
    let id = find_member(header, "id");
    let variant = find_member(header, "v");
    let (compact_max_id, escape_id) = match id {
        Some(FieldClass::Enum(e)) => {
            let range_of = |label: &str| {
                e.mappings
                    .iter()
                    .find(|m| m.label == label)
                    .and_then(|m| m.ranges.first().copied())
            };
            let container_max = if e.container.size_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << e.container.size_bits) - 1
            };
            match (range_of("compact"), range_of("extended")) {
                (Some((_, hi)), Some((lo, _))) => (
                    hi.clamp(0, i128::from(u64::MAX)) as u64,
                    Some(lo.max(0) as u64),
                ),
                (None, Some((lo, _))) => ((lo.max(1) - 1) as u64, Some(lo.max(0) as u64)),
                _ => (container_max, None),
            }
        }
        Some(FieldClass::Integer(i)) => (
            if i.size_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << i.size_bits) - 1
            },
            None,
        ),
        _ => (u64::MAX, None),
    };
    let ts_bits_in = |c: &FieldClass| match find_member(c, "timestamp") {
        Some(FieldClass::Integer(i)) => Some(i.size_bits),
        _ => None,
    };
    let compact_ts_bits = match variant {
        Some(FieldClass::Variant(v)) => v
            .options
            .iter()
            .find(|o| o.name == "compact")
            .and_then(|o| ts_bits_in(&o.class)),
        _ => ts_bits_in(header),
    };
    HeaderPlan {
        compact_max_id,
        escape_id,
        compact_ts_bits,
    }
}

/// What one header walk writes.
#[derive(Clone, Copy)]
struct HeaderValues {
    id: u64,
    timestamp: u64,
    extended: bool,
    escape_id: u64,
}

fn write_header_int(
    w: &mut BitWriter,
    ic: &IntegerClass,
    name: &str,
    vals: &HeaderValues,
    in_variant: bool,
) -> Result<(), WriteError> {
    let v = match name {
        "id" => {
            let v = if vals.extended && !in_variant {
                vals.escape_id
            } else {
                vals.id
            };
            if ic.size_bits < 64 && v >> ic.size_bits != 0 {
                return Err(WriteError::EventIdDoesNotFit {
                    event_class_id: vals.id,
                });
            }
            v
        }
        // Truncation is the point: the reader rebuilds the high bits.
        "timestamp" => vals.timestamp,
        _ => {
            return Err(WriteError::UnsupportedHeaderField {
                scope: "stream.event.header",
                field: name.to_string(),
            })
        }
    };
    w.align(ic.align_bits);
    w.write_uint(v, ic.size_bits, ic.byte_order);
    Ok(())
}

fn write_header(
    w: &mut BitWriter,
    class: &FieldClass,
    name: &str,
    vals: &HeaderValues,
    in_variant: bool,
    depth: u32,
) -> Result<(), WriteError> {
    if depth > crate::encode::MAX_NESTING_DEPTH {
        return Err(WriteError::UnsupportedHeaderField {
            scope: "stream.event.header",
            field: name.to_string(),
        });
    }
    match class {
        FieldClass::Struct(st) => {
            w.align(class.align_bits());
            for m in &st.members {
                write_header(w, &m.class, &m.name, vals, in_variant, depth + 1)?;
            }
            Ok(())
        }
        FieldClass::Integer(ic) => write_header_int(w, ic, name, vals, in_variant),
        FieldClass::Enum(ec) => write_header_int(w, &ec.container, name, vals, in_variant),
        FieldClass::Variant(v) => {
            let want = if vals.extended { "extended" } else { "compact" };
            let Some(opt) = v
                .options
                .iter()
                .find(|o| o.name == want || o.name.strip_prefix('_') == Some(want))
            else {
                return Err(WriteError::UnsupportedHeaderField {
                    scope: "stream.event.header",
                    field: name.to_string(),
                });
            };
            write_header(w, &opt.class, &opt.name, vals, true, depth + 1)
        }
        _ => Err(WriteError::UnsupportedHeaderField {
            scope: "stream.event.header",
            field: name.to_string(),
        }),
    }
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

impl<'m> StreamWriter<'m> {
    /// A writer for data stream `stream_instance_id` of stream class `stream_class_id`.
    pub fn new(
        metadata: &'m Metadata,
        stream_class_id: u64,
        stream_instance_id: u64,
    ) -> Result<Self, WriteError> {
        let stream = metadata
            .stream(stream_class_id)
            .ok_or(WriteError::UnknownStreamClass { stream_class_id })?;
        Ok(StreamWriter {
            metadata,
            stream,
            stream_instance_id,
            plan: stream.event_header.as_ref().map(header_plan),
            rule: TimestampRule::HighBitsChange,
            packet: BitWriter::new(),
            open: None,
            scratch: EncodeScratch::new(),
            prev_ts: 0,
            data: Vec::new(),
            flushed_bytes: 0,
            index: Vec::new(),
            event_count: 0,
        })
    }

    /// Choose how compact headers are decided (default [`TimestampRule::HighBitsChange`]).
    pub fn set_timestamp_rule(&mut self, rule: TimestampRule) {
        self.rule = rule;
    }

    pub fn stream_class(&self) -> &'m StreamClass {
        self.stream
    }

    /// Events appended so far, over all packets.
    pub fn event_count(&self) -> u64 {
        self.event_count
    }

    pub fn is_packet_open(&self) -> bool {
        self.open.is_some()
    }

    /// Bytes of the current packet so far (header, context, events).
    pub fn packet_content_bits(&self) -> u64 {
        if self.open.is_some() {
            self.packet.pos_bits()
        } else {
            0
        }
    }

    /// Open a packet: write the trace packet header and the stream packet context.
    pub fn open_packet(&mut self, p: &PacketOpen<'_>) -> Result<(), WriteError> {
        if self.open.is_some() {
            return Err(WriteError::PacketAlreadyOpen);
        }
        self.packet.clear();
        self.scratch.truncate(0);
        let md = self.metadata;
        let mut state = OpenState {
            timestamp_begin: p.timestamp_begin,
            packet_seq_num: p.packet_seq_num,
            events_discarded: p.events_discarded,
            timestamp_end: None,
            content_size: None,
            packet_size: None,
            scratch_mark: 0,
        };
        let result = self.write_packet_scopes(md, p, &mut state);
        if let Err(e) = result {
            self.packet.clear();
            self.scratch.truncate(0);
            return Err(e);
        }
        state.scratch_mark = self.scratch.mark();
        self.prev_ts = p.timestamp_begin;
        self.open = Some(state);
        Ok(())
    }

    fn write_packet_scopes(
        &mut self,
        md: &'m Metadata,
        p: &PacketOpen<'_>,
        state: &mut OpenState<'m>,
    ) -> Result<(), WriteError> {
        if let Some(header) = &md.trace.packet_header {
            self.write_known_struct("trace.packet.header", header, p, state)?;
        }
        if let Some(ctx) = &self.stream.packet_context {
            self.write_known_struct("stream.packet.context", ctx, p, state)?;
        }
        Ok(())
    }

    fn write_known_struct(
        &mut self,
        scope: &'static str,
        class: &'m FieldClass,
        p: &PacketOpen<'_>,
        state: &mut OpenState<'m>,
    ) -> Result<(), WriteError> {
        let Some(st) = class.as_struct() else {
            return Err(WriteError::UnsupportedHeaderField {
                scope,
                field: String::new(),
            });
        };
        self.packet.align(class.align_bits());
        for m in &st.members {
            let enc_err = |source| WriteError::Encode { scope, source };
            if let Some((_, v)) = p.extra.iter().find(|(n, _)| *n == m.name) {
                encode_field(&mut self.packet, &mut self.scratch, &m.name, &m.class, v)
                    .map_err(enc_err)?;
                continue;
            }
            let int = match &m.class {
                FieldClass::Integer(ic) => Some(ic),
                FieldClass::Enum(ec) => Some(&ec.container),
                _ => None,
            };
            let known: Option<u64> = match (scope, m.name.as_str()) {
                ("trace.packet.header", "magic") => Some(u64::from(PACKET_MAGIC)),
                ("trace.packet.header", "stream_id") => Some(self.stream.id),
                ("trace.packet.header", "stream_instance_id") => Some(self.stream_instance_id),
                ("stream.packet.context", "timestamp_begin") => Some(p.timestamp_begin),
                ("stream.packet.context", "packet_seq_num") => Some(p.packet_seq_num),
                ("stream.packet.context", "events_discarded") => Some(p.events_discarded),
                ("stream.packet.context", "cpu_id") => Some(p.cpu_id),
                _ => None,
            };
            let placeholder = matches!(
                (scope, m.name.as_str()),
                (
                    "stream.packet.context",
                    "timestamp_end" | "content_size" | "packet_size"
                )
            );
            match (int, known, placeholder) {
                (Some(ic), Some(v), _) => {
                    let v = if ic.size_bits < 64 {
                        v & ((1u64 << ic.size_bits) - 1)
                    } else {
                        v
                    };
                    write_integer(&mut self.packet, ic, i128::from(v));
                }
                (Some(ic), None, true) => {
                    self.packet.align(ic.align_bits);
                    let ph = Some(Placeholder {
                        at_bits: self.packet.pos_bits(),
                        class: ic,
                    });
                    self.packet.write_uint(0, ic.size_bits, ic.byte_order);
                    match m.name.as_str() {
                        "timestamp_end" => state.timestamp_end = ph,
                        "content_size" => state.content_size = ph,
                        _ => state.packet_size = ph,
                    }
                }
                _ if scope == "trace.packet.header" && m.name == "uuid" => {
                    let uuid = md_uuid(self.metadata)?;
                    let v = Value::Bytes(uuid.to_vec());
                    encode_field(&mut self.packet, &mut self.scratch, &m.name, &m.class, &v)
                        .map_err(enc_err)?;
                }
                _ => {
                    return Err(WriteError::MissingField {
                        scope,
                        field: m.name.clone(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Append an event with only a payload (no contexts), header form chosen automatically.
    pub fn append_event(
        &mut self,
        event_class_id: u64,
        timestamp: u64,
        payload: &Value,
    ) -> Result<(), WriteError> {
        let rec = EventRecord {
            payload: Some(payload),
            ..EventRecord::default()
        };
        self.append_event_record(event_class_id, timestamp, HeaderForm::Auto, &rec)
    }

    /// Append an event record: header, stream event context, event context, payload.
    pub fn append_event_record(
        &mut self,
        event_class_id: u64,
        timestamp: u64,
        form: HeaderForm,
        rec: &EventRecord<'_>,
    ) -> Result<(), WriteError> {
        let stream = self.stream;
        let ec = stream
            .event(event_class_id)
            .ok_or(WriteError::UnknownEventClass {
                stream_class_id: stream.id,
                event_class_id,
            })?;
        self.append_with(event_class_id, timestamp, form, |w, scratch| {
            for (scope, class, value) in [
                (
                    "stream.event.context",
                    &stream.event_context,
                    rec.stream_context,
                ),
                ("event.context", &ec.context, rec.context),
                ("event.fields", &ec.fields, rec.payload),
            ] {
                match (class, value) {
                    (Some(c), Some(v)) => encode_field(w, scratch, "", c, v)
                        .map_err(|source| WriteError::Encode { scope, source })?,
                    (None, None) => {}
                    (Some(_), None) => {
                        return Err(WriteError::ScopeMismatch {
                            scope,
                            declared: true,
                        })
                    }
                    (None, Some(_)) => {
                        return Err(WriteError::ScopeMismatch {
                            scope,
                            declared: false,
                        })
                    }
                }
            }
            Ok(())
        })
    }

    /// Append an event record whose header the writer writes and whose contexts and payload
    /// `body` writes directly, for producers that do not build [`Value`]s. `body` must follow
    /// the stream and event classes exactly; nothing checks it.
    pub fn append_event_raw(
        &mut self,
        event_class_id: u64,
        timestamp: u64,
        form: HeaderForm,
        body: impl FnOnce(&mut BitWriter),
    ) -> Result<(), WriteError> {
        self.append_with(event_class_id, timestamp, form, |w, _| {
            body(w);
            Ok(())
        })
    }

    fn append_with(
        &mut self,
        event_class_id: u64,
        timestamp: u64,
        form: HeaderForm,
        body: impl FnOnce(&mut BitWriter, &mut EncodeScratch<'m>) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        let Some(state) = self.open else {
            return Err(WriteError::NoOpenPacket);
        };
        if timestamp < self.prev_ts {
            return Err(WriteError::TimestampBeforePrevious {
                timestamp,
                previous: self.prev_ts,
            });
        }
        let start = self.packet.mark();
        self.scratch.truncate(state.scratch_mark);
        let r = self
            .write_event_header(event_class_id, timestamp, form)
            .and_then(|()| body(&mut self.packet, &mut self.scratch));
        if let Err(e) = r {
            self.packet.rewind(start);
            return Err(e);
        }
        self.prev_ts = timestamp;
        self.event_count += 1;
        Ok(())
    }

    fn write_event_header(&mut self, id: u64, ts: u64, form: HeaderForm) -> Result<(), WriteError> {
        let (Some(header), Some(plan)) = (&self.stream.event_header, self.plan) else {
            return Ok(());
        };
        let id_fits = id <= plan.compact_max_id && Some(id) != plan.escape_id;
        let ts_fits = match plan.compact_ts_bits {
            None => true,
            Some(n) if n >= 64 => true,
            Some(n) => match self.rule {
                TimestampRule::HighBitsChange => ts >> n == self.prev_ts >> n,
                TimestampRule::Delta => ts - self.prev_ts < (1u64 << n),
            },
        };
        let extended = form == HeaderForm::Extended || !id_fits || !ts_fits;
        let escape_id = match (extended, plan.escape_id) {
            (false, _) => 0,
            (true, Some(e)) => e,
            (true, None) if !id_fits => {
                return Err(WriteError::EventIdDoesNotFit { event_class_id: id })
            }
            (true, None) if form == HeaderForm::Extended => {
                return Err(WriteError::UnsupportedHeaderField {
                    scope: "stream.event.header",
                    field: "v".to_string(),
                })
            }
            (true, None) => return Err(WriteError::TimestampNeedsExtendedHeader { timestamp: ts }),
        };
        let vals = HeaderValues {
            id,
            timestamp: ts,
            extended,
            escape_id,
        };
        write_header(&mut self.packet, header, "", &vals, false, 0)
    }

    /// Close the open packet: fill `timestamp_end`, `content_size` and `packet_size`, pad, and
    /// append it to the stream data. Returns its index entry.
    pub fn close_packet(
        &mut self,
        timestamp_end: u64,
        size: PacketSize,
    ) -> Result<IndexEntry, WriteError> {
        let Some(state) = self.open else {
            return Err(WriteError::NoOpenPacket);
        };
        if timestamp_end < self.prev_ts {
            return Err(WriteError::TimestampBeforePrevious {
                timestamp: timestamp_end,
                previous: self.prev_ts,
            });
        }
        let content_bits = self.packet.pos_bits();
        let packet_bits = match size {
            PacketSize::Bytes(b) => b.saturating_mul(8),
            PacketSize::ByteAligned => round_up(content_bits, 8),
            PacketSize::Aligned8 => round_up(content_bits, 64),
        };
        if packet_bits < content_bits || packet_bits > MAX_PACKET_BYTES * 8 {
            return Err(WriteError::PacketTooSmall {
                content_bits,
                packet_bits,
            });
        }
        // A clock field may be narrower than the clock (the reader extends it); sizes may not.
        for (ph, v, may_truncate) in [
            (state.timestamp_end, timestamp_end, true),
            (state.content_size, content_bits, false),
            (state.packet_size, packet_bits, false),
        ] {
            if let Some(ph) = ph {
                let size = ph.class.size_bits;
                if size < 64 && v >> size != 0 && !may_truncate {
                    return Err(WriteError::PacketTooSmall {
                        content_bits,
                        packet_bits,
                    });
                }
                self.packet
                    .patch_uint(ph.at_bits, v, size, ph.class.byte_order);
            }
        }
        self.packet.pad_to(packet_bits);
        let offset_bytes = self.flushed_bytes + self.data.len() as u64;
        self.data.extend_from_slice(self.packet.bytes());
        self.packet.clear();
        self.open = None;
        let entry = IndexEntry {
            offset_bytes,
            packet_size_bits: packet_bits,
            content_size_bits: content_bits,
            timestamp_begin: state.timestamp_begin,
            timestamp_end,
            events_discarded: state.events_discarded,
            stream_id: self.stream.id,
            stream_instance_id: Some(self.stream_instance_id),
            packet_seq_num: Some(state.packet_seq_num),
        };
        self.index.push(entry);
        Ok(entry)
    }

    /// Take the bytes of the packets closed so far (later offsets keep counting from them).
    pub fn take_data(&mut self) -> Vec<u8> {
        let d = std::mem::take(&mut self.data);
        self.flushed_bytes += d.len() as u64;
        d
    }

    /// Index entries of the packets closed so far.
    pub fn index_entries(&self) -> &[IndexEntry] {
        &self.index
    }

    /// The stream data not yet taken and all index entries. An open packet is dropped.
    pub fn finish(self) -> (Vec<u8>, Vec<IndexEntry>) {
        (self.data, self.index)
    }
}

fn md_uuid(md: &Metadata) -> Result<[u8; 16], WriteError> {
    md.trace.uuid.ok_or(WriteError::NoTraceUuid)
}

#[cfg(test)]
mod tests;
