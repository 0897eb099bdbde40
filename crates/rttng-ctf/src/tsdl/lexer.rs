//! TSDL lexer: turns metadata text into tokens, each tagged with its 1-based line number.
//!
//! It knows C comments, CRLF line endings, decimal/hex/octal integer literals with C suffixes,
//! string and character literals with C escapes, and TSDL punctuation. It does not know keywords:
//! every word is an [`Tok::Ident`] and the parser decides what a word means.

use super::{MetadataError, MetadataErrorKind};

/// One token. Words (identifiers and keywords) are kept as text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// An unsigned integer literal (a leading `-` is a separate token).
    Int(u64),
    Str(String),
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Semi,
    Comma,
    Eq,
    /// `:=`
    TypeAssign,
    Colon,
    Dot,
    /// `...`
    Ellipsis,
    Lt,
    Gt,
    Minus,
    Plus,
    Star,
}

impl Tok {
    /// How the token is shown in a diagnostic.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(v) => format!("`{v}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Semi => "`;`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Eq => "`=`".into(),
            Tok::TypeAssign => "`:=`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Ellipsis => "`...`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Star => "`*`".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: u32,
}

fn err(line: u32, kind: MetadataErrorKind) -> MetadataError {
    MetadataError { line, kind }
}

/// Splits `text` into tokens. The caller bounds the text size, so the token count is bounded too.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, MetadataError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut line: u32 = 1;
    let mut i = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line = line.saturating_add(1);
                i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start_line = line;
                i += 2;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(err(start_line, MetadataErrorKind::UnterminatedComment))
                        }
                        Some(b'*') if bytes.get(i + 1) == Some(&b'/') => {
                            i += 2;
                            break;
                        }
                        Some(b'\n') => {
                            line = line.saturating_add(1);
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let (s, next, lines) = lex_quoted(bytes, i, b'"', line)?;
                tokens.push(Token {
                    tok: Tok::Str(s),
                    line,
                });
                line = line.saturating_add(lines);
                i = next;
            }
            b'\'' => {
                // A character literal is an integer constant in C and in TSDL.
                let (s, next, lines) = lex_quoted(bytes, i, b'\'', line)?;
                let mut chars = s.chars();
                let value = match (chars.next(), chars.next()) {
                    (Some(ch), None) => u64::from(u32::from(ch)),
                    _ => return Err(err(line, MetadataErrorKind::BadNumber(format!("'{s}'")))),
                };
                tokens.push(Token {
                    tok: Tok::Int(value),
                    line,
                });
                line = line.saturating_add(lines);
                i = next;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let literal = &text[start..i];
                let value = parse_int_literal(literal)
                    .ok_or_else(|| err(line, MetadataErrorKind::BadNumber(literal.to_string())))?;
                tokens.push(Token {
                    tok: Tok::Int(value),
                    line,
                });
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push(Token {
                    tok: Tok::Ident(text[start..i].to_string()),
                    line,
                });
            }
            _ => {
                let (tok, len) = match (c, bytes.get(i + 1).copied(), bytes.get(i + 2).copied()) {
                    (b':', Some(b'='), _) => (Tok::TypeAssign, 2),
                    (b'.', Some(b'.'), Some(b'.')) => (Tok::Ellipsis, 3),
                    (b'{', _, _) => (Tok::LBrace, 1),
                    (b'}', _, _) => (Tok::RBrace, 1),
                    (b'[', _, _) => (Tok::LBracket, 1),
                    (b']', _, _) => (Tok::RBracket, 1),
                    (b'(', _, _) => (Tok::LParen, 1),
                    (b')', _, _) => (Tok::RParen, 1),
                    (b';', _, _) => (Tok::Semi, 1),
                    (b',', _, _) => (Tok::Comma, 1),
                    (b'=', _, _) => (Tok::Eq, 1),
                    (b':', _, _) => (Tok::Colon, 1),
                    (b'.', _, _) => (Tok::Dot, 1),
                    (b'<', _, _) => (Tok::Lt, 1),
                    (b'>', _, _) => (Tok::Gt, 1),
                    (b'-', _, _) => (Tok::Minus, 1),
                    (b'+', _, _) => (Tok::Plus, 1),
                    (b'*', _, _) => (Tok::Star, 1),
                    _ => {
                        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                        return Err(err(line, MetadataErrorKind::InvalidCharacter(ch)));
                    }
                };
                tokens.push(Token { tok, line });
                i += len;
            }
        }
    }
    Ok(tokens)
}

