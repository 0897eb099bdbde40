//! The single integration test binary of the `rttng` crate: one module per area.

mod lttng_reference;
mod support;
mod corpus;
mod pipe;
mod writer_samples;
mod rotation;
mod clock_freq;
mod session_support;
mod session_e2e;
mod session_control;
mod session_users;
mod damaged;
mod kernel_trace;
mod kernel_marker;
mod kernel_list;
mod kernel_paths;
mod help;
