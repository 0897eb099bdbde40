//! Draining a session's own buffers (`rttng trace`, `rttng top`): at the first start each
//! channel's `ChannelDrain` (the consumer's conversion), the path strings, the metadata and
//! the stream files; at a later start the events enabled since. Not here: the drain threads
//! (`crate::drain`), conversion (`crate::consume`).

use std::path::Path;

use super::{Channel, Context, KernelSession, METADATA_PACKET_BYTES};
use crate::consume::{ChannelDrain, KernelMetadata};
use crate::drain::TraceFiles;
use crate::error::{io_err, KernelError};

impl KernelSession {
    /// The channels' contexts as the consumer's drain takes them.
    pub(super) fn plan_contexts(ch: &Channel) -> Vec<Context> {
        ch.contexts.clone()
    }

    pub(super) fn events_of(ch: &Channel) -> Vec<String> {
        ch.events.iter().map(|(s, e)| format!("{s}:{e}")).collect()
    }

    /// At the first start: each channel's drain, the path recorder, the metadata and the
    /// stream files.
    pub(super) fn open_drains(&mut self) -> Result<(), KernelError> {
        let mut drains = Vec::new();
        for (sid, ch) in self.channels.iter().enumerate() {
            let mut d = ChannelDrain::open(
                ch.instance.name(),
                sid as u64,
                ch.config.subbuf_bytes,
                ch.config.subbuf_count,
            )?;
            d.set_clock(self.clock.clone());
            d.set_events(&Self::events_of(ch), &Self::plan_contexts(ch))?;
            if let Some(make) = &self.observer {
                d.observe_pages(make, self.write_trace);
            }
            drains.push(d);
        }
        self.start_paths();
        if let Some(log) = &self.path_log {
            let mut refs: Vec<&mut ChannelDrain> = drains.iter_mut().collect();
            crate::consume::attach_shared(&mut refs, log.clone());
        }
        let mut md = KernelMetadata::new_at(&self.name, &self.clock, &self.creation_datetime);
        md.declare(&drains.iter().collect::<Vec<_>>());
        let keep = self.keeps_trace();
        let dir = self.trace_dir();
        if keep {
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            write_metadata(&dir, &md)?;
        }
        for (ch, mut d) in self.channels.iter_mut().zip(drains) {
            d.declared(&md);
            let files = if keep {
                Some(TraceFiles::create(&dir, &ch.config.name, &d.cpus())?)
            } else {
                None
            };
            ch.parked = Some((d, files));
        }
        self.md = Some(md);
        Ok(())
    }

    /// At a later start: events enabled since are declared, the path recorder attached again.
    pub(super) fn update_drains(&mut self) -> Result<(), KernelError> {
        let dir = self.trace_dir();
        let Some(md) = self.md.as_mut() else {
            return Ok(());
        };
        let mut grew = false;
        for ch in &mut self.channels {
            let (events, contexts) = (Self::events_of(ch), Self::plan_contexts(ch));
            if let Some((d, _)) = ch.parked.as_mut() {
                d.set_events(&events, &contexts)?;
                grew |= !md.add_events(d)?.is_empty();
            }
        }
        if grew && self.write_trace {
            write_metadata(&dir, md)?;
        }
        self.start_paths();
        Ok(())
    }

    /// Whether a trace is written (not a live-only session).
    pub(super) fn keeps_trace(&self) -> bool {
        self.write_trace || self.observer.is_none()
    }
}

/// Writes the whole metadata file of the trace in `dir` (packetized, as LTTng's).
pub(super) fn write_metadata(dir: &Path, md: &KernelMetadata) -> Result<(), KernelError> {
    let p = dir.join("metadata");
    let bytes = rttng_ctf::emit::packetize_metadata(
        md.text(),
        md.uuid(),
        rttng_ctf::ir::ByteOrder::NATIVE,
        METADATA_PACKET_BYTES,
    );
    std::fs::write(&p, bytes).map_err(io_err(&p))
}
