//! Fuzz target: arbitrary bytes as an application's registration (the `AppHello` frame the
//! session daemon decodes from any local process), then the daemon's validation of what it
//! declares (`rttng_session::validate_hello`, which also resolves event metadata). Must
//! return Ok or Err, never panic, hang or allocate out of proportion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_proto::frame::decode_frame;
use rttng_proto::{AppHello, Kind};

fuzz_target!(|data: &[u8]| {
    let framed = decode_frame::<AppHello>(data, Kind::AppHello).ok();
    let bare = rttng_proto::wire::decode_all::<AppHello>(data).ok();
    for hello in [framed, bare].into_iter().flatten() {
        let _ = rttng_session::validate_hello(&hello);
    }
});
