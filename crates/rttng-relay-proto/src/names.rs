//! Path safety of the names a peer sends: session names, hostnames, chunk names and channel
//! (file) names are single path components; base paths and stream paths are relative paths of
//! such components. A relay joins them under its output directory, so none may climb out of it
//! (`..`), start at the root (`/`), hide (`.x`, which also keeps clear of the relay's own
//! `.tmp_*` names) or carry control characters. Pure checks, no file-system access: the relay
//! still opens every file beneath its output directory with `RESOLVE_BENEATH`.

/// Most components in a relative path from a peer.
pub const MAX_PATH_COMPONENTS: usize = 64;

/// Why a name is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    Empty {
        what: &'static str,
    },
    TooLong {
        what: &'static str,
        len_bytes: usize,
        max_bytes: usize,
    },
    /// A `/` in a single component.
    Slash {
        what: &'static str,
    },
    /// `.` or `..`, or a leading `.`.
    Dot {
        what: &'static str,
    },
    /// A byte below 0x20 or DEL.
    ControlCharacter {
        what: &'static str,
    },
    /// An absolute path, or an empty component (`a//b`, trailing `/`).
    BadPath {
        what: &'static str,
    },
    TooManyComponents {
        what: &'static str,
    },
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Empty { what } => write!(f, "{what} is empty"),
            NameError::TooLong {
                what,
                len_bytes,
                max_bytes,
            } => write!(f, "{what} is {len_bytes} bytes long (at most {max_bytes})"),
            NameError::Slash { what } => write!(f, "{what} contains '/'"),
            NameError::Dot { what } => write!(f, "{what} starts with '.'"),
            NameError::ControlCharacter { what } => {
                write!(f, "{what} contains a control character")
            }
            NameError::BadPath { what } => {
                write!(f, "{what} is not a relative path of non-empty components")
            }
            NameError::TooManyComponents { what } => {
                write!(f, "{what} has more than {MAX_PATH_COMPONENTS} components")
            }
        }
    }
}

impl std::error::Error for NameError {}

/// A single path component: non-empty, at most `max_bytes` (NUL excluded), no `/`, no leading
/// `.` (so neither `.` nor `..`), no control characters.
pub fn check_component(s: &str, max_bytes: usize, what: &'static str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty { what });
    }
    if s.len() > max_bytes {
        return Err(NameError::TooLong {
            what,
            len_bytes: s.len(),
            max_bytes,
        });
    }
    if s.contains('/') {
        return Err(NameError::Slash { what });
    }
    if s.starts_with('.') {
        return Err(NameError::Dot { what });
    }
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(NameError::ControlCharacter { what });
    }
    Ok(())
}

/// A relative path: `a/b/c`, each component as [`check_component`], at most `max_bytes`.
/// An empty path is allowed when `allow_empty` (no base path).
pub fn check_relative_path(
    s: &str,
    max_bytes: usize,
    allow_empty: bool,
    what: &'static str,
) -> Result<(), NameError> {
    if s.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err(NameError::Empty { what })
        };
    }
    if s.len() > max_bytes {
        return Err(NameError::TooLong {
            what,
            len_bytes: s.len(),
            max_bytes,
        });
    }
    if s.starts_with('/') {
        return Err(NameError::BadPath { what });
    }
    let mut n = 0;
    for c in s.split('/') {
        n += 1;
        if n > MAX_PATH_COMPONENTS {
            return Err(NameError::TooManyComponents { what });
        }
        if c.is_empty() {
            return Err(NameError::BadPath { what });
        }
        check_component(c, max_bytes, what)?;
    }
    Ok(())
}
