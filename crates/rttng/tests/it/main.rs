//! The single integration test binary of the `rttng` crate: one module per area.

mod clock_freq;
mod coredump;
mod corpus;
mod damaged;
mod help;
mod kernel_list;
mod kernel_marker;
mod kernel_paths;
mod kernel_trace;
mod live;
mod lttng_reference;
mod pipe;
mod rotation;
mod session_control;
mod session_e2e;
mod session_filter;
mod session_support;
mod session_users;
mod snapshot_e2e;
mod support;
mod writer_samples;
