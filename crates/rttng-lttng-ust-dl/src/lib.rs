//! `liblttng-ust-dl.so.1` for rttng: LTTng-UST's dlopen wrapper, preloaded as in LTTng
//! (`LD_PRELOAD=liblttng-ust-dl.so.1`, or `rttng run --dl -- CMD`). Its `dlopen`,
//! `dlmopen` and `dlclose` (C, `src/wrapper.c`, built and exported by the build script
//! `../rttng-lttng-ust/shim_build.rs` with `wrapper.map`) call the C library's, then tell
//! rttng's `liblttng-ust.so.1` (crate `rttng-lttng-ust`, module `dl`) the object's load
//! bias, path and the caller's address: it records `lttng_ust_dl:*` and, from
//! `lttng_ust_dl_update`, `lttng_ust_lib:*`.
//!
//! Deliberately no Rust code: everything with state lives in `liblttng-ust.so.1`.
