//! Binding a program to one event class, and evaluating it.
//!
//! [`bind`] resolves every reference through the event class's [`Schema`], so that each
//! node's type is known (integer, float or string). What lttng-ust refuses for a class —
//! a missing field or context, a string meeting a number, `~`/`&` on a float, `!`/`&&` on
//! a string, a float or string as the whole filter — makes a [`Filter`] that rejects every
//! event of the class. Otherwise the result is a typed tree in three flat arrays (integer,
//! float and string nodes) with `&&`/`||` chains flattened; [`Filter::matches`] walks it
//! with one small recursive function per type: no allocation, no dynamic type dispatch.
//!
//! Runtime rules (lttng-ust's interpreter): integers are `i64` (unsigned fields wrap);
//! an integer meeting a float is converted to `f64`; `&&`/`||` short-circuit and convert a
//! float operand like C's `(int64_t)` cast; shifts work on the bits as `u64` and a count
//! outside `0..64` rejects the event; a value of the wrong type at run time (an [`Event`]
//! that does not keep its [`Schema`]'s promise) rejects the event.
//!
//! Dynamic values (`$app.PROVIDER:NAME`, [`FieldType::Dynamic`]): the type is the one the
//! value has on each event, so what lttng-ust decides per event for them
//! (`lttng-bytecode-interpreter.c` of lttng-ust stable-2.13: `BYTECODE_OP_GET_CONTEXT_REF`
//! and the generic `EQ`/`NE`/`LT`/…, `CAST_TO_S64`, `UNARY_*`, `BIT_*` and `RETURN` ops, whose
//! "Dynamic typing" switches end in `ret = -EINVAL; goto end` on a mismatch) is decided
//! here per event too: a dynamic operand goes through [`Filter::dynamic`], and a value
//! that does not fit its operator (a string meeting a number, a float under `~`/`&`, a
//! string under `&&`, `!` or unary `+`/`-`, a float or string as the whole filter) or that
//! is [`Value::Absent`] (the provider's `NONE`, an unknown provider) makes the interpreter
//! fail, which rejects that event: the whole filter, even inside `||`, but only for that
//! event (a `||` that short-circuits before it still accepts). Nodes that never meet a
//! dynamic value are bound and evaluated exactly as before.
//!
//! Not here: parsing and the compile-time checks.

use crate::parse::{Ast, BinaryOp, NodeKind, Reference, UnaryOp};
use crate::strings::{self, StrKind};

/// The type of an event-class field or context value, as the filter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Any integer or enumeration (taken as signed 64-bit).
    Int,
    Float,
    /// A string, or a text array or sequence.
    Str,
    /// Typed per event (LTTng's dynamic type: application contexts): [`Event::value`]
    /// returns an integer, float or string, or [`Value::Absent`] (no value: the provider
    /// returned `NONE`, or none is registered), which rejects the event.
    Dynamic,
}

/// Resolves the references of a filter for one event class.
pub trait Schema {
    /// The slot (passed back to [`Event::value`]) and type of `r`, or `None` if this event
    /// class has no such field or context.
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)>;
}

/// One value of an event, for evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Float(f64),
    /// Bytes up to the first NUL (or all of them).
    Str(&'a [u8]),
    /// Not available for this event: the event is rejected.
    Absent,
}

