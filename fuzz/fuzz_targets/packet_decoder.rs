//! Fuzz target: arbitrary bytes decoded as a data stream of a trace whose metadata covers every
//! field class (the writer's all-types sample). Must return Ok or Err, never panic or hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rttng_ctf::ir::Metadata;

fn metadata() -> &'static Metadata {
    static MD: OnceLock<Metadata> = OnceLock::new();
    MD.get_or_init(|| {
        let sample = rttng_ctf::writer::samples::all_types_le().expect("sample");
        let meta = sample.files.iter().find(|(p, _)| p.ends_with("metadata")).expect("metadata");
        let text = rttng_ctf::metadata_stream::decode_metadata_stream(&meta.1).expect("decode");
        let mut md = rttng_ctf::tsdl::parse_metadata(&text.text).expect("parse");
        rttng_ctf::roles::prepare(&mut md).expect("prepare");
        md
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = rttng_ctf::decode::decode_stream(metadata(), data);
});
