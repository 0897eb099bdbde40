//! TSDL emitter: turns a trace model ([`Metadata`]) into CTF 1.8 metadata text in the style
//! LTTng 2.13 writes (integer typealiases, `trace`, `env`, `clock`, clock-mapped typealiases,
//! named `packet_context` / `event_header_*` structs, then `stream` and `event` blocks), and
//! splits text into metadata packets ([`packetize_metadata`]).
//!
//! Every field class is written out in full (or through a typealias that declares exactly the
//! same integer), so parsing the text gives back the same model, except for what the resolver
//! computes (`store_slot`, `length_slot`, `tag_slot`, variant selectors, roles). It does not
//! check that the model is valid CTF: a model the parser would reject produces text babeltrace2
//! rejects too. It does no I/O.

use std::fmt::Write as _;

use crate::ir::{
    ByteOrder, ClockClass, DisplayBase, Encoding, EnvValue, EventClass, FieldClass, IntegerClass,
    Metadata, StreamClass,
};

/// Size of the metadata packet header (spec §3).
pub const METADATA_PACKET_HEADER_BYTES: usize = 37;
/// `TSDL_MAGIC`, the first field of a metadata packet.
pub const METADATA_PACKET_MAGIC: u32 = 0x75D1_1D57;
/// Smallest metadata packet [`packetize_metadata`] makes (header plus one byte of text).
pub const MIN_METADATA_PACKET_BYTES: usize = METADATA_PACKET_HEADER_BYTES + 1;
/// Largest metadata packet: its size in bits must fit the u32 `packet_size` field.
pub const MAX_METADATA_PACKET_BYTES: usize = (u32::MAX / 8) as usize;

/// Words of TSDL that cannot be an unquoted enum label.
const TSDL_KEYWORDS: &[&str] = &[
    "align",
    "callsite",
    "const",
    "char",
    "clock",
    "double",
    "enum",
    "env",
    "event",
    "floating_point",
    "float",
    "integer",
    "int",
    "long",
    "short",
    "signed",
    "stream",
    "string",
    "struct",
    "trace",
    "typealias",
    "typedef",
    "unsigned",
    "variant",
    "void",
    "_Bool",
    "_Complex",
    "_Imaginary",
];

pub use rttng_desc::{format_uuid, parse_uuid};

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !TSDL_KEYWORDS.contains(&s)
}

fn bo_word(bo: ByteOrder) -> &'static str {
    match bo {
        ByteOrder::Little => "le",
        ByteOrder::Big => "be",
    }
}

fn tabs(n: usize) -> String {
    "\t".repeat(n)
}

/// Two integer classes declare the same thing (what the resolver adds is ignored).
fn same_integer(a: &IntegerClass, b: &IntegerClass) -> bool {
    a.size_bits == b.size_bits
        && a.align_bits == b.align_bits
        && a.signed == b.signed
        && a.byte_order == b.byte_order
        && a.base == b.base
        && a.encoding == b.encoding
        && a.mapped_clock == b.mapped_clock
}

#[derive(Debug)]
struct Alias {
    name: String,
    class: IntegerClass,
}

struct Emitter<'m> {
    out: String,
    trace_bo: ByteOrder,
    aliases: Vec<Alias>,
    /// Named structs declared before the streams: name and class.
    named: Vec<(String, &'m FieldClass)>,
}

fn collect_integers<'a>(class: &'a FieldClass, out: &mut Vec<&'a IntegerClass>, depth: u32) {
    if depth > crate::encode::MAX_NESTING_DEPTH {
        return;
    }
    match class {
        FieldClass::Integer(i) => out.push(i),
        FieldClass::Enum(e) => out.push(&e.container),
        FieldClass::Float(_) | FieldClass::String(_) => {}
        FieldClass::Array(a) => collect_integers(&a.element, out, depth + 1),
        FieldClass::Sequence(s) => collect_integers(&s.element, out, depth + 1),
        FieldClass::Struct(s) => s
            .members
            .iter()
            .for_each(|m| collect_integers(&m.class, out, depth + 1)),
        FieldClass::Variant(v) => v
            .options
            .iter()
            .for_each(|o| collect_integers(&o.class, out, depth + 1)),
    }
}

fn all_scopes(md: &Metadata) -> impl Iterator<Item = &FieldClass> {
    let trace = md.trace.packet_header.iter();
    let streams = md.streams.iter().flat_map(|s| {
        s.packet_context
            .iter()
            .chain(s.event_header.iter())
            .chain(s.event_context.iter())
            .chain(
                s.events
                    .iter()
                    .flat_map(|e| e.context.iter().chain(e.fields.iter())),
            )
    });
    trace.chain(streams)
}

