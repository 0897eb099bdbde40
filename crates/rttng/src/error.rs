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

#[derive(Debug)]
pub enum CliError {
    /// The command line asks for something impossible, or something local failed.
    Usage(String),
    /// Reaching the session daemon failed, or it refused the request.
    Ctl(CtlError),
    /// `--filter` does not compile: `diagnostic` (what and where, with a caret line) is
    /// printed before the `Error:` line, which says what lttng says.
    InvalidFilter { diagnostic: String, message: String },
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
        }
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// lttng's exit status for this error: 3 when no session daemon could be started.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Ctl(CtlError::Spawn { .. }) => EXIT_FATAL,
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
}

pub fn usage(msg: &str) -> CliError {
    CliError::Usage(msg.to_string())
}
