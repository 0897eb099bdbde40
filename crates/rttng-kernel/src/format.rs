//! Parsers for tracefs's self-description: each event's `format` file (name, id, and the
//! offset/size/signedness of every field) and `events/header_page` (where the page timestamp,
//! commit word and data start).
//!
//! It parses text only: it does no I/O (callers pass the file contents) and decides nothing
//! about CTF; see `convert` for the mapping to CTF field classes.

/// Most fields one event format may declare.
pub const MAX_FIELDS: usize = 256;
/// Most lines a format file may have.
pub const MAX_FORMAT_LINES: usize = 1024;
/// Largest record an event may declare (a ring-buffer page holds less).
pub const MAX_RECORD_BYTES: u32 = 65536;

/// Why a format text was refused: the 1-based line and a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub line: usize,
    pub reason: &'static str,
}

/// How a field's bytes are laid out in the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A scalar integer of `size` bytes.
    Int,
    /// `char name[N]`: N bytes of text, NUL-terminated unless full.
    CharArray { len: u32 },
    /// `type name[N]` of integers: N elements of `size / N` bytes.
    IntArray { len: u32 },
    /// `__data_loc char[] name`: a u32 whose low 16 bits are the offset from the record start and
    /// high 16 bits the length, of a NUL-terminated string.
    DataLocString,
    /// `__rel_loc char[] name`: same, the offset counted from the end of this field.
    RelLocString,
    /// `__data_loc T[] name` of non-char elements: shown as bytes.
    DataLocBytes,
}

/// One field of an event format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatField {
    pub name: String,
    /// The C type as written, without the name (`const char *`, `pid_t`, `char`).
    pub c_type: String,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    pub kind: FieldKind,
    /// Declared in the common header (`common_type`, `common_pid`, ...).
    pub common: bool,
}

impl FormatField {
    /// Whether the C type is a pointer.
    pub fn is_pointer(&self) -> bool {
        self.c_type.contains('*')
    }
}

/// One parsed `format` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFormat {
    /// Subsystem (`sched`), from the directory, not the file.
    pub system: String,
    pub name: String,
    /// The event type id written in the first two bytes of each record.
    pub id: u16,
    pub fields: Vec<FormatField>,
}

impl EventFormat {
    pub fn field(&self, name: &str) -> Option<&FormatField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The smallest record length that holds every fixed field.
    pub fn fixed_len(&self) -> u32 {
        self.fields
            .iter()
            .map(|f| f.offset + f.size)
            .max()
            .unwrap_or(0)
    }
}

/// Parse the text of `events/SYSTEM/EVENT/format`.
pub fn parse_format(system: &str, text: &str) -> Result<EventFormat, FormatError> {
    let mut name = None;
    let mut id = None;
    let mut fields = Vec::new();
    // The common fields come first, then a blank line, then the event's own fields.
    let mut in_common = true;
    let mut seen_field = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if i >= MAX_FORMAT_LINES {
            return Err(FormatError {
                line: line_no,
                reason: "too many lines",
            });
        }
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("name:") {
            name = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("ID:") {
            let v: u16 = rest.trim().parse().map_err(|_| FormatError {
                line: line_no,
                reason: "bad event id",
            })?;
            id = Some(v);
        } else if line.starts_with("field:") {
            if fields.len() >= MAX_FIELDS {
                return Err(FormatError {
                    line: line_no,
                    reason: "too many fields",
                });
            }
            let mut f = parse_field_line(line, true).map_err(|reason| FormatError {
                line: line_no,
                reason,
            })?;
            f.common = in_common && f.name.starts_with("common_");
            seen_field = true;
            fields.push(f);
        } else if line.is_empty() && seen_field {
            in_common = false;
        } else if line.starts_with("print fmt:") {
            break;
        }
    }
    let name = name.ok_or(FormatError {
        line: 1,
        reason: "no name line",
    })?;
    let id = id.ok_or(FormatError {
        line: 2,
        reason: "no ID line",
    })?;
    Ok(EventFormat {
        system: system.to_string(),
        name,
        id,
        fields,
    })
}