/// Whether the model's own integers are packed (`align = 8`, x86) rather than naturally aligned.
fn is_packed(md: &Metadata) -> bool {
    let magic = md
        .trace
        .packet_header
        .as_ref()
        .and_then(|h| h.as_struct())
        .and_then(|s| {
            s.members
                .iter()
                .find(|m| m.name == "magic")
                .map(|m| m.class.align_bits())
        });
    !matches!(magic, Some(a) if a > 8)
}

impl<'m> Emitter<'m> {
    fn alias_class(&self, size: u32, align: u32, clock: Option<&str>) -> IntegerClass {
        IntegerClass {
            size_bits: size,
            align_bits: align,
            signed: false,
            byte_order: self.trace_bo,
            base: DisplayBase::Decimal,
            encoding: Encoding::None,
            mapped_clock: clock.map(str::to_string),
            role: None,
            store_slot: None,
        }
    }

    fn alias_for(&self, ic: &IntegerClass, prefer: Option<&str>) -> Option<&str> {
        let mut matching = self.aliases.iter().filter(|a| same_integer(&a.class, ic));
        let first = matching.next()?;
        if let Some(p) = prefer {
            if first.name == p {
                return Some(&first.name);
            }
            if let Some(a) = matching.find(|a| a.name == p) {
                return Some(&a.name);
            }
        }
        Some(&first.name)
    }

    fn integer_text(&self, ic: &IntegerClass, prefer: Option<&str>) -> String {
        if let Some(a) = self.alias_for(ic, prefer) {
            return a.to_string();
        }
        let encoding = match ic.encoding {
            Encoding::None => "none",
            Encoding::Utf8 => "UTF8",
            Encoding::Ascii => "ASCII",
        };
        let base = match ic.base {
            DisplayBase::Binary => 2,
            DisplayBase::Octal => 8,
            DisplayBase::Decimal => 10,
            DisplayBase::Hexadecimal => 16,
        };
        let mut s = format!(
            "integer {{ size = {}; align = {}; signed = {}; encoding = {encoding}; base = {base};",
            ic.size_bits,
            ic.align_bits,
            u8::from(ic.signed)
        );
        if ic.byte_order != self.trace_bo {
            let _ = write!(s, " byte_order = {};", bo_word(ic.byte_order));
        }
        if let Some(c) = &ic.mapped_clock {
            let _ = write!(s, " map = clock.{c}.value;");
        }
        s.push_str(" }");
        s
    }

    /// The type part of a declaration (no name, no array dimensions), starting at column
    /// `indent` for the lines after the first.
    fn type_text(&self, class: &FieldClass, indent: usize, prefer: Option<&str>) -> String {
        match class {
            FieldClass::Integer(ic) => self.integer_text(ic, prefer),
            FieldClass::Float(fc) => {
                let mut s = format!(
                    "floating_point {{ exp_dig = {}; mant_dig = {}; align = {};",
                    fc.exp_dig, fc.mant_dig, fc.align_bits
                );
                if fc.byte_order != self.trace_bo {
                    let _ = write!(s, " byte_order = {};", bo_word(fc.byte_order));
                }
                s.push_str(" }");
                s
            }
            FieldClass::Enum(ec) => {
                let mut entries = Vec::new();
                for m in &ec.mappings {
                    let label = if is_identifier(&m.label) {
                        m.label.clone()
                    } else {
                        quote(&m.label)
                    };
                    for &(lo, hi) in &m.ranges {
                        if lo == hi {
                            entries.push(format!("{label} = {lo}"));
                        } else {
                            entries.push(format!("{label} = {lo} ... {hi}"));
                        }
                    }
                }
                format!(
                    "enum : {} {{ {} }}",
                    self.integer_text(&ec.container, None),
                    entries.join(", ")
                )
            }
            FieldClass::String(sc) => match sc.encoding {
                Encoding::Utf8 => "string".to_string(),
                Encoding::Ascii => "string { encoding = ASCII; }".to_string(),
                Encoding::None => "string { encoding = none; }".to_string(),
            },
            FieldClass::Struct(_) => {
                if let Some((name, _)) = self.named.iter().find(|(_, c)| *c == class) {
                    return format!("struct {name}");
                }
                self.struct_body(class, indent)
            }
            FieldClass::Variant(vc) => {
                let mut s = format!("variant <{}> {{\n", vc.tag_ref);
                for o in &vc.options {
                    let _ = writeln!(
                        s,
                        "{}{};",
                        tabs(indent + 1),
                        self.decl(&o.class, &o.name, indent + 1)
                    );
                }
                let _ = write!(s, "{}}}", tabs(indent));
                s
            }
            // Arrays and sequences are declarators; `decl` peels them off first.
            FieldClass::Array(a) => self.type_text(&a.element, indent, None),
            FieldClass::Sequence(sq) => self.type_text(&sq.element, indent, None),
        }
    }

