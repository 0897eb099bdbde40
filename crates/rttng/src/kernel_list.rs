//! `rttng list -k` and `rttng list -k --syscall`: the kernel tracepoints with their fields (as
//! the CTF trace will name and type them), and the system calls, read from tracefs.
//!
//! It lists what tracefs offers; it does not say what a session has enabled.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use rttng_ctf::ir::FieldClass;
use rttng_kernel::plan_event;
use rttng_kernel::Tracefs;

fn type_name(c: &FieldClass) -> &'static str {
    match c {
        FieldClass::Integer(_) | FieldClass::Enum(_) => "integer",
        FieldClass::Float(_) => "float",
        FieldClass::String(_) => "string",
        FieldClass::Array(a) if a.element.is_text_element() => "string",
        FieldClass::Sequence(s) if s.element.is_text_element() => "string",
        FieldClass::Array(_) | FieldClass::Sequence(_) => "array",
        FieldClass::Struct(_) => "struct",
        FieldClass::Variant(_) => "variant",
    }
}

/// Print the kernel tracepoints (or, with `syscall`, the system calls) to standard output. A
/// reader that closes the pipe early (`| head`) ends the listing quietly.
pub fn run(syscall: bool) -> Result<()> {
    match print(syscall) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        r => r,
    }
}

fn print(syscall: bool) -> Result<()> {
    let tfs = Tracefs::open()
        .context("opening tracefs (the kernel domain needs root or the `tracing` group)")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if syscall {
        writeln!(out, "System calls:\n-------------")?;
        for name in tfs.syscalls()? {
            writeln!(out, "      {name} [64-bit]")?;
        }
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    writeln!(out, "Kernel events:\n-------------")?;
    for (system, event) in tfs.available_events()? {
        writeln!(out, "      {system}:{event} (type: tracepoint)")?;
        // An event whose format this parser refuses is still listed, without fields.
        if let Ok(fmt) = tfs.event_format(&system, &event) {
            let plan = plan_event(&fmt);
            if let FieldClass::Struct(st) = &plan.fields {
                for m in &st.members {
                    let name = rttng_ctf::ir::display_name(&m.name);
                    writeln!(out, "        field: {name} ({})", type_name(&m.class))?;
                }
            }
        }
    }
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
