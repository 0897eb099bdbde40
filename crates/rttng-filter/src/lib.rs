//! LTTng's filter expression language (`--filter`), for every domain of rttng.
//!
//! [`compile`] turns the text into a checked [`Program`] (lexer → parser → typed AST in an
//! arena → lttng-tools' compile-time checks). A [`Program`] is bound once per event class
//! ([`Program::bind`], given a [`Schema`] that resolves field and context names) into a
//! [`Filter`], which [`Filter::matches`] evaluates against one event's values ([`Event`])
//! without allocating. [`Program::encode`]/[`Program::decode`] carry a program between
//! processes (the decoder is bounded and re-checks everything).
//!
//! The semantics are LTTng 2.13's (lttng-tools `src/common/filter/`, lttng-ust's bytecode
//! interpreter; notes in `../shared/spec/filter-expression-language.md`): integers are
//! signed 64-bit, an integer meets a float as a double, strings compare like C's `strcmp`
//! with `*` globs, and anything wrong for an event class — a missing field, a string
//! compared with a number, a bitwise operator on a float — makes the filter reject every
//! event of that class, even inside `||`. A shift count outside `0..64` rejects that event.
//! Dynamic values (`$app.PROVIDER:NAME`, [`FieldType::Dynamic`]) are typed per event: the
//! same mistakes with them, or no value at all, reject just that event (lttng-ust's
//! interpreter decides them at run time).
//!
//! Not here: I/O, the tracer's field values (the caller implements [`Event`]), the kernel
//! translation to tracefs filters (rttng-kernel).
#![forbid(unsafe_code)]

mod bind;
mod check;
pub mod lex;
pub mod parse;
pub mod strings;
mod wire;

pub use bind::{Event, FieldType, Filter, Schema, Value};
pub use parse::{Ast, BinaryOp, Node, NodeId, NodeKind, Reference, Root, Segment, UnaryOp};
pub use wire::DecodeError;

/// Longest filter text, in bytes (lttng's `LTTNG_FILTER_MAX_LEN` minus the NUL).
pub const MAX_EXPRESSION_BYTES: usize = 65_535;
/// Most AST nodes (values, references and operators) in one filter.
pub const MAX_NODES: usize = 4_096;
/// Deepest nesting of parentheses and unary operators while parsing, and of the expression
/// tree once `&&`/`||` chains are flattened (which bounds the evaluator's recursion).
pub const MAX_DEPTH: usize = 64;
/// Most names in one reference (`a.b.c`), and most indexes on one name.
pub const MAX_REFERENCE_SEGMENTS: usize = 16;
/// Longest encoded program, in bytes (a longer one is refused by [`Program::encode_bounded`]
/// and by the decoder).
pub const MAX_PROGRAM_BYTES: usize = 65_536;

