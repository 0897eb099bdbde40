//! One ring buffer's writer thread: waits for complete sub-buffers (futex wakeups from the
//! producers, or the switch/read timer), writes each packet to its CPU's stream file, one
//! index entry per packet, rotates stream files at `tracefile_size` keeping at most
//! `tracefile_count` of them, and answers the daemon's commands between waits; or sends each
//! packet and its index to a relay session (`relay.rs`). Not here: metadata, the control
//! socket.

use crate::faults;
use crate::relay::RelaySession;
use rttng_abi::packet::HEADER_BYTES;
use rttng_ctf::index::{encode_index, IndexEntry, IndexVersion};
use rttng_proto::{BufferSpec, ConsumerReply};
use rttng_relay_proto::SendIndex;
use rttng_ringbuf::{disk, Config, Consumer, Mode, Producer};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Longest sleep between two looks at the command queue (no timer configured).
const COMMAND_LATENCY: Duration = Duration::from_millis(50);
/// Most packets written per CPU in one pass before looking at commands again.
const MAX_PACKETS_PER_PASS: u32 = 4096;
/// Stream files get disk blocks reserved this far ahead of what is written (fallocate,
/// size unchanged): appends into reserved blocks cost the file system less CPU, which on
/// a machine whose CPUs run the traced threads is taken from them. The blocks past the
/// end are freed when the file is closed (truncated to its size).
const PREALLOC_BYTES: u64 = 16 << 20;

pub enum Cmd {
    Flush(mpsc::Sender<ConsumerReply>),
    Recover(mpsc::Sender<ConsumerReply>),
    Stats(mpsc::Sender<ConsumerReply>),
    Remove(mpsc::Sender<ConsumerReply>),
    /// Write a snapshot there, at most this many packets per CPU (0: all).
    Snapshot(SnapshotTarget, u64, mpsc::Sender<ConsumerReply>),
}

struct StreamFile {
    cpu: u32,
    data: Option<File>,
    index: Option<File>,
    offset: u64,
    /// Rotation: current file number.
    file_no: u64,
    last_seq: Option<u64>,
    last_discarded: u64,
    lost: u64,
    written: u64,
    /// End of the blocks reserved in the current data file (0: none).
    reserved_end: u64,
    /// False once preallocation failed (a file system without it): not tried again.
    can_reserve: bool,
    /// Length of the index file (its header and the entries of the packets written).
    index_len: u64,
    /// Packets that could not be written (full disk, I/O error): not in the files.
    write_failed: u64,
    /// The events inside those packets (counted by decoding each with the trace's
    /// metadata; see `uncounted`).
    events_lost: u64,
    /// Lost packets whose events could not be counted (no metadata kept for the trace,
    /// or a packet the metadata does not describe).
    uncounted: u64,
    /// The first error of the current run of failed writes (logged once per run).
    failing: Option<String>,
    /// A failed write could not be undone: nothing more is appended to this stream.
    broken: bool,
}

impl Drop for StreamFile {
    /// However the worker ends, no reserved block stays allocated past the data.
    fn drop(&mut self) {
        self.close();
    }
}

impl StreamFile {
    /// Closes the current files, first giving back the blocks reserved past the data.
    fn close(&mut self) {
        if let Some(f) = self.data.take() {
            if self.reserved_end > self.offset {
                let _ = f.set_len(self.offset);
            }
        }
        self.index = None;
        self.reserved_end = 0;
    }
}

/// Where a snapshot goes.
pub enum SnapshotTarget {
    /// A trace directory (absolute).
    Dir(PathBuf),
    /// A relay session, as streams of this trace path (relative).
    Relay(Arc<RelaySession>, String),
}

pub struct BufferWorker {
    consumer: Consumer,
    /// A snapshot session's buffer: nothing is written while tracing; only
    /// [`Cmd::Snapshot`] reads it (`crate::snapshot`).
    snapshot_only: Option<rttng_ringbuf::StreamSnapshot>,
    switch_timer: Option<Duration>,
    read_timer: Option<Duration>,
    out: Output,
}

