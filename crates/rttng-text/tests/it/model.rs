//! A synthetic trace exercising every field kind: its TSDL text, its one packet, and the
//! hand-built `Metadata`/`Val`s the decoder would produce for it. The TSDL and the classes are
//! written separately on purpose, so a mistake in either shows up as a difference with
//! babeltrace2's output.

use rttng_ctf::event::{ClockSnapshot, EventView, Scope, Val};
use rttng_ctf::ir::*;

pub const TSDL: &str = r#"/* CTF 1.8 */

typealias integer { size = 8; align = 8; signed = false; } := uint8_t;
typealias integer { size = 32; align = 8; signed = false; } := uint32_t;
typealias integer { size = 64; align = 8; signed = false; } := uint64_t;

trace {
	major = 1;
	minor = 8;
	uuid = "2a6422d0-6cee-11e0-8c08-cb07d7b3a564";
	byte_order = le;
	packet.header := struct {
		uint32_t magic;
		uint8_t  uuid[16];
		uint32_t stream_id;
	};
};

env {
	hostname = "myhost";
	domain = "ust";
	procname = "myproc";
	vpid = 4242;
};

clock {
	name = "monotonic";
	freq = 1000000000;
	offset_s = 1700000000;
};

typealias integer { size = 64; align = 8; signed = false; map = clock.monotonic.value; } := uint64_clock_monotonic_t;

stream {
	id = 0;
	event.header := struct {
		uint32_t id;
		uint64_clock_monotonic_t timestamp;
	} align(8);
	packet.context := struct {
		uint64_clock_monotonic_t timestamp_begin;
		uint64_clock_monotonic_t timestamp_end;
		uint64_t content_size;
		uint64_t packet_size;
		uint32_t cpu_id;
	};
	event.context := struct {
		integer { size = 32; align = 8; signed = true; } _vtid;
	};
};

event {
	name = "prov:rich";
	id = 0;
	stream_id = 0;
	loglevel = 13;
	model.emf.uri = "http://example.com/rich";
	context := struct {
		string _ctxstr;
	};
	fields := struct {
		uint8_t _u8;
		integer { size = 32; align = 8; signed = true; } _i32;
		integer { size = 64; align = 8; signed = true; } _i64;
		uint64_t _u64;
		integer { size = 16; align = 8; signed = false; base = 16; } _hex16;
		integer { size = 8; align = 8; signed = true; base = 16; } _hexneg;
		integer { size = 16; align = 8; signed = false; base = 8; } _oct16;
		integer { size = 16; align = 8; signed = true; base = 8; } _octneg;
		integer { size = 8; align = 8; signed = false; base = 2; } _bin8;
		integer { size = 8; align = 8; signed = true; base = 2; } _binneg;
		enum : uint8_t { A = 0, B = 1 ... 5, C = 3 } _e1;
		enum : integer { size = 8; align = 8; signed = true; } { NEG = -5 ... -1, ZERO = 0 } _e2;
		floating_point { exp_dig = 8; mant_dig = 24; align = 8; } _f32;
		floating_point { exp_dig = 11; mant_dig = 53; align = 8; } _f64;
		string _s;
		integer { size = 8; align = 8; signed = false; encoding = UTF8; } _txt[8];
		uint8_t __seq_len;
		integer { size = 8; align = 8; signed = false; encoding = UTF8; } _txtseq[__seq_len];
		uint32_t _arr[3];
		uint32_t _empty[0];
		uint8_t __n;
		struct { uint8_t _a; string _b; } _sseq[__n];
		struct { } align(8) _estruct;
		struct { uint8_t _x; struct { uint8_t _y; } _in; } _nested;
		enum : uint8_t { INT = 0, STR = 1 } _tag;
		variant <_tag> { uint32_t INT; string STR; } _var;
	};
};

event {
	name = "prov:simple";
	id = 1;
	stream_id = 0;
	fields := struct {
		uint32_t _x;
	};
};
"#;

