//! LTTng 2.13's agent protocol (the Python `logging` agent, the Java JUL and log4j agents ↔
//! the session daemon, over TCP on 127.0.0.1): the wire forms, big-endian and packed.
//!
//! The agent connects and sends a 16-byte [`Register`]; the daemon then sends commands, a
//! 16-byte header `{u64 payload bytes, u32 command, u32 version 0}` and a payload, each
//! answered by a `u32` status except [`REG_DONE`] (no answer). See
//! `shared/spec/lttng-ust-abi.md` §7.
//!
//! Every decoder here is bounded and returns `Err` on anything malformed, never panics:
//! the agent is another program and is not trusted. Deliberately not here: sockets,
//! timeouts, which rules go to which agent (rttng-sessiond's `agent`), the port file.

/// Bytes of the registration message.
pub const REGISTER_BYTES: usize = 16;
/// Bytes of a command header.
pub const HEADER_BYTES: usize = 16;
/// The logger-name field of ENABLE/DISABLE (LTTng's `LTTNG_SYMBOL_NAME_LEN`).
pub const NAME_BYTES: usize = 256;
/// Longest filter expression sent to an agent (LTTng's `LTTNG_FILTER_MAX_LEN`).
pub const MAX_FILTER_BYTES: usize = 65_536;
/// Most bytes of a LIST answer's names this side reads.
pub const MAX_LIST_BYTES: u32 = 1 << 20;
/// Most logger names of one LIST answer.
pub const MAX_LIST_NAMES: u32 = 65_536;

/// Commands (daemon → agent).
pub const CMD_LIST: u32 = 1;
pub const CMD_ENABLE: u32 = 2;
pub const CMD_DISABLE: u32 = 3;
pub const CMD_APP_CTX_ENABLE: u32 = 5;
pub const CMD_APP_CTX_DISABLE: u32 = 6;
pub const REG_DONE: u32 = 4;

/// Answer statuses.
pub const STATUS_OK: u32 = 1;
pub const STATUS_INVALID: u32 = 2;
pub const STATUS_UNKNOWN_NAME: u32 = 3;

/// The agents' domain numbers (`enum lttng_domain_type`).
pub const DOMAIN_JUL: u32 = 3;
pub const DOMAIN_LOG4J: u32 = 4;
pub const DOMAIN_PYTHON: u32 = 5;

/// The only protocol version LTTng 2.13's session daemon accepts.
pub const VERSION_MAJOR: u32 = 2;
pub const VERSION_MINOR: u32 = 0;

/// Why an agent's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentError {
    /// Fewer bytes than the message needs.
    Short { need: usize, got: usize },
    /// A domain that is not JUL (3), log4j (4) or Python (5).
    Domain(u32),
    /// A protocol version other than 2.0.
    Version { major: u32, minor: u32 },
    /// A LIST answer whose sizes do not add up or exceed the limits.
    BadList(String),
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentError::Short { need, got } => {
                write!(f, "message too short ({got} bytes, {need} needed)")
            }
            AgentError::Domain(d) => write!(f, "unknown agent domain {d}"),
            AgentError::Version { major, minor } => write!(
                f,
                "agent protocol version {major}.{minor} is not supported (only {VERSION_MAJOR}.{VERSION_MINOR})"
            ),
            AgentError::BadList(why) => write!(f, "malformed logger list: {why}"),
        }
    }
}

impl std::error::Error for AgentError {}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// What an agent sends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// 3, 4 or 5 ([`DOMAIN_JUL`]...).
    pub domain: u32,
    /// As the agent says (not verified).
    pub pid: u32,
}

/// Decodes a registration message (exactly [`REGISTER_BYTES`] are read).
pub fn decode_register(b: &[u8]) -> Result<Register, AgentError> {
    if b.len() < REGISTER_BYTES {
        return Err(AgentError::Short {
            need: REGISTER_BYTES,
            got: b.len(),
        });
    }
    let (domain, pid, major, minor) = (be32(b, 0), be32(b, 4), be32(b, 8), be32(b, 12));
    if !(DOMAIN_JUL..=DOMAIN_PYTHON).contains(&domain) {
        return Err(AgentError::Domain(domain));
    }
    if (major, minor) != (VERSION_MAJOR, VERSION_MINOR) {
        return Err(AgentError::Version { major, minor });
    }
    Ok(Register { domain, pid })
}

/// Encodes a registration message (what an agent sends; for tests and tools).
pub fn encode_register(r: Register) -> [u8; REGISTER_BYTES] {
    let mut b = [0u8; REGISTER_BYTES];
    b[0..4].copy_from_slice(&r.domain.to_be_bytes());
    b[4..8].copy_from_slice(&r.pid.to_be_bytes());
    b[8..12].copy_from_slice(&VERSION_MAJOR.to_be_bytes());
    b[12..16].copy_from_slice(&VERSION_MINOR.to_be_bytes());
    b
}

