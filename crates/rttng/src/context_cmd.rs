//! `add-context`'s checks in the CLI: which context names lttng knows, which of them a domain
//! records in rttng, and lttng's statuses and messages for the others. Not here: sending the
//! request (`session_cmd.rs`), recording contexts (the tracers).

use rttng_ctl::proto::{ContextType, Domain};

use crate::error::{CliError, EXIT_FATAL, EXIT_WARNING};

/// `add-context -t NAME` in `domain`: lttng's statuses for a name it does not know (3) and
/// for one the domain cannot record (4, "invalid context"), with what rttng records.
pub(crate) fn context_type(domain: Domain, t: &str) -> Result<ContextType, CliError> {
    // rttng's own names too (`cpu_id`, which lttng keeps in the packet context).
    if !LTTNG_CONTEXT_TYPES.lines().any(|l| l == t) && ContextType::from_name(t).is_none() {
        return Err(CliError::Status {
            status: EXIT_FATAL,
            message: format!("Unknown context type {t}"),
        });
    }
    let what = domain_word(domain);
    let invalid = |why: &str| CliError::Status {
        status: EXIT_WARNING,
        message: format!("{t}: {what} invalid context ({why})"),
    };
    if let Some(counter) = t.strip_prefix("perf:") {
        return Err(invalid(&perf_unavailable(counter)));
    }
    // The kernel: every lttng-modules context, from tracefs's fields and the eBPF task
    // recorder (pthread_id and ip are user-space contexts).
    let kernel: Vec<ContextType> = ContextType::ALL
        .into_iter()
        .filter(|c| !matches!(c, ContextType::PthreadId | ContextType::Ip))
        .collect();
    let supported: &[ContextType] = match domain {
        Domain::Kernel => &kernel,
        _ => &ContextType::ALL[..21],
    };
    let names = || {
        supported
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ContextType::from_name(t) {
        Some(c) if supported.contains(&c) => Ok(c),
        _ => Err(invalid(&format!(
            "rttng records these {} contexts: {}",
            domain.name(),
            names()
        ))),
    }
}

/// What a user should know about a kernel context once added: the call stacks are walked
/// with eBPF, which the kernel caps at `kernel.perf_event_max_stack` frames (127 by default)
/// where lttng-modules walks 128.
pub(crate) fn context_note(domain: Domain, t: &str) -> Option<String> {
    if domain != Domain::Kernel || !t.starts_with("callstack-") {
        return None;
    }
    let depth = rttng_kernel::stack_depth();
    (depth < rttng_kernel::MAX_STACK_ENTRIES).then(|| {
        format!(
            "{t}: at most {depth} frames are recorded, then lttng's truncation mark (0xffffffffffffffff): this kernel caps eBPF stack walks at kernel.perf_event_max_stack = {depth}, where lttng-modules records {}",
            rttng_kernel::MAX_STACK_ENTRIES
        )
    })
}

/// Why `perf:COUNTER` is not recorded: hardware counters need the CPU's PMU, which this
/// machine may lack (then perf_event_open cannot offer them at all); the software ones exist
/// everywhere but rttng does not record perf counters.
pub(crate) fn perf_unavailable(counter: &str) -> String {
    const SOFTWARE: [&str; 12] = [
        "cpu-clock",
        "task-clock",
        "page-fault",
        "faults",
        "major-faults",
        "minor-faults",
        "context-switches",
        "cs",
        "cpu-migrations",
        "migrations",
        "alignment-faults",
        "emulation-faults",
    ];
    let name = counter.rsplit(':').next().unwrap_or(counter);
    let pmu = std::path::Path::new("/sys/bus/event_source/devices/cpu").exists();
    if SOFTWARE.contains(&name) || pmu {
        "rttng does not record perf counters".to_string()
    } else {
        "not available on this machine: perf_event_open offers no hardware counters here (no cpu PMU in /sys/bus/event_source/devices)".to_string()
    }
}

/// lttng's word for a domain in messages: "UST" or "Kernel".
pub(crate) fn domain_word(domain: Domain) -> &'static str {
    if domain == Domain::Kernel {
        "Kernel"
    } else {
        "UST"
    }
}

/// The context type names of `lttng add-context --list` (lttng-tools 2.13), one a line.
pub(crate) const LTTNG_CONTEXT_TYPES: &str = include_str!("data/lttng-context-types.txt");
