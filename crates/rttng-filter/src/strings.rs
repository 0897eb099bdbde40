//! String comparison and star-glob matching with LTTng-UST's exact semantics
//! (`lttng-bytecode-interpreter.c` `stack_strcmp`, `strutils.c` `strutils_star_glob_match`
//! and `strutils_normalize_star_glob_pattern`), allocation-free; glob matching itself is
//! rttng-glob's.
//!
//! A string ends at its first NUL or at the end of the slice. In a *plain literal* (a filter
//! string without a star, or with a star only at its very end) `\*` and `\\` stand for `*`
//! and `\`, and an unescaped `*` makes the comparison succeed from there on (the prefix
//! match of a star-at-end pattern, which also makes `<` and `>` "meaningless" as lttng's
//! manual says). Bytes compare as C's (signed) `char` on x86. A full glob pattern (a star
//! elsewhere) only ever goes through [`glob_match`]. Field strings are taken verbatim.
//!
//! Not here: deciding which literal is which kind (the checker, [`kind`]).

/// What kind of string a filter literal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    /// No unescaped star.
    Plain,
    /// One unescaped star, the last character (compared by prefix).
    GlobEnd,
    /// An unescaped star elsewhere: matched with [`glob_match`], `==`/`!=` only.
    Glob,
}

/// The kind of a literal as lttng-tools classifies it (`strutils_test_glob_pattern`: only the
/// first unescaped star counts).
pub fn kind(lit: &[u8]) -> StrKind {
    let mut i = 0;
    while let Some(&c) = lit.get(i) {
        match c {
            0 => break,
            b'*' => {
                return if end(lit, i + 1) {
                    StrKind::GlobEnd
                } else {
                    StrKind::Glob
                }
            }
            b'\\' => {
                i += 1;
                if end(lit, i) {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    StrKind::Plain
}

/// Collapses runs of unescaped stars into one (lttng-tools normalizes every glob literal).
pub fn normalize(lit: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lit.len());
    let mut got_star = false;
    let mut i = 0;
    while let Some(&c) = lit.get(i) {
        match c {
            b'*' => {
                if got_star {
                    i += 1;
                    continue;
                }
                got_star = true;
            }
            b'\\' => {
                out.push(c);
                i += 1;
                let Some(&n) = lit.get(i) else { break };
                got_star = false;
                out.push(n);
                i += 1;
                continue;
            }
            _ => got_star = false,
        }
        out.push(c);
        i += 1;
    }
    out
}

#[inline(always)]
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

#[inline(always)]
fn end(s: &[u8], i: usize) -> bool {
    at(s, i) == 0
}

/// lttng-ust's `parse_char` on a plain literal: steps over a backslash; 0 = compare the
/// byte now at `*i`, -1 = unescaped star (the comparison stops: equal), -2 = unknown escape.
#[inline(always)]
fn parse_char(s: &[u8], i: &mut usize) -> i32 {
    match at(s, *i) {
        b'\\' => {
            *i += 1;
            match at(s, *i) {
                b'\\' | b'*' => 0,
                _ => -2,
            }
        }
        b'*' => -1,
        _ => 0,
    }
}

/// `stack_strcmp(left, right)`: <0, 0 or >0; `*_lit` says whether that side is a plain
/// literal (escapes and a final star interpreted).
pub fn compare(l: &[u8], l_lit: bool, r: &[u8], r_lit: bool) -> i32 {
    let (mut p, mut q) = (0usize, 0usize);
    loop {
        let mut escaped_l = false;
        if end(l, p) {
            if end(r, q) {
                return 0;
            }
            if r_lit && parse_char(r, &mut q) == -1 {
                return 0;
            }
            return -1;
        }
        if end(r, q) {
            if l_lit && parse_char(l, &mut p) == -1 {
                return 0;
            }
            return 1;
        }
        if l_lit {
            match parse_char(l, &mut p) {
                -1 => return 0,
                -2 => escaped_l = true,
                _ => {}
            }
        }
        if r_lit {
            match parse_char(r, &mut q) {
                -1 => return 0,
                -2 => {
                    if !escaped_l {
                        return -1;
                    }
                }
                _ => {
                    if escaped_l {
                        return 1;
                    }
                }
            }
        } else if escaped_l {
            return 1;
        }
        let diff = i32::from(at(l, p) as i8) - i32::from(at(r, q) as i8);
        if diff != 0 {
            return diff;
        }
        p += 1;
        q += 1;
    }
}

/// `strutils_star_glob_match(pattern, candidate)`: `*` matches any run of bytes, `\x` matches
/// `x`; both strings end at their first NUL. The matching is rttng-glob's (the one matcher
/// of event-name patterns in every domain). Work is bounded by
/// `pattern.len() * candidate.len()` steps.
pub fn glob_match(pattern: &[u8], candidate: &[u8]) -> bool {
    rttng_glob::matches_bytes(until_nul(pattern), until_nul(candidate))
}

fn until_nul(s: &[u8]) -> &[u8] {
    s.iter().position(|&c| c == 0).map_or(s, |n| &s[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(b"abc"), StrKind::Plain);
        assert_eq!(kind(b"ab\\*"), StrKind::Plain);
        assert_eq!(kind(b"ab*"), StrKind::GlobEnd);
        assert_eq!(kind(b"*ab"), StrKind::Glob);
        assert_eq!(kind(b"a*b*"), StrKind::Glob);
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize(b"a***b\\**c"), b"a*b\\**c");
        assert_eq!(normalize(b"**"), b"*");
    }

    #[test]
    fn globs() {
        for (p, c, want) in [
            (&b"hi*every*one"[..], &b"hi ev every onyx one"[..], true),
            (b"hel*", b"hello", true),
            (b"*llo", b"hello", true),
            (b"h*l*o", b"hello", true),
            (b"h*l*o", b"hellx", false),
            (b"*", b"", true),
            (b"a\\*b", b"a*b", true),
            (b"a\\*b", b"axb", false),
            (b"*x", b"", false),
        ] {
            assert_eq!(glob_match(p, c), want, "{:?} vs {:?}", p, c);
        }
    }

    #[test]
    fn plain_literal_compare() {
        assert_eq!(compare(b"hello", false, b"hel*", true), 0);
        assert_eq!(compare(b"hel", false, b"hel*", true), 0);
        assert!(compare(b"he", false, b"hel*", true) < 0);
        assert!(compare(b"hello", false, b"hel\\*", true) != 0);
        assert_eq!(compare(b"a*", false, b"a\\*", true), 0);
        assert!(compare(b"\xc3", false, b"a", true) < 0, "signed char");
        assert_eq!(compare(b"ab\0cd", false, b"ab", true), 0);
    }
}
