//! Filters whose results LTTng 2.13 was observed to give (the ✓/✗ examples of
//! `shared/spec/filter-expression-language.md`, with `v` here called `i`), evaluated over
//! i = -3..=8: each expected set is written from the spec, not from this crate.

use super::{event, keeps, TestEvent};

fn kept(expr: &str, each: impl Fn(&mut TestEvent)) -> Vec<i64> {
    (-3..=8)
        .filter(|&i| {
            let mut ev = event(i);
            each(&mut ev);
            keeps(expr, &ev)
        })
        .collect()
}

fn odd() -> Vec<i64> {
    (-3..=8).filter(|i| i % 2 != 0).collect()
}

#[test]
fn precedence_and_chains() {
    assert_eq!(
        kept("2 & 2 == 2", |_| {}).len(),
        12,
        "& binds tighter than =="
    );
    assert_eq!(kept("i & 1 == 1", |_| {}), odd());
    assert_eq!(
        kept("i == 2 == 1", |_| {}),
        [2],
        "chained comparisons, left to right"
    );
    assert_eq!(
        kept("i == 2 || i == 3 && i == 4", |_| {}),
        [2],
        "&& binds tighter"
    );
    assert_eq!(kept("(i == 2 || i == 3) && i != 2", |_| {}), [3]);
    assert_eq!(kept("i | 1 == 3", |_| {}), [2, 3]);
    assert_eq!(kept("i ^ 1 == 3", |_| {}), [2]);
    assert_eq!(kept("1 << i >> 1 == 4", |_| {}), [3]);
}

#[test]
fn numbers() {
    assert_eq!(kept("i", |_| {}).len(), 11, "a lone field means non-zero");
    assert_eq!(kept("!!i", |_| {}).len(), 11);
    assert_eq!(kept("!i", |_| {}), [0]);
    assert_eq!(kept("~i == -1", |_| {}), [0]);
    assert_eq!(kept("i << 63 < 0", |_| {}), odd());
    assert_eq!(kept("i >> 64 == 0", |_| {}), Vec::<i64>::new());
    assert_eq!(kept("i << -1 == 0", |_| {}), Vec::<i64>::new());
    assert_eq!(kept("-i == -2", |_| {}), [2]);
    assert_eq!(kept("+i == 2", |_| {}), [2]);
    assert_eq!(kept("i > 2.5", |_| {}), [3, 4, 5, 6, 7, 8]);
    assert_eq!(kept("i == 3.0", |_| {}), [3]);
    assert_eq!(kept("1.5 < i", |_| {}), [2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(kept("i == 0x3 || i == 07 || i == 3u", |_| {}), [3, 7]);
    assert_eq!(kept("i == 0x1.8p1", |_| {}), [3], "hex float 3.0");
    assert_eq!(
        kept("i == 18446744073709551615", |_| {}),
        [-1],
        "u64 max is -1"
    );
    assert_eq!(kept("i >= 3 && i < 5", |_| {}), [3, 4]);
    assert_eq!(kept("i <= -2", |_| {}), [-3, -2]);
    assert_eq!(
        kept("f && i == 1", |e| e.f = 0.5),
        Vec::<i64>::new(),
        "0.5 casts to 0"
    );
    assert_eq!(kept("f && i == 1", |e| e.f = 1.5), [1]);
    assert_eq!(kept("!f", |e| e.f = 0.0).len(), 12);
}

#[test]
fn strings_and_globs() {
    let with = |s: &'static [u8]| move |e: &mut TestEvent| e.s = s.to_vec();
    assert_eq!(kept("s == \"hello\" && i == 1", |_| {}), [1]);
    assert_eq!(kept("s == 'hello' && i == 1", |_| {}), [1], "single quotes");
    assert_eq!(kept("\"hello\" == s && i == 1", |_| {}), [1]);
    for yes in ["\"hel*\"", "\"*llo\"", "\"h*l*o\"", "\"*\"", "\"h***o\""] {
        assert_eq!(kept(&format!("s == {yes} && i == 1"), |_| {}), [1], "{yes}");
    }
    assert_eq!(
        kept("s == \"hel\\*\"", |_| {}),
        Vec::<i64>::new(),
        "\\* is a literal star"
    );
    assert_eq!(kept("s == \"hel\\*\" && i == 1", with(b"hel*")), [1]);
    assert_eq!(kept("s == \"\"", |_| {}), Vec::<i64>::new());
    assert_eq!(kept("s == \"\" && i == 1", with(b"")), [1]);
    assert_eq!(kept("s != \"h*o\" && i == 1", |_| {}), Vec::<i64>::new());
    assert_eq!(kept("s != \"x*\" && i == 1", |_| {}), [1]);
    assert_eq!(kept("s >= \"hello\" && i == 1", |_| {}), [1]);
    assert_eq!(kept("s > \"z\"", |_| {}), Vec::<i64>::new());
    assert_eq!(kept("s < \"z\" && i == 1", |_| {}), [1]);
    assert_eq!(kept("s == s && i == 1", |_| {}), [1]);
    assert_eq!(kept("$ctx.procname == \"my*\" && i == 1", |_| {}), [1]);
    assert_eq!(kept("$ctx.vpid > 0 && i == 1", |_| {}), [1]);
    assert_eq!(kept("$app.prov:num == 17 && i == 1", |_| {}), [1]);
    assert_eq!(kept("s == \"hello\" /* c */ && i == 1 // x", |_| {}), [1]);
}

#[test]
fn class_errors_reject_every_event_even_under_or() {
    let none = Vec::<i64>::new();
    assert_eq!(kept("i == 2 || nonexistent == 1", |_| {}), none);
    assert_eq!(kept("i == 2 || $ctx.nosuch == 1", |_| {}), none);
    assert_eq!(kept("s == 3", |_| {}), none);
    assert_eq!(kept("i == \"3\"", |_| {}), none);
    assert_eq!(kept("1 || i == \"a\"", |_| {}), none);
    assert_eq!(kept("s", |_| {}), none, "a string field as logical operand");
    assert_eq!(kept("!s", |_| {}), none);
    assert_eq!(
        kept("f", |e| e.f = 1.0),
        none,
        "a float cannot be the result"
    );
    assert_eq!(kept("~f == 0 || 1", |_| {}), none);
    assert_eq!(kept("i[1] == 1 || 1", |_| {}), none, "index on a scalar");
}
