//! The lexer: filter text to tokens with their byte positions, following lttng-tools'
//! `filter-lexer.lpp` (stable-2.13): C comments, `"..."`/`'...'` strings (no C escape
//! sequences; `\*` is kept for the glob layer), decimal/octal/hex integers with C suffixes,
//! C and hex floats, identifiers with `:`, `$ctx`/`$app` roots and C operators.
//!
//! Not here: what the tokens mean (the parser) or which operators are accepted (the checker).

use crate::{Error, ErrorKind};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Integer constant, as unsigned 64-bit (saturated on overflow, like glibc's `strtoull`).
    Int(u64),
    Float(f64),
    /// String literal bytes as written between the quotes (`\*` kept as two bytes; newlines
    /// dropped, as lttng's lexer drops them).
    Str(Vec<u8>),
    Ident(String),
    /// `$NAME` (only `$ctx` and `$app` mean something).
    Global(String),
    /// An operator or punctuation, by its spelling.
    Punct(&'static str),
    Eof,
}

/// A token and the byte offset of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Punctuation, longest first (flex picks the longest match).
const PUNCT: [&str; 37] = [
    "...", "->", ">>", "<<", "==", "!=", "<=", ">=", "&&", "||", ":=", "[", "]", "(", ")", "{",
    "}", "*", "+", "-", "%", "/", "<", ">", "!", ":", ";", ".", "=", ",", "^", "&", "|", "~", "?",
    "@", "#",
];

/// Splits `src` into tokens (the last one is [`Tok::Eof`]). At most `max_tokens` tokens.
pub fn tokenize(src: &str, max_tokens: usize) -> Result<Vec<Token>, Error> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // Whitespace and comments.
        loop {
            match b.get(i) {
                Some(b' ' | b'\t' | b'\n') => i += 1,
                Some(b'/') if b.get(i + 1) == Some(&b'*') => {
                    // An unterminated comment runs to the end, as flex's does.
                    i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
                }
                Some(b'/') if b.get(i + 1) == Some(&b'/') => {
                    i = find(b, i + 2, b"\n").map_or(b.len(), |e| e + 1);
                }
                _ => break,
            }
        }
        if out.len() >= max_tokens {
            return Err(Error::new(i, ErrorKind::TooManyNodes { max: max_tokens }));
        }
        let pos = i;
        let Some(&c) = b.get(i) else {
            out.push(Token { tok: Tok::Eof, pos });
            return Ok(out);
        };
        let tok = if c == b'"' || c == b'\'' {
            let (s, end) = string(b, i + 1, c)?;
            i = end;
            Tok::Str(s)
        } else if c == b'L' && matches!(b.get(i + 1), Some(b'"' | b'\'')) {
            let q = b[i + 1];
            let (s, end) = string(b, i + 2, q)?;
            i = end;
            Tok::Str(s)
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (t, end) = number(b, i)?;
            i = end;
            t
        } else if is_ident_start(c) && (c != b':' || b.get(i + 1).is_some_and(|&n| is_ident(n))) {
            // A lone `:` is the COLON token (its flex rule comes first at equal length).
            let end = ident_end(b, i);
            let s = src[i..end].to_owned();
            i = end;
            Tok::Ident(s)
        } else if c == b'$' && b.get(i + 1).is_some_and(|&n| is_ident_start(n)) {
            let end = ident_end(b, i + 1);
            let s = src[i..end].to_owned();
            i = end;
            Tok::Global(s)
        } else if let Some(p) = PUNCT.iter().find(|p| b[i..].starts_with(p.as_bytes())) {
            i += p.len();
            Tok::Punct(p)
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(Error::new(i, ErrorKind::UnexpectedChar(ch)));
        };
        out.push(Token { tok, pos });
    }
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

fn ident_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_ident(c)) {
        i += 1;
    }
    i
}

/// A string literal's body from `i` (just after the opening quote) to the closing `quote`.
/// As in lttng 2.13, every character stands for itself (its lexer's escape-sequence rule
/// lacks the braces that would make it one, so it matches only the text `ESCSEQ`, which
/// then is a syntax error); the string checker then allows a backslash only before `\`
/// or `*`. Both escapes are kept as written for the comparison layer.
fn string(b: &[u8], mut i: usize, quote: u8) -> Result<(Vec<u8>, usize), Error> {
    let start = i - 1;
    let mut s = Vec::new();
    loop {
        match b.get(i) {
            None => return Err(Error::new(start, ErrorKind::UnterminatedString)),
            Some(&c) if c == quote => return Ok((s, i + 1)),
            Some(b'\n') => i += 1,
            Some(b'\\') => match b.get(i + 1) {
                Some(&n @ (b'*' | b'\\')) => {
                    s.extend_from_slice(&[b'\\', n]);
                    i += 2;
                }
                _ => return Err(Error::new(i, ErrorKind::UnsupportedEscape)),
            },
            Some(b'E') if b[i..].starts_with(b"ESCSEQ") => {
                return Err(Error::new(i, ErrorKind::EscapeSequence))
            }
            Some(&c) => {
                s.push(c);
                i += 1;
            }
        }
    }
}

