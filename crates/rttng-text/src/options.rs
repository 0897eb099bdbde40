//! The pretty printer's options and the parsers for `--names` and `--fields` lists.
//!
//! Defaults and accepted words are babeltrace2 2.0.4's (`babeltrace2-cfg-cli-args.c` turns the
//! lists into `name-*`/`field-*` component parameters, `pretty.c` applies them). This module does
//! not resolve `--color=auto` (that needs a terminal check, which is the caller's I/O).

use std::fmt;

/// Which names are printed (`--names`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameOptions {
    /// Field names inside the payload (`{ my_int = 42 }` vs `{ 42 }`).
    pub payload: bool,
    /// Field names inside the context scopes.
    pub context: bool,
    /// Header names: `timestamp = `, `delta = `, `name = `, `trace:hostname = `…
    pub header: bool,
    /// Scope names: `stream.packet.context = `, `event.fields = `…
    pub scope: bool,
}

impl Default for NameOptions {
    fn default() -> Self {
        NameOptions {
            payload: true,
            context: true,
            header: false,
            scope: false,
        }
    }
}

impl NameOptions {
    const ALL: NameOptions = NameOptions {
        payload: true,
        context: true,
        header: true,
        scope: true,
    };
    const NONE: NameOptions = NameOptions {
        payload: false,
        context: false,
        header: false,
        scope: false,
    };
}

/// Which event information fields are printed (`--fields`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldOptions {
    /// The trace name.
    pub trace: bool,
    pub trace_hostname: bool,
    pub trace_domain: bool,
    pub trace_procname: bool,
    pub trace_vpid: bool,
    pub loglevel: bool,
    pub emf: bool,
    /// Accepted for compatibility; babeltrace2 2.0.4 prints nothing for it.
    pub callsite: bool,
}

impl Default for FieldOptions {
    fn default() -> Self {
        FieldOptions {
            trace: false,
            trace_hostname: true,
            trace_domain: false,
            trace_procname: true,
            trace_vpid: true,
            loglevel: false,
            emf: false,
            callsite: false,
        }
    }
}

impl FieldOptions {
    const ALL: FieldOptions = FieldOptions {
        trace: true,
        trace_hostname: true,
        trace_domain: true,
        trace_procname: true,
        trace_vpid: true,
        loglevel: true,
        emf: true,
        callsite: true,
    };
    const NONE: FieldOptions = FieldOptions {
        trace: false,
        trace_hostname: false,
        trace_domain: false,
        trace_procname: false,
        trace_vpid: false,
        loglevel: false,
        emf: false,
        callsite: false,
    };
}

/// Options of the pretty printer, one per babeltrace2 CLI flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrettyOptions {
    /// `--clock-cycles`
    pub clock_cycles: bool,
    /// `--clock-date`
    pub clock_date: bool,
    /// `--clock-gmt` (otherwise local time, honouring `TZ`)
    pub clock_gmt: bool,
    /// `--clock-seconds`
    pub clock_seconds: bool,
    /// `--no-delta`
    pub no_delta: bool,
    /// `--names`
    pub names: NameOptions,
    /// `--fields`
    pub fields: FieldOptions,
    /// ANSI colors, resolved by the caller from `--color` and `NO_COLOR`.
    pub color: bool,
}

/// A `--names`/`--fields` list babeltrace2 would reject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionError {
    /// A word that is not one of the accepted names.
    UnknownName { name: String },
    /// A word that is not one of the accepted fields.
    UnknownField { name: String },
    /// `--names` holds both `all` and `none`.
    AllAndNone,
    /// A character that is neither part of a word, a comma nor a blank.
    UnexpectedChar { ch: char, offset: usize },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::UnknownName { name } => write!(
                f,
                "unknown name `{name}` (expected a comma list of: payload (or args, arg), context (or ctx), scope, header, all, none)"
            ),
            OptionError::UnknownField { name } => write!(
                f,
                "unknown field `{name}` (expected a comma list of: trace, trace:hostname, trace:domain, trace:procname, trace:vpid, loglevel, emf, callsite, all)"
            ),
            OptionError::AllAndNone => write!(f, "only either `all` or `none` can be given to --names, not both"),
            OptionError::UnexpectedChar { ch, offset } => {
                write!(f, "unexpected character `{}` at byte {offset} of the list", ch.escape_default())
            }
        }
    }
}

