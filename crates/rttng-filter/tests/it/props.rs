//! Generated filters over generated events: the crate and the reference evaluator agree on
//! whether each filter is refused, and on every event it keeps. Every operator, glob form and
//! literal form is in the generator.

use super::reference::{outcome, Expr, Outcome, Piece};
use super::{TestEvent, TestSchema};
use proptest::prelude::*;

fn piece() -> impl Strategy<Value = Piece> {
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

fn expr() -> impl Strategy<Value = Expr> {
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

fn event() -> impl Strategy<Value = TestEvent> {
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
        })
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