/// A filter that cannot be compiled: what and where (byte offset in the text).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// Byte offset of the offending token in the filter text.
    pub pos: usize,
    pub kind: ErrorKind,
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    Empty,
    TooLong {
        bytes: usize,
        max: usize,
    },
    TooManyNodes {
        max: usize,
    },
    TooDeep {
        max: usize,
    },
    UnexpectedChar(char),
    UnterminatedString,
    /// The text `ESCSEQ` in a string: lttng 2.13's lexer makes it an escape-sequence token,
    /// which its grammar refuses.
    EscapeSequence,
    /// A backslash before anything but `\` or `*`.
    UnsupportedEscape,
    BadNumber(String),
    UnexpectedToken {
        found: String,
        expected: &'static str,
    },
    /// `$NAME` other than `$ctx` and `$app`.
    UnknownRoot(String),
    ExpectedContextName(String),
    NonConstantIndex,
    /// `+ - * / %` between two operands.
    UnsupportedOperator(&'static str),
    UnaryOnString(&'static str),
    StringOperand(&'static str),
    FloatOperand(&'static str),
    TypeMismatch(&'static str),
    StringRoot,
    FloatRoot,
    TwoGlobs,
    GlobOperator(&'static str),
    Internal,
}

impl Error {
    pub(crate) fn new(pos: usize, kind: ErrorKind) -> Self {
        Error { pos, kind }
    }

    /// The filter text and a caret under the offending position, for a terminal.
    pub fn caret(&self, src: &str) -> String {
        let col = src
            .get(..self.pos.min(src.len()))
            .map_or(self.pos, |s| s.chars().count());
        format!("{}\n{}^", src.replace(['\n', '\t'], " "), " ".repeat(col))
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ErrorKind::*;
        match self {
            Empty => write!(f, "empty filter"),
            TooLong { bytes, max } => write!(f, "filter of {bytes} bytes is longer than {max}"),
            TooManyNodes { max } => write!(f, "filter has more than {max} terms"),
            TooDeep { max } => write!(f, "filter nesting is deeper than {max}"),
            UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            UnterminatedString => write!(f, "unterminated string"),
            EscapeSequence => write!(f, "escape sequences are not supported yet"),
            UnsupportedEscape => {
                write!(
                    f,
                    "unsupported escape character (only \\\\ and \\* are allowed)"
                )
            }
            BadNumber(s) => write!(f, "invalid number {s:?}"),
            UnexpectedToken { found, expected } => {
                write!(f, "unexpected {found}, expected {expected}")
            }
            UnknownRoot(s) => write!(f, "unknown root '{s}' (expected $ctx or $app)"),
            ExpectedContextName(s) => write!(f, "expecting a context name after '{s}.'"),
            NonConstantIndex => write!(f, "expecting a constant integer index"),
            UnsupportedOperator(op) => write!(f, "binary operation '{op}' not supported"),
            UnaryOnString(op) => write!(f, "unary operation '{op}' not allowed on a string"),
            StringOperand(op) => write!(f, "operation '{op}' cannot have a string operand"),
            FloatOperand(op) => {
                write!(
                    f,
                    "bitwise operation '{op}' cannot have a floating point operand"
                )
            }
            TypeMismatch(op) => write!(f, "binary operation '{op}' operand type mismatch"),
            StringRoot => write!(f, "a string cannot be the whole filter"),
            FloatRoot => write!(f, "a floating point value cannot be the whole filter"),
            TwoGlobs => write!(f, "cannot compare two globbing patterns"),
            GlobOperator(op) => write!(
                f,
                "only '==' and '!=' are allowed with a globbing pattern, not '{op}'"
            ),
            Internal => write!(f, "internal error"),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.pos)
    }
}

impl std::error::Error for Error {}

/// A checked filter, independent of any event class.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Nodes in evaluation order (glob literals normalized).
    ast: Ast,
}

/// Compiles filter text: lexes, parses and applies every compile-time check of lttng-tools.
pub fn compile(src: &str) -> Result<Program, Error> {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Err(Error::new(
            MAX_EXPRESSION_BYTES,
            ErrorKind::TooLong {
                bytes: src.len(),
                max: MAX_EXPRESSION_BYTES,
            },
        ));
    }
    if src.contains('\0') {
        let pos = src.find('\0').unwrap_or(0);
        return Err(Error::new(pos, ErrorKind::UnexpectedChar('\0')));
    }
    let tokens = lex::tokenize(src, MAX_NODES * 4)?;
    if tokens.len() == 1 {
        return Err(Error::new(0, ErrorKind::Empty));
    }
    let mut ast = parse::parse(&tokens)?;
    check::check(&mut ast)?;
    Ok(Program { ast })
}

impl Program {
    /// The checked expression.
    pub fn ast(&self) -> &Ast {
        &self.ast
    }

    /// Every field and context the filter reads.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.ast.nodes.iter().filter_map(|n| match &n.kind {
            NodeKind::Ref(r) => Some(r),
            _ => None,
        })
    }

    /// The compact wire form (see `docs/protocols/control.md`, "Filter programs").
    pub fn encode(&self) -> Vec<u8> {
        wire::encode(&self.ast)
    }

    /// [`Program::encode`], or `None` when the encoding exceeds [`MAX_PROGRAM_BYTES`].
    pub fn encode_bounded(&self) -> Option<Vec<u8>> {
        Some(self.encode()).filter(|b| b.len() <= MAX_PROGRAM_BYTES)
    }

    /// Decodes and re-checks a program from another process. Bounded by
    /// [`MAX_PROGRAM_BYTES`], [`MAX_NODES`] and [`MAX_DEPTH`]; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Program, DecodeError> {
        let mut ast = wire::decode(bytes)?;
        check::check(&mut ast).map_err(DecodeError::Check)?;
        Ok(Program { ast })
    }

    /// Binds the program to one event class.
    pub fn bind(&self, schema: &dyn Schema) -> Filter {
        bind::bind(&self.ast, schema)
    }
}
