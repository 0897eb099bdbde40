//! Bad metadata gives a `MetadataError` at the right line, never a panic: syntax errors,
//! truncation, unknown names, bad numbers and attribute values, semantic errors found while
//! resolving references, and inputs beyond the named limits.

use rttng_ctf::metadata_stream::{decode_metadata_stream, MetadataStreamError};
use rttng_ctf::tsdl::{parse_metadata, MetadataErrorKind, MAX_METADATA_BYTES, MAX_NESTING_DEPTH};

use super::tsdl_golden::GOLDEN_TSDL;

const TRACE: &str = "/* CTF 1.8 */\ntrace { major = 1; minor = 8; byte_order = le; };\n";

/// `TRACE` followed by `rest`; `rest` starts on line 3.
fn with_trace(rest: &str) -> String {
    format!("{TRACE}{rest}")
}

fn error_of(text: &str) -> (u32, MetadataErrorKind) {
    let e = parse_metadata(text).expect_err("must be rejected");
    (e.line, e.kind)
}

fn event(fields: &str) -> String {
    with_trace(&format!(
        "event {{\n\tname = e;\n\tfields := struct {{\n{fields}\n\t}};\n}};\n"
    ))
}

#[test]
fn truncated_text_fails_at_the_end() {
    // Every proper prefix that cuts the golden example inside the event block is rejected.
    let cut = GOLDEN_TSDL.rfind("string _my_str;").unwrap();
    let (line, kind) = error_of(&GOLDEN_TSDL[..cut]);
    let last_line = GOLDEN_TSDL[..cut].trim_end().lines().count() as u32;
    assert_eq!(line, last_line);
    assert!(
        matches!(kind, MetadataErrorKind::UnexpectedEnd { .. }),
        "{kind:?}"
    );
}

#[test]
fn unbalanced_braces() {
    let (line, kind) = error_of(&with_trace(
        "event {\n\tname = e;\n\tfields := struct {\n\t\tstring s;\n};\n",
    ));
    assert!(matches!(
        kind,
        MetadataErrorKind::UnexpectedEnd { .. } | MetadataErrorKind::UnexpectedToken { .. }
    ));
    assert!(line >= 6, "{line}");
    let (line, kind) = error_of(&with_trace("stream { id = 0; }};\n"));
    assert_eq!(line, 3);
    assert!(
        matches!(kind, MetadataErrorKind::UnexpectedToken { .. }),
        "{kind:?}"
    );
}

#[test]
fn unknown_type_names() {
    let (line, kind) = error_of(&event("\t\tstring a;\n\t\tfoo_t b;"));
    assert_eq!(
        (line, kind),
        (7, MetadataErrorKind::UnknownType("foo_t".into()))
    );
    let (line, kind) = error_of(&event("\t\tstruct nowhere s;"));
    assert_eq!(
        (line, kind),
        (6, MetadataErrorKind::UnknownType("struct nowhere".into()))
    );
    // An enum without a container needs a typealias named `int`.
    let (line, kind) = error_of(&event("\t\tenum { A, B } e;"));
    assert_eq!(
        (line, kind),
        (6, MetadataErrorKind::UnknownType("int".into()))
    );
}

#[test]
fn bad_numbers_and_characters() {
    let (line, kind) = error_of(&with_trace("env { x = 0x; };\n"));
    assert_eq!((line, kind), (3, MetadataErrorKind::BadNumber("0x".into())));
    let (line, kind) = error_of(&with_trace("\n\nenv { x = 18446744073709551616; };\n"));
    assert_eq!(
        (line, kind),
        (
            5,
            MetadataErrorKind::BadNumber("18446744073709551616".into())
        )
    );
    let (line, kind) = error_of(&with_trace("env { x = 1; };\n@\n"));
    assert_eq!((line, kind), (4, MetadataErrorKind::InvalidCharacter('@')));
}