fn int(size: u32, signed: bool, base: DisplayBase) -> IntegerClass {
    IntegerClass {
        size_bits: size,
        align_bits: 8,
        signed,
        byte_order: ByteOrder::Little,
        base,
        encoding: Encoding::None,
        mapped_clock: None,
        role: None,
        store_slot: None,
    }
}
fn i(size: u32, signed: bool) -> FieldClass {
    FieldClass::Integer(int(size, signed, DisplayBase::Decimal))
}
fn ib(size: u32, signed: bool, base: DisplayBase) -> FieldClass {
    FieldClass::Integer(int(size, signed, base))
}
fn role(size: u32, role: IntRole, clock: bool) -> FieldClass {
    let mut c = int(size, false, DisplayBase::Decimal);
    c.role = Some(role);
    if clock {
        c.mapped_clock = Some("monotonic".into());
    }
    FieldClass::Integer(c)
}
fn slot(size: u32, slot: u32) -> FieldClass {
    let mut c = int(size, false, DisplayBase::Decimal);
    c.store_slot = Some(slot);
    FieldClass::Integer(c)
}
fn text_u8() -> FieldClass {
    let mut c = int(8, false, DisplayBase::Decimal);
    c.encoding = Encoding::Utf8;
    FieldClass::Integer(c)
}
fn st(members: Vec<(&str, FieldClass)>) -> FieldClass {
    FieldClass::Struct(StructClass {
        members: members
            .into_iter()
            .map(|(n, c)| StructMember {
                name: n.into(),
                class: c,
            })
            .collect(),
        min_align_bits: 8,
    })
}
fn en(container: IntegerClass, maps: Vec<(&str, Vec<(i128, i128)>)>) -> FieldClass {
    FieldClass::Enum(EnumClass {
        container,
        mappings: maps
            .into_iter()
            .map(|(l, r)| EnumMapping {
                label: l.into(),
                ranges: r,
            })
            .collect(),
    })
}
fn string() -> FieldClass {
    FieldClass::String(StringClass {
        encoding: Encoding::Utf8,
    })
}
fn float(exp: u32, mant: u32) -> FieldClass {
    FieldClass::Float(FloatClass {
        exp_dig: exp,
        mant_dig: mant,
        align_bits: 8,
        byte_order: ByteOrder::Little,
    })
}
fn arr(e: FieldClass, n: u64) -> FieldClass {
    FieldClass::Array(ArrayClass {
        element: Box::new(e),
        length: n,
    })
}
fn seq(e: FieldClass, r: &str, slot: u32) -> FieldClass {
    FieldClass::Sequence(SequenceClass {
        element: Box::new(e),
        length_ref: r.into(),
        length_slot: slot,
    })
}

pub fn metadata() -> Metadata {
    metadata_with_offset(1_700_000_000)
}

pub fn metadata_with_offset(offset_s: i64) -> Metadata {
    let mut tag = int(8, false, DisplayBase::Decimal);
    tag.store_slot = Some(2);
    let tag_enum = en(tag, vec![("INT", vec![(0, 0)]), ("STR", vec![(1, 1)])]);
    let payload = st(vec![
        ("_u8", i(8, false)),
        ("_i32", i(32, true)),
        ("_i64", i(64, true)),
        ("_u64", i(64, false)),
        ("_hex16", ib(16, false, DisplayBase::Hexadecimal)),
        ("_hexneg", ib(8, true, DisplayBase::Hexadecimal)),
        ("_oct16", ib(16, false, DisplayBase::Octal)),
        ("_octneg", ib(16, true, DisplayBase::Octal)),
        ("_bin8", ib(8, false, DisplayBase::Binary)),
        ("_binneg", ib(8, true, DisplayBase::Binary)),
        (
            "_e1",
            en(
                int(8, false, DisplayBase::Decimal),
                vec![
                    ("A", vec![(0, 0)]),
                    ("B", vec![(1, 5)]),
                    ("C", vec![(3, 3)]),
                ],
            ),
        ),
        (
            "_e2",
            en(
                int(8, true, DisplayBase::Decimal),
                vec![("NEG", vec![(-5, -1)]), ("ZERO", vec![(0, 0)])],
            ),
        ),
        ("_f32", float(8, 24)),
        ("_f64", float(11, 53)),
        ("_s", string()),
        ("_txt", arr(text_u8(), 8)),
        ("__seq_len", slot(8, 0)),
        ("_txtseq", seq(text_u8(), "__seq_len", 0)),
        ("_arr", arr(i(32, false), 3)),
        ("_empty", arr(i(32, false), 0)),
        ("__n", slot(8, 1)),
        (
            "_sseq",
            seq(st(vec![("_a", i(8, false)), ("_b", string())]), "__n", 1),
        ),
        ("_estruct", st(vec![])),
        (
            "_nested",
            st(vec![
                ("_x", i(8, false)),
                ("_in", st(vec![("_y", i(8, false))])),
            ]),
        ),
        ("_tag", tag_enum),
        (
            "_var",
            FieldClass::Variant(VariantClass {
                tag_ref: "_tag".into(),
                tag_slot: 2,
                tag_signed: false,
                options: vec![
                    VariantOption {
                        name: "INT".into(),
                        class: i(32, false),
                    },
                    VariantOption {
                        name: "STR".into(),
                        class: string(),
                    },
                ],
                selector: vec![(0, 0, 0), (1, 1, 1)],
            }),
        ),
    ]);
    let rich = EventClass {
        id: 0,
        name: "prov:rich".into(),
        stream_id: 0,
        loglevel: Some(13),
        model_emf_uri: Some("http://example.com/rich".into()),
        context: Some(st(vec![("_ctxstr", string())])),
        fields: Some(payload),
    };
    let simple = EventClass {
        id: 1,
        name: "prov:simple".into(),
        stream_id: 0,
        loglevel: None,
        model_emf_uri: None,
        context: None,
        fields: Some(st(vec![("_x", i(32, false))])),
    };
    let stream = StreamClass {
        id: 0,
        packet_context: Some(st(vec![
            (
                "timestamp_begin",
                role(64, IntRole::PacketBeginTimestamp, true),
            ),
            ("timestamp_end", role(64, IntRole::PacketEndTimestamp, true)),
            ("content_size", role(64, IntRole::PacketContentSize, false)),
            ("packet_size", role(64, IntRole::PacketTotalSize, false)),
            ("cpu_id", i(32, false)),
        ])),
        event_header: Some(st(vec![
            ("id", role(32, IntRole::EventClassId, false)),
            ("timestamp", role(64, IntRole::DefaultClockTimestamp, true)),
        ])),
        event_context: Some(st(vec![("_vtid", i(32, true))])),
        events: vec![rich, simple],
    };
    Metadata {
        trace: TraceClass {
            major: 1,
            minor: 8,
            uuid: Some([
                0x2a, 0x64, 0x22, 0xd0, 0x6c, 0xee, 0x11, 0xe0, 0x8c, 0x08, 0xcb, 0x07, 0xd7, 0xb3,
                0xa5, 0x64,
            ]),
            byte_order: ByteOrder::Little,
            packet_header: None,
        },
        env: vec![
            ("hostname".into(), EnvValue::Str("myhost".into())),
            ("domain".into(), EnvValue::Str("ust".into())),
            ("procname".into(), EnvValue::Str("myproc".into())),
            ("vpid".into(), EnvValue::Int(4242)),
        ],
        clocks: vec![ClockClass {
            name: "monotonic".into(),
            uuid: None,
            description: None,
            freq: 1_000_000_000,
            offset_s,
            offset: 0,
            precision: 0,
            absolute: false,
        }],
        streams: vec![stream],
        slot_count: 3,
    }
}

