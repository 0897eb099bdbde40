//! Every metadata file of the conformance corpus (tests/data/ctf-conformance) parses when
//! babeltrace2 accepted the trace, and fails at babeltrace2's line when babeltrace2 rejected
//! the metadata. Facts asserted here were read off the metadata text by hand.

use std::path::{Path, PathBuf};

use rttng_ctf::ir::{ByteOrder, DisplayBase, EnvValue, FieldClass, Metadata};
use rttng_ctf::metadata_stream::decode_metadata_stream;
use rttng_ctf::tsdl::{parse_metadata, MetadataErrorKind};

/// The conformance corpus vendored in the repository (`tests/data/ctf-conformance`), or the
/// one `RTTNG_CTF_CONFORMANCE` names.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var("RTTNG_CTF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/ctf-conformance")
        });
    dir.join("traces").is_dir().then_some(dir)
}

fn collect_metadata(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_metadata(&p, out);
        } else if p.file_name().is_some_and(|n| n == "metadata") {
            out.push(p);
        }
    }
}

/// (trace name, metadata path) for every metadata file of the corpus.
pub fn corpus_metadata() -> Vec<(String, PathBuf)> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut traces: Vec<_> = std::fs::read_dir(dir.join("traces"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    traces.sort();
    for t in traces {
        let name = t.file_name().unwrap().to_string_lossy().to_string();
        let mut files = Vec::new();
        collect_metadata(&t, &mut files);
        out.extend(files.into_iter().map(|f| (name.clone(), f)));
    }
    out
}

/// The TSDL text of every corpus metadata file.
pub fn corpus_texts() -> Vec<String> {
    corpus_metadata()
        .into_iter()
        .filter_map(|(_, p)| {
            decode_metadata_stream(&std::fs::read(p).ok()?)
                .ok()
                .map(|t| t.text)
        })
        .collect()
}

fn expected_rc(trace: &str) -> i32 {
    let dir = corpus_dir().unwrap();
    let rc = std::fs::read_to_string(dir.join("expected").join(format!("{trace}.rc"))).unwrap();
    rc.trim().parse().unwrap()
}

fn parse_file(path: &Path) -> Result<Metadata, rttng_ctf::tsdl::MetadataError> {
    let bytes = std::fs::read(path).unwrap();
    let text = decode_metadata_stream(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_metadata(&text.text)
}

fn parse_trace(trace: &str) -> Metadata {
    let dir = corpus_dir()
        .unwrap()
        .join("traces")
        .join(trace)
        .join("metadata");
    parse_file(&dir).unwrap()
}

/// babeltrace2 2.0.4 rejects these traces in the metadata, at these lines (from its stderr).
const METADATA_FAILURES: [(&str, u32); 4] = [
    // `major = 0;` (babeltrace2: "At line 15 ... Invalid trace's `minor` attribute: expecting 1").
    ("fail__fail1", 15),
    // A 86-digit `major` does not fit 64 bits: the lexer rejects it.
    ("fail__integer-range", 7),
    // `uint8_t x[len];` where `len` is a struct (babeltrace2 reports no line; ours is the sequence's).
    ("fail__invalid-sequence-length-field-class", 23),
    // `]` instead of `}`.
    ("fail__metadata-syntax-error", 3),
];

#[test]
fn every_accepted_trace_parses_and_metadata_failures_fail_at_their_line() {
    let all = corpus_metadata();
    assert!(
        !all.is_empty(),
        "conformance corpus not found at tests/data/ctf-conformance"
    );
    assert!(
        all.len() >= 30,
        "expected the whole corpus, found {}",
        all.len()
    );
    let mut checked_failures = 0;
    for (trace, path) in &all {
        let result = parse_file(path);
        if let Some(&(_, line)) = METADATA_FAILURES.iter().find(|(t, _)| t == trace) {
            let e = result.expect_err(trace);
            assert_eq!(e.line, line, "{trace}: {e}");
            checked_failures += 1;
        } else if expected_rc(trace) == 0 || trace == "fail__invalid-packet-size" {
            // fail__invalid-packet-size is rejected in the data (a packet size), not the metadata.
            if let Err(e) = result {
                panic!("{}: {e}", path.display());
            }
        }
    }
    assert_eq!(checked_failures, METADATA_FAILURES.len());
}

#[test]
fn sequence_trace_facts() {
    assert!(
        corpus_dir().is_some(),
        "conformance corpus not found at tests/data/ctf-conformance"
    );
    let md = parse_trace("succeed__sequence");
    assert_eq!(md.trace.byte_order, ByteOrder::Little);
    assert_eq!(md.trace.uuid.unwrap()[..4], [0x59, 0x05, 0x23, 0x33]);
    assert_eq!(md.env_str("hostname"), Some("host"));
    assert_eq!(
        md.env
            .iter()
            .find(|(k, _)| k == "tracer_minor")
            .map(|(_, v)| v.clone()),
        Some(EnvValue::Int(3))
    );
    let clock = md.clock("monotonic").unwrap();
    assert_eq!(clock.freq, 1_000_000_000);
    assert_eq!(clock.offset, 1_375_437_179_542_680_815);
    assert_eq!(clock.description.as_deref(), Some("Monotonic Clock"));
    assert_eq!(md.streams.len(), 1);
    let events = &md.streams[0].events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "sequence event");
    assert_eq!(events[0].loglevel, Some(1));
    let fields = events[0].fields.as_ref().unwrap().as_struct().unwrap();
    assert_eq!(fields.members.len(), 4);
    assert_eq!(fields.members[0].name, "__seq_int_field_length");
    let FieldClass::Integer(len) = &fields.members[0].class else {
        panic!("length is an integer")
    };
    assert_eq!((len.size_bits, len.signed), (64, false));
    let FieldClass::Sequence(seq) = &fields.members[1].class else {
        panic!("a sequence")
    };
    assert_eq!(seq.length_ref, "__seq_int_field_length");
    assert_eq!(len.store_slot, Some(seq.length_slot));
    let FieldClass::Integer(elem) = &*seq.element else {
        panic!("integer elements")
    };
    assert_eq!(
        (elem.size_bits, elem.signed, elem.base),
        (32, true, DisplayBase::Decimal)
    );
    let FieldClass::Sequence(seq2) = &fields.members[3].class else {
        panic!("a sequence")
    };
    assert_ne!(seq.length_slot, seq2.length_slot);
    // The packet context's timestamps are mapped to the clock.
    let pc = md.streams[0]
        .packet_context
        .as_ref()
        .unwrap()
        .as_struct()
        .unwrap();
    let FieldClass::Integer(ts) = &pc.members[0].class else {
        panic!("timestamp_begin")
    };
    assert_eq!(ts.mapped_clock.as_deref(), Some("monotonic"));
    assert_eq!(pc.members[4].name, "events_discarded");
}

#[test]
fn kernel_trace_facts() {
    assert!(
        corpus_dir().is_some(),
        "conformance corpus not found at tests/data/ctf-conformance"
    );
    let dir = corpus_dir()
        .unwrap()
        .join("traces/succeed__multi-domains/kernel/metadata");
    let md = parse_file(&dir).unwrap();
    assert_eq!(
        md.env
            .iter()
            .find(|(k, _)| k == "domain")
            .map(|(_, v)| v.clone()),
        Some(EnvValue::Str("kernel".into()))
    );
    assert_eq!(
        md.env
            .iter()
            .find(|(k, _)| k == "tracer_major")
            .map(|(_, v)| v.clone()),
        Some(EnvValue::Int(2))
    );
    // The kernel stream uses the compact header: a 5-bit enum id and a variant on it.
    let header = md.streams[0]
        .event_header
        .as_ref()
        .unwrap()
        .as_struct()
        .unwrap();
    let FieldClass::Enum(id) = &header.members[0].class else {
        panic!("id is an enum")
    };
    assert_eq!(id.container.size_bits, 5);
    assert_eq!(id.container.align_bits, 1);
    let FieldClass::Variant(v) = &header.members[1].class else {
        panic!("v is a variant")
    };
    assert_eq!(v.tag_ref, "id");
    assert_eq!(id.container.store_slot, Some(v.tag_slot));
    assert_eq!(v.select(0), Some(0));
    assert_eq!(v.select(30), Some(0));
    assert_eq!(v.select(31), Some(1));
}

#[test]
fn variant_underscore_rules_match_babeltrace2() {
    assert!(
        corpus_dir().is_some(),
        "conformance corpus not found at tests/data/ctf-conformance"
    );
    // In each trace the enum labels and the option names are spelled alike; babeltrace2 2.0.4
    // matches them as written and prints the option for tag value 1 as the second option.
    for trace in [
        "succeed__meta-variant-no-underscore",
        "succeed__meta-variant-one-underscore",
        "succeed__meta-variant-same-with-underscore",
        "succeed__meta-variant-reserved-keywords",
    ] {
        let md = parse_trace(trace);
        let fields = md.streams[0].events[0]
            .fields
            .as_ref()
            .unwrap()
            .as_struct()
            .unwrap();
        let FieldClass::Enum(tag) = &fields.members[0].class else {
            panic!("{trace}: tag is an enum")
        };
        assert_eq!(tag.container.byte_order, ByteOrder::Big, "{trace}");
        let FieldClass::Variant(v) = &fields.members[1].class else {
            panic!("{trace}: var is a variant")
        };
        for value in 0..tag.mappings.len() as i128 {
            let option = v
                .select(value)
                .unwrap_or_else(|| panic!("{trace}: tag {value}"));
            assert_eq!(option as i128, value, "{trace}");
        }
        assert_eq!(v.select(tag.mappings.len() as i128), None, "{trace}");
    }
    // Labels keep their underscores, as babeltrace2 prints them: `( "_PELCHAT" : container = 1 )`.
    let md = parse_trace("succeed__meta-variant-same-with-underscore");
    let fields = md.streams[0].events[0]
        .fields
        .as_ref()
        .unwrap()
        .as_struct()
        .unwrap();
    let FieldClass::Enum(tag) = &fields.members[0].class else {
        panic!()
    };
    assert_eq!(tag.labels_for(1).collect::<Vec<_>>(), vec!["_PELCHAT"]);
    assert_eq!(tag.labels_for(2).collect::<Vec<_>>(), vec!["__PELCHAT"]);
}

#[test]
fn crlf_and_lf_metadata_parse_alike() {
    assert!(
        corpus_dir().is_some(),
        "conformance corpus not found at tests/data/ctf-conformance"
    );
    let crlf = parse_trace("succeed__crlf-metadata");
    let lf = parse_trace("succeed__lf-metadata");
    assert_eq!(crlf.streams, lf.streams);
}

#[test]
fn no_stream_block_gives_an_implicit_stream_class_zero() {
    assert!(
        corpus_dir().is_some(),
        "conformance corpus not found at tests/data/ctf-conformance"
    );
    let md = parse_trace("succeed__meta-variant-no-underscore");
    assert_eq!(md.streams.len(), 1);
    assert_eq!(md.streams[0].id, 0);
    assert_eq!(md.streams[0].events[0].id, 0);
    assert_eq!(md.streams[0].events[0].name, "yo");
}

#[test]
fn failure_message_names_the_line() {
    let e = parse_metadata("/* CTF 1.8 */\ntrace { major = 1; minor = 8; byte_order = le; };\nevent { name = x; fields := struct { foo_t a; }; };\n")
        .unwrap_err();
    assert_eq!(e.to_string(), "metadata line 3: unknown type name `foo_t`");
    assert!(matches!(e.kind, MetadataErrorKind::UnknownType(_)));
}
