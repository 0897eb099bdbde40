//! `rttng view`: babeltrace2's default text output for CTF traces, and `--count`.
//!
//! Reading and merging are `rttng_reader`'s, formatting is `rttng_text`'s; this module wires
//! them to standard output (in large blocks) and standard error (loss warnings).

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use rttng_reader::{DiscardKind, Message, TraceSet};
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
        opts.names = PrettyOptions::parse_names(n).with_context(|| format!("invalid --names `{n}`"))?;
    }
    if let Some(f) = &args.fields {
        opts.fields = PrettyOptions::parse_fields(f).with_context(|| format!("invalid --fields `{f}`"))?;
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
        out.write_all(text.as_bytes()).context("writing to standard output")?;
        return Ok(());
    }
    let mut printer = PrettyPrinter::new(opts);
    let mut buf = Vec::with_capacity(OUT_BLOCK_BYTES + 64 * 1024);
    let mut io_error = None;
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let run = if two_cores { TraceSet::for_each_message_pipelined } else { TraceSet::for_each_message };
    run(&set, &mut |msg| {
        match msg {
            Message::Event { trace, view } => printer.write_event(view, &trace.name, &mut buf),
            Message::Discarded(d) => {
                let kind = match d.kind {
                    DiscardKind::Events => rttng_text::DiscardKind::Events,
                    DiscardKind::Packets => rttng_text::DiscardKind::Packets,
                };
                let path = d.stream.files.first().map(|f| f.path.display().to_string()).unwrap_or_default();
                let line = rttng_text::discarded_warning(
                    &opts,
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
                // Flush events first so a terminal shows the warning in place.
                if let Err(e) = out.write_all(&buf) {
                    io_error = Some(e);
                    return false;
                }
                buf.clear();
                eprint!("{line}");
            }
        }
        if buf.len() >= OUT_BLOCK_BYTES {
            if let Err(e) = out.write_all(&buf) {
                io_error = Some(e);
                return false;
            }
            buf.clear();
        }
        true
    })?;
    if let Some(e) = io_error {
        return Err(e).context("writing to standard output");
    }
    if opts.color {
        // babeltrace2 resets the terminal's attributes once more at exit.
        buf.extend_from_slice(b"\x1b[0m");
    }
    out.write_all(&buf).context("writing to standard output")?;
    out.flush().context("writing to standard output")?;
    Ok(())
}
