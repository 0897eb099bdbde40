//! The linker-section registry sees every call site, with compile-time metadata.

use rttng_ust::control;

rttng_ust::trace_enum! {
    #[derive(Clone, Copy, Debug)]
    pub enum Color: u8 { Red = 0, Green = 1, Blue = 7 }
}

fn all_kinds(n: u64) {
    let arr = [1i32, 2, 3];
    let seq: &[u16] = &[4, 5];
    rttng_ust::tracepoint!(
        it_registry, kinds, WARNING,
        a: u8 = n as u8, b: i16 = -2, c: u32 = 3, d: i64 = -4, e: usize = 5,
        f: bool = true, g: char = 'x', h: f32 = 1.5, i: f64 = 2.5,
        s: &str = "text", arr: [i32; 3] = arr, seq: &[u16] = seq, color: Color = Color::Blue,
        bytes: &[u8] = b"ab"
    );
}

#[test]
fn every_call_site_is_listed_before_it_runs() {
    // all_kinds has never been called in this test.
    let events = control::events();
    let e = events
        .iter()
        .find(|e| e.name == "it_registry:kinds")
        .unwrap_or_else(|| {
            panic!(
                "missing: {:?}",
                events.iter().map(|e| e.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(e.loglevel, 4);
    let s = e.fields.as_struct().unwrap();
    let names: Vec<&str> = s.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "_a",
            "_b",
            "_c",
            "_d",
            "_e",
            "_f",
            "_g",
            "_h",
            "_i",
            "_s",
            "_arr",
            "__seq_length",
            "_seq",
            "_color",
            "__bytes_length",
            "_bytes"
        ]
    );
    // Indices are positions, stable across calls.
    let again = control::events();
    assert_eq!(again[e.index].name, e.name);
    // Disabled: calling it records nothing and must not evaluate arguments after the first call.
    all_kinds(1);
}

#[test]
fn disabled_call_site_does_not_evaluate_arguments() {
    fn site(counter: &mut u32) {
        rttng_ust::tracepoint!(it_registry, lazy, DEBUG, v: u32 = { *counter += 1; *counter });
    }
    let mut counter = 0;
    for _ in 0..10 {
        site(&mut counter);
    }
    assert_eq!(counter, 0, "arguments evaluated while disabled");
}
