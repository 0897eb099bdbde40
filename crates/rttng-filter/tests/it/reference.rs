//! An independent reference evaluator, written from the language notes
//! (`shared/spec/filter-expression-language.md`) and lttng-ust's interpreter, in a different
//! shape from the crate: it walks a test-side expression tree with dynamically typed values
//! and matches globs with a memoized recursive matcher. Three phases, as in LTTng: the
//! compile-time checks of lttng-tools (on literal types only), the link-time checks on the
//! event class (every field exists, every operand type fits), then evaluation.
//!
//! Dynamic values (`$app.p:d`, and every field when the class declares them all dynamic)
//! have no type at link time: what would be a link error for them is decided at
//! evaluation, for that event only (lttng-ust's "Dynamic typing" switches).

use super::{Dyn, TestEvent, FIELDS};

/// The dynamic context of the test class.
pub const DYN: &str = "$app.p:d";
use rttng_filter::FieldType;

#[derive(Debug, Clone)]
pub enum Expr {
    /// The value, and how it is written (decimal, hex or octal).
    Int(u64, u8),
    Float(f64),
    /// Literal pieces: `Byte`, `Star` (unescaped `*`) or `EscStar` (`\*`).
    Str(Vec<Piece>),
    Field(&'static str),
    Un(&'static str, Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Piece {
    Byte(u8),
    Star,
    EscStar,
}

impl Expr {
    /// Fully parenthesized filter text.
    pub fn text(&self) -> String {
        match self {
            Expr::Int(v, 16) => format!("{v:#x}"),
            Expr::Int(v, 8) => format!("0{v:o}"),
            Expr::Int(v, _) => format!("{v}"),
            Expr::Float(v) => format!("{v:?}"),
            Expr::Str(p) => {
                let mut s = String::from("\"");
                for x in p {
                    match x {
                        Piece::Byte(b) => s.push(*b as char),
                        Piece::Star => s.push('*'),
                        Piece::EscStar => s.push_str("\\*"),
                    }
                }
                s.push('"');
                s
            }
            Expr::Field(n) => n.to_string(),
            Expr::Un(op, e) => format!("{op}({})", e.text()),
            Expr::Bin(op, l, r) => format!("({} {op} {})", l.text(), r.text()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// lttng-tools refuses the text.
    Refused,
    Keep(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LitKind {
    Plain,
    StarEnd,
    FullGlob,
}

fn lit_kind(p: &[Piece]) -> LitKind {
    match p.iter().position(|x| *x == Piece::Star) {
        None => LitKind::Plain,
        Some(i) if i == p.len() - 1 => LitKind::StarEnd,
        Some(_) => LitKind::FullGlob,
    }
}

/// lttng-tools' compile-time type of a node.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ir {
    Str(LitKind),
    Num,
    Float,
    Unknown,
}

const CMP: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];
const BITS: [&str; 5] = ["&", "|", "^", "<<", ">>"];

fn ir(e: &Expr) -> Result<Ir, ()> {
    Ok(match e {
        Expr::Int(..) => Ir::Num,
        Expr::Float(_) => Ir::Float,
        Expr::Str(p) => Ir::Str(lit_kind(p)),
        Expr::Field(_) => Ir::Unknown,
        Expr::Un(_, c) => match ir(c)? {
            Ir::Str(_) => return Err(()),
            t => t,
        },
        Expr::Bin(op, l, r) => {
            let (a, b) = (ir(l)?, ir(r)?);
            let s = |t| matches!(t, Ir::Str(_));
            if ["+", "-", "*", "/", "%"].contains(op) {
                return Err(());
            }
            if CMP.contains(op) {
                let n = |t| matches!(t, Ir::Num | Ir::Float);
                if (s(a) && n(b)) || (n(a) && s(b)) {
                    return Err(());
                }
                let full = |t| t == Ir::Str(LitKind::FullGlob);
                if full(a) && s(b) && b != Ir::Str(LitKind::Plain) {
                    return Err(());
                }
                if full(b) && s(a) && a != Ir::Str(LitKind::Plain) {
                    return Err(());
                }
                if (full(a) || full(b)) && *op != "==" && *op != "!=" {
                    return Err(());
                }
            } else if s(a) || s(b) || (BITS.contains(op) && (a == Ir::Float || b == Ir::Float)) {
                return Err(());
            }
            Ir::Num
        }
    })
}

/// The type a node has once the event class is known (`Err` = the class never matches).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    I,
    F,
    S,
    /// Typed per event.
    D,
}

fn link(e: &Expr, all_dynamic: bool) -> Result<Ty, ()> {
    Ok(match e {
        Expr::Int(..) => Ty::I,
        Expr::Float(_) => Ty::F,
        Expr::Str(_) => Ty::S,
        Expr::Field(n) if *n == DYN => Ty::D,
        Expr::Field(n) => match FIELDS.iter().find(|(f, _)| f == n).ok_or(())?.1 {
            _ if all_dynamic => Ty::D,
            FieldType::Int => Ty::I,
            FieldType::Float => Ty::F,
            FieldType::Str => Ty::S,
            FieldType::Dynamic => Ty::D,
        },
        Expr::Un(op, c) => match (link(c, all_dynamic)?, *op) {
            (Ty::S, _) | (Ty::F, "~") => return Err(()),
            (t, "-" | "+") => t,
            _ => Ty::I,
        },
        Expr::Bin(op, l, r) => {
            let (a, b) = (link(l, all_dynamic)?, link(r, all_dynamic)?);
            let strs = (a == Ty::S) as u8 + (b == Ty::S) as u8;
            if CMP.contains(op) {
                if strs == 1 && a != Ty::D && b != Ty::D {
                    return Err(());
                }
            } else if strs > 0 || (BITS.contains(op) && (a == Ty::F || b == Ty::F)) {
                return Err(());
            }
            Ty::I
        }
    })
}

#[derive(Debug, Clone)]
enum V {
    I(i64),
    F(f64),
    /// A string literal (its pieces) or a field's bytes.
    Lit(Vec<Piece>),
    Bytes(Vec<u8>),
}

fn truncate_at_nul(b: &[u8]) -> Vec<u8> {
    b.iter().take_while(|&&c| c != 0).copied().collect()
}

fn eval(e: &Expr, ev: &TestEvent) -> Result<V, ()> {
    Ok(match e {
        Expr::Int(v, _) => V::I(*v as i64),
        Expr::Float(v) => V::F(*v),
        Expr::Str(p) => V::Lit(p.clone()),
        Expr::Field(n) => match *n {
            DYN => match &ev.d {
                Dyn::None => return Err(()),
                Dyn::I(v) => V::I(*v),
                Dyn::F(v) => V::F(*v),
                Dyn::S(v) => V::Bytes(truncate_at_nul(v)),
            },
            "i" => V::I(ev.i),
            "j" => V::I(ev.j),
            "f" => V::F(ev.f),
            "s" => V::Bytes(truncate_at_nul(&ev.s)),
            "t" => V::Bytes(truncate_at_nul(&ev.t)),
            _ => return Err(()),
        },
        Expr::Un(op, c) => match (*op, eval(c, ev)?) {
            // Unary plus takes numbers only (a string can reach it only when dynamic).
            ("+", v @ (V::I(_) | V::F(_))) => v,
            ("-", V::I(v)) => V::I(v.wrapping_neg()),
            ("-", V::F(v)) => V::F(-v),
            ("!", V::I(v)) => V::I((v == 0) as i64),
            ("!", V::F(v)) => V::I((v == 0.0) as i64),
            ("~", V::I(v)) => V::I(!v),
            _ => return Err(()),
        },
        Expr::Bin(op @ ("&&" | "||"), l, r) => {
            let l = truthy(eval(l, ev)?)?;
            if (*op == "&&" && !l) || (*op == "||" && l) {
                return Ok(V::I(l as i64));
            }
            V::I(truthy(eval(r, ev)?)? as i64)
        }
        Expr::Bin(op, l, r) => {
            let (a, b) = (eval(l, ev)?, eval(r, ev)?);
            if CMP.contains(op) {
                let ord = order(&a, &b)?;
                let t = match *op {
                    "==" => ord == Some(0),
                    "!=" => ord != Some(0),
                    "<" => ord.is_some_and(|o| o < 0),
                    "<=" => ord.is_some_and(|o| o <= 0),
                    ">" => ord.is_some_and(|o| o > 0),
                    _ => ord.is_some_and(|o| o >= 0),
                };
                V::I(t as i64)
            } else {
                let (V::I(x), V::I(y)) = (a, b) else {
                    return Err(());
                };
                let (x, yu) = (x as u64, y as u64);
                V::I(match *op {
                    "&" => x & yu,
                    "|" => x | yu,
                    "^" => x ^ yu,
                    "<<" if (0..64).contains(&y) => x << y,
                    ">>" if (0..64).contains(&y) => x >> y,
                    _ => return Err(()),
                } as i64)
            }
        }
    })
}

/// `&&`/`||` operand: integers, floats truncated toward zero as C's cast does on x86
/// (NaN and out of range give i64::MIN, which is true).
fn truthy(v: V) -> Result<bool, ()> {
    match v {
        V::I(x) => Ok(x != 0),
        V::F(f) => Ok(f.is_nan() || f.abs() >= 9.3e18 || f.trunc() != 0.0),
        _ => Err(()),
    }
}

/// Sign of the comparison; `None` for unordered floats (NaN). For globs: 0 = match.
fn order(a: &V, b: &V) -> Result<Option<i32>, ()> {
    let f = |x: f64, y: f64| x.partial_cmp(&y).map(|o| o as i32);
    Ok(match (a, b) {
        (V::I(x), V::I(y)) => Some(x.cmp(y) as i32),
        (V::I(x), V::F(y)) => f(*x as f64, *y),
        (V::F(x), V::I(y)) => f(*x, *y as f64),
        (V::F(x), V::F(y)) => f(*x, *y),
        (V::Lit(p), other) | (other, V::Lit(p)) if lit_kind(p) == LitKind::FullGlob => {
            let cand = match other {
                V::Bytes(b) => b.clone(),
                // A plain literal as the candidate is taken as written.
                V::Lit(q) => written(q),
                _ => return Err(()),
            };
            Some(if glob(&pieces_to_pattern(p), &cand) {
                0
            } else {
                1
            })
        }
        (x, y) => Some(strcmp(&seq(x)?, &seq(y)?)),
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    B(u8),
    /// An unescaped star in a plain literal: everything from here compares equal.
    Rest,
}

fn seq(v: &V) -> Result<Vec<Tok>, ()> {
    Ok(match v {
        V::Bytes(b) => b.iter().map(|&c| Tok::B(c)).collect(),
        V::Lit(p) => p
            .iter()
            .map(|x| match x {
                Piece::Byte(c) => Tok::B(*c),
                Piece::EscStar => Tok::B(b'*'),
                Piece::Star => Tok::Rest,
            })
            .collect(),
        _ => return Err(()),
    })
}

fn strcmp(a: &[Tok], b: &[Tok]) -> i32 {
    let mut k = 0;
    loop {
        match (a.get(k), b.get(k)) {
            (Some(Tok::Rest), _) | (_, Some(Tok::Rest)) => return 0,
            (None, None) => return 0,
            (None, Some(_)) => return -1,
            (Some(_), None) => return 1,
            (Some(Tok::B(x)), Some(Tok::B(y))) => {
                let d = (*x as i8 as i32) - (*y as i8 as i32);
                if d != 0 {
                    return d.signum();
                }
            }
        }
        k += 1;
    }
}

fn written(p: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    for x in p {
        match x {
            Piece::Byte(c) => out.push(*c),
            Piece::Star => out.push(b'*'),
            Piece::EscStar => out.extend_from_slice(b"\\*"),
        }
    }
    out
}

/// Pattern items: `None` = any run, `Some(b)` = that byte.
fn pieces_to_pattern(p: &[Piece]) -> Vec<Option<u8>> {
    p.iter()
        .map(|x| match x {
            Piece::Byte(c) => Some(*c),
            Piece::EscStar => Some(b'*'),
            Piece::Star => None,
        })
        .collect()
}

fn glob(p: &[Option<u8>], c: &[u8]) -> bool {
    let mut memo = vec![vec![None; c.len() + 1]; p.len() + 1];
    fn go(p: &[Option<u8>], c: &[u8], i: usize, j: usize, m: &mut Vec<Vec<Option<bool>>>) -> bool {
        if let Some(r) = m[i][j] {
            return r;
        }
        let r = match p.get(i) {
            None => j == c.len(),
            Some(None) => go(p, c, i + 1, j, m) || (j < c.len() && go(p, c, i, j + 1, m)),
            Some(Some(b)) => j < c.len() && c[j] == *b && go(p, c, i + 1, j + 1, m),
        };
        m[i][j] = Some(r);
        r
    }
    go(p, c, 0, 0, &mut memo)
}

/// What LTTng does with `e` for an event `ev` of the test class.
pub fn outcome(e: &Expr, ev: &TestEvent) -> Outcome {
    outcome_in(e, ev, false)
}

/// [`outcome`] for the class whose fields are all dynamic (`all_dynamic`), each with the
/// value of its static twin.
pub fn outcome_in(e: &Expr, ev: &TestEvent, all_dynamic: bool) -> Outcome {
    match ir(e) {
        Err(()) | Ok(Ir::Str(_)) | Ok(Ir::Float) => return Outcome::Refused,
        _ => {}
    }
    match link(e, all_dynamic) {
        // A dynamic root passes only an integer, at evaluation.
        Ok(Ty::I | Ty::D) => {}
        _ => return Outcome::Keep(false),
    }
    Outcome::Keep(matches!(eval(e, ev), Ok(V::I(v)) if v != 0))
}
