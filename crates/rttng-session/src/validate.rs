//! Validation of names and field classes that come from clients and applications: they end
//! up in paths and in TSDL text as is. Not here: channel attribute checks (`attrs.rs`).

use crate::{err, MAX_NAME_BYTES};
use rttng_ctf::ir::FieldClass;
use rttng_proto::{ErrorCode, Response};

pub(crate) fn check_name(what: &str, name: &str) -> Result<(), Response> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.contains('/')
        || name.starts_with('.')
        || name.chars().any(char::is_control)
    {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("invalid {what} name {name:?}: it must be 1 to {MAX_NAME_BYTES} bytes, without '/', not starting with '.'"),
        ));
    }
    Ok(())
}

/// Checks an app-supplied field class: names must be identifiers (they go into TSDL as is).
pub fn validate_class(c: &FieldClass, depth: u32) -> Result<(), String> {
    if depth > 32 {
        return Err("field class nested too deeply".into());
    }
    let ident = |s: &str| {
        let mut ch = s.chars();
        matches!(ch.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
            && ch.all(|c| c == '_' || c.is_ascii_alphanumeric())
            && s.len() <= MAX_NAME_BYTES
    };
    match c {
        FieldClass::Struct(s) => {
            for m in &s.members {
                if !ident(&m.name) {
                    return Err(format!("field name {:?} is not an identifier", m.name));
                }
                validate_class(&m.class, depth + 1)?;
            }
            Ok(())
        }
        FieldClass::Array(a) => validate_class(&a.element, depth + 1),
        FieldClass::Sequence(s) => {
            if !ident(&s.length_ref) {
                return Err(format!(
                    "sequence length {:?} is not an identifier",
                    s.length_ref
                ));
            }
            validate_class(&s.element, depth + 1)
        }
        FieldClass::Variant(v) => {
            if !ident(&v.tag_ref) {
                return Err(format!("variant tag {:?} is not an identifier", v.tag_ref));
            }
            for o in &v.options {
                if !ident(&o.name) {
                    return Err(format!("variant option {:?} is not an identifier", o.name));
                }
                validate_class(&o.class, depth + 1)?;
            }
            Ok(())
        }
        FieldClass::Integer(i) => match &i.mapped_clock {
            Some(_) => Err("payload integers may not map to a clock".into()),
            None => Ok(()),
        },
        FieldClass::Enum(e) => {
            if e.mappings.iter().any(|m| {
                m.label
                    .chars()
                    .any(|c| c == '"' || c == '\\' || c.is_control())
            }) {
                return Err("enum label with a quote, backslash or control character".into());
            }
            Ok(())
        }
        FieldClass::Float(_) | FieldClass::String(_) => Ok(()),
    }
}

pub(crate) fn field_kind(c: &FieldClass) -> &'static str {
    match c {
        FieldClass::Integer(_) => "integer",
        FieldClass::Float(_) => "float",
        FieldClass::Enum(_) => "enum",
        FieldClass::String(_) => "string",
        FieldClass::Array(a) if a.element.is_text_element() => "string",
        FieldClass::Sequence(s) if s.element.is_text_element() => "string",
        _ => "unknown",
    }
}
