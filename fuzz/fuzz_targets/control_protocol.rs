//! Fuzz target: arbitrary bytes decoded as every control-protocol frame kind (CLI requests and
//! responses, app hello/commands/replies, consumer requests/replies). Must return Ok or Err,
//! never panic, hang or allocate out of proportion; whatever decodes must re-encode to a frame
//! that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_proto::frame::{decode_frame, encode_frame};
use rttng_proto::wire::Wire;
use rttng_proto::*;

fn check<T: Wire + PartialEq + std::fmt::Debug>(data: &[u8], kind: Kind) {
    // As a whole frame, with this kind forced into the header.
    let mut framed = data.to_vec();
    if framed.len() >= 16 {
        framed[8..12].copy_from_slice(&(kind as u32).to_le_bytes());
    }
    for bytes in [data, &framed[..]] {
        if let Ok(v) = decode_frame::<T>(bytes, kind) {
            let again = encode_frame(kind, &v).expect("re-encode");
            assert_eq!(decode_frame::<T>(&again, kind).expect("re-decode"), v);
        }
    }
    // As a bare payload.
    if let Ok(v) = rttng_proto::wire::decode_all::<T>(data) {
        assert_eq!(
            rttng_proto::wire::decode_all::<T>(&rttng_proto::wire::encode(&v)).expect("re-decode"),
            v
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check::<Request>(data, Kind::Request);
    check::<Response>(data, Kind::Response);
    check::<AppHello>(data, Kind::AppHello);
    check::<AppCommand>(data, Kind::AppCommand);
    check::<AppReply>(data, Kind::AppReply);
    check::<ConsumerRequest>(data, Kind::ConsumerRequest);
    check::<ConsumerReply>(data, Kind::ConsumerReply);
});
