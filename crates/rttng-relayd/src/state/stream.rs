//! One relay stream's writes: reserving room for a packet in the current tracefile (rotating
//! by size and count), pairing its data and SEND_INDEX halves, writing index entries, data
//! pending, closing, and what a live viewer reads of it. Not here: the registry and sessions
//! (`state.rs`), sockets and the wire format (`control.rs`, `data.rs`).

use super::*;

impl Stream {
    pub fn is_closed(&self) -> bool {
        lock(&self.st).closed
    }

    pub fn data_conn(&self) -> Option<u64> {
        lock(&self.st).data_conn
    }

    /// Starts a data-port packet of `total_bytes` (data and padding): rotates the tracefile if
    /// it would grow past `tracefile_size`, opens the index file of a new tracefile, and
    /// reserves the packet's place.
    pub fn begin_packet(&self, conn: u64, total_bytes: u64) -> Result<Reservation> {
        let mut st = lock(&self.st);
        if st.closed {
            bail!("stream {} is closed", self.handle);
        }
        if st.in_flight.is_some() {
            bail!("stream {} is already receiving a packet", self.handle);
        }
        if let Some(other) = st.data_conn.filter(|&c| c != conn) {
            bail!(
                "stream {} is fed by data connection {other}, not this one",
                self.handle
            );
        }
        st.data_conn = Some(conn);
        st.data_conn_open = true;
        if self.tracefile_size_bytes > 0
            && st.file_bytes.saturating_add(total_bytes) > self.tracefile_size_bytes
        {
            let next = if self.tracefile_count > 0 {
                (st.file_index + 1) % self.tracefile_count
            } else {
                st.file_index + 1
            };
            if next < st.file_index {
                st.wrapped = true;
            }
            st.file_index = next;
            let name = store::data_file_name(&self.channel_name, self.tracefile_size_bytes, next);
            let file = store::create_file(&st.dir, &name, st.wrapped)
                .with_context(|| format!("cannot create tracefile {name}"))?;
            st.file = Arc::new(file);
            st.file_bytes = 0;
            st.index_file = None;
        }
        if !self.is_metadata && !self.session.spec.snapshot && st.index_file.is_none() {
            let f = Arc::new(self.create_index_file(&mut st)?);
            st.index_file = Some(f.clone());
            let data = st.file.clone();
            st.segments.push_back(Segment {
                data,
                index: f,
                entries: 0,
            });
            // A reused tracefile replaces the oldest one.
            let keep = match usize::try_from(self.tracefile_count) {
                Ok(n) if n > 0 => n.min(MAX_LIVE_SEGMENTS),
                _ => MAX_LIVE_SEGMENTS,
            };
            while st.segments.len() > keep {
                if let Some(old) = st.segments.pop_front() {
                    st.dropped_entries += old.entries;
                }
            }
        }
        Ok(self.reserve(&mut st, total_bytes))
    }

    fn create_index_file(&self, st: &mut StreamState) -> Result<File> {
        if st.index_dir.is_none() {
            crate::sys::mkdir_in(&st.dir, store::INDEX_DIR, 0o770)
                .context("cannot create the index directory")?;
            st.index_dir = Some(
                crate::sys::open_dir_beneath(&st.dir, store::INDEX_DIR)
                    .context("cannot open the index directory")?,
            );
        }
        let data =
            store::data_file_name(&self.channel_name, self.tracefile_size_bytes, st.file_index);
        let name = store::index_file_name(&data);
        let dir = st.index_dir.as_ref().expect("created above");
        let mut f = store::create_file(dir, &name, st.wrapped)
            .with_context(|| format!("cannot create index file {name}"))?;
        f.write_all(&encode_index(&[], IndexVersion::V1_1))
            .with_context(|| format!("cannot write index file {name}"))?;
        Ok(f)
    }

    fn reserve(&self, st: &mut StreamState, total_bytes: u64) -> Reservation {
        let offset = st.file_bytes;
        st.file_bytes += total_bytes;
        st.in_flight = Some(InFlight {
            offset,
            total_bytes,
            file: st.file.clone(),
        });
        Reservation {
            file: st.file.clone(),
            offset,
        }
    }

