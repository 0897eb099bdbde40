//! Writing one buffer's snapshot: for each CPU, [`rttng_ringbuf::Consumer::snapshot`] takes
//! the newest whole packets of the live overwrite buffer (after flushing the open packet),
//! and they are written as the stream file `CHANNEL_CPU` of the snapshot's trace directory,
//! each packet cut at its content rounded up to a page as the normal writer does, with an
//! index entry per packet in `index/CHANNEL_CPU.idx`.
//!
//! With a relay session instead ([`write_relay`]), each CPU's packets go to one new stream
//! of the relay session, with their indexes, and the streams are closed.
//!
//! A CPU whose buffer holds no packet gets no files. Not here: the metadata (the session
//! daemon appends it), the snapshot directory's name, how many packets fit a size bound.

use rttng_ctf::index::{encode_index, IndexVersion};
use rttng_ringbuf::disk::{index_entry, trim_packet, PAGE_ALIGN_BYTES};
use rttng_ringbuf::{Consumer, StreamSnapshot};
use std::io::Write;
use std::path::Path;

/// Bytes of the packet header and context.
const HEADER_BYTES: usize = rttng_abi::packet::HEADER_BYTES;

/// What a snapshot of one buffer wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub packets: u64,
    pub bytes: u64,
}

/// Snapshots every CPU of `consumer` into `dir` (absolute; created if missing).
/// `scratch` is reused memory. Errors are one line naming the file.
pub fn write(
    consumer: &Consumer,
    channel: &str,
    stream_id: u64,
    dir: &Path,
    max_packets: u64,
    scratch: &mut StreamSnapshot,
) -> Result<Written, String> {
    if !dir.is_absolute() {
        return Err(format!(
            "snapshot directory {} is not absolute",
            dir.display()
        ));
    }
    let mut total = Written::default();
    for cpu in 0..consumer.cpu_count() {
        // The flush's end time is read after the load that saw the packet's last reservation
        // (`now_after_loads`), so it is never before that reservation's event.
        consumer.snapshot(
            cpu,
            Some(&mut rttng_clock::now_after_loads),
            max_packets,
            scratch,
        );
        if scratch.packet_count() == 0 {
            continue;
        }
        if scratch.packets_incomplete() + scratch.packets_corrupt() > 0 {
            eprintln!(
                "rttng-consumerd: snapshot of {channel}_{cpu}: left out {} packets still being written and {} corrupt ones (with the older packets)",
                scratch.packets_incomplete(),
                scratch.packets_corrupt()
            );
        }
        let w = write_stream(scratch, channel, stream_id, dir)?;
        total.packets += w.packets;
        total.bytes += w.bytes;
    }
    Ok(total)
}

/// [`write`], to relay session `session` as streams of trace `path` (relative).
pub fn write_relay(
    consumer: &Consumer,
    channel: &str,
    stream_id: u64,
    session: &crate::relay::RelaySession,
    path: &str,
    max_packets: u64,
    scratch: &mut StreamSnapshot,
) -> Result<Written, String> {
    let mut total = Written::default();
    let mut handles = Vec::new();
    let result: Result<(), String> = (|| {
        for cpu in 0..consumer.cpu_count() {
            consumer.snapshot(
                cpu,
                Some(&mut rttng_clock::now_after_loads),
                max_packets,
                scratch,
            );
            if scratch.packet_count() == 0 {
                continue;
            }
            let handle = session.add_stream(&format!("{channel}_{cpu}"), path, 0, 0)?;
            handles.push(handle);
            session.streams_sent()?;
            for (net_seq, p) in scratch.packets().enumerate() {
                let mut header = [0u8; HEADER_BYTES];
                header.copy_from_slice(&p.bytes[..HEADER_BYTES]);
                let len = trim_packet(&mut header, p.bytes.len(), PAGE_ALIGN_BYTES);
                let e = index_entry(&header, 0, stream_id, u64::from(cpu));
                let index = rttng_relay_proto::SendIndex {
                    relay_stream_id: handle,
                    net_seq_num: net_seq as u64,
                    packet_size_bits: e.packet_size_bits,
                    content_size_bits: e.content_size_bits,
                    timestamp_begin: e.timestamp_begin,
                    timestamp_end: e.timestamp_end,
                    events_discarded: e.events_discarded,
                    stream_class_id: stream_id,
                    stream_instance_id: u64::from(cpu),
                    packet_seq_num: p.packet_seq,
                };
                let body = &p.bytes[HEADER_BYTES..len];
                session.send_packet(
                    handle,
                    net_seq as u64,
                    len,
                    |fd| {
                        let mut f = std::fs::File::from(fd.try_clone_to_owned()?);
                        f.write_all(&header)?;
                        f.write_all(body)
                    },
                    &index,
                )?;
                total.packets += 1;
                total.bytes += len as u64;
            }
        }
        Ok(())
    })();
    let closed = session.close_streams(&handles);
    result?;
    closed?;
    match session.status() {
        (Some(failure), lost) => Err(format!(
            "the relay failed ({failure}); {lost} packets not sent"
        )),
        (None, _) => Ok(total),
    }
}

fn write_stream(
    snap: &StreamSnapshot,
    channel: &str,
    stream_id: u64,
    dir: &Path,
) -> Result<Written, String> {
    let cpu = snap.cpu();
    let index_dir = dir.join("index");
    crate::files::create_dir_all(&index_dir)
        .map_err(|e| format!("cannot create {}: {e}", index_dir.display()))?;
    let name = format!("{channel}_{cpu}");
    let data_path = dir.join(&name);
    let index_path = index_dir.join(format!("{name}.idx"));
    let mut data = crate::files::create_file(&data_path, false)
        .map_err(|e| format!("cannot create {}: {e}", data_path.display()))?;
    let mut entries = Vec::with_capacity(snap.packet_count());
    let mut offset = 0u64;
    for p in snap.packets() {
        let mut header = [0u8; HEADER_BYTES];
        header.copy_from_slice(&p.bytes[..HEADER_BYTES]);
        let len = trim_packet(&mut header, p.bytes.len(), PAGE_ALIGN_BYTES);
        // Tests' fault injection: a snapshot packet's write is a data write too.
        match crate::faults::next(crate::faults::Target::Data) {
            None => {}
            Some(crate::faults::Fault::Delay) => {
                crate::log(&format!(
                    "injected fault: a Data write waits {:?}",
                    crate::faults::DELAY
                ));
                std::thread::sleep(crate::faults::DELAY);
            }
            Some(fault) => {
                return Err(format!(
                    "cannot write {}: {}",
                    data_path.display(),
                    crate::faults::error(fault)
                ))
            }
        }
        data.write_all(&header)
            .and_then(|()| data.write_all(&p.bytes[HEADER_BYTES..len]))
            .map_err(|e| format!("cannot write {}: {e}", data_path.display()))?;
        entries.push(index_entry(&header, offset, stream_id, u64::from(cpu)));
        offset += len as u64;
    }
    crate::files::create_file(&index_path, false)
        .and_then(|mut f| {
            let bytes = encode_index(&entries, IndexVersion::V1_1);
            std::io::Write::write_all(&mut f, &bytes).map_err(|e| e.to_string())
        })
        .map_err(|e| format!("cannot write {}: {e}", index_path.display()))?;
    Ok(Written {
        packets: entries.len() as u64,
        bytes: offset,
    })
}
