//! Integration tests of rttng-ctf (one binary for the crate).

mod decode_mutation;
mod roundtrip_values;
mod tsdl_corpus;
mod tsdl_errors;
mod tsdl_golden;
mod tsdl_mutation;
mod writer_alloc;
mod writer_babeltrace;
mod writer_golden;
mod writer_roundtrip;
