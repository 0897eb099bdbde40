//! Fuzz target: arbitrary bytes as what an LTTng agent (any local process that reads the
//! agent port file) sends the session daemon: its registration, a command's one-word
//! answer, and a LIST answer (header, then the bytes it announces, as the daemon reads
//! them). Every decoder must return Ok or Err, never panic, hang or allocate out of
//! proportion (the announced size is bounded before anything is read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_proto::agent;

fuzz_target!(|data: &[u8]| {
    let _ = agent::decode_register(data);
    let _ = agent::decode_status(data);
    if let Ok(h) = agent::decode_list_header(data) {
        let rest = &data[agent::LIST_HEADER_BYTES..];
        let n = h.following_bytes().min(rest.len());
        if let Ok(names) = agent::decode_list_data(&rest[..n]) {
            assert!(names.len() <= agent::MAX_LIST_NAMES as usize);
        }
    }
    let _ = agent::decode_list_data(data);
});
