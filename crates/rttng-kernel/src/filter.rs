//! `enable-event -k --filter`: an LTTng filter program translated into a tracefs event
//! filter (`events/SYSTEM/EVENT/filter` of the session's instance), for one event format,
//! only where the kernel then keeps exactly the events LTTng's semantics keep.
//!
//! Names are the trace's (lttng-modules'): `prev_tid` is tracefs's `prev_pid`, and a
//! `sched` `*prio` value is tracefs's minus 100 (the constant is shifted back). What
//! translates: comparisons of one field with a constant (either side), `&&`, `||`, `!`,
//! a lone integer field (non-zero), `FIELD & MASK` as a truth value (or `== 0`/`!= 0`, or
//! `== MASK` for one bit), string `==`/`!=` with a literal (a star at the end or anywhere
//! becomes tracefs's `~` glob), `$ctx.tid`/`$ctx.vtid` (`common_pid`), `$ctx.procname`
//! (`COMM`) and `$ctx.cpu_id` (`CPU`); constant sub-expressions are folded.
//!
//! What LTTng decides for a whole event class — a field the event does not have, a string
//! compared with a number — gives [`Translation::Never`]: LTTng records none of that
//! event, so it is simply not enabled. Everything else (floats, shifts, `|`/`^`/`~` on
//! fields, string ordering, two fields compared, a constant outside the field's type, `?`
//! `[` `"` or escapes in a glob, relational operators on unsigned 64-bit fields, whose
//! values LTTng compares as signed) is refused with the reason: recording a different set
//! than asked is never an option. Not here: writing the filter file (the session).

use crate::convert::{field_bias, lttng_field_name};
use crate::format::{EventFormat, FieldKind, FormatField};
use rttng_filter::parse::{BinaryOp, NodeKind, Root, UnaryOp};
use rttng_filter::strings::{self, StrKind};
use rttng_filter::Program;

/// The result of translating one program for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translation {
    /// Write this to the event's `filter` file (`None`: the filter accepts every event).
    Filter(Option<String>),
    /// LTTng records no event of this class with this filter.
    Never,
}

/// Why a filter cannot be expressed exactly as a tracefs filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable {
    pub event: String,
    pub reason: String,
}

impl std::fmt::Display for Untranslatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the filter cannot be expressed exactly as a tracefs filter for {}: {}",
            self.event, self.reason
        )
    }
}

impl std::error::Error for Untranslatable {}

/// A field as tracefs knows it.
#[derive(Debug, Clone)]
struct KField {
    /// tracefs's name (`prev_pid`, `COMM`, `CPU`, `common_pid`).
    name: String,
    /// What LTTng adds to tracefs's value.
    bias: i64,
    kind: KKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum KKind {
    /// Values tracefs compares in this range; `lttng_same` = the trace holds the same
    /// value as tracefs (else only `==`/`!=` with constants in `0..2^31` are exact: system
    /// call arguments declared `int` but stored as `unsigned long`).
    Int {
        min: i128,
        max: i128,
        lttng_same: bool,
        unsigned64: bool,
    },
    Str,
}

/// Intermediate value of a node.
#[derive(Debug, Clone)]
enum T {
    Const(i64),
    Float,
    Lit(Vec<u8>),
    Field(KField),
    /// `FIELD & MASK`.
    Masked(KField, i64),
    /// A tracefs predicate, or a constant truth.
    Pred(String),
    Bool(bool),
}

/// Translates `program` for the event `fmt`; `paths`: the trace turns path arguments into
/// strings (so tracefs's pointer is not what the filter means).
pub fn to_tracefs(
    program: &Program,
    fmt: &EventFormat,
    paths: bool,
) -> Result<Translation, Untranslatable> {
    let event = format!("{}:{}", fmt.system, fmt.name);
    let refuse = |reason: String| Untranslatable {
        event: event.clone(),
        reason,
    };
    let nodes = &program.ast().nodes;
    let path_mask = if paths {
        crate::syscall_args::path_arg_mask(fmt)
    } else {
        0
    };
    // First what LTTng decides for the whole event class.
    let mut fields: Vec<Option<KField>> = Vec::with_capacity(nodes.len());
    for n in nodes {
        fields.push(match &n.kind {
            NodeKind::Ref(r) => match resolve(r, fmt, path_mask) {
                Resolved::Missing => return Ok(Translation::Never),
                Resolved::Field(f) => Some(f),
                Resolved::Refused(why) => return Err(refuse(why)),
            },
            _ => None,
        });
    }
    let mut vals: Vec<T> = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        let get = |c: &u32| {
            vals.get(*c as usize)
                .cloned()
                .ok_or_else(|| refuse("malformed program".into()))
        };
        let v = match &n.kind {
            NodeKind::Int(v) => T::Const(*v),
            NodeKind::Float(_) => T::Float,
            NodeKind::Str(s) => T::Lit(s.to_vec()),
            NodeKind::Ref(_) => match fields[i].clone() {
                Some(f) => T::Field(f),
                None => return Err(refuse("malformed program".into())),
            },
            NodeKind::Unary(op, c) => unary(*op, get(c)?).map_err(refuse)?,
            NodeKind::Binary(op, l, r) => match binary(*op, get(l)?, get(r)?) {
                Ok(v) => v,
                Err(Step::Never) => return Ok(Translation::Never),
                Err(Step::Refused(why)) => return Err(refuse(why)),
            },
        };
        vals.push(v);
    }
    match vals.pop().map(truth) {
        Some(Ok(T::Bool(true))) => Ok(Translation::Filter(None)),
        Some(Ok(T::Bool(false))) => Ok(Translation::Never),
        Some(Ok(T::Pred(p))) => Ok(Translation::Filter(Some(p))),
        Some(Err(Step::Never)) => Ok(Translation::Never),
        Some(Err(Step::Refused(why))) => Err(refuse(why)),
        _ => Err(refuse("the filter's value is not a truth value".into())),
    }
}

