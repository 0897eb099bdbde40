//! The agents' domains in the CLI (`-j` JUL, `-l` log4j, `-p` Python): their log level
//! names, and the text lttng 2.13 prints for `enable-event`, `disable-event`, `list -j/-l/-p`
//! and the agent sections of `list SESSION`. Requests go through the same messages as
//! user-space ones with an agent [`Domain`]. Not here: what the daemon does with them.

use crate::error::{usage, CliError};
use rttng_ctl::proto::*;

/// lttng's level names of an agent domain (with or without the `JUL_`/`LOG4J_`/`PYTHON_`
/// prefix, any case) and their values; higher is more severe.
pub fn levels(domain: Domain) -> (&'static str, &'static [(&'static str, i32)]) {
    match domain {
        Domain::Jul => (
            "JUL_",
            &[
                ("OFF", i32::MAX),
                ("SEVERE", 1000),
                ("WARNING", 900),
                ("INFO", 800),
                ("CONFIG", 700),
                ("FINE", 500),
                ("FINER", 400),
                ("FINEST", 300),
                ("ALL", i32::MIN),
            ],
        ),
        Domain::Log4j => (
            "LOG4J_",
            &[
                ("OFF", i32::MAX),
                ("FATAL", 50000),
                ("ERROR", 40000),
                ("WARN", 30000),
                ("INFO", 20000),
                ("DEBUG", 10000),
                ("TRACE", 5000),
                ("ALL", i32::MIN),
            ],
        ),
        _ => (
            "PYTHON_",
            &[
                ("CRITICAL", 50),
                ("ERROR", 40),
                ("WARNING", 30),
                ("INFO", 20),
                ("DEBUG", 10),
                ("NOTSET", 0),
            ],
        ),
    }
}

/// A level name's value in `domain`.
pub fn parse_level(domain: Domain, s: &str) -> Option<i32> {
    let (prefix, table) = levels(domain);
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix(prefix).unwrap_or(&up);
    table.iter().find(|(n, _)| *n == bare).map(|(_, v)| *v)
}

/// `JUL_INFO`, `PYTHON_WARNING`..., as `list` shows a rule's level.
pub fn level_name(domain: Domain, v: i32) -> String {
    let (prefix, table) = levels(domain);
    match table.iter().find(|(_, x)| *x == v) {
        Some((n, _)) => format!("{prefix}{n}"),
        None => "<<UNKNOWN>>".to_string(),
    }
}

/// The rule a `enable-event -j/-l/-p` asks for.
pub fn loglevel_rule(
    domain: Domain,
    loglevel: Option<&str>,
    only: Option<&str>,
) -> Result<LoglevelRule, CliError> {
    let level =
        |s: &str| parse_level(domain, s).ok_or_else(|| usage(&format!("Unknown loglevel {s}")));
    Ok(match (loglevel, only) {
        (Some(l), _) => LoglevelRule::AtLeast { level: level(l)? },
        (_, Some(l)) => LoglevelRule::Exactly { level: level(l)? },
        _ => LoglevelRule::All,
    })
}

/// What lttng prints once an agent rule is enabled.
pub fn enabled_message(domain: Domain, name: &str, loglevel: Option<&str>) -> String {
    let d = domain.name();
    match (name, loglevel) {
        ("*", Some(l)) => {
            format!("All {d} events are enabled in channel channel0 for loglevel {l}")
        }
        ("*", None) => format!("All {d} events are enabled in channel channel0"),
        (n, _) => format!("{d} event {n} enabled"),
    }
}

/// What lttng prints once an agent rule is disabled.
pub fn disabled_message(domain: Domain, name: &str, session: &str) -> String {
    let d = domain.name();
    if name == "*" {
        format!("All {d} events of type any are disabled in channel channel0")
    } else {
        format!("{d} {name} of type any disabled in channel channel0 for session {session}")
    }
}

/// `list -j/-l/-p`: the loggers of the live agents, by process.
pub fn format_loggers(domain: Domain, list: &[AgentLoggers]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} events (Logger name):\n-------------------------",
        domain.name()
    );
    if list.iter().all(|a| a.loggers.is_empty()) {
        let _ = writeln!(o, "None");
    }
    for a in list.iter().filter(|a| !a.loggers.is_empty()) {
        let _ = writeln!(o, "\nPID: {} - Name: {}", a.pid, cmdline(a.pid));
        for l in &a.loggers {
            let _ = writeln!(o, "      - {l}");
        }
    }
    let _ = writeln!(o);
    o
}

