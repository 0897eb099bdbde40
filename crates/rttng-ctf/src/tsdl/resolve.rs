//! Reference resolution: sequence lengths and variant tags to value slots, following
//! babeltrace2 2.0.4 (`ctf-meta-resolve.c`).
//!
//! A path is absolute when it starts with a root scope prefix (`trace.packet.header.`,
//! `stream.packet.context.`, `stream.event.header.`, `stream.event.context.`, `event.context.`,
//! `event.fields.`). Otherwise it is relative: looked up in the innermost enclosing struct or
//! variant among the members before the referring field, then in each enclosing one outward,
//! within the current root scope only (babeltrace2 2.0.4 does not fall back to earlier root
//! scopes for relative paths, and rejects such traces). Names are compared as written
//! (`_len`), not with the leading underscore stripped.
//!
//! Each distinct target gets a metadata-wide slot number; a variant's selector maps its tag
//! enum's ranges to the option whose name equals the label exactly. It does not check
//! anything else of the trace.

use std::collections::HashMap;

use super::{MetadataError, MetadataErrorKind};
use crate::ir::*;

type Result<T> = std::result::Result<T, MetadataError>;

/// Root scopes in babeltrace2's order: a target may only be in the same or an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Root {
    PacketHeader,
    PacketContext,
    EventHeader,
    EventCommonContext,
    EventSpecContext,
    EventPayload,
}

const ABSOLUTE_PREFIXES: [(&str, Root, usize); 6] = [
    ("trace.packet.header.", Root::PacketHeader, 3),
    ("stream.packet.context.", Root::PacketContext, 3),
    ("stream.event.header.", Root::EventHeader, 3),
    ("stream.event.context.", Root::EventCommonContext, 3),
    ("event.context.", Root::EventSpecContext, 2),
    ("event.fields.", Root::EventPayload, 2),
];

/// Which concrete root class: the root, the stream class index, the event class index.
type ScopeKey = (Root, usize, usize);

/// Path index of an array or sequence element.
const ELEMENT: i64 = -1;

/// The root classes visible while resolving one root scope.
struct Ctx<'a> {
    classes: [Option<&'a FieldClass>; 6],
    stream: usize,
    event: usize,
    current: Root,
}

impl<'a> Ctx<'a> {
    fn class(&self, root: Root) -> Option<&'a FieldClass> {
        self.classes[root as usize]
    }

    fn key(&self, root: Root) -> ScopeKey {
        match root {
            Root::PacketHeader => (root, 0, 0),
            Root::PacketContext | Root::EventHeader | Root::EventCommonContext => {
                (root, self.stream, 0)
            }
            Root::EventSpecContext | Root::EventPayload => (root, self.stream, self.event),
        }
    }
}

enum Fix {
    Length,
    Tag {
        signed: bool,
        selector: Vec<(i128, i128, u32)>,
    },
}

struct Reference {
    referrer: ScopeKey,
    referrer_path: Vec<i64>,
    target: ScopeKey,
    target_path: Vec<i64>,
    fix: Fix,
}

pub(crate) fn resolve(md: &mut Metadata) -> Result<()> {
    let mut refs = Vec::new();
    {
        let md: &Metadata = md;
        let header = md.trace.packet_header.as_ref();
        let mut ctx = Ctx {
            classes: [header, None, None, None, None, None],
            stream: 0,
            event: 0,
            current: Root::PacketHeader,
        };
        scan_root(&ctx, &mut refs)?;
        for (si, stream) in md.streams.iter().enumerate() {
            ctx.stream = si;
            ctx.classes[Root::PacketContext as usize] = stream.packet_context.as_ref();
            ctx.classes[Root::EventHeader as usize] = stream.event_header.as_ref();
            ctx.classes[Root::EventCommonContext as usize] = stream.event_context.as_ref();
            ctx.classes[Root::EventSpecContext as usize] = None;
            ctx.classes[Root::EventPayload as usize] = None;
            for root in [
                Root::PacketContext,
                Root::EventHeader,
                Root::EventCommonContext,
            ] {
                ctx.current = root;
                scan_root(&ctx, &mut refs)?;
            }
            for (ei, event) in stream.events.iter().enumerate() {
                ctx.event = ei;
                ctx.classes[Root::EventSpecContext as usize] = event.context.as_ref();
                ctx.classes[Root::EventPayload as usize] = event.fields.as_ref();
                for root in [Root::EventSpecContext, Root::EventPayload] {
                    ctx.current = root;
                    scan_root(&ctx, &mut refs)?;
                }
            }
        }
    }

    let mut slots: HashMap<(ScopeKey, Vec<i64>), u32> = HashMap::new();
    for r in refs {
        let next = slots.len() as u32;
        let slot = *slots
            .entry((r.target, r.target_path.clone()))
            .or_insert(next);
        if let Some(target) = root_mut(md, r.target).and_then(|c| at_path_mut(c, &r.target_path)) {
            match target {
                FieldClass::Integer(i) => i.store_slot = Some(slot),
                FieldClass::Enum(e) => e.container.store_slot = Some(slot),
                _ => {}
            }
        }
        if let Some(referrer) =
            root_mut(md, r.referrer).and_then(|c| at_path_mut(c, &r.referrer_path))
        {
            match (referrer, r.fix) {
                (FieldClass::Sequence(s), Fix::Length) => s.length_slot = slot,
                (FieldClass::Variant(v), Fix::Tag { signed, selector }) => {
                    v.tag_slot = slot;
                    v.tag_signed = signed;
                    v.selector = selector;
                }
                _ => {}
            }
        }
    }
    md.slot_count = slots.len() as u32;
    Ok(())
}