enum Resolved {
    Field(KField),
    Missing,
    Refused(String),
}

fn resolve(r: &rttng_filter::Reference, fmt: &EventFormat, path_mask: u8) -> Resolved {
    let Some(name) = r.simple_name() else {
        return Resolved::Refused(format!("'{r}': arrays and structures are not supported"));
    };
    let int = |min: i128, max: i128| KKind::Int {
        min,
        max,
        lttng_same: true,
        unsigned64: false,
    };
    match r.root {
        Root::Context => match name {
            "tid" | "vtid" => Resolved::Field(KField {
                name: "common_pid".into(),
                bias: 0,
                kind: int(i32::MIN.into(), i32::MAX.into()),
            }),
            "cpu_id" => Resolved::Field(KField {
                name: "CPU".into(),
                bias: 0,
                kind: int(0, i32::MAX.into()),
            }),
            "procname" => Resolved::Field(KField {
                name: "COMM".into(),
                bias: 0,
                kind: KKind::Str,
            }),
            _ => Resolved::Refused(format!(
                "'$ctx.{name}' is not available to tracefs filters (only $ctx.tid, $ctx.vtid, $ctx.procname and $ctx.cpu_id)"
            )),
        },
        Root::App => Resolved::Refused("'$app' contexts do not exist in the kernel".into()),
        Root::Payload => {
            let mut arg = 0u32;
            for f in &fmt.fields {
                if f.common || f.name == "__syscall_nr" {
                    continue;
                }
                let this_arg = arg;
                arg += 1;
                if lttng_field_name(&fmt.system, &f.name) != name {
                    continue;
                }
                if this_arg < 8 && path_mask & (1 << this_arg) != 0 {
                    return Resolved::Refused(format!(
                        "'{name}' is a path string recorded by eBPF; tracefs only has its pointer"
                    ));
                }
                return match field_kind(fmt, f) {
                    Some(kind) => Resolved::Field(KField {
                        name: f.name.clone(),
                        bias: i64::from(field_bias(&fmt.system, &f.name)),
                        kind,
                    }),
                    None => Resolved::Refused(format!("'{name}' is an array")),
                };
            }
            Resolved::Missing
        }
    }
}

