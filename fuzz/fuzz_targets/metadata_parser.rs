//! Fuzz target: arbitrary bytes through the metadata stream decoder (plain or packetized),
//! then the TSDL parser. Both must return (Ok or Err) without panicking, on any input.
//! It checks nothing else; `crates/rttng-ctf/tests/it/tsdl_mutation.rs` runs the same property
//! on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = rttng_ctf::metadata_stream::decode_metadata_stream(data) {
        let _ = rttng_ctf::tsdl::parse_metadata(&decoded.text);
    }
    // Also reach the parser with text that lacks the plain-text signature.
    let _ = rttng_ctf::tsdl::parse_metadata(&String::from_utf8_lossy(data));
});
