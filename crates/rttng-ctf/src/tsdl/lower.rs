//! Lowering: the TSDL syntax tree to unresolved `ir` classes.
//!
//! Expands typealiases, typedefs and named struct/enum/variant declarations (each use gets its
//! own copy), checks and applies attributes, resolves `byte_order = native` to the trace's byte
//! order, and groups event classes into stream classes. It visits the blocks in babeltrace2's
//! order (env, the trace byte order, clocks, root type declarations, trace, streams, events), so
//! the first error reported is the one babeltrace2 reports.
//!
//! It does not resolve sequence lengths or variant tags ([`super::resolve`] does). Until then,
//! `SequenceClass::length_slot` and `VariantClass::tag_slot` hold the metadata line where the
//! sequence or variant was written, so the resolver can report errors at the right line.

use std::collections::{HashMap, HashSet};

use super::ast::*;
use super::{MetadataError, MetadataErrorKind, MAX_FIELD_CLASS_DEPTH, MAX_FIELD_CLASS_NODES};
use crate::ir::*;

type Result<T> = std::result::Result<T, MetadataError>;

fn err<T>(line: u32, kind: MetadataErrorKind) -> Result<T> {
    Err(MetadataError { line, kind })
}

/// A block lacks a mandatory attribute.
fn missing<T>(line: u32, block: &'static str, name: &'static str) -> Result<T> {
    err(line, MetadataErrorKind::MissingAttribute { block, name })
}

fn bad<T>(line: u32, name: &str, reason: &'static str) -> Result<T> {
    err(
        line,
        MetadataErrorKind::BadAttributeValue {
            name: name.to_string(),
            reason,
        },
    )
}

/// A lowered class with the facts needed to bound expansion.
#[derive(Clone)]
struct Lowered {
    class: FieldClass,
    depth: u32,
    nodes: u64,
}

impl Lowered {
    fn leaf(class: FieldClass) -> Lowered {
        Lowered {
            class,
            depth: 1,
            nodes: 1,
        }
    }
}

/// Lowered members of a struct or options of a variant: names and classes, depth, node count.
type Members = (Vec<(String, FieldClass)>, u32, u64);

struct Lower {
    /// Type declaration scopes, innermost last. Keys: alias names (`unsigned long`, `void *`),
    /// `struct NAME`, `enum NAME`, `variant NAME`.
    scopes: Vec<HashMap<String, Lowered>>,
    trace_byte_order: ByteOrder,
    clock_names: Vec<String>,
    /// (stream class index, event class id) of every event class so far.
    event_ids: HashSet<(usize, u64)>,
    /// Field class nodes produced so far (bounded by `MAX_FIELD_CLASS_NODES`).
    nodes: u64,
}

/// Attributes of one block, checked for duplicates.
struct Attrs<'a> {
    list: Vec<&'a Attr>,
}

impl<'a> Attrs<'a> {
    fn new(attrs: impl Iterator<Item = &'a Attr>) -> Result<Attrs<'a>> {
        let list: Vec<&Attr> = attrs.collect();
        let mut seen = HashSet::new();
        for a in &list {
            if !seen.insert(a.key.as_str()) {
                return err(a.line, MetadataErrorKind::DuplicateAttribute(a.key.clone()));
            }
        }
        Ok(Attrs { list })
    }

    fn get(&self, key: &str) -> Option<&'a Attr> {
        self.list.iter().copied().find(|a| a.key == key)
    }
}

fn value_of(a: &Attr) -> Result<&Value> {
    match &a.value {
        AttrValue::Value(v) => Ok(v),
        AttrValue::Type(_) => bad(a.line, &a.key, "expected a value, found a type"),
    }
}

fn attr_u64(a: &Attr) -> Result<u64> {
    match value_of(a)? {
        Value::Int(v) => {
            u64::try_from(*v).or_else(|_| bad(a.line, &a.key, "expected an unsigned integer"))
        }
        _ => bad(a.line, &a.key, "expected an unsigned integer"),
    }
}

fn attr_i64(a: &Attr) -> Result<i64> {
    match value_of(a)? {
        Value::Int(v) => i64::try_from(*v).or_else(|_| bad(a.line, &a.key, "integer out of range")),
        _ => bad(a.line, &a.key, "expected an integer"),
    }
}