/// The process's command name as lttng shows it (`/proc/PID/cmdline` up to the first NUL).
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        })
        .unwrap_or_default()
}

/// The agent sections of `list SESSION` (after the user-space one), in lttng's order of
/// domains: log4j, JUL, Python (those with rules only).
pub fn format_rules(rules: &[AgentRuleInfo]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    for (domain, title) in [
        (Domain::Log4j, "log4j"),
        (Domain::Jul, "java.util.logging (JUL)"),
        (Domain::Python, "Python logging"),
    ] {
        let mine: Vec<&AgentRuleInfo> = rules.iter().filter(|r| r.domain == domain).collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(o, "=== Domain: {title} ===\n");
        let _ = writeln!(o, "Events (Logger name):\n---------------------");
        for r in mine {
            let state = if r.enabled { "enabled" } else { "disabled" };
            let filter = if r.filter.is_empty() {
                String::new()
            } else {
                format!(" [filter: '{}']", r.filter)
            };
            let level = match r.rule.loglevel {
                LoglevelRule::All => String::new(),
                LoglevelRule::AtLeast { level } => {
                    format!(" (loglevel <= {})", level_name(domain, level))
                }
                LoglevelRule::Exactly { level } => {
                    format!(" (loglevel == {})", level_name(domain, level))
                }
            };
            let _ = writeln!(o, "    - {} [{state}]{level}{filter}", r.rule.pattern);
        }
        let _ = writeln!(o);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_are_lttngs() {
        assert_eq!(parse_level(Domain::Python, "warning"), Some(30));
        assert_eq!(parse_level(Domain::Python, "PYTHON_CRITICAL"), Some(50));
        assert_eq!(parse_level(Domain::Jul, "jul_info"), Some(800));
        assert_eq!(parse_level(Domain::Log4j, "WARN"), Some(30000));
        assert_eq!(parse_level(Domain::Jul, "WARN"), None);
        assert_eq!(level_name(Domain::Jul, 800), "JUL_INFO");
        assert_eq!(level_name(Domain::Python, 30), "PYTHON_WARNING");
    }

    #[test]
    fn session_rules_print_as_lttng_2_13_does() {
        // Lines from `lttng list s1` (2.13.9) for the same rules.
        let rule = |p: &str, l| EventRule {
            pattern: p.into(),
            loglevel: l,
            exclusions: vec![],
            syscall: false,
        };
        let text = format_rules(&[
            AgentRuleInfo {
                domain: Domain::Python,
                rule: rule("en*", LoglevelRule::AtLeast { level: 30 }),
                enabled: true,
                filter: "(logger_name == \"en*\") && (int_loglevel >= 30)".into(),
            },
            AgentRuleInfo {
                domain: Domain::Jul,
                rule: rule("foo", LoglevelRule::Exactly { level: 800 }),
                enabled: true,
                filter: "(logger_name == \"foo\") && (int_loglevel == 800)".into(),
            },
        ]);
        assert_eq!(
            text,
            "=== Domain: java.util.logging (JUL) ===\n\nEvents (Logger name):\n---------------------\n    - foo [enabled] (loglevel == JUL_INFO) [filter: '(logger_name == \"foo\") && (int_loglevel == 800)']\n\n\
             === Domain: Python logging ===\n\nEvents (Logger name):\n---------------------\n    - en* [enabled] (loglevel <= PYTHON_WARNING) [filter: '(logger_name == \"en*\") && (int_loglevel >= 30)']\n\n"
        );
    }
}
