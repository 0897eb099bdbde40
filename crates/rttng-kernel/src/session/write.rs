//! Writing a kernel session's CTF trace at stop: the metadata (LTTng's kernel layout, one
//! stream class per channel), the system call path strings matched to their records, and each
//! CPU's spooled ftrace pages converted to a CTF stream with its index. Not here: decoding one
//! page or one record (`page.rs`, `convert.rs`), the session's life cycle (`session.rs`).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use rttng_ctf::emit::{emit_metadata, packetize_metadata};
use rttng_ctf::index::{encode_index, IndexVersion};
use rttng_ctf::ir::struct_class;
use rttng_ctf::ir::{FieldClass, Metadata};
use rttng_ctf::lttng::{event_class, kernel_env, EventHeaderKind, LttngLayout};
use rttng_ctf::writer::{HeaderForm, PacketOpen, PacketSize, StreamWriter};

use super::{
    Channel, KernelSession, StopReport, COMPACT_HEADER_MAX_CLASSES, METADATA_PACKET_BYTES,
    PACKET_CONTENT_BYTES,
};
use crate::bpf::{PathLog, PathMatcher, PathValue};
use crate::consume::ProcessNames;
use crate::convert::{
    plan_event_with_paths, write_context, write_payload_with_paths, ContextKind, ContextValues,
    EventPlan,
};
use crate::error::{io_err, KernelError};
use crate::format::PageLayout;
use crate::page::parse_page;
use crate::syscall_args::{enter_key, path_arg_mask, MAX_ARGS};

impl KernelSession {
    fn metadata(&self) -> Metadata {
        let lay = LttngLayout::x86_64();
        let uuid = uuid::Uuid::new_v4().into_bytes();
        let env = kernel_env(
            &read_trim("/proc/sys/kernel/hostname"),
            "Linux",
            &read_trim("/proc/sys/kernel/osrelease"),
            &read_trim("/proc/sys/kernel/version"),
            &self.name,
            &self.creation_datetime,
        );
        let mut md = lay.metadata(uuid, self.clock.ctf.clone(), env);
        for (sid, ch) in self.channels.iter().enumerate() {
            let header = if ch.formats.len() < COMPACT_HEADER_MAX_CLASSES {
                EventHeaderKind::Compact
            } else {
                EventHeaderKind::Large
            };
            let ctx = if ch.contexts.is_empty() {
                None
            } else {
                let members: Vec<(String, FieldClass)> =
                    ch.contexts.iter().map(|k| k.member()).collect();
                Some(struct_class(
                    members
                        .iter()
                        .map(|(n, c)| (n.as_str(), c.clone()))
                        .collect(),
                    1,
                ))
            };
            let mut sc = lay.stream_class(sid as u64, header, ctx);
            for (eid, f) in ch.formats.iter().enumerate() {
                let plan = plan_event_with_paths(f, self.path_log.is_some());
                sc.events.push(event_class(
                    eid as u64,
                    sid as u64,
                    &plan.ctf_name,
                    None,
                    plan.fields,
                ));
            }
            md.streams.push(sc);
        }
        md
    }

    pub(super) fn write_trace(&self) -> Result<StopReport, KernelError> {
        self.write_trace_to(&self.trace_dir(), &self.spool_dir())
    }

    /// Writes the trace into `dir` from the spool files in `spool`.
    pub(super) fn write_trace_to(
        &self,
        dir: &Path,
        spool: &Path,
    ) -> Result<StopReport, KernelError> {
        let dir = dir.to_path_buf();
        let index_dir = dir.join("index");
        std::fs::create_dir_all(&index_dir).map_err(io_err(&index_dir))?;
        let md = self.metadata();
        let text = emit_metadata(&md);
        let uuid = md.trace.uuid.unwrap_or([0; 16]);
        let meta_path = dir.join("metadata");
        std::fs::write(
            &meta_path,
            packetize_metadata(&text, uuid, md.trace.byte_order, METADATA_PACKET_BYTES),
        )
        .map_err(io_err(&meta_path))?;
        let names = ProcessNames::load(&self.tracefs);
        let mut report = StopReport {
            trace_dir: dir.clone(),
            ..StopReport::default()
        };
        for (sid, ch) in self.channels.iter().enumerate() {
            let with_paths = self.path_log.is_some();
            let plans: Vec<EventPlan> = ch
                .formats
                .iter()
                .map(|f| plan_event_with_paths(f, with_paths))
                .collect();
            let by_id: HashMap<u16, usize> = ch
                .formats
                .iter()
                .enumerate()
                .map(|(i, f)| (f.id, i))
                .collect();
            let paths = match &self.path_log {
                Some(log) => self.match_paths(ch, log),
                None => PathTable::new(),
            };
            for &cpu in &ch.cpus {
                let lost_stats = ch.instance.lost_events(cpu).unwrap_or(0);
                let conv = StreamConversion {
                    md: &md,
                    stream_id: sid as u64,
                    cpu,
                    layout: &self.layout,
                    plans: &plans,
                    by_id: &by_id,
                    contexts: &ch.contexts,
                    names: &names,
                    lost_stats,
                    paths: &paths,
                };
                let spool = spool.join(format!("{}_{cpu}", ch.config.name));
                let out = dir.join(format!("{}_{cpu}", ch.config.name));
                let idx = index_dir.join(format!("{}_{cpu}.idx", ch.config.name));
                let r = conv.run(&spool, &out, &idx)?;
                report.events_written += r.events_written;
                report.events_discarded += r.events_discarded;
                report.records_skipped += r.records_skipped;
            }
        }
        Ok(report)
    }
}

