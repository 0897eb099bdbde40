//! `rttng-log`: the `log` crate's records as rttng-ust events, with one line of setup:
//!
//! ```no_run
//! rttng_log::init().expect("no other logger installed");
//! log::info!(target: "db", user = 42; "connected in {} ms", 12);
//! ```
//!
//! Each level is its own event, with LTTng's matching log level, so that
//! `rttng enable-event -u 'rust_log:*' --loglevel WARNING` keeps errors and warnings:
//!
//! | `log` level | event | rttng log level |
//! |---|---|---|
//! | Error | `rust_log:error` | ERR |
//! | Warn | `rust_log:warn` | WARNING |
//! | Info | `rust_log:info` | INFO |
//! | Debug | `rust_log:debug` | DEBUG_LINE |
//! | Trace | `rust_log:trace` | DEBUG |
//!
//! Fields: `target`, `module` (module path, or ""), `file` (or ""), `line` (0 when
//! unknown), `message` (the formatted arguments), `kv` (the key/value pairs as
//! `key=value` separated by spaces, `Display` formatting). A record whose event records
//! nowhere costs the `log` macro's level check plus one call and one load here; nothing is
//! formatted. The message is formatted into a per-thread buffer (no allocation once it has
//! grown to the longest message; `rttng_ust::text`).
//!
//! Not here: filtering by target (use the event rules), structured values beyond their
//! `Display` text.

#![forbid(unsafe_code)]

use std::fmt::Write as _;

use rttng_ust::text::{cut, LazyText, TextSource};

/// The logger; [`init`] installs it.
#[derive(Debug)]
pub struct RttngLogger;

static LOGGER: RttngLogger = RttngLogger;

/// Installs [`RttngLogger`] as the `log` crate's logger, with every level passed on to it
/// (the event rules decide what is recorded).
pub fn init() -> Result<(), log::SetLoggerError> {
    log::set_logger(&LOGGER)?;
    log::set_max_level(log::LevelFilter::Trace);
    Ok(())
}

/// Longest message or key/value text recorded, in bytes (longer ones are cut at a
/// character boundary): a record must fit a sub-buffer.
pub const MAX_TEXT_BYTES: usize = rttng_ust::text::MAX_TEXT_BYTES;

struct KvText<'a>(&'a mut String);

impl<'kvs> log::kv::VisitSource<'kvs> for KvText<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = write!(self.0, "{key}={value}");
        Ok(())
    }
}

/// A record's two texts: its message, then its key/value pairs.
#[doc(hidden)]
pub struct RecordText<'a>(&'a log::Record<'a>);

impl TextSource for RecordText<'_> {
    fn format(&self, message: &mut String, kv: &mut String) {
        match self.0.args().as_str() {
            Some(s) => message.push_str(s),
            None => {
                let _ = write!(message, "{}", self.0.args());
            }
        }
        let _ = self.0.key_values().visit(&mut KvText(kv));
    }
}

macro_rules! emit {
    ($event:ident, $level:ident, $r:expr) => {{
        let text = RecordText($r);
        rttng_ust::tracepoint!(
            rust_log,
            $event,
            $level,
            target: &str = cut($r.target()),
            module: &str = cut($r.module_path().unwrap_or("")),
            file: &str = cut($r.file().unwrap_or("")),
            line: u32 = $r.line().unwrap_or(0),
            message: LazyText<'_, RecordText<'_>> = LazyText::first(&text),
            kv: LazyText<'_, RecordText<'_>> = LazyText::second(&text)
        )
    }};
}

impl log::Log for RttngLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, r: &log::Record<'_>) {
        // Each tracepoint! tests its own call site first: nothing is formatted for a
        // level that records nowhere.
        match r.level() {
            log::Level::Error => emit!(error, ERR, r),
            log::Level::Warn => emit!(warn, WARNING, r),
            log::Level::Info => emit!(info, INFO, r),
            log::Level::Debug => emit!(debug, DEBUG_LINE, r),
            log::Level::Trace => emit!(trace, DEBUG, r),
        }
    }

    fn flush(&self) {}
}
