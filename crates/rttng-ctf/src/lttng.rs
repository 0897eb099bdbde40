//! LTTng's trace layout: its fixed packet header, packet context and event header classes
//! ([`LttngLayout`], with the compact and large event headers), its `monotonic` clock class, the
//! `env` blocks lttng-ust and lttng-modules write, event classes with a payload struct, and the
//! log level names. It
//! builds trace models; it does not write packets ([`crate::writer`]) or metadata text
//! ([`crate::emit`]).

use crate::ir::{
    enum_class, struct_class, uint_class, variant_class, ArrayClass, ByteOrder, ClockClass,
    EnvValue, EventClass, FieldClass, IntegerClass, Metadata, StreamClass, TraceClass,
};

/// Which of LTTng's two event headers a stream class uses (spec §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventHeaderKind {
    /// 5-bit id, 27-bit timestamp (lttng-modules with few event classes).
    Compact,
    /// 16-bit id, 32-bit timestamp (lttng-ust).
    Large,
}

/// How LTTng lays out its fixed classes: byte order, packed (`align = 8`, x86) or natural
/// alignment, and the name of the clock timestamps map to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LttngLayout {
    pub byte_order: ByteOrder,
    /// `align = 8` on every integer (x86, x86-64); natural alignment otherwise.
    pub packed: bool,
    pub clock_name: String,
}

impl LttngLayout {
    /// x86-64 style: little-endian, packed, clock `monotonic`.
    pub fn x86_64() -> LttngLayout {
        LttngLayout {
            byte_order: ByteOrder::Little,
            packed: true,
            clock_name: "monotonic".to_string(),
        }
    }

    fn align_for(&self, size_bits: u32) -> u32 {
        if !size_bits.is_multiple_of(8) {
            1
        } else if self.packed {
            8
        } else {
            size_bits
        }
    }

    /// `uintN_t` as LTTng declares it.
    pub fn uint(&self, size_bits: u32) -> IntegerClass {
        uint_class(size_bits, self.align_for(size_bits), self.byte_order)
    }

    /// `uintN_clock_CLOCK_t`.
    pub fn clock_uint(&self, size_bits: u32) -> IntegerClass {
        IntegerClass {
            mapped_clock: Some(self.clock_name.clone()),
            ..self.uint(size_bits)
        }
    }

    /// `trace.packet.header`: magic, uuid[16], stream_id, stream_instance_id.
    pub fn packet_header(&self) -> FieldClass {
        struct_class(
            vec![
                ("magic", FieldClass::Integer(self.uint(32))),
                (
                    "uuid",
                    FieldClass::Array(ArrayClass {
                        element: Box::new(FieldClass::Integer(self.uint(8))),
                        length: 16,
                    }),
                ),
                ("stream_id", FieldClass::Integer(self.uint(32))),
                ("stream_instance_id", FieldClass::Integer(self.uint(64))),
            ],
            1,
        )
    }

    /// `struct packet_context` (spec §4 item 7).
    pub fn packet_context(&self) -> FieldClass {
        struct_class(
            vec![
                ("timestamp_begin", FieldClass::Integer(self.clock_uint(64))),
                ("timestamp_end", FieldClass::Integer(self.clock_uint(64))),
                ("content_size", FieldClass::Integer(self.uint(64))),
                ("packet_size", FieldClass::Integer(self.uint(64))),
                ("packet_seq_num", FieldClass::Integer(self.uint(64))),
                ("events_discarded", FieldClass::Integer(self.uint(64))),
                ("cpu_id", FieldClass::Integer(self.uint(32))),
            ],
            1,
        )
    }

    /// `struct event_header_compact` / `struct event_header_large` (spec §6).
    pub fn event_header(&self, kind: EventHeaderKind) -> FieldClass {
        let (id_bits, ts_bits, max) = match kind {
            EventHeaderKind::Compact => (5, 27, 31),
            EventHeaderKind::Large => (16, 32, 65535),
        };
        let id_enum = enum_class(
            self.uint(id_bits),
            &[("compact", 0, max - 1), ("extended", max, max)],
        );
        let compact = struct_class(
            vec![("timestamp", FieldClass::Integer(self.clock_uint(ts_bits)))],
            1,
        );
        let extended = struct_class(
            vec![
                ("id", FieldClass::Integer(self.uint(32))),
                ("timestamp", FieldClass::Integer(self.clock_uint(64))),
            ],
            1,
        );
        let v = variant_class(
            "id",
            &id_enum,
            vec![("compact", compact), ("extended", extended)],
        );
        let struct_align = match kind {
            EventHeaderKind::Compact => self.align_for(32),
            EventHeaderKind::Large => self.align_for(16),
        };
        struct_class(
            vec![("id", FieldClass::Enum(id_enum)), ("v", v)],
            struct_align,
        )
    }

