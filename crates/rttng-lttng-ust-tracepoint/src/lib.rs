//! `liblttng-ust-tracepoint.so.1` for rttng: deliberately empty. Every object with LTTng
//! tracepoints `dlopen`s this name and looks its functions up with `dlsym` on the handle,
//! which searches the object's dependencies too: this library's only dependency is
//! rttng's `liblttng-ust.so.1` (crate `rttng-lttng-ust`), which holds the whole state.
//! The dependency is recorded by the build script (`../rttng-lttng-ust/shim_build.rs`).
