//! Per-event-class precomputation: the header bytes (`myhost my_provider:my_event: `) and each
//! scope's field classes turned into a tree of print instructions with their name prefixes
//! (separator, colors, `name = `) already rendered, so printing an event only copies bytes and
//! formats values.
//!
//! Which fields are shown follows babeltrace2 2.0.4's `ctf-meta-update-in-ir.c`: integers with a
//! role or a mapped clock are hidden unless a sequence/variant refers to them, an empty struct is
//! shown, a shown variant shows all its options. This module reads no values.
//!
//! Besides the tree (which the printer walks for scopes holding arrays, sequences or variants),
//! each event class gets a [`Program`]: the whole line after the timestamp as a flat list of
//! literal copies and value formats at fixed value indices. It works because a scope without
//! arrays, sequences or variants always has the same number of values, each at the same index:
//! hidden fields then cost nothing, and the constant bytes between two values (`, my_int = `,
//! ` }, { `, color codes) are copied at once.

use rttng_ctf::event::EventView;
use rttng_ctf::ir::{
    display_name, DisplayBase, EnvValue, EventClass, FieldClass, Metadata, StreamClass,
};
use rttng_ctf::lttng::LOGLEVEL_NAMES;

use crate::color;
use crate::fmt::{push_escaped, push_i64, push_padded, PAD_BYTES};
use crate::options::PrettyOptions;

/// Deepest field class nesting compiled; deeper classes make the scope unprintable.
pub const MAX_CLASS_DEPTH: u32 = 256;

/// How to print an integer.
#[derive(Clone, Copy, Debug)]
pub struct IntFmt {
    pub base: DisplayBase,
    pub size_bits: u32,
    pub signed: bool,
}

/// Constant bytes, stored with [`PAD_BYTES`] bytes of padding so they are appended as whole
/// fixed-size chunks (see [`push_padded`]).
#[derive(Clone, Debug, Default)]
pub struct Lit {
    padded: Box<[u8]>,
    len: usize,
}

