//! LTTng's event-name globs: `*` matches any run of characters (including none), `\*` is a
//! literal star, `\,` a literal comma; everything else matches itself. Not here: splitting
//! comma lists (the CLI does it).

/// Whether `name` matches `pattern`. Linear-time two-pointer match with one backtrack point,
/// so no input makes it slow.
pub fn matches(pattern: &str, name: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::with_capacity(pattern.len());
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => toks.push(Tok::Ch('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match toks.get(p) {
            Some(Tok::Star) => {
                star = Some((p, n));
                p += 1;
            }
            Some(Tok::Ch(c)) if *c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    toks[p.min(toks.len())..].iter().all(|t| *t == Tok::Star)
}

/// Whether the pattern has a wildcard.
pub fn has_wildcard(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '*' {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_escapes() {
        assert!(matches("*", ""));
        assert!(matches("*", "a:b"));
        assert!(matches("prov:*", "prov:ev"));
        assert!(!matches("prov:*", "pro:ev"));
        assert!(matches("*:ev", "x:ev"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(matches("a**", "abc"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let name = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(2000));
        assert!(!matches(&pattern, &name));
    }
}