/// A number starting at `i`: the longest of lttng's integer and float forms.
fn number(b: &[u8], i: usize) -> Result<(Tok, usize), Error> {
    let bad = |end: usize| Error::new(i, ErrorKind::BadNumber(lossy(&b[i..end])));
    let digits = |mut j: usize, hex: bool| {
        while b.get(j).is_some_and(|c| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        }) {
            j += 1;
        }
        j
    };
    let is_hex = b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
    let start = if is_hex { i + 2 } else { i };
    let int_end = digits(start, is_hex);
    let mut j = int_end;
    let mut float = false;
    if b.get(j) == Some(&b'.') {
        float = true;
        j = digits(j + 1, is_hex);
    }
    let exp = if is_hex { [b'p', b'P'] } else { [b'e', b'E'] };
    if b.get(j).is_some_and(|c| exp.contains(c)) {
        let mut k = j + 1;
        if matches!(b.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let e = digits(k, false);
        if e == k {
            // `1e` is a syntax error in lttng (the `e` starts an identifier after `1`).
            return Err(bad(e.max(j + 1)));
        }
        float = true;
        j = e;
    }
    if float {
        let text = &b[i..j];
        if is_hex && !b[start..j].iter().any(u8::is_ascii_hexdigit) {
            return Err(bad(j));
        }
        if matches!(b.get(j), Some(b'f' | b'F' | b'l' | b'L')) {
            j += 1;
        }
        let v = if is_hex {
            hex_float(&b[start..j])
        } else {
            std::str::from_utf8(text)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
        };
        return v.map(|v| (Tok::Float(v), j)).ok_or_else(|| bad(j));
    }
    if int_end == start {
        return Err(bad(j.max(i + 1)));
    }
    let (radix, body) = if is_hex {
        (16, &b[start..int_end])
    } else if b[i] == b'0' {
        // `0[0-7]*`: an 8 or 9 after the leading 0 ends the constant in flex, which leaves
        // two adjacent constants, a syntax error.
        if b[i..int_end].iter().any(|&c| c > b'7') {
            return Err(bad(int_end));
        }
        (8, &b[i..int_end])
    } else {
        (10, &b[i..int_end])
    };
    let v = body.iter().fold(0u64, |acc, &c| {
        let d = (c as char).to_digit(16).unwrap_or(0) as u64;
        acc.checked_mul(radix)
            .and_then(|a| a.checked_add(d))
            .unwrap_or(u64::MAX)
    });
    // C integer suffix: u, l, ll in either order and case.
    let mut k = int_end;
    let (mut u, mut l) = (false, false);
    loop {
        match b.get(k) {
            Some(b'u' | b'U') if !u => {
                u = true;
                k += 1;
            }
            Some(&c @ (b'l' | b'L')) if !l => {
                l = true;
                k += if b.get(k + 1) == Some(&c) { 2 } else { 1 };
            }
            _ => break,
        }
    }
    Ok((Tok::Int(v), k))
}

/// A hex float's value: `H*.H*` then `p[+-]D+`, optional suffix.
fn hex_float(b: &[u8]) -> Option<f64> {
    let mut mant = 0f64;
    let mut scale = 0i32;
    let mut i = 0;
    let mut after_point = false;
    while let Some(&c) = b.get(i) {
        if c == b'.' {
            after_point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            mant = mant * 16.0 + d as f64;
            if after_point {
                scale -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    let mut exp = 0i32;
    if matches!(b.get(i), Some(b'p' | b'P')) {
        i += 1;
        let neg = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut e = 0i32;
        while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(10)) {
            e = e.saturating_mul(10).saturating_add(d as i32);
            i += 1;
        }
        exp = if neg { -e } else { e };
    }
    Some(mant * 2f64.powi(exp.saturating_add(scale)))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s, 1000)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn numbers_in_every_form() {
        assert_eq!(
            toks("0x1F 017 0 3u 7ULL")[..5],
            [
                Tok::Int(31),
                Tok::Int(15),
                Tok::Int(0),
                Tok::Int(3),
                Tok::Int(7)
            ]
        );
        assert_eq!(
            toks("1. .5e1 1.5e1 1e9 0x1.8p1 2.5f")[..6],
            [
                Tok::Float(1.0),
                Tok::Float(5.0),
                Tok::Float(15.0),
                Tok::Float(1e9),
                Tok::Float(3.0),
                Tok::Float(2.5)
            ]
        );
        assert_eq!(
            toks("18446744073709551615 99999999999999999999")[..2],
            [Tok::Int(u64::MAX), Tok::Int(u64::MAX)]
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""a\*b" 'it"s' """#)[..3],
            [
                Tok::Str(b"a\\*b".to_vec()),
                Tok::Str(b"it\"s".to_vec()),
                Tok::Str(vec![])
            ]
        );
        let e = tokenize(r#"x == "a\nb""#, 100).unwrap_err();
        assert_eq!((e.pos, e.kind), (7, ErrorKind::UnsupportedEscape));
        let e = tokenize(r#"x == "aESCSEQ""#, 100).unwrap_err();
        assert_eq!((e.pos, e.kind), (7, ErrorKind::EscapeSequence));
        assert_eq!(toks(r#""a\\b""#)[0], Tok::Str(b"a\\\\b".to_vec()));
        let e = tokenize(r#"x == "a\qb""#, 100).unwrap_err();
        assert_eq!((e.pos, e.kind), (7, ErrorKind::UnsupportedEscape));
        let e = tokenize(r#"x == "abc"#, 100).unwrap_err();
        assert_eq!((e.pos, e.kind), (5, ErrorKind::UnterminatedString));
    }

    #[test]
    fn identifiers_globals_comments() {
        assert_eq!(
            toks("$ctx.perf:thread:x /* c */ a // d\n b"),
            [
                Tok::Global("$ctx".into()),
                Tok::Punct("."),
                Tok::Ident("perf:thread:x".into()),
                Tok::Ident("a".into()),
                Tok::Ident("b".into()),
                Tok::Eof
            ]
        );
    }
}