impl Lit {
    pub fn new(bytes: &[u8]) -> Self {
        let mut padded = Vec::with_capacity(bytes.len() + PAD_BYTES);
        padded.extend_from_slice(bytes);
        padded.resize(bytes.len() + PAD_BYTES, 0);
        Lit {
            padded: padded.into(),
            len: bytes.len(),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.padded[..self.len]
    }

    #[inline(always)]
    pub fn push(&self, out: &mut Vec<u8>) {
        push_padded(out, &self.padded, 0, self.len);
    }
}

#[derive(Clone, Debug)]
pub struct Mapping {
    /// The label, escaped and quoted, with its color when colors are on.
    pub text: Box<[u8]>,
    pub ranges: Box<[(i128, i128)]>,
}

#[derive(Debug)]
pub struct Member {
    /// `" "` or `", "` then the colored `name = ` (when names are printed). Empty when hidden.
    pub prefix: Lit,
    pub node: Node,
}

#[derive(Debug)]
pub enum Kind {
    Int(IntFmt),
    Enum {
        int: IntFmt,
        mappings: Box<[Mapping]>,
    },
    Float,
    /// A string, or an array/sequence of 8-bit encoded integers shown as text.
    Str,
    /// An array or sequence of anything else.
    List(Box<Node>),
    Struct(Box<[Member]>),
    Variant(Box<[Node]>),
}

#[derive(Debug)]
pub struct Node {
    /// Whether babeltrace2 keeps (and so prints) this field.
    pub shown: bool,
    /// Whether `[i] = ` precedes array elements (the scope's names flag).
    pub list_names: bool,
    /// How many values this field always takes, when that is fixed (no array, sequence or
    /// variant inside): a hidden field is then skipped at once.
    pub value_count: Option<u32>,
    pub kind: Kind,
}

/// Whether babeltrace2 keeps a field of this class on its own (not forced by a variant).
fn natural_shown(class: &FieldClass, depth: u32) -> bool {
    if depth > MAX_CLASS_DEPTH {
        return false;
    }
    match class {
        FieldClass::Integer(_) | FieldClass::Enum(_) => class.in_ir(),
        FieldClass::Float(_) | FieldClass::String(_) => true,
        FieldClass::Struct(s) => {
            s.members.is_empty() || s.members.iter().any(|m| natural_shown(&m.class, depth + 1))
        }
        FieldClass::Variant(v) => v.options.iter().any(|o| natural_shown(&o.class, depth + 1)),
        FieldClass::Array(a) => natural_shown(&a.element, depth + 1),
        FieldClass::Sequence(s) => natural_shown(&s.element, depth + 1),
    }
}

/// Compile `class`; `forced` when babeltrace2 keeps it whatever its content (variant option).
/// `None` when the nesting exceeds [`MAX_CLASS_DEPTH`].
fn compile(class: &FieldClass, forced: bool, names: bool, color: bool, depth: u32) -> Option<Node> {
    if depth > MAX_CLASS_DEPTH {
        return None;
    }
    let shown = forced || natural_shown(class, depth);
    let kind = match class {
        FieldClass::Integer(i) => Kind::Int(IntFmt {
            base: i.base,
            size_bits: i.size_bits,
            signed: i.signed,
        }),
        FieldClass::Enum(e) => {
            let c = &e.container;
            let mappings = e
                .mappings
                .iter()
                .map(|m| {
                    let mut text = Vec::with_capacity(m.label.len() + 12);
                    if color {
                        text.extend_from_slice(color::ENUM_LABEL);
                    }
                    push_escaped(&mut text, m.label.as_bytes());
                    if color {
                        text.extend_from_slice(color::RESET);
                    }
                    Mapping {
                        text: text.into(),
                        ranges: m.ranges.clone().into(),
                    }
                })
                .collect();
            Kind::Enum {
                int: IntFmt {
                    base: c.base,
                    size_bits: c.size_bits,
                    signed: c.signed,
                },
                mappings,
            }
        }
        FieldClass::Float(_) => Kind::Float,
        FieldClass::String(_) => Kind::Str,
        FieldClass::Array(a) if a.element.is_text_element() => Kind::Str,
        FieldClass::Sequence(s) if s.element.is_text_element() => Kind::Str,
        FieldClass::Array(a) => Kind::List(Box::new(compile(
            &a.element,
            forced,
            names,
            color,
            depth + 1,
        )?)),
        FieldClass::Sequence(s) => Kind::List(Box::new(compile(
            &s.element,
            forced,
            names,
            color,
            depth + 1,
        )?)),
        FieldClass::Struct(s) => {
            let mut members = Vec::with_capacity(s.members.len());
            let mut first = true;
            for m in &s.members {
                let node = compile(&m.class, false, names, color, depth + 1)?;
                let mut prefix = Vec::new();
                if node.shown {
                    prefix.extend_from_slice(if first { b" " } else { b", " });
                    first = false;
                    if names {
                        push_name(
                            &mut prefix,
                            display_name(&m.name).as_bytes(),
                            color::FIELD_NAME,
                            color,
                        );
                    }
                }
                members.push(Member {
                    prefix: Lit::new(&prefix),
                    node,
                });
            }
            Kind::Struct(members.into())
        }
        FieldClass::Variant(v) => {
            let options = v
                .options
                .iter()
                .map(|o| compile(&o.class, shown, names, color, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            Kind::Variant(options.into())
        }
    };
    let value_count = match &kind {
        Kind::Int(_) | Kind::Enum { .. } | Kind::Float | Kind::Str => Some(1),
        Kind::List(_) | Kind::Variant(_) => None,
        Kind::Struct(members) => members.iter().try_fold(1u32, |n, m| {
            m.node.value_count.and_then(|c| n.checked_add(c))
        }),
    };
    Some(Node {
        shown,
        list_names: names,
        value_count,
        kind,
    })
}

/// Append `name = `, the name in `name_color` when colors are on.
pub fn push_name(out: &mut Vec<u8>, name: &[u8], name_color: &[u8], color: bool) {
    if color {
        out.extend_from_slice(name_color);
        out.extend_from_slice(name);
        out.extend_from_slice(color::RESET);
    } else {
        out.extend_from_slice(name);
    }
    out.extend_from_slice(b" = ");
}

/// One printed scope.
#[derive(Debug)]
pub struct CompiledScope {
    /// `stream.packet.context = ` etc. (with `--names scope`), else empty.
    pub label: Lit,
    pub node: Node,
}

/// Which scope of an event record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    PacketContext,
    StreamEventContext,
    EventContext,
    Payload,
}

impl ScopeKind {
    pub const ALL: [ScopeKind; 4] = [
        ScopeKind::PacketContext,
        ScopeKind::StreamEventContext,
        ScopeKind::EventContext,
        ScopeKind::Payload,
    ];

    fn label(self) -> &'static [u8] {
        match self {
            ScopeKind::PacketContext => b"stream.packet.context",
            ScopeKind::StreamEventContext => b"stream.event.context",
            ScopeKind::EventContext => b"event.context",
            ScopeKind::Payload => b"event.fields",
        }
    }
}

/// Compile one scope; `None` when babeltrace2 would not print it at all.
pub fn compile_scope(
    kind: ScopeKind,
    class: Option<&FieldClass>,
    opts: &PrettyOptions,
) -> Option<CompiledScope> {
    let class = class?;
    let names = match kind {
        ScopeKind::Payload => opts.names.payload,
        _ => opts.names.context,
    };
    let node = compile(class, false, names, opts.color, 0)?;
    if !node.shown {
        return None;
    }
    let mut label = Vec::new();
    if opts.names.scope {
        push_name(&mut label, kind.label(), color::NAME, opts.color);
    }
    Some(CompiledScope {
        label: Lit::new(&label),
        node,
    })
}

/// The bytes between the timestamp part and the first scope: trace fields, event name, `: `.
/// `has_clock` tells whether a timestamp part precedes (it changes the separators when header
/// names are printed).
pub fn header_bytes(
    opts: &PrettyOptions,
    metadata: &Metadata,
    event_class: &EventClass,
    trace_name: &str,
    has_clock: bool,
) -> Vec<u8> {
    let names = opts.names.header;
    let color = opts.color;
    let f = &opts.fields;
    let mut out = Vec::with_capacity(64);
    // babeltrace2 sets `start_line` to "no names" after printing a timestamp.
    let mut start_line = if has_clock { !names } else { true };
    let mut dom_print = false;
    let name_eq = |out: &mut Vec<u8>, n: &str| push_name(out, n.as_bytes(), color::NAME, color);

    // src.ctf.fs always names its traces, possibly with an empty name, which is still shown.
    if f.trace {
        if !start_line {
            out.extend_from_slice(b", ");
        }
        if names {
            name_eq(&mut out, "trace");
        }
        out.extend_from_slice(trace_name.as_bytes());
        if names {
            out.extend_from_slice(b", ");
        }
    }
    let env_str = |key: &str| metadata.env_str(key);
    if f.trace_hostname {
        if let Some(h) = env_str("hostname") {
            if !start_line {
                out.extend_from_slice(b", ");
            }
            if names {
                name_eq(&mut out, "trace:hostname");
            }
            out.extend_from_slice(h.as_bytes());
            dom_print = true;
        }
    }
    for (on, key, label) in [
        (f.trace_domain, "domain", "trace:domain"),
        (f.trace_procname, "procname", "trace:procname"),
    ] {
        if !on {
            continue;
        }
        if let Some(v) = env_str(key) {
            if !start_line {
                out.extend_from_slice(b", ");
            }
            if names {
                name_eq(&mut out, label);
            } else if dom_print {
                out.push(b':');
            }
            out.extend_from_slice(v.as_bytes());
            dom_print = true;
        }
    }
    if f.trace_vpid {
        let vpid = metadata
            .env
            .iter()
            .find(|(k, _)| k == "vpid")
            .and_then(|(_, v)| match v {
                EnvValue::Int(i) => Some(*i),
                EnvValue::Str(_) => None,
            });
        if let Some(vpid) = vpid {
            if !start_line {
                out.extend_from_slice(b", ");
            }
            if names {
                name_eq(&mut out, "trace:vpid");
            } else if dom_print {
                out.push(b':');
            }
            out.push(b'(');
            push_i64(&mut out, vpid);
            out.push(b')');
            dom_print = true;
        }
    }
    if f.loglevel {
        let level = event_class
            .loglevel
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l < LOGLEVEL_NAMES.len());
        if let Some(level) = level {
            if !start_line {
                out.extend_from_slice(b", ");
            }
            if names {
                name_eq(&mut out, "loglevel");
            } else if dom_print {
                out.push(b':');
            }
            out.extend_from_slice(b"TRACE_");
            out.extend_from_slice(LOGLEVEL_NAMES[level].as_bytes());
            out.extend_from_slice(b" (");
            push_i64(&mut out, level as i64);
            out.push(b')');
            dom_print = true;
        }
    }
    if f.emf {
        if let Some(uri) = &event_class.model_emf_uri {
            if !start_line {
                out.extend_from_slice(b", ");
            }
            if names {
                name_eq(&mut out, "model.emf.uri");
            } else if dom_print {
                out.push(b':');
            }
            out.extend_from_slice(uri.as_bytes());
            dom_print = true;
        }
    }
    if dom_print && !names {
        out.push(b' ');
    }
    if !start_line {
        out.extend_from_slice(b", ");
    }
    start_line = true;
    let _ = start_line;
    if names {
        name_eq(&mut out, "name");
    }
    if color {
        out.extend_from_slice(color::EVENT_NAME);
    }
    out.extend_from_slice(event_class.name.as_bytes());
    if color {
        out.extend_from_slice(color::RESET);
    }
    out.extend_from_slice(if names { b", " } else { b": " });
    out
}

