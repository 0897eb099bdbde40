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

#[test]
fn compact_header_variant_is_byte_exact() {
    // Spec §9: event header at 0x54 is one u32 = 0 | 1500 << 5, my_int at 0x58, string at
    // 0x5C, content ends at 0x62 (784 bits = 0x310).
    let t = samples::golden_compact().unwrap();
    let expected = hex("c1 1f fc c1 2a 64 22 d0 6c ee 11 e0 8c 08 cb 07
         d7 b3 a5 64 00 00 00 00 00 00 00 00 00 00 00 00
         e8 03 00 00 00 00 00 00 d0 07 00 00 00 00 00 00
         10 03 00 00 00 00 00 00 00 04 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 80 bb 00 00 2a 00 00 00 68 65 6c 6c
         6f 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    assert_eq!(t.file("chan_0").unwrap(), expected.as_slice());
}

#[test]
fn wrap27_variant_is_byte_exact() {
    // begin 0x7FFFF00, end 0x8000100. Event 1 at 0x54: 0x7FFFFF0 << 5 = 0xFFFFFE00, then
    // my_int 1, "a". Event 2 at 0x5E: (0x8000010 & 0x7FFFFFF) << 5 = 0x200, my_int 2, "b".
    // Event 3 at 0x68 (extended): byte 0x1F, u32 id 0, u64 0x8000020, my_int 3, "c"; content
    // ends at 0x7B = 123 bytes = 984 bits (0x3D8).
    let t = samples::wrap27().unwrap();
    let expected = hex("c1 1f fc c1 2a 64 22 d0 6c ee 11 e0 8c 08 cb 07
         d7 b3 a5 64 00 00 00 00 00 00 00 00 00 00 00 00
         00 ff ff 07 00 00 00 00 00 01 00 08 00 00 00 00
         d8 03 00 00 00 00 00 00 00 04 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 fe ff ff 01 00 00 00 61 00 00 02
         00 00 02 00 00 00 62 00 1f 00 00 00 00 20 00 00
         08 00 00 00 00 03 00 00 00 63 00 00 00 00 00 00");
    assert_eq!(t.file("chan_0").unwrap(), expected.as_slice());
}

/// The metadata text of spec §9, transcribed.
const SPEC_GOLDEN_TSDL: &str = super::tsdl_golden::GOLDEN_TSDL;

/// Collapse runs of blanks (the spec aligns `uint8_t  uuid[16];` with two spaces).
fn squeeze(s: &str) -> String {
    s.lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn golden_metadata_text_matches_the_spec() {
    let t = samples::golden().unwrap();
    let text = std::str::from_utf8(t.file("metadata").unwrap()).unwrap();
    assert_eq!(
        squeeze(text.trim_end()),
        squeeze(SPEC_GOLDEN_TSDL.trim_end())
    );
}

#[test]
fn packetized_golden_metadata_header() {
    // Spec §9 variant: `57 1d d1 75 | uuid | 00 00 00 00 | content_size | 00 80 00 00 | 00 00 00 01 08`.
    let t = samples::golden_packetized().unwrap();
    let m = t.file("metadata").unwrap();
    let text_len = samples::golden().unwrap().file("metadata").unwrap().len();
    assert!(text_len < 4096 - 37, "the golden text fits one packet");
    assert_eq!(m.len(), 4096);
    assert_eq!(&m[0..4], &[0x57, 0x1d, 0xd1, 0x75]);
    assert_eq!(&m[4..20], &samples::GOLDEN_UUID);
    assert_eq!(&m[20..24], &[0, 0, 0, 0]);
    assert_eq!(&m[24..28], &(((37 + text_len) * 8) as u32).to_le_bytes());
    assert_eq!(&m[28..37], &[0x00, 0x80, 0x00, 0x00, 0, 0, 0, 1, 8]);
    assert_eq!(&m[37..37 + 13], b"/* CTF 1.8 */");
    assert!(m[37 + text_len..].iter().all(|&b| b == 0));
}
