//! What `rttng list` and `rttng status` print: sessions, one session's channels, rules and
//! statistics (lttng's layout), and instrumented applications with their events. Pure
//! formatting of the session daemon's answers. Not here: asking the daemon (`session_cmd.rs`),
//! the kernel's tracepoints (`kernel_list.rs`).

use rttng_ctf::lttng::LOGLEVEL_NAMES;
use rttng_ctl::proto::{
    AppInfo, Buffers, Domain, LoglevelRule, ProcessAttr, RuleFilter, SessionDetail, SessionSummary,
    TrackerInfo,
};

use crate::error::EXIT_WARNING;

/// Prints `list` (no session named).
pub fn print_sessions(list: &[SessionSummary]) {
    if list.is_empty() {
        println!("Currently no available recording session");
        return;
    }
    println!("Available recording sessions:");
    for (i, s) in list.iter().enumerate() {
        println!("  {}) {} [{}]", i + 1, s.name, state(s.active, s.snapshot));
        // lttng shows no trace output for a snapshot session (see `snapshot list-output`).
        if !s.snapshot {
            println!("     Trace output: {}", s.output);
        }
        println!();
    }
    println!("Use `rttng list SESSION` for more details");
}

/// Prints `list SESSION`; returns 4 when the daemon reported a problem.
pub fn print_session(
    detail: &SessionDetail,
    filters: &[RuleFilter],
    trackers: &[TrackerInfo],
) -> u8 {
    print!("{}", format_detail(detail, filters, trackers));
    for w in &detail.warnings {
        eprintln!("Warning: {w}");
    }
    if detail.warnings.is_empty() {
        0
    } else {
        EXIT_WARNING
    }
}

/// `active`, `inactive`, and lttng's ` snapshot` suffix.
fn state(active: bool, snapshot: bool) -> String {
    let a = if active { "active" } else { "inactive" };
    if snapshot {
        format!("{a} snapshot")
    } else {
        a.to_string()
    }
}

fn us(v: u64) -> String {
    if v == 0 {
        "inactive".into()
    } else {
        format!("{v} us")
    }
}

