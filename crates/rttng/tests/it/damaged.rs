//! Issue 2, acceptance 4: damaged traces through the real command. Each kind of damage gives
//! exit status 1 and one `Error:` line naming the file and the byte offset or metadata line,
//! never a panic or a hang.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{run_bounded, TempDir};

const BOUND: Duration = Duration::from_secs(30);

/// Writes the sample trace `name` of the writer's sample set into `dir/case`.
fn sample(dir: &Path, case: &str, name: &str) -> std::path::PathBuf {
    let s = rttng_ctf::writer::samples::all()
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .expect("sample exists");
    let root = dir.join(case);
    for (rel, bytes) in &s.files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    root
}

fn stream_file(trace: &Path) -> std::path::PathBuf {
    std::fs::read_dir(trace)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file() && p.file_name().unwrap() != "metadata")
        .expect("a data stream file")
}

fn expect_clean_failure(trace: &Path, what: &str, needle: &str) {
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_rttng"))
            .arg("view")
            .arg(trace),
        BOUND,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: exit status; stderr: {stderr}"
    );
    assert_eq!(lines.len(), 1, "{what}: one line on stderr, got: {stderr}");
    assert!(lines[0].starts_with("Error: "), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        lines[0].contains(needle),
        "{what}: expected `{needle}` in: {stderr}"
    );
    assert!(
        lines[0].contains("byte") || lines[0].contains("line"),
        "{what}: no location in: {stderr}"
    );
}

#[test]
fn issue_2_damaged_traces_fail_with_one_clear_line() {
    let dir = TempDir::new("rttng-damaged").unwrap();

    // Wrong magic.
    let t = sample(dir.path(), "magic", "golden");
    let f = stream_file(&t);
    let mut b = std::fs::read(&f).unwrap();
    b[0] ^= 0xff;
    std::fs::write(&f, &b).unwrap();
    expect_clean_failure(&t, "wrong magic", "magic");

    // Truncated packet (and so a packet size beyond the file).
    let t = sample(dir.path(), "truncated", "golden-compact");
    let f = stream_file(&t);
    let b = std::fs::read(&f).unwrap();
    std::fs::write(&f, &b[..b.len() - 7]).unwrap();
    let _ = std::fs::remove_dir_all(t.join("index"));
    expect_clean_failure(
        &t,
        "truncated packet",
        &f.file_name().unwrap().to_string_lossy(),
    );

    // Content size larger than the packet size.
    let t = sample(dir.path(), "bad-sizes", "wrap27");
    let f = stream_file(&t);
    let mut b = std::fs::read(&f).unwrap();
    b[48..56].copy_from_slice(&u64::MAX.to_le_bytes()); // content_size (spec §5 offset 48)
    std::fs::write(&f, &b).unwrap();
    expect_clean_failure(&t, "content size beyond packet", "content size");

    // Metadata syntax error.
    let t = sample(dir.path(), "bad-metadata", "golden");
    let text = std::fs::read_to_string(t.join("metadata")).unwrap();
    std::fs::write(
        t.join("metadata"),
        text.replacen("struct {", "struct { ]", 1),
    )
    .unwrap();
    expect_clean_failure(&t, "metadata syntax error", "metadata");

    // Random bytes as a stream file.
    let t = sample(dir.path(), "noise", "all-types-le");
    let f = stream_file(&t);
    let noise: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&f, noise).unwrap();
    let _ = std::fs::remove_dir_all(t.join("index"));
    expect_clean_failure(
        &t,
        "random bytes",
        &f.file_name().unwrap().to_string_lossy(),
    );
}

/// A sequence whose length field claims more elements than the packet holds.
#[test]
fn issue_2_sequence_length_beyond_packet_is_an_error() {
    use rttng_ctf::encode::Value;
    use rttng_ctf::ir::{FieldClass, SequenceClass};
    use rttng_ctf::lttng::{EventHeaderKind, LttngLayout};
    use rttng_ctf::writer::{PacketOpen, PacketSize, StreamWriter};

    let layout = LttngLayout::x86_64();
    let fields = rttng_ctf::ir::struct_class(
        vec![
            ("__s_length", FieldClass::Integer(layout.uint(32))),
            (
                "_s",
                FieldClass::Sequence(SequenceClass {
                    element: Box::new(FieldClass::Integer(layout.uint(32))),
                    length_ref: "__s_length".into(),
                    length_slot: 0,
                }),
            ),
        ],
        1,
    );
    let mut md = layout.metadata(
        *b"sequence-damage!",
        rttng_ctf::lttng::monotonic_clock(None, 0),
        rttng_ctf::lttng::ust_uid_env("h", "s", "20240101T000000+0000", 0),
    );
    let mut sc = layout.stream_class(0, EventHeaderKind::Large, None);
    sc.events
        .push(rttng_ctf::lttng::event_class(0, 0, "p:seq", None, fields));
    md.streams.push(sc);
    let mut w = StreamWriter::new(&md, 0, 0).unwrap();
    w.open_packet(&PacketOpen {
        timestamp_begin: 10,
        ..PacketOpen::default()
    })
    .unwrap();
    w.append_event(
        0,
        20,
        &Value::Struct(vec![
            Value::UInt(2),
            Value::Array(vec![Value::UInt(7), Value::UInt(8)]),
        ]),
    )
    .unwrap();
    w.close_packet(30, PacketSize::Aligned8).unwrap();
    let mut data = w.take_data();
    // Find the payload (length 2, then 7 and 8) and blow up its length field.
    let payload: Vec<u8> = [2u32, 7, 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    let len_at = data
        .windows(payload.len())
        .position(|w| w == payload)
        .expect("payload in the packet");
    data[len_at..len_at + 4].copy_from_slice(&1_000_000u32.to_le_bytes());

    let dir = TempDir::new("rttng-damaged-seq").unwrap();
    std::fs::write(
        dir.path().join("metadata"),
        rttng_ctf::emit::emit_metadata(&md),
    )
    .unwrap();
    std::fs::write(dir.path().join("chan_0"), data).unwrap();
    expect_clean_failure(
        dir.path(),
        "sequence length beyond the packet",
        "length 1000000",
    );
}
