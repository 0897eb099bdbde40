//! Generated filters over generated events: the crate and the reference evaluator agree on
//! whether each filter is refused, and on every event it keeps. Every operator, glob form and
//! literal form is in the generator.

use super::reference::{outcome, Expr, Outcome, Piece};
use super::{TestEvent, TestSchema};
use proptest::prelude::*;

pub(super) fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => prop::sample::select(vec![b'a', b'b', b'\\' ]).prop_filter("no lone backslash", |c| *c != b'\\').prop_map(Piece::Byte),
        2 => Just(Piece::Star),
        1 => Just(Piece::EscStar),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (
            prop::sample::select(vec![0u64, 1, 2, 3, 63, 64, 1 << 40, u64::MAX, 1 << 63]),
            prop::sample::select(vec![10u8, 16, 8])
        )
            .prop_map(|(v, r)| Expr::Int(v, r)),
        prop::sample::select(vec![0.0f64, 0.5, 1.5, 2.0, -3.25, 1e19]).prop_map(Expr::Float),
        prop::collection::vec(piece(), 0..4).prop_map(Expr::Str),
        prop::sample::select(vec!["i", "j", "f", "s", "t", "missing"]).prop_map(Expr::Field),
    ]
}

pub(super) fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["-", "+", "!", "~"]),
                inner.clone()
            )
                .prop_map(|(op, e)| Expr::Un(op, Box::new(e))),
            (
                prop::sample::select(vec![
                    "==", "!=", "<", "<=", ">", ">=", "&&", "||", "&", "|", "^", "<<", ">>", "+"
                ]),
                inner.clone(),
                inner
            )
                .prop_map(|(op, l, r)| Expr::Bin(op, Box::new(l), Box::new(r))),
        ]
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'*', b'\\', 0xc3, 0]),
        0..5,
    )
}

pub(super) fn event() -> impl Strategy<Value = TestEvent> {
    let int = || prop::sample::select(vec![0i64, 1, 2, 3, -1, 63, 64, i64::MIN, i64::MAX]);
    (
        int(),
        int(),
        prop::sample::select(vec![0.0f64, 0.5, -0.5, 1.5, 2.0, f64::NAN, 1e19, -3.25]),
        bytes(),
        bytes(),
    )
        .prop_map(|(i, j, f, s, t)| TestEvent {
            i,
            j,
            f,
            s,
            t,
            vpid: 1,
            procname: b"p".to_vec(),
            app: 0,
            d: super::Dyn::None,
        })
}

/// A comparison the evaluator fuses: an integer field (or a missing one) against an
/// integer, or a string field against a literal of 0 to 20 bytes (sometimes with a star
/// or `\*`, which the flat form must leave to the tree), either side.
fn fused_leaf() -> impl Strategy<Value = Expr> {
    let int_cmp = (
        prop::sample::select(vec!["i", "j", "i", "j", "missing"]),
        prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]),
        prop::sample::select(vec![0u64, 1, 2, 3, 63, u64::MAX, 1 << 63]),
        any::<bool>(),
    )
        .prop_map(|(f, op, v, swap)| {
            let (l, r) = (Expr::Field(f), Expr::Int(v, 10));
            if swap {
                Expr::Bin(op, Box::new(r), Box::new(l))
            } else {
                Expr::Bin(op, Box::new(l), Box::new(r))
            }
        });
    let lit = prop_oneof![
        8 => prop::collection::vec(prop::sample::select(vec![b'a', b'b']).prop_map(Piece::Byte), 0..20),
        1 => prop::collection::vec(piece(), 0..4),
    ];
    let str_cmp = (
        prop::sample::select(vec!["s", "t"]),
        prop::sample::select(vec!["==", "!="]),
        lit,
        any::<bool>(),
    )
        .prop_map(|(f, op, p, swap)| {
            let (l, r) = (Expr::Field(f), Expr::Str(p));
            if swap {
                Expr::Bin(op, Box::new(r), Box::new(l))
            } else {
                Expr::Bin(op, Box::new(l), Box::new(r))
            }
        });
    prop_oneof![int_cmp, str_cmp]
}

