//! Fuzz target: arbitrary bytes as filter text (compiled, then bound and evaluated against
//! a small event class) and as an encoded filter program (decoded, bound, evaluated). Must
//! return Ok or Err, never panic or hang; a compiled program must survive its own wire form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_filter::{Event, FieldType, Program, Reference, Schema, Value};

struct S;
impl Schema for S {
    fn resolve(&self, r: &Reference) -> Option<(u16, FieldType)> {
        match r.simple_name()? {
            "i" => Some((0, FieldType::Int)),
            "f" => Some((1, FieldType::Float)),
            "s" => Some((2, FieldType::Str)),
            _ => None,
        }
    }
}
struct E;
impl Event for E {
    fn value(&self, slot: u16) -> Value<'_> {
        match slot {
            0 => Value::Int(7),
            1 => Value::Float(0.5),
            2 => Value::Str(b"hello*world"),
            _ => Value::Absent,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = rttng_filter::compile(text) {
            let kept = p.bind(&S).matches(&E);
            let q = Program::decode(&p.encode()).expect("own wire form decodes");
            assert_eq!(q.bind(&S).matches(&E), kept);
        }
    }
    if let Ok(p) = Program::decode(data) {
        let _ = p.bind(&S).matches(&E);
    }
});
