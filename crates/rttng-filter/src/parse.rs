//! The parser: tokens to a typed AST held in an arena ([`Ast`]), with lttng's grammar and
//! precedence (`filter-parser.ypp`): `||` < `&&` < `== !=` < `< <= > >=` < `|` < `^` < `&` <
//! `<< >>` < `+ -` < `* / %` < unary; all binary operators left-associative; references
//! `a.b`, `a->b`, `a[1]`, `$ctx.NAME`, `$app.PROVIDER:NAME`.
//!
//! Every node is pushed after its children, so a node's children always have smaller ids:
//! the arena is already in evaluation order and nothing walks it recursively (dropping or
//! checking a 4,000-term `||` chain needs no deep stack). Not here: type rules and operator
//! support (the checker), evaluation.

use crate::lex::{Tok, Token};
use crate::{Error, ErrorKind, MAX_DEPTH, MAX_NODES};

/// Index of a node in [`Ast::nodes`].
pub type NodeId = u32;

/// An expression: nodes in creation order (children before parents); `root` is the last.
#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    pub nodes: Vec<Node>,
}

impl Ast {
    /// The whole expression's node.
    pub fn root(&self) -> NodeId {
        self.nodes.len().saturating_sub(1) as NodeId
    }
}

/// One node and the byte position of the token that made it (an operator's own token).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: u32,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// Integer constant (parsed unsigned, then taken as signed 64-bit, as lttng does).
    Int(i64),
    Float(f64),
    /// String literal bytes, `\*` still escaped.
    Str(Box<[u8]>),
    Ref(Reference),
    Unary(UnaryOp, NodeId),
    Binary(BinaryOp, NodeId, NodeId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Plus,
    Minus,
    Not,
    BitNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BitOr,
    BitXor,
    BitAnd,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "||",
            And => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            BitOr => "|",
            BitXor => "^",
            BitAnd => "&",
            Shl => "<<",
            Shr => ">>",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
        }
    }

    /// All operators, in wire order.
    pub const ALL: [BinaryOp; 18] = {
        use BinaryOp::*;
        [
            Or, And, Eq, Ne, Lt, Le, Gt, Ge, BitOr, BitXor, BitAnd, Shl, Shr, Add, Sub, Mul, Div,
            Mod,
        ]
    };
}

impl UnaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Plus => "+",
            UnaryOp::Minus => "-",
            UnaryOp::Not => "!",
            UnaryOp::BitNot => "~",
        }
    }

    pub const ALL: [UnaryOp; 4] = [UnaryOp::Plus, UnaryOp::Minus, UnaryOp::Not, UnaryOp::BitNot];
}

/// Where a reference's first name is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// A payload field of the event.
    Payload,
    /// `$ctx.NAME`: a context value the tracer knows (procname, vpid, vtid, cpu_id, ...).
    Context,
    /// `$app.PROVIDER:NAME`: an application context (agents).
    App,
}

/// `name[i][j]` (one step of a reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    pub indices: Vec<u64>,
}

/// A field or context reference: the root, then the names (`a.b[1]` is two segments; for
/// `$ctx.NAME` and `$app.P:N` the first segment is the context's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub root: Root,
    pub path: Vec<Segment>,
}

impl Reference {
    /// The single name of a plain `NAME`, `$ctx.NAME` or `$app.P:N` (no index, no nesting).
    pub fn simple_name(&self) -> Option<&str> {
        match self.path.as_slice() {
            [s] if s.indices.is_empty() => Some(&s.name),
            _ => None,
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.root {
            Root::Payload => {}
            Root::Context => f.write_str("$ctx.")?,
            Root::App => f.write_str("$app.")?,
        }
        for (i, s) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&s.name)?;
            for x in &s.indices {
                write!(f, "[{x}]")?;
            }
        }
        Ok(())
    }
}

/// Parses tokens (ending with [`Tok::Eof`]) into an AST.
pub fn parse(tokens: &[Token]) -> Result<Ast, Error> {
    let mut p = Parser {
        toks: tokens,
        at: 0,
        depth: 0,
        nodes: Vec::new(),
    };
    p.expr()?;
    match &p.peek().tok {
        Tok::Eof => Ok(Ast { nodes: p.nodes }),
        _ => Err(p.unexpected("an operator or the end")),
    }
}

struct Parser<'t> {
    toks: &'t [Token],
    at: usize,
    /// Current nesting of parentheses and unary operators.
    depth: usize,
    nodes: Vec<Node>,
}