fn command(cmd: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_BYTES + payload.len());
    b.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    b.extend_from_slice(&cmd.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// A LIST command.
pub fn encode_list() -> Vec<u8> {
    command(CMD_LIST, &[])
}

/// REG_DONE (no answer follows).
pub fn encode_reg_done() -> Vec<u8> {
    command(REG_DONE, &[])
}

/// Log level selection of an ENABLE (`enum lttng_loglevel_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoglevelType {
    All,
    /// `int_loglevel >= value`.
    Range,
    /// `int_loglevel == value`.
    Single,
}

/// Copies `name` into LTTng's fixed 256-byte field (cut at 255 bytes, NUL-padded).
fn name_field(name: &str) -> [u8; NAME_BYTES] {
    let mut f = [0u8; NAME_BYTES];
    let n = name.len().min(NAME_BYTES - 1);
    f[..n].copy_from_slice(&name.as_bytes()[..n]);
    f
}

/// An ENABLE command: a logger name or glob, the rule's level, its filter (cut at
/// [`MAX_FILTER_BYTES`]).
pub fn encode_enable(
    name: &str,
    loglevel: i32,
    kind: LoglevelType,
    filter: Option<&str>,
) -> Vec<u8> {
    let kind = match kind {
        LoglevelType::All => 0u32,
        LoglevelType::Range => 1,
        LoglevelType::Single => 2,
    };
    let mut p = Vec::with_capacity(4 + 4 + NAME_BYTES + 4);
    p.extend_from_slice(&(loglevel as u32).to_be_bytes());
    p.extend_from_slice(&kind.to_be_bytes());
    p.extend_from_slice(&name_field(name));
    match filter {
        Some(f) => {
            let f = &f.as_bytes()[..f.len().min(MAX_FILTER_BYTES - 1)];
            p.extend_from_slice(&(f.len() as u32 + 1).to_be_bytes());
            p.extend_from_slice(f);
            p.push(0);
        }
        None => p.extend_from_slice(&0u32.to_be_bytes()),
    }
    command(CMD_ENABLE, &p)
}

/// A DISABLE command.
pub fn encode_disable(name: &str) -> Vec<u8> {
    command(CMD_DISABLE, &name_field(name))
}

/// An APP_CTX_ENABLE (or, `enable` false, APP_CTX_DISABLE) command: the provider's and
/// the context's names, each a u32 BE length (NUL included) and the NUL-terminated text.
pub fn encode_app_context(enable: bool, provider: &str, name: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(provider.len() + name.len() + 10);
    for s in [provider, name] {
        p.extend_from_slice(&(s.len() as u32 + 1).to_be_bytes());
        p.extend_from_slice(s.as_bytes());
        p.push(0);
    }
    let cmd = if enable {
        CMD_APP_CTX_ENABLE
    } else {
        CMD_APP_CTX_DISABLE
    };
    command(cmd, &p)
}

/// Decodes a one-word answer (ENABLE, DISABLE): the status.
pub fn decode_status(b: &[u8]) -> Result<u32, AgentError> {
    if b.len() < 4 {
        return Err(AgentError::Short {
            need: 4,
            got: b.len(),
        });
    }
    Ok(be32(b, 0))
}

/// The fixed part of a LIST answer: status and the byte count of the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListHeader {
    pub status: u32,
    /// Bytes of the names, which follow a `u32` name count (so `data_bytes + 4` bytes
    /// follow this header, as lttng-sessiond reads them).
    pub data_bytes: u32,
}

impl ListHeader {
    /// Bytes that follow the header.
    pub fn following_bytes(self) -> usize {
        self.data_bytes as usize + 4
    }
}

/// Bytes of a LIST answer's header.
pub const LIST_HEADER_BYTES: usize = 8;

/// Decodes a LIST answer's header; the data size is bounded by [`MAX_LIST_BYTES`].
pub fn decode_list_header(b: &[u8]) -> Result<ListHeader, AgentError> {
    if b.len() < LIST_HEADER_BYTES {
        return Err(AgentError::Short {
            need: LIST_HEADER_BYTES,
            got: b.len(),
        });
    }
    let h = ListHeader {
        status: be32(b, 0),
        data_bytes: be32(b, 4),
    };
    if h.data_bytes > MAX_LIST_BYTES {
        return Err(AgentError::BadList(format!(
            "{} bytes announced, at most {MAX_LIST_BYTES}",
            h.data_bytes
        )));
    }
    Ok(h)
}

