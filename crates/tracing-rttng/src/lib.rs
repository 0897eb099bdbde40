//! `tracing-rttng`: `tracing`'s events as rttng-ust events, with one line of setup:
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//! tracing_subscriber::registry().with(tracing_rttng::layer()).init();
//! tracing::warn!(user = 42, "disk {} almost full", "/var");
//! ```
//!
//! Each level is its own event, with LTTng's matching log level (`rust_tracing:error`
//! ERR, `:warn` WARNING, `:info` INFO, `:debug` DEBUG_LINE, `:trace` DEBUG), so that
//! `rttng enable-event -u 'rust_tracing:*' --loglevel WARNING` keeps errors and warnings.
//! Fields: `target`, `module` (or ""), `file` (or ""), `line` (0 when unknown),
//! `message` (the event's `message` field), `fields` (the other fields, `name=value`
//! separated by spaces, `Debug` formatting as `tracing`'s own formatter prints them). An
//! event whose level records nowhere costs one load in the layer; nothing is formatted.
//! Text is formatted into a per-thread buffer (`rttng_ust::text`).
//!
//! Not here: spans (only events are recorded), per-layer filtering (use the event rules).

#![forbid(unsafe_code)]

use std::fmt::Write as _;

use rttng_ust::text::{cut, LazyText, TextSource};

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Longest message or field text recorded, in bytes (cut at a character boundary).
pub const MAX_TEXT_BYTES: usize = rttng_ust::text::MAX_TEXT_BYTES;

/// The layer; see the crate documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct RttngLayer;

/// The layer to add to a `tracing_subscriber` registry.
pub fn layer() -> RttngLayer {
    RttngLayer
}

struct Collect<'a> {
    message: &'a mut String,
    fields: &'a mut String,
}

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }
}

/// An event's two texts: its `message` field, then its other fields.
#[doc(hidden)]
pub struct EventText<'a>(&'a Event<'a>);

impl TextSource for EventText<'_> {
    fn format(&self, message: &mut String, fields: &mut String) {
        self.0.record(&mut Collect { message, fields });
    }
}

macro_rules! emit {
    ($name:ident, $level:ident, $e:expr) => {{
        let m = $e.metadata();
        let text = EventText($e);
        rttng_ust::tracepoint!(
            rust_tracing,
            $name,
            $level,
            target: &str = cut(m.target()),
            module: &str = cut(m.module_path().unwrap_or("")),
            file: &str = cut(m.file().unwrap_or("")),
            line: u32 = m.line().unwrap_or(0),
            message: LazyText<'_, EventText<'_>> = LazyText::first(&text),
            fields: LazyText<'_, EventText<'_>> = LazyText::second(&text)
        )
    }};
}

impl<S: Subscriber> Layer<S> for RttngLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // Fields are evaluated in order, each once, and only when the level records: the
        // message (which formats both texts) before the other fields.
        match *event.metadata().level() {
            Level::ERROR => emit!(error, ERR, event),
            Level::WARN => emit!(warn, WARNING, event),
            Level::INFO => emit!(info, INFO, event),
            Level::DEBUG => emit!(debug, DEBUG_LINE, event),
            Level::TRACE => emit!(trace, DEBUG, event),
        }
    }
}