/// Writes packet bytes and records the values the decoder would produce, scope by scope.
#[derive(Default)]
pub struct Rec {
    pub bytes: Vec<u8>,
    pub vals: Vec<Val>,
}

impl Rec {
    fn u(&mut self, v: u64, size_bytes: usize) {
        self.bytes.extend_from_slice(&v.to_le_bytes()[..size_bytes]);
        self.vals.push(Val::UInt(v));
    }
    fn s(&mut self, v: i64, size_bytes: usize) {
        self.bytes.extend_from_slice(&v.to_le_bytes()[..size_bytes]);
        self.vals.push(Val::SInt(v));
    }
    fn string(&mut self, s: &[u8]) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s);
        self.vals.push(Val::Str {
            start,
            end: start + s.len() as u32,
        });
        self.bytes.push(0);
    }
    fn text_array(&mut self, s: &[u8]) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s);
        let shown = s.iter().position(|&b| b == 0).unwrap_or(s.len()) as u32;
        self.vals.push(Val::Str {
            start,
            end: start + shown,
        });
    }
    fn cut(&mut self) -> Vec<Val> {
        std::mem::take(&mut self.vals)
    }
}

/// Values of one decoded event, by scope.
pub struct Decoded {
    pub id: u64,
    pub ts: u64,
    pub packet_context: Vec<Val>,
    pub header: Vec<Val>,
    pub stream_ctx: Vec<Val>,
    pub ev_ctx: Vec<Val>,
    pub payload: Vec<Val>,
}

pub struct RichArgs<'a> {
    pub u8_: u64,
    pub i32_: i64,
    pub i64_: i64,
    pub u64_: u64,
    pub hexneg: i64,
    pub octneg: i64,
    pub binneg: i64,
    pub e1: u64,
    pub e2: i64,
    pub f32_: f32,
    pub f64_: f64,
    pub s: &'a [u8],
    pub txt: &'a [u8; 8],
    pub txtseq: &'a [u8],
    pub var_str: Option<&'a [u8]>,
}