    /// `struct { ... } [align(N)]` with members one per line.
    fn struct_body(&self, class: &FieldClass, indent: usize) -> String {
        let Some(st) = class.as_struct() else {
            return String::new();
        };
        let mut s = String::from("struct {");
        if st.members.is_empty() {
            s.push_str(" }");
        } else {
            s.push('\n');
            for m in &st.members {
                let _ = writeln!(
                    s,
                    "{}{};",
                    tabs(indent + 1),
                    self.decl(&m.class, &m.name, indent + 1)
                );
            }
            let _ = write!(s, "{}}}", tabs(indent));
        }
        if st.min_align_bits > 1 {
            let _ = write!(s, " align({})", st.min_align_bits);
        }
        s
    }

    /// `TYPE name[dims]`.
    fn decl(&self, class: &FieldClass, name: &str, indent: usize) -> String {
        let mut dims = String::new();
        let mut inner = class;
        let mut depth = 0;
        loop {
            match inner {
                FieldClass::Array(a) if depth < crate::encode::MAX_NESTING_DEPTH => {
                    let _ = write!(dims, "[{}]", a.length);
                    inner = &a.element;
                }
                FieldClass::Sequence(sq) if depth < crate::encode::MAX_NESTING_DEPTH => {
                    let _ = write!(dims, "[ {} ]", sq.length_ref);
                    inner = &sq.element;
                }
                _ => break,
            }
            depth += 1;
        }
        let prefer = (name == "events_discarded").then_some("unsigned long");
        format!("{} {name}{dims}", self.type_text(inner, indent, prefer))
    }

    fn named_struct_name(&mut self, class: &'m FieldClass, base: &str) {
        if self.named.iter().any(|(_, c)| *c == class) {
            return;
        }
        let mut name = base.to_string();
        let mut n = 1;
        while self.named.iter().any(|(existing, _)| *existing == name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.named.push((name, class));
    }

    fn trace_block(&mut self, md: &Metadata) {
        let mut s = String::from("trace {\n");
        let _ = writeln!(s, "\tmajor = {};", md.trace.major);
        let _ = writeln!(s, "\tminor = {};", md.trace.minor);
        if let Some(u) = &md.trace.uuid {
            let _ = writeln!(s, "\tuuid = \"{}\";", format_uuid(u));
        }
        let _ = writeln!(s, "\tbyte_order = {};", bo_word(md.trace.byte_order));
        if let Some(h) = &md.trace.packet_header {
            let _ = writeln!(s, "\tpacket.header := {};", self.struct_body(h, 1));
        }
        s.push_str("};\n\n");
        self.out.push_str(&s);
    }

    fn env_block(&mut self, env: &[(String, EnvValue)]) {
        if env.is_empty() {
            return;
        }
        self.out.push_str("env {\n");
        for (k, v) in env {
            match v {
                EnvValue::Int(i) => {
                    let _ = writeln!(self.out, "\t{k} = {i};");
                }
                EnvValue::Str(s) => {
                    let _ = writeln!(self.out, "\t{k} = {};", quote(s));
                }
            }
        }
        self.out.push_str("};\n\n");
    }

    fn clock_block(&mut self, c: &ClockClass) {
        let o = &mut self.out;
        o.push_str("clock {\n");
        let _ = writeln!(o, "\tname = {};", quote(&c.name));
        if let Some(u) = &c.uuid {
            let _ = writeln!(o, "\tuuid = \"{}\";", format_uuid(u));
        }
        if let Some(d) = &c.description {
            let _ = writeln!(o, "\tdescription = {};", quote(d));
        }
        let _ = writeln!(o, "\tfreq = {};", c.freq);
        if c.offset_s != 0 {
            let _ = writeln!(o, "\toffset_s = {};", c.offset_s);
        }
        let _ = writeln!(o, "\toffset = {};", c.offset);
        if c.precision != 0 {
            let _ = writeln!(o, "\tprecision = {};", c.precision);
        }
        if c.absolute {
            let _ = writeln!(o, "\tabsolute = true;");
        }
        o.push_str("};\n\n");
    }

    fn stream_block(&mut self, sc: &StreamClass) {
        let mut s = String::from("stream {\n");
        let _ = writeln!(s, "\tid = {};", sc.id);
        if let Some(h) = &sc.event_header {
            let _ = writeln!(s, "\tevent.header := {};", self.type_text(h, 1, None));
        }
        if let Some(c) = &sc.packet_context {
            let _ = writeln!(s, "\tpacket.context := {};", self.type_text(c, 1, None));
        }
        if let Some(c) = &sc.event_context {
            let _ = writeln!(s, "\tevent.context := {};", self.struct_body(c, 1));
        }
        s.push_str("};\n\n");
        self.out.push_str(&s);
    }

    fn event_block(&mut self, ec: &EventClass) {
        let mut s = String::from("event {\n");
        let _ = writeln!(s, "\tname = {};", quote(&ec.name));
        let _ = writeln!(s, "\tid = {};", ec.id);
        let _ = writeln!(s, "\tstream_id = {};", ec.stream_id);
        if let Some(l) = ec.loglevel {
            let _ = writeln!(s, "\tloglevel = {l};");
        }
        if let Some(u) = &ec.model_emf_uri {
            let _ = writeln!(s, "\tmodel.emf.uri = {};", quote(u));
        }
        if let Some(c) = &ec.context {
            let _ = writeln!(s, "\tcontext := {};", self.struct_body(c, 1));
        }
        if let Some(f) = &ec.fields {
            let _ = writeln!(s, "\tfields := {};", self.struct_body(f, 1));
        }
        s.push_str("};\n\n");
        self.out.push_str(&s);
    }
}

/// Name LTTng gives an event header struct of this shape.
fn header_struct_name(class: &FieldClass) -> &'static str {
    let id_bits = class
        .as_struct()
        .and_then(|s| s.members.iter().find(|m| m.name == "id"))
        .and_then(|m| match &m.class {
            FieldClass::Enum(e) => Some(e.container.size_bits),
            _ => None,
        });
    match id_bits {
        Some(5) => "event_header_compact",
        Some(16) => "event_header_large",
        _ => "event_header",
    }
}