#[test]
fn bad_attribute_values() {
    for (field, what) in [
        ("integer { size = 0; } a;", "size"),
        ("integer { size = 65; } a;", "size"),
        ("integer { size = 99999999999; } a;", "size"),
        ("integer { size = 8; align = 3; } a;", "align"),
        ("integer { size = 8; signed = maybe; } a;", "signed"),
        ("integer { size = 8; base = 7; } a;", "base"),
        (
            "integer { size = 8; byte_order = middle; } a;",
            "byte_order",
        ),
        ("integer { size = 8; encoding = EBCDIC; } a;", "encoding"),
        ("integer { size = 8; map = clock.nowhere; } a;", "map"),
        (
            "floating_point { exp_dig = 5; mant_dig = 11; } f;",
            "exp_dig",
        ),
    ] {
        let (line, kind) = error_of(&event(&format!("\t\t{field}")));
        assert_eq!(line, 6, "{field}");
        match kind {
            MetadataErrorKind::BadAttributeValue { name, .. } => assert_eq!(name, what, "{field}"),
            other => panic!("{field}: {other:?}"),
        }
    }
    let (line, kind) = error_of(&event(
        "\t\tinteger { size = 8; map = clock.nowhere.value; } a;",
    ));
    assert_eq!(
        (line, kind),
        (6, MetadataErrorKind::UnknownClock("nowhere".into()))
    );
    let (line, kind) = error_of(&event("\t\tinteger { size = 8; size = 16; } a;"));
    assert_eq!(
        (line, kind),
        (6, MetadataErrorKind::DuplicateAttribute("size".into()))
    );
}

#[test]
fn trace_block_requirements() {
    let (line, kind) = error_of("/* CTF 1.8 */\nstream { id = 0; };\n");
    assert_eq!((line, kind), (2, MetadataErrorKind::MissingTrace));
    let (line, kind) = error_of("trace {\n major = 1;\n minor = 8;\n};\n");
    assert_eq!(
        (line, kind),
        (
            4,
            MetadataErrorKind::MissingAttribute {
                block: "trace",
                name: "byte_order"
            }
        )
    );
    let (line, _) = error_of("trace {\n major = 2;\n minor = 8;\n byte_order = be;\n};\n");
    assert_eq!(line, 2);
}

#[test]
fn enum_values_outside_their_container_are_kept_like_babeltrace2() {
    // lttng-ust writes such labels (`ctf_enum_auto` after a label at the maximum), and
    // babeltrace2 2.0.4 reads those traces; the label simply never matches a decoded value.
    for (field, label, lo, hi) in [
        (
            "\t\tenum : integer { size = 8; } { A = 256 } e;",
            "A",
            256,
            256,
        ),
        (
            "\t\tenum : integer { size = 8; } { A = -1 } e;",
            "A",
            -1,
            -1,
        ),
        (
            "\t\tenum : integer { size = 8; } { A = 250 ... 255, B } e;",
            "B",
            256,
            256,
        ),
    ] {
        let md = parse_metadata(&event(field)).unwrap();
        let payload = md.streams[0].events[0]
            .fields
            .as_ref()
            .unwrap()
            .as_struct()
            .unwrap();
        let rttng_ctf::ir::FieldClass::Enum(e) = &payload.members[0].class else {
            panic!("not an enum: {field}")
        };
        let m = e
            .mappings
            .iter()
            .find(|m| m.label == label)
            .expect("label kept");
        assert_eq!(m.ranges, vec![(lo, hi)], "{field}");
    }
}

#[test]
fn duplicate_members() {
    let (line, kind) = error_of(&event("\t\tstring a;\n\t\tstring a;"));
    assert_eq!(
        (line, kind),
        (7, MetadataErrorKind::DuplicateMember("a".into()))
    );
}