/// A string value: a string literal, or a bare word (babeltrace2 accepts `name = func_enter;`).
fn attr_str(a: &Attr) -> Result<String> {
    match value_of(a)? {
        Value::Str(s) | Value::Path(s) => Ok(s.clone()),
        Value::Int(_) => bad(a.line, &a.key, "expected a string"),
    }
}

fn attr_bool(a: &Attr) -> Result<bool> {
    match value_of(a)? {
        // babeltrace2 takes any non-zero integer as true.
        Value::Int(0) => Ok(false),
        Value::Int(_) => Ok(true),
        Value::Path(s) | Value::Str(s) => match s.as_str() {
            "true" | "TRUE" | "True" => Ok(true),
            "false" | "FALSE" | "False" => Ok(false),
            _ => bad(a.line, &a.key, "expected a boolean"),
        },
    }
}

fn attr_align(a: &Attr) -> Result<u32> {
    let v = attr_u64(a)?;
    if v == 0 || !v.is_power_of_two() || v > (1 << 31) {
        return bad(a.line, &a.key, "expected a power of two");
    }
    Ok(v as u32)
}

fn attr_uuid(a: &Attr) -> Result<[u8; 16]> {
    match value_of(a)? {
        Value::Str(s) => {
            crate::emit::parse_uuid(s).map_or_else(|| bad(a.line, &a.key, "expected a UUID"), Ok)
        }
        _ => bad(a.line, &a.key, "expected a UUID string"),
    }
}

fn attr_byte_order(a: &Attr, native: ByteOrder) -> Result<ByteOrder> {
    match value_of(a)? {
        Value::Path(s) | Value::Str(s) => match s.as_str() {
            "le" | "little" => Ok(ByteOrder::Little),
            "be" | "big" | "network" => Ok(ByteOrder::Big),
            "native" => Ok(native),
            _ => bad(a.line, &a.key, "expected `le`, `be`, `network` or `native`"),
        },
        Value::Int(_) => bad(a.line, &a.key, "expected a byte order"),
    }
}

fn attr_encoding(a: &Attr) -> Result<Encoding> {
    match value_of(a)? {
        Value::Path(s) | Value::Str(s) => match s.as_str() {
            "none" | "NONE" => Ok(Encoding::None),
            "UTF8" | "utf8" | "UTF-8" | "utf-8" => Ok(Encoding::Utf8),
            "ASCII" | "ascii" => Ok(Encoding::Ascii),
            _ => bad(a.line, &a.key, "expected `none`, `UTF8` or `ASCII`"),
        },
        Value::Int(_) => bad(a.line, &a.key, "expected an encoding"),
    }
}

fn attr_base(a: &Attr) -> Result<DisplayBase> {
    let base = match value_of(a)? {
        Value::Int(2) => DisplayBase::Binary,
        Value::Int(8) => DisplayBase::Octal,
        Value::Int(10) => DisplayBase::Decimal,
        Value::Int(16) => DisplayBase::Hexadecimal,
        Value::Path(s) | Value::Str(s) => match s.as_str() {
            "decimal" | "dec" | "d" | "i" | "u" => DisplayBase::Decimal,
            "hexadecimal" | "hex" | "x" | "X" | "p" => DisplayBase::Hexadecimal,
            "octal" | "oct" | "o" => DisplayBase::Octal,
            "binary" | "b" => DisplayBase::Binary,
            _ => return bad(a.line, &a.key, "unknown base"),
        },
        Value::Int(_) => return bad(a.line, &a.key, "expected 2, 8, 10 or 16"),
    };
    Ok(base)
}

/// The trace block's `byte_order`, found before anything else is visited (babeltrace2 does the
/// same, because typealiases using `native` may come before the trace block).
fn find_trace_byte_order(tree: &[TopLevel], last_line: u32) -> Result<ByteOrder> {
    let mut traces = tree.iter().filter_map(|t| match t {
        TopLevel::Block {
            kind: BlockKind::Trace,
            entries,
            line,
            end_line,
        } => Some((entries, *line, *end_line)),
        _ => None,
    });
    let Some((entries, _, end_line)) = traces.next() else {
        return err(last_line, MetadataErrorKind::MissingTrace);
    };
    if let Some((_, line, _)) = traces.next() {
        return err(line, MetadataErrorKind::DuplicateTrace);
    }
    for entry in entries {
        if let BlockEntry::Attr(a) = entry {
            if a.key == "byte_order" {
                // `native` has no meaning in the trace block itself.
                return match value_of(a)? {
                    Value::Path(s) if s == "native" => {
                        bad(a.line, &a.key, "the trace byte order cannot be `native`")
                    }
                    _ => attr_byte_order(a, ByteOrder::NATIVE),
                };
            }
        }
    }
    missing(end_line, "trace", "byte_order")
}

