//! The TSDL syntax tree: what the parser builds and the lowering pass reads.
//!
//! It mirrors the text (names unresolved, byte orders unresolved, attributes as written); it
//! holds no meaning of its own. Every node that can be wrong keeps the line it came from.

/// A right-hand side of `key = value;`, or an enum value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// Signed so that `-5` fits; literals are at most `u64::MAX`.
    Int(i128),
    Str(String),
    /// A word or dotted words: `le`, `true`, `clock.monotonic.value`, `func_enter`.
    Path(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Attr {
    /// Dotted key as written: `size`, `packet.header`, `model.emf.uri`.
    pub key: String,
    pub value: AttrValue,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AttrValue {
    Value(Value),
    /// `key := type;`
    Type(TypeRef),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TypeRef {
    pub spec: TypeSpec,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TypeSpec {
    Integer(Vec<Attr>),
    Float(Vec<Attr>),
    String(Vec<Attr>),
    Enum {
        name: Option<String>,
        container: Option<Box<TypeRef>>,
        body: Option<Vec<Enumerator>>,
    },
    Struct {
        name: Option<String>,
        body: Option<Vec<Entry>>,
        align: Option<Value>,
    },
    Variant {
        name: Option<String>,
        tag: Option<String>,
        body: Option<Vec<Entry>>,
    },
    /// A type name as a list of words: `uint32_t`, `unsigned long`, `void`.
    Named(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Enumerator {
    pub label: String,
    /// No value: the previous end plus one. One value, or an inclusive range.
    pub values: Option<(Value, Option<Value>)>,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Dim {
    Len(u64),
    /// A sequence length reference, as written.
    Ref(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Declarator {
    pub pointers: u32,
    pub name: Option<String>,
    /// Outermost first: `x[2][3]` is `[Len(2), Len(3)]`.
    pub dims: Vec<Dim>,
    pub line: u32,
}

/// A member of a struct or variant body, or a type declaration inside any scope.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Entry {
    Field { ty: TypeRef, decls: Vec<Declarator> },
    Decl(TypeDecl),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TypeDecl {
    /// `typealias TARGET := NAME;` (NAME as the words and pointer count it is used with).
    Alias {
        target: TypeRef,
        name: String,
        line: u32,
    },
    /// `typedef TYPE a, b[2];`
    Typedef { ty: TypeRef, decls: Vec<Declarator> },
    /// `struct name {...};`, `enum name {...};`, `variant name {...};`
    Bare(TypeRef),
}

/// An entry of a `trace`/`stream`/`event`/`clock`/`env`/`callsite` block.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BlockEntry {
    Attr(Attr),
    Decl(TypeDecl),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Trace,
    Stream,
    Event,
    Clock,
    Env,
    Callsite,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TopLevel {
    Block {
        kind: BlockKind,
        entries: Vec<BlockEntry>,
        line: u32,
        end_line: u32,
    },
    Decl(TypeDecl),
}

/// The lookup key of a named type: its words joined by spaces, then ` *` per pointer level.
pub(crate) fn type_name_key(words: &[String], pointers: u32) -> String {
    let mut key = words.join(" ");
    for _ in 0..pointers {
        key.push_str(" *");
    }
    key
}