fn field_kind(fmt: &EventFormat, f: &FormatField) -> Option<KKind> {
    match f.kind {
        FieldKind::CharArray { .. } | FieldKind::DataLocString | FieldKind::RelLocString => {
            Some(KKind::Str)
        }
        FieldKind::IntArray { .. } | FieldKind::DataLocBytes => None,
        FieldKind::Int => {
            let bits = (f.size * 8).clamp(8, 64);
            let (min, max) = if f.signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            // System call arguments: the trace narrows `int` arguments stored as `long`.
            let lttng_same = fmt.system != "syscalls" || {
                let t = f.c_type.trim_start_matches("const ").trim();
                f.is_pointer()
                    || (f.size == 8
                        && !matches!(
                            t,
                            "int"
                                | "pid_t"
                                | "unsigned int"
                                | "uid_t"
                                | "gid_t"
                                | "u32"
                                | "__u32"
                                | "__s32"
                                | "s32"
                                | "key_serial_t"
                                | "clockid_t"
                                | "timer_t"
                                | "mqd_t"
                                | "rwf_t"
                                | "qid_t"
                                | "old_uid_t"
                                | "old_gid_t"
                                | "unsigned"
                                | "umode_t"
                                | "unsigned short"
                                | "u16"
                        ))
            };
            Some(KKind::Int {
                min,
                max,
                lttng_same,
                unsigned64: !f.signed && bits == 64,
            })
        }
    }
}

enum Step {
    Never,
    Refused(String),
}

impl From<String> for Step {
    fn from(s: String) -> Step {
        Step::Refused(s)
    }
}

fn unary(op: UnaryOp, v: T) -> Result<T, String> {
    Ok(match (op, v) {
        (
            UnaryOp::Plus,
            v @ (T::Const(_) | T::Field(_) | T::Masked(..) | T::Pred(_) | T::Bool(_)),
        ) => v,
        (UnaryOp::Minus, T::Const(c)) => T::Const(c.wrapping_neg()),
        (UnaryOp::BitNot, T::Const(c)) => T::Const(!c),
        (UnaryOp::Not, v) => match truth(v) {
            Ok(T::Bool(b)) => T::Bool(!b),
            Ok(T::Pred(p)) => T::Pred(format!("!({p})")),
            Ok(_) | Err(Step::Never) => return Err("'!' of this operand".into()),
            Err(Step::Refused(why)) => return Err(why),
        },
        (op, T::Float) | (op, T::Lit(_)) if op != UnaryOp::Not => {
            return Err(format!("'{}' on a float or string", op.as_str()))
        }
        (op, _) => return Err(format!("'{}' on a field", op.as_str())),
    })
}

