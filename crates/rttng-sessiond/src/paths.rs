//! Where a session daemon keeps its sockets and state, shared with `rttng-ctl` and the
//! tracer's registration thread by convention (see docs/protocols/control.md): the root
//! daemon under `/run/rttng/`, a user's daemon under `$RTTNG_HOME/.rttng/` (`RTTNG_HOME`
//! defaults to `$HOME`); `RTTNG_RUNDIR` overrides both (tests, containers).

use std::path::PathBuf;

pub const ROOT_RUNDIR: &str = "/run/rttng";
pub const CLIENT_SOCKET: &str = "client-rttng-sessiond";
pub const APP_SOCKET: &str = "rttng-ust-sock";
pub const PID_FILE: &str = "rttng-sessiond.pid";
pub const CONSUMER_PID_FILE: &str = "rttng-consumerd.pid";
pub const LOG_FILE: &str = "rttng-sessiond.log";

pub fn home() -> PathBuf {
    std::env::var_os("RTTNG_HOME")
        .or_else(|| std::env::var_os("HOME"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The run directory of a daemon running with effective uid `euid`.
pub fn rundir(euid: u32) -> PathBuf {
    if let Some(d) = std::env::var_os("RTTNG_RUNDIR") {
        return PathBuf::from(d);
    }
    if euid == 0 {
        PathBuf::from(ROOT_RUNDIR)
    } else {
        home().join(".rttng")
    }
}
