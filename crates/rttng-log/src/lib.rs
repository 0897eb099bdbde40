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
//! grown to the longest message).
//!
//! Not here: filtering by target (use the event rules), structured values beyond their
//! `Display` text.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::fmt::Write as _;

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
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

thread_local! {
    static BUFFERS: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

/// `s` up to its first NUL and at most [`MAX_TEXT_BYTES`] (at a character boundary).
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

/// Which text of a record a [`Text`] field carries.
#[derive(Clone, Copy, Debug)]
enum Part {
    Message,
    KeyValues,
}

/// A string field whose text is made only when the event records: the event path asks
/// its length first (the text is formatted into this thread's buffer then) and writes it
/// next, from that buffer.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Text<'a> {
    record: &'a log::Record<'a>,
    part: Part,
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Text").field("part", &self.part).finish()
    }
}

impl Text<'_> {
    fn format(&self, out: &mut String) {
        out.clear();
        match self.part {
            Part::Message => match self.record.args().as_str() {
                Some(s) => out.push_str(s),
                None => {
                    let _ = write!(out, "{}", self.record.args());
                }
            },
            Part::KeyValues => {
                let _ = self.record.key_values().visit(&mut KvText(out));
            }
        }
    }

    /// Runs `f` on this part's text in this thread's buffer (formatted when `fresh`), or
    /// on a temporary one when the buffer is busy (a `Display` that logs).
    fn with<R>(&self, fresh: bool, mut f: impl FnMut(&str) -> R) -> R {
        let done = BUFFERS.try_with(|b| {
            let mut g = b.try_borrow_mut().ok()?;
            let (msg, kv) = &mut *g;
            let s = match self.part {
                Part::Message => msg,
                Part::KeyValues => kv,
            };
            if fresh {
                self.format(s);
            }
            Some(f(cut(s)))
        });
        match done {
            Ok(Some(r)) => r,
            _ => {
                let mut s = String::new();
                self.format(&mut s);
                f(cut(&s))
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
    ($event:ident, $level:ident, $r:expr) => {
        rttng_ust::tracepoint!(
            rust_log,
            $event,
            $level,
            target: &str = cut($r.target()),
            module: &str = cut($r.module_path().unwrap_or("")),
            file: &str = cut($r.file().unwrap_or("")),
            line: u32 = $r.line().unwrap_or(0),
            message: Text<'_> = Text { record: $r, part: Part::Message },
            kv: Text<'_> = Text { record: $r, part: Part::KeyValues }
        )
    };
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
