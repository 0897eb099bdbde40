//! Integration tests of rttng-ust: call site registry, event path into a real ring
//! buffer, traces written by the local harness read back by babeltrace2 and rttng view.

mod app_filter;
mod filter;
mod lean;
mod levels;
mod local;
mod registry;
