//! CTF 1.8: the trace model, TSDL metadata (parse and emit), and the packet codec.
//!
//! This crate does no I/O, starts no threads and reads no clocks: it maps bytes to values and
//! diagnostics, and values to bytes. Readers, writers and the tracer build on it.
#![forbid(unsafe_code)]

pub mod event;
pub mod ir;
pub mod decode;
pub mod roles;
pub mod emit;
pub mod encode;
pub mod index;
pub mod writer;
pub mod metadata_stream;
pub mod tsdl;
