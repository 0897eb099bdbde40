//! Dynamic values (`$app.PROVIDER:NAME`, LTTng's dynamic type): generated filters over a
//! context whose type changes from event to event (integer, float, string, none) agree with
//! the reference evaluator, which decides type errors per event as lttng-ust's interpreter
//! does; a class whose fields are all dynamic keeps what the typed class keeps wherever the
//! typed class binds; and hand-written cases from lttng-ust stable-2.13's
//! `lttng-bytecode-interpreter.c` (`BYTECODE_OP_GET_CONTEXT_REF`: `NONE` and a NULL string
//! fail; the generic ops fail on a type mismatch; a failure rejects the event whatever
//! `||` surrounds it).

use super::reference::{outcome, outcome_in, Expr, Outcome, DYN};
use super::{event, Dyn, TestEvent, TestSchema};
use proptest::prelude::*;
use rttng_filter::{Event, FieldType, Reference, Schema, Value};

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        2 => prop::sample::select(vec![0u64, 1, 2, 3, 5, 64, u64::MAX]).prop_map(|v| Expr::Int(v, 10)),
        1 => prop::sample::select(vec![0.0f64, 0.5, 2.0, -3.25]).prop_map(Expr::Float),
        2 => prop::collection::vec(super::props::piece(), 0..4).prop_map(Expr::Str),
        4 => Just(Expr::Field(DYN)),
        2 => prop::sample::select(vec!["i", "f", "s", "missing"]).prop_map(Expr::Field),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["-", "+", "!", "~"]),
                inner.clone()
            )
                .prop_map(|(op, e)| Expr::Un(op, Box::new(e))),
            (
                prop::sample::select(vec![
                    "==", "!=", "<", "<=", ">", ">=", "&&", "||", "&", "|", "<<", ">>"
                ]),
                inner.clone(),
                inner
            )
                .prop_map(|(op, l, r)| Expr::Bin(op, Box::new(l), Box::new(r))),
        ]
    })
}

fn dyn_value() -> impl Strategy<Value = Dyn> {
    prop_oneof![
        Just(Dyn::None),
        prop::sample::select(vec![0i64, 1, 2, 3, 5, 6, -1, 64, i64::MIN]).prop_map(Dyn::I),
        prop::sample::select(vec![0.0f64, 0.5, 2.0, 5.5, -3.25, f64::NAN]).prop_map(Dyn::F),
        prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'*', 0]), 0..4)
            .prop_map(Dyn::S),
    ]
}

fn dyn_event() -> impl Strategy<Value = TestEvent> {
    (super::props::event(), dyn_value()).prop_map(|(mut ev, d)| {
        ev.d = d;
        ev
    })
}

/// The test class with every field dynamic (same slots, same values).
struct AllDynamic;

impl Schema for AllDynamic {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        let (slot, _) = TestSchema.resolve(r)?;
        Some((slot, FieldType::Dynamic))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn dynamic_context_agrees_with_reference(e in expr(), evs in prop::collection::vec(dyn_event(), 6)) {
        let text = e.text();
        let compiled = rttng_filter::compile(&text);
        let bound = compiled.as_ref().ok().map(|p| p.bind(&TestSchema));
        for ev in &evs {
            let want = outcome(&e, ev);
            let got = match &bound {
                None => Outcome::Refused,
                Some(f) => Outcome::Keep(f.matches(ev)),
            };
            prop_assert_eq!(got, want, "filter {} over {:?}", text, ev);
        }
    }

    #[test]
    fn all_dynamic_class_agrees_with_reference_and_with_the_typed_class(
        e in super::props::expr(),
        evs in prop::collection::vec(super::props::event(), 4),
    ) {
        let text = e.text();
        let Ok(p) = rttng_filter::compile(&text) else { return Ok(()) };
        let (typed, dynamic) = (p.bind(&TestSchema), p.bind(&AllDynamic));
        for ev in &evs {
            let want = outcome_in(&e, ev, true);
            prop_assert_eq!(Outcome::Keep(dynamic.matches(ev)), want, "filter {} over {:?}", text, ev);
            if typed.can_match() {
                prop_assert_eq!(dynamic.matches(ev), typed.matches(ev), "typed vs dynamic: {} over {:?}", text, ev);
            }
        }
    }

    #[test]
    fn dynamic_wire_round_trip_agrees(e in expr(), ev in dyn_event()) {
        if let Ok(p) = rttng_filter::compile(&e.text()) {
            let q = rttng_filter::Program::decode(&p.encode()).unwrap();
            prop_assert_eq!(p.bind(&TestSchema).matches(&ev), q.bind(&TestSchema).matches(&ev));
        }
    }
}

fn with(d: Dyn) -> TestEvent {
    TestEvent { d, ..event(1) }
}

fn keeps(expr: &str, d: Dyn) -> bool {
    super::keeps(expr, &with(d))
}