fn root_mut(md: &mut Metadata, key: ScopeKey) -> Option<&mut FieldClass> {
    let (root, si, ei) = key;
    match root {
        Root::PacketHeader => md.trace.packet_header.as_mut(),
        Root::PacketContext => md.streams.get_mut(si)?.packet_context.as_mut(),
        Root::EventHeader => md.streams.get_mut(si)?.event_header.as_mut(),
        Root::EventCommonContext => md.streams.get_mut(si)?.event_context.as_mut(),
        Root::EventSpecContext => md.streams.get_mut(si)?.events.get_mut(ei)?.context.as_mut(),
        Root::EventPayload => md.streams.get_mut(si)?.events.get_mut(ei)?.fields.as_mut(),
    }
}

fn child(fc: &FieldClass, index: i64) -> Option<&FieldClass> {
    match fc {
        FieldClass::Struct(s) => s
            .members
            .get(usize::try_from(index).ok()?)
            .map(|m| &m.class),
        FieldClass::Variant(v) => v
            .options
            .get(usize::try_from(index).ok()?)
            .map(|o| &o.class),
        FieldClass::Array(a) if index == ELEMENT => Some(&a.element),
        FieldClass::Sequence(s) if index == ELEMENT => Some(&s.element),
        _ => None,
    }
}

fn at_path<'a>(mut fc: &'a FieldClass, path: &[i64]) -> Option<&'a FieldClass> {
    for &i in path {
        fc = child(fc, i)?;
    }
    Some(fc)
}

fn at_path_mut<'a>(mut fc: &'a mut FieldClass, path: &[i64]) -> Option<&'a mut FieldClass> {
    for &i in path {
        fc = match fc {
            FieldClass::Struct(s) => &mut s.members.get_mut(usize::try_from(i).ok()?)?.class,
            FieldClass::Variant(v) => &mut v.options.get_mut(usize::try_from(i).ok()?)?.class,
            FieldClass::Array(a) if i == ELEMENT => &mut a.element,
            FieldClass::Sequence(s) if i == ELEMENT => &mut s.element,
            _ => return None,
        };
    }
    Some(fc)
}

fn scan_root(ctx: &Ctx<'_>, refs: &mut Vec<Reference>) -> Result<()> {
    let Some(root) = ctx.class(ctx.current) else {
        return Ok(());
    };
    let mut stack: Vec<(&FieldClass, i64)> = Vec::new();
    scan(root, ctx, &mut stack, refs)
}

