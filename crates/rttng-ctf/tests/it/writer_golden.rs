//! Byte-exact checks of the writer against the golden example of the spec (§9) and its
//! compact-header and 27-bit-wrap variants. Expected bytes are transcribed from the spec's
//! hexdumps or computed by hand in the comments.

use rttng_ctf::writer::samples;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn golden_packet_is_byte_exact() {
    let t = samples::golden().unwrap();
    let expected = hex("c1 1f fc c1 2a 64 22 d0 6c ee 11 e0 8c 08 cb 07
         d7 b3 a5 64 00 00 00 00 00 00 00 00 00 00 00 00
         e8 03 00 00 00 00 00 00 d0 07 00 00 00 00 00 00
         20 03 00 00 00 00 00 00 00 04 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 dc 05 00 00 2a 00 00 00 68 65
         6c 6c 6f 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    assert_eq!(t.file("chan_0").unwrap(), expected.as_slice());
}

#[test]
fn golden_index_is_byte_exact() {
    let t = samples::golden().unwrap();
    let expected = hex("c1 f1 dc c1 00 00 00 01 00 00 00 01 00 00 00 48
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 00
         00 00 00 00 00 00 03 20 00 00 00 00 00 00 03 e8
         00 00 00 00 00 00 07 d0 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00");
    assert_eq!(t.file("index/chan_0.idx").unwrap(), expected.as_slice());
}
