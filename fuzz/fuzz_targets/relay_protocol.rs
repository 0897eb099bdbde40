//! Fuzz target: arbitrary bytes through every decoder of the LTTng relay protocol
//! (`rttng-relay-proto`): both port headers, every control request and reply, and the name
//! checks a relay applies. The oracle is `rttng_relay_proto::fuzzing::decode_everything`
//! (never panic; whatever decodes re-encodes to the same value; accepted paths stay beneath).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rttng_relay_proto::fuzzing::decode_everything(data);
});