/// The files of one buffer (apart from the consumer, so that a packet borrowed from the
/// consumer can be written while the files are updated).
pub(crate) struct Output {
    dir: PathBuf,
    channel: String,
    stream_id: u64,
    tracefile_size: u64,
    tracefile_count: u64,
    streams: Vec<StreamFile>,
    errors: u64,
    sink: Sink,
    /// The trace's metadata as last parsed (for counting the events of lost packets), with
    /// the length of the text it was parsed from.
    metadata: Option<Box<(usize, rttng_ctf::ir::Metadata)>>,
    /// A packet copied out of shared memory to count its events.
    lost_copy: Vec<u8>,
}

/// Where a buffer's packets go.
enum Sink {
    /// Stream and index files in `Output::dir`.
    Files,
    /// A relay session: one relay stream per CPU, each with its own `net_seq_num` counter.
    Relay {
        session: Arc<RelaySession>,
        handles: Vec<u64>,
        next_net_seq: Vec<u64>,
    },
}

impl BufferWorker {
    /// Creates the shared memory and the trace directory. Returns the worker, the memfd to
    /// hand out, and a producer handle (for flushing from the control thread).
    /// With `relay`, the packets go to that relay session and `spec.trace_dir` is the
    /// stream path relative to it.
    /// With `snapshot_only`, no directory is created and nothing is written until a
    /// [`Cmd::Snapshot`] (`spec.trace_dir` is not used).
    pub fn new(
        spec: &BufferSpec,
        relay: Option<Arc<RelaySession>>,
        snapshot_only: bool,
    ) -> Result<(BufferWorker, OwnedFd, Producer), String> {
        let dir = PathBuf::from(&spec.trace_dir);
        let cpus: Vec<u32> = (0..spec.cpu_count).collect();
        let out = Output::new(
            dir,
            &spec.channel,
            u64::from(spec.stream_id),
            spec.tracefile_size,
            spec.tracefile_count,
            &cpus,
            relay.map(|r| (r, spec.trace_dir.clone())),
            snapshot_only,
        )?;
        let config = Config {
            cpu_count: spec.cpu_count,
            subbuf_count: spec.subbuf_count,
            subbuf_bytes: spec.subbuf_bytes,
            mode: if spec.overwrite {
                Mode::Overwrite
            } else {
                Mode::Discard
            },
            stream_id: spec.stream_id,
            uuid: spec.uuid,
        };
        let consumer =
            Consumer::create(&config).map_err(|e| format!("cannot create the ring buffer: {e}"))?;
        let fd = consumer
            .fd()
            .try_clone_to_owned()
            .map_err(|e| format!("cannot duplicate the ring buffer fd: {e}"))?;
        let producer = consumer.producer();
        let us = |v: u64| (v > 0).then(|| Duration::from_micros(v));
        let w = BufferWorker {
            consumer,
            snapshot_only: snapshot_only.then(rttng_ringbuf::StreamSnapshot::new),
            switch_timer: us(spec.switch_timer_us),
            read_timer: us(spec.read_timer_us),
            out,
        };
        Ok((w, fd, producer))
    }

    pub fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        let mut next_switch = self.switch_timer.map(|p| Instant::now() + p);
        // Packets written per stream at the last switch tick (live beacons).
        let mut written_at_tick: Vec<u64> = self.out.streams.iter().map(|s| s.written).collect();
        loop {
            let mut timeout = self
                .read_timer
                .unwrap_or(COMMAND_LATENCY)
                .min(COMMAND_LATENCY);
            if let Some(at) = next_switch {
                timeout = timeout.min(at.saturating_duration_since(Instant::now()));
            }
            if self.snapshot_only.is_some() {
                // Nothing to write while tracing: only commands wake this thread.
                match rx.recv() {
                    Ok(cmd) => {
                        if self.command(cmd) {
                            return;
                        }
                    }
                    Err(_) => return,
                }
                continue;
            }
            self.consumer.wait(timeout);
            if let (Some(at), Some(period)) = (next_switch, self.switch_timer) {
                if Instant::now() >= at {
                    let before = rttng_clock::now();
                    self.flush_all(false);
                    self.drain();
                    self.out.beacons(&mut written_at_tick, before);
                    next_switch = Some(Instant::now() + period);
                }
            }
            self.drain();
            loop {
                match rx.try_recv() {
                    Ok(cmd) => {
                        if self.command(cmd) {
                            return;
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.flush_all(false);
                        self.drain();
                        return;
                    }
                }
            }
        }
    }