pub(crate) fn lower(tree: &[TopLevel], last_line: u32) -> Result<Metadata> {
    let blocks = |wanted: BlockKind| {
        tree.iter().filter_map(move |t| match t {
            TopLevel::Block {
                kind,
                entries,
                line,
                end_line,
            } if *kind == wanted => Some((entries, *line, *end_line)),
            _ => None,
        })
    };

    let env = blocks(BlockKind::Env)
        .map(|(e, _, _)| lower_env(e))
        .collect::<Result<Vec<_>>>()?;
    let env: Vec<(String, EnvValue)> = env.into_iter().flatten().collect();

    let trace_byte_order = find_trace_byte_order(tree, last_line)?;
    let mut lw = Lower {
        scopes: vec![HashMap::new()],
        trace_byte_order,
        clock_names: Vec::new(),
        event_ids: HashSet::new(),
        nodes: 0,
    };

    let mut clocks = Vec::new();
    for (entries, line, end_line) in blocks(BlockKind::Clock) {
        let clock = lw.clock(entries, end_line)?;
        if clocks.iter().any(|c: &ClockClass| c.name == clock.name) {
            return err(line, MetadataErrorKind::DuplicateClock(clock.name));
        }
        lw.clock_names.push(clock.name.clone());
        clocks.push(clock);
    }

    for top in tree {
        if let TopLevel::Decl(d) = top {
            lw.type_decl(d)?;
        }
    }

    let (entries, _, end_line) = blocks(BlockKind::Trace).next().ok_or(MetadataError {
        line: last_line,
        kind: MetadataErrorKind::MissingTrace,
    })?;
    let trace = lw.trace(entries, end_line)?;

    let mut streams: Vec<StreamClass> = Vec::new();
    for (entries, line, end_line) in blocks(BlockKind::Stream) {
        let stream = lw.stream(entries, end_line, streams.is_empty())?;
        if streams.iter().any(|s| s.id == stream.id) {
            return err(line, MetadataErrorKind::DuplicateStreamClass(stream.id));
        }
        streams.push(stream);
    }
    if streams.is_empty() {
        streams.push(StreamClass {
            id: 0,
            packet_context: None,
            event_header: None,
            event_context: None,
            events: Vec::new(),
        });
    }

    for (entries, line, end_line) in blocks(BlockKind::Event) {
        lw.event(entries, line, end_line, &mut streams)?;
    }

    Ok(Metadata {
        trace,
        env,
        clocks,
        streams,
        slot_count: 0,
    })
}

fn lower_env(entries: &[BlockEntry]) -> Result<Vec<(String, EnvValue)>> {
    let attrs = Attrs::new(entries.iter().filter_map(|e| match e {
        BlockEntry::Attr(a) => Some(a),
        BlockEntry::Decl(_) => None,
    }))?;
    let mut out = Vec::new();
    for a in &attrs.list {
        match &a.value {
            AttrValue::Value(Value::Int(v)) => {
                let v =
                    i64::try_from(*v).or_else(|_| bad(a.line, &a.key, "integer out of range"))?;
                out.push((a.key.clone(), EnvValue::Int(v)));
            }
            AttrValue::Value(Value::Str(s)) => out.push((a.key.clone(), EnvValue::Str(s.clone()))),
            // babeltrace2 ignores (with a warning) env entries that are neither.
            _ => {}
        }
    }
    Ok(out)
}

/// Splits block entries into attributes and type declarations.
fn split(entries: &[BlockEntry]) -> (Vec<&Attr>, Vec<&TypeDecl>) {
    let mut attrs = Vec::new();
    let mut decls = Vec::new();
    for e in entries {
        match e {
            BlockEntry::Attr(a) => attrs.push(a),
            BlockEntry::Decl(d) => decls.push(d),
        }
    }
    (attrs, decls)
}