/// Decodes a LIST answer's data (`u32` count, then that many NUL-terminated names).
/// Names that are not UTF-8 are shown with replacement characters.
pub fn decode_list_data(b: &[u8]) -> Result<Vec<String>, AgentError> {
    if b.len() < 4 {
        return Err(AgentError::Short {
            need: 4,
            got: b.len(),
        });
    }
    let count = be32(b, 0);
    if count > MAX_LIST_NAMES {
        return Err(AgentError::BadList(format!(
            "{count} names, at most {MAX_LIST_NAMES}"
        )));
    }
    let mut rest = &b[4..];
    let mut names = Vec::with_capacity(count.min(1024) as usize);
    for i in 0..count {
        let Some(end) = rest.iter().position(|&c| c == 0) else {
            return Err(AgentError::BadList(format!(
                "name {i} of {count} has no terminating NUL"
            )));
        };
        names.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        rest = &rest[end + 1..];
    }
    Ok(names)
}

/// Encodes a LIST answer as the agents do (for tests and tools).
pub fn encode_list_reply(names: &[&str]) -> Vec<u8> {
    let mut data = Vec::new();
    for n in names {
        data.extend_from_slice(n.as_bytes());
        data.push(0);
    }
    let mut b = Vec::with_capacity(LIST_HEADER_BYTES + 4 + data.len());
    b.extend_from_slice(&STATUS_OK.to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    b.extend_from_slice(&(names.len() as u32).to_be_bytes());
    b.extend_from_slice(&data);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_round_trips_and_refuses_other_domains_and_versions() {
        let r = Register {
            domain: DOMAIN_PYTHON,
            pid: 4242,
        };
        assert_eq!(decode_register(&encode_register(r)), Ok(r));
        let mut b = encode_register(r);
        b[3] = 1; // kernel
        assert_eq!(decode_register(&b), Err(AgentError::Domain(1)));
        let mut b = encode_register(r);
        b[11] = 1;
        assert!(matches!(
            decode_register(&b),
            Err(AgentError::Version { major: 1, .. })
        ));
        assert!(matches!(
            decode_register(&b[..15]),
            Err(AgentError::Short { .. })
        ));
    }

    #[test]
    fn enable_has_lttngs_layout() {
        let b = encode_enable("my.logger", 800, LoglevelType::Single, Some("a == 1"));
        // header: payload size, command 2, version 0
        let payload = 4 + 4 + 256 + 4 + 7;
        assert_eq!(&b[0..8], &(payload as u64).to_be_bytes());
        assert_eq!(&b[8..12], &2u32.to_be_bytes());
        assert_eq!(&b[16..20], &800u32.to_be_bytes());
        assert_eq!(&b[20..24], &2u32.to_be_bytes());
        assert_eq!(&b[24..33], b"my.logger");
        assert_eq!(b[33], 0);
        assert_eq!(&b[280..284], &7u32.to_be_bytes());
        assert_eq!(&b[284..], b"a == 1\0");
        assert_eq!(b.len(), 16 + payload);
    }

    #[test]
    fn app_context_commands_have_lttngs_layout() {
        // lttng-sessiond's app_context_op: header (payload size u64 BE, command 5 or 6,
        // version 0), then per name a u32 BE length counting the NUL, and the name.
        let b = encode_app_context(true, "myprov", "text");
        let mut want = Vec::new();
        want.extend_from_slice(&20u64.to_be_bytes());
        want.extend_from_slice(&5u32.to_be_bytes());
        want.extend_from_slice(&0u32.to_be_bytes());
        want.extend_from_slice(&7u32.to_be_bytes());
        want.extend_from_slice(b"myprov\0");
        want.extend_from_slice(&5u32.to_be_bytes());
        want.extend_from_slice(b"text\0");
        assert_eq!(b, want);
        let d = encode_app_context(false, "p", "n");
        assert_eq!(&d[8..12], &6u32.to_be_bytes());
    }

    #[test]
    fn list_answers_decode_and_bad_ones_are_errors() {
        let b = encode_list_reply(&["a", "b.c", ""]);
        let h = decode_list_header(&b).unwrap();
        assert_eq!(h.status, STATUS_OK);
        // Python's _ClientCmdReplyList: status, names' bytes, count, names.
        assert_eq!(h.data_bytes, 7);
        assert_eq!(h.following_bytes(), b.len() - 8);
        assert_eq!(
            decode_list_data(&b[8..]).unwrap(),
            vec!["a".to_string(), "b.c".into(), "".into()]
        );
        // A name count larger than what follows.
        let mut bad = b[8..].to_vec();
        bad[3] = 9;
        assert!(matches!(
            decode_list_data(&bad),
            Err(AgentError::BadList(_))
        ));
        let mut big = b.clone();
        big[4..8].copy_from_slice(&(MAX_LIST_BYTES + 1).to_be_bytes());
        assert!(decode_list_header(&big).is_err());
    }
}
