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
    TooLarge { bytes: usize, limit: usize },
    TooDeep { limit: usize },
    TooManyFieldClasses { limit: u64 },
    InvalidCharacter(char),
    UnterminatedComment,
    UnterminatedString,
    BadEscape,
    BadNumber(String),
    UnexpectedToken { found: String, expected: &'static str },
    UnexpectedEnd { expected: &'static str },
    UnknownType(String),
    DuplicateType(String),
    DuplicateAttribute(String),
    MissingAttribute { block: &'static str, name: &'static str },
    BadAttributeValue { name: String, reason: &'static str },
    UnexpectedDeclaration(&'static str),
    DuplicateMember(String),
    EnumValueOutOfRange { label: String },
    UnknownClock(String),
    DuplicateClock(String),
    MissingTrace,
    DuplicateTrace,
    DuplicateStreamClass(u64),
    UnknownStreamClass(u64),
    DuplicateEventClass { stream_id: u64, id: u64 },
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
            TooLarge { bytes, limit } => write!(f, "metadata is {bytes} bytes, above the limit of {limit}"),
            TooDeep { limit } => write!(f, "types nested deeper than {limit} levels"),
            TooManyFieldClasses { limit } => write!(f, "metadata expands to more than {limit} field classes"),
            InvalidCharacter(c) => write!(f, "invalid character {c:?}"),
            UnterminatedComment => write!(f, "unterminated comment"),
            UnterminatedString => write!(f, "unterminated string literal"),
            BadEscape => write!(f, "invalid escape sequence in a literal"),
            BadNumber(s) => write!(f, "invalid integer constant `{s}`"),
            UnexpectedToken { found, expected } => write!(f, "unexpected {found}, expected {expected}"),
            UnexpectedEnd { expected } => write!(f, "unexpected end of metadata, expected {expected}"),
            UnknownType(s) => write!(f, "unknown type name `{s}`"),
            DuplicateType(s) => write!(f, "type `{s}` declared twice in the same scope"),
            DuplicateAttribute(s) => write!(f, "duplicate attribute `{s}`"),
            MissingAttribute { block, name } => write!(f, "missing `{name}` attribute in {block}"),
            BadAttributeValue { name, reason } => write!(f, "invalid `{name}` attribute: {reason}"),
            UnexpectedDeclaration(what) => write!(f, "unexpected declaration: {what}"),
            DuplicateMember(s) => write!(f, "duplicate field or option name `{s}`"),
            EnumValueOutOfRange { label } => write!(f, "value of enum label `{label}` does not fit its container"),
            UnknownClock(s) => write!(f, "unknown clock `{s}`"),
            DuplicateClock(s) => write!(f, "clock `{s}` declared twice"),
            MissingTrace => write!(f, "missing `trace` block"),
            DuplicateTrace => write!(f, "more than one `trace` block"),
            DuplicateStreamClass(id) => write!(f, "stream class {id} declared twice"),
            UnknownStreamClass(id) => write!(f, "event refers to unknown stream class {id}"),
            DuplicateEventClass { stream_id, id } => {
                write!(f, "event class {id} declared twice in stream class {stream_id}")
            }
            UntaggedVariant => write!(f, "variant used as a field without a tag"),
            UnresolvedReference(p) => write!(f, "cannot resolve field reference `{p}`"),
            InvalidSequenceLength(p) => write!(f, "sequence length `{p}` is not an unsigned integer field"),
            InvalidVariantTag(p) => write!(f, "variant tag `{p}` is not an enum field"),
            UnmatchedVariantOption(o) => write!(f, "variant option `{o}` matches no label of its tag enum"),
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
            kind: MetadataErrorKind::TooLarge { bytes: text.len(), limit: MAX_METADATA_BYTES },
        });
    }
    let tokens = lexer::tokenize(text)?;
    let tree = parser::parse(&tokens)?;
    let last_line = tokens.last().map_or(1, |t| t.line);
    let mut lowered = lower::lower(&tree, last_line)?;
    resolve::resolve(&mut lowered)?;
    Ok(lowered)
}
