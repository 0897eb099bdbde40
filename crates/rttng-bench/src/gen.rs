//! Generates the viewer benchmark trace with our own writer: an LTTng-UST-like per-user trace
//! (`ust/uid/0/64-bit/`) with 4 streams of 1 MiB packets and index files, whose one event class
//! carries an int64, an int32, a uint8 and a short string, like the LTTng-UST event.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rttng_ctf::encode::BitWriter;
use rttng_ctf::ir::{ByteOrder, FieldClass, StringClass};
use rttng_ctf::lttng::{EventHeaderKind, LttngLayout};
use rttng_ctf::writer::{self, HeaderForm, PacketOpen, PacketSize};

const STREAMS: u64 = 4;
const PACKET_BYTES: u64 = 1 << 20;
/// Largest record this generator writes (header 14 + 8 + 4 + 1 + string ≤ 16).
const MAX_RECORD_BYTES: u64 = 64;
/// Clock offset placing the trace in 2023, like a real LTTng trace's.
const CLOCK_OFFSET_NS: i64 = 1_700_000_000_000_000_000;
const MESSAGES: [&str; 4] = ["hello", "world", "tick", "rttng bench"];

/// Returns the trace directory, generating it unless a complete one with `events` events exists.
pub fn ensure_trace(dir: &Path, events: u64) -> Result<PathBuf> {
    let trace = dir.join(format!("bench-{events}"));
    let marker = trace.join(".complete");
    if marker.is_file() {
        return Ok(trace);
    }
    if trace.exists() {
        std::fs::remove_dir_all(&trace).with_context(|| format!("removing {}", trace.display()))?;
    }
    let ust = trace.join("ust/uid/0/64-bit");
    std::fs::create_dir_all(ust.join("index"))
        .with_context(|| format!("creating {}", ust.display()))?;
    eprintln!("generating {events} events into {}", trace.display());

    let layout = LttngLayout::x86_64();
    let le = ByteOrder::Little;
    let fields = rttng_ctf::ir::struct_class(
        vec![
            (
                "_a",
                FieldClass::Integer(rttng_ctf::ir::sint_class(64, 8, le)),
            ),
            (
                "_b",
                FieldClass::Integer(rttng_ctf::ir::sint_class(32, 8, le)),
            ),
            (
                "_c",
                FieldClass::Integer(rttng_ctf::ir::uint_class(8, 8, le)),
            ),
            (
                "_s",
                FieldClass::String(StringClass {
                    encoding: rttng_ctf::ir::Encoding::Utf8,
                }),
            ),
        ],
        1,
    );
    let uuid = *b"rttng-bench-uuid";
    let mut md = layout.metadata(
        uuid,
        rttng_ctf::lttng::monotonic_clock(None, CLOCK_OFFSET_NS),
        rttng_ctf::lttng::ust_uid_env("benchhost", "bench", "20231114T221320+0000", 0),
    );
    let mut sc = layout.stream_class(0, EventHeaderKind::Large, None);
    sc.events.push(rttng_ctf::lttng::event_class(
        0,
        0,
        "rttng_bench:event",
        Some(13),
        fields,
    ));
    md.streams.push(sc);
    let text = rttng_ctf::emit::emit_metadata(&md);
    let packetized = rttng_ctf::emit::packetize_metadata(&text, uuid, le, 4096);
    std::fs::write(ust.join("metadata"), packetized).context("writing metadata")?;

    for stream in 0..STREAMS {
        let per_stream = events / STREAMS + u64::from(stream < events % STREAMS);
        write_stream(&md, &ust, stream, per_stream)?;
    }
    File::create(&marker).context("writing completion marker")?;
    Ok(trace)
}

fn write_stream(md: &rttng_ctf::ir::Metadata, dir: &Path, stream: u64, count: u64) -> Result<()> {
    let path = dir.join(format!("channel0_{stream}"));
    let mut out = BufWriter::with_capacity(
        4 << 20,
        File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut w = writer::StreamWriter::new(md, 0, stream)?;
    let mut seq = 0;
    let mut ts = 1_000 + stream * 25;
    for k in 0..count {
        if !w.is_packet_open() {
            w.open_packet(&PacketOpen {
                timestamp_begin: ts,
                packet_seq_num: seq,
                cpu_id: stream,
                ..PacketOpen::default()
            })?;
            seq += 1;
        }
        let msg = MESSAGES[(k % 4) as usize].as_bytes();
        w.append_event_raw(0, ts, HeaderForm::Auto, |b: &mut BitWriter| {
            b.write_sint(k as i64 * 1000 - 7, 64, ByteOrder::Little);
            b.write_sint(i64::from(-(k as i32)), 32, ByteOrder::Little);
            b.write_uint(k & 0xff, 8, ByteOrder::Little);
            b.write_string(msg);
        })?;
        ts += 100;
        if w.packet_content_bits() / 8 + MAX_RECORD_BYTES > PACKET_BYTES {
            w.close_packet(ts, PacketSize::Bytes(PACKET_BYTES))?;
            out.write_all(&w.take_data())?;
        }
    }
    if w.is_packet_open() {
        w.close_packet(ts, PacketSize::Bytes(PACKET_BYTES))?;
    }
    out.write_all(&w.take_data())?;
    out.flush()?;
    let index =
        rttng_ctf::index::encode_index(w.index_entries(), rttng_ctf::index::IndexVersion::V1_1);
    std::fs::write(dir.join(format!("index/channel0_{stream}.idx")), index)
        .context("writing index")?;
    Ok(())
}

pub fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let md = e.metadata()?;
        total += if md.is_dir() {
            dir_bytes(&e.path())?
        } else {
            md.len()
        };
    }
    Ok(total)
}