/// The values of one event.
pub trait Event {
    /// The value in `slot` (a slot [`Schema::resolve`] returned).
    fn value(&self, slot: u16) -> Value<'_>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// `a OP b` as `b OP' a`.
    fn swapped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            c => c,
        }
    }

    #[inline(always)]
    fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bit {
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// Integer-valued nodes (indices are into the same array unless named otherwise).
#[derive(Debug, Clone, Copy)]
#[allow(clippy::enum_variant_names)]
enum I {
    Const(i64),
    Slot(u16),
    Neg(u32),
    Not(u32),
    /// `!` of a float node.
    NotF(u32),
    BitNot(u32),
    /// `(int64_t)` of a float node.
    FromF(u32),
    Bit(Bit, u32, u32),
    CmpI(Cmp, u32, u32),
    /// Two float nodes.
    CmpF(Cmp, u32, u32),
    /// Two string nodes.
    CmpS(Cmp, u32, u32),
    /// `==`/`!=` (negated) of a glob literal (index into `lits`) and a string node.
    Glob {
        ne: bool,
        lit: u32,
        subject: u32,
    },
    /// Range of `kids`.
    And(u32, u32),
    Or(u32, u32),
    /// Fused `SLOT OP CONST` of an integer field (the usual comparison, one step).
    CmpSlotConst(Cmp, u16, i64),
    /// Fused `==`/`!=` (negated) of a string field and a literal without star or backslash
    /// (index into `lits`): a plain byte comparison up to the field's NUL.
    StrSlotEq {
        ne: bool,
        slot: u16,
        lit: u32,
    },
    /// A comparison with at least one dynamic operand (index into `dyn_cmps`), typed per
    /// event (lttng-ust's generic comparison ops).
    CmpD(Cmp, u32),
    /// A dynamic node as an `&&`/`||` operand (`CAST_TO_S64`: integers as they are, floats
    /// cast, strings fail).
    FromD(u32),
    /// A dynamic node that must be an integer (operand of `~`, `&`, `|`, `^`, `<<`, `>>`,
    /// and the whole filter: `RETURN` takes only an integer).
    IntD(u32),
    /// `!` of a dynamic node (integers and floats; strings fail).
    NotD(u32),
}

/// Dynamic-valued nodes (typed per event).
#[derive(Debug, Clone, Copy)]
enum D {
    Slot(u16),
    /// Unary `-` (integers and floats; strings fail).
    Neg(u32),
    /// Unary `+` (integers and floats pass; strings fail).
    Plus(u32),
}

/// One value once its node is evaluated: what a generic comparison receives.
#[derive(Debug, Clone, Copy)]
enum Any<'e> {
    Int(i64),
    Float(f64),
    /// A string and whether it is a plain literal (see [`strings::compare`]).
    Str(&'e [u8], bool),
    /// A full glob literal (normalized pattern).
    Glob(&'e [u8]),
}

/// Float-valued nodes.
#[derive(Debug, Clone, Copy)]
enum F {
    Const(f64),
    Slot(u16),
    Neg(u32),
    /// An integer node as `f64`.
    FromI(u32),
}

/// String-valued nodes.
#[derive(Debug, Clone, Copy)]
enum S {
    /// Index into `lits`.
    Lit(u32),
    Slot(u16),
}

#[derive(Debug, Clone, Copy)]
enum Typed {
    I(u32),
    F(u32),
    S(u32),
    D(u32),
}

/// A program bound to one event class.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    ints: Vec<I>,
    floats: Vec<F>,
    strs: Vec<S>,
    lits: Vec<(Box<[u8]>, StrKind)>,
    kids: Vec<u32>,
    dyns: Vec<D>,
    /// Operands of the [`I::CmpD`] comparisons.
    dyn_cmps: Vec<(Typed, Typed)>,
    /// The root integer node; `None` = rejects every event of the class.
    root: Option<u32>,
    /// The same filter as a flat list of fused comparisons, when it is one (the usual
    /// filter: comparisons of fields with constants, joined by one kind of `&&`/`||`).
    flat: Option<Flat>,
}

/// Most comparisons a [`Flat`] filter holds (longer chains walk the tree).
const MAX_FLAT_TESTS: usize = 8;

/// Longest literal a [`Flat`] filter compares (longer ones walk the tree).
const MAX_FLAT_LITERAL_BYTES: usize = 16;

/// A filter that is one chain of field-against-constant comparisons: evaluated by one
/// loop over [`Test`]s, with no recursion, no node lookups and no call.
#[derive(Debug, Clone)]
struct Flat {
    /// `||` (true) or `&&` (false; also a single comparison).
    any: bool,
    tests: Box<[Test]>,
}

/// One fused comparison of a [`Flat`] filter, all its constants precomputed (24 bytes).
/// The event's value (integer or text per [`Test::kind`]) is tested against `a` and `b`:
/// - [`INT`]: the value is in `a..=a + b` (a range test for any `OP`, without a branch on
///   it; `a + b` never overflows);
/// - `TEXT_*`: the value, up to its first NUL, is `len` bytes long and its two (possibly
///   overlapping) words of the kind's width, at 0 and at `len - width`, are `a` and `b`.
///
/// `neg` negates the result (`!=`, and "never" as "not in the whole range").
#[derive(Debug, Clone, Copy)]
struct Test {
    a: u64,
    b: u64,
    slot: u16,
    kind: u8,
    neg: bool,
    len: u32,
}

const INT: u8 = 0;
/// Text of 0 bytes, 1 byte, 2–3, 4–7 and 8–16 bytes.
const TEXT_0: u8 = 1;
const TEXT_1: u8 = 2;
const TEXT_2: u8 = 3;
const TEXT_4: u8 = 4;
const TEXT_8: u8 = 5;

/// The little-endian word of `N` bytes at `at` in `b` (0 past its end).
#[inline(always)]
fn word<const N: usize>(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + N) {
        w[..N].copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

impl Test {
    /// `SLOT OP k` as a range test.
    fn int(op: Cmp, slot: u16, k: i64) -> Test {
        let (min, max) = (i64::MIN, i64::MAX);
        // (lo, hi, neg): the value is in lo..=hi, or not when neg. "Never" is "not in the
        // whole range".
        let (lo, hi, neg) = match op {
            Cmp::Eq => (k, k, false),
            Cmp::Ne => (k, k, true),
            Cmp::Lt if k == min => (min, max, true),
            Cmp::Lt => (min, k - 1, false),
            Cmp::Le => (min, k, false),
            Cmp::Gt if k == max => (min, max, true),
            Cmp::Gt => (k + 1, max, false),
            Cmp::Ge => (k, max, false),
        };
        Test {
            a: lo as u64,
            b: hi.wrapping_sub(lo) as u64,
            slot,
            kind: INT,
            neg,
            len: 0,
        }
    }

    /// `SLOT == lit` (`!=` when `ne`) for a literal of at most
    /// [`MAX_FLAT_LITERAL_BYTES`] without NUL.
    fn text(ne: bool, slot: u16, lit: &[u8]) -> Option<Test> {
        let kind = match lit.len() {
            0 => TEXT_0,
            1 => TEXT_1,
            2..=3 => TEXT_2,
            4..=7 => TEXT_4,
            8..=MAX_FLAT_LITERAL_BYTES => TEXT_8,
            _ => return None,
        };
        let (a, b) = Test::words(kind, lit);
        Some(Test {
            a,
            b,
            slot,
            kind,
            neg: ne,
            len: lit.len() as u32,
        })
    }

    /// The two words of `v` that a text test of `kind` compares.
    #[inline(always)]
    fn words(kind: u8, v: &[u8]) -> (u64, u64) {
        let n = v.len();
        match kind {
            TEXT_1 => (word::<1>(v, 0), 0),
            TEXT_2 => (word::<2>(v, 0), word::<2>(v, n.wrapping_sub(2))),
            TEXT_4 => (word::<4>(v, 0), word::<4>(v, n.wrapping_sub(4))),
            TEXT_8 => (word::<8>(v, 0), word::<8>(v, n.wrapping_sub(8))),
            _ => (0, 0),
        }
    }

    /// The test on one event, before `neg`; `None`: the value has the wrong type.
    #[inline(always)]
    fn eval<E: Event + ?Sized>(&self, ev: &E) -> Option<bool> {
        // The kind first, then the value: each arm fetches the value it expects, so that
        // the fetch's own dispatch folds into the type check.
        if self.kind == INT {
            return match ev.value(self.slot) {
                Value::Int(v) => Some((v as u64).wrapping_sub(self.a) <= self.b),
                _ => None,
            };
        }
        let Value::Str(v) = ev.value(self.slot) else {
            return None;
        };
        let n = self.len as usize;
        // The field's text ends at its first NUL (or the slice's end).
        if v.len() < n || v.get(n).is_some_and(|&c| c != 0) {
            return Some(false);
        }
        let v = v.get(..n)?;
        Some(Test::words(self.kind, v) == (self.a, self.b))
    }
}

impl Flat {
    #[inline(always)]
    fn matches<E: Event + ?Sized>(&self, ev: &E) -> bool {
        // One or two comparisons (the usual filters) without the loop.
        match &self.tests[..] {
            [t] => return self.one(t, ev).unwrap_or(!self.any),
            [t0, t1] => {
                return match self.one(t0, ev) {
                    Some(v) => v,
                    None => self.one(t1, ev).unwrap_or(!self.any),
                }
            }
            _ => {}
        }
        for t in self.tests.iter() {
            if let Some(verdict) = self.one(t, ev) {
                return verdict;
            }
        }
        !self.any
    }

    /// One test of the chain: `Some(verdict)` when it decides the whole filter (a wrong
    /// type, `&&` meeting false, `||` meeting true), `None` to go on.
    #[inline(always)]
    fn one<E: Event + ?Sized>(&self, t: &Test, ev: &E) -> Option<bool> {
        // A value of the wrong type rejects the event (as the tree's `?`).
        let Some(yes) = t.eval(ev) else {
            return Some(false);
        };
        // `&&` stops at the first false, `||` at the first true.
        if (yes != t.neg) == self.any {
            return Some(self.any);
        }
        None
    }
}

impl Filter {
    /// A filter that rejects every event (what a filter that does not fit an event class
    /// binds to).
    pub fn never() -> Filter {
        Filter::default()
    }

    /// Whether the filter can accept any event of its class (false when binding failed).
    pub fn can_match(&self) -> bool {
        self.root.is_some()
    }

    /// Whether [`Filter::matches`] runs the flat form (one chain of field-against-constant
    /// comparisons) rather than the tree walk. For tests and benchmarks.
    pub fn is_flat(&self) -> bool {
        self.flat.is_some()
    }

    /// The tree form only (the flat form dropped): what [`Filter::matches`] computed before
    /// flattening, to compare the two. For tests.
    pub fn tree_only(&self) -> Filter {
        Filter {
            flat: None,
            ..self.clone()
        }
    }

    /// The flat form of this filter, if its root is one fused comparison or one `&&`/`||`
    /// chain of them.
    fn flatten(&self) -> Option<Flat> {
        let root = self.root?;
        let (any, kids): (bool, &[u32]) = match *self.ints.get(root as usize)? {
            I::And(s, l) => (false, self.kids.get(s as usize..(s + l) as usize)?),
            I::Or(s, l) => (true, self.kids.get(s as usize..(s + l) as usize)?),
            I::CmpSlotConst(..) | I::StrSlotEq { .. } => (false, std::slice::from_ref(&root)),
            _ => return None,
        };
        if kids.len() > MAX_FLAT_TESTS {
            return None;
        }
        let tests = kids
            .iter()
            .map(|&k| match *self.ints.get(k as usize)? {
                I::CmpSlotConst(op, slot, k) => Some(Test::int(op, slot, k)),
                I::StrSlotEq { ne, slot, lit } => {
                    let (bytes, kind) = self.lits.get(lit as usize)?;
                    // `plain_slot_eq` admits only literals without star or backslash; a
                    // NUL would end the literal early in C: leave those to the tree.
                    if *kind != StrKind::Plain || bytes.contains(&0) {
                        return None;
                    }
                    Test::text(ne, slot, bytes)
                }
                _ => None,
            })
            .collect::<Option<Box<[Test]>>>()?;
        Some(Flat { any, tests })
    }

    /// Whether the event passes. Never allocates or panics. Inlined, so that a flat filter
    /// runs inside its caller's frame (the tree walk stays out of line).
    #[inline(always)]
    pub fn matches<E: Event + ?Sized>(&self, ev: &E) -> bool {
        if let Some(flat) = &self.flat {
            return flat.matches(ev);
        }
        self.walk(ev)
    }

    /// The tree walk of [`Filter::matches`].
    #[inline(never)]
    fn walk<E: Event + ?Sized>(&self, ev: &E) -> bool {
        match self.root {
            Some(r) => self.int(r, ev).is_some_and(|v| v != 0),
            None => false,
        }
    }

    fn int<E: Event + ?Sized>(&self, n: u32, ev: &E) -> Option<i64> {
        Some(match *self.ints.get(n as usize)? {
            I::Const(v) => v,
            I::Slot(s) => match ev.value(s) {
                Value::Int(v) => v,
                _ => return None,
            },
            I::Neg(c) => self.int(c, ev)?.wrapping_neg(),
            I::Not(c) => (self.int(c, ev)? == 0) as i64,
            I::NotF(c) => (self.float(c, ev)? == 0.0) as i64,
            I::BitNot(c) => !self.int(c, ev)?,
            I::FromF(c) => c_cast(self.float(c, ev)?),
            I::Bit(op, a, b) => {
                let (a, b) = (self.int(a, ev)? as u64, self.int(b, ev)?);
                (match op {
                    Bit::And => a & b as u64,
                    Bit::Or => a | b as u64,
                    Bit::Xor => a ^ b as u64,
                    Bit::Shl | Bit::Shr if !(0..64).contains(&b) => return None,
                    Bit::Shl => a << b,
                    Bit::Shr => a >> b,
                }) as i64
            }
            I::CmpI(op, a, b) => op.test(self.int(a, ev)?, self.int(b, ev)?) as i64,
            I::CmpF(op, a, b) => op.test(self.float(a, ev)?, self.float(b, ev)?) as i64,
            I::CmpS(op, a, b) => {
                let (a, a_lit) = self.string(a, ev)?;
                let (b, b_lit) = self.string(b, ev)?;
                op.test(strings::compare(a, a_lit, b, b_lit), 0) as i64
            }
            I::Glob { ne, lit, subject } => {
                let pattern = &self.lits.get(lit as usize)?.0;
                let (subject, _) = self.string(subject, ev)?;
                (strings::glob_match(pattern, subject) != ne) as i64
            }
            I::And(start, len) => {
                for &k in self.kids.get(start as usize..(start + len) as usize)? {
                    if self.kid(k, ev)? == 0 {
                        return Some(0);
                    }
                }
                1
            }
            I::Or(start, len) => {
                for &k in self.kids.get(start as usize..(start + len) as usize)? {
                    if self.kid(k, ev)? != 0 {
                        return Some(1);
                    }
                }
                0
            }
            I::CmpSlotConst(..) | I::StrSlotEq { .. } => self.kid(n, ev)?,
            I::CmpD(op, k) => {
                let &(a, b) = self.dyn_cmps.get(k as usize)?;
                let (a, b) = (self.any(a, ev)?, self.any(b, ev)?);
                compare_any(op, a, b)? as i64
            }
            I::FromD(d) => match self.dynamic(d, ev)? {
                Value::Int(v) => v,
                Value::Float(v) => c_cast(v),
                _ => return None,
            },
            I::IntD(d) => match self.dynamic(d, ev)? {
                Value::Int(v) => v,
                _ => return None,
            },
            I::NotD(d) => match self.dynamic(d, ev)? {
                Value::Int(v) => (v == 0) as i64,
                Value::Float(v) => (v == 0.0) as i64,
                _ => return None,
            },
        })
    }

    /// A dynamic node's value on this event; `None` (the event is rejected) when there is
    /// none or an operator met a value it does not take. Never [`Value::Absent`].
    #[inline(never)]
    fn dynamic<'e, E: Event + ?Sized>(&'e self, n: u32, ev: &'e E) -> Option<Value<'e>> {
        match *self.dyns.get(n as usize)? {
            D::Slot(s) => match ev.value(s) {
                Value::Absent => None,
                v => Some(v),
            },
            D::Neg(c) => match self.dynamic(c, ev)? {
                Value::Int(v) => Some(Value::Int(v.wrapping_neg())),
                Value::Float(v) => Some(Value::Float(-v)),
                _ => None,
            },
            D::Plus(c) => match self.dynamic(c, ev)? {
                v @ (Value::Int(_) | Value::Float(_)) => Some(v),
                _ => None,
            },
        }
    }

    /// Any node's value, as a generic comparison operand.
    fn any<'e, E: Event + ?Sized>(&'e self, t: Typed, ev: &'e E) -> Option<Any<'e>> {
        Some(match t {
            Typed::I(n) => Any::Int(self.int(n, ev)?),
            Typed::F(n) => Any::Float(self.float(n, ev)?),
            Typed::S(n) => match *self.strs.get(n as usize)? {
                S::Lit(l) => {
                    let (s, k) = self.lits.get(l as usize)?;
                    match k {
                        StrKind::Glob => Any::Glob(s),
                        _ => Any::Str(s, true),
                    }
                }
                S::Slot(_) => Any::Str(self.string(n, ev)?.0, false),
            },
            Typed::D(n) => match self.dynamic(n, ev)? {
                Value::Int(v) => Any::Int(v),
                Value::Float(v) => Any::Float(v),
                Value::Str(v) => Any::Str(v, false),
                Value::Absent => return None,
            },
        })
    }

    /// An operand of `&&`/`||`: the fused comparisons in place (no call), anything else
    /// through [`Filter::int`].
    #[inline(always)]
    fn kid<E: Event + ?Sized>(&self, n: u32, ev: &E) -> Option<i64> {
        match *self.ints.get(n as usize)? {
            I::CmpSlotConst(op, slot, c) => match ev.value(slot) {
                Value::Int(v) => Some(op.test(v, c) as i64),
                _ => None,
            },
            I::StrSlotEq { ne, slot, lit } => {
                let Value::Str(v) = ev.value(slot) else {
                    return None;
                };
                let lit = &self.lits.get(lit as usize)?.0;
                // The field's text ends at its first NUL; a literal has none.
                let same =
                    v.get(..lit.len()) == Some(&**lit) && v.get(lit.len()).is_none_or(|&b| b == 0);
                Some((same != ne) as i64)
            }
            _ => self.int(n, ev),
        }
    }

    fn float<E: Event + ?Sized>(&self, n: u32, ev: &E) -> Option<f64> {
        Some(match *self.floats.get(n as usize)? {
            F::Const(v) => v,
            F::Slot(s) => match ev.value(s) {
                Value::Float(v) => v,
                _ => return None,
            },
            F::Neg(c) => -self.float(c, ev)?,
            F::FromI(c) => self.int(c, ev)? as f64,
        })
    }

    /// A string and whether it is a plain literal (escapes and a final star interpreted).
    fn string<'e, E: Event + ?Sized>(&'e self, n: u32, ev: &'e E) -> Option<(&'e [u8], bool)> {
        match *self.strs.get(n as usize)? {
            S::Lit(l) => {
                let (s, k) = self.lits.get(l as usize)?;
                Some((s, *k != StrKind::Glob))
            }
            S::Slot(s) => match ev.value(s) {
                Value::Str(v) => Some((v, false)),
                _ => None,
            },
        }
    }
}

/// lttng-ust's generic comparison of two values typed at run time: integers as `i64`, an
/// integer and a float as doubles, strings with `strcmp` (plain literals' escapes and final
/// star), a string and a full glob with the glob (`==`/`!=`); a string meeting a number,
/// two globs, or a glob under another operator fail (`None`).
fn compare_any(op: Cmp, a: Any<'_>, b: Any<'_>) -> Option<bool> {
    Some(match (a, b) {
        (Any::Int(x), Any::Int(y)) => op.test(x, y),
        (Any::Int(x), Any::Float(y)) => op.test(x as f64, y),
        (Any::Float(x), Any::Int(y)) => op.test(x, y as f64),
        (Any::Float(x), Any::Float(y)) => op.test(x, y),
        (Any::Str(x, xl), Any::Str(y, yl)) => op.test(strings::compare(x, xl, y, yl), 0),
        (Any::Glob(p), Any::Str(c, _)) | (Any::Str(c, _), Any::Glob(p)) => match op {
            Cmp::Eq => strings::glob_match(p, c),
            Cmp::Ne => !strings::glob_match(p, c),
            _ => return None,
        },
        _ => return None,
    })
}

/// C's `(int64_t)` of a double on x86-64 (`cvttsd2si`): truncation, and the "integer
/// indefinite" value for NaN and out-of-range values.
fn c_cast(v: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if v.is_nan() || !(-TWO_63..TWO_63).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

struct Builder {
    f: Filter,
}

impl Builder {
    fn i(&mut self, n: I) -> Typed {
        self.f.ints.push(n);
        Typed::I(self.f.ints.len() as u32 - 1)
    }
    fn fl(&mut self, n: F) -> Typed {
        self.f.floats.push(n);
        Typed::F(self.f.floats.len() as u32 - 1)
    }
    fn d(&mut self, n: D) -> Typed {
        self.f.dyns.push(n);
        Typed::D(self.f.dyns.len() as u32 - 1)
    }
    /// A value as a float node (integers converted).
    fn as_float(&mut self, t: Typed) -> Option<u32> {
        match t {
            Typed::F(x) => Some(x),
            Typed::I(x) => match self.fl(F::FromI(x)) {
                Typed::F(y) => Some(y),
                _ => None,
            },
            Typed::S(_) | Typed::D(_) => None,
        }
    }
    /// A value that must be an integer (bitwise operand, the whole filter).
    fn as_int(&mut self, t: Typed) -> Option<u32> {
        match t {
            Typed::I(x) => Some(x),
            Typed::D(x) => match self.i(I::IntD(x)) {
                Typed::I(y) => Some(y),
                _ => None,
            },
            Typed::F(_) | Typed::S(_) => None,
        }
    }
    /// A value as a logical operand (floats cast to integers; strings refused).
    fn as_logical(&mut self, t: Typed) -> Option<u32> {
        match t {
            Typed::I(x) => Some(x),
            Typed::F(x) => match self.i(I::FromF(x)) {
                Typed::I(y) => Some(y),
                _ => None,
            },
            Typed::D(x) => match self.i(I::FromD(x)) {
                Typed::I(y) => Some(y),
                _ => None,
            },
            Typed::S(_) => None,
        }
    }
    /// The operands of a flattened `&&`/`||` chain.
    fn chain(&mut self, op: BinaryOp, t: Typed, out: &mut Vec<u32>) -> Option<()> {
        let x = self.as_logical(t)?;
        match (op, self.f.ints.get(x as usize)) {
            (BinaryOp::And, Some(&I::And(s, l))) | (BinaryOp::Or, Some(&I::Or(s, l))) => {
                out.extend_from_slice(self.f.kids.get(s as usize..(s + l) as usize)?);
            }
            _ => out.push(x),
        }
        Some(())
    }
}

/// Binds `ast` (already checked) to an event class; see the module documentation.
pub(crate) fn bind(ast: &Ast, schema: &dyn Schema) -> Filter {
    try_bind(ast, schema).unwrap_or_default()
}

fn try_bind(ast: &Ast, schema: &dyn Schema) -> Option<Filter> {
    let mut b = Builder {
        f: Filter::default(),
    };
    let mut typed: Vec<Typed> = Vec::with_capacity(ast.nodes.len());
    for node in &ast.nodes {
        let t = match &node.kind {
            NodeKind::Int(v) => b.i(I::Const(*v)),
            NodeKind::Float(v) => b.fl(F::Const(*v)),
            NodeKind::Str(s) => {
                let kind = strings::kind(s);
                let text = match kind {
                    StrKind::Plain => s.clone(),
                    _ => strings::normalize(s).into_boxed_slice(),
                };
                b.f.lits.push((text, kind));
                b.f.strs.push(S::Lit(b.f.lits.len() as u32 - 1));
                Typed::S(b.f.strs.len() as u32 - 1)
            }
            NodeKind::Ref(r) => {
                let (slot, ty) = schema.resolve(r)?;
                match ty {
                    FieldType::Int => b.i(I::Slot(slot)),
                    FieldType::Float => b.fl(F::Slot(slot)),
                    FieldType::Str => {
                        b.f.strs.push(S::Slot(slot));
                        Typed::S(b.f.strs.len() as u32 - 1)
                    }
                    FieldType::Dynamic => b.d(D::Slot(slot)),
                }
            }
            NodeKind::Unary(op, c) => {
                let c = *typed.get(*c as usize)?;
                match (op, c) {
                    (_, Typed::S(_)) => return None,
                    (UnaryOp::Plus, Typed::D(x)) => b.d(D::Plus(x)),
                    (UnaryOp::Minus, Typed::D(x)) => b.d(D::Neg(x)),
                    (UnaryOp::Not, Typed::D(x)) => b.i(I::NotD(x)),
                    (UnaryOp::BitNot, Typed::D(x)) => {
                        let x = b.as_int(Typed::D(x))?;
                        b.i(I::BitNot(x))
                    }
                    (UnaryOp::Plus, t) => t,
                    (UnaryOp::Minus, Typed::I(x)) => b.i(I::Neg(x)),
                    (UnaryOp::Minus, Typed::F(x)) => b.fl(F::Neg(x)),
                    (UnaryOp::Not, Typed::I(x)) => b.i(I::Not(x)),
                    (UnaryOp::Not, Typed::F(x)) => b.i(I::NotF(x)),
                    (UnaryOp::BitNot, Typed::I(x)) => b.i(I::BitNot(x)),
                    (UnaryOp::BitNot, Typed::F(_)) => return None,
                }
            }
            NodeKind::Binary(op, l, r) => {
                let (l, r) = (*typed.get(*l as usize)?, *typed.get(*r as usize)?);
                binary(&mut b, *op, l, r)?
            }
        };
        typed.push(t);
    }
    match *typed.last()? {
        Typed::I(root) => {
            b.f.root = Some(root);
            b.f.flat = b.f.flatten();
            Some(b.f)
        }
        // `RETURN` of a dynamic value: only an integer passes.
        t @ Typed::D(_) => {
            b.f.root = Some(b.as_int(t)?);
            Some(b.f)
        }
        // lttng-ust's RETURN refuses a double or string on the stack.
        Typed::F(_) | Typed::S(_) => None,
    }
}

/// `FIELD == "literal"` (or `!=`, either side) with a literal that compares byte for byte
/// (no star, no backslash): the fused node.
fn plain_slot_eq(b: &Builder, c: Cmp, x: u32, y: u32) -> Option<I> {
    if !matches!(c, Cmp::Eq | Cmp::Ne) {
        return None;
    }
    let (slot, lit) = match (b.f.strs.get(x as usize)?, b.f.strs.get(y as usize)?) {
        (&S::Slot(s), &S::Lit(l)) | (&S::Lit(l), &S::Slot(s)) => (s, l),
        _ => return None,
    };
    let (bytes, _) = b.f.lits.get(lit as usize)?;
    if bytes.iter().any(|&c| c == b'*' || c == b'\\') {
        return None;
    }
    Some(I::StrSlotEq {
        ne: c == Cmp::Ne,
        slot,
        lit,
    })
}

fn binary(b: &mut Builder, op: BinaryOp, l: Typed, r: Typed) -> Option<Typed> {
    use BinaryOp::*;
    let cmp = match op {
        Eq => Some(Cmp::Eq),
        Ne => Some(Cmp::Ne),
        Lt => Some(Cmp::Lt),
        Le => Some(Cmp::Le),
        Gt => Some(Cmp::Gt),
        Ge => Some(Cmp::Ge),
        _ => None,
    };
    if let Some(c) = cmp {
        if matches!(l, Typed::D(_)) || matches!(r, Typed::D(_)) {
            b.f.dyn_cmps.push((l, r));
            return Some(b.i(I::CmpD(c, b.f.dyn_cmps.len() as u32 - 1)));
        }
        return Some(match (l, r) {
            (Typed::I(a), Typed::I(b2)) => {
                match (b.f.ints.get(a as usize), b.f.ints.get(b2 as usize)) {
                    (Some(&I::Slot(s)), Some(&I::Const(k))) => b.i(I::CmpSlotConst(c, s, k)),
                    (Some(&I::Const(k)), Some(&I::Slot(s))) => {
                        b.i(I::CmpSlotConst(c.swapped(), s, k))
                    }
                    _ => b.i(I::CmpI(c, a, b2)),
                }
            }
            (Typed::S(a), Typed::S(s)) => {
                let glob = |b: &Builder, x: u32| match b.f.strs.get(x as usize) {
                    Some(&S::Lit(l)) if b.f.lits.get(l as usize)?.1 == StrKind::Glob => Some(l),
                    _ => None,
                };
                match (glob(b, a), glob(b, s)) {
                    (Some(lit), None) => b.i(I::Glob {
                        ne: c == Cmp::Ne,
                        lit,
                        subject: s,
                    }),
                    (None, Some(lit)) => b.i(I::Glob {
                        ne: c == Cmp::Ne,
                        lit,
                        subject: a,
                    }),
                    (None, None) => match plain_slot_eq(b, c, a, s) {
                        Some(fused) => b.i(fused),
                        None => b.i(I::CmpS(c, a, s)),
                    },
                    (Some(_), Some(_)) => return None,
                }
            }
            (Typed::S(_), _) | (_, Typed::S(_)) => return None,
            (x, y) => {
                let (x, y) = (b.as_float(x)?, b.as_float(y)?);
                b.i(I::CmpF(c, x, y))
            }
        });
    }
    match op {
        And | Or => {
            let mut kids = Vec::new();
            b.chain(op, l, &mut kids)?;
            b.chain(op, r, &mut kids)?;
            let start = b.f.kids.len() as u32;
            let len = kids.len() as u32;
            b.f.kids.extend_from_slice(&kids);
            Some(b.i(if op == And {
                I::And(start, len)
            } else {
                I::Or(start, len)
            }))
        }
        BitAnd | BitOr | BitXor | Shl | Shr => {
            let (x, y) = (b.as_int(l)?, b.as_int(r)?);
            let bit = match op {
                BitAnd => Bit::And,
                BitOr => Bit::Or,
                BitXor => Bit::Xor,
                Shl => Bit::Shl,
                _ => Bit::Shr,
            };
            Some(b.i(I::Bit(bit, x, y)))
        }
        // Refused by the checker; never bound.
        _ => None,
    }
}
