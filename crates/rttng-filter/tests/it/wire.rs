//! The wire form: round trips, and hostile bytes refused with an error (never a panic).

use super::{event, TestSchema};
use rttng_filter::{compile, DecodeError, Program};

#[test]
fn round_trip_keeps_meaning() {
    for expr in [
        "i == 1 || s == \"h*o\" && $ctx.vpid > 0x10 || -f < 2.5e3 || ~i & 3 << 1 >> 1 ^ 5 | 2",
        "a.b[3][4]->c == 1",
        "$app.prov:num != 17",
    ] {
        let p = compile(expr).unwrap();
        let q = Program::decode(&p.encode()).unwrap();
        assert_eq!(p.encode(), q.encode(), "{expr}");
        for i in -2..3 {
            let ev = event(i);
            assert_eq!(
                p.bind(&TestSchema).matches(&ev),
                q.bind(&TestSchema).matches(&ev)
            );
        }
    }
}

#[test]
fn hostile_bytes_are_refused() {
    let good = compile("i == 1 && s == \"x\"").unwrap().encode();
    // Every truncation and every single-byte change decodes or errs, never panics.
    for n in 0..good.len() {
        assert!(Program::decode(&good[..n]).is_err(), "truncated at {n}");
    }
    for at in 0..good.len() {
        for v in [0u8, 1, 5, 0x7f, 0xff] {
            let mut b = good.clone();
            b[at] = v;
            let _ = Program::decode(&b);
        }
    }
    // A node that is its own child, a cycle, and a shared child.
    let self_child = [1, 1, 0, 0, 0, 4, 2, 0, 0, 0, 0];
    assert!(matches!(
        Program::decode(&self_child),
        Err(DecodeError::BadTree { .. })
    ));
    let shared = [
        &[1u8, 2, 0, 0, 0][..],
        &[0, 1, 0, 0, 0, 0, 0, 0, 0],
        &[5, 2, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    assert!(Program::decode(&shared).is_err());
    // A checked-out construct smuggled in is refused by the checker.
    let plus = [
        &[1u8, 3, 0, 0, 0][..],
        &[0, 1, 0, 0, 0, 0, 0, 0, 0],
        &[0, 2, 0, 0, 0, 0, 0, 0, 0],
        &[5, 13, 0, 0, 0, 0, 1, 0, 0, 0],
    ]
    .concat();
    assert!(matches!(Program::decode(&plus), Err(DecodeError::Check(_))));
    let huge = [1u8, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        Program::decode(&huge),
        Err(DecodeError::TooManyNodes { .. })
    ));
}
