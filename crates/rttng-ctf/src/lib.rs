//! CTF 1.8: the trace model, TSDL metadata (parse and emit), and the packet codec.
//!
//! This crate does no I/O, starts no threads and reads no clocks: it maps bytes to values and
//! diagnostics, and values to bytes. Readers, writers and the tracer build on it.
#![forbid(unsafe_code)]

pub mod decode;
pub mod emit;
pub mod encode;
pub mod event;
pub mod index;
pub mod ir;
pub mod lttng;
pub mod metadata_stream;
pub mod roles;
pub mod tsdl;
pub mod writer;
