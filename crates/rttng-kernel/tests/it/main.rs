//! Integration tests of rttng-kernel against the real tracefs of this machine (run as root).
//! Each test uses its own session (its own tracefs instance) and its own output directory,
//! filters on its own thread id, and checks that nothing of it is left in tracefs.

mod sessions;
mod trace_cmd;