/// `field:TYPE NAME[N];\toffset:O;\tsize:S;\tsigned:B;`
fn parse_field_line(line: &str, strict: bool) -> Result<FormatField, &'static str> {
    let mut decl = None;
    let mut offset = None;
    let mut size = None;
    let mut signed = false;
    for part in line.split(';') {
        let part = part.trim();
        if let Some(d) = part.strip_prefix("field:") {
            decl = Some(d.trim());
        } else if let Some(v) = part.strip_prefix("offset:") {
            offset = Some(v.trim().parse::<u32>().map_err(|_| "bad offset")?);
        } else if let Some(v) = part.strip_prefix("size:") {
            size = Some(v.trim().parse::<u32>().map_err(|_| "bad size")?);
        } else if let Some(v) = part.strip_prefix("signed:") {
            signed = v.trim() == "1";
        }
    }
    let decl = decl.ok_or("no field declaration")?;
    let offset = offset.ok_or("no offset")?;
    let size = size.ok_or("no size")?;
    if offset
        .checked_add(size)
        .is_none_or(|end| end > MAX_RECORD_BYTES)
    {
        return Err("field beyond the largest record");
    }
    // Split "TYPE NAME[N]" at the last identifier.
    let (type_part, name_part) = match decl.rfind([' ', '*']) {
        Some(pos) => (decl[..=pos].trim(), decl[pos + 1..].trim()),
        None => return Err("field declaration without a type"),
    };
    let (name, array_len) = match name_part.find('[') {
        Some(b) => {
            let inner = name_part[b + 1..].trim_end_matches(']');
            let len = if inner.is_empty() {
                None
            } else {
                Some(inner.parse::<u32>().map_err(|_| "bad array length")?)
            };
            (&name_part[..b], Some(len))
        }
        None => (name_part, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("bad field name");
    }
    let is_char = |t: &str| {
        let t = t
            .trim_start_matches("const ")
            .trim_start_matches("unsigned ")
            .trim_start_matches("signed ");
        t == "char" || t == "u8" || t == "__u8" || t == "s8"
    };
    let (c_type, kind) = if let Some(t) = type_part.strip_prefix("__data_loc") {
        let t = t.trim();
        let elem = t.trim_end_matches("[]").trim();
        if size != 4 {
            return Err("__data_loc field is not 4 bytes");
        }
        (
            t.to_string(),
            if is_char(elem) {
                FieldKind::DataLocString
            } else {
                FieldKind::DataLocBytes
            },
        )
    } else if let Some(t) = type_part.strip_prefix("__rel_loc") {
        let t = t.trim();
        if size != 4 {
            return Err("__rel_loc field is not 4 bytes");
        }
        (t.to_string(), FieldKind::RelLocString)
    } else {
        match array_len {
            // `type name[]` outside data_loc: a zero-length tail; keep it as bytes of size 0.
            Some(None) => (type_part.to_string(), FieldKind::IntArray { len: 0 }),
            Some(Some(len)) if is_char(type_part) && len == size => {
                (type_part.to_string(), FieldKind::CharArray { len })
            }
            Some(Some(len)) => {
                if len == 0 || size % len != 0 || !matches!(size / len, 1 | 2 | 4 | 8) {
                    return Err("array elements of an unsupported size");
                }
                (type_part.to_string(), FieldKind::IntArray { len })
            }
            None => {
                if strict && !matches!(size, 1 | 2 | 4 | 8) {
                    return Err("scalar field of an unsupported size");
                }
                (type_part.to_string(), FieldKind::Int)
            }
        }
    };
    Ok(FormatField {
        name: name.to_string(),
        c_type,
        offset,
        size,
        signed,
        kind,
        common: false,
    })
}

/// Where the parts of a ring-buffer page are, from `events/header_page`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLayout {
    pub timestamp_offset: u32,
    pub commit_offset: u32,
    /// 4 or 8 (`local_t`).
    pub commit_size: u32,
    pub data_offset: u32,
    pub data_size: u32,
}

impl PageLayout {
    /// The page size: header plus data.
    pub fn page_bytes(&self) -> u32 {
        self.data_offset + self.data_size
    }
}