/// The TSDL text of a whole trace model, starting with `/* CTF 1.8 */`.
pub fn emit_metadata(md: &Metadata) -> String {
    let mut e = Emitter {
        out: String::new(),
        trace_bo: md.trace.byte_order,
        aliases: Vec::new(),
        named: Vec::new(),
    };
    let mut used: Vec<&IntegerClass> = Vec::new();
    for scope in all_scopes(md) {
        collect_integers(scope, &mut used, 0);
    }
    let is_used = |c: &IntegerClass| used.iter().any(|u| same_integer(u, c));
    let packed = is_packed(md);
    let align = |size: u32| {
        if !size.is_multiple_of(8) {
            1
        } else if packed {
            8
        } else {
            size
        }
    };

    e.out.push_str("/* CTF 1.8 */\n\n");
    let mut plain = vec![
        ("uint8_t", e.alias_class(8, align(8), None)),
        ("uint16_t", e.alias_class(16, align(16), None)),
        ("uint32_t", e.alias_class(32, align(32), None)),
        ("uint64_t", e.alias_class(64, align(64), None)),
        ("unsigned long", e.alias_class(64, align(64), None)),
    ];
    let uint5 = e.alias_class(5, 1, None);
    if is_used(&uint5) {
        plain.push(("uint5_t", uint5));
        plain.push(("uint27_t", e.alias_class(27, 1, None)));
    }
    for (name, class) in plain {
        let _ = writeln!(
            e.out,
            "typealias integer {{ size = {}; align = {}; signed = false; }} := {name};",
            class.size_bits, class.align_bits
        );
        e.aliases.push(Alias {
            name: name.to_string(),
            class,
        });
    }
    e.out.push('\n');

    e.trace_block(md);
    e.env_block(&md.env);
    for c in &md.clocks {
        e.clock_block(c);
    }
    // Clock-mapped aliases, only for identifier clock names that the model uses.
    for c in md.clocks.iter().filter(|c| is_identifier(&c.name)) {
        for size in [27, 32, 64] {
            let class = e.alias_class(size, align(size), Some(&c.name));
            if !is_used(&class) {
                continue;
            }
            let name = format!("uint{size}_clock_{}_t", c.name);
            let _ = write!(
                e.out,
                "typealias integer {{\n\tsize = {size}; align = {}; signed = false;\n\tmap = clock.{}.value;\n}} := {name};\n\n",
                class.align_bits, c.name
            );
            e.aliases.push(Alias { name, class });
        }
    }
    // Named structs for what LTTng declares once and reuses.
    for sc in &md.streams {
        if let Some(c) = &sc.packet_context {
            e.named_struct_name(c, "packet_context");
        }
    }
    for sc in &md.streams {
        if let Some(h) = &sc.event_header {
            e.named_struct_name(h, header_struct_name(h));
        }
    }
    for i in 0..e.named.len() {
        let (name, class) = (e.named[i].0.clone(), e.named[i].1);
        // The body must be written out, not refer to its own name.
        let saved = std::mem::take(&mut e.named);
        let body = e.struct_body(class, 0);
        e.named = saved;
        let body = body.strip_prefix("struct ").unwrap_or(&body).to_string();
        let _ = write!(e.out, "struct {name} {body};\n\n");
    }
    for sc in &md.streams {
        e.stream_block(sc);
        for ev in &sc.events {
            e.event_block(ev);
        }
    }
    e.out
}

