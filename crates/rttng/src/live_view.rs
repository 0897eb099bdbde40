//! `rttng view --live [URL]`: babeltrace2's `lttng-live` text output, from a relay daemon.
//!
//! The session, its streams and metadata are `rttng_live`'s; decoding and ordering are
//! `rttng_reader::live`'s (the file reader's decoder); formatting is `rttng_text`'s. This module
//! lists sessions or wires the three together, and flushes standard output whenever the reader
//! is about to wait for the relay, so that an event is on screen as soon as it is decoded.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use rttng_live::url::LiveUrl;
use rttng_live::viewer::{list_sessions, listing_line, LiveSession};
use rttng_reader::live::{LiveMessage, LiveStream, LiveTrace, PacketSource, Poll, SourceError};
use rttng_reader::DiscardKind;
use rttng_text::{PrettyOptions, PrettyPrinter};

use crate::cli::ViewArgs;

/// Output is written at least when this much text is waiting.
const OUT_BLOCK_BYTES: usize = 64 * 1024;

pub fn run(args: &ViewArgs) -> Result<()> {
    let text = args.live.as_deref().unwrap_or("net://localhost");
    let url = LiveUrl::parse(text)?;
    let opts = crate::view::options(args)?;
    let stdout = std::io::stdout();
    if url.session_name.is_none() {
        let mut out = stdout.lock();
        for s in list_sessions(&url)? {
            out.write_all(listing_line(&url, &s).as_bytes())
                .context("writing to standard output")?;
        }
        out.flush().context("writing to standard output")?;
        return Ok(());
    }
    let session = LiveSession::attach(&url)?;
    let pending = RefCell::new(Pending::default());
    let mut source = Flushing {
        inner: session,
        pending: &pending,
    };
    let mut printer = PrettyPrinter::new(opts);
    let result = rttng_reader::live::run(&mut source, &mut |msg| {
        let mut p = pending.borrow_mut();
        p.add(&mut printer, &opts, msg);
        if p.text.len() >= OUT_BLOCK_BYTES {
            if let Err(e) = p.flush() {
                p.error = Some(e);
                return false;
            }
        }
        true
    });
    let mut p = pending.into_inner();
    let flushed = p.flush();
    if let Some(e) = p.error.take() {
        return Err(e).context("writing to standard output");
    }
    flushed.context("writing to standard output")?;
    match result {
        // A closed standard output ends the program quietly (see main).
        Err(rttng_reader::live::LiveError::Source(e))
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            return Ok(())
        }
        r => r?,
    }
    if opts.color {
        let mut out = stdout.lock();
        out.write_all(b"\x1b[0m")
            .and_then(|()| out.flush())
            .context("writing to standard output")?;
    }
    Ok(())
}

/// Text not yet written, with the standard error lines due at points of it.
#[derive(Default)]
struct Pending {
    text: Vec<u8>,
    warnings: Vec<(usize, String)>,
    error: Option<std::io::Error>,
}

impl Pending {
    fn add(&mut self, printer: &mut PrettyPrinter, opts: &PrettyOptions, msg: &LiveMessage<'_>) {
        match msg {
            LiveMessage::Event { trace, view, .. } => {
                printer.write_event(view, &trace.name, &mut self.text);
                if let Some(w) = printer.take_warning() {
                    self.warnings.push((self.text.len(), w.to_owned()));
                }
            }
            LiveMessage::Discarded(d) => {
                let kind = match d.kind {
                    DiscardKind::Events => rttng_text::DiscardKind::Events,
                    DiscardKind::Packets => rttng_text::DiscardKind::Packets,
                };
                let line = rttng_text::discarded_warning(
                    opts,
                    kind,
                    d.count,
                    d.begin,
                    d.end,
                    &d.trace.name,
                    d.trace.metadata.trace.uuid,
                    &d.stream.name,
                    d.stream_class_id,
                    d.stream.id,
                );
                self.warnings.push((self.text.len(), line));
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.text.is_empty() && self.warnings.is_empty() {
            return Ok(());
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let mut done = 0;
        for (at, line) in self.warnings.drain(..) {
            out.write_all(&self.text[done..at])?;
            out.flush()?;
            done = at;
            eprint!("{line}");
        }
        out.write_all(&self.text[done..])?;
        out.flush()?;
        self.text.clear();
        Ok(())
    }
}

/// The live session, flushing the pending text before every wait.
struct Flushing<'p> {
    inner: LiveSession,
    pending: &'p RefCell<Pending>,
}

impl Flushing<'_> {
    fn flush(&self) -> Result<(), SourceError> {
        let mut p = self.pending.borrow_mut();
        p.flush().map_err(|e| -> SourceError { Box::new(e) })
    }
}

impl PacketSource for Flushing<'_> {
    fn generation(&self) -> u64 {
        self.inner.generation()
    }
    fn traces(&self) -> Vec<Option<Arc<LiveTrace>>> {
        self.inner.traces()
    }
    fn streams(&self) -> Vec<LiveStream> {
        self.inner.streams()
    }
    fn poll(&mut self, stream: usize) -> Result<Poll, SourceError> {
        self.inner.poll(stream)
    }
    fn wait(&mut self) -> Result<(), SourceError> {
        self.flush()?;
        self.inner.wait()
    }
    fn finished(&mut self) -> Result<bool, SourceError> {
        self.flush()?;
        self.inner.finished()
    }
}
