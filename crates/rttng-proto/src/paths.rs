//! Where session daemons keep their sockets and state (docs/protocols/control.md §1), in one
//! place for the daemon, the control library and the tracer's registration thread: the root
//! daemon under [`ROOT_RUNDIR`], a user's daemon under `$RTTNG_HOME/.rttng/` (`RTTNG_HOME`
//! defaults to `$HOME`); `RTTNG_RUNDIR` overrides both (tests, containers).

use std::path::PathBuf;

/// The root daemon's run directory.
pub const ROOT_RUNDIR: &str = "/run/rttng";
/// The control socket (`rttng` commands), in a daemon's run directory.
pub const CLIENT_SOCKET: &str = "client-rttng-sessiond";
/// The registration socket of instrumented applications, in a daemon's run directory.
pub const APP_SOCKET: &str = "rttng-ust-sock";
/// The daemon's PID file, in its run directory.
pub const PID_FILE: &str = "rttng-sessiond.pid";
/// The consumer daemon's PID file, in its session daemon's run directory.
pub const CONSUMER_PID_FILE: &str = "rttng-consumerd.pid";

/// `$RTTNG_HOME`, else `$HOME`, if either is set.
pub fn home_env() -> Option<PathBuf> {
    std::env::var_os("RTTNG_HOME")
        .or_else(|| std::env::var_os("HOME"))
        .map(PathBuf::from)
}

/// [`home_env`], else `/tmp`.
pub fn home() -> PathBuf {
    home_env().unwrap_or_else(|| PathBuf::from("/tmp"))
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