/// Parses a C integer literal: decimal, `0x` hex, `0` octal, with any `u`/`l` suffixes.
/// `None` when malformed or above `u64::MAX` (babeltrace2 rejects those too).
fn parse_int_literal(literal: &str) -> Option<u64> {
    let body = literal.trim_end_matches(['u', 'U', 'l', 'L']);
    let (digits, radix) =
        if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (hex, 16)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Lexes a quoted literal starting at `start` (the opening quote). Returns the unescaped text,
/// the index after the closing quote and the number of newlines inside.
fn lex_quoted(
    bytes: &[u8],
    start: usize,
    quote: u8,
    line: u32,
) -> Result<(String, usize, u32), MetadataError> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = start + 1;
    let mut newlines = 0u32;
    loop {
        let Some(&c) = bytes.get(i) else {
            return Err(err(line, MetadataErrorKind::UnterminatedString));
        };
        i += 1;
        if c == quote {
            break;
        }
        match c {
            b'\n' => {
                newlines = newlines.saturating_add(1);
                out.push(c);
            }
            b'\\' => {
                let Some(&e) = bytes.get(i) else {
                    return Err(err(line, MetadataErrorKind::UnterminatedString));
                };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'v' => out.push(0x0b),
                    b'\\' | b'\'' | b'"' | b'?' => out.push(e),
                    b'\n' => newlines = newlines.saturating_add(1),
                    b'0'..=b'7' => {
                        let mut value = u32::from(e - b'0');
                        for _ in 0..2 {
                            match bytes.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    value = value * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        let byte = u8::try_from(value)
                            .map_err(|_| err(line, MetadataErrorKind::BadEscape))?;
                        out.push(byte);
                    }
                    b'x' => {
                        let mut value = 0u32;
                        let mut digits = 0;
                        while let Some(d) = bytes.get(i).and_then(|&d| char::from(d).to_digit(16)) {
                            value = value * 16 + d;
                            digits += 1;
                            i += 1;
                            if digits == 2 {
                                break;
                            }
                        }
                        if digits == 0 {
                            return Err(err(line, MetadataErrorKind::BadEscape));
                        }
                        out.push(value as u8);
                    }
                    _ => return Err(err(line, MetadataErrorKind::BadEscape)),
                }
            }
            _ => out.push(c),
        }
    }
    let text = String::from_utf8(out).map_err(|_| err(line, MetadataErrorKind::BadEscape))?;
    Ok((text, i, newlines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn integers_in_every_base() {
        assert_eq!(
            toks("10 0x1F 017 0 5UL"),
            vec![
                Tok::Int(10),
                Tok::Int(31),
                Tok::Int(15),
                Tok::Int(0),
                Tok::Int(5)
            ]
        );
        assert!(tokenize("99999999999999999999").is_err());
        assert!(tokenize("08").is_err());
        assert!(tokenize("0x").is_err());
    }

    #[test]
    fn punctuation_and_comments() {
        assert_eq!(
            toks("a := b; /* x\n y */ c ... // z\n d"),
            vec![
                Tok::Ident("a".into()),
                Tok::TypeAssign,
                Tok::Ident("b".into()),
                Tok::Semi,
                Tok::Ident("c".into()),
                Tok::Ellipsis,
                Tok::Ident("d".into())
            ]
        );
    }

    #[test]
    fn lines_count_crlf_comments_and_strings() {
        let t = tokenize("a\r\n/*\n\n*/b \"x\ny\" c").unwrap();
        assert_eq!(
            t.iter().map(|t| t.line).collect::<Vec<_>>(),
            vec![1, 4, 4, 5]
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            toks(r#""a\"b\n\x41\101\\""#),
            vec![Tok::Str("a\"b\nAA\\".into())]
        );
        assert!(tokenize("\"abc").is_err());
        assert!(tokenize(r#""\q""#).is_err());
        assert_eq!(toks("'A'"), vec![Tok::Int(65)]);
    }

    #[test]
    fn errors_carry_lines() {
        let e = tokenize("a\nb\n@").unwrap_err();
        assert_eq!(e.line, 3);
        let e = tokenize("a\n/* never closed").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
