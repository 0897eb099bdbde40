//! LTTng's star globs, the one matcher of every domain: `*` matches any run of bytes (including
//! none), a backslash makes the next character literal (`\*` is a star, `\\` a backslash, `\,` a
//! comma), a backslash at the very end is itself; everything else matches itself. Event-name
//! patterns (user space and kernel) and filter string comparisons (`name == "sched_*"`) use it,
//! so one pattern means the same thing everywhere.
//!
//! It works on bytes and allocates nothing, so a filter may call it on the event path. Matching
//! is iterative with one backtrack point: O(pattern × name) steps at worst, never exponential.
//! Not here: splitting comma lists (the CLI does it), bounding pattern lengths (callers take
//! patterns from outside and bound them with their own named limits).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// One pattern element at byte `at`: a star, or a literal byte; and where the next one starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Star,
    Byte(u8),
}

fn tok(pattern: &[u8], at: usize) -> Option<(Tok, usize)> {
    match *pattern.get(at)? {
        b'*' => Some((Tok::Star, at + 1)),
        b'\\' => match pattern.get(at + 1) {
            Some(&b) => Some((Tok::Byte(b), at + 2)),
            None => Some((Tok::Byte(b'\\'), at + 1)),
        },
        b => Some((Tok::Byte(b), at + 1)),
    }
}

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    matches_bytes(pattern.as_bytes(), name.as_bytes())
}

/// Whether `candidate` matches `pattern`, both as bytes (filter strings need not be UTF-8).
///
/// On UTF-8 input this is the same as matching characters: a literal after a star starts at a
/// character boundary of the pattern, so it can only match at one in the name.
pub fn matches_bytes(pattern: &[u8], candidate: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // After the last star met: where the pattern goes on, and the next name position to try.
    let mut star: Option<(usize, usize)> = None;
    while n < candidate.len() {
        match tok(pattern, p) {
            Some((Tok::Star, next)) => {
                star = Some((next, n));
                p = next;
            }
            Some((Tok::Byte(b), next)) if b == candidate[n] => {
                p = next;
                n += 1;
            }
            _ => match star {
                Some((after, from)) => {
                    p = after;
                    n = from + 1;
                    star = Some((after, from + 1));
                }
                None => return false,
            },
        }
    }
    // The name is used up: what is left of the pattern must be stars.
    while let Some((t, next)) = tok(pattern, p) {
        if t != Tok::Star {
            return false;
        }
        p = next;
    }
    true
}

/// Whether the pattern has an unescaped star.
pub fn has_wildcard(pattern: &str) -> bool {
    let bytes = pattern.as_bytes();
    let mut p = 0;
    while let Some((t, next)) = tok(bytes, p) {
        if t == Tok::Star {
            return true;
        }
        p = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{has_wildcard, matches, matches_bytes};

    #[test]
    fn stars() {
        assert!(matches("*", ""));
        assert!(matches("*", "a:b"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("prov:*", "prov:ev"));
        assert!(!matches("prov:*", "pro:ev"));
        assert!(matches("*:ev", "x:ev"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("a**", "abc"));
        assert!(matches("sched_*", "sched_switch"));
        assert!(!matches("sched_*", "irq_handler_entry"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(!matches("exactly", "exact"));
        // Backtracking past a partial match.
        assert!(matches("*aab", "aaab"));
        assert!(matches("*ab*ab", "abxabab"));
    }

    #[test]
    fn escapes() {
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
        assert!(!matches("a\\*", "a"));
        assert!(matches("a\\\\b", "a\\b"));
        assert!(matches("a\\,b", "a,b"));
        assert!(matches("x\\", "x\\"));
        assert!(matches("\\**", "*tail"));
        assert!(!matches("\\**", "tail"));
        assert!(has_wildcard("a*"));
        assert!(!has_wildcard("a\\*"));
        assert!(has_wildcard("a\\**"));
        assert!(!has_wildcard("plain"));
    }

    #[test]
    fn bytes_and_utf8() {
        assert!(matches("é*", "été"));
        assert!(matches("*té", "été"));
        assert!(!matches("*é", "ét"));
        assert!(matches_bytes(b"\xff*", b"\xff\x00\x01"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let name = "a".repeat(5000);
        let mut pattern = "*a".repeat(2000);
        pattern.push('b');
        // Quadratic at worst: 2000 stars over 5000 bytes is ~10^7 steps, well under a second.
        assert!(!matches(&pattern, &name));
    }
}