/// Binary precedence levels, lowest first.
const LEVELS: [&[(&str, BinaryOp)]; 10] = [
    &[("||", BinaryOp::Or)],
    &[("&&", BinaryOp::And)],
    &[("==", BinaryOp::Eq), ("!=", BinaryOp::Ne)],
    &[
        ("<", BinaryOp::Lt),
        ("<=", BinaryOp::Le),
        (">", BinaryOp::Gt),
        (">=", BinaryOp::Ge),
    ],
    &[("|", BinaryOp::BitOr)],
    &[("^", BinaryOp::BitXor)],
    &[("&", BinaryOp::BitAnd)],
    &[("<<", BinaryOp::Shl), (">>", BinaryOp::Shr)],
    &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
    &[
        ("*", BinaryOp::Mul),
        ("/", BinaryOp::Div),
        ("%", BinaryOp::Mod),
    ],
];

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof, and `at` never passes it.
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if !matches!(t.tok, Tok::Eof) {
            self.at += 1;
        }
        t
    }

    fn punct(&self) -> Option<&'static str> {
        match self.peek().tok {
            Tok::Punct(p) => Some(p),
            _ => None,
        }
    }

    fn unexpected(&self, expected: &'static str) -> Error {
        let t = self.peek();
        Error::new(
            t.pos,
            ErrorKind::UnexpectedToken {
                found: describe(&t.tok),
                expected,
            },
        )
    }

    fn push(&mut self, pos: usize, kind: NodeKind) -> Result<NodeId, Error> {
        if self.nodes.len() >= MAX_NODES {
            return Err(Error::new(pos, ErrorKind::TooManyNodes { max: MAX_NODES }));
        }
        self.nodes.push(Node {
            pos: pos as u32,
            kind,
        });
        Ok((self.nodes.len() - 1) as NodeId)
    }

    fn expr(&mut self) -> Result<NodeId, Error> {
        self.level(0)
    }

    fn level(&mut self, n: usize) -> Result<NodeId, Error> {
        let Some(ops) = LEVELS.get(n) else {
            return self.unary();
        };
        let mut left = self.level(n + 1)?;
        while let Some(&(_, op)) = self.punct().and_then(|p| ops.iter().find(|(s, _)| *s == p)) {
            let pos = self.bump().pos;
            let right = self.level(n + 1)?;
            left = self.push(pos, NodeKind::Binary(op, left, right))?;
        }
        Ok(left)
    }

    fn enter(&mut self, pos: usize) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(pos, ErrorKind::TooDeep { max: MAX_DEPTH }));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<NodeId, Error> {
        let op = match self.punct() {
            Some("+") => Some(UnaryOp::Plus),
            Some("-") => Some(UnaryOp::Minus),
            Some("!") => Some(UnaryOp::Not),
            Some("~") => Some(UnaryOp::BitNot),
            _ => None,
        };
        if let Some(op) = op {
            let pos = self.bump().pos;
            self.enter(pos)?;
            let child = self.unary()?;
            self.depth -= 1;
            return self.push(pos, NodeKind::Unary(op, child));
        }
        let t = self.peek().clone();
        match t.tok {
            Tok::Int(v) => {
                self.bump();
                self.push(t.pos, NodeKind::Int(v as i64))
            }
            Tok::Float(v) => {
                self.bump();
                self.push(t.pos, NodeKind::Float(v))
            }
            Tok::Str(s) => {
                self.bump();
                self.push(t.pos, NodeKind::Str(s.into_boxed_slice()))
            }
            Tok::Punct("(") => {
                self.bump();
                self.enter(t.pos)?;
                let e = self.expr()?;
                self.depth -= 1;
                if self.punct() != Some(")") {
                    return Err(self.unexpected("')'"));
                }
                self.bump();
                Ok(e)
            }
            Tok::Ident(_) | Tok::Global(_) => self.reference(),
            _ => Err(self.unexpected("a value, a field or '('")),
        }
    }

    fn reference(&mut self) -> Result<NodeId, Error> {
        let first = self.bump();
        let pos = first.pos;
        let (root, mut path) = match first.tok {
            Tok::Ident(name) => (Root::Payload, vec![self.segment(name)?]),
            Tok::Global(g) => {
                let root = match g.as_str() {
                    "$ctx" => Root::Context,
                    "$app" => Root::App,
                    _ => return Err(Error::new(pos, ErrorKind::UnknownRoot(g))),
                };
                if self.punct() != Some(".") {
                    return Err(Error::new(pos, ErrorKind::ExpectedContextName(g)));
                }
                self.bump();
                match self.peek().tok.clone() {
                    Tok::Ident(name) => {
                        self.bump();
                        (root, vec![self.segment(name)?])
                    }
                    _ => {
                        return Err(Error::new(
                            self.peek().pos,
                            ErrorKind::ExpectedContextName(g),
                        ))
                    }
                }
            }
            _ => return Err(Error::new(pos, ErrorKind::Internal)),
        };
        while matches!(self.punct(), Some("." | "->")) {
            self.bump();
            match self.peek().tok.clone() {
                Tok::Ident(name) => {
                    self.bump();
                    if path.len() >= crate::MAX_REFERENCE_SEGMENTS {
                        return Err(Error::new(
                            pos,
                            ErrorKind::TooDeep {
                                max: crate::MAX_REFERENCE_SEGMENTS,
                            },
                        ));
                    }
                    path.push(self.segment(name)?);
                }
                _ => return Err(self.unexpected("a field name")),
            }
        }
        self.push(pos, NodeKind::Ref(Reference { root, path }))
    }

    fn segment(&mut self, name: String) -> Result<Segment, Error> {
        let mut indices = Vec::new();
        while self.punct() == Some("[") {
            self.bump();
            let t = self.bump();
            let Tok::Int(i) = t.tok else {
                return Err(Error::new(t.pos, ErrorKind::NonConstantIndex));
            };
            if self.punct() != Some("]") {
                return Err(Error::new(self.peek().pos, ErrorKind::NonConstantIndex));
            }
            self.bump();
            if indices.len() >= crate::MAX_REFERENCE_SEGMENTS {
                return Err(Error::new(
                    t.pos,
                    ErrorKind::TooDeep {
                        max: crate::MAX_REFERENCE_SEGMENTS,
                    },
                ));
            }
            indices.push(i);
        }
        Ok(Segment { name, indices })
    }
}

/// A token as an error message shows it.
fn describe(t: &Tok) -> String {
    match t {
        Tok::Int(v) => format!("number {v}"),
        Tok::Float(v) => format!("number {v}"),
        Tok::Str(s) => format!("string \"{}\"", String::from_utf8_lossy(s)),
        Tok::Ident(s) | Tok::Global(s) => format!("'{s}'"),
        Tok::Punct(p) => format!("'{p}'"),
        Tok::Eof => "end of filter".to_owned(),
    }
}
