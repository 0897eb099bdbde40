//! The TSDL of a kernel trace written by a consumer: the base blocks (trace, env, clock) and
//! every channel's stream class with its events at the first start, then one `event` block
//! per event enabled later, each the exact suffix the emitter adds (append-only, like the
//! user-space traces' metadata). Not here: packetizing and files (the consumer).

use std::collections::HashMap;

use rttng_ctf::emit::emit_metadata;
use rttng_ctf::ir::{Metadata, StreamClass};
use rttng_ctf::lttng::{event_class, kernel_env, LttngLayout};

use super::ChannelDrain;
use crate::error::KernelError;
use crate::session::{datetime_now, ClockSpec};

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The TSDL of one kernel trace, append-only.
#[derive(Debug, Clone)]
pub struct KernelMetadata {
    base: Metadata,
    /// Declared stream classes, without their events.
    streams: Vec<StreamClass>,
    /// Events declared per stream class id.
    events: HashMap<u64, usize>,
    text: String,
}

impl KernelMetadata {
    /// A trace named `session` on `clock` (lttng-modules' env, a fresh uuid); nothing is
    /// declared until [`Self::declare`].
    pub fn new(session: &str, clock: &ClockSpec) -> KernelMetadata {
        Self::new_at(session, clock, &datetime_now())
    }

    /// Same, for a session created at `creation_datetime` (ISO 8601).
    pub(crate) fn new_at(
        session: &str,
        clock: &ClockSpec,
        creation_datetime: &str,
    ) -> KernelMetadata {
        let lay = LttngLayout::x86_64();
        let env = kernel_env(
            &read_trim("/proc/sys/kernel/hostname"),
            "Linux",
            &read_trim("/proc/sys/kernel/osrelease"),
            &read_trim("/proc/sys/kernel/version"),
            session,
            creation_datetime,
        );
        let base = lay.metadata(uuid::Uuid::new_v4().into_bytes(), clock.ctf.clone(), env);
        KernelMetadata {
            base,
            streams: Vec::new(),
            events: HashMap::new(),
            text: String::new(),
        }
    }

    pub fn uuid(&self) -> [u8; 16] {
        self.base.trace.uuid.unwrap_or([0; 16])
    }

    /// Every byte of TSDL handed out so far (a snapshot writes it whole).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_declared(&self) -> bool {
        !self.text.is_empty()
    }

    /// Declares the base blocks, each channel's stream class and its events (once, at the
    /// first start: channels cannot be added after it). Returns the text to append.
    pub fn declare(&mut self, channels: &[&ChannelDrain]) -> String {
        if self.is_declared() {
            return String::new();
        }
        let lay = LttngLayout::x86_64();
        let mut md = self.base.clone();
        for ch in channels {
            let mut sc = lay.stream_class(ch.stream_id, ch.header_kind(), ch.event_context());
            self.streams.push(sc.clone());
            for (eid, plan) in ch.plans.iter().enumerate() {
                sc.events.push(event_class(
                    eid as u64,
                    ch.stream_id,
                    &plan.ctf_name,
                    None,
                    plan.fields.clone(),
                ));
            }
            self.events.insert(ch.stream_id, ch.plans.len());
            md.streams.push(sc);
        }
        self.text = emit_metadata(&md);
        self.text.clone()
    }

    /// Declares the events of `ch` not declared yet (enabled after the first start); returns
    /// the text to append (empty when there is none, or before [`Self::declare`]).
    pub fn add_events(&mut self, ch: &ChannelDrain) -> Result<String, KernelError> {
        if !self.is_declared() {
            return Ok(String::new());
        }
        let Some(stream) = self.streams.iter().find(|s| s.id == ch.stream_id).cloned() else {
            return Err(KernelError::BadConfig {
                what: "stream class declared after the first start",
                value: ch.stream_id,
            });
        };
        let done = self.events.get(&ch.stream_id).copied().unwrap_or(0);
        let mut out = String::new();
        for (eid, plan) in ch.plans.iter().enumerate().skip(done) {
            // The event block alone: the suffix it adds to a trace of this stream class.
            let alone = Metadata {
                streams: vec![stream.clone()],
                ..self.base.clone()
            };
            let before = emit_metadata(&alone);
            let mut with = stream.clone();
            with.events.push(event_class(
                eid as u64,
                ch.stream_id,
                &plan.ctf_name,
                None,
                plan.fields.clone(),
            ));
            let after = emit_metadata(&Metadata {
                streams: vec![with],
                ..self.base.clone()
            });
            let Some(add) = after.strip_prefix(&before) else {
                return Err(KernelError::BadConfig {
                    what: "event metadata that is not an append, of stream class",
                    value: ch.stream_id,
                });
            };
            out.push_str(add);
        }
        self.events.insert(ch.stream_id, ch.plans.len());
        self.text.push_str(&out);
        Ok(out)
    }

    /// The trace with only stream class `id` (no events): what a packet writer needs.
    pub(super) fn stream_metadata(&self, id: u64) -> Option<Metadata> {
        let s = self.streams.iter().find(|s| s.id == id)?;
        Some(Metadata {
            streams: vec![s.clone()],
            ..self.base.clone()
        })
    }
}
