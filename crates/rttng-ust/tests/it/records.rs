//! Run-time events written in place over several calls (`dynamic::ThreadRecords`, the
//! LTTng-UST drop-in's event path), into a real ring buffer read back by babeltrace2: a
//! write past what the reservation has left is refused and leaves the record intact, a
//! string that got shorter since it was measured is padded with `#` (as LTTng-UST does), a
//! record left short is zero-filled, a second commit is ignored, and nesting deeper than
//! `MAX_NESTED_RECORDS` is refused.

use crate::local::{babeltrace, tmpdir};
use rttng_ust::__desc::{ByteOrder, Encoding, FieldClass, StringClass, StructClass, StructMember};
use rttng_ust::dynamic::{self, BeginError, DynamicEvent, ThreadRecords, MAX_NESTED_RECORDS};
use rttng_ust_local::{LocalConfig, LocalSession};

const EVENT: &str = "it_records:ev";

fn member(name: &str, class: FieldClass) -> StructMember {
    StructMember {
        name: name.into(),
        class,
    }
}

#[test]
fn in_place_records_refuse_overflows_pad_short_strings_and_read_back() {
    let uint =
        |bits| FieldClass::Integer(rttng_ust::__desc::uint_class(bits, 8, ByteOrder::Little));
    let cs = dynamic::register(DynamicEvent {
        name: EVENT.into(),
        loglevel: 13,
        fields: FieldClass::Struct(StructClass {
            members: vec![
                member("_a", uint(32)),
                member(
                    "_s",
                    FieldClass::String(StringClass {
                        encoding: Encoding::Utf8,
                    }),
                ),
                member("_b", uint(8)),
            ],
            min_align_bits: 1,
        }),
        filter_fields: Vec::new(),
    })
    .unwrap();
    let dir = tmpdir("records");
    let mut cfg = LocalConfig::new(&dir);
    cfg.session_id = 77;
    cfg.enable = vec![EVENT.into()];
    let session = LocalSession::start(&cfg).unwrap();
    let records = ThreadRecords::new();

    // 4 + "rttng\0" + 1 bytes: exactly what the writes fill; more is refused.
    let slot = records.begin(cs, 11, || 0, 0).unwrap();
    // SAFETY: the slot is ours until its commit, and `records` outlives it (so below).
    let r = unsafe { &mut *slot };
    assert!(r.write(&7u32.to_le_bytes()));
    // SAFETY: a NUL-terminated string measured as 6 bytes.
    assert!(unsafe { r.write_cstr(c"rttng".as_ptr().cast(), 6) });
    assert!(!r.write(&[1, 2]), "two bytes where one is left");
    assert!(r.write(&[9]));
    assert!(!r.write(&[1]), "nothing left");
    assert_eq!(r.remaining(), 0);
    r.commit();
    r.commit(); // a second commit is ignored (the slot is free)
    assert!(!r.write(&[1]), "a committed slot takes no writes");

    // A string measured as 6 bytes that is now "rt": padded "rt###"; `_b` never written
    // (zero-filled at commit).
    // SAFETY: as above.
    let r = unsafe { &mut *records.begin(cs, 11, || 0, 0).unwrap() };
    assert!(r.write(&5u32.to_le_bytes()));
    let shrunk: [u8; 6] = [b'r', b't', 0, b'x', b'x', 0];
    // SAFETY: a NUL-terminated string (6 readable bytes).
    assert!(unsafe { r.write_cstr(shrunk.as_ptr(), 6) });
    r.commit();

    // A long string (past the short path), and a string announced longer than the record.
    let long = c"abcdefghijklmnopqrstuvwxyz";
    // SAFETY: as above.
    let r = unsafe { &mut *records.begin(cs, 4 + 27 + 1, || 0, 0).unwrap() };
    assert!(r.write(&3u32.to_le_bytes()));
    // SAFETY: a NUL-terminated string (refused before it is read).
    let too_long = unsafe { r.write_cstr(long.as_ptr().cast(), 40) };
    assert!(!too_long, "longer than what is left");
    // SAFETY: a NUL-terminated string measured as 27 bytes.
    let fits = unsafe { r.write_cstr(long.as_ptr().cast(), 27) };
    assert!(fits);
    assert!(r.write(&[1]));
    r.commit();

    // Nesting: MAX_NESTED_RECORDS records in progress, then one more is refused.
    let nested: Vec<_> = (0..MAX_NESTED_RECORDS)
        .map(|i| {
            // SAFETY: as above.
            let r = unsafe { &mut *records.begin(cs, 6, || 0, 0).unwrap() };
            assert!(r.write(&(100 + i as u32).to_le_bytes()));
            // SAFETY: an empty C string.
            assert!(unsafe { r.write_cstr(c"".as_ptr().cast(), 1) });
            assert!(r.write(&[2]));
            r
        })
        .collect();
    assert_eq!(
        records.begin(cs, 6, || 0, 0).err(),
        Some(BeginError::Nested)
    );
    for r in nested.into_iter().rev() {
        r.commit();
    }

    let report = session.stop().unwrap();
    assert_eq!(report.discarded, 0);
    let (text, warnings) = babeltrace(&report.trace_dir);
    assert!(warnings.trim().is_empty(), "babeltrace2: {warnings}");
    let _ = std::fs::remove_dir_all(&dir);
    let payloads: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(EVENT))
        .filter_map(|l| l.rsplit("}, { ").next())
        .collect();
    let mut expected = vec![
        "a = 7, s = \"rttng\", b = 9 }".to_string(),
        "a = 5, s = \"rt###\", b = 0 }".to_string(),
        "a = 3, s = \"abcdefghijklmnopqrstuvwxyz\", b = 1 }".to_string(),
    ];
    // In reservation (time) order, whatever the commit order.
    expected
        .extend((0..MAX_NESTED_RECORDS).map(|i| format!("a = {}, s = \"\", b = 2 }}", 100 + i)));
    assert_eq!(payloads, expected, "{text}");
}
