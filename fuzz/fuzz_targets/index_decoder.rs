//! Fuzz target: arbitrary bytes decoded as an LTTng packet index file (`index/*.idx`), with and
//! without the data file size it is checked against. Must return Ok or Err, never panic or
//! hang; what decodes must encode back to an index that decodes to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_ctf::index::{decode_index, encode_index, IndexVersion};

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes, when present, choose the data file size the index must fit.
    let size = data
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let _ = decode_index(data, size);
    if let Ok(idx) = decode_index(data, None) {
        let version = if idx.entries.iter().all(|e| e.packet_seq_num.is_some()) {
            IndexVersion::V1_1
        } else {
            IndexVersion::V1_0
        };
        let again = decode_index(&encode_index(&idx.entries, version), None)
            .expect("an encoded index decodes");
        assert_eq!(again.entries.len(), idx.entries.len());
    }
});