    /// Returns true when the worker must end.
    fn command(&mut self, cmd: Cmd) -> bool {
        if self.snapshot_only.is_some() {
            return self.snapshot_command(cmd);
        }
        match cmd {
            Cmd::Flush(tx) => {
                self.flush_all(true);
                self.drain();
                let _ = tx.send(self.result());
                false
            }
            Cmd::Recover(tx) => {
                // SAFETY-free: the session daemon sends Recover only once every process
                // that mapped this buffer is dead (the contract of recover_dead_producer).
                let report = recover(&mut self.consumer);
                self.drain();
                eprintln!(
                    "rttng-consumerd: recovered {}: {} packets closed, {} headers rewritten, {} bytes after a hole lost",
                    self.out.dir.display(),
                    report.packets_closed,
                    report.headers_rewritten,
                    report.committed_bytes_after_hole
                );
                let _ = tx.send(self.result());
                false
            }
            Cmd::Stats(tx) => {
                self.drain();
                let _ = tx.send(self.stats());
                false
            }
            Cmd::Snapshot(_, _, tx) => {
                let _ = tx.send(ConsumerReply::Error {
                    message: "not a snapshot buffer (its packets are written as they fill)".into(),
                });
                false
            }
            Cmd::Remove(tx) => {
                self.flush_all(true);
                self.drain();
                for s in &mut self.out.streams {
                    if let Some(f) = &s.data {
                        let _ = f.sync_data();
                    }
                    s.close();
                }
                if let Sink::Relay {
                    session, handles, ..
                } = &self.out.sink
                {
                    if let Err(e) = session.close_streams(handles) {
                        self.out.errors += 1;
                        eprintln!("rttng-consumerd: {e}");
                    }
                }
                // The final statistics: the session daemon keeps them once the buffer is
                // gone (an exited app's per-process buffer), so that `list` still counts them.
                let _ = tx.send(self.stats());
                true
            }
        }
    }

    /// Commands of a snapshot session's buffer: flushes only close packets (they stay in
    /// memory for the next snapshot); a snapshot writes them out; nothing else writes.
    fn snapshot_command(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Flush(tx) => {
                self.flush_all(true);
                let _ = tx.send(ConsumerReply::Ok);
                false
            }
            Cmd::Recover(tx) => {
                let report = recover(&mut self.consumer);
                eprintln!(
                    "rttng-consumerd: recovered a snapshot buffer of {}: {} packets closed, {} headers rewritten, {} bytes after a hole lost",
                    self.out.channel,
                    report.packets_closed,
                    report.headers_rewritten,
                    report.committed_bytes_after_hole
                );
                let _ = tx.send(ConsumerReply::Ok);
                false
            }
            Cmd::Stats(tx) => {
                let _ = tx.send(ConsumerReply::Stats {
                    events_discarded: (0..self.consumer.cpu_count())
                        .map(|c| self.consumer.events_discarded(c))
                        .sum(),
                    packets_lost: 0,
                    packets_written: 0,
                    events_lost: 0,
                });
                false
            }
            Cmd::Snapshot(target, max_packets, tx) => {
                let scratch = self.snapshot_only.get_or_insert_with(Default::default);
                let (channel, stream_id) = (&self.out.channel, self.out.stream_id);
                let written = match target {
                    SnapshotTarget::Dir(dir) => crate::snapshot::write(
                        &self.consumer,
                        channel,
                        stream_id,
                        &dir,
                        max_packets,
                        scratch,
                    ),
                    SnapshotTarget::Relay(session, path) => crate::snapshot::write_relay(
                        &self.consumer,
                        channel,
                        stream_id,
                        &session,
                        &path,
                        max_packets,
                        scratch,
                    ),
                };
                let reply = match written {
                    Ok(w) => ConsumerReply::SnapshotWritten {
                        packets: w.packets,
                        bytes: w.bytes,
                    },
                    Err(message) => ConsumerReply::Error { message },
                };
                let _ = tx.send(reply);
                false
            }
            Cmd::Remove(tx) => {
                let _ = tx.send(ConsumerReply::Ok);
                true
            }
        }
    }

    fn result(&self) -> ConsumerReply {
        match self.out.failure() {
            Some(message) => ConsumerReply::Error { message },
            None => ConsumerReply::Ok,
        }
    }

    fn stats(&self) -> ConsumerReply {
        let streams = &self.out.streams;
        ConsumerReply::Stats {
            events_discarded: streams.iter().map(|s| s.last_discarded).sum(),
            // Overwritten in the ring buffer, or not written to disk.
            packets_lost: streams.iter().map(|s| s.lost + s.write_failed).sum(),
            packets_written: streams.iter().map(|s| s.written).sum(),
            // Inside the packets that could not be written.
            events_lost: streams.iter().map(|s| s.events_lost).sum(),
        }
    }

    /// Closes the open packet of every CPU. With `carry_losses`, a CPU whose lost-event
    /// count grew since its last written packet, or whose last packet could not be written,
    /// gets an empty packet carrying the count, so readers see every loss.
    fn flush_all(&mut self, carry_losses: bool) {
        for cpu in 0..self.consumer.cpu_count() {
            let s = &self.out.streams[cpu as usize];
            // A stream whose last packet could not be written gets one more packet too: its
            // sequence number shows readers the packets lost before it.
            let grew =
                self.consumer.events_discarded(cpu) > s.last_discarded || s.failing.is_some();
            // The end time is read inside the flush, once it is the buffer's last change:
            // apps keep writing until then.
            let _ = self
                .consumer
                .flush(cpu, carry_losses && grew, rttng_clock::now);
        }
    }

    /// Writes every complete packet out. Each one goes from the shared memory straight to
    /// its stream file (no copy in this process), and its sub-buffer is released after
    /// the write.
    fn drain(&mut self) {
        for cpu in 0..self.consumer.cpu_count() {
            for _ in 0..MAX_PACKETS_PER_PASS {
                match self.consumer.get_next_in_place(cpu) {
                    Ok(Some(p)) => {
                        let mut header = *p.header();
                        let len = disk::trim_packet(
                            &mut header,
                            p.packet_bytes(),
                            disk::PAGE_ALIGN_BYTES,
                        );
                        let written = self
                            .out
                            .write_packet(cpu, &header, len, |file| p.write_to(file, &header, len));
                        if written.is_err() {
                            // Its events are lost too: count them before the sub-buffer
                            // goes back to the writers.
                            let mut copy = std::mem::take(&mut self.out.lost_copy);
                            p.copy_to(&header, len, &mut copy);
                            self.out.count_lost_events(cpu, &copy);
                            self.out.lost_copy = copy;
                        }
                        p.release();
                        self.out.note_write(cpu, written);
                    }
                    Ok(None) => break,
                    Err(bad) => {
                        self.out.errors += 1;
                        eprintln!("rttng-consumerd: skipped a corrupt packet: {bad:?}");
                    }
                }
            }
        }
    }
}