/// lttng's "Tracked process attributes" block of a domain (`trackers`: the session's).
fn format_trackers(o: &mut String, domain: Domain, trackers: &[TrackerInfo]) {
    use std::fmt::Write;
    let attrs: &[ProcessAttr] = match domain {
        Domain::Kernel => &ProcessAttr::ALL,
        _ => &[ProcessAttr::Vpid, ProcessAttr::Vuid, ProcessAttr::Vgid],
    };
    let _ = writeln!(o, "Tracked process attributes");
    for &attr in attrs {
        let t = trackers
            .iter()
            .find(|t| t.domain == domain && t.attr == attr);
        let shown = match t {
            None => "all".to_string(),
            Some(t) if t.all => "all".to_string(),
            Some(t) if t.values.is_empty() => "none".to_string(),
            Some(t) => t
                .values
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut words = attr.words().to_string();
        words[..1].make_ascii_uppercase();
        let label = format!("{words}s:");
        let _ = writeln!(o, "  {label:<22}{shown}");
    }
    let _ = writeln!(o);
}

/// One session's description; each filtered rule is followed by ` [filter: 'EXPR']` as
/// lttng prints it.
pub fn format_detail(
    d: &SessionDetail,
    filters: &[RuleFilter],
    trackers: &[TrackerInfo],
) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Recording session {}: [{}]",
        d.name,
        state(d.active, d.snapshot)
    );
    if !d.snapshot {
        let _ = writeln!(o, "    Trace output: {}", d.output);
    }
    for domain in [Domain::Kernel, Domain::Ust] {
        let chans: Vec<_> = d.channels.iter().filter(|c| c.domain == domain).collect();
        // A domain is shown once it has a channel or a tracker (as lttng).
        if chans.is_empty() && !trackers.iter().any(|t| t.domain == domain) {
            continue;
        }
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "=== Domain: {} ===",
            if domain == Domain::Ust {
                "User space"
            } else {
                "Linux kernel"
            }
        );
        let _ = writeln!(o);
        if domain == Domain::Ust {
            let scheme = match chans.first().map(|c| c.attrs.buffers) {
                Some(Buffers::PerPid) => "per-process",
                _ => "per-user",
            };
            let _ = writeln!(o, "Buffering scheme: {scheme}");
            let _ = writeln!(o);
        }
        format_trackers(&mut o, domain, trackers);
        if chans.is_empty() {
            continue;
        }
        let _ = writeln!(o, "Channels:");
        let _ = writeln!(o, "-------------");
        for c in chans {
            let _ = writeln!(
                o,
                "- {}: [{}]",
                c.name,
                if c.enabled { "enabled" } else { "disabled" }
            );
            let _ = writeln!(o);
            let a = &c.attrs;
            let _ = writeln!(o, "    Attributes:");
            let _ = writeln!(
                o,
                "      Event-loss mode:  {}",
                if a.overwrite { "overwrite" } else { "discard" }
            );
            let _ = writeln!(o, "      Sub-buffer size:  {} bytes", a.subbuf_size);
            let _ = writeln!(o, "      Sub-buffer count: {}", a.num_subbuf);
            let _ = writeln!(o, "      Switch timer:     {}", us(a.switch_timer_us));
            let _ = writeln!(o, "      Read timer:       {}", us(a.read_timer_us));
            // rttng samples no buffer usage for triggers: no monitor timer runs.
            let _ = writeln!(o, "      Monitor timer:    inactive");
            if !a.overwrite {
                // The tracer never blocks the application (lttng's default, 0).
                let _ = writeln!(o, "      Blocking timeout: 0 us");
            }
            let _ = writeln!(
                o,
                "      Trace file count: {} per stream",
                a.tracefile_count.max(1)
            );
            let _ = writeln!(
                o,
                "      Trace file size:  {}",
                if a.tracefile_size == 0 {
                    "unlimited".to_string()
                } else {
                    format!("{} bytes", a.tracefile_size)
                }
            );
            let _ = writeln!(o, "      Output mode:      mmap");
            if !c.contexts.is_empty() {
                let names: Vec<&str> = c.contexts.iter().map(|c| c.name()).collect();
                let _ = writeln!(o, "      Contexts:         {}", names.join(", "));
            }
            let _ = writeln!(o);
            let _ = writeln!(o, "    Statistics:");
            let _ = writeln!(o, "      Discarded events: {}", c.discarded_events);
            let _ = writeln!(o, "      Lost packets:     {}", c.lost_packets);
            // Not in lttng's output: events inside packets that could not be written.
            if c.lost_events > 0 {
                let _ = writeln!(o, "      Lost events:      {}", c.lost_events);
            }
            let _ = writeln!(o);
            let _ = writeln!(o, "    Recording event rules:");
            if c.rules.is_empty() {
                let _ = writeln!(o, "      None");
            }
            for (k, r) in c.rules.iter().enumerate() {
                let filter = filters.iter().find(|f| {
                    f.domain == c.domain && f.channel == c.name && f.rule_index as usize == k
                });
                let mut line = format!("      {}", r.rule.pattern);
                match r.rule.loglevel {
                    LoglevelRule::All => {}
                    LoglevelRule::AtLeast { level } => {
                        line += &format!(" (loglevel: {} (<= {level}))", level_name(level))
                    }
                    LoglevelRule::Exactly { level } => {
                        line += &format!(" (loglevel: {} (== {level}))", level_name(level))
                    }
                }
                if !r.rule.exclusions.is_empty() {
                    line += &format!(" (exclusions: {})", r.rule.exclusions.join(","));
                }
                line += &format!(
                    " (type: {}) [{}]",
                    if r.rule.syscall {
                        "syscall"
                    } else {
                        "tracepoint"
                    },
                    if r.enabled { "enabled" } else { "disabled" }
                );
                if let Some(f) = filter {
                    line += &format!(" [filter: '{}']", f.filter);
                }
                let _ = writeln!(o, "{line}");
            }
            let _ = writeln!(o);
        }
    }
    o
}

pub fn level_name(l: i32) -> String {
    LOGLEVEL_NAMES
        .get(l as usize)
        .map(|n| format!("TRACE_{n}"))
        .unwrap_or_else(|| l.to_string())
}

/// Prints `list -u`: the instrumented applications and their events (`-f`: with fields).
pub fn print_apps(list: Vec<AppInfo>, fields: bool) {
    println!("UST events:");
    println!("-------------");
    if list.is_empty() {
        println!("None");
    }
    for app in list {
        println!();
        let exe = std::fs::read_link(format!("/proc/{}/exe", app.pid))
            .map(|p| p.display().to_string())
            .unwrap_or(app.name.clone());
        println!("PID: {} - Name: {exe}", app.pid);
        for e in app.events {
            println!(
                "      {} (loglevel: {} ({})) (type: tracepoint)",
                e.name,
                level_name(e.loglevel),
                e.loglevel
            );
            if fields {
                for (n, k) in e.fields {
                    println!("        field: {n} ({k})");
                }
            }
        }
    }
    println!();
}