impl Lower {
    fn clock(&mut self, entries: &[BlockEntry], end_line: u32) -> Result<ClockClass> {
        let (attrs, _) = split(entries);
        let attrs = Attrs::new(attrs.into_iter())?;
        let name = match attrs.get("name") {
            Some(a) => attr_str(a)?,
            None => return missing(end_line, "clock", "name"),
        };
        let freq = match attrs.get("freq") {
            Some(a) => {
                let f = attr_u64(a)?;
                if f == 0 {
                    return bad(a.line, "freq", "frequency must be positive");
                }
                f
            }
            None => 1_000_000_000,
        };
        Ok(ClockClass {
            name,
            uuid: attrs.get("uuid").map(attr_uuid).transpose()?,
            description: attrs.get("description").map(attr_str).transpose()?,
            freq,
            offset_s: attrs
                .get("offset_s")
                .map(attr_i64)
                .transpose()?
                .unwrap_or(0),
            offset: attrs.get("offset").map(attr_i64).transpose()?.unwrap_or(0),
            precision: attrs
                .get("precision")
                .map(attr_u64)
                .transpose()?
                .unwrap_or(0),
            absolute: attrs
                .get("absolute")
                .map(attr_bool)
                .transpose()?
                .unwrap_or(false),
        })
    }

    /// Lowers a `key := type;` attribute into a struct (the only class allowed for scopes).
    fn scope_struct(&mut self, a: &Attr) -> Result<FieldClass> {
        let AttrValue::Type(ty) = &a.value else {
            return bad(a.line, &a.key, "expected `:=` and a type");
        };
        let lowered = self.type_ref(ty, 0)?;
        if !matches!(lowered.class, FieldClass::Struct(_)) {
            return bad(a.line, &a.key, "expected a struct");
        }
        check_tagged(&lowered.class, ty.line)?;
        Ok(lowered.class)
    }

    fn with_scope<T>(
        &mut self,
        decls: &[&TypeDecl],
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        self.scopes.push(HashMap::new());
        let r = decls
            .iter()
            .try_for_each(|d| self.type_decl(d))
            .and_then(|()| f(self));
        self.scopes.pop();
        r
    }

    fn trace(&mut self, entries: &[BlockEntry], end_line: u32) -> Result<TraceClass> {
        let (attrs, decls) = split(entries);
        let attrs = Attrs::new(attrs.into_iter())?;
        self.with_scope(&decls, |lw| {
            let major = match attrs.get("major") {
                Some(a) => {
                    if attr_u64(a)? != 1 {
                        return bad(a.line, "major", "expecting 1");
                    }
                    1
                }
                None => return missing(end_line, "trace", "major"),
            };
            let minor = match attrs.get("minor") {
                Some(a) => {
                    if attr_u64(a)? != 8 {
                        return bad(a.line, "minor", "expecting 8");
                    }
                    8
                }
                None => return missing(end_line, "trace", "minor"),
            };
            let uuid = attrs.get("uuid").map(attr_uuid).transpose()?;
            let packet_header = attrs
                .get("packet.header")
                .map(|a| lw.scope_struct(a))
                .transpose()?;
            Ok(TraceClass {
                major,
                minor,
                uuid,
                byte_order: lw.trace_byte_order,
                packet_header,
            })
        })
    }

    fn stream(
        &mut self,
        entries: &[BlockEntry],
        end_line: u32,
        first: bool,
    ) -> Result<StreamClass> {
        let (attrs, decls) = split(entries);
        let attrs = Attrs::new(attrs.into_iter())?;
        self.with_scope(&decls, |lw| {
            let id = match attrs.get("id") {
                Some(a) => attr_u64(a)?,
                None if first => 0,
                None => return missing(end_line, "stream", "id"),
            };
            Ok(StreamClass {
                id,
                packet_context: attrs
                    .get("packet.context")
                    .map(|a| lw.scope_struct(a))
                    .transpose()?,
                event_header: attrs
                    .get("event.header")
                    .map(|a| lw.scope_struct(a))
                    .transpose()?,
                event_context: attrs
                    .get("event.context")
                    .map(|a| lw.scope_struct(a))
                    .transpose()?,
                events: Vec::new(),
            })
        })
    }