#[test]
fn integers_floats_and_strings_compare_as_their_run_time_type() {
    assert!(keeps("$app.p:d > 5", Dyn::I(6)));
    assert!(!keeps("$app.p:d > 5", Dyn::I(5)));
    // Integer against float: as doubles, either way round.
    assert!(keeps("$app.p:d > 5", Dyn::F(5.5)));
    assert!(keeps("$app.p:d < 5.5", Dyn::I(5)));
    assert!(!keeps("$app.p:d == 5", Dyn::F(f64::NAN)));
    assert!(keeps("$app.p:d != 5", Dyn::F(f64::NAN)));
    // Strings: strcmp, a final star as a prefix, full globs with == and !=.
    assert!(keeps("$app.p:d == \"ab\"", Dyn::S(b"ab".to_vec())));
    assert!(keeps("$app.p:d == \"a*\"", Dyn::S(b"abc".to_vec())));
    assert!(keeps("\"*c\" == $app.p:d", Dyn::S(b"abc".to_vec())));
    assert!(!keeps("$app.p:d != \"*c\"", Dyn::S(b"abc".to_vec())));
    assert!(keeps("$app.p:d < \"b\"", Dyn::S(b"abc".to_vec())));
    assert!(keeps("$app.p:d == s", Dyn::S(b"hello".to_vec())));
    // Two dynamic operands.
    assert!(keeps("$app.p:d == $app.p:d", Dyn::I(3)));
    assert!(keeps("$app.p:d == $app.p:d", Dyn::S(b"x".to_vec())));
}

#[test]
fn a_type_mismatch_rejects_that_event_even_inside_or() {
    // The string against a number fails: the event is rejected, `||` or not.
    assert!(!keeps("$app.p:d == 3", Dyn::S(b"3".to_vec())));
    assert!(!keeps("$app.p:d == 3 || i == 1", Dyn::S(b"3".to_vec())));
    assert!(!keeps("$app.p:d == \"3\" || i == 1", Dyn::I(3)));
    // ... but only that event: the same filter keeps an event whose value fits.
    assert!(keeps("$app.p:d == 3 || i == 1", Dyn::I(0)));
    // A failure that short-circuit evaluation never reaches does not count.
    assert!(keeps("i == 1 || $app.p:d == 3", Dyn::S(b"x".to_vec())));
    assert!(!keeps("i == 2 && $app.p:d == 3", Dyn::S(b"x".to_vec())));
}

#[test]
fn no_value_rejects_every_event_it_is_read_for() {
    for f in [
        "$app.p:d == 1",
        "$app.p:d != 1",
        "$app.p:d == 1 || 1",
        "!$app.p:d",
        "$app.p:d == \"*\"",
    ] {
        assert!(!keeps(f, Dyn::None), "{f}");
    }
    assert!(keeps("1 || $app.p:d == 1", Dyn::None));
}

#[test]
fn operators_take_what_lttng_takes() {
    // The whole filter must be an integer: a float or string is a failure.
    assert!(keeps("$app.p:d", Dyn::I(2)));
    assert!(!keeps("$app.p:d", Dyn::I(0)));
    assert!(!keeps("$app.p:d", Dyn::F(2.0)));
    assert!(!keeps("$app.p:d", Dyn::S(b"a".to_vec())));
    // `&&`/`||` cast a float (CAST_TO_S64), refuse a string.
    assert!(keeps("$app.p:d && 1", Dyn::F(1.5)));
    assert!(!keeps("$app.p:d && 1", Dyn::F(0.5)));
    assert!(!keeps("$app.p:d || 1", Dyn::S(b"a".to_vec())));
    // Bitwise operators and `~` take integers only.
    assert!(keeps("$app.p:d & 1", Dyn::I(3)));
    assert!(!keeps("$app.p:d & 1", Dyn::F(3.0)));
    assert!(keeps("~$app.p:d == -4", Dyn::I(3)));
    assert!(!keeps("~$app.p:d == -4", Dyn::F(3.0)));
    assert!(!keeps("$app.p:d << 64 == 0", Dyn::I(1)));
    // Unary minus and plus: numbers only; `!` of a float is `== 0.0`.
    assert!(keeps("-$app.p:d == -2.5", Dyn::F(2.5)));
    assert!(keeps("+$app.p:d == 7", Dyn::I(7)));
    assert!(!keeps("-$app.p:d == \"a\"", Dyn::S(b"a".to_vec())));
    assert!(!keeps("+$app.p:d == \"a\"", Dyn::S(b"a".to_vec())));
    assert!(keeps("!$app.p:d", Dyn::F(0.0)));
    assert!(!keeps("!$app.p:d", Dyn::S(b"".to_vec())));
}

/// An event whose dynamic slot returns a value the filter never asked to be typed: every
/// value works through the trait (no panic), and a typed slot keeps its own type check.
#[test]
fn a_typed_slot_meeting_another_type_at_run_time_still_rejects() {
    struct Liar;
    impl Event for Liar {
        fn value(&self, _slot: u16) -> Value<'_> {
            Value::Str(b"x")
        }
    }
    let p = rttng_filter::compile("i == 1 || $app.p:d == \"x\"").unwrap();
    assert!(!p.bind(&TestSchema).matches(&Liar));
}