    /// Starts a SEND_METADATA message of `total_bytes`.
    pub fn begin_metadata(&self, total_bytes: u64) -> Result<Reservation> {
        let mut st = lock(&self.st);
        if !self.is_metadata {
            bail!("stream {} is not a metadata stream", self.handle);
        }
        if st.closed {
            bail!("stream {} is closed", self.handle);
        }
        if st.in_flight.is_some() {
            bail!("stream {} is already receiving", self.handle);
        }
        Ok(self.reserve(&mut st, total_bytes))
    }

    /// The reserved packet or message did not arrive whole: cut the file back to where it
    /// began, so that the stored stream ends with the last whole packet.
    pub fn abort_write(&self) {
        let mut st = lock(&self.st);
        if let Some(f) = st.in_flight.take() {
            if Arc::ptr_eq(&f.file, &st.file) && st.file_bytes == f.offset + f.total_bytes {
                st.file_bytes = f.offset;
                let _ = f.file.set_len(f.offset);
            }
        }
    }

    /// The metadata message arrived whole.
    pub fn complete_metadata(&self) {
        lock(&self.st).in_flight = None;
    }

    /// The data packet `seq` arrived whole: pair it with its index.
    pub fn complete_packet(&self, seq: u64) -> Result<()> {
        let mut st = lock(&self.st);
        let f = st
            .in_flight
            .take()
            .ok_or_else(|| anyhow!("stream {}: no packet in flight", self.handle))?;
        st.packets_received += 1;
        st.last_data_seq = Some(seq);
        if let Some(index_file) = st.index_file.clone() {
            self.halves(&mut st, seq)?.data = Some((index_file, f.offset));
            self.flush_index(&mut st, seq)?;
        }
        Ok(())
    }