/// The path strings of the `sys_enter` records of one channel, by (cpu, page number in the
/// spool, record number in the page): `(argument index, string)`.
type PathTable = HashMap<(u32, u64, u32), Vec<(u8, Vec<u8>)>>;

/// Most `sys_enter` records with path arguments matched per channel at conversion.
pub const MAX_PATH_ENTRIES: usize = 1 << 23;

/// A `sys_enter` record with path arguments, located in the spool.
struct PathEntry {
    ts: u64,
    cpu: u32,
    page: u64,
    rec: u32,
    mask: u8,
    data_tid_nr: (u32, u32),
    ptrs: [u64; MAX_ARGS],
}

impl KernelSession {
    /// Give each `sys_enter` record with path arguments its strings: the records of all CPUs in
    /// time order, each thread's path records in order ([`PathMatcher`]).
    fn match_paths(&self, ch: &Channel, log: &PathLog) -> PathTable {
        let masks: HashMap<u16, u8> = ch
            .formats
            .iter()
            .map(|f| (f.id, path_arg_mask(f)))
            .filter(|(_, m)| *m != 0)
            .collect();
        let mut table = PathTable::new();
        if masks.is_empty() {
            return table;
        }
        let page_bytes = self.layout.page_bytes() as usize;
        let mut entries: Vec<PathEntry> = Vec::new();
        let mut page = vec![0u8; page_bytes];
        for &cpu in &ch.cpus {
            let spool = self.spool_dir().join(format!("{}_{cpu}", ch.config.name));
            let Ok(mut f) = std::fs::File::open(&spool) else {
                continue;
            };
            let mut page_no = 0u64;
            while f.read_exact(&mut page).is_ok() && entries.len() < MAX_PATH_ENTRIES {
                let mut found = Vec::new();
                let mut k = 0u32;
                let parsed = parse_page(&self.layout, &page, |r| {
                    let id = u16::from_le_bytes([
                        r.data.first().copied().unwrap_or(0),
                        r.data.get(1).copied().unwrap_or(0),
                    ]);
                    if let Some(&mask) = masks.get(&id) {
                        let mut ptrs = [0u64; MAX_ARGS];
                        let mut key = None;
                        for (a, p) in ptrs.iter_mut().enumerate() {
                            if let Some((tid, nr, ptr)) = enter_key(r.data, a as u8) {
                                *p = ptr;
                                key = Some((tid, nr));
                            }
                        }
                        if let Some(data_tid_nr) = key {
                            found.push(PathEntry {
                                ts: r.timestamp,
                                cpu,
                                page: page_no,
                                rec: k,
                                mask,
                                data_tid_nr,
                                ptrs,
                            });
                        }
                    }
                    k += 1;
                });
                if parsed.is_ok() {
                    entries.extend(found);
                }
                page_no += 1;
            }
        }
        entries.sort_by_key(|e| (e.ts, e.cpu, e.page, e.rec));
        let mut m = PathMatcher::new();
        m.refresh(log);
        for e in entries {
            let (tid, nr) = e.data_tid_nr;
            let mut got = Vec::new();
            for a in 0..MAX_ARGS as u8 {
                if e.mask & (1 << a) == 0 {
                    continue;
                }
                if let Some(PathValue::Text(t)) = m.take(tid, nr, a, e.ptrs[usize::from(a)]) {
                    got.push((a, t));
                }
            }
            if !got.is_empty() {
                table.insert((e.cpu, e.page, e.rec), got);
            }
        }
        table
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

struct StreamConversion<'a> {
    md: &'a Metadata,
    stream_id: u64,
    cpu: u32,
    layout: &'a PageLayout,
    plans: &'a [EventPlan],
    by_id: &'a HashMap<u16, usize>,
    contexts: &'a [ContextKind],
    names: &'a ProcessNames,
    lost_stats: u64,
    paths: &'a PathTable,
}

#[derive(Debug, Default)]
struct StreamResult {
    events_written: u64,
    events_discarded: u64,
    records_skipped: u64,
}

impl StreamConversion<'_> {
    fn run(&self, spool: &Path, out: &Path, idx: &Path) -> Result<StreamResult, KernelError> {
        let stream_name = out.display().to_string();
        let ctf = |source| KernelError::Ctf {
            stream: stream_name.clone(),
            source,
        };
        let page_bytes = self.layout.page_bytes() as usize;
        let mut file = match std::fs::File::open(spool) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(spool)(e)),
        };
        let mut data_out =
            std::io::BufWriter::new(std::fs::File::create(out).map_err(io_err(out))?);
        let mut w = StreamWriter::new(self.md, self.stream_id, u64::from(self.cpu)).map_err(ctf)?;
        let mut res = StreamResult::default();
        let mut page = vec![0u8; page_bytes];
        let mut seq = 0u64;
        let mut discarded = 0u64;
        let mut last_ts = 0u64;
        let mut records: Vec<(u64, usize, usize)> = Vec::new();
        let mut page_no = 0u64;
        while let Some(f) = file.as_mut() {
            match f.read_exact(&mut page) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(io_err(spool)(e)),
            }
            let this_page = page_no;
            page_no += 1;
            records.clear();
            let base = page.as_ptr() as usize;
            let info = match parse_page(self.layout, &page, |r| {
                records.push((r.timestamp, r.data.as_ptr() as usize - base, r.data.len()))
            }) {
                Ok(i) => i,
                // A damaged page loses its events; count them as one unknown loss.
                Err(_) => {
                    discarded += 1;
                    continue;
                }
            };
            let missed = info.missed;
            if let Some(m) = missed {
                discarded = discarded.saturating_add(if m == u64::MAX { 1 } else { m });
            }
            if records.is_empty() {
                continue;
            }
            let first_ts = records[0].0.max(last_ts);
            if w.is_packet_open()
                && (w.packet_content_bits() / 8 > PACKET_CONTENT_BYTES || missed.is_some())
            {
                w.close_packet(last_ts, PacketSize::Aligned8).map_err(ctf)?;
                std::io::Write::write_all(&mut data_out, &w.take_data()).map_err(io_err(out))?;
            }
            if !w.is_packet_open() {
                w.open_packet(&PacketOpen {
                    timestamp_begin: first_ts,
                    packet_seq_num: seq,
                    events_discarded: discarded,
                    cpu_id: u64::from(self.cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
                seq += 1;
            }
            for (k, &(ts, off, len)) in records.iter().enumerate() {
                let data = &page[off..off + len];
                let type_id = u16::from_le_bytes([
                    data.first().copied().unwrap_or(0),
                    data.get(1).copied().unwrap_or(0),
                ]);
                let Some(&class) = self.by_id.get(&type_id) else {
                    res.records_skipped += 1;
                    continue;
                };
                let ts = ts.max(last_ts);
                let tid = i32::from_le_bytes(
                    data.get(4..8)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0; 4]),
                );
                let ctxv = ContextValues {
                    tid,
                    pid: self.names.tgid.get(&tid).copied().unwrap_or(tid),
                    procname: self.names.comm.get(&tid).map(Vec::as_slice).unwrap_or(b""),
                    cpu: self.cpu,
                };
                let ops = &self.plans[class].ops;
                let contexts = self.contexts;
                let paths: Vec<(u8, &[u8])> = self
                    .paths
                    .get(&(self.cpu, this_page, k as u32))
                    .map(|v| v.iter().map(|(a, t)| (*a, t.as_slice())).collect())
                    .unwrap_or_default();
                w.append_event_raw(class as u64, ts, HeaderForm::Auto, |bw| {
                    write_context(bw, contexts, &ctxv);
                    write_payload_with_paths(bw, ops, data, &paths);
                })
                .map_err(ctf)?;
                last_ts = ts;
                res.events_written += 1;
            }
        }
        // Losses the pages did not report (discard mode counts them only in `stats`).
        let total_discarded = discarded.max(self.lost_stats);
        if total_discarded > discarded || !w.is_packet_open() {
            if w.is_packet_open() {
                w.close_packet(last_ts, PacketSize::Aligned8).map_err(ctf)?;
            }
            if total_discarded > 0 || seq == 0 {
                // An empty packet carries the final count (and makes the stream exist).
                w.open_packet(&PacketOpen {
                    timestamp_begin: last_ts,
                    packet_seq_num: seq,
                    events_discarded: total_discarded,
                    cpu_id: u64::from(self.cpu),
                    extra: &[],
                })
                .map_err(ctf)?;
            }
        }
        if w.is_packet_open() {
            w.close_packet(last_ts, PacketSize::Aligned8).map_err(ctf)?;
        }
        let (rest, index) = w.finish();
        std::io::Write::write_all(&mut data_out, &rest).map_err(io_err(out))?;
        std::io::Write::flush(&mut data_out).map_err(io_err(out))?;
        std::fs::write(idx, encode_index(&index, IndexVersion::V1_1)).map_err(io_err(idx))?;
        res.events_discarded = total_discarded;
        Ok(res)
    }
}
