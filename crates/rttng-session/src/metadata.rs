//! The metadata of one trace, kept append-only: the trace model declared so far, and the TSDL
//! text for each addition (the base blocks, one `stream` block, one `event` block), computed
//! as the exact suffix the emitter adds. Concatenated in order, the pieces form one valid
//! TSDL document, so the consumer only ever appends. Not here: packetizing and files.

use rttng_ctf::emit::emit_metadata;
use rttng_ctf::ir::{EnvValue, EventClass, FieldClass, Metadata, StreamClass};
use rttng_ctf::lttng::{EventHeaderKind, LttngLayout};

/// Most event classes one stream class of a trace may declare (the large header's id range).
pub const MAX_EVENTS_PER_STREAM: usize = 65_535;

#[derive(Debug, Clone)]
pub struct TraceMetadata {
    layout: LttngLayout,
    base: Metadata,
    /// Declared stream classes without their events, in declaration order.
    streams: Vec<StreamClass>,
    /// Declared events: (stream id, name, payload) → id.
    events: Vec<(u64, String, FieldClass, u64)>,
}

/// Why an addition cannot be emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataError {
    NotPrefix { what: &'static str },
    TooManyEvents { stream_id: u64 },
    UnknownStream { stream_id: u64 },
}

impl std::fmt::Display for MetadataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetadataError::NotPrefix { what } => {
                write!(f, "metadata for a new {what} is not an append")
            }
            MetadataError::TooManyEvents { stream_id } => {
                write!(
                    f,
                    "stream class {stream_id} has {MAX_EVENTS_PER_STREAM} event classes already"
                )
            }
            MetadataError::UnknownStream { stream_id } => {
                write!(f, "stream class {stream_id} is not declared")
            }
        }
    }
}

impl std::error::Error for MetadataError {}

fn suffix(before: &str, after: &str, what: &'static str) -> Result<String, MetadataError> {
    after
        .strip_prefix(before)
        .map(str::to_owned)
        .ok_or(MetadataError::NotPrefix { what })
}

impl TraceMetadata {
    /// A trace with its base blocks; returns it with their TSDL text.
    pub fn new(
        uuid: [u8; 16],
        clock: rttng_ctf::ir::ClockClass,
        env: Vec<(String, EnvValue)>,
    ) -> (TraceMetadata, String) {
        let layout = LttngLayout {
            clock_name: clock.name.clone(),
            ..LttngLayout::x86_64()
        };
        let base = layout.metadata(uuid, clock, env);
        let text = emit_metadata(&base);
        (
            TraceMetadata {
                layout,
                base,
                streams: Vec::new(),
                events: Vec::new(),
            },
            text,
        )
    }

    pub fn has_stream(&self, id: u64) -> bool {
        self.streams.iter().any(|s| s.id == id)
    }

    fn with_streams(&self, streams: Vec<StreamClass>) -> Metadata {
        Metadata {
            streams,
            ..self.base.clone()
        }
    }

    /// Declares stream class `id` (LTTng's packet context and large event header) with the
    /// given `stream.event.context`; returns the text to append.
    pub fn add_stream(
        &mut self,
        id: u64,
        event_context: Option<FieldClass>,
    ) -> Result<String, MetadataError> {
        let before = emit_metadata(&self.with_streams(self.streams.clone()));
        let mut streams = self.streams.clone();
        streams.push(
            self.layout
                .stream_class(id, EventHeaderKind::Large, event_context),
        );
        let after = emit_metadata(&self.with_streams(streams.clone()));
        let text = suffix(&before, &after, "stream")?;
        self.streams = streams;
        Ok(text)
    }

    /// The id of event `name` with payload `fields` in stream `stream_id`, declaring it if new;
    /// returns the id and the text to append (empty when it was declared already).
    pub fn event_id(
        &mut self,
        stream_id: u64,
        name: &str,
        loglevel: i64,
        fields: &FieldClass,
    ) -> Result<(u64, String), MetadataError> {
        if let Some(e) = self
            .events
            .iter()
            .find(|e| e.0 == stream_id && e.1 == name && &e.2 == fields)
        {
            return Ok((e.3, String::new()));
        }
        let stream = self
            .streams
            .iter()
            .find(|s| s.id == stream_id)
            .ok_or(MetadataError::UnknownStream { stream_id })?;
        let id = self.events.iter().filter(|e| e.0 == stream_id).count();
        if id >= MAX_EVENTS_PER_STREAM {
            return Err(MetadataError::TooManyEvents { stream_id });
        }
        let id = id as u64;
        let alone = self.with_streams(vec![stream.clone()]);
        let before = emit_metadata(&alone);
        let mut with_event = stream.clone();
        with_event.events.push(EventClass {
            id,
            name: name.to_string(),
            stream_id,
            loglevel: Some(loglevel),
            model_emf_uri: None,
            context: None,
            fields: Some(fields.clone()),
        });
        let after = emit_metadata(&self.with_streams(vec![with_event]));
        let text = suffix(&before, &after, "event")?;
        self.events
            .push((stream_id, name.to_string(), fields.clone(), id));
        Ok((id, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rttng_ctf::ir::{sint_class, struct_class};
    use rttng_ctf::lttng::{monotonic_clock, ust_uid_env};

    #[test]
    fn appended_pieces_parse_as_one_trace() {
        let (mut md, mut text) = TraceMetadata::new(
            [7; 16],
            monotonic_clock(None, 5),
            ust_uid_env("h", "s", "20260101T000000+0000", 1000),
        );
        text += &md.add_stream(0, None).unwrap();
        let f = struct_class(
            vec![(
                "_x",
                FieldClass::Integer(sint_class(32, 8, rttng_ctf::ir::ByteOrder::Little)),
            )],
            1,
        );
        let (id, t) = md.event_id(0, "p:a", 13, &f).unwrap();
        assert_eq!(id, 0);
        text += &t;
        let ctx = struct_class(
            vec![(
                "_vpid",
                FieldClass::Integer(sint_class(32, 8, rttng_ctf::ir::ByteOrder::Little)),
            )],
            1,
        );
        text += &md.add_stream(1, Some(ctx)).unwrap();
        let (id, t) = md.event_id(0, "p:b", 6, &f).unwrap();
        assert_eq!(id, 1);
        text += &t;
        let (id, t) = md.event_id(1, "p:b", 6, &f).unwrap();
        assert_eq!(id, 0);
        text += &t;
        // Asking again declares nothing.
        assert_eq!(md.event_id(0, "p:a", 13, &f).unwrap(), (0, String::new()));
        let parsed = rttng_ctf::tsdl::parse_metadata(&text).unwrap();
        assert_eq!(parsed.streams.len(), 2);
        let s0 = parsed.stream(0).unwrap();
        assert_eq!(
            s0.events
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["p:a", "p:b"]
        );
        assert!(parsed.stream(1).unwrap().event_context.is_some());
        assert_eq!(parsed.stream(1).unwrap().events[0].name, "p:b");
        assert!(md.event_id(9, "x", 1, &f).is_err());
    }
}