    fn halves<'a>(&self, st: &'a mut StreamState, seq: u64) -> Result<&'a mut Halves> {
        if !st.pending.contains_key(&seq) && st.pending.len() >= MAX_PENDING_HALVES_PER_STREAM {
            bail!(
                "stream {}: more than {MAX_PENDING_HALVES_PER_STREAM} packets wait for their data or index",
                self.handle
            );
        }
        Ok(st.pending.entry(seq).or_default())
    }

    /// SEND_INDEX. A live beacon (no packet) writes nothing.
    pub fn add_index(&self, idx: &SendIndex) -> Result<()> {
        let mut st = lock(&self.st);
        if st.closed {
            bail!("stream {} is closed", self.handle);
        }
        if idx.is_beacon() {
            st.beacon = Some((idx.timestamp_end, idx.stream_class_id));
            return Ok(());
        }
        st.beacon = None;
        if self.is_metadata || self.session.spec.snapshot {
            bail!("stream {} takes no index", self.handle);
        }
        self.halves(&mut st, idx.net_seq_num)?.index = Some(*idx);
        self.flush_index(&mut st, idx.net_seq_num)
    }

    fn flush_index(&self, st: &mut StreamState, seq: u64) -> Result<()> {
        let Some(h) = st.pending.get(&seq) else {
            return Ok(());
        };
        let (Some((file, offset)), Some(i)) = (h.data.clone(), h.index) else {
            return Ok(());
        };
        let file = &file;
        let (offset, i) = (&offset, &i);
        let entry = IndexEntry {
            offset_bytes: *offset,
            packet_size_bits: i.packet_size_bits,
            content_size_bits: i.content_size_bits,
            timestamp_begin: i.timestamp_begin,
            timestamp_end: i.timestamp_end,
            events_discarded: i.events_discarded,
            stream_id: i.stream_class_id,
            stream_instance_id: Some(i.stream_instance_id),
            packet_seq_num: Some(i.packet_seq_num),
        };
        let bytes = encode_index(&[entry], IndexVersion::V1_1);
        let mut f: &File = file;
        f.write_all(&bytes[INDEX_HEADER_BYTES..])
            .with_context(|| format!("stream {}: cannot write its index", self.handle))?;
        // Entries complete in sequence order (data and indexes each arrive in order), so the
        // entries of a tracefile follow those of the tracefiles before it.
        match st
            .segments
            .iter_mut()
            .rev()
            .find(|s| Arc::ptr_eq(&s.index, file))
        {
            Some(s) => s.entries += 1,
            None => st.dropped_entries += 1,
        }
        st.pending.remove(&seq);
        st.index_entries_written += 1;
        Ok(())
    }

    /// DATA_PENDING: whether data up to `last_seq`, or the index of a packet received, is
    /// still missing.
    pub fn data_pending(&self, last_seq: u64) -> bool {
        let mut st = lock(&self.st);
        st.checked = true;
        if st.closed {
            return false;
        }
        if st.in_flight.is_some() {
            return true;
        }
        let data_missing = match (last_seq, st.last_data_seq) {
            (NO_SEQ, _) => false,
            (_, None) => true,
            (want, Some(have)) => !seq_ge(have, want),
        };
        data_missing
            || st
                .pending
                .range(..=last_seq)
                .any(|(_, h)| h.data.is_some() && h.index.is_none())
    }

    /// QUIESCENT_CONTROL.
    pub fn mark_checked(&self) {
        lock(&self.st).checked = true;
    }

    /// CLOSE_STREAM: close once data up to `last_seq` has arrived.
    pub fn request_close(&self, last_seq: u64) {
        lock(&self.st).close_at = Some(last_seq);
    }

    /// RESET_METADATA: the metadata starts again from an empty file.
    pub fn reset_metadata(&self) -> Result<()> {
        let mut st = lock(&self.st);
        if !self.is_metadata || self.session.spec.live_timer_us > 0 {
            bail!("stream {} cannot reset its metadata", self.handle);
        }
        st.file.set_len(0).context("cannot truncate the metadata")?;
        st.file_bytes = 0;
        Ok(())
    }

    /// Closes the stream if nothing more is expected: the data CLOSE_STREAM announced has
    /// arrived; or its data connection ended and closing was asked or the control connection is
    /// gone; or it never had a data connection and the control connection is gone (a close
    /// that overtook its data waits for the data while the control connection lives).
    /// Returns whether it closed now.
    pub(super) fn try_finalize(&self, control_open: bool) -> bool {
        let mut st = lock(&self.st);
        if st.closed || st.in_flight.is_some() {
            return false;
        }
        let data_complete = match (st.close_at, st.last_data_seq) {
            (Some(NO_SEQ), _) => true,
            (Some(_), None) => false,
            (Some(c), Some(l)) => seq_ge(l, c),
            (None, _) => false,
        };
        let data_conn_ended = st.data_conn.is_some() && !st.data_conn_open;
        let done = data_complete
            || (data_conn_ended && (st.close_at.is_some() || !control_open))
            || (st.data_conn.is_none() && !control_open);
        if done {
            st.closed = true;
            st.pending.clear();
            st.index_file = None;
        }
        done
    }

    /// What the live port reads of this stream (see `crate::live`).
    pub fn live_snapshot(&self) -> LiveSnapshot {
        let st = lock(&self.st);
        LiveSnapshot {
            data_file: st.file.clone(),
            index_entries: st.index_entries_written,
            // Metadata in flight is not whole yet.
            complete_bytes: st.in_flight.as_ref().map_or(st.file_bytes, |f| f.offset),
            published: st.published,
            closed: st.closed,
            beacon: st.beacon,
        }
    }

    /// Where index entry `n` (counted from the stream's first) is, for the live port.
    pub fn live_entry(&self, n: u64) -> LiveEntry {
        let st = lock(&self.st);
        if n < st.dropped_entries {
            return LiveEntry::Gone {
                next: st.dropped_entries,
            };
        }
        let mut first = st.dropped_entries;
        for s in &st.segments {
            if n < first + s.entries {
                return LiveEntry::At {
                    index: s.index.clone(),
                    local: n - first,
                    data: s.data.clone(),
                };
            }
            first += s.entries;
        }
        LiveEntry::Missing
    }

    /// (packets received, index entries written, published), for logs, tests and live.
    pub fn progress(&self) -> (u64, u64, bool) {
        let st = lock(&self.st);
        (st.packets_received, st.index_entries_written, st.published)
    }
}
