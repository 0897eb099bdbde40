//! `rttng view`: babeltrace2's default text output for CTF traces, and `--count`.
//!
//! Reading and merging are `rttng_reader`'s, formatting is `rttng_text`'s; this module wires
//! them to standard output (in large blocks) and standard error (loss warnings).

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use rttng_reader::{BatchView, DiscardKind, Message, TraceSet};
use rttng_text::{PrettyOptions, PrettyPrinter};

use crate::cli::{ColorWhen, ViewArgs};

/// Output is written in blocks of about this size.
const OUT_BLOCK_BYTES: usize = 256 * 1024;

pub fn options(args: &ViewArgs) -> Result<PrettyOptions> {
    let mut opts = PrettyOptions {
        clock_cycles: args.clock_cycles,
        clock_date: args.clock_date,
        clock_gmt: args.clock_gmt,
        clock_seconds: args.clock_seconds,
        no_delta: args.no_delta,
        color: use_color(args.color),
        ..PrettyOptions::default()
    };
    if let Some(n) = &args.names {
        opts.names =
            PrettyOptions::parse_names(n).with_context(|| format!("invalid --names `{n}`"))?;
    }
    if let Some(f) = &args.fields {
        opts.fields =
            PrettyOptions::parse_fields(f).with_context(|| format!("invalid --fields `{f}`"))?;
    }
    Ok(opts)
}

fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
                && std::env::var("TERM").is_ok_and(|t| t != "dumb")
        }
    }
}

pub fn run(args: &ViewArgs) -> Result<()> {
    let opts = options(args)?;
    let set = TraceSet::open(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.count {
        let counts = set.count_events()?;
        let mut text = String::new();
        let mut total = 0u64;
        for (name, n) in &counts {
            text.push_str(&format!("{name} {n}\n"));
            total += n;
        }
        text.push_str(&format!("total {total}\n"));
        out.write_all(text.as_bytes())
            .context("writing to standard output")?;
        return Ok(());
    }
    let mut io_error = None;
    let mut write = |f: &Formatted| match f.write_to(&mut out) {
        Ok(()) => true,
        Err(e) => {
            io_error = Some(e);
            false
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // `RTTNG_VIEW_PATH` (direct, pipelined, parallel) forces a code path; the tests check that
    // all three print the same bytes.
    let path = match std::env::var("RTTNG_VIEW_PATH").ok().as_deref() {
        Some("direct") => ViewPath::Direct,
        Some("pipelined") => ViewPath::Pipelined,
        Some("parallel") => ViewPath::Parallel,
        _ if cores < 2 => ViewPath::Direct,
        // Measured on 2 vCPUs (BENCHMARKS.md): two formatting threads do not beat one when
        // the decoding thread shares the cores, so the pipelined path is the default.
        _ => ViewPath::Pipelined,
    };
    let path = if path == ViewPath::Parallel && may_have_negative_times(&set) {
        ViewPath::Pipelined
    } else {
        path
    };
    if path == ViewPath::Parallel {
        // Decoding on one thread, formatting on two (each batch's first delta comes from the
        // batch before it), writing in order on this one.
        // Output buffers go back to the formatters once written: no large allocation per batch.
        let pool: std::sync::Mutex<Vec<Formatted>> = std::sync::Mutex::new(Vec::new());
        let init = || PrettyPrinter::new(opts);
        let work = |printer: &mut PrettyPrinter, batch: &BatchView<'_, '_>| {
            printer.set_previous(batch.previous_clock());
            let mut f = pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .unwrap_or_default();
            batch.for_each(&mut |msg| {
                f.add(printer, &opts, msg);
                true
            });
            f
        };
        let result = set.for_each_batch_parallel(FORMAT_THREADS, &init, &work, &mut |mut f| {
            let ok = write(&f);
            f.clear();
            if let Ok(mut p) = pool.lock() {
                p.push(f);
            }
            ok
        });
        if let Err(e) = result {
            out.flush().ok();
            return Err(e.into());
        }
    } else {
        // One printer sees every event, in order (it keeps babeltrace2's one-time warnings).
        let mut printer = PrettyPrinter::new(opts);
        let mut f = Formatted::default();
        let run = if path == ViewPath::Pipelined {
            TraceSet::for_each_message_pipelined
        } else {
            TraceSet::for_each_message
        };
        let result = run(&set, &mut |msg| {
            f.add(&mut printer, &opts, msg);
            if f.text.len() < OUT_BLOCK_BYTES && f.warnings.is_empty() {
                return true;
            }
            let ok = write(&f);
            f.clear();
            ok
        });
        // The events before an error are printed, then the error (babeltrace2's contract).
        write(&f);
        if let Err(e) = result {
            out.flush().ok();
            return Err(e.into());
        }
    }
    if let Some(e) = io_error {
        return Err(e).context("writing to standard output");
    }
    if opts.color {
        // babeltrace2 resets the terminal's attributes once more at exit.
        out.write_all(b"\x1b[0m")
            .context("writing to standard output")?;
    }
    out.flush().context("writing to standard output")?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ViewPath {
    /// Decode and format on this thread.
    Direct,
    /// Decode on a second thread, format on this one.
    Pipelined,
    /// Decode on a second thread, format on [`FORMAT_THREADS`] more, write on this one.
    Parallel,
}

/// Formatting threads of the parallel path (besides the decoding one).
const FORMAT_THREADS: usize = 2;

/// Text for standard output, with the standard error lines due at given points of it.
#[derive(Default)]
struct Formatted {
    text: Vec<u8>,
    /// (length of `text` when the line is due, line)
    warnings: Vec<(usize, String)>,
}

impl Formatted {
    fn add(&mut self, printer: &mut PrettyPrinter, opts: &PrettyOptions, msg: &Message<'_>) {
        match msg {
            Message::Event { trace, view } => {
                printer.write_event(view, &trace.name, &mut self.text);
                if let Some(w) = printer.take_warning() {
                    self.warnings.push((self.text.len(), w.to_owned()));
                }
            }
            Message::Discarded(d) => {
                let kind = match d.kind {
                    DiscardKind::Events => rttng_text::DiscardKind::Events,
                    DiscardKind::Packets => rttng_text::DiscardKind::Packets,
                };
                let path = d
                    .stream
                    .files
                    .first()
                    .map(|f| f.path.display().to_string())
                    .unwrap_or_default();
                let line = rttng_text::discarded_warning(
                    opts,
                    kind,
                    d.count,
                    d.begin,
                    d.end,
                    &d.trace.name,
                    d.trace.metadata.trace.uuid,
                    &path,
                    d.stream.stream_class_id,
                    d.stream.id,
                );
                self.warnings.push((self.text.len(), line));
            }
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.warnings.clear();
    }

    /// Writes the text, and each warning to standard error once the text before it is out.
    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut done = 0;
        for (at, line) in &self.warnings {
            out.write_all(&self.text[done..*at])?;
            out.flush()?;
            done = *at;
            eprint!("{line}");
        }
        out.write_all(&self.text[done..])
    }
}

/// Whether some event could be before the Unix epoch: babeltrace2 then prints a one-time
/// warning and the first such time differently, which only a single printer reproduces.
fn may_have_negative_times(set: &TraceSet) -> bool {
    set.traces
        .iter()
        .flat_map(|t| &t.metadata.clocks)
        .any(|c| rttng_ctf::decode::ns_from_origin(c, 0) < 0)
}
