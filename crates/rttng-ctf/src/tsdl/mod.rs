//! TSDL (CTF 1.8 metadata text) to the resolved trace model [`crate::ir::Metadata`].
//!
//! Pipeline: [`lexer`] (text → tokens with lines) → [`parser`] (tokens → [`ast`]) → [`lower`]
//! (type names, typealiases, attributes, byte orders → `ir` classes, in babeltrace2's visiting
//! order) → [`resolve`] (sequence lengths and variant tags → value slots, variant selectors).
//!
//! It follows babeltrace2 2.0.4 (`src/plugins/ctf/common/metadata/`) where the CTF text leaves
//! room. It does not decode packets, read files, nor assign integer roles
//! ([`crate::ir::Metadata::assign_roles`] does that). Every input is bounded: text size
//! ([`MAX_METADATA_BYTES`]), syntax nesting ([`MAX_NESTING_DEPTH`]), class nesting
//! ([`MAX_FIELD_CLASS_DEPTH`]) and total class count after typealias expansion
//! ([`MAX_FIELD_CLASS_NODES`]); beyond them it returns an error, never panics.

mod ast;
mod lexer;
mod lower;
mod parser;
mod resolve;

use std::fmt;

/// Largest metadata text accepted, in bytes. Big kernel traces have a few MiB of metadata.
pub const MAX_METADATA_BYTES: usize = 32 * 1024 * 1024;

/// Deepest syntactic nesting of type specifiers (struct in struct in ...), and most array
/// dimensions on one declarator.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Deepest nesting of a field class after typealias expansion.
pub const MAX_FIELD_CLASS_DEPTH: u32 = 128;

/// Most field class nodes the whole metadata may expand to (typealiases are copied at each use,
/// so a few lines could otherwise expand exponentially).
pub const MAX_FIELD_CLASS_NODES: u64 = 1_000_000;

/// A metadata text that cannot be turned into a trace model, with the 1-based line it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataError {
    pub line: u32,
    pub kind: MetadataErrorKind,
}