/// Everything precomputed for one event class.
#[derive(Debug)]
pub struct CompiledEvent {
    /// Identity checks against a reused address (see `PrettyPrinter::clear_cache`).
    pub event_id: u64,
    pub stream_class: *const StreamClass,
    pub metadata: *const Metadata,
    pub has_clock: bool,
    /// The trace name the header was built with (only compared when `--fields trace`).
    pub trace_name: Box<str>,
    pub header: Lit,
    pub scopes: [Option<CompiledScope>; 4],
    /// The line after the timestamp, for events whose present scopes are `program.scope_mask`.
    pub program: Program,
}

impl CompiledEvent {
    /// Compile `ev`'s event class; the scope classes are taken from `ev` when it has values
    /// for them, else from the metadata.
    pub fn new(
        opts: &PrettyOptions,
        ev: &EventView<'_>,
        trace_name: &str,
        has_clock: bool,
    ) -> Self {
        let (metadata, stream_class, event_class) = (ev.metadata, ev.stream_class, ev.event_class);
        let classes = [
            ev.packet_context
                .map(|s| s.class)
                .or(stream_class.packet_context.as_ref()),
            ev.stream_event_context
                .map(|s| s.class)
                .or(stream_class.event_context.as_ref()),
            ev.event_context
                .map(|s| s.class)
                .or(event_class.context.as_ref()),
            ev.payload.map(|s| s.class).or(event_class.fields.as_ref()),
        ];
        let scopes = [0, 1, 2, 3].map(|i| compile_scope(ScopeKind::ALL[i], classes[i], opts));
        let header = header_bytes(opts, metadata, event_class, trace_name, has_clock);
        let program = Program::new(&header, &scopes, scope_mask(ev), opts.color);
        CompiledEvent {
            event_id: event_class.id,
            stream_class: stream_class as *const StreamClass,
            metadata: metadata as *const Metadata,
            has_clock,
            trace_name: trace_name.into(),
            header: Lit::new(&header),
            scopes,
            program,
        }
    }
}

