//! Integration tests of rttng-ctf (one binary for the crate).

mod writer_babeltrace;
mod writer_alloc;
mod writer_golden;
mod writer_roundtrip;
mod tsdl_corpus;
mod tsdl_errors;
mod tsdl_golden;
mod tsdl_mutation;
mod decode_mutation;
mod roundtrip_values;
