//! Refused filters: the error kind and the byte position of the offending token (the
//! parse-time rejections of the spec).

use rttng_filter::{compile, ErrorKind, MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_NODES};

type Case = (&'static str, usize, fn(&ErrorKind) -> bool);

fn err(expr: &str) -> (usize, ErrorKind) {
    let e = compile(expr).expect_err(expr);
    (e.pos, e.kind)
}

#[test]
fn positions_point_at_the_offending_token() {
    let cases: &[Case] = &[
        ("v === 1", 4, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("v == 1e", 5, |k| matches!(k, ErrorKind::BadNumber(_))),
        ("v + 1 == 3", 2, |k| {
            *k == ErrorKind::UnsupportedOperator("+")
        }),
        ("v * 2", 2, |k| *k == ErrorKind::UnsupportedOperator("*")),
        ("x == 1 && arr[v] == 1", 14, |k| {
            *k == ErrorKind::NonConstantIndex
        }),
        ("\"abc\"", 0, |k| *k == ErrorKind::StringRoot),
        ("  1.5", 2, |k| *k == ErrorKind::FloatRoot),
        ("$foo.x == 1", 0, |k| matches!(k, ErrorKind::UnknownRoot(_))),
        ("s == \"a\\nb\"", 7, |k| *k == ErrorKind::UnsupportedEscape),
        ("s == \"ESCSEQ\"", 6, |k| *k == ErrorKind::EscapeSequence),
        ("s == \"a\\qb\"", 7, |k| *k == ErrorKind::UnsupportedEscape),
        ("s == \"a\\\"b\"", 7, |k| *k == ErrorKind::UnsupportedEscape),
        ("(v == 1", 7, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("v == 1)", 6, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("s < \"a*b\"", 2, |k| *k == ErrorKind::GlobOperator("<")),
        ("\"a*b\" == \"*c\"", 6, |k| *k == ErrorKind::TwoGlobs),
        ("\"a*b\" == \"c*\"", 6, |k| *k == ErrorKind::TwoGlobs),
        ("v == 1 && \"a\"", 7, |k| {
            *k == ErrorKind::StringOperand("&&")
        }),
        ("v & 1.5", 2, |k| *k == ErrorKind::FloatOperand("&")),
        ("v | \"a\"", 2, |k| *k == ErrorKind::StringOperand("|")),
        ("-\"a\" == s", 0, |k| *k == ErrorKind::UnaryOnString("-")),
        ("\"a\" == 1", 4, |k| *k == ErrorKind::TypeMismatch("==")),
        ("v == 1 ? 1 : 0", 7, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("v = 1", 2, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("v == 1 # x", 7, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("v == 1 \u{e9}", 7, |k| {
            matches!(k, ErrorKind::UnexpectedChar('\u{e9}'))
        }),
        ("$ctx.perf:thread:cpu-cycles == 1", 20, |k| {
            *k == ErrorKind::UnsupportedOperator("-")
        }),
        ("f(1)", 1, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("", 0, |k| *k == ErrorKind::Empty),
        ("  /* only */ ", 0, |k| *k == ErrorKind::Empty),
        ("1f == v", 1, |k| {
            matches!(k, ErrorKind::UnexpectedToken { .. })
        }),
        ("s == \"abc", 5, |k| *k == ErrorKind::UnterminatedString),
    ];
    for (expr, pos, pred) in cases {
        let (p, k) = err(expr);
        assert!(pred(&k), "{expr}: got {k:?}");
        assert_eq!(p, *pos, "{expr}: {k}");
    }
}

#[test]
fn message_is_one_line_with_a_caret() {
    let e = compile("v == 1 && (w > )").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unexpected ')', expected a value, a field or '(' at byte 15"
    );
    assert_eq!(
        e.caret("v == 1 && (w > )"),
        "v == 1 && (w > )\n               ^"
    );
}

#[test]
fn limits_are_enforced() {
    let long = format!("v == {}", "1".repeat(MAX_EXPRESSION_BYTES));
    assert!(matches!(err(&long).1, ErrorKind::TooLong { .. }));
    let deep = format!(
        "{}v{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(err(&deep).1, ErrorKind::TooDeep { .. }));
    let nots = format!("{}v", "!".repeat(MAX_DEPTH + 1));
    assert!(matches!(err(&nots).1, ErrorKind::TooDeep { .. }));
    let wide = vec!["v == 1"; MAX_NODES].join(" || ");
    assert!(matches!(err(&wide).1, ErrorKind::TooManyNodes { .. }));
    // A long flat `||` chain is fine (it does not nest once flattened).
    let chain = vec!["v == 1"; MAX_NODES / 4].join(" || ");
    assert!(compile(&chain).is_ok());
    let cmp_chain = vec!["v"; MAX_DEPTH + 2].join(" == ");
    assert!(matches!(err(&cmp_chain).1, ErrorKind::TooDeep { .. }));
}