/// Split metadata text into LTTng metadata packets (spec §3): each `packet_bytes` long (clamped
/// to [`MIN_METADATA_PACKET_BYTES`]..=[`MAX_METADATA_PACKET_BYTES`]), a 37-byte header in
/// `byte_order`, as much text as fits, then zero padding. Empty text gives no packet.
pub fn packetize_metadata(
    text: &str,
    uuid: [u8; 16],
    byte_order: ByteOrder,
    packet_bytes: usize,
) -> Vec<u8> {
    let packet_bytes = packet_bytes.clamp(MIN_METADATA_PACKET_BYTES, MAX_METADATA_PACKET_BYTES);
    let room = packet_bytes - METADATA_PACKET_HEADER_BYTES;
    let text = text.as_bytes();
    let mut out = Vec::with_capacity(text.len().div_ceil(room) * packet_bytes);
    let u32_bytes = |v: u32| match byte_order {
        ByteOrder::Little => v.to_le_bytes(),
        ByteOrder::Big => v.to_be_bytes(),
    };
    for chunk in text.chunks(room) {
        let start = out.len();
        out.extend_from_slice(&u32_bytes(METADATA_PACKET_MAGIC));
        out.extend_from_slice(&uuid);
        out.extend_from_slice(&u32_bytes(0)); // checksum
        out.extend_from_slice(&u32_bytes(
            ((METADATA_PACKET_HEADER_BYTES + chunk.len()) * 8) as u32,
        ));
        out.extend_from_slice(&u32_bytes((packet_bytes * 8) as u32));
        out.extend_from_slice(&[0, 0, 0, 1, 8]); // compression, encryption, checksum schemes; 1.8
        out.extend_from_slice(chunk);
        out.resize(start + packet_bytes, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_form() {
        let u = [
            0x2a, 0x64, 0x22, 0xd0, 0x6c, 0xee, 0x11, 0xe0, 0x8c, 0x08, 0xcb, 0x07, 0xd7, 0xb3,
            0xa5, 0x64,
        ];
        assert_eq!(format_uuid(&u), "2a6422d0-6cee-11e0-8c08-cb07d7b3a564");
        assert_eq!(parse_uuid("2a6422d0-6cee-11e0-8c08-cb07d7b3a564"), Some(u));
        assert_eq!(parse_uuid("2a6422d0"), None);
        assert_eq!(parse_uuid("zz6422d0-6cee-11e0-8c08-cb07d7b3a564"), None);
        assert_eq!(parse_uuid("2a6422d06-cee-11e0-8c08-cb07d7b3a564"), None);
    }

    #[test]
    fn labels_are_quoted_unless_plain_identifiers() {
        assert!(is_identifier("compact"));
        assert!(!is_identifier("RANGE: 1"));
        assert!(!is_identifier("string"));
        assert!(!is_identifier("1abc"));
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
    }

    #[test]
    fn packetized_text_splits_and_pads() {
        let text = "x".repeat(50);
        let out = packetize_metadata(&text, [7; 16], ByteOrder::Big, 64);
        // 27 text bytes fit per 64-byte packet: two packets of 27 and 23 bytes.
        assert_eq!(out.len(), 128);
        assert_eq!(&out[0..4], &[0x75, 0xd1, 0x1d, 0x57]);
        assert_eq!(&out[24..28], &((37u32 + 27) * 8).to_be_bytes());
        assert_eq!(&out[28..32], &512u32.to_be_bytes());
        assert_eq!(&out[32..37], &[0, 0, 0, 1, 8]);
        assert_eq!(&out[64 + 24..64 + 28], &((37u32 + 23) * 8).to_be_bytes());
        assert!(out[64 + 37 + 23..].iter().all(|&b| b == 0));
        assert_eq!(out[64 + 37 + 22], b'x');
    }
}
