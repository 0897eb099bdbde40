//! Where a session daemon keeps its sockets and state: the places it shares with
//! `rttng-ctl` and the tracer ([`rttng_proto::paths`]), and its own log file.

pub use rttng_proto::paths::{
    home, rundir, APP_SOCKET, CLIENT_SOCKET, CONSUMER_PID_FILE, PID_FILE,
};

pub const LOG_FILE: &str = "rttng-sessiond.log";
