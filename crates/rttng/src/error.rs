//! The command line's own error type: a usage mistake found before or after talking to the
//! session daemon, or what `rttng-ctl` reported (the daemon's refusal, or no daemon at all),
//! and the lttng exit status each maps to. Not here: printing (`main.rs`, `session_cmd.rs`).

use rttng_ctl::CtlError;

/// Exit statuses (lttng's).
pub const EXIT_CMD_ERROR: u8 = 1;
pub const EXIT_FATAL: u8 = 3;
pub const EXIT_WARNING: u8 = 4;
/// lttng 2.13's exit status for a filter it cannot compile (observed; `LTTNG_ERR_FILTER_INVAL`).
pub const EXIT_FILTER_INVALID: u8 = 106;
/// lttng exits with the error code itself for some refusals: LTTNG_ERR_CREATE_DIR_FAIL.
pub const EXIT_CREATE_DIR_FAILED: u8 = 17;
/// LTTNG_ERR_NO_SESSIOND: `start`/`stop` with no session daemon.
pub const EXIT_NO_SESSIOND: u8 = 19;
/// LTTNG_ERR_SESS_NOT_FOUND: a session name that does not exist.
pub const EXIT_SESSION_NOT_FOUND: u8 = 23;
/// LTTNG_ERR_UST_EVENT_NOT_FOUND: `disable-event -u` of a rule that does not exist.
pub const EXIT_UST_EVENT_NOT_FOUND: u8 = 76;
/// LTTNG_ERR_NO_CHANNEL: e.g. `start` of a session with no channel.
pub const EXIT_NO_CHANNEL: u8 = 72;
/// LTTNG_ERR_TRACE_ALREADY_STARTED / _STOPPED: warnings, with these statuses.
pub const EXIT_ALREADY_STARTED: u8 = 80;
pub const EXIT_ALREADY_STOPPED: u8 = 81;
/// LTTNG_ERR_NEED_CHANNEL_NAME: no `-c` while the domain has channels but no `channel0`.
pub const EXIT_NEED_CHANNEL_NAME: u8 = 83;
/// LTTNG_ERR_INVALID: e.g. an unknown log level.
pub const EXIT_INVALID: u8 = 97;

#[derive(Debug)]
pub enum CliError {
    /// The command line asks for something impossible, or something local failed.
    Usage(String),
    /// Reaching the session daemon failed, or it refused the request.
    Ctl(CtlError),
    /// `--filter` does not compile: `diagnostic` (what and where, with a caret line) is
    /// printed before the `Error:` line, which says what lttng says.
    InvalidFilter { diagnostic: String, message: String },
    /// A refusal with lttng's own exit status for it (`Error: MESSAGE`).
    Status { status: u8, message: String },
}

impl From<CtlError> for CliError {
    fn from(e: CtlError) -> CliError {
        CliError::Ctl(e)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(m) => f.write_str(m),
            CliError::Ctl(e) => e.fmt(f),
            CliError::InvalidFilter { message, .. } => f.write_str(message),
            CliError::Status { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// lttng's exit status for this error: 3 when no session daemon could be started.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Ctl(CtlError::Spawn { .. }) => EXIT_FATAL,
            CliError::Status { status, .. } => *status,
            CliError::Ctl(CtlError::Daemon { code, .. }) if daemon_status(*code).is_some() => {
                daemon_status(*code).unwrap_or(EXIT_CMD_ERROR)
            }
            CliError::InvalidFilter { .. } => EXIT_FILTER_INVALID,
            CliError::Ctl(CtlError::Daemon {
                code: rttng_ctl::ErrorCode::InvalidFilter,
                ..
            }) => EXIT_FILTER_INVALID,
            CliError::Ctl(CtlError::Daemon {
                code: rttng_ctl::ErrorCode::CreateDirFailed,
                ..
            }) => EXIT_CREATE_DIR_FAILED,
            _ => EXIT_CMD_ERROR,
        }
    }

    /// lttng prints these refusals as warnings (`Warning: ...`), not errors.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            CliError::Ctl(CtlError::Daemon {
                code: rttng_ctl::ErrorCode::AlreadyStarted | rttng_ctl::ErrorCode::AlreadyStopped,
                ..
            })
        )
    }
}

/// lttng's exit status for a daemon refusal that lttng reports with its own code.
fn daemon_status(code: rttng_ctl::ErrorCode) -> Option<u8> {
    use rttng_ctl::ErrorCode as E;
    Some(match code {
        E::NoSession => EXIT_SESSION_NOT_FOUND,
        E::NoChannel => EXIT_NO_CHANNEL,
        E::AlreadyStarted => EXIT_ALREADY_STARTED,
        E::AlreadyStopped => EXIT_ALREADY_STOPPED,
        E::NeedChannelName => EXIT_NEED_CHANNEL_NAME,
        _ => return None,
    })
}

pub fn usage(msg: &str) -> CliError {
    CliError::Usage(msg.to_string())
}
