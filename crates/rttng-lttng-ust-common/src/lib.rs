//! `liblttng-ust-common.so.1` for rttng: deliberately empty. Programs built with
//! `_LGPL_SOURCE` and LTTng's helper libraries link this name for urcu-ust and the fd
//! tracker; its only dependency, rttng's `liblttng-ust.so.1` (crate `rttng-lttng-ust`),
//! defines them, so their references resolve there. The dependency is recorded by the
//! build script (`../rttng-lttng-ust/shim_build.rs`).