impl StreamFile {
    fn new(cpu: u32) -> StreamFile {
        StreamFile {
            cpu,
            data: None,
            index: None,
            offset: 0,
            file_no: 0,
            last_seq: None,
            last_discarded: 0,
            lost: 0,
            written: 0,
            reserved_end: 0,
            can_reserve: true,
            index_len: 0,
            write_failed: 0,
            events_lost: 0,
            uncounted: 0,
            failing: None,
            broken: false,
        }
    }
}

impl Output {
    /// The number of events in `packet` (one whole packet, as it would have been
    /// written), decoded with the trace's metadata; `None` if that cannot be done.
    fn events_in(&mut self, packet: &[u8]) -> Option<u64> {
        let dir = self.dir.to_string_lossy();
        let known = self.metadata.as_ref().map(|m| m.0);
        let (len, text) = crate::metadata::kept(&dir, known)?;
        if let Some(text) = text {
            self.metadata = None;
            let mut md = rttng_ctf::tsdl::parse_metadata(&text).ok()?;
            rttng_ctf::roles::prepare(&mut md).ok()?;
            self.metadata = Some(Box::new((len, md)));
        }
        let md = &self.metadata.as_ref()?.1;
        rttng_ctf::decode::decode_stream(md, packet).ok()
    }

    /// The outputs of one channel's streams (one per CPU in `cpus`, which are 0, 1, ...):
    /// stream and index files in `dir` (absolute; created unless `no_files`), or with
    /// `relay`, that relay session's streams of the trace path given (relative).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        dir: PathBuf,
        channel: &str,
        stream_id: u64,
        tracefile_size: u64,
        tracefile_count: u64,
        cpus: &[u32],
        relay: Option<(Arc<RelaySession>, String)>,
        no_files: bool,
    ) -> Result<Output, String> {
        if channel.is_empty() || channel.contains('/') || channel.starts_with('.') {
            return Err(format!("bad channel name: {channel}"));
        }
        let sink = match relay {
            None if no_files => Sink::Files,
            None => {
                if !dir.is_absolute() {
                    return Err(format!("trace directory {} is not absolute", dir.display()));
                }
                crate::files::create_dir_all(&dir.join("index"))
                    .map_err(|e| format!("cannot create {}/index: {e}", dir.display()))?;
                Sink::Files
            }
            Some((session, path)) => {
                rttng_relay_proto::names::check_relative_path(
                    &path,
                    rttng_relay_proto::MAX_STREAM_PATH_BYTES - 1,
                    false,
                    "stream path",
                )
                .map_err(|e| e.to_string())?;
                let mut handles = Vec::new();
                for cpu in cpus {
                    handles.push(session.add_stream(
                        &format!("{channel}_{cpu}"),
                        &path,
                        tracefile_size,
                        tracefile_count,
                    )?);
                }
                session.streams_sent()?;
                Sink::Relay {
                    session,
                    next_net_seq: vec![0; handles.len()],
                    handles,
                }
            }
        };
        Ok(Output {
            dir,
            channel: channel.to_string(),
            stream_id,
            tracefile_size,
            tracefile_count,
            streams: cpus.iter().map(|&c| StreamFile::new(c)).collect(),
            errors: 0,
            sink,
            metadata: None,
            lost_copy: Vec::new(),
        })
    }

    /// Writes one whole packet held in memory (a kernel packet) to stream `cpu`, with its
    /// index entry (whose offset is ignored), and counts a failure.
    pub(crate) fn write_bytes(&mut self, cpu: u32, entry: &IndexEntry, bytes: &[u8]) {
        let written = self.write_entry(cpu, *entry, bytes.len(), |fd| {
            let mut f = File::from(fd.try_clone_to_owned()?);
            // A duplicate of the fd: it shares the original's position, which stays open.
            f.write_all(bytes)
        });
        if written.is_err() {
            self.count_lost_events(cpu, bytes);
        }
        self.note_write(cpu, written);
    }

    /// Closes every stream (synced), and a relay's streams.
    pub(crate) fn close_all(&mut self) {
        for s in &mut self.streams {
            if let Some(f) = &s.data {
                let _ = f.sync_data();
            }
            s.close();
        }
        if let Sink::Relay {
            session, handles, ..
        } = &self.sink
        {
            if let Err(e) = session.close_streams(handles) {
                self.errors += 1;
                eprintln!("rttng-consumerd: {e}");
            }
        }
    }

    /// Events inside the packets that could not be written.
    pub(crate) fn events_lost(&self) -> u64 {
        self.streams.iter().map(|s| s.events_lost).sum()
    }

    /// Packets not written (write errors) and written so far.
    pub(crate) fn packet_counts(&self) -> (u64, u64) {
        (
            self.streams.iter().map(|s| s.lost + s.write_failed).sum(),
            self.streams.iter().map(|s| s.written).sum(),
        )
    }

    /// The error to report for packets that could not be written, if any.
    pub(crate) fn failure(&self) -> Option<String> {
        if self.errors == 0 {
            return None;
        }
        let failed: u64 = self.streams.iter().map(|s| s.write_failed).sum();
        let events: u64 = self.streams.iter().map(|s| s.events_lost).sum();
        let uncounted: u64 = self.streams.iter().map(|s| s.uncounted).sum();
        let events = if uncounted > 0 {
            format!("at least {events} events; those of {uncounted} packets could not be counted")
        } else {
            format!("{events} events")
        };
        let last = self
            .streams
            .iter()
            .filter_map(|s| s.failing.as_deref())
            .next()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        Some(format!(
            "{failed} packets ({events}) of channel {} could not be written to {}{last}; \
             the stream files hold every packet written before and after them",
            self.channel,
            self.dir.display()
        ))
    }

    /// Adds the events of `packet`, which could not be written to stream `cpu`, to its
    /// losses (or counts it as uncounted).
    fn count_lost_events(&mut self, cpu: u32, packet: &[u8]) {
        let events = self.events_in(packet);
        if let Some(s) = self.streams.iter_mut().find(|s| s.cpu == cpu) {
            match events {
                Some(n) => s.events_lost += n,
                None => s.uncounted += 1,
            }
        }
    }

    fn file_name(&self, cpu: u32, file_no: u64) -> String {
        if self.tracefile_size > 0 {
            format!("{}_{cpu}_{file_no}", self.channel)
        } else {
            format!("{}_{cpu}", self.channel)
        }
    }

    fn open_files(&mut self, cpu: u32) -> Result<(), String> {
        let s = &self.streams[cpu as usize];
        let name = self.file_name(cpu, s.file_no);
        let data_path = self.dir.join(&name);
        let index_path = self.dir.join("index").join(format!("{name}.idx"));
        let data = crate::files::create_file(&data_path, false)
            .map_err(|e| format!("cannot create {}: {e}", data_path.display()))?;
        let mut index = crate::files::create_file(&index_path, false)
            .map_err(|e| format!("cannot create {}: {e}", index_path.display()))?;
        index
            .write_all(&encode_index(&[], IndexVersion::V1_1))
            .map_err(|e| format!("cannot write {}: {e}", index_path.display()))?;
        let s = &mut self.streams[cpu as usize];
        s.data = Some(data);
        s.index = Some(index);
        s.offset = 0;
        s.index_len = encode_index(&[], IndexVersion::V1_1).len() as u64;
        Ok(())
    }

    /// Appends one packet of `len` bytes whose header is `header` to the stream file of
    /// `cpu` (rotating first if needed) with `write` (which writes the packet at the
    /// file's position), then its index entry.
    fn write_packet(
        &mut self,
        cpu: u32,
        header: &[u8; HEADER_BYTES],
        len: usize,
        write: impl FnOnce(BorrowedFd<'_>) -> std::io::Result<()>,
    ) -> Result<(), String> {
        let s = &self.streams[cpu as usize];
        let entry = disk::index_entry(header, 0, self.stream_id, u64::from(s.cpu));
        self.write_entry(cpu, entry, len, write)
    }

    /// [`Self::write_packet`] with the packet's index entry (its offset is ignored).
    fn write_entry(
        &mut self,
        cpu: u32,
        entry: IndexEntry,
        len: usize,
        write: impl FnOnce(BorrowedFd<'_>) -> std::io::Result<()>,
    ) -> Result<(), String> {
        if matches!(self.sink, Sink::Relay { .. }) {
            return self.send_packet(cpu, entry, len, write);
        }
        let len = len as u64;
        {
            // The packet counts as handed out before anything can fail, so that a failure
            // is counted once (as a failed write), never again as a gap.
            let s = &mut self.streams[cpu as usize];
            let seq = entry.packet_seq_num.unwrap_or(0);
            // Every stream starts at packet 0: packets overwritten before the first one
            // written are lost too (a reader cannot see those: no packet before them).
            let expected = s.last_seq.map_or(0, |last| last + 1);
            s.lost += seq.saturating_sub(expected);
            s.last_seq = Some(seq);
            s.last_discarded = entry.events_discarded;
        }
        {
            let s = &mut self.streams[cpu as usize];
            if s.data.is_some()
                && self.tracefile_size > 0
                && s.offset > 0
                && s.offset + len > self.tracefile_size
            {
                s.close();
                s.file_no += 1;
                if self.tracefile_count > 0 && s.file_no >= self.tracefile_count {
                    // Keep the newest `count` files: remove the one that falls out.
                    let old = s.file_no - self.tracefile_count;
                    let name = self.file_name(cpu, old);
                    let _ = std::fs::remove_file(self.dir.join(&name));
                    let _ =
                        std::fs::remove_file(self.dir.join("index").join(format!("{name}.idx")));
                }
            }
        }
        if self.streams[cpu as usize].broken {
            return Err(format!(
                "stream file of cpu {cpu} in {} is no longer written after an error that \
                 could not be undone",
                self.dir.display()
            ));
        }
        if self.streams[cpu as usize].data.is_none() {
            self.open_files(cpu)?;
        }
        let s = &mut self.streams[cpu as usize];
        let entry = IndexEntry {
            offset_bytes: s.offset,
            stream_id: self.stream_id,
            stream_instance_id: Some(u64::from(s.cpu)),
            ..entry
        };
        let (Some(data), Some(index)) = (s.data.as_mut(), s.index.as_mut()) else {
            return Err("stream file not open".into());
        };
        if s.can_reserve && s.offset + len > s.reserved_end {
            let from = s.reserved_end.max(s.offset);
            let want = PREALLOC_BYTES.max(len);
            match rttng_ringbuf::preallocate(data.as_fd(), from, want) {
                Ok(()) => s.reserved_end = from + want,
                Err(_) => s.can_reserve = false,
            }
        }
        let idx = encode_index(&[entry], IndexVersion::V1_1);
        let entry_bytes = &idx[16..];
        let (data_at, index_at) = (s.offset, s.index_len);
        let wrote = append(data, data_at, len, faults::Target::Data, |f| {
            write(f.as_fd())
        })
        .map_err(|e| format!("cannot write stream file of cpu {cpu}: {e}"))
        .and_then(|()| {
            append(
                index,
                index_at,
                entry_bytes.len() as u64,
                faults::Target::Index,
                |f| f.write_all(entry_bytes),
            )
            .map_err(|e| format!("cannot write index of cpu {cpu}: {e}"))
        });
        if let Err(e) = wrote {
            // Both files go back to their last whole packet, so that everything written
            // before stays readable and the next packet can follow it when space returns.
            // Truncating also frees the blocks reserved past the data.
            s.reserved_end = 0;
            let undone = truncate_to(data, data_at).and_then(|()| truncate_to(index, index_at));
            if let Err(undo) = undone {
                s.broken = true;
                s.close();
                return Err(format!("{e}; undoing it failed too ({undo})"));
            }
            return Err(e);
        }
        s.offset += len;
        s.index_len += entry_bytes.len() as u64;
        s.written += 1;
        Ok(())
    }

    /// Counts a packet that could not be written and logs the first failure of each run of
    /// them, and the resumption after it.
    fn note_write(&mut self, cpu: u32, written: Result<(), String>) {
        let dir = self.dir.display().to_string();
        let s = &mut self.streams[cpu as usize];
        match written {
            Ok(()) => {
                if s.failing.take().is_some() {
                    eprintln!(
                        "rttng-consumerd: writing cpu {cpu} of {dir} again ({} packets lost so far)",
                        s.write_failed
                    );
                }
            }
            Err(e) => {
                self.errors += 1;
                s.write_failed += 1;
                if s.failing.is_none() {
                    eprintln!(
                        "rttng-consumerd: {e}; packets are lost until writing succeeds again"
                    );
                }
                s.failing = Some(e);
            }
        }
    }
}

/// Appends `len` bytes to `file`, whose data ends at `at`, with `write`; a fault injected
/// for `target` (tests, see [`faults`]) replaces or cuts the write.
fn append(
    file: &mut File,
    at: u64,
    len: u64,
    target: faults::Target,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match faults::next(target) {
        None => write(file),
        Some(fault @ faults::Fault::Errno(_)) => Err(faults::error(fault)),
        Some(faults::Fault::Delay) => {
            eprintln!(
                "rttng-consumerd: injected fault: a {target:?} write waits {:?}",
                faults::DELAY
            );
            std::thread::sleep(faults::DELAY);
            write(file)
        }
        Some(fault @ faults::Fault::Short) => {
            // What a disk filling up mid-write leaves: the first half written, the file
            // position after it.
            write(file)?;
            truncate_to(file, at + len / 2)?;
            Err(faults::error(fault))
        }
    }
}

/// How far before the tick a live beacon is dated: a record whose time was read just before
/// the tick may still be being written as the drain passes (the kernel writes a record with
/// preemption off: microseconds).
pub(crate) const BEACON_MARGIN_NS: u64 = 1_000_000;

/// Cuts `file` to `len` bytes and puts its position there.
fn truncate_to(file: &mut File, len: u64) -> std::io::Result<()> {
    use std::io::Seek;
    file.set_len(len)?;
    file.seek(std::io::SeekFrom::Start(len))?;
    Ok(())
}

impl Output {
    /// In a live relay session, after a switch tick: a beacon for each stream that wrote no
    /// packet since the previous tick, so that live viewers need not wait for it.
    /// `written_at_tick` holds each stream's packet count at the previous tick and is
    /// updated. `before_ns` is the clock read before the tick's flush and drain began: the
    /// beacon says the stream has nothing before it, less [`BEACON_MARGIN_NS`]. (The clock
    /// read after the drain was a lie when the drain took long: events recorded meanwhile
    /// come in a later packet, and babeltrace2's live client fails on a message older than
    /// the beacon it already passed on.)
    pub(crate) fn beacons(&mut self, written_at_tick: &mut Vec<u64>, before_ns: u64) {
        let Sink::Relay {
            session, handles, ..
        } = &self.sink
        else {
            return;
        };
        if !session.live {
            return;
        }
        written_at_tick.resize(self.streams.len(), 0);
        let now = before_ns.saturating_sub(BEACON_MARGIN_NS);
        for (i, s) in self.streams.iter().enumerate() {
            if s.written == written_at_tick[i] {
                if let Err(e) =
                    session.send_beacon(handles[i], self.stream_id, u64::from(s.cpu), now)
                {
                    self.errors += 1;
                    eprintln!("rttng-consumerd: {e}");
                    return;
                }
            }
            written_at_tick[i] = s.written;
        }
    }

    /// [`Output::write_packet`] for a relay sink: the packet on the data connection, then
    /// its index (the relay knows the file offsets).
    fn send_packet(
        &mut self,
        cpu: u32,
        entry: IndexEntry,
        len: usize,
        write: impl FnOnce(BorrowedFd<'_>) -> std::io::Result<()>,
    ) -> Result<(), String> {
        let Sink::Relay {
            session,
            handles,
            next_net_seq,
        } = &mut self.sink
        else {
            return Err("not a relay output".into());
        };
        let s = &mut self.streams[cpu as usize];
        // The same entry as on disk, less the offset (the relay knows it).
        let entry = IndexEntry {
            stream_id: self.stream_id,
            stream_instance_id: Some(u64::from(s.cpu)),
            ..entry
        };
        let seq = entry.packet_seq_num.unwrap_or(0);
        // As on disk: every stream starts at packet 0.
        let expected = s.last_seq.map_or(0, |last| last + 1);
        s.lost += seq.saturating_sub(expected);
        s.last_seq = Some(seq);
        s.last_discarded = entry.events_discarded;
        let handle = handles[cpu as usize];
        let net_seq = next_net_seq[cpu as usize];
        let index = SendIndex {
            relay_stream_id: handle,
            net_seq_num: net_seq,
            packet_size_bits: entry.packet_size_bits,
            content_size_bits: entry.content_size_bits,
            timestamp_begin: entry.timestamp_begin,
            timestamp_end: entry.timestamp_end,
            events_discarded: entry.events_discarded,
            stream_class_id: entry.stream_id,
            stream_instance_id: u64::from(s.cpu),
            packet_seq_num: seq,
        };
        next_net_seq[cpu as usize] += 1;
        session.send_packet(handle, net_seq, len, write, &index)?;
        s.written += 1;
        Ok(())
    }
}

#[allow(unsafe_code)]
fn recover(c: &mut Consumer) -> rttng_ringbuf::RecoveryReport {
    // SAFETY: the session daemon asks for recovery only after every application that
    // mapped this buffer has died or disconnected (it watches their sockets), so no
    // producer runs on this shared memory.
    unsafe { c.recover_dead_producer(rttng_clock::now()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_a_stream_frees_the_blocks_reserved_past_its_data() {
        use std::os::unix::fs::MetadataExt;
        let path =
            std::env::temp_dir().join(format!("rttng-consumerd-close-{}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        let reserved = rttng_ringbuf::preallocate(f.as_fd(), 4096, PREALLOC_BYTES).is_ok();
        let mut s = StreamFile {
            cpu: 0,
            data: Some(f),
            index: None,
            offset: 4096,
            file_no: 0,
            last_seq: None,
            last_discarded: 0,
            lost: 0,
            written: 1,
            reserved_end: if reserved { 4096 + PREALLOC_BYTES } else { 0 },
            can_reserve: reserved,
            index_len: 0,
            write_failed: 0,
            events_lost: 0,
            uncounted: 0,
            failing: None,
            broken: false,
        };
        if reserved {
            let before = std::fs::metadata(&path).unwrap().blocks() * 512;
            assert!(before >= PREALLOC_BYTES, "reserved: {before}");
        }
        s.close();
        let meta = std::fs::metadata(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(s.data.is_none());
        assert_eq!(meta.len(), 4096);
        assert!(
            meta.blocks() * 512 < PREALLOC_BYTES,
            "freed: {}",
            meta.blocks()
        );
    }
}
