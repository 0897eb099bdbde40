//! Fuzz target: arbitrary bytes as filter text (compiled, then bound and evaluated against
//! a small event class) and as an encoded filter program (decoded, bound, evaluated). Must
//! return Ok or Err, never panic or hang; a compiled program must survive its own wire form.
//! `$app.p:d` is a dynamic value whose type the input's first byte picks (none, integer,
//! float, string).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_filter::{Event, FieldType, Program, Reference, Root, Schema, Value};

struct S;
impl Schema for S {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        match r.simple_name()? {
            "p:d" if r.root == Root::App => Some((3, FieldType::Dynamic)),
            "i" => Some((0, FieldType::Int)),
            "f" => Some((1, FieldType::Float)),
            "s" => Some((2, FieldType::Str)),
            _ => None,
        }
    }
}
/// The event; its byte picks the dynamic value's type.
struct E(u8);
impl Event for E {
    fn value(&self, slot: u16) -> Value<'_> {
        match (slot, self.0 % 4) {
            (0, _) | (3, 1) => Value::Int(7),
            (1, _) | (3, 2) => Value::Float(0.5),
            (2, _) | (3, 3) => Value::Str(b"hello*world"),
            _ => Value::Absent,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let ev = E(data.first().copied().unwrap_or(0));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = rttng_filter::compile(text) {
            let kept = p.bind(&S).matches(&ev);
            let q = Program::decode(&p.encode()).expect("own wire form decodes");
            assert_eq!(q.bind(&S).matches(&ev), kept);
        }
    }
    if let Ok(p) = Program::decode(data) {
        let _ = p.bind(&S).matches(&ev);
    }
});