    /// A stream class with LTTng's packet context and the chosen event header.
    pub fn stream_class(
        &self,
        id: u64,
        header: EventHeaderKind,
        event_context: Option<FieldClass>,
    ) -> StreamClass {
        StreamClass {
            id,
            packet_context: Some(self.packet_context()),
            event_header: Some(self.event_header(header)),
            event_context,
            events: Vec::new(),
        }
    }

    /// A trace model with LTTng's trace block and one clock, no stream class yet.
    pub fn metadata(
        &self,
        uuid: [u8; 16],
        clock: ClockClass,
        env: Vec<(String, EnvValue)>,
    ) -> Metadata {
        Metadata {
            trace: TraceClass {
                major: 1,
                minor: 8,
                uuid: Some(uuid),
                byte_order: self.byte_order,
                packet_header: Some(self.packet_header()),
            },
            env,
            clocks: vec![clock],
            streams: Vec::new(),
            slot_count: 0,
        }
    }
}

/// LTTng's `monotonic` clock: 1 GHz, the given offset (cycles) and boot id.
pub fn monotonic_clock(boot_id: Option<[u8; 16]>, offset: i64) -> ClockClass {
    ClockClass {
        name: "monotonic".to_string(),
        uuid: boot_id,
        description: Some("Monotonic Clock".to_string()),
        freq: 1_000_000_000,
        offset_s: 0,
        offset,
        precision: 0,
        absolute: false,
    }
}

fn s(k: &str, v: &str) -> (String, EnvValue) {
    (k.to_string(), EnvValue::Str(v.to_string()))
}

fn i(k: &str, v: i64) -> (String, EnvValue) {
    (k.to_string(), EnvValue::Int(v))
}

/// The `env` block of a per-user-buffer lttng-ust trace (spec §4), in LTTng's order.
pub fn ust_uid_env(
    hostname: &str,
    trace_name: &str,
    creation_datetime: &str,
    uid: i64,
) -> Vec<(String, EnvValue)> {
    let scheme = ("uid", uid, 64);
    ust_env(hostname, false, scheme, trace_name, creation_datetime)
}

/// The `env` block of a per-process-buffer lttng-ust trace, in LTTng's order: the process's
/// pid, name and registration date (`vpid_datetime`, `YYYYmmdd-HHMMSS`) follow the common part.
pub fn ust_pid_env(
    hostname: &str,
    trace_name: &str,
    creation_datetime: &str,
    bitness: i64,
    pid: i64,
    procname: &str,
    registered: &str,
) -> Vec<(String, EnvValue)> {
    let scheme = ("pid", pid, bitness);
    let mut env = ust_env(hostname, true, scheme, trace_name, creation_datetime);
    env.extend([
        i("vpid", pid),
        s("procname", procname),
        s("vpid_datetime", registered),
    ]);
    env
}

/// The part every lttng-ust `env` block has; `(scheme, id, bitness)` is the buffering scheme,
/// its id (uid or pid) and the architecture's bit width. Per-process traces carry the tracer's
/// patch level, per-user ones do not.
fn ust_env(
    hostname: &str,
    patchlevel: bool,
    (scheme, id, bitness): (&str, i64, i64),
    trace_name: &str,
    creation_datetime: &str,
) -> Vec<(String, EnvValue)> {
    let mut env = vec![
        s("hostname", hostname),
        s("domain", "ust"),
        s("tracer_name", "lttng-ust"),
        i("tracer_major", 2),
        i("tracer_minor", 13),
    ];
    if patchlevel {
        env.push(i("tracer_patchlevel", 0));
    }
    env.extend([
        s("tracer_buffering_scheme", scheme),
        i("tracer_buffering_id", id),
        i("architecture_bit_width", bitness),
        s("trace_name", trace_name),
        s("trace_creation_datetime", creation_datetime),
    ]);
    env
}

/// The `env` block of an lttng-modules trace (spec §4), in LTTng's order.
pub fn kernel_env(
    hostname: &str,
    sysname: &str,
    kernel_release: &str,
    kernel_version: &str,
    trace_name: &str,
    creation_datetime: &str,
) -> Vec<(String, EnvValue)> {
    vec![
        s("hostname", hostname),
        s("domain", "kernel"),
        s("sysname", sysname),
        s("kernel_release", kernel_release),
        s("kernel_version", kernel_version),
        s("tracer_name", "lttng-modules"),
        i("tracer_major", 2),
        i("tracer_minor", 13),
        i("tracer_patchlevel", 0),
        s("trace_buffering_scheme", "global"),
        s("trace_name", trace_name),
        s("trace_creation_datetime", creation_datetime),
    ]
}

/// An event class with a payload struct.
pub fn event_class(
    id: u64,
    stream_id: u64,
    name: &str,
    loglevel: Option<i64>,
    fields: FieldClass,
) -> EventClass {
    EventClass {
        id,
        name: name.to_string(),
        stream_id,
        loglevel,
        model_emf_uri: None,
        context: None,
        fields: Some(fields),
    }
}

pub use rttng_desc::LOGLEVEL_NAMES;
