//! The compile-time checks of lttng-tools' filter compiler (`filter-visitor-generate-ir.cpp`,
//! `...-validate-globbing.cpp`, `...-normalize-glob-patterns.cpp`), in one pass over the
//! arena: operand types that can be decided from the text alone, unsupported arithmetic,
//! glob misuse, the type of the whole filter, and the flattened nesting depth. Glob literals
//! are normalized by the binder (runs of `*` collapsed), after their kind is taken.
//!
//! Not here: types that depend on the event class (decided when binding).

use crate::parse::{Ast, BinaryOp, NodeKind};
use crate::strings::{self, StrKind};
use crate::{Error, ErrorKind, MAX_DEPTH};

/// What lttng-tools knows about a value before binding (its IR data type).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    /// A string literal of this kind.
    Str(StrKind),
    /// An integer literal or the result of a comparison, logical or bitwise operator.
    Num,
    /// A float literal, or a unary operator on one.
    Float,
    /// A field or context reference, or a unary operator on one.
    Ref,
}

pub(crate) fn check(ast: &mut Ast) -> Result<(), Error> {
    let n = ast.nodes.len();
    if n == 0 {
        return Err(Error::new(0, ErrorKind::Empty));
    }
    let ops: Vec<Option<BinaryOp>> = ast
        .nodes
        .iter()
        .map(|n| match n.kind {
            NodeKind::Binary(op, ..) => Some(op),
            _ => None,
        })
        .collect();
    let mut ty = Vec::with_capacity(n);
    let mut depth: Vec<usize> = Vec::with_capacity(n);
    for i in 0..n {
        let node = &mut ast.nodes[i];
        let pos = node.pos as usize;
        let err = |k| Err(Error::new(pos, k));
        let (t, d) = match &mut node.kind {
            NodeKind::Int(_) => (Ty::Num, 1),
            NodeKind::Float(_) => (Ty::Float, 1),
            // The kind is the literal's as written (lttng-tools classifies before it
            // normalizes: "\\***" stays a full glob though "\\**" would end in its only
            // star); the binder normalizes.
            NodeKind::Str(s) => (Ty::Str(strings::kind(s)), 1),
            NodeKind::Ref(_) => (Ty::Ref, 1),
            NodeKind::Unary(op, c) => {
                let c = *c as usize;
                let Some(&ct) = child(&ty, c, i) else {
                    return err(ErrorKind::Internal);
                };
                if let Ty::Str(_) = ct {
                    return err(ErrorKind::UnaryOnString(op.as_str()));
                }
                (ct, depth[c] + 1)
            }
            NodeKind::Binary(op, l, r) => {
                let (op, l, r) = (*op, *l as usize, *r as usize);
                let (Some(&lt), Some(&rt)) = (child(&ty, l, i), child(&ty, r, i)) else {
                    return err(ErrorKind::Internal);
                };
                let is_str = |t| matches!(t, Ty::Str(_));
                use BinaryOp::*;
                match op {
                    Add | Sub | Mul | Div | Mod => {
                        return err(ErrorKind::UnsupportedOperator(op.as_str()))
                    }
                    Or | And => {
                        if is_str(lt) || is_str(rt) {
                            return err(ErrorKind::StringOperand(op.as_str()));
                        }
                    }
                    BitOr | BitXor | BitAnd | Shl | Shr => {
                        if is_str(lt) || is_str(rt) {
                            return err(ErrorKind::StringOperand(op.as_str()));
                        }
                        if lt == Ty::Float || rt == Ty::Float {
                            return err(ErrorKind::FloatOperand(op.as_str()));
                        }
                    }
                    Eq | Ne | Lt | Le | Gt | Ge => {
                        let num = |t| matches!(t, Ty::Num | Ty::Float);
                        if (is_str(lt) && num(rt)) || (num(lt) && is_str(rt)) {
                            return err(ErrorKind::TypeMismatch(op.as_str()));
                        }
                        let glob = |t| t == Ty::Str(StrKind::Glob);
                        if (glob(lt) && is_str(rt) && rt != Ty::Str(StrKind::Plain))
                            || (glob(rt) && is_str(lt) && lt != Ty::Str(StrKind::Plain))
                        {
                            return err(ErrorKind::TwoGlobs);
                        }
                        if (glob(lt) || glob(rt)) && !matches!(op, Eq | Ne) {
                            return err(ErrorKind::GlobOperator(op.as_str()));
                        }
                    }
                }
                // A chain of the same logical operator is flattened by the binder: it does
                // not nest.
                let flat = |c: usize| {
                    if matches!(op, Or | And) && ops[c] == Some(op) {
                        depth[c]
                    } else {
                        depth[c] + 1
                    }
                };
                (Ty::Num, flat(l).max(flat(r)))
            }
        };
        if d > MAX_DEPTH {
            return Err(Error::new(pos, ErrorKind::TooDeep { max: MAX_DEPTH }));
        }
        ty.push(t);
        depth.push(d);
    }
    match ty[n - 1] {
        Ty::Str(_) => Err(Error::new(
            ast.nodes[n - 1].pos as usize,
            ErrorKind::StringRoot,
        )),
        Ty::Float => Err(Error::new(
            ast.nodes[n - 1].pos as usize,
            ErrorKind::FloatRoot,
        )),
        Ty::Num | Ty::Ref => Ok(()),
    }
}

/// The type of child `c` of node `i`; `None` unless `c < i` (decoded programs are checked
/// with the same code, so this is where a bad child index is caught).
fn child(ty: &[Ty], c: usize, i: usize) -> Option<&Ty> {
    if c < i {
        ty.get(c)
    } else {
        None
    }
}