/// Walks `fc`, resolving every sequence and variant. `stack` holds the enclosing compound
/// classes with the index of the child being visited (recursion depth is bounded by the
/// lowering pass's class depth limit).
fn scan<'a>(
    fc: &'a FieldClass,
    ctx: &Ctx<'a>,
    stack: &mut Vec<(&'a FieldClass, i64)>,
    refs: &mut Vec<Reference>,
) -> Result<()> {
    match fc {
        FieldClass::Sequence(s) => {
            let line = s.length_slot;
            let (target, target_path, target_fc) = locate(&s.length_ref, ctx, stack, line)?;
            let unsigned_int = match target_fc {
                FieldClass::Integer(i) => !i.signed,
                FieldClass::Enum(e) => !e.container.signed,
                _ => false,
            };
            if !unsigned_int {
                return Err(MetadataError {
                    line,
                    kind: MetadataErrorKind::InvalidSequenceLength(s.length_ref.clone()),
                });
            }
            refs.push(Reference {
                referrer: ctx.key(ctx.current),
                referrer_path: stack.iter().map(|f| f.1).collect(),
                target,
                target_path,
                fix: Fix::Length,
            });
        }
        FieldClass::Variant(v) => {
            let line = v.tag_slot;
            let (target, target_path, target_fc) = locate(&v.tag_ref, ctx, stack, line)?;
            let FieldClass::Enum(tag) = target_fc else {
                return Err(MetadataError {
                    line,
                    kind: MetadataErrorKind::InvalidVariantTag(v.tag_ref.clone()),
                });
            };
            let mut selector = Vec::new();
            for (i, option) in v.options.iter().enumerate() {
                let Some(mapping) = tag.mappings.iter().find(|m| m.label == option.name) else {
                    return Err(MetadataError {
                        line,
                        kind: MetadataErrorKind::UnmatchedVariantOption(option.name.clone()),
                    });
                };
                selector.extend(mapping.ranges.iter().map(|&(lo, hi)| (lo, hi, i as u32)));
            }
            refs.push(Reference {
                referrer: ctx.key(ctx.current),
                referrer_path: stack.iter().map(|f| f.1).collect(),
                target,
                target_path,
                fix: Fix::Tag {
                    signed: tag.container.signed,
                    selector,
                },
            });
        }
        _ => {}
    }

    let count = match fc {
        FieldClass::Struct(s) => s.members.len(),
        FieldClass::Variant(v) => v.options.len(),
        FieldClass::Array(_) | FieldClass::Sequence(_) => 1,
        _ => return Ok(()),
    };
    stack.push((fc, 0));
    for i in 0..count {
        let index = if matches!(fc, FieldClass::Array(_) | FieldClass::Sequence(_)) {
            ELEMENT
        } else {
            i as i64
        };
        if let Some(top) = stack.last_mut() {
            top.1 = index;
        }
        if let Some(c) = child(fc, index) {
            scan(c, ctx, stack, refs)?;
        }
    }
    stack.pop();
    Ok(())
}

/// Follows `tokens` down from `fc`. At the first level only members before `src_index` count.
/// Arrays and sequences are crossed without consuming a token.
fn follow(tokens: &[&str], mut fc: &FieldClass, src_index: i64) -> Option<Vec<i64>> {
    let mut path = Vec::new();
    let mut rest = tokens;
    let mut first_level_done = false;
    while let Some((&name, tail)) = rest.split_first() {
        let index = match fc {
            FieldClass::Array(_) | FieldClass::Sequence(_) => ELEMENT,
            FieldClass::Struct(s) => s.members.iter().position(|m| m.name == name)? as i64,
            FieldClass::Variant(v) => v.options.iter().position(|o| o.name == name)? as i64,
            _ => return None,
        };
        if index != ELEMENT {
            if !first_level_done && index > src_index {
                return None;
            }
            first_level_done = true;
            rest = tail;
        }
        path.push(index);
        fc = child(fc, index)?;
    }
    Some(path)
}

/// Finds the target of `pathstr` and checks it comes before the referring field.
fn locate<'a>(
    pathstr: &str,
    ctx: &Ctx<'a>,
    stack: &[(&'a FieldClass, i64)],
    line: u32,
) -> Result<(ScopeKey, Vec<i64>, &'a FieldClass)> {
    let unresolved = || MetadataError {
        line,
        kind: MetadataErrorKind::UnresolvedReference(pathstr.to_string()),
    };
    let tokens: Vec<&str> = pathstr.split('.').collect();
    if tokens.iter().any(|t| t.is_empty()) {
        return Err(unresolved());
    }
    let absolute = ABSOLUTE_PREFIXES
        .iter()
        .find(|(prefix, _, _)| pathstr.starts_with(prefix));
    let (root, path) = match absolute {
        Some(&(_, root, skip)) => {
            if root > ctx.current {
                return Err(unresolved());
            }
            let root_fc = ctx.class(root).ok_or_else(unresolved)?;
            let path = follow(&tokens[skip..], root_fc, i64::MAX).ok_or_else(unresolved)?;
            (root, path)
        }
        None => {
            let mut found = None;
            for pos in (0..stack.len()).rev() {
                let (parent, cur_index) = stack[pos];
                if let Some(tail) = follow(&tokens, parent, cur_index) {
                    let mut path: Vec<i64> = stack[..pos].iter().map(|f| f.1).collect();
                    path.extend(tail);
                    found = Some(path);
                    break;
                }
            }
            (ctx.current, found.ok_or_else(unresolved)?)
        }
    };
    if path.is_empty() {
        return Err(unresolved());
    }
    if root == ctx.current {
        // The target must come strictly before the referring field at their lowest common
        // ancestor, and neither may contain the other.
        let here: Vec<i64> = stack.iter().map(|f| f.1).collect();
        let lca = path
            .iter()
            .zip(here.iter())
            .take_while(|(a, b)| a == b)
            .count();
        if lca == path.len() || lca == here.len() || path[lca] >= here[lca] {
            return Err(unresolved());
        }
    }
    let root_fc = ctx.class(root).ok_or_else(unresolved)?;
    let target = at_path(root_fc, &path).ok_or_else(unresolved)?;
    Ok((ctx.key(root), path, target))
}