/// A value as a truth value (`Bool` or `Pred`).
fn truth(v: T) -> Result<T, Step> {
    Ok(match v {
        T::Const(c) => T::Bool(c != 0),
        T::Bool(b) => T::Bool(b),
        T::Pred(p) => T::Pred(p),
        T::Field(f) => match f.kind {
            KKind::Int { .. } => compare_field(&f, Cmp::Ne, 0)?,
            // LTTng: a string field as a truth value fails for the whole class.
            KKind::Str => return Err(Step::Never),
        },
        T::Masked(f, m) => T::Pred(format!("{} & {m}", f.name)),
        T::Float => return Err(Step::Refused("a float as a truth value".into())),
        T::Lit(_) => return Err(Step::Refused("a string as a truth value".into())),
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn of(op: BinaryOp) -> Option<Cmp> {
        Some(match op {
            BinaryOp::Eq => Cmp::Eq,
            BinaryOp::Ne => Cmp::Ne,
            BinaryOp::Lt => Cmp::Lt,
            BinaryOp::Le => Cmp::Le,
            BinaryOp::Gt => Cmp::Gt,
            BinaryOp::Ge => Cmp::Ge,
            _ => return None,
        })
    }
    /// `c OP field` as `field OP' c`.
    fn swapped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            c => c,
        }
    }
    fn text(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
    fn test(self, a: i64, b: i64) -> bool {
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

/// `field OP c` in LTTng's terms (the trace's value, as i64) as a tracefs predicate.
fn compare_field(f: &KField, op: Cmp, c: i64) -> Result<T, Step> {
    let KKind::Int {
        min,
        max,
        lttng_same,
        unsigned64,
    } = f.kind
    else {
        return Err(Step::Never);
    };
    let relational = !matches!(op, Cmp::Eq | Cmp::Ne);
    if unsigned64 && relational {
        return Err(Step::Refused(format!(
            "'{}' is unsigned 64-bit: LTTng compares it as signed, tracefs as unsigned",
            f.name
        )));
    }
    if !lttng_same && (relational || !(0..1 << 31).contains(&c)) {
        return Err(Step::Refused(format!(
            "'{}' is recorded narrower than tracefs stores it: only == and != with a constant in 0..2^31 are exact",
            f.name
        )));
    }
    let k = i128::from(c) - i128::from(f.bias);
    // u64 fields hold LTTng's negative values as large unsigned ones.
    let k = if unsigned64 && k < 0 {
        k + (1i128 << 64)
    } else {
        k
    };
    if k < min || k > max {
        return Err(Step::Refused(format!(
            "constant {c} is outside the range of '{}'",
            f.name
        )));
    }
    Ok(T::Pred(format!("{} {} {k}", f.name, op.text())))
}

/// A string literal as a tracefs string: `(operator, text)`.
fn string_match(lit: &[u8]) -> Result<(&'static str, String), Step> {
    if lit
        .iter()
        .any(|c| matches!(c, b'"' | b'?' | b'[' | b']' | b'\\'))
    {
        return Err(Step::Refused(
            "a string with '\"', '?', '[', ']' or an escape cannot be written as a tracefs string"
                .into(),
        ));
    }
    let text = String::from_utf8(lit.to_vec())
        .map_err(|_| Step::Refused("a string that is not UTF-8".into()))?;
    Ok(match strings::kind(lit) {
        StrKind::Plain => ("==", text),
        StrKind::GlobEnd | StrKind::Glob => ("~", text),
    })
}

fn binary(op: BinaryOp, l: T, r: T) -> Result<T, Step> {
    use BinaryOp::*;
    if matches!(op, And | Or) {
        let (l, r) = (truth(l)?, truth(r)?);
        return Ok(match (op, l, r) {
            (And, T::Bool(false), _) | (And, _, T::Bool(false)) => T::Bool(false),
            (Or, T::Bool(true), _) | (Or, _, T::Bool(true)) => T::Bool(true),
            (_, T::Bool(_), x) | (_, x, T::Bool(_)) => x,
            (And, T::Pred(a), T::Pred(b)) => T::Pred(format!("({a}) && ({b})")),
            (_, T::Pred(a), T::Pred(b)) => T::Pred(format!("({a}) || ({b})")),
            _ => return Err(Step::Refused("malformed program".into())),
        });
    }
    if let Some(cmp) = Cmp::of(op) {
        return Ok(match (l, r) {
            (T::Const(a), T::Const(b)) => T::Bool(cmp.test(a, b)),
            (T::Field(f), T::Const(c)) => compare_field(&f, cmp, c)?,
            (T::Const(c), T::Field(f)) => compare_field(&f, cmp.swapped(), c)?,
            (T::Masked(f, m), T::Const(c)) | (T::Const(c), T::Masked(f, m)) => {
                let set = format!("{} & {m}", f.name);
                match (cmp, c) {
                    (Cmp::Ne, 0) => T::Pred(set),
                    (Cmp::Eq, 0) => T::Pred(format!("!({set})")),
                    (Cmp::Eq, c) if c == m && (m as u64).is_power_of_two() => T::Pred(set),
                    (Cmp::Ne, c) if c == m && (m as u64).is_power_of_two() => {
                        T::Pred(format!("!({set})"))
                    }
                    _ => {
                        return Err(Step::Refused(
                            "'FIELD & MASK' is only a truth value in tracefs (== 0, != 0, or == MASK for one bit)".into(),
                        ))
                    }
                }
            }
            (T::Field(f), T::Lit(s)) | (T::Lit(s), T::Field(f)) => match f.kind {
                KKind::Str => {
                    if !matches!(cmp, Cmp::Eq | Cmp::Ne) {
                        return Err(Step::Refused("tracefs cannot order strings".into()));
                    }
                    let (m, text) = string_match(&s)?;
                    let p = format!("{} {m} \"{text}\"", f.name);
                    if cmp == Cmp::Eq {
                        T::Pred(p)
                    } else {
                        T::Pred(format!("!({p})"))
                    }
                }
                KKind::Int { .. } => return Err(Step::Never),
            },
            (T::Field(f), T::Float) | (T::Float, T::Field(f)) if f.kind == KKind::Str => {
                return Err(Step::Never)
            }
            (T::Field(f), T::Field(g)) => {
                return Err(Step::Refused(format!(
                    "tracefs cannot compare two fields ('{}' and '{}')",
                    f.name, g.name
                )))
            }
            (T::Float, _) | (_, T::Float) => {
                return Err(Step::Refused(
                    "tracefs filters have no floating point".into(),
                ))
            }
            _ => return Err(Step::Refused("this comparison".into())),
        });
    }
    Ok(match (op, l, r) {
        (_, T::Const(a), T::Const(b)) => {
            let (ua, b32) = (a as u64, b);
            T::Const(match op {
                BitAnd => a & b,
                BitOr => a | b,
                BitXor => a ^ b,
                Shl | Shr if !(0..64).contains(&b32) => {
                    return Err(Step::Refused("a shift count outside 0..64".into()))
                }
                Shl => (ua << b32) as i64,
                Shr => (ua >> b32) as i64,
                _ => return Err(Step::Refused(format!("'{}'", op.as_str()))),
            })
        }
        (BitAnd, T::Field(f), T::Const(m)) | (BitAnd, T::Const(m), T::Field(f))
            if matches!(
                f.kind,
                KKind::Int {
                    lttng_same: true,
                    ..
                }
            ) && f.bias == 0 =>
        {
            T::Masked(f, m)
        }
        (_, T::Field(f), _) | (_, _, T::Field(f)) if f.kind == KKind::Str => {
            return Err(Step::Never)
        }
        _ => {
            return Err(Step::Refused(format!(
                "'{}' on a field has no tracefs equivalent",
                op.as_str()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::parse_format;

    const SWITCH: &str = "name: sched_switch\nID: 316\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n\tfield:u64 x;\toffset:64;\tsize:8;\tsigned:0;\n";

    fn tr(expr: &str) -> Result<Translation, Untranslatable> {
        let fmt = parse_format("sched", SWITCH).unwrap();
        to_tracefs(&rttng_filter::compile(expr).unwrap(), &fmt, false)
    }

    fn ok(expr: &str) -> String {
        match tr(expr) {
            Ok(Translation::Filter(Some(f))) => f,
            other => panic!("{expr}: {other:?}"),
        }
    }

    #[test]
    fn translations() {
        assert_eq!(ok("prev_tid == 3"), "prev_pid == 3");
        assert_eq!(ok("3 < next_tid"), "next_pid > 3");
        assert_eq!(
            ok("next_prio <= 20"),
            "next_prio <= 120",
            "lttng-modules' prio bias"
        );
        assert_eq!(
            ok("prev_comm == \"bash\" || next_comm != \"sw*\""),
            "(prev_comm == \"bash\") || (!(next_comm ~ \"sw*\"))"
        );
        assert_eq!(ok("!(prev_state & 2)"), "!(prev_state & 2)");
        assert_eq!(
            ok("(prev_state & 4) == 4 && next_tid"),
            "(prev_state & 4) && (next_pid != 0)"
        );
        assert_eq!(
            ok("$ctx.procname == \"a*b\" && $ctx.cpu_id == 1 && $ctx.tid > 0"),
            "((COMM ~ \"a*b\") && (CPU == 1)) && (common_pid > 0)"
        );
        assert_eq!(ok("x == -1"), "x == 18446744073709551615");
        assert_eq!(tr("1 || prev_tid == 2"), Ok(Translation::Filter(None)));
    }

    #[test]
    fn class_decisions_are_never() {
        for e in [
            "nosuch == 1 || 1",
            "prev_comm == 3",
            "prev_tid == \"a\"",
            "prev_comm",
            "0 && prev_tid == 1",
        ] {
            assert_eq!(tr(e), Ok(Translation::Never), "{e}");
        }
    }

    #[test]
    fn refusals_say_why() {
        for (e, why) in [
            ("prev_tid > 2.5", "floating point"),
            ("prev_tid << 1 == 2", "no tracefs equivalent"),
            ("prev_tid == next_tid", "two fields"),
            ("prev_comm < \"b\"", "order strings"),
            ("prev_comm == \"a?\"", "'?'"),
            ("prev_comm == \"a\\*\"", "escape"),
            ("x > 5", "unsigned 64-bit"),
            ("prev_tid == 5000000000", "outside the range"),
            ("(prev_state & 6) == 6", "truth value"),
            ("$ctx.vpid == 1", "not available"),
            ("-prev_tid == 1", "on a field"),
        ] {
            let err = tr(e).expect_err(e);
            assert!(err.reason.contains(why), "{e}: {}", err.reason);
        }
    }
}