/// Bit `i` set when scope `i` (in [`ScopeKind::ALL`] order) of `ev` has values.
#[inline]
pub fn scope_mask(ev: &EventView<'_>) -> u8 {
    u8::from(ev.packet_context.is_some())
        | u8::from(ev.stream_event_context.is_some()) << 1
        | u8::from(ev.event_context.is_some()) << 2
        | u8::from(ev.payload.is_some()) << 3
}

/// A condition on the values that a [`Program`] needs. `scope` indexes [`ScopeKind::ALL`],
/// `idx` the scope's values.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// The scope has at least `len` values (all its fields, shown or hidden).
    Len { scope: u8, len: u32 },
    /// The value is `Val::Struct`.
    Struct { scope: u8, idx: u32 },
    /// `Len` and a `Struct` at index 0 together (a scope's usual checks).
    Scope { scope: u8, len: u32 },
}

/// One step of a [`Program`]: append `pool[lit_start..lit_start + lit_len]`, then do `op`.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub lit_start: u32,
    pub lit_len: u32,
    pub op: Op,
}

/// What a [`Step`] prints after its literal. `scope` indexes [`ScopeKind::ALL`], `idx` the
/// scope's values.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Nothing (the last step).
    Nothing,
    /// A decimal integer printed as unsigned.
    Unsigned {
        scope: u8,
        idx: u32,
    },
    /// A decimal integer printed as signed.
    Signed {
        scope: u8,
        idx: u32,
    },
    /// Any other integer.
    Int {
        scope: u8,
        idx: u32,
        fmt: IntFmt,
    },
    /// An enumeration: `enums[enum_index]`.
    Enum {
        scope: u8,
        idx: u32,
        enum_index: u32,
    },
    Float {
        scope: u8,
        idx: u32,
    },
    Str {
        scope: u8,
        idx: u32,
    },
    /// A scope without fixed layout: walk its tree.
    Tree {
        scope: u8,
    },
}

/// An enumeration's print data, for [`Op::Enum`].
#[derive(Debug)]
pub struct EnumData {
    pub int: IntFmt,
    pub mappings: Box<[Mapping]>,
}

/// The line after the timestamp part (header, scopes, newline) as a list of steps.
#[derive(Debug, Default)]
pub struct Program {
    /// Which scopes of the event are present (see [`scope_mask`]); other events take the tree
    /// path.
    pub scope_mask: u8,
    /// Checked before any step runs.
    pub checks: Box<[Check]>,
    pub steps: Box<[Step]>,
    /// The literal bytes, then [`PAD_BYTES`] bytes of padding.
    pub pool: Box<[u8]>,
    pub enums: Box<[EnumData]>,
}

