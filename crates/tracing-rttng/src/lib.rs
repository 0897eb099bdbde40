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
//! Text is formatted into a per-thread buffer.
//!
//! Not here: spans (only events are recorded), per-layer filtering (use the event rules).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::fmt::Write as _;

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Longest message or field text recorded, in bytes (cut at a character boundary).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The layer; see the crate documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct RttngLayer;

/// The layer to add to a `tracing_subscriber` registry.
pub fn layer() -> RttngLayer {
    RttngLayer
}

thread_local! {
    static BUFFERS: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

fn cut(s: &str) -> &str {
    let s = s.split('\0').next().unwrap_or("");
    if s.len() <= MAX_TEXT_BYTES {
        return s;
    }
    let mut end = MAX_TEXT_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Message,
    Fields,
}

/// A string field formatted only when the event records (see `rttng-log`'s `Text`).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Text<'a> {
    event: &'a Event<'a>,
    part: Part,
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Text").field("part", &self.part).finish()
    }
}

impl Text<'_> {
    fn format(&self, message: &mut String, fields: &mut String) {
        message.clear();
        fields.clear();
        self.event.record(&mut Collect { message, fields });
    }

    fn with<R>(&self, fresh: bool, mut f: impl FnMut(&str) -> R) -> R {
        let done = BUFFERS.try_with(|b| {
            let mut g = b.try_borrow_mut().ok()?;
            let (message, fields) = &mut *g;
            // The message field formats both parts; the fields part comes right after it.
            if fresh && self.part == Part::Message {
                self.format(message, fields);
            }
            Some(f(cut(if self.part == Part::Message {
                message
            } else {
                fields
            })))
        });
        match done {
            Ok(Some(r)) => r,
            _ => {
                let (mut m, mut x) = (String::new(), String::new());
                self.format(&mut m, &mut x);
                f(cut(if self.part == Part::Message { &m } else { &x }))
            }
        }
    }
}

impl rttng_ust::Field for Text<'_> {
    fn members(name: &str, out: &mut Vec<rttng_ctf::ir::StructMember>) {
        <&str as rttng_ust::Field>::members(name, out);
    }
    fn encoded_len(&self) -> usize {
        self.with(true, |s| s.len() + 1)
    }
    fn encode(&self, w: &mut rttng_ust::Writer<'_>) {
        self.with(false, |s| {
            w.put(s.as_bytes());
            w.put_array([0u8]);
        });
    }
}

macro_rules! emit {
    ($name:ident, $level:ident, $e:expr) => {{
        let m = $e.metadata();
        rttng_ust::tracepoint!(
            rust_tracing,
            $name,
            $level,
            target: &str = cut(m.target()),
            module: &str = cut(m.module_path().unwrap_or("")),
            file: &str = cut(m.file().unwrap_or("")),
            line: u32 = m.line().unwrap_or(0),
            message: Text<'_> = Text { event: $e, part: Part::Message },
            fields: Text<'_> = Text { event: $e, part: Part::Fields }
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
