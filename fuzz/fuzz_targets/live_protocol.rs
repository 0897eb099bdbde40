//! Fuzz target: arbitrary bytes decoded as every LTTng live viewer message (requests a relay
//! reads, replies a viewer reads) and as a live URL. Must return Ok or Err, never panic or hang;
//! whatever decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rttng_live::proto::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = CmdHeader::decode(data) {
        let _ = h.command();
        let mut b = Vec::new();
        h.encode(&mut b);
        assert_eq!(b, data);
    }
    macro_rules! round_trip {
        ($t:ty) => {
            if let Ok(v) = <$t>::decode(data) {
                let mut b = Vec::new();
                v.encode(&mut b);
                assert_eq!(<$t>::decode(&b).expect("re-decode"), v);
            }
        };
    }
    round_trip!(Connect);
    round_trip!(Index);
    round_trip!(AttachRequest);
    round_trip!(GetPacketRequest);
    round_trip!(PacketReply);
    round_trip!(MetadataReply);
    round_trip!(StreamsReply);
    if let Ok(s) = SessionInfo::decode(data) {
        let mut b = Vec::new();
        s.encode(&mut b).expect("a decoded session re-encodes");
        assert_eq!(SessionInfo::decode(&b).expect("re-decode"), s);
    }
    if let Ok(s) = StreamInfo::decode(data) {
        let mut b = Vec::new();
        s.encode(&mut b).expect("a decoded stream re-encodes");
        assert_eq!(StreamInfo::decode(&b).expect("re-decode"), s);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rttng_live::url::LiveUrl::parse(text);
    }
});