/// Builds a [`Program`], merging adjacent literals.
struct ProgramBuilder {
    checks: Vec<Check>,
    steps: Vec<Step>,
    pool: Vec<u8>,
    pending_start: usize,
    enums: Vec<EnumData>,
    color: bool,
}

impl ProgramBuilder {
    fn lit(&mut self, bytes: &[u8]) {
        self.pool.extend_from_slice(bytes);
    }

    /// A step: the literal bytes added since the last step, then `op`.
    fn op(&mut self, op: Op) {
        self.steps.push(Step {
            lit_start: self.pending_start as u32,
            lit_len: (self.pool.len() - self.pending_start) as u32,
            op,
        });
        self.pending_start = self.pool.len();
    }

    /// A value between its color and a reset.
    fn colored(&mut self, code: &[u8], op: Op) {
        if self.color {
            self.lit(code);
        }
        self.op(op);
        if self.color {
            self.lit(color::RESET);
        }
    }

    /// Emit a shown node of fixed layout whose first value is at `*idx`.
    fn node(&mut self, node: &Node, scope: u8, idx: &mut u32) {
        let at = *idx;
        match &node.kind {
            Kind::Int(f) => {
                let op = match (f.base, f.signed) {
                    (DisplayBase::Decimal, false) => Op::Unsigned { scope, idx: at },
                    (DisplayBase::Decimal, true) => Op::Signed { scope, idx: at },
                    _ => Op::Int {
                        scope,
                        idx: at,
                        fmt: *f,
                    },
                };
                self.colored(color::NUMBER_VALUE, op);
                *idx += 1;
            }
            Kind::Enum { int, mappings } => {
                let enum_index = self.enums.len() as u32;
                self.enums.push(EnumData {
                    int: *int,
                    mappings: mappings.clone(),
                });
                self.op(Op::Enum {
                    scope,
                    idx: at,
                    enum_index,
                });
                *idx += 1;
            }
            Kind::Float => {
                self.colored(color::NUMBER_VALUE, Op::Float { scope, idx: at });
                *idx += 1;
            }
            Kind::Str => {
                self.colored(color::STRING_VALUE, Op::Str { scope, idx: at });
                *idx += 1;
            }
            Kind::Struct(members) => {
                self.checks.push(Check::Struct { scope, idx: at });
                *idx += 1;
                self.lit(b"{");
                for m in members.iter() {
                    if m.node.shown {
                        self.lit(m.prefix.as_bytes());
                        self.node(&m.node, scope, idx);
                    } else {
                        *idx += m.node.value_count.unwrap_or(0);
                    }
                }
                self.lit(b" }");
            }
            // Not reached: only nodes with a value count are emitted.
            Kind::List(_) | Kind::Variant(_) => {}
        }
    }
}

impl Program {
    fn new(
        header: &[u8],
        scopes: &[Option<CompiledScope>; 4],
        scope_mask: u8,
        color: bool,
    ) -> Self {
        let mut b = ProgramBuilder {
            checks: Vec::new(),
            steps: Vec::new(),
            pool: Vec::new(),
            pending_start: 0,
            enums: Vec::new(),
            color,
        };
        b.lit(header);
        let mut first = true;
        for (i, cs) in scopes.iter().enumerate() {
            let Some(cs) = cs else {
                continue;
            };
            if scope_mask & (1 << i) == 0 {
                continue;
            }
            if !first {
                b.lit(b", ");
            }
            first = false;
            b.lit(cs.label.as_bytes());
            let scope = i as u8;
            match cs.node.value_count {
                Some(len) => {
                    let first_check = b.checks.len();
                    b.checks.push(Check::Len { scope, len });
                    let mut idx = 0;
                    b.node(&cs.node, scope, &mut idx);
                    if let Some(Check::Struct { idx: 0, .. }) = b.checks.get(first_check + 1) {
                        b.checks[first_check] = Check::Scope { scope, len };
                        b.checks.remove(first_check + 1);
                    }
                }
                None => b.op(Op::Tree { scope }),
            }
        }
        b.lit(b"\n");
        b.op(Op::Nothing);
        let mut pool = b.pool;
        pool.resize(pool.len() + PAD_BYTES, 0);
        Program {
            scope_mask,
            checks: b.checks.into(),
            steps: b.steps.into(),
            pool: pool.into(),
            enums: b.enums.into(),
        }
    }
}