    fn event(
        &mut self,
        entries: &[BlockEntry],
        line: u32,
        end_line: u32,
        streams: &mut [StreamClass],
    ) -> Result<()> {
        let (attrs, decls) = split(entries);
        let attrs = Attrs::new(attrs.into_iter())?;
        self.with_scope(&decls, |lw| {
            let name = match attrs.get("name") {
                Some(a) => attr_str(a)?,
                None => return missing(end_line, "event", "name"),
            };
            let stream_id = match attrs.get("stream_id") {
                Some(a) => attr_u64(a)?,
                None if streams.len() == 1 => streams[0].id,
                None => return missing(end_line, "event", "stream_id"),
            };
            let stream_index = match streams.iter().position(|s| s.id == stream_id) {
                Some(i) => i,
                None => {
                    let l = attrs.get("stream_id").map_or(line, |a| a.line);
                    return err(l, MetadataErrorKind::UnknownStreamClass(stream_id));
                }
            };
            let id = match attrs.get("id") {
                Some(a) => attr_u64(a)?,
                None if streams[stream_index].events.is_empty() => 0,
                None => return missing(end_line, "event", "id"),
            };
            if !lw.event_ids.insert((stream_index, id)) {
                return err(
                    line,
                    MetadataErrorKind::DuplicateEventClass { stream_id, id },
                );
            }
            let event = EventClass {
                id,
                name,
                stream_id,
                loglevel: attrs.get("loglevel").map(attr_i64).transpose()?,
                model_emf_uri: attrs.get("model.emf.uri").map(attr_str).transpose()?,
                context: attrs
                    .get("context")
                    .map(|a| lw.scope_struct(a))
                    .transpose()?,
                fields: attrs
                    .get("fields")
                    .map(|a| lw.scope_struct(a))
                    .transpose()?,
            };
            streams[stream_index].events.push(event);
            Ok(())
        })
    }

    fn lookup(&self, key: &str) -> Option<&Lowered> {
        self.scopes.iter().rev().find_map(|s| s.get(key))
    }

    fn register(&mut self, key: String, value: Lowered, line: u32) -> Result<()> {
        let scope = self
            .scopes
            .last_mut()
            .expect("the root scope is never popped");
        if scope.contains_key(&key) {
            return err(line, MetadataErrorKind::DuplicateType(key));
        }
        scope.insert(key, value);
        Ok(())
    }