/// The packet (header, context, events) and the decoded values.
pub fn packet(events: &[(u64, Option<RichArgs<'_>>)]) -> (Vec<u8>, Vec<Decoded>) {
    let mut r = Rec::default();
    let ts_begin = events.first().map_or(0, |e| e.0);
    let ts_end = events.last().map_or(0, |e| e.0);
    // Packet header: magic, uuid, stream_id (not part of any printed scope).
    r.u(0xC1FC_1FC1, 4);
    r.bytes.extend_from_slice(&metadata().trace.uuid.unwrap());
    r.u(0, 4);
    r.cut();
    r.vals.push(Val::Struct);
    r.u(ts_begin, 8);
    r.u(ts_end, 8);
    let size_at = r.bytes.len();
    r.u(0, 8); // content_size, patched below
    r.u(0, 8); // packet_size, patched below
    r.u(3, 4); // cpu_id
    let pc = r.cut();
    let mut decoded = Vec::new();
    for (ts, rich) in events {
        let id = u64::from(rich.is_none());
        r.vals.push(Val::Struct);
        r.u(id, 4);
        r.u(*ts, 8);
        let header = r.cut();
        r.vals.push(Val::Struct);
        r.s(-77, 4); // vtid
        let stream_ctx = r.cut();
        let (ev_ctx, payload);
        match rich {
            None => {
                ev_ctx = Vec::new();
                r.vals.push(Val::Struct);
                r.u(ts % 1000, 4);
                payload = r.cut();
            }
            Some(a) => {
                r.vals.push(Val::Struct);
                r.string(b"ctx?");
                ev_ctx = r.cut();
                r.vals.push(Val::Struct);
                r.u(a.u8_, 1);
                r.s(a.i32_, 4);
                r.s(a.i64_, 8);
                r.u(a.u64_, 8);
                r.u(0xBEEF, 2);
                r.s(a.hexneg, 1);
                r.u(0o17, 2);
                r.s(a.octneg, 2);
                r.u(5, 1);
                r.s(a.binneg, 1);
                r.u(a.e1, 1);
                r.s(a.e2, 1);
                r.bytes.extend_from_slice(&a.f32_.to_le_bytes());
                r.vals.push(Val::Float(f64::from(a.f32_)));
                r.bytes.extend_from_slice(&a.f64_.to_le_bytes());
                r.vals.push(Val::Float(a.f64_));
                r.string(a.s);
                r.text_array(a.txt);
                r.u(a.txtseq.len() as u64, 1);
                r.text_array(a.txtseq);
                r.vals.push(Val::List(3));
                for v in [1, 20, 300] {
                    r.u(v, 4);
                }
                r.vals.push(Val::List(0));
                r.u(2, 1);
                r.vals.push(Val::List(2));
                for (a_, b) in [(1u64, &b"one"[..]), (2, b"two")] {
                    r.vals.push(Val::Struct);
                    r.u(a_, 1);
                    r.string(b);
                }
                r.vals.push(Val::Struct); // _estruct
                r.vals.push(Val::Struct);
                r.u(7, 1);
                r.vals.push(Val::Struct);
                r.u(8, 1);
                match a.var_str {
                    None => {
                        r.u(0, 1);
                        r.vals.push(Val::Variant(0));
                        r.u(123_456, 4);
                    }
                    Some(s) => {
                        r.u(1, 1);
                        r.vals.push(Val::Variant(1));
                        r.string(s);
                    }
                }
                payload = r.cut();
            }
        }
        decoded.push(Decoded {
            id,
            ts: *ts,
            packet_context: pc.clone(),
            header,
            stream_ctx,
            ev_ctx,
            payload,
        });
    }
    let bits = (r.bytes.len() * 8) as u64;
    r.bytes[size_at..size_at + 8].copy_from_slice(&bits.to_le_bytes());
    r.bytes[size_at + 8..size_at + 16].copy_from_slice(&bits.to_le_bytes());
    (r.bytes, decoded)
}

/// The view of one decoded event.
pub fn view<'a>(md: &'a Metadata, bytes: &'a [u8], d: &'a Decoded) -> EventView<'a> {
    let sc = &md.streams[0];
    let ec = sc.event(d.id).unwrap();
    let clock = &md.clocks[0];
    EventView {
        metadata: md,
        stream_class: sc,
        event_class: ec,
        bytes,
        clock: Some(ClockSnapshot {
            clock,
            cycles: d.ts,
            ns_from_origin: clock.offset_s * 1_000_000_000 + d.ts as i64,
        }),
        packet_context: Some(Scope {
            class: sc.packet_context.as_ref().unwrap(),
            values: &d.packet_context,
        }),
        event_header: Some(Scope {
            class: sc.event_header.as_ref().unwrap(),
            values: &d.header,
        }),
        stream_event_context: Some(Scope {
            class: sc.event_context.as_ref().unwrap(),
            values: &d.stream_ctx,
        }),
        event_context: ec.context.as_ref().map(|c| Scope {
            class: c,
            values: &d.ev_ctx,
        }),
        payload: ec.fields.as_ref().map(|c| Scope {
            class: c,
            values: &d.payload,
        }),
    }
}