/// Parse `events/header_page`.
pub fn parse_header_page(text: &str) -> Result<PageLayout, FormatError> {
    let mut ts = None;
    let mut commit = None;
    let mut data = None;
    for (i, line) in text.lines().enumerate().take(MAX_FORMAT_LINES) {
        let line = line.trim();
        if !line.starts_with("field:") {
            continue;
        }
        let f =
            parse_field_line(&line.replacen("field: ", "field:", 1), false).map_err(|reason| {
                FormatError {
                    line: i + 1,
                    reason,
                }
            })?;
        match f.name.as_str() {
            "timestamp" => ts = Some(f),
            "commit" => commit = Some(f),
            "data" => data = Some(f),
            _ => {}
        }
    }
    let (Some(ts), Some(commit), Some(data)) = (ts, commit, data) else {
        return Err(FormatError {
            line: 1,
            reason: "header_page lacks timestamp, commit or data",
        });
    };
    if ts.size != 8 || !matches!(commit.size, 4 | 8) {
        return Err(FormatError {
            line: 1,
            reason: "unexpected timestamp or commit size",
        });
    }
    Ok(PageLayout {
        timestamp_offset: ts.offset,
        commit_offset: commit.offset,
        commit_size: commit.size,
        data_offset: data.offset,
        data_size: data.size,
    })
}

/// Check `events/header_event` describes the compressed 5/27-bit event header with the
/// padding/extend/timestamp type values this parser implements.
pub fn check_header_event(text: &str) -> Result<(), FormatError> {
    let has = |needle: &str| {
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == needle)
    };
    let wanted = [
        "type_len : 5 bits",
        "time_delta : 27 bits",
        "padding : type == 29",
        "time_extend : type == 30",
        "time_stamp : type == 31",
    ];
    for (i, w) in wanted.iter().enumerate() {
        if !has(w) {
            return Err(FormatError {
                line: i + 1,
                reason: "header_event differs from the 5/27-bit compressed header",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHED_SWITCH: &str = "name: sched_switch\nID: 372\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\nprint fmt: \"prev_comm=%s\", REC->prev_comm\n";

    #[test]
    fn sched_switch_fields() {
        let f = parse_format("sched", SCHED_SWITCH).expect("parses");
        assert_eq!(f.id, 372);
        assert_eq!(f.name, "sched_switch");
        assert_eq!(f.fields.len(), 7);
        assert!(f.fields[3].common && f.fields[3].name == "common_pid" && f.fields[3].signed);
        let comm = f.field("prev_comm").expect("prev_comm");
        assert_eq!(comm.kind, FieldKind::CharArray { len: 16 });
        assert!(!comm.common);
        assert_eq!(
            f.field("prev_state").map(|x| (x.offset, x.size)),
            Some((32, 8))
        );
        assert_eq!(f.fixed_len(), 40);
    }

    #[test]
    fn data_loc_pointer_and_int_array() {
        let t = "name: x\nID: 7\nformat:\n\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:const char * path;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:unsigned long args[6];\toffset:24;\tsize:48;\tsigned:0;\n";
        let f = parse_format("s", t).expect("parses");
        assert_eq!(f.fields[0].kind, FieldKind::DataLocString);
        assert!(f.fields[1].is_pointer());
        assert_eq!(f.fields[1].name, "path");
        assert_eq!(f.fields[2].kind, FieldKind::IntArray { len: 6 });
    }

    #[test]
    fn bad_formats_are_errors() {
        assert!(parse_format("s", "ID: 3\n").is_err());
        assert!(parse_format("s", "name: a\nID: x\n").is_err());
        let odd = "name: a\nID: 1\n\tfield:int x;\toffset:0;\tsize:3;\tsigned:1;\n";
        assert_eq!(parse_format("s", odd).map_err(|e| e.line), Err(3));
        let huge = "name: a\nID: 1\n\tfield:int x;\toffset:4294967295;\tsize:4;\tsigned:1;\n";
        assert!(parse_format("s", huge).is_err());
    }

    #[test]
    fn header_page_of_this_kernel_family() {
        let t = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";
        let p = parse_header_page(t).expect("parses");
        assert_eq!(
            (
                p.commit_offset,
                p.commit_size,
                p.data_offset,
                p.page_bytes()
            ),
            (8, 8, 16, 4096)
        );
        let e = "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n\tpadding     : type == 29\n\ttime_extend : type == 30\n\ttime_stamp : type == 31\n";
        assert!(check_header_event(e).is_ok());
        assert!(check_header_event("type_len : 6 bits").is_err());
    }
}