    /// Charges `nodes` field class nodes to the expansion budget.
    fn charge(&mut self, nodes: u64, line: u32) -> Result<()> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_FIELD_CLASS_NODES {
            return err(
                line,
                MetadataErrorKind::TooManyFieldClasses {
                    limit: MAX_FIELD_CLASS_NODES,
                },
            );
        }
        Ok(())
    }

    fn type_decl(&mut self, d: &TypeDecl) -> Result<()> {
        match d {
            TypeDecl::Alias { target, name, line } => {
                let lowered = self.type_ref(target, 0)?;
                self.register(name.clone(), lowered, *line)
            }
            TypeDecl::Typedef { ty, decls } => {
                let base = self.type_ref(ty, 0)?;
                for decl in decls {
                    let key = type_name_key(
                        std::slice::from_ref(decl.name.as_ref().unwrap_or(&String::new())),
                        0,
                    );
                    let lowered = self.apply_dims(base.clone(), &decl.dims, decl.line)?;
                    self.register(key, lowered, decl.line)?;
                }
                Ok(())
            }
            TypeDecl::Bare(ty) => match &ty.spec {
                // Lowering a named struct/enum/variant with a body registers it.
                TypeSpec::Struct {
                    name: Some(_),
                    body: Some(_),
                    ..
                }
                | TypeSpec::Enum {
                    name: Some(_),
                    body: Some(_),
                    ..
                }
                | TypeSpec::Variant {
                    name: Some(_),
                    body: Some(_),
                    ..
                } => self.type_ref(ty, 0).map(|_| ()),
                _ => err(
                    ty.line,
                    MetadataErrorKind::UnexpectedDeclaration("a type without a name or body"),
                ),
            },
        }
    }

    /// Lowers a type specifier, with `pointers` levels of `*` from the declarator (only named
    /// types may use them: `void *`).
    fn type_ref(&mut self, ty: &TypeRef, pointers: u32) -> Result<Lowered> {
        let line = ty.line;
        if pointers > 0 && !matches!(ty.spec, TypeSpec::Named(_)) {
            return err(
                line,
                MetadataErrorKind::UnexpectedDeclaration("a pointer to a compound type"),
            );
        }
        match &ty.spec {
            TypeSpec::Integer(attrs) => {
                let int = self.integer(attrs, line)?;
                self.charge(1, line)?;
                Ok(Lowered::leaf(FieldClass::Integer(int)))
            }
            TypeSpec::Float(attrs) => {
                let float = self.float(attrs, line)?;
                self.charge(1, line)?;
                Ok(Lowered::leaf(FieldClass::Float(float)))
            }
            TypeSpec::String(attrs) => {
                let attrs = Attrs::new(attrs.iter())?;
                let encoding = attrs
                    .get("encoding")
                    .map(attr_encoding)
                    .transpose()?
                    .unwrap_or(Encoding::Utf8);
                self.charge(1, line)?;
                Ok(Lowered::leaf(FieldClass::String(StringClass { encoding })))
            }
            TypeSpec::Named(words) => {
                let key = type_name_key(words, pointers);
                let found = self.lookup(&key).cloned();
                match found {
                    Some(l) => {
                        self.charge(l.nodes, line)?;
                        Ok(l)
                    }
                    None => err(line, MetadataErrorKind::UnknownType(key)),
                }
            }
            TypeSpec::Enum {
                name,
                container,
                body,
            } => self.enumeration(name, container, body, line),
            TypeSpec::Struct { name, body, align } => {
                let min_align = match align {
                    None => None,
                    Some(Value::Int(v))
                        if *v > 0 && *v <= (1 << 31) && (*v as u64).is_power_of_two() =>
                    {
                        Some(*v as u32)
                    }
                    Some(_) => return bad(line, "align", "expected a power of two"),
                };
                let mut lowered = match (name, body) {
                    (Some(n), None) => match self.lookup(&format!("struct {n}")).cloned() {
                        Some(l) => {
                            self.charge(l.nodes, line)?;
                            l
                        }
                        None => {
                            return err(line, MetadataErrorKind::UnknownType(format!("struct {n}")))
                        }
                    },
                    (_, Some(entries)) => {
                        let (members, depth, nodes) = self.members(entries)?;
                        let members = members
                            .into_iter()
                            .map(|(name, class)| StructMember { name, class })
                            .collect();
                        let l = Lowered {
                            class: FieldClass::Struct(StructClass {
                                members,
                                min_align_bits: 1,
                            }),
                            depth,
                            nodes,
                        };
                        if let Some(n) = name {
                            let mut registered = l.clone();
                            set_min_align(&mut registered.class, min_align);
                            self.register(format!("struct {n}"), registered, line)?;
                        }
                        l
                    }
                    (None, None) => {
                        return err(
                            line,
                            MetadataErrorKind::UnexpectedDeclaration("a struct without body"),
                        )
                    }
                };
                set_min_align(&mut lowered.class, min_align);
                Ok(lowered)
            }
            TypeSpec::Variant { name, tag, body } => {
                let mut lowered = match (name, body) {
                    (Some(n), None) => match self.lookup(&format!("variant {n}")).cloned() {
                        Some(l) => {
                            self.charge(l.nodes, line)?;
                            l
                        }
                        None => {
                            return err(
                                line,
                                MetadataErrorKind::UnknownType(format!("variant {n}")),
                            )
                        }
                    },
                    (_, Some(entries)) => {
                        let (options, depth, nodes) = self.members(entries)?;
                        let options = options
                            .into_iter()
                            .map(|(name, class)| VariantOption { name, class })
                            .collect();
                        let l = Lowered {
                            class: FieldClass::Variant(VariantClass {
                                tag_ref: tag.clone().unwrap_or_default(),
                                tag_slot: line,
                                tag_signed: false,
                                options,
                                selector: Vec::new(),
                            }),
                            depth,
                            nodes,
                        };
                        if let Some(n) = name {
                            self.register(format!("variant {n}"), l.clone(), line)?;
                        }
                        l
                    }
                    (None, None) => {
                        return err(
                            line,
                            MetadataErrorKind::UnexpectedDeclaration("a variant without body"),
                        )
                    }
                };
                if let (Some(t), FieldClass::Variant(v)) = (tag, &mut lowered.class) {
                    v.tag_ref = t.clone();
                    v.tag_slot = line;
                }
                Ok(lowered)
            }
        }
    }

    /// Members of a struct or options of a variant, in a new declaration scope.
    fn members(&mut self, entries: &[Entry]) -> Result<Members> {
        self.scopes.push(HashMap::new());
        let r = self.members_inner(entries);
        self.scopes.pop();
        r
    }

    fn members_inner(&mut self, entries: &[Entry]) -> Result<Members> {
        let mut out: Vec<(String, FieldClass)> = Vec::new();
        let mut names: HashSet<String> = HashSet::new();
        let mut depth = 1u32;
        let mut nodes = 1u64;
        for entry in entries {
            match entry {
                Entry::Decl(d) => self.type_decl(d)?,
                Entry::Field { ty, decls } => {
                    for decl in decls {
                        let Some(name) = &decl.name else {
                            return err(
                                decl.line,
                                MetadataErrorKind::UnexpectedDeclaration("a field without a name"),
                            );
                        };
                        let base = self.type_ref(ty, decl.pointers)?;
                        let lowered = self.apply_dims(base, &decl.dims, decl.line)?;
                        if !names.insert(name.clone()) {
                            return err(
                                decl.line,
                                MetadataErrorKind::DuplicateMember(name.clone()),
                            );
                        }
                        depth = depth.max(lowered.depth.saturating_add(1));
                        nodes = nodes.saturating_add(lowered.nodes);
                        if depth > MAX_FIELD_CLASS_DEPTH {
                            return err(
                                decl.line,
                                MetadataErrorKind::TooDeep {
                                    limit: MAX_FIELD_CLASS_DEPTH as usize,
                                },
                            );
                        }
                        out.push((name.clone(), lowered.class));
                    }
                }
            }
        }
        Ok((out, depth, nodes))
    }

    /// Wraps `base` in arrays/sequences, outermost dimension first.
    fn apply_dims(&mut self, base: Lowered, dims: &[Dim], line: u32) -> Result<Lowered> {
        let mut l = base;
        for dim in dims.iter().rev() {
            let element = Box::new(l.class);
            let class = match dim {
                Dim::Len(n) => FieldClass::Array(ArrayClass {
                    element,
                    length: *n,
                }),
                Dim::Ref(r) => FieldClass::Sequence(SequenceClass {
                    element,
                    length_ref: r.clone(),
                    length_slot: line,
                }),
            };
            l = Lowered {
                class,
                depth: l.depth.saturating_add(1),
                nodes: l.nodes.saturating_add(1),
            };
            if l.depth > MAX_FIELD_CLASS_DEPTH {
                return err(
                    line,
                    MetadataErrorKind::TooDeep {
                        limit: MAX_FIELD_CLASS_DEPTH as usize,
                    },
                );
            }
            self.charge(1, line)?;
        }
        Ok(l)
    }

    fn integer(&mut self, attrs: &[Attr], line: u32) -> Result<IntegerClass> {
        let attrs = Attrs::new(attrs.iter())?;
        let size_bits = match attrs.get("size") {
            Some(a) => {
                let s = attr_u64(a)?;
                if s == 0 || s > 64 {
                    return bad(a.line, "size", "expecting a value in 1..=64");
                }
                s as u32
            }
            None => return missing(line, "integer", "size"),
        };
        let align_bits = match attrs.get("align") {
            Some(a) => attr_align(a)?,
            None if size_bits % 8 == 0 => 8,
            None => 1,
        };
        let mapped_clock = match attrs.get("map") {
            None => None,
            Some(a) => {
                let path = match value_of(a)? {
                    Value::Path(p) => p.clone(),
                    _ => return bad(a.line, "map", "expected `clock.NAME.value`"),
                };
                let name = path
                    .strip_prefix("clock.")
                    .and_then(|rest| rest.strip_suffix(".value"))
                    .filter(|n| !n.is_empty() && !n.contains('.'));
                let Some(name) = name else {
                    return bad(a.line, "map", "expected `clock.NAME.value`");
                };
                if !self.clock_names.iter().any(|c| c == name) {
                    return err(a.line, MetadataErrorKind::UnknownClock(name.to_string()));
                }
                Some(name.to_string())
            }
        };
        Ok(IntegerClass {
            size_bits,
            align_bits,
            signed: attrs
                .get("signed")
                .map(attr_bool)
                .transpose()?
                .unwrap_or(false),
            byte_order: attrs
                .get("byte_order")
                .map(|a| attr_byte_order(a, self.trace_byte_order))
                .transpose()?
                .unwrap_or(self.trace_byte_order),
            base: attrs
                .get("base")
                .map(attr_base)
                .transpose()?
                .unwrap_or(DisplayBase::Decimal),
            encoding: attrs
                .get("encoding")
                .map(attr_encoding)
                .transpose()?
                .unwrap_or(Encoding::None),
            mapped_clock,
            role: None,
            store_slot: None,
        })
    }

    fn float(&mut self, attrs: &[Attr], line: u32) -> Result<FloatClass> {
        let attrs = Attrs::new(attrs.iter())?;
        let exp = attrs.get("exp_dig");
        let mant = attrs.get("mant_dig");
        let (Some(exp), Some(mant)) = (exp, mant) else {
            return missing(line, "floating_point", "exp_dig/mant_dig");
        };
        let (exp_dig, mant_dig) = (attr_u64(exp)?, attr_u64(mant)?);
        if !matches!((exp_dig, mant_dig), (8, 24) | (11, 53)) {
            return bad(
                exp.line,
                "exp_dig",
                "only 32-bit (8/24) and 64-bit (11/53) floats are supported",
            );
        }
        let align_bits = match attrs.get("align") {
            Some(a) => attr_align(a)?,
            None => 8,
        };
        Ok(FloatClass {
            exp_dig: exp_dig as u32,
            mant_dig: mant_dig as u32,
            align_bits,
            byte_order: attrs
                .get("byte_order")
                .map(|a| attr_byte_order(a, self.trace_byte_order))
                .transpose()?
                .unwrap_or(self.trace_byte_order),
        })
    }

    fn enumeration(
        &mut self,
        name: &Option<String>,
        container: &Option<Box<TypeRef>>,
        body: &Option<Vec<Enumerator>>,
        line: u32,
    ) -> Result<Lowered> {
        let Some(body) = body else {
            let key = format!("enum {}", name.as_deref().unwrap_or_default());
            return match self.lookup(&key).cloned() {
                Some(l) => {
                    self.charge(l.nodes, line)?;
                    Ok(l)
                }
                None => err(line, MetadataErrorKind::UnknownType(key)),
            };
        };
        let container_class = match container {
            Some(c) => self.type_ref(c, 0)?.class,
            None => match self.lookup("int").cloned() {
                Some(l) => l.class,
                None => return err(line, MetadataErrorKind::UnknownType("int".into())),
            },
        };
        let container = match container_class {
            FieldClass::Integer(i) => i,
            _ => return bad(line, "enum", "container must be an integer type"),
        };
        let mut mappings: Vec<EnumMapping> = Vec::new();
        let mut label_index: HashMap<&str, usize> = HashMap::new();
        let mut next: i128 = 0;
        for e in body {
            let int_of = |v: &Value| match v {
                Value::Int(i) => Ok(*i),
                _ => bad(e.line, "enum", "expected an integer value"),
            };
            let (lo, hi) = match &e.values {
                None => (next, next),
                Some((lo, None)) => {
                    let lo = int_of(lo)?;
                    (lo, lo)
                }
                Some((lo, Some(hi))) => (int_of(lo)?, int_of(hi)?),
            };
            // babeltrace2 keeps a reversed range as written (it then matches no value), and
            // accepts values outside the container: lttng-ust's `ctf_enum_auto` after a label
            // at the container's maximum writes one (`AFTER_MAX = 256` in a uint8 enum).
            next = hi + 1;
            match label_index.get(e.label.as_str()) {
                Some(&i) => mappings[i].ranges.push((lo, hi)),
                None => {
                    label_index.insert(&e.label, mappings.len());
                    mappings.push(EnumMapping {
                        label: e.label.clone(),
                        ranges: vec![(lo, hi)],
                    });
                }
            }
        }
        self.charge(1, line)?;
        let l = Lowered::leaf(FieldClass::Enum(EnumClass {
            container,
            mappings,
        }));
        if let Some(n) = name {
            self.register(format!("enum {n}"), l.clone(), line)?;
        }
        Ok(l)
    }
}

fn set_min_align(class: &mut FieldClass, align: Option<u32>) {
    if let (FieldClass::Struct(s), Some(a)) = (class, align) {
        s.min_align_bits = a;
    }
}

/// Every variant reachable from a scope must have a tag (a named variant may be declared
/// untagged, but must be tagged where it is used).
fn check_tagged(class: &FieldClass, line: u32) -> Result<()> {
    match class {
        FieldClass::Struct(s) => s
            .members
            .iter()
            .try_for_each(|m| check_tagged(&m.class, line)),
        FieldClass::Variant(v) => {
            if v.tag_ref.is_empty() {
                let _ = line;
                return err(v.tag_slot, MetadataErrorKind::UntaggedVariant);
            }
            v.options
                .iter()
                .try_for_each(|o| check_tagged(&o.class, line))
        }
        FieldClass::Array(a) => check_tagged(&a.element, line),
        FieldClass::Sequence(s) => check_tagged(&s.element, line),
        _ => Ok(()),
    }
}