/// One `&&` or `||` chain of 1 to 10 fused comparisons (the filters the flat form takes, up
/// to 8 comparisons and literals of up to 16 bytes).
fn chain() -> impl Strategy<Value = Expr> {
    (
        prop::collection::vec(fused_leaf(), 1..=10),
        prop::sample::select(vec!["&&", "||"]),
    )
        .prop_map(|(leaves, op)| {
            let mut it = leaves.into_iter();
            let first = it.next().expect("at least one leaf");
            it.fold(first, |acc, l| Expr::Bin(op, Box::new(acc), Box::new(l)))
        })
}

/// Strings like the fused literals, some longer, some with a NUL inside or after them.
fn chain_event() -> impl Strategy<Value = TestEvent> {
    let text =
        || prop::collection::vec(prop::sample::select(vec![b'a', b'a', b'b', b'b', 0]), 0..22);
    (
        prop::sample::select(vec![0i64, 1, 2, 3, -1, 63, i64::MIN, i64::MAX]),
        prop::sample::select(vec![0i64, 1, 2, 3, -1, 63, i64::MIN, i64::MAX]),
        text(),
        text(),
    )
        .prop_map(|(i, j, s, t)| TestEvent {
            i,
            j,
            f: 0.0,
            s,
            t,
            vpid: 1,
            procname: b"p".to_vec(),
            app: 0,
            d: super::Dyn::None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The flat form (one loop over fused comparisons) keeps exactly what the reference
    /// and the tree walk keep; plain chains of up to 8 comparisons do take it.
    #[test]
    fn flat_chains_agree_with_reference_and_tree(e in chain(), evs in prop::collection::vec(chain_event(), 8)) {
        let text = e.text();
        let p = rttng_filter::compile(&text).unwrap_or_else(|err| panic!("{text}: {err}"));
        let f = p.bind(&TestSchema);
        // Literals of up to 16 bytes: the generated ones are `a`/`b` runs (one byte each).
        let long_lit = text.split('"').skip(1).step_by(2).any(|l| l.len() > 16);
        let plain = !text.contains('*') && !text.contains('\\') && !text.contains("missing") && !long_lit;
        let leaves = text.matches("==").count() + text.matches("!=").count()
            + text.matches('<').count() + text.matches('>').count();
        prop_assert_eq!(f.is_flat(), plain && leaves <= 8, "flat form of {}", text);
        let tree = f.tree_only();
        prop_assert!(!tree.is_flat());
        for ev in &evs {
            let want = outcome(&e, ev);
            prop_assert_eq!(Outcome::Keep(f.matches(ev)), want, "filter {} over {:?}", text, ev);
            prop_assert_eq!(tree.matches(ev), f.matches(ev), "tree vs flat: {} over {:?}", text, ev);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, ..ProptestConfig::default() })]

    #[test]
    fn crate_agrees_with_reference(e in expr(), evs in prop::collection::vec(event(), 4)) {
        let text = e.text();
        let compiled = rttng_filter::compile(&text);
        for ev in &evs {
            let want = outcome(&e, ev);
            let got = match &compiled {
                Err(_) => Outcome::Refused,
                Ok(p) => Outcome::Keep(p.bind(&TestSchema).matches(ev)),
            };
            prop_assert_eq!(got, want, "filter {} over {:?} ({:?})", text, ev, compiled.as_ref().err());
        }
    }

    #[test]
    fn wire_round_trip_agrees(e in expr(), ev in event()) {
        if let Ok(p) = rttng_filter::compile(&e.text()) {
            let q = rttng_filter::Program::decode(&p.encode()).unwrap();
            prop_assert_eq!(p.bind(&TestSchema).matches(&ev), q.bind(&TestSchema).matches(&ev));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[ -~]{0,40}") {
        if let Ok(p) = rttng_filter::compile(&s) {
            let _ = p.bind(&TestSchema).matches(&super::event(1));
        }
    }
}