impl MetadataError {
    pub fn line(&self) -> u32 {
        self.line
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataErrorKind {
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    TooDeep {
        limit: usize,
    },
    TooManyFieldClasses {
        limit: u64,
    },
    InvalidCharacter(char),
    UnterminatedComment,
    UnterminatedString,
    BadEscape,
    BadNumber(String),
    UnexpectedToken {
        found: String,
        expected: &'static str,
    },
    UnexpectedEnd {
        expected: &'static str,
    },
    UnknownType(String),
    DuplicateType(String),
    DuplicateAttribute(String),
    MissingAttribute {
        block: &'static str,
        name: &'static str,
    },
    BadAttributeValue {
        name: String,
        reason: &'static str,
    },
    UnexpectedDeclaration(&'static str),
    DuplicateMember(String),
    UnknownClock(String),
    DuplicateClock(String),
    MissingTrace,
    DuplicateTrace,
    DuplicateStreamClass(u64),
    UnknownStreamClass(u64),
    DuplicateEventClass {
        stream_id: u64,
        id: u64,
    },
    UntaggedVariant,
    UnresolvedReference(String),
    InvalidSequenceLength(String),
    InvalidVariantTag(String),
    UnmatchedVariantOption(String),
}

impl fmt::Display for MetadataErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MetadataErrorKind::*;
        match self {
            TooLarge { bytes, limit } => {
                write!(f, "metadata is {bytes} bytes, above the limit of {limit}")
            }
            TooDeep { limit } => write!(f, "types nested deeper than {limit} levels"),
            TooManyFieldClasses { limit } => {
                write!(f, "metadata expands to more than {limit} field classes")
            }
            InvalidCharacter(c) => write!(f, "invalid character {c:?}"),
            UnterminatedComment => write!(f, "unterminated comment"),
            UnterminatedString => write!(f, "unterminated string literal"),
            BadEscape => write!(f, "invalid escape sequence in a literal"),
            BadNumber(s) => write!(f, "invalid integer constant `{s}`"),
            UnexpectedToken { found, expected } => {
                write!(f, "unexpected {found}, expected {expected}")
            }
            UnexpectedEnd { expected } => {
                write!(f, "unexpected end of metadata, expected {expected}")
            }
            UnknownType(s) => write!(f, "unknown type name `{s}`"),
            DuplicateType(s) => write!(f, "type `{s}` declared twice in the same scope"),
            DuplicateAttribute(s) => write!(f, "duplicate attribute `{s}`"),
            MissingAttribute { block, name } => write!(f, "missing `{name}` attribute in {block}"),
            BadAttributeValue { name, reason } => write!(f, "invalid `{name}` attribute: {reason}"),
            UnexpectedDeclaration(what) => write!(f, "unexpected declaration: {what}"),
            DuplicateMember(s) => write!(f, "duplicate field or option name `{s}`"),
            UnknownClock(s) => write!(f, "unknown clock `{s}`"),
            DuplicateClock(s) => write!(f, "clock `{s}` declared twice"),
            MissingTrace => write!(f, "missing `trace` block"),
            DuplicateTrace => write!(f, "more than one `trace` block"),
            DuplicateStreamClass(id) => write!(f, "stream class {id} declared twice"),
            UnknownStreamClass(id) => write!(f, "event refers to unknown stream class {id}"),
            DuplicateEventClass { stream_id, id } => {
                write!(
                    f,
                    "event class {id} declared twice in stream class {stream_id}"
                )
            }
            UntaggedVariant => write!(f, "variant used as a field without a tag"),
            UnresolvedReference(p) => write!(f, "cannot resolve field reference `{p}`"),
            InvalidSequenceLength(p) => {
                write!(f, "sequence length `{p}` is not an unsigned integer field")
            }
            InvalidVariantTag(p) => write!(f, "variant tag `{p}` is not an enum field"),
            UnmatchedVariantOption(o) => {
                write!(f, "variant option `{o}` matches no label of its tag enum")
            }
        }
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metadata line {}: {}", self.line, self.kind)
    }
}

impl std::error::Error for MetadataError {}

/// Parses and resolves a whole TSDL document (the text of a plain metadata file, or the
/// concatenated packets of a packetized one; see [`crate::metadata_stream`]).
pub fn parse_metadata(text: &str) -> Result<crate::ir::Metadata, MetadataError> {
    if text.len() > MAX_METADATA_BYTES {
        return Err(MetadataError {
            line: 1,
            kind: MetadataErrorKind::TooLarge {
                bytes: text.len(),
                limit: MAX_METADATA_BYTES,
            },
        });
    }
    let tokens = lexer::tokenize(text)?;
    let tree = parser::parse(&tokens)?;
    let last_line = tokens.last().map_or(1, |t| t.line);
    let mut lowered = lower::lower(&tree, last_line)?;
    resolve::resolve(&mut lowered)?;
    Ok(lowered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::*;

    const HEAD: &str = "/* CTF 1.8 */\n";

    fn trace(byte_order: &str) -> String {
        format!("trace {{ major = 1; minor = 8; byte_order = {byte_order}; }};\n")
    }

    fn payload(md: &Metadata, event: usize) -> &StructClass {
        md.streams[0].events[event]
            .fields
            .as_ref()
            .unwrap()
            .as_struct()
            .unwrap()
    }

    fn int(fc: &FieldClass) -> &IntegerClass {
        match fc {
            FieldClass::Integer(i) => i,
            other => panic!("not an integer: {other:?}"),
        }
    }

    #[test]
    fn native_byte_order_is_the_trace_order_even_before_the_trace_block() {
        let text = format!(
            "{HEAD}typealias integer {{ size = 16; byte_order = native; }} := u16;\n{}event {{ name = e; fields := struct {{ u16 a; integer {{ size = 8; byte_order = le; }} b; integer {{ size = 8; byte_order = network; }} c; }}; }};\n",
            trace("be")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        assert_eq!(int(&f.members[0].class).byte_order, ByteOrder::Big);
        assert_eq!(int(&f.members[1].class).byte_order, ByteOrder::Little);
        assert_eq!(int(&f.members[2].class).byte_order, ByteOrder::Big);
    }

    #[test]
    fn integer_attribute_spellings() {
        let text = format!(
            "{HEAD}{}event {{ name = e; fields := struct {{
                integer {{ size = 3; }} a;
                integer {{ size = 16; signed = TRUE; base = hex; }} b;
                integer {{ size = 8; signed = false; base = o; encoding = UTF8; }} c;
                integer {{ size = 64; signed = 1; base = b; align = 64; }} d;
                integer {{ size = 8; base = X; encoding = ASCII; }} e;
                integer {{ size = 8; base = u; }} f;
            }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        let got: Vec<(u32, u32, bool, DisplayBase, Encoding)> = f
            .members
            .iter()
            .map(|m| {
                let i = int(&m.class);
                (i.size_bits, i.align_bits, i.signed, i.base, i.encoding)
            })
            .collect();
        use DisplayBase::*;
        assert_eq!(
            got,
            vec![
                (3, 1, false, Decimal, Encoding::None),
                (16, 8, true, Hexadecimal, Encoding::None),
                (8, 8, false, Octal, Encoding::Utf8),
                (64, 64, true, Binary, Encoding::None),
                (8, 8, false, Hexadecimal, Encoding::Ascii),
                (8, 8, false, Decimal, Encoding::None),
            ]
        );
    }

    #[test]
    fn enums_auto_increment_ranges_negatives_and_int_container() {
        let text = format!(
            "{HEAD}typealias integer {{ size = 32; signed = true; }} := int;\n{}event {{ name = e; fields := struct {{
                enum {{ A, B = 5, C, \"D E\" = -3 ... -1, F }} x;
                enum : integer {{ size = 8; }} {{ G = 1 ... 5, H }} y;
            }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        let FieldClass::Enum(x) = &f.members[0].class else {
            panic!()
        };
        assert!(x.container.signed);
        assert_eq!(x.container.size_bits, 32);
        let ranges: Vec<(&str, Vec<(i128, i128)>)> = x
            .mappings
            .iter()
            .map(|m| (m.label.as_str(), m.ranges.clone()))
            .collect();
        assert_eq!(
            ranges,
            vec![
                ("A", vec![(0, 0)]),
                ("B", vec![(5, 5)]),
                ("C", vec![(6, 6)]),
                ("D E", vec![(-3, -1)]),
                ("F", vec![(0, 0)])
            ]
        );
        let FieldClass::Enum(y) = &f.members[1].class else {
            panic!()
        };
        assert_eq!(y.labels_for(6).collect::<Vec<_>>(), vec!["H"]);
        assert_eq!(y.labels_for(3).collect::<Vec<_>>(), vec!["G"]);
    }

    #[test]
    fn arrays_multi_dimensional_and_struct_align() {
        let text = format!(
            "{HEAD}typealias integer {{ size = 8; }} := u8;\n{}struct s {{ u8 a; }} align(32);\nevent {{ name = e; fields := struct {{ u8 m[2][3]; struct s st; struct {{ }} align(64) pad; }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        let FieldClass::Array(outer) = &f.members[0].class else {
            panic!()
        };
        assert_eq!(outer.length, 2);
        let FieldClass::Array(inner) = &*outer.element else {
            panic!()
        };
        assert_eq!(inner.length, 3);
        assert_eq!(int(&inner.element).size_bits, 8);
        let FieldClass::Struct(st) = &f.members[1].class else {
            panic!()
        };
        assert_eq!(st.min_align_bits, 32);
        assert_eq!(f.members[1].class.align_bits(), 32);
        assert_eq!(f.members[2].class.align_bits(), 64);
    }

    #[test]
    fn absolute_and_relative_references_get_shared_slots() {
        let text = format!(
            "{HEAD}typealias integer {{ size = 8; }} := u8;\n{}stream {{ event.context := struct {{ u8 len; }}; }};
event {{ name = a; id = 0; context := struct {{ u8 n; }}; fields := struct {{
    u8 x[stream.event.context.len];
    u8 y[event.context.n];
    struct {{ u8 inner; u8 z[inner]; }} s;
    u8 w[stream.event.context.len];
    u8 v[event.fields.s.inner];
}}; }};
event {{ name = b; id = 1; fields := struct {{ u8 k; struct {{ u8 q[k]; }} t; }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let sc = &md.streams[0];
        let len_slot = int(&sc
            .event_context
            .as_ref()
            .unwrap()
            .as_struct()
            .unwrap()
            .members[0]
            .class)
        .store_slot;
        let n_slot = int(&sc.events[0]
            .context
            .as_ref()
            .unwrap()
            .as_struct()
            .unwrap()
            .members[0]
            .class)
        .store_slot;
        let f = payload(&md, 0);
        let seq = |fc: &FieldClass| match fc {
            FieldClass::Sequence(s) => s.length_slot,
            other => panic!("{other:?}"),
        };
        assert_eq!(Some(seq(&f.members[0].class)), len_slot);
        assert_eq!(Some(seq(&f.members[1].class)), n_slot);
        assert_eq!(seq(&f.members[0].class), seq(&f.members[3].class));
        let FieldClass::Struct(s) = &f.members[2].class else {
            panic!()
        };
        assert_eq!(
            int(&s.members[0].class).store_slot,
            Some(seq(&s.members[1].class))
        );
        assert_eq!(seq(&f.members[4].class), seq(&s.members[1].class));
        // Event b: a relative name found in the enclosing struct.
        let g = payload(&md, 1);
        let FieldClass::Struct(t) = &g.members[1].class else {
            panic!()
        };
        assert_eq!(
            int(&g.members[0].class).store_slot,
            Some(seq(&t.members[0].class))
        );
        assert_eq!(md.slot_count, 4);
        let mut slots = vec![
            len_slot.unwrap(),
            n_slot.unwrap(),
            seq(&s.members[1].class),
            seq(&t.members[0].class),
        ];
        slots.sort();
        assert_eq!(slots, vec![0, 1, 2, 3]);
    }

    #[test]
    fn named_variant_tagged_at_use_and_typedef() {
        let text = format!(
            "{HEAD}{}typedef integer {{ size = 8; }} byte_t;
enum kind : byte_t {{ _a, _b = 4 ... 6 }};
variant choice {{ string _a; byte_t _b; }};
event {{ name = e; fields := struct {{ enum kind k; variant choice <k> v; }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        let FieldClass::Variant(v) = &f.members[1].class else {
            panic!()
        };
        assert_eq!(v.tag_ref, "k");
        assert_eq!(v.selector, vec![(0, 0, 0), (4, 6, 1)]);
        assert_eq!(v.select(5), Some(1));
        assert_eq!(v.select(2), None);
        let FieldClass::Enum(k) = &f.members[0].class else {
            panic!()
        };
        assert_eq!(k.container.store_slot, Some(v.tag_slot));
    }

    #[test]
    fn blocks_env_clock_event_and_stream_defaults() {
        let text = format!(
            "{HEAD}// C++ comment\r\n{}env {{ hostname = \"h\\tx\"; n = -3; }};
clock {{ name = \"c\"; freq = 1000; offset_s = -5; offset = 7; precision = 2; absolute = TRUE; }};
callsite {{ name = \"x\"; func = \"f\"; file = \"a.c\"; line = 3; ip = 0x10; }};
stream {{ id = 3; }};
event {{ name = \"n\"; loglevel = 4; model.emf.uri = \"u\"; }};
event {{ name = m; id = 9; stream_id = 3; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        assert_eq!(
            md.env,
            vec![
                ("hostname".into(), EnvValue::Str("h\tx".into())),
                ("n".into(), EnvValue::Int(-3))
            ]
        );
        let c = md.clock("c").unwrap();
        assert_eq!(
            (c.freq, c.offset_s, c.offset, c.precision, c.absolute),
            (1000, -5, 7, 2, true)
        );
        assert_eq!(md.streams.len(), 1);
        let s = &md.streams[0];
        assert_eq!(s.id, 3);
        assert_eq!(s.events.len(), 2);
        assert_eq!(
            (s.events[0].id, s.events[0].stream_id, s.events[0].loglevel),
            (0, 3, Some(4))
        );
        assert_eq!(s.events[0].model_emf_uri.as_deref(), Some("u"));
        assert_eq!(s.events[1].id, 9);
    }

    #[test]
    fn stream_and_event_id_rules() {
        let base = format!("{HEAD}{}", trace("le"));
        let e = parse_metadata(&format!(
            "{base}stream {{ id = 1; }};\nstream {{ id = 1; }};\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.kind),
            (4, MetadataErrorKind::DuplicateStreamClass(1))
        );
        let e =
            parse_metadata(&format!("{base}stream {{ id = 1; }};\nstream {{ }};\n")).unwrap_err();
        assert_eq!(e.line, 4);
        let e = parse_metadata(&format!(
            "{base}stream {{ id = 0; }};\nstream {{ id = 1; }};\nevent {{ name = e; }};\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.kind,
            MetadataErrorKind::MissingAttribute {
                block: "event",
                name: "stream_id"
            }
        );
        let e =
            parse_metadata(&format!("{base}event {{ name = e; stream_id = 4; }};\n")).unwrap_err();
        assert_eq!(e.kind, MetadataErrorKind::UnknownStreamClass(4));
        let e = parse_metadata(&format!(
            "{base}event {{ name = e; }};\nevent {{ name = f; }};\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.kind),
            (
                4,
                MetadataErrorKind::MissingAttribute {
                    block: "event",
                    name: "id"
                }
            )
        );
        let e = parse_metadata(&format!(
            "{base}event {{ name = e; id = 2; }};\nevent {{ name = f; id = 2; }};\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.kind),
            (
                4,
                MetadataErrorKind::DuplicateEventClass {
                    stream_id: 0,
                    id: 2
                }
            )
        );
    }

    #[test]
    fn floats_and_strings() {
        let text = format!(
            "{HEAD}{}event {{ name = e; fields := struct {{ floating_point {{ exp_dig = 8; mant_dig = 24; }} f; floating_point {{ exp_dig = 11; mant_dig = 53; align = 64; byte_order = be; }} d; string {{ encoding = ASCII; }} s; }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        assert_eq!(
            f.members[0].class,
            FieldClass::Float(FloatClass {
                exp_dig: 8,
                mant_dig: 24,
                align_bits: 8,
                byte_order: ByteOrder::Little
            })
        );
        assert_eq!(
            f.members[1].class,
            FieldClass::Float(FloatClass {
                exp_dig: 11,
                mant_dig: 53,
                align_bits: 64,
                byte_order: ByteOrder::Big
            })
        );
        assert_eq!(
            f.members[2].class,
            FieldClass::String(StringClass {
                encoding: Encoding::Ascii
            })
        );
    }

    #[test]
    fn scopes_shadow_and_pointer_aliases() {
        let text = format!(
            "{HEAD}typealias integer {{ size = 32; }} := void *;\ntypealias integer {{ size = 8; }} := t;\n{}event {{ name = e; fields := struct {{
                typealias integer {{ size = 16; }} := t;
                t a;
                void *p;
                struct {{ t inner; }} s;
            }}; }};\nevent {{ name = f; id = 1; fields := struct {{ t b; }}; }};\n",
            trace("le")
        );
        let md = parse_metadata(&text).unwrap();
        let f = payload(&md, 0);
        assert_eq!(int(&f.members[0].class).size_bits, 16);
        assert_eq!(int(&f.members[1].class).size_bits, 32);
        let FieldClass::Struct(s) = &f.members[2].class else {
            panic!()
        };
        assert_eq!(int(&s.members[0].class).size_bits, 16);
        assert_eq!(int(&payload(&md, 1).members[0].class).size_bits, 8);
    }
}