impl std::error::Error for OptionError {}

/// Longest list accepted, a bound on the scan below.
pub const MAX_LIST_BYTES: usize = 4096;

/// Split a comma list the way babeltrace2's GScanner does: blanks (space, tab, newline) and
/// commas separate words; a word starts with a letter or `_` and goes on with letters, `_`, `:`
/// and `-`; anything else is an error.
fn words(list: &str) -> Result<Vec<&str>, OptionError> {
    let bytes = list.as_bytes();
    if bytes.len() > MAX_LIST_BYTES {
        return Err(OptionError::UnexpectedChar {
            ch: '…',
            offset: MAX_LIST_BYTES,
        });
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b' ' | b'\t' | b'\n' | b',') {
            i += 1;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphabetic() || matches!(bytes[i], b'_' | b':' | b'-'))
            {
                i += 1;
            }
            out.push(&list[start..i]);
        } else {
            let ch = list[i..].chars().next().unwrap_or('?');
            return Err(OptionError::UnexpectedChar { ch, offset: i });
        }
    }
    Ok(out)
}

impl PrettyOptions {
    /// Parse a `--names` list. Listing any item without `all`/`none` hides every other name,
    /// as babeltrace2 does.
    pub fn parse_names(list: &str) -> Result<NameOptions, OptionError> {
        let mut all = false;
        let mut none = false;
        let mut items = NameOptions::NONE;
        let mut any_item = false;
        for w in words(list)? {
            match w {
                "payload" | "args" | "arg" => items.payload = true,
                "context" | "ctx" => items.context = true,
                "scope" => items.scope = true,
                "header" => items.header = true,
                "all" => all = true,
                "none" => none = true,
                _ => {
                    return Err(OptionError::UnknownName {
                        name: w.to_string(),
                    })
                }
            }
            any_item |= !matches!(w, "all" | "none");
        }
        if all && none {
            return Err(OptionError::AllAndNone);
        }
        let mut names = if all {
            NameOptions::ALL
        } else if none || any_item {
            NameOptions::NONE
        } else {
            NameOptions::default()
        };
        names.payload |= items.payload;
        names.context |= items.context;
        names.scope |= items.scope;
        names.header |= items.header;
        Ok(names)
    }

    /// Parse a `--fields` list. Listing any item without `all` hides every other field.
    pub fn parse_fields(list: &str) -> Result<FieldOptions, OptionError> {
        let mut all = false;
        let mut items = FieldOptions::NONE;
        let mut any_item = false;
        for w in words(list)? {
            match w {
                "trace" => items.trace = true,
                "trace:hostname" => items.trace_hostname = true,
                "trace:domain" => items.trace_domain = true,
                "trace:procname" => items.trace_procname = true,
                "trace:vpid" => items.trace_vpid = true,
                "loglevel" => items.loglevel = true,
                "emf" => items.emf = true,
                "callsite" => items.callsite = true,
                "all" => all = true,
                _ => {
                    return Err(OptionError::UnknownField {
                        name: w.to_string(),
                    })
                }
            }
            any_item |= w != "all";
        }
        let mut f = if all {
            FieldOptions::ALL
        } else if any_item {
            FieldOptions::NONE
        } else {
            FieldOptions::default()
        };
        f.trace |= items.trace;
        f.trace_hostname |= items.trace_hostname;
        f.trace_domain |= items.trace_domain;
        f.trace_procname |= items.trace_procname;
        f.trace_vpid |= items.trace_vpid;
        f.loglevel |= items.loglevel;
        f.emf |= items.emf;
        f.callsite |= items.callsite;
        Ok(f)
    }
}