#[test]
fn unresolvable_and_invalid_references() {
    let int8 = "integer { size = 8; }";
    // Unknown name, a field after the sequence, a relative name from another root scope.
    for fields in [
        format!("\t\t{int8} a;\n\t\t{int8} s[nope];"),
        format!("\t\t{int8} s[later];\n\t\t{int8} later;"),
        format!("\t\t{int8} a;\n\t\t{int8} s[stream.event.header.id];"),
    ] {
        let (line, kind) = error_of(&event(&fields));
        assert!(
            matches!(kind, MetadataErrorKind::UnresolvedReference(_)),
            "{fields}: {kind:?}"
        );
        assert!(line == 6 || line == 7, "{fields}: {line}");
    }
    let (line, kind) = error_of(&event(&format!(
        "\t\tinteger {{ size = 8; signed = 1; }} n;\n\t\t{int8} s[n];"
    )));
    assert_eq!(
        (line, kind),
        (7, MetadataErrorKind::InvalidSequenceLength("n".into()))
    );
    let (line, kind) = error_of(&event(&format!(
        "\t\t{int8} t;\n\t\tvariant <t> {{ string a; }} v;"
    )));
    assert_eq!(
        (line, kind),
        (7, MetadataErrorKind::InvalidVariantTag("t".into()))
    );
    let (line, kind) = error_of(&event(
        "\t\tenum : integer { size = 8; } { A, B } t;\n\t\tvariant <t> { string A; string C; } v;",
    ));
    assert_eq!(
        (line, kind),
        (7, MetadataErrorKind::UnmatchedVariantOption("C".into()))
    );
    let (line, kind) = error_of(&with_trace(
        "variant named { string A; };\nevent {\n\tname = e;\n\tfields := struct { variant named v; };\n};\n",
    ));
    assert_eq!((line, kind), (3, MetadataErrorKind::UntaggedVariant));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [MAX_NESTING_DEPTH + 1, 10_000, 200_000] {
        let fields = format!(
            "{}string s;{}",
            "struct {".repeat(depth),
            "} x;".repeat(depth)
        );
        let (_, kind) = error_of(&event(&fields));
        assert!(
            matches!(kind, MetadataErrorKind::TooDeep { .. }),
            "{depth}: {kind:?}"
        );
    }
    let dims = "[1]".repeat(10_000);
    let (_, kind) = error_of(&event(&format!("string s{dims};")));
    assert!(
        matches!(kind, MetadataErrorKind::TooDeep { .. }),
        "{kind:?}"
    );
    // Typealiases nest past the syntax limit without deep syntax.
    let mut text = with_trace("typealias struct { string s; } := t0;\n");
    for i in 1..200 {
        text.push_str(&format!("typealias struct {{ t{} x; }} := t{i};\n", i - 1));
    }
    let (_, kind) = error_of(&text);
    assert!(
        matches!(kind, MetadataErrorKind::TooDeep { .. }),
        "{kind:?}"
    );
}

#[test]
fn exponential_typealias_expansion_is_bounded() {
    let mut text = with_trace("typealias integer { size = 8; } := t0;\n");
    for i in 1..64 {
        text.push_str(&format!(
            "typealias struct {{ t{p} a; t{p} b; }} := t{i};\n",
            p = i - 1
        ));
    }
    let (_, kind) = error_of(&text);
    assert!(
        matches!(kind, MetadataErrorKind::TooManyFieldClasses { .. }),
        "{kind:?}"
    );
}

#[test]
fn size_limit() {
    let mut text = String::with_capacity(MAX_METADATA_BYTES + 1);
    text.push_str(TRACE);
    text.extend(std::iter::repeat_n(
        ' ',
        MAX_METADATA_BYTES + 1 - TRACE.len(),
    ));
    let (line, kind) = error_of(&text);
    assert_eq!(line, 1);
    assert!(matches!(kind, MetadataErrorKind::TooLarge { .. }));
    let bytes = vec![b' '; MAX_METADATA_BYTES + 1];
    assert!(matches!(
        decode_metadata_stream(&bytes),
        Err(MetadataStreamError::TooLarge { .. })
    ));
}

#[test]
fn one_mebibyte_parses_fast() {
    let mut text = String::from(GOLDEN_TSDL);
    let mut id = 1;
    while text.len() < 1 << 20 {
        text.push_str(&format!(
            "event {{\n\tname = \"p:e{id}\";\n\tid = {id};\n\tstream_id = 0;\n\tfields := struct {{\n\t\tinteger {{ size = 32; align = 8; signed = 0; }} __s_length;\n\t\tuint64_t _s[ __s_length ];\n\t\tstring _t;\n\t\tstruct packet_context _c;\n\t}};\n}};\n"
        ));
        id += 1;
    }
    let start = std::time::Instant::now();
    let md = parse_metadata(&text).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(md.streams[0].events.len(), id as usize);
    assert_eq!(md.slot_count, id as u32);
    // Generous for unoptimised test builds on a shared machine; release is far faster.
    assert!(elapsed.as_secs_f64() < 5.0, "{elapsed:?}");
}

#[test]
fn garbage_never_panics() {
    for text in [
        "",
        "}",
        "{",
        ";",
        "trace",
        "trace {",
        "typealias",
        "typealias integer",
        ":= :=",
        "enum :",
        "struct {",
        "variant <",
        "x[",
        "\"",
        "'",
        "'ab'",
        "/*",
        "-",
        "event { fields := struct { x y z; }; };",
    ] {
        let _ = parse_metadata(text);
        let _ = parse_metadata(&with_trace(text));
    }
}
